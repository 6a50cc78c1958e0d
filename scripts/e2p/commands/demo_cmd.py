"""`e2p demo`: the whole organisation flow on this machine, then what reached Panther."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from e2p.console import exit_codes
from e2p.console.local_mode import require_local_mode
from e2p.console.logs import route_logs
from e2p.console.options import UsageFailure


class DemoFailure(click.ClickException):
    """The local flow could not run to the end: one line on stderr, exit code 1."""

    exit_code = exit_codes.FAILED


@click.command("demo")
@click.option(
    "--faults",
    "spec",
    help="Faults of the local Panther, comma-separated kind=value: outage=SECONDS, error=, throttle=, "
    "slow=, hang=, auth=, reset= (fractions 0-1), seed=N.",
)
@click.option(
    "--mappings",
    "mappings_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An organisation mappings file, deployed with the function as `e2p deploy --mappings` does "
    "(the member pattern also forwards the custom sources it maps).",
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def demo_command(spec: str | None, mappings_path: Path | None, output: str) -> None:
    """Deploy to a local organisation, send real AWS events, and show what reached Panther.

    No AWS account is needed: the local AWS and the local Panther run in this process. Exit code 1
    when any event sent from an organisation account was lost (neither delivered nor dead-lettered).
    """
    require_local_mode("demo")
    from e2p.config.project import locate_project
    from e2p.exceptions import ProjectLayoutError
    from e2p.local.demo import Demo
    from e2p.local.faults import FaultPlan, FaultSpecError

    route_logs()  # the handler's Logger, built on import, writes to stdout as Lambda wants
    try:
        plan = FaultPlan.parse(spec) if spec else None
    except FaultSpecError as exc:
        raise click.UsageError(f"--faults: {exc}") from exc
    mappings = None
    if mappings_path is not None:
        from e2p.config.mappings_file import read_mappings_file
        from handler.mappings import MappingsError

        try:
            mappings = read_mappings_file(mappings_path)
        except MappingsError as exc:
            raise click.UsageError(f"--mappings: {exc}") from exc
    try:
        root = locate_project().root
    except ProjectLayoutError as exc:
        raise UsageFailure(str(exc)) from exc
    try:
        result = Demo(root, plan, lambda line: click.echo(line, err=True), mappings=mappings).run()
    except RuntimeError as exc:  # the demo's own checks (a failed local deploy, an unenrolled account)
        raise DemoFailure(str(exc)) from exc
    summary = result.summary()
    if output == "json":
        click.echo(json.dumps(summary))
    else:
        _print_report(summary)
    if result.lost:
        sys.exit(exit_codes.FAILED)


def _print_report(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    # soft_wrap: a summary line piped to a file or a pager stays one line.
    console = Console(soft_wrap=True)
    accounts = Table(title="Messages in Panther per account")
    accounts.add_column("account")
    accounts.add_column("messages", justify="right")
    for name, count in summary["per_account"].items():
        accounts.add_row(name, str(count))
    console.print(accounts)
    severities = Table(title="Messages per severity (0 clear ... 5 critical)")
    severities.add_column("severity")
    severities.add_column("messages", justify="right")
    for severity, count in summary["per_severity"].items():
        severities.add_row(severity, str(count))
    console.print(severities)
    alerts = Table(title=f"Aggregated alerts (top of {summary['alerts']})")
    for column in ("tally", "sev", "node", "alias", "summary"):
        alerts.add_column(column, overflow="fold")
    for alert in summary["top_alerts"]:
        alerts.add_row(
            str(alert["tally"]),
            str(alert["severity"]),
            str(alert["node"]),
            str(alert.get("account_alias") or "-"),
            str(alert["summary"]),
        )
    console.print(alerts)
    if summary["faults"]:
        console.print(f"faults: {summary['faults']}; injected: {_counts(summary['fault_counts'])}")
    console.print(
        f"{summary['accounts']} accounts, {summary['ous']} OUs, {summary['regions']} regions: "
        f"sent {summary['events_sent']}, delivered {summary['delivered']}, "
        f"dead-lettered {summary['dead_lettered']}, filtered {summary['filtered']}, "
        f"refused outsider {summary['refused_outsider']}, replayed {summary['replayed']}, "
        f"duplicates {summary['duplicates']}, lost {summary['lost']} in {summary['seconds']} s"
    )
    console.print(
        f"e2p verify: {summary['verify_arrived']} account x region cells arrived at the function, "
        f"{summary['verify_missing']} missing"
    )
    console.print(f"account aliases read from the accounts themselves: {summary.get('aliases_resolved', 0)}")


def _counts(counts: dict[str, int]) -> str:
    """`outage 1, error 3`: the kinds that fired, or `none`."""
    fired = [f"{kind} {count}" for kind, count in counts.items() if count]
    return ", ".join(fired) or "none"
