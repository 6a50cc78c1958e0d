"""Rules that hold for every template: no rule target can drop an event silently, and no policy grants
a whole service (or everything)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ["member/template.yaml", "central/template.yaml", "central/org-lookup-role.yaml"]
WHOLE_SERVICE = re.compile(r"^[a-z0-9-]+:\*$")


def load(relative: str) -> dict[str, Any]:
    template, errors = decode_str((ROOT / relative).read_text())
    assert not errors, errors
    return template


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every policy statement (a mapping with an Effect) in any policy of a template."""
    if isinstance(node, dict):
        if "Effect" in node:
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


@pytest.mark.parametrize("relative", TEMPLATES)
def test_no_action_wildcards(relative: str) -> None:
    found = list(statements(load(relative)["Resources"]))
    assert found
    for statement in found:
        assert "NotAction" not in statement, statement
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action != "*", relative
            assert not WHOLE_SERVICE.match(action), (relative, action)


@pytest.mark.parametrize("relative", TEMPLATES)
def test_every_rule_target_has_a_dead_letter_queue_and_a_retry_policy(relative: str) -> None:
    template = load(relative)
    rules = [res for res in template["Resources"].values() if res["Type"] == "AWS::Events::Rule"]
    for rule in rules:
        targets = rule["Properties"]["Targets"]
        assert targets
        for target in targets:
            assert target["DeadLetterConfig"]["Arn"], target
            if "RoleArn" in target:
                # An event bus target (the only kind with a role here): AWS documents RetryPolicy as not
                # supported there; EventBridge's default retries (24 h, 185 attempts) apply.
                assert "RetryPolicy" not in target
                continue
            policy = target["RetryPolicy"]
            assert policy["MaximumRetryAttempts"] > 0
            assert policy["MaximumEventAgeInSeconds"] > 0


# The central stack's rules: the bus rule and the scheduled tasks' schedule rules.
CENTRAL_RULES = {"ToBufferRule", "WatchdogRule", "DirectoryRefreshRule"}


def test_both_rule_templates_are_covered() -> None:
    assert {"ToBufferRule", "WatchdogRule"} <= set(load("central/template.yaml")["Resources"])
    counts = {
        relative: sum(res["Type"] == "AWS::Events::Rule" for res in load(relative)["Resources"].values())
        for relative in TEMPLATES
    }
    assert counts == {
        "member/template.yaml": 1,
        "central/template.yaml": len(CENTRAL_RULES & set(load("central/template.yaml")["Resources"])),
        "central/org-lookup-role.yaml": 0,
    }
