"""`[member] heartbeat_minutes`: one value for the member stacks' schedule and the central watchdog, validated
like every key, and accepted by both templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2p.aws.cfn_template import check_parameters, load_template, template_parameters
from e2p.aws.stack_parameters import central_parameters, member_parameters
from e2p.config.settings import load_settings
from e2p.exceptions import E2PError

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
BUS = "arn:aws:events:eu-west-1:222222222222:event-bus/events2panther"


def config_with(tmp_path: Path, line: str) -> Path:
    text = (REPO / "e2p.example.toml").read_text(encoding="utf-8")
    text = text.replace("# heartbeat_minutes = 15\n", f"{line}\n")
    path = tmp_path / "e2p.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("minutes", [0, 5, 60])
def test_heartbeat_minutes_reaches_both_templates(tmp_path: Path, minutes: int) -> None:
    settings = load_settings(config_with(tmp_path, f"heartbeat_minutes = {minutes}"))
    member = member_parameters(settings, BUS)
    central = central_parameters(settings, "o-a1b2c3d4e5", "111111111111", "bucket", "lambda/a.zip")
    assert member["HeartbeatMinutes"] == central["HeartbeatMinutes"] == str(minutes)
    member_template = load_template((REPO / "member" / "template.yaml").read_text(encoding="utf-8"))
    check_parameters("member/template.yaml", template_parameters(member_template), member)


def test_left_out_the_templates_default_applies(tmp_path: Path) -> None:
    settings = load_settings(config_with(tmp_path, ""))
    assert "HeartbeatMinutes" not in member_parameters(settings, BUS)


@pytest.mark.parametrize("value", ["-1", "1441", '"15"', "true"])
def test_a_bad_heartbeat_minutes_is_refused_naming_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(E2PError, match=r"member\.heartbeat_minutes"):
        load_settings(config_with(tmp_path, f"heartbeat_minutes = {value}"))
