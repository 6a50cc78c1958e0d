"""`e2p send-test-event`: send a recognisable event and report what could be verified of its path."""

from __future__ import annotations

import sys

import click

from e2p.config.validators import ACCOUNT_ID
from e2p.console import exit_codes
from e2p.console.options import GlobalOptions, UsageFailure, global_options, load_context, usage_errors
from e2p.ops.test_event import CentralTestEventError, TestEventSender, Verdict

VERDICT_STYLES = {
    Verdict.VERIFIED: "green",
    Verdict.NOT_VERIFIED: "yellow",
    Verdict.FAILED: "bold red",
    Verdict.NOT_CHECKED: "dim",
}


def _account(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not ACCOUNT_ID.fullmatch(value):
        raise click.BadParameter("expected a 12-digit account id")
    return value


@click.command("send-test-event")
@click.option(
    "--account", callback=_account, help="Send from this account (default: the management account)."
)
@click.option(
    "--central", is_flag=True, help="Put the event straight on the central bus (skips the member rule)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Seconds to wait for the handler.",
)
@global_options(region_help="Region to send from (default: the first configured region).")
@usage_errors
def send_test_event_command(
    options: GlobalOptions, account: str | None, central: bool, timeout: float
) -> None:
    """Put a test event (source events2panther.test) on a member account's default bus, or with
    --central on the central bus, then wait for the function's log line that carries its id.

    Exit codes: 0 the function logged the event; 1 it was refused, not forwarded, or not seen in
    time; 2 usage, config or credentials error.
    """
    ctx = load_context(options)
    try:
        report = TestEventSender(ctx).run(account, options.region, central, timeout)
    except CentralTestEventError as exc:
        raise UsageFailure(str(exc)) from exc
    if ctx.output.json:
        ctx.output.emit_json(report.as_json())
    else:
        ctx.output.table(
            f"Test event {report.test_id} from {report.account} {report.region} to {report.destination}",
            ("check", "result", "detail"),
            ((c.name, c.verdict, c.detail) for c in report.checks),
            [VERDICT_STYLES.get(c.verdict, "") for c in report.checks],
        )
    if not report.verified:
        sys.exit(exit_codes.FAILED)
