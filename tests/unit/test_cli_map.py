"""`e2p map`: offline mapping of files and folders, and its JSON-lines contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from e2p.cli import main

EVENTS = Path(__file__).parents[1] / "events"


def run_json(*args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(main, ["map", "--output", "json", *args])
    lines = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    return result.exit_code, lines


def test_each_file_gives_one_line_with_the_contract_keys(tmp_path: Path) -> None:
    (tmp_path / "not-json.json").write_text("{oops")
    (tmp_path / "raw.json").write_text(
        json.dumps({"eventName": "RunInstances", "eventSource": "ec2.amazonaws.com"})
    )
    code, lines = run_json(str(EVENTS / "guardduty" / "high.json"), str(tmp_path))
    assert code == 0
    # The contract's keys, plus mapped_by (added by issue 14; keys are added, never renamed)
    assert [set(line) for line in lines] == [{"file", "status", "messages", "reason", "mapped_by"}] * 3
    by_name = {Path(str(line["file"])).name: line for line in lines}
    assert by_name["high.json"]["status"] == "mapped"
    assert by_name["high.json"]["messages"][0]["severity"] == 4
    assert by_name["not-json.json"]["status"] == "invalid"
    assert by_name["raw.json"]["status"] == "invalid"
    assert "source" in str(by_name["raw.json"]["reason"])


def test_golden_files_in_a_folder_are_not_read_as_events() -> None:
    code, lines = run_json(str(EVENTS / "guardduty"))
    assert code == 0
    assert lines
    assert not any(str(line["file"]).endswith(".expected.json") for line in lines)


def test_accounts_file_names_the_account_in_the_node(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(
        json.dumps(
            {"accounts": [{"id": "123456789012", "name": "Security Tooling", "ou_path": "Root/Security"}]}
        )
    )
    code, lines = run_json("--accounts", str(accounts), str(EVENTS / "guardduty" / "high.json"))
    assert code == 0
    message = lines[0]["messages"][0]
    assert message["node"].startswith("Security Tooling/")
    assert message["ou_path"] == "Root/Security"


def test_a_missing_file_is_reported_and_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["map", "--output", "json", str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    assert "absent.json" in result.output


def test_a_malformed_accounts_file_is_a_usage_error(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"accounts": [{"id": "12", "name": "x"}]}))
    result = CliRunner().invoke(main, ["map", "--accounts", str(accounts), str(EVENTS)])
    assert result.exit_code == 2
    assert "accounts file" in result.output


@pytest.mark.skipif(
    not (Path(sys.prefix) / "bin" / "e2p").exists(), reason="e2p console script not installed"
)
def test_the_console_script_runs_the_same_command() -> None:
    done = subprocess.run(
        [
            str(Path(sys.prefix) / "bin" / "e2p"),
            "map",
            "--output",
            "json",
            str(EVENTS / "ec2" / "state-running.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "mapped"


def test_a_path_error_in_table_mode_prints_no_empty_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["map", str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "cannot read" in result.stderr
    assert "0 files" not in result.output


ORG_MAPPINGS = """
version: 1
mappings:
  - source: app.payment
    detail-type: PaymentCreated
    tag: Payments
    summary: "Payment created"
    fields: {amount: detail.amount}
  - source: aws.glue
    detail-type: Glue Job State Change
    summary: "Nightly ETL {detail.jobName} failed"
    severity: {value: detail.state, map: {FAILED: critical}, clear: [SUCCEEDED]}
"""


def test_mappings_file_adds_and_overrides_entries_offline(tmp_path: Path) -> None:
    # GIVEN an organisation file with a custom source and an override of a built-in pair
    mappings = tmp_path / "org.yaml"
    mappings.write_text(ORG_MAPPINGS)
    payment = str(EVENTS / "generic" / "custom-app-payment.json")
    glue = str(EVENTS / "glue" / "job-failed.json")

    # WHEN the same files are mapped without and with it
    _, before = run_json(payment, glue)
    code, after = run_json("--mappings", str(mappings), payment, glue)

    # THEN the custom event leaves the generic mapping and the Glue entry is the organisation's
    assert code == 0
    assert [(line["status"], line["mapped_by"]) for line in before] == [
        ("generic", "generic"),
        ("mapped", "builtin.yaml entry 13"),
    ]
    assert [(line["status"], line["mapped_by"]) for line in after] == [
        ("mapped", "org.yaml entry 1"),
        ("mapped", "org.yaml entry 2"),
    ]
    assert after[0]["messages"][0]["amount"] == "150.00"
    assert after[1]["messages"][0]["summary"] == "Nightly ETL MyJob failed"
    assert after[1]["messages"][0]["severity"] == 5


def test_a_malformed_mappings_file_is_a_usage_error_naming_the_entry(tmp_path: Path) -> None:
    mappings = tmp_path / "org.yaml"
    mappings.write_text("version: 1\nmappings:\n  - {source: a, detail-type: b, summary: x, severity: 9}\n")
    result = CliRunner().invoke(main, ["map", "--mappings", str(mappings), str(EVENTS / "glue")])
    assert result.exit_code == 2
    assert "org.yaml: entry 1 (a / b): severity: 9 is not a severity" in result.output


def test_the_table_reports_the_generic_share() -> None:
    result = CliRunner().invoke(main, ["map", str(EVENTS / "generic"), str(EVENTS / "glue")])
    assert result.exit_code == 0
    assert "generic mapping: 2 of 8 well-formed envelopes (25.0%)" in result.output
