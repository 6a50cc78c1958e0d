"""The event names of the coverage feature, shared by the templates' tests, the forwarder and the watchdog.

The member template's schedule puts HEARTBEAT_SOURCE / HEARTBEAT_DETAIL_TYPE on each default bus;
the watchdog puts WATCHDOG_SOURCE / WATCHDOG_DETAIL_TYPE on the central bus. Neither starts with
`aws.`: EventBridge refuses those sources from anyone but AWS services.
"""

from typing import Final

HEARTBEAT_SOURCE: Final = "events2panther.heartbeat"
HEARTBEAT_DETAIL_TYPE: Final = "Events2Panther Heartbeat"
WATCHDOG_SOURCE: Final = "events2panther.watchdog"
WATCHDOG_DETAIL_TYPE: Final = "Events2Panther Coverage Alert"
