"""Asking the scheduled refresh for a directory update, from the forwarder, without waiting for it.

The forwarder never lists Organizations itself: when it meets an account the snapshot does not
hold, or an event saying an account changed (created, moved, tagged, renamed, its alias set or
removed), it invokes the scheduled function asynchronously (`InvocationType=Event`: Lambda queues
the request and answers 202 at once) with {"task": "directory-refresh", "accounts": [...]}, and
the message goes out as it is. The refresh writes a new snapshot, which containers pick up at
their next snapshot read.

Requests are rate-limited per container: an account is asked for at most once per
`min_interval_s` (an outsider account id sending a stream of events costs one request per
interval, not one per event), and a full refresh likewise. A failed invoke is logged and counted,
never raised: enrichment must not stop delivery.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

TASK: Final = "directory-refresh"
DEFAULT_MIN_INTERVAL_S: Final = 300.0
FULL: Final = "*"  # key of the full refresh in the per-account rate limit


def refresh_payload(accounts: Iterable[str], reason: str) -> dict[str, Any]:
    """The scheduled function's input: the listed accounts, or the whole directory when empty."""
    wanted = sorted(set(accounts))
    payload: dict[str, Any] = {"task": TASK, "reason": reason}
    if wanted:
        payload["accounts"] = wanted
    return payload


class RefreshRequester:
    def __init__(
        self,
        client_factory: Callable[[], Any],
        function_name: str,
        *,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_factory = client_factory
        self._function_name = function_name
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_asked: dict[str, float] = {}
        self.requested = 0
        self.failed = 0

    def request(self, accounts: Iterable[str], reason: str) -> bool:
        """Ask for a refresh of `accounts` (all of them when empty). True when a request was sent."""
        wanted = [a for a in accounts if a] or [FULL]
        now = self._clock()
        with self._lock:
            due = [a for a in wanted if now >= self._last_asked.get(a, float("-inf")) + self._min_interval_s]
            for account in due:
                self._last_asked[account] = now
        if not due:
            return False
        payload = refresh_payload([a for a in due if a != FULL], reason)
        try:
            self._client_factory().invoke(
                FunctionName=self._function_name,
                InvocationType="Event",
                Payload=json.dumps(payload).encode("utf-8"),
            )
        except (ClientError, BotoCoreError) as exc:
            # The accounts stay rate-limited: retrying a failing invoke on every event would
            # put a call on each message's path; the next interval asks again.
            with self._lock:
                self.failed += 1
            logger.warning("directory refresh request failed (%s): %s", reason, exc)
            return False
        with self._lock:
            self.requested += 1
        logger.info("directory refresh requested (%s): %s", reason, payload.get("accounts", "all accounts"))
        return True
