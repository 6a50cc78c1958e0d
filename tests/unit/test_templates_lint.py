"""Every template passes cfn-lint and checkov; a checkov finding may only be silenced in the template,
next to the resource, with a written reason.

These two tests start the linters as subprocesses (about 2-8 s each). Each is in its own xdist group
so that `pytest -n 2 --dist loadgroup` runs them in parallel, one process each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import decode_str

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted([*ROOT.glob("member/*.yaml"), *ROOT.glob("central/*.yaml")])
BIN = Path(sys.executable).parent
LINT_TIMEOUT_S = 180
# A suppression must say why; a few words are not a reason.
MIN_REASON_CHARS = 40


def load(path: Path) -> dict[str, Any]:
    template, errors = decode_str(path.read_text())
    assert not errors, errors
    return template


def relative(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def test_the_templates_are_where_the_contract_says() -> None:
    assert relative(TEMPLATES) == [
        "central/org-lookup-role.yaml",
        "central/template.yaml",
        "member/template.yaml",
    ]


def test_the_ci_linter_configs_cover_every_template() -> None:
    cfnlint_config = yaml.safe_load((ROOT / ".cfnlintrc").read_text())
    checkov_config = yaml.safe_load((ROOT / ".checkov.yaml").read_text())
    assert sorted(cfnlint_config["templates"]) == relative(TEMPLATES)
    assert sorted(checkov_config["file"]) == relative(TEMPLATES)
    assert checkov_config["skip-download"] is True


@pytest.mark.xdist_group(name="cfn_lint")
def test_cfn_lint_reports_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", "--", *map(str, TEMPLATES)],
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def checkov_suppressions(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(logical id, check id) -> comment, for every Metadata.checkov.skip entry."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found[(logical_id, skip["id"])] = str(skip.get("comment", ""))
    return found


def test_every_checkov_suppression_says_why() -> None:
    suppressions = {
        (path.name, logical_id, check): comment
        for path in TEMPLATES
        for (logical_id, check), comment in checkov_suppressions(load(path)).items()
    }
    assert suppressions, "expected the documented suppressions (SQS-managed SSE on the member DLQ, ...)"
    too_short = {
        key: comment for key, comment in suppressions.items() if len(comment.strip()) < MIN_REASON_CHARS
    }
    assert not too_short


@pytest.mark.xdist_group(name="checkov")
def test_checkov_reports_nothing_unsuppressed() -> None:
    result = subprocess.run(
        [str(BIN / "checkov"), "--config-file", ".checkov.yaml", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
        check=False,
        cwd=ROOT,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert report["results"]["failed_checks"] == [], result.stdout
    assert summary["failed"] == 0
    assert summary["parsing_errors"] == 0
    # Guards against a vacuous pass: checkov must have read every resource of every template.
    assert summary["resource_count"] == sum(len(load(path)["Resources"]) for path in TEMPLATES)
    suppressed = sum(len(checkov_suppressions(load(path))) for path in TEMPLATES)
    assert summary["skipped"] == suppressed, "a suppression in a template no longer matches a finding"
    assert result.returncode == 0
