"""`e2p replay`: dead-letter redrive into the buffer queue, and EventBridge archive replay."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from e2p.aws.sessions import AWS_ERRORS
from e2p.console import exit_codes
from e2p.console.options import GlobalOptions, UsageFailure, global_options, load_context, usage_errors
from e2p.console.output import Output
from e2p.exceptions import E2PError
from e2p.ops.replay import (
    SOURCES,
    Replayer,
    ReplayRow,
    member_targets,
    parse_time,
    replay_archive,
    replay_dead_letters,
    replay_member_dead_letters,
)


def _sources(choice: str | None, archive: bool, member: bool = False) -> list[str]:
    if choice is None:
        return [] if archive or member else list(SOURCES)
    return list(SOURCES) if choice == "all" else [choice]


def _window(archive: bool, start: str | None, end: str | None) -> tuple[datetime, datetime] | None:
    if not archive:
        if start or end:
            raise UsageFailure("--start/--end need --archive")
        return None
    if not start:
        raise UsageFailure("--archive needs --start")
    try:
        window = (parse_time(start, "--start"), parse_time(end, "--end") if end else datetime.now(UTC))
    except E2PError as exc:
        raise UsageFailure(str(exc)) from exc
    if window[0] >= window[1]:
        raise UsageFailure("--start must be before --end")
    return window


@click.command("replay")
@click.option(
    "--from-dlq",
    "from_dlq",
    type=click.Choice(["buffer", "rule", "all"]),
    help="Dead-letter queue(s) to move back into the buffer queue (default: all, unless --archive).",
)
@click.option(
    "--archive", is_flag=True, help="Replay the bus archive between --start and --end onto the bus."
)
@click.option("--start", help="Archive replay start, ISO 8601 (UTC when no offset is given).")
@click.option("--end", help="Archive replay end, ISO 8601 (default: now).")
@click.option(
    "--member",
    is_flag=True,
    help="Move every member account x region dead-letter queue into the central buffer queue.",
)
@click.option("--accounts", help="With --member: only these account ids (comma-separated).")
@click.option("--regions", help="With --member: only these regions (comma-separated).")
@click.option("--max", "limit", type=click.IntRange(min=1), help="Move at most N messages from each queue.")
@click.option("--dry-run", is_flag=True, help="Show what would be replayed; change nothing.")
@global_options()
@usage_errors
def replay_command(  # noqa: PLR0917 - click passes every option as an argument
    options: GlobalOptions,
    from_dlq: str | None,
    archive: bool,
    start: str | None,
    end: str | None,
    member: bool,
    accounts: str | None,
    regions: str | None,
    limit: int | None,
    dry_run: bool,
) -> None:
    """Move dead-lettered messages back to the buffer queue, and/or replay the archive.

    The buffer DLQ uses SQS's own message move task when the backend has it and no --max is given;
    otherwise, and always for the rule DLQ (EventBridge writes it, SQS cannot redrive it), e2p's mover
    sends each batch to the buffer queue and deletes it from the DLQ only once the send succeeded:
    a failure half-way leaves the rest in the DLQ.

    --member reads each member account x region dead-letter queue through the member access role
    and moves its messages (events EventBridge could not forward) into the central buffer queue, with
    the same send-then-delete rule; one row per account x region.

    Exit codes: 0 everything asked for was moved or replayed; 1 something failed or was left behind;
    2 usage, config or credentials error.
    """
    window = _window(archive, start, end)
    if (accounts or regions) and not member:
        raise UsageFailure("--accounts/--regions need --member")
    ctx = load_context(options)
    try:
        replayer = Replayer(ctx)
    except E2PError as exc:
        ctx.output.error(str(exc))
        sys.exit(exit_codes.FAILED)
    rows = [
        replay_dead_letters(replayer, source, limit, dry_run)
        for source in _sources(from_dlq, archive, member)
    ]
    if member:
        try:
            targets = member_targets(ctx, _set(accounts), _set(regions))
        except AWS_ERRORS as exc:
            rows.append(
                ReplayRow("member DLQs", "", detail=f"cannot list the member stacks: {exc}", ok=False)
            )
            targets = []
        rows += replay_member_dead_letters(replayer, targets, limit, dry_run)
    if window is not None:
        rows.append(replay_archive(replayer, *window, dry_run))
    _report(ctx.output, rows)
    if not all(row.ok for row in rows):
        sys.exit(exit_codes.FAILED)


def _report(out: Output, rows: list[ReplayRow]) -> None:
    if out.json:
        out.emit_json({"replays": [row.as_dict() for row in rows], "ok": all(row.ok for row in rows)})
        return
    out.table(
        "e2p replay",
        ("source", "method", "moved", "failed", "left in source", "detail"),
        ((r.source, r.method, _cell(r.moved), _cell(r.failed), _cell(r.left), r.detail) for r in rows),
        ["" if r.ok else "bold red" for r in rows],
    )


def _set(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    return frozenset(item.strip() for item in text.split(",") if item.strip())


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)
