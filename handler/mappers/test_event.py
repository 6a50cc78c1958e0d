"""`e2p send-test-event`'s events (source `events2panther.test`), whatever their detail-type or detail.

Any principal of any member account may put an event of this source on its default bus, and the
member rule forwards it: that is how an operator proves the path works. So nothing the sender writes
may shape what Panther shows: the summary, severity and tag are fixed, there is no resource (the node
is the sending account and region, which EventBridge stamps, not the sender), and of the detail only
a test id of send-test-event's form (a UUID) travels, as the `test_id` field. A forged "GuardDuty
HIGH ROOT LOGIN" sent with this source arrives as one more "Events2Panther test event" at severity 1.
"""

from __future__ import annotations

import re
from typing import Final

from handler.alert import Alert
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.registry import ANY_DETAIL_TYPE, mapper
from handler.severity import Severity

TEST_SOURCE: Final = "events2panther.test"
SUMMARY: Final = "Events2Panther test event"
SEVERITY: Final = Severity.INDETERMINATE
TAG: Final = "Events2Panther Test Event"
_TEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@mapper(TEST_SOURCE, ANY_DETAIL_TYPE)
def test_event(envelope: Envelope) -> list[Alert]:
    test_id = jv.text(envelope.detail.get("test_id")).lower()
    fields = {"test_id": test_id} if _TEST_ID.match(test_id) else {}
    return [Alert(summary=SUMMARY, severity=SEVERITY, tag=TAG, fields=fields)]
