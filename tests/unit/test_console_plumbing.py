"""Console plumbing: logs never on stdout, the local extra checked first, progress lines."""

from __future__ import annotations

import io
import logging
import sys
import threading

import click
import pytest

from e2p.console import exit_codes
from e2p.console.local_mode import LocalModeMissingError, missing_modules, require_local_mode
from e2p.console.logs import guard_stdout, route_logs, set_log_target
from e2p.console.ticker import Ticker

pytestmark = pytest.mark.unit


def test_missing_modules_are_the_ones_that_cannot_be_found() -> None:
    found = {"moto": object(), "flask": None, "trustme": None}
    assert missing_modules(("moto", "flask", "trustme"), found.get) == ["flask", "trustme"]


def test_a_missing_local_extra_is_a_usage_error_that_names_the_extra() -> None:
    with pytest.raises(LocalModeMissingError) as raised:
        require_local_mode("demo", ["moto"])
    assert raised.value.exit_code == exit_codes.USAGE == 2
    assert "events2panther[local]" in raised.value.format_message()
    assert "moto" in raised.value.format_message()
    require_local_mode("demo", [])  # nothing missing: no error
    assert isinstance(raised.value, click.ClickException)


def test_route_logs_moves_stdout_handlers_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a logger whose handler writes to stdout, as powertools' Logger does
    fake_stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake_stdout)
    logger = logging.getLogger("e2p-test-stdout-logger")
    logger.handlers = [logging.StreamHandler(fake_stdout)]
    logger.propagate = False
    # WHEN logs are routed to the log target
    set_log_target(stderr)
    try:
        logger.warning("a handler line")
        # THEN stdout stays clean and the line is on the target
        assert fake_stdout.getvalue() == ""
        assert "a handler line" in stderr.getvalue()
        assert route_logs() == 0  # already moved: nothing left on stdout
    finally:
        set_log_target(sys.stderr)
        logger.handlers = []


def test_route_logs_leaves_other_streams_alone() -> None:
    own = io.StringIO()
    logger = logging.getLogger("e2p-test-own-stream")
    logger.handlers = [logging.StreamHandler(own)]
    try:
        route_logs()
        assert logger.handlers[0].stream is own  # type: ignore[attr-defined]
    finally:
        logger.handlers = []


def test_the_ticker_reports_until_the_block_ends() -> None:
    calls = threading.Semaphore(0)
    with Ticker(calls.release, interval_s=0.01):
        assert calls.acquire(timeout=5)
        assert calls.acquire(timeout=5)
    count = 0
    while calls.acquire(timeout=0.05):
        count += 1
    assert count <= 1  # at most one report was in flight when the block ended


def test_a_handler_added_later_on_stdout_starts_on_the_log_target(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the guard (monkeypatch restores logging.Logger.addHandler after the test)
    monkeypatch.setattr(logging.Logger, "addHandler", logging.Logger.addHandler)
    fake_stdout, target = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake_stdout)
    set_log_target(target)
    guard_stdout()
    guard_stdout()  # idempotent
    logger = logging.getLogger("e2p-test-late-logger")
    logger.propagate = False
    try:
        # WHEN a module builds a Logger that writes to stdout, as powertools does on import
        logger.addHandler(logging.StreamHandler(sys.stdout))
        logger.warning("late line")
        # THEN the line is on the log target, stdout stays clean
        assert "late line" in target.getvalue()
        assert fake_stdout.getvalue() == ""
    finally:
        logger.handlers = []
        set_log_target(sys.stderr)


def test_a_long_summary_line_is_not_wrapped_when_stdout_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from e2p.console.output import Output, OutputFormat

    output = Output(OutputFormat.TABLE)
    line = "unhealthy: " + "; ".join(
        f"account 1234567890{i:02d} eu-west-1 has no stack instance" for i in range(4)
    )
    output.out.print(line)
    assert capsys.readouterr().out == line + "\n"
