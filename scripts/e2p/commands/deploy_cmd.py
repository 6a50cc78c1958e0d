"""`e2p deploy`: the central stack, the org lookup role, the member StackSet and its instances, and
the member stacks of the management account, in that order; then the Panther token."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from e2p.aws.token_secret import read_token, readable_by_others
from e2p.commands.preflight_cmd import print_report
from e2p.config.mappings_file import MappingsFile, read_mappings_file
from e2p.console import exit_codes
from e2p.console.options import (
    CommandContext,
    GlobalOptions,
    UsageFailure,
    global_options,
    load_context,
    usage_errors,
)
from e2p.ops.deployment import Deployment
from e2p.ops.preflight import Preflight, Status
from handler.mappings import MappingsError


def _describe_plan(ctx: CommandContext) -> list[str]:
    settings = ctx.settings
    definition = ctx.definition
    central = settings.central
    lines = [
        f"central stack   {central.stack_name} in {central.account_id} {central.region}",
        f"StackSet        {definition.name} ({definition.call_as}) in {definition.region}",
        f"  OUs           {', '.join(definition.organizational_units)}",
        f"  regions       {', '.join(definition.regions)}",
    ]
    management = settings.management
    if management.deploy_member_stacks:
        lines.append(f"management      {management.member_stack_name} in {', '.join(management.regions)}")
    lines.append(f"lookup role     {management.lookup_stack_name} in {management.lookup_stack_region}")
    return lines


def _mappings(path: Path | None) -> MappingsFile | None:
    """Read and compile the file before anything is deployed: a malformed entry is a usage error."""
    if path is None:
        return None
    try:
        return read_mappings_file(path)
    except MappingsError as exc:
        raise UsageFailure(f"--mappings: {exc}") from exc


# Checks the deploy itself settles: trusted access is activated with consent (--activate-trusted-access
# or the prompt) or refused with the command to run, so its preflight FAIL must not stop the deploy.
SETTLED_BY_DEPLOY = frozenset({"trusted access"})


def _with_new_regions(ctx: CommandContext) -> CommandContext:
    from e2p.ops.new_regions import enabled_opt_in_regions, with_new_regions

    extended, added = with_new_regions(ctx, enabled_opt_in_regions(ctx))
    if added:
        ctx.output.progress(f"--include-new-regions: adding {', '.join(added)} to the StackSet's regions")
        ctx.output.warn("add them to stackset.regions in the config: the configuration is what e2p deploys")
    else:
        ctx.output.progress("--include-new-regions: no opt-in region enabled outside the configured ones")
    return extended


def _preflight(ctx: CommandContext) -> None:
    report = Preflight(ctx).run()
    blocking = [c for c in report.checks if c.status is Status.FAIL and c.name not in SETTLED_BY_DEPLOY]
    for check in report.checks:
        if check.status is Status.WARN or (check.status is Status.FAIL and check not in blocking):
            ctx.output.warn(f"preflight {check.name}: {check.detail}")
    if blocking:
        print_report(ctx.output, report, "e2p deploy: preflight")
        ctx.output.error(
            "preflight failed: nothing was deployed (fix the FAIL rows, or use --skip-preflight)"
        )
        sys.exit(exit_codes.FAILED)
    ctx.output.progress(f"preflight: {len(report.checks)} checks, none blocking")


@click.command("deploy")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the Panther API token from this file and store it in the central secret.",
)
@click.option("--token-stdin", is_flag=True, help="Read the Panther API token from stdin (needs --yes).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--activate-trusted-access",
    is_flag=True,
    help="If trusted access for StackSets is off, activate it (an organisation-wide setting).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Also update stacks of the configured names that lack e2p's managed-by tag (adopting them).",
)
@click.option(
    "--wheelhouse",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Install the Lambda's locked dependencies from this directory of wheels, offline (each must "
    "match its hash in the lock), instead of from the package index.",
)
@click.option(
    "--mappings",
    "mappings_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The organisation's mappings file (YAML/JSON), stored for the forwarder; without it the "
    "forwarder uses the built-in mappings only. Test it first with `e2p map --mappings FILE`.",
)
@click.option(
    "--skip-preflight", is_flag=True, help="Do not run `e2p preflight` first (its checks are read-only)."
)
@click.option(
    "--include-new-regions",
    is_flag=True,
    help="Also deploy to the opt-in regions accounts enabled outside stackset.regions (Account Management "
    "ListRegions; needs its trusted access).",
)
@global_options()
@usage_errors
def deploy_command(  # noqa: PLR0917 - click passes every option as an argument
    options: GlobalOptions,
    token_file: Path | None,
    token_stdin: bool,
    yes: bool,
    wheelhouse: Path | None,
    mappings_path: Path | None,
    skip_preflight: bool,
    include_new_regions: bool,
    force: bool,
    activate_trusted_access: bool,
) -> None:
    """Deploy or update everything; a second run with the same inputs changes nothing.

    The token is never a command-line argument: use --token-file, --token-stdin, or answer the hidden
    prompt (interactive terminals only). Without any of them the secret keeps its current value.

    `e2p preflight` runs first: a failed check stops the deploy before anything changes (trusted
    access excepted: see --activate-trusted-access); --skip-preflight skips it.

    Exit codes: 0 every step succeeded, 1 a step or a preflight check failed (see the table), 2 usage,
    config or credentials.
    """
    if token_stdin and not yes:
        raise UsageFailure(
            "--token-stdin reads stdin to its end, so nothing is left to confirm with: add --yes"
        )
    mappings = _mappings(mappings_path)
    ctx = load_context(options)
    if include_new_regions:
        ctx = _with_new_regions(ctx)
    if not skip_preflight:
        _preflight(ctx)
    interactive = sys.stdin.isatty() and not yes
    token = read_token(token_file, token_stdin, prompt=interactive)
    if token_file is not None and readable_by_others(token_file):
        ctx.output.warn(f"{token_file} is readable by other users: chmod 600 it (it holds the Panther token)")
    for line in _describe_plan(ctx):
        ctx.output.progress(line)
    if not yes:
        click.confirm("Deploy?", abort=True, err=True)
    consent: bool | Callable[[], bool] = activate_trusted_access
    if not activate_trusted_access and interactive:

        def consent() -> bool:
            return click.confirm(
                "Trusted access for StackSets is off; activate it for the organisation?",
                default=False,
                err=True,
            )

    results = Deployment(
        ctx, activate_trusted_access=consent, wheelhouse=wheelhouse, mappings=mappings, force=force
    ).run(token)
    ctx.output.results("e2p deploy", results)
    if results.failed:
        sys.exit(exit_codes.FAILED)
