"""`e2p preflight`: read-only checks of the organisation before a deploy, one row each."""

from __future__ import annotations

import sys

import click

from e2p.console import exit_codes
from e2p.console.options import GlobalOptions, global_options, load_context, usage_errors
from e2p.console.output import Output
from e2p.ops.preflight import Preflight, PreflightReport, Status

STATUS_STYLES = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


def print_report(output: Output, report: PreflightReport, title: str = "e2p preflight") -> None:
    if output.json:
        output.emit_json(report.as_json())
        return
    output.table(
        title,
        ("check", "status", "detail", "fix"),
        ((c.name, c.status.value, c.detail, c.fix) for c in report.checks),
        [STATUS_STYLES[c.status] for c in report.checks],
    )
    failed = sum(1 for c in report.checks if c.status is Status.FAIL)
    warned = sum(1 for c in report.checks if c.status is Status.WARN)
    summary = (
        f"{failed} check(s) failed, {warned} warning(s)"
        if failed
        else f"ready to deploy, {warned} warning(s)"
    )
    output.out.print(f"[bold red]{summary}[/]" if failed else summary)


@click.command("preflight")
@global_options()
@usage_errors
def preflight_command(options: GlobalOptions) -> None:
    """Check, read-only, what a deploy needs: credentials (management account or StackSets delegated
    administrator), trusted access, the central account and its Lambda quota, CloudTrail, the OUs,
    the regions (opt-in), the event pattern, and Panther's URL (DNS and TLS; nothing is sent).

    With --output json: {"ok": bool, "checks": [{"name", "status", "detail", "fix"}]}.

    Exit codes: 0 no check failed (warnings allowed); 1 a check failed; 2 usage, config or credentials.
    """
    ctx = load_context(options, read_only=True)
    report = Preflight(ctx).run()
    print_report(ctx.output, report)
    if not report.ok:
        sys.exit(exit_codes.FAILED)
