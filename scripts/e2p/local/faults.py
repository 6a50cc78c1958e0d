"""Fault injection for the local Panther receiver, parsed from the demo's SPEC string.

A SPEC is comma-separated `kind=value` pairs, e.g. `outage=3,error=0.1,throttle=0.05,seed=7`.
Fraction kinds are drawn once per event request from a seeded `random.Random`, so a run with the
same seed and the same request order injects the same faults.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Final


class FaultSpecError(ValueError):
    """A fault SPEC string is malformed; the message names the offending part."""


class FaultKind(StrEnum):
    OUTAGE = "outage"
    ERROR = "error"
    THROTTLE = "throttle"
    SLOW = "slow"
    HANG = "hang"
    AUTH = "auth"
    RESET = "reset"


# Fraction kinds in the order their shares are stacked on [0, 1) by one draw: fixed so that a seed
# means the same thing from run to run.
DRAWN_KINDS: Final = (
    FaultKind.ERROR,
    FaultKind.THROTTLE,
    FaultKind.SLOW,
    FaultKind.HANG,
    FaultKind.AUTH,
    FaultKind.RESET,
)
DEFAULT_SEED: Final = 0
# Must exceed the client's read timeout for `slow` to mean anything; the demo sets it from its own.
DEFAULT_SLOW_DELAY_S: Final = 6.0
DEFAULT_RETRY_AFTER_S: Final = 1

_SECONDS_KEYS: Final = {"outage": "outage_s", "slow_delay": "slow_delay_s"}
_INTEGER_KEYS: Final = {"seed": "seed", "retry_after": "retry_after_s"}
KNOWN_KEYS: Final = (*[kind.value for kind in DRAWN_KINDS], *_SECONDS_KEYS, *_INTEGER_KEYS)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to inject. Fractions are shares of event requests; `outage_s` is one outage window."""

    outage_s: float = 0.0
    error: float = 0.0
    throttle: float = 0.0
    slow: float = 0.0
    hang: float = 0.0
    auth: float = 0.0
    reset: float = 0.0
    seed: int = DEFAULT_SEED
    slow_delay_s: float = DEFAULT_SLOW_DELAY_S
    retry_after_s: int = DEFAULT_RETRY_AFTER_S

    def __post_init__(self) -> None:
        for kind in DRAWN_KINDS:
            _check_fraction(kind.value, getattr(self, kind.value))
        _check_seconds("outage", self.outage_s)
        _check_seconds("slow_delay", self.slow_delay_s)
        if self.retry_after_s < 0:
            raise FaultSpecError(f"retry_after must be >= 0 seconds, got {self.retry_after_s}")
        total = sum(self.fraction(kind) for kind in DRAWN_KINDS)
        # One draw picks at most one fault, so the shares must fit in [0, 1].
        if total > 1.0 + 1e-9:
            raise FaultSpecError(f"fault fractions add up to {total:g}, more than 1")

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """The plan a SPEC string describes; an empty SPEC injects nothing."""
        values: dict[str, float | int] = {}
        for raw_part in spec.split(","):
            part = raw_part.strip()
            if not part:
                continue
            key, sep, raw_value = (piece.strip() for piece in part.partition("="))
            if not sep or not key or not raw_value:
                raise FaultSpecError(f"expected kind=value, got {part!r}")
            if key not in KNOWN_KEYS:
                raise FaultSpecError(f"unknown fault kind {key!r}; known: {', '.join(KNOWN_KEYS)}")
            field_name = _SECONDS_KEYS.get(key) or _INTEGER_KEYS.get(key) or key
            if field_name in values:
                raise FaultSpecError(f"{key!r} given more than once")
            values[field_name] = (
                _parse_int(key, raw_value) if key in _INTEGER_KEYS else _parse_float(key, raw_value)
            )
        return cls(**values)  # type: ignore[arg-type]

    def fraction(self, kind: FaultKind) -> float:
        return float(getattr(self, kind.value))

    @property
    def injects_anything(self) -> bool:
        return self.outage_s > 0 or any(self.fraction(kind) > 0 for kind in DRAWN_KINDS)

    def describe(self) -> str:
        """The canonical SPEC of this plan (non-default values only), for display and logs."""
        defaults = FaultPlan()
        parts = []
        for spec_field in fields(self):
            value = getattr(self, spec_field.name)
            if value != getattr(defaults, spec_field.name):
                key = _key_for_field(spec_field.name)
                parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
        return ",".join(parts)


class FaultInjector:
    """Draws faults for a plan and counts the ones that took effect. Thread-safe."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)
        self._lock = threading.Lock()
        self._counts: Counter[FaultKind] = Counter()
        self._thresholds = _thresholds(plan)

    def draw(self) -> FaultKind | None:
        """The fault for the next event request, or None. One draw per request keeps runs reproducible."""
        if not self._thresholds:
            return None
        with self._lock:
            point = self._random.random()
        for kind, upper in self._thresholds:
            if point < upper:
                return kind
        return None

    def record(self, kind: FaultKind) -> None:
        with self._lock:
            self._counts[kind] += 1

    def counts(self) -> dict[str, int]:
        """Injected faults per kind (every kind listed, zero included)."""
        with self._lock:
            return {kind.value: self._counts[kind] for kind in FaultKind}

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()


def _thresholds(plan: FaultPlan) -> tuple[tuple[FaultKind, float], ...]:
    upper = 0.0
    stacked = []
    for kind in DRAWN_KINDS:
        share = plan.fraction(kind)
        if share > 0:
            upper += share
            stacked.append((kind, upper))
    return tuple(stacked)


def _key_for_field(name: str) -> str:
    for key, field_name in (*_SECONDS_KEYS.items(), *_INTEGER_KEYS.items()):
        if field_name == name:
            return key
    return name


def _parse_float(key: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise FaultSpecError(f"{key}: {raw!r} is not a number") from exc


def _parse_int(key: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise FaultSpecError(f"{key}: {raw!r} is not an integer") from exc


def _check_fraction(key: str, value: float) -> None:
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"{key} must be a fraction between 0 and 1, got {value}")


def _check_seconds(key: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise FaultSpecError(f"{key} must be a number of seconds >= 0, got {value}")
