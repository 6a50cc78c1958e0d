"""`e2p teardown`: remove the StackSet instances and the StackSet, the management-account stacks,
the lookup role, the central stack and the code bucket e2p created."""

from __future__ import annotations

import sys

import click

from e2p.console import exit_codes
from e2p.console.options import GlobalOptions, global_options, load_context, usage_errors
from e2p.ops.teardown import Teardown


@click.command("teardown")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--force",
    is_flag=True,
    help="Also delete stacks and the StackSet of the configured names that lack e2p's managed-by tag.",
)
@global_options()
@usage_errors
def teardown_command(options: GlobalOptions, yes: bool, force: bool) -> None:
    """Delete everything `e2p deploy` created. Failures are collected per account and region and
    the command carries on with what does not depend on them.

    Exit codes: 0 everything is gone; 1 something could not be deleted (see the table); 2 usage,
    config or credentials error.
    """
    ctx = load_context(options)
    settings = ctx.settings
    ctx.output.progress(
        f"This deletes StackSet {ctx.definition.name} and its instances, the management-account stacks "
        f"{settings.management.member_stack_name} and {settings.management.lookup_stack_name}, and "
        f"{settings.central.stack_name} in {settings.central.account_id} {settings.central.region}."
    )
    if not yes:
        click.confirm("Tear down Events2Panther?", abort=True, err=True)
    results = Teardown(ctx, force=force).run()
    ctx.output.results("e2p teardown", results)
    if results.failed:
        sys.exit(exit_codes.FAILED)
