"""`[central.lambda]` settings refuse what the central template's parameters refuse, so a bad value fails
when the config is read and not half-way through a CloudFormation update."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from e2p.config.settings import FUNCTION_SETTINGS
from e2p.exceptions import E2PError

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit


def parameters() -> dict[str, Any]:
    template, errors = decode_str((ROOT / "central" / "template.yaml").read_text(encoding="utf-8"))
    assert not errors
    return dict(template["Parameters"])


def accepts(key: str, value: int) -> bool:
    try:
        FUNCTION_SETTINGS[key].parse(key, value)
    except E2PError:
        return False
    return True


def numeric_cases() -> list[tuple[str, int, bool]]:
    specs = parameters()
    cases: list[tuple[str, int, bool]] = []
    for key, setting in FUNCTION_SETTINGS.items():
        spec = specs[setting.parameter]
        if "MinValue" in spec:
            low = int(spec["MinValue"])
            cases += [(key, low, True), (key, low - 1, False)]
        if "MaxValue" in spec:
            high = int(spec["MaxValue"])
            cases += [(key, high, True), (key, high + 1, False)]
        allowed = [int(a) for a in spec.get("AllowedValues", []) if str(a).isdigit()]
        if allowed:
            cases += [(key, a, True) for a in allowed]
            between = next(n for n in range(min(allowed), max(allowed)) if n not in allowed)
            cases.append((key, between, False))
    return cases


@pytest.mark.parametrize(("key", "value", "accepted"), numeric_cases())
def test_a_setting_accepts_exactly_what_its_parameter_accepts(key: str, value: int, accepted: bool) -> None:
    assert accepts(key, value) is accepted
