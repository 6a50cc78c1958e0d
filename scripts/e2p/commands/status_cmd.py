"""`e2p status`: coverage (account x region), management-account stacks, queue depths, alarms."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from e2p.console import exit_codes
from e2p.console.options import CommandContext, GlobalOptions, global_options, load_context, usage_errors
from e2p.ops.status import StatusCheck, StatusReport

# Above this many pairs the table lists only the unhealthy ones; the JSON always has them all.
FULL_TABLE_LIMIT = 60


def _alias(report: StatusReport, account_id: str) -> str:
    """The account's IAM alias from the directory snapshot, or why it could not be read."""
    found = report.aliases.get(account_id)
    if found is None:
        return ""
    return found.alias or (f"({found.error})" if found.error else "")


def _print_tables(ctx: CommandContext, report: StatusReport) -> None:
    out = ctx.output
    rows = report.coverage.rows
    shown = rows if len(rows) <= FULL_TABLE_LIMIT else report.coverage.missing
    out.table(
        f"Coverage: {len(rows) - len(report.coverage.missing)}/{len(rows)} account x region pairs healthy",
        ("account", "name", "alias", "region", "status", "reason"),
        (
            (r.account_id, r.account_name, _alias(report, r.account_id), r.region, r.status, r.reason)
            for r in shown
        ),
        ["green" if r.healthy else "bold red" for r in shown],
    )
    if report.management:
        out.table(
            "Management account stacks",
            ("account", "region", "stack", "status", "reason"),
            ((m.account_id, m.region, m.stack_name, m.status, m.reason) for m in report.management),
            ["green" if m.healthy else "bold red" for m in report.management],
        )
    queue_rows = [(name, "", "", d.visible, d.in_flight, d.delayed) for name, d in report.queues.items()]
    queue_rows += [
        (
            "member_dlq",
            q.account_id,
            q.region,
            *((q.depth.visible, q.depth.in_flight, q.depth.delayed) if q.depth else ("?", "?", "?")),
        )
        for q in report.member_queues
    ]
    out.table("Queues", ("queue", "account", "region", "visible", "in flight", "delayed"), queue_rows)
    if report.alarms:
        out.table(
            "Alarms in ALARM",
            ("alarm", "account", "region", "reason"),
            ((a["name"], a["account_id"], a["region"], a["reason"]) for a in report.alarms),
        )
    if report.heard:
        silent = [h for h in report.heard if h.state(report.generated_at) != "heard"]
        out.table(
            f"Last heard: {len(report.heard) - len(silent)}/{len(report.heard)} account x region pairs "
            "heard within 45 minutes",
            ("account", "region", "last heard", "minutes ago", "state"),
            (
                (h.account_id, h.region, h.as_dict(report.generated_at)["last_heard"] or "never",
                 "" if h.age_minutes(report.generated_at) is None else h.age_minutes(report.generated_at),
                 h.state(report.generated_at))
                for h in (report.heard if len(report.heard) <= FULL_TABLE_LIMIT else silent)
            ),
        )  # fmt: skip
    if report.uncovered_regions:
        out.table(
            "Opt-in regions enabled but not covered",
            ("account", "name", "region"),
            ((u["account_id"], u["account_name"], u["region"]) for u in report.uncovered_regions),
        )
    for note in report.notes:
        out.progress(f"note: {note}")
    for error in report.errors:
        out.error(error)
    problems = report.problems()
    out.out.print("[green]healthy[/]" if not problems else "[bold red]unhealthy:[/] " + "; ".join(problems))


@click.command("status")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the account x region coverage map to FILE: one self-contained page, sortable by OU.",
)
@click.option(
    "--member-dlqs",
    is_flag=True,
    help="Also read every member stack's dead-letter queue (assumes the member access role in each account).",
)
@global_options()
@usage_errors
def status_command(options: GlobalOptions, member_dlqs: bool, html_file: Path | None) -> None:
    """Show coverage (every account x region of the targeted OUs), the management account's stacks,
    queue and dead-letter queue depths, and alarms in ALARM.

    Exit codes: 0 healthy (coverage complete, dead-letter queues empty, no alarm); 1 unhealthy;
    2 usage, config or credentials error.
    """
    ctx = load_context(options, read_only=True)
    report = StatusCheck(ctx).run(member_dlqs)
    if html_file is not None:
        from e2p.ops.status_html import render_html

        html_file.write_text(render_html(report), encoding="utf-8")
        ctx.output.progress(f"coverage map written to {html_file}")
    if ctx.output.json:
        ctx.output.emit_json(report.as_json())
    else:
        _print_tables(ctx, report)
    if not report.healthy:
        sys.exit(exit_codes.FAILED)
