"""Step results collected across accounts and regions, c7n-org style: a failure is recorded with
its account and region, the run carries on where it can, and the exit code is decided at the end."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "no change"
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


CHANGES = frozenset({Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED})


@dataclass(frozen=True, slots=True)
class StepResult:
    step: str
    outcome: Outcome
    account: str = ""
    region: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data


@dataclass
class Results:
    _items: list[StepResult] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: StepResult) -> StepResult:
        with self._lock:
            self._items.append(result)
        return result

    def record(
        self, step: str, outcome: Outcome, account: str = "", region: str = "", detail: str = ""
    ) -> StepResult:
        return self.add(StepResult(step, outcome, account, region, detail))

    @property
    def items(self) -> list[StepResult]:
        with self._lock:
            return list(self._items)

    @property
    def failed(self) -> list[StepResult]:
        return [item for item in self.items if item.outcome is Outcome.FAILED]

    @property
    def changed(self) -> bool:
        return any(item.outcome in CHANGES for item in self.items)
