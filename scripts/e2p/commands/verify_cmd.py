"""`e2p verify`: a marked test event from every targeted account x region, and which arrived."""

from __future__ import annotations

import sys

import click

from e2p.aws.sessions import AWS_ERRORS, error_text
from e2p.console import exit_codes
from e2p.console.options import GlobalOptions, global_options, load_context, usage_errors
from e2p.console.output import Output
from e2p.ops.verify import ARRIVED, Verifier, VerifyReport


def print_matrix(output: Output, report: VerifyReport) -> None:
    if output.json:
        output.emit_json(report.as_json())
        return
    regions = sorted({cell.region for cell in report.cells})
    accounts = sorted({cell.account for cell in report.cells})
    found = {(cell.account, cell.region): cell for cell in report.cells}
    rows = []
    for account in accounts:
        row = [account]
        for region in regions:
            cell = found.get((account, region))
            row.append(
                "" if cell is None else "arrived" if cell.status == ARRIVED else f"MISSING: {cell.reason}"
            )
        rows.append(row)
    output.table(
        f"e2p verify: {report.arrived} arrived, {report.missing} missing (run {report.run_id})",
        ("account", *regions),
        rows,
        ["bold red" if any(c.startswith("MISSING") for c in row[1:]) else "green" for row in rows],
    )


@click.command("verify")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Seconds to wait for the events to reach the function.",
)
@global_options()
@usage_errors
def verify_command(options: GlobalOptions, timeout: float) -> None:
    """Put a marked test event on the default bus of every targeted account x region (and the
    management account), through the member role, and report which reached the central function
    (read from its log group), with the reason for each one that did not.

    With --output json: {"arrived": n, "missing": n, "cells": [{"account", "region", "status",
    "reason"}], "run_id"}.

    Exit codes: 0 every cell arrived; 1 some did not (or the central stack is missing); 2 usage,
    config or credentials.
    """
    ctx = load_context(options, read_only=True)
    try:
        report = Verifier(ctx).run(timeout)
    except AWS_ERRORS as exc:
        # No central stack, or its log group cannot be read: nothing could be proven.
        ctx.output.error(f"e2p verify: {error_text(exc)}")
        sys.exit(exit_codes.FAILED)
    print_matrix(ctx.output, report)
    if report.missing:
        sys.exit(exit_codes.FAILED)
