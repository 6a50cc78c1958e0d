"""`e2p preflight`: read-only checks of the organisation before a deploy, one row each."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from e2p.aws.token_secret import read_token
from e2p.console import exit_codes
from e2p.console.options import GlobalOptions, UsageFailure, global_options, load_context, usage_errors
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
@click.option(
    "--send-test",
    is_flag=True,
    help="Also post one test event to Panther with the token of --token-file (nothing is sent without it).",
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --send-test: the Panther API token to send it with.",
)
@global_options()
@usage_errors
def preflight_command(options: GlobalOptions, send_test: bool, token_file: Path | None) -> None:
    """Check, read-only, what a deploy needs: credentials (management account or StackSets delegated
    administrator), trusted access, the central account and its Lambda quota, CloudTrail, the OUs,
    the regions (opt-in), the event pattern, and Panther's URL (DNS and TLS; nothing is sent unless
    --send-test: then one test event, with the token of --token-file).

    With --output json: {"ok": bool, "checks": [{"name", "status", "detail", "fix"}]}.

    Exit codes: 0 no check failed (warnings allowed); 1 a check failed; 2 usage, config or credentials.
    """
    if send_test and token_file is None:
        raise UsageFailure("--send-test needs --token-file (the token is never an argument)")
    token = read_token(token_file, False) if send_test else None
    ctx = load_context(options, read_only=True)
    report = Preflight(ctx, test_token=token).run()
    print_report(ctx.output, report)
    if not report.ok:
        sys.exit(exit_codes.FAILED)
