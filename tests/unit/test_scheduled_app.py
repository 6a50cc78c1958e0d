"""The scheduled function's dispatcher, and the template's contract with it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from handler.scheduled import app

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit


def central_template() -> dict[str, Any]:
    template, matches = decode_str((ROOT / "central" / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    return template


def test_an_unknown_task_is_a_configuration_error_naming_the_task() -> None:
    with pytest.raises(app.UnknownTaskError, match="'no-such-task'"):
        app.lambda_handler({"task": "no-such-task"}, None)


def test_a_missing_task_is_refused_too() -> None:
    with pytest.raises(app.UnknownTaskError):
        app.lambda_handler({}, None)


def test_every_registered_task_module_has_a_run_function() -> None:
    for name, module_name in app.TASK_MODULES.items():
        module = importlib.import_module(module_name)
        assert callable(getattr(module, "run", None)), name


def test_the_template_runs_the_dispatcher_and_its_rules_name_known_tasks() -> None:
    resources = central_template()["Resources"]
    function = resources["ScheduledFunction"]["Properties"]
    module_name, _, attribute = function["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module_name), attribute))
    # Every schedule rule that targets the scheduled function passes a task this code knows.
    tasks = {
        (name, json.loads(target["Input"])["task"])
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Events::Rule"
        for target in resource["Properties"].get("Targets", [])
        if target.get("Arn") == {"Fn::GetAtt": ["ScheduledFunction", "Arn"]}
    }
    assert tasks, "no schedule rule targets the scheduled function"
    for name, task in tasks:
        assert task in app.TASK_MODULES, f"{name} names unknown task {task!r}"
