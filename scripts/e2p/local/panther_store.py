"""What the local console holds: alerts aggregated by identifier, and a journal of requests.

Aggregation follows the console: the first occurrence of an identifier creates the alert; later
ones raise its tally and update `summary`, `last_occurrence` and `state_change`, while severity,
tag and every other field keep their first values. Extra fields are kept on the alert (as if the
console's alert definitions were extended) so the demo and tests can show them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

DEFAULT_EVENTS_KEPT: Final = 10_000
DEFAULT_REQUESTS_KEPT: Final = 100_000
# Fields the console refreshes on every occurrence; everything else keeps its first value.
UPDATED_ON_REPEAT: Final = ("summary",)


def now_iso() -> str:
    return iso_time(time.time())


def iso_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertStore:
    """Alerts by identifier plus the recent accepted events, behind one lock."""

    def __init__(self, *, events_kept: int = DEFAULT_EVENTS_KEPT) -> None:
        self._lock = threading.Lock()
        self._alerts: dict[str, dict[str, Any]] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=events_kept)
        self._received = 0

    def record(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Aggregate one normalised event; returns a copy of its alert and whether it is new."""
        stamp = now_iso()
        identifier = event["identifier"]
        with self._lock:
            self._received += 1
            self._events.append(dict(event))
            alert = self._alerts.get(identifier)
            is_new = alert is None
            if alert is None:
                alert = {
                    **event,
                    "tally": 1,
                    "first_occurrence": stamp,
                    "last_occurrence": stamp,
                    "state_change": stamp,
                }
                self._alerts[identifier] = alert
            else:
                alert["tally"] += 1
                for name in UPDATED_ON_REPEAT:
                    alert[name] = event[name]
                alert["last_occurrence"] = stamp
                alert["state_change"] = stamp
            return dict(alert), is_new

    @property
    def received(self) -> int:
        with self._lock:
            return self._received

    def alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(alert) for alert in self._alerts.values()]

    def alert(self, identifier: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._alerts.get(identifier)
            return None if found is None else dict(found)

    def events(self) -> list[dict[str, Any]]:
        """The most recent accepted events, oldest first, as the console's rules saw them."""
        with self._lock:
            return [dict(event) for event in self._events]

    def tally_total(self) -> int:
        with self._lock:
            return sum(alert["tally"] for alert in self._alerts.values())

    def reset(self) -> None:
        with self._lock:
            self._alerts.clear()
            self._events.clear()
            self._received = 0


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the receiver answered it. Holds no header and no body: never the token."""

    at: float  # epoch seconds; formatted only when read, off the request path
    method: str
    path: str
    status: int | None
    outcome: str
    fault: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": iso_time(self.at),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "outcome": self.outcome,
            "fault": self.fault,
        }


class RequestJournal:
    """The recent requests (bounded) and counts per status and outcome (unbounded, cheap)."""

    def __init__(self, *, kept: int = DEFAULT_REQUESTS_KEPT) -> None:
        self._lock = threading.Lock()
        self._entries: deque[JournalEntry] = deque(maxlen=kept)
        self._statuses: Counter[int | None] = Counter()
        self._outcomes: Counter[str] = Counter()

    def add(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            self._statuses[entry.status] += 1
            self._outcomes[entry.outcome] += 1

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [entry.as_dict() for entry in self._entries]

    def status_counts(self) -> dict[int | None, int]:
        with self._lock:
            return dict(self._statuses)

    def outcome_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._outcomes)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._statuses.clear()
            self._outcomes.clear()
