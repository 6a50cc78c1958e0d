"""`e2p bench --url`: the token comes from a file or stdin only, never reaches child processes, and a
console that is not on this machine gets the bench's sample findings only with --allow-remote."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from e2p.bench.target import import_path_env
from e2p.cli import main

pytestmark = pytest.mark.functional

REMOTE = "https://acme.app.panther.support/api/event/create"
TOKEN = "0123456789abcdef0123456789abcdef"


def test_the_token_is_not_taken_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2P_BENCH_TOKEN", TOKEN)
    result = CliRunner().invoke(main, ["bench", "--url", REMOTE, "--allow-remote"])
    assert result.exit_code == 2
    assert "E2P_BENCH_TOKEN" in result.output and "--token-file" in result.output
    assert TOKEN not in result.output


def test_a_remote_console_needs_an_explicit_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2P_BENCH_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    result = CliRunner().invoke(main, ["bench", "--url", REMOTE, "--token-file", str(token_file)])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def test_child_processes_never_inherit_the_token_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2P_BENCH_TOKEN", TOKEN)
    monkeypatch.setenv("E2P_SOMETHING_ELSE", "kept")
    env = import_path_env()
    assert "E2P_BENCH_TOKEN" not in env
    assert env["E2P_SOMETHING_ELSE"] == "kept"
