"""The cold-start probe builds the runtime with every variable the central template gives the forwarder,
so `cold_start_ms` pays for every client and file the deployed function's cold start does."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.decode import decode_str

from e2p.bench.cold_start import TEMPLATE_LIKE_ENV

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit


def test_the_probe_sets_every_variable_the_template_gives_the_forwarder() -> None:
    template, errors = decode_str((ROOT / "central" / "template.yaml").read_text(encoding="utf-8"))
    assert not errors
    variables = template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert set(variables) <= set(TEMPLATE_LIKE_ENV)
