"""`e2p load`: a burst of events through the local pipeline, and what became of every one.

Wiring only: options, the report on stdout. The run lives in e2p.load, imported when the command
runs so that `e2p --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Final

import click

from e2p.console import exit_codes
from e2p.console.local_mode import require_local_mode
from e2p.console.logs import route_logs
from e2p.console.options import UsageFailure

MAX_EVENTS: Final = 1_000_000
MAX_CONCURRENCY: Final = 64

TABLE_ORDER: Final = (
    "sent",
    "delivered",
    "dead_lettered",
    "filtered",
    "lost",
    "duplicates",
    "peak_rss_mb",
    "seconds",
    "events_per_s",
)


@click.command("load")
@click.option(
    "--events",
    type=click.IntRange(1, MAX_EVENTS),
    default=100_000,
    show_default=True,
    help="SQS records to send (the sample events cycled, each under a fresh EventBridge id).",
)
@click.option(
    "--idempotency/--no-idempotency",
    default=True,
    show_default=True,
    help="Deliver through the DynamoDB idempotency table (moto) or without it.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=5,
    show_default=True,
    help="Invocations at once (the template's MaximumConcurrency is 5).",
)
@click.option(
    "--faults",
    "spec",
    help="Faults of the local Panther, as for `e2p demo --faults` (e.g. error=0.3,seed=7).",
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def load_command(events: int, idempotency: bool, concurrency: int, spec: str | None, output: str) -> None:
    """Send a burst of events through the real handler, a local Panther and an in-process moto.

    Batches of 10 with SQS event-source semantics (partial failures come back, redrive after 5
    receives). Reports delivered, dead-lettered, filtered, lost and duplicate figures, peak memory
    and speed. Nothing leaves this machine. Exit code 1 when any event was lost.
    """
    require_local_mode("load")
    from e2p.config.project import locate_project
    from e2p.exceptions import ProjectLayoutError
    from e2p.load.runner import LoadPlan, run_load
    from e2p.local.faults import FaultPlan, FaultSpecError

    route_logs()
    try:
        faults = FaultPlan.parse(spec) if spec else None
    except FaultSpecError as exc:
        raise click.UsageError(f"--faults: {exc}") from exc
    try:
        root = locate_project().root
    except ProjectLayoutError as exc:
        raise UsageFailure(str(exc)) from exc
    report = run_load(
        LoadPlan(events, idempotency, concurrency, faults),
        root,
        lambda line: click.echo(f"e2p load: {line}", err=True),
    )
    if output == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        for name in TABLE_ORDER:
            click.echo(f"{name:<16} {report[name]}")
        if report["faults"]:
            fired = ", ".join(f"{kind} {n}" for kind, n in report["fault_counts"].items() if n) or "none"
            click.echo(f"{'faults':<16} {report['faults']}; injected: {fired}")
        for reason, count in sorted(report["dead_letter_reasons"].items()):
            click.echo(f"  dead letter: {count} x {reason}")
    if report["lost"] > 0:
        raise SystemExit(exit_codes.FAILED)
