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
    assert [set(line) for line in lines] == [{"file", "status", "messages", "reason"}] * 3
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
