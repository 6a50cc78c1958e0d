"""The options every AWS-facing command shares, and the context they build.

The options sit on each command (not on the group) so that `e2p deploy --profile x` reads the way
the AWS CLI does. Building the context validates everything that can be validated before touching
an account: the config file, the project's templates, and the credentials. A failure there is
reported in one line with exit code 2 and no traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from botocore.exceptions import NoCredentialsError, NoRegionError, PartialCredentialsError

from e2p.aws.polling import Poller, poller_from_environment
from e2p.aws.sessions import AccessSettings, Sessions
from e2p.aws.stackset_definition import StackSetDefinition, build_definition, mandatory_regions, read_defaults
from e2p.config.project import Project, locate_project
from e2p.config.settings import DEFAULT_CONFIG_FILE, Settings, load_settings
from e2p.console import exit_codes
from e2p.console.output import Output, OutputFormat
from e2p.exceptions import CredentialsError, ProjectLayoutError, SettingsError, TemplateError

F = TypeVar("F", bound=Callable[..., Any])


class UsageFailure(click.ClickException):
    """Config, project or credentials problem: reported in one line, exit code 2."""

    exit_code = exit_codes.USAGE


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    config: Path
    profile: str | None
    region: str | None
    endpoint_url: str | None
    output: OutputFormat


@dataclass(frozen=True, slots=True)
class CommandContext:
    settings: Settings
    project: Project
    definition: StackSetDefinition
    sessions: Sessions
    output: Output
    poller: Poller


def global_options(
    region_help: str = "Default region for calls not tied to a configured region.",
) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        @click.option(
            "--config",
            "config",
            type=click.Path(dir_okay=False, path_type=Path),
            default=DEFAULT_CONFIG_FILE,
            show_default=True,
            envvar="E2P_CONFIG",
            help="The e2p config file (TOML).",
        )
        @click.option("--profile", help="AWS profile (default: the standard credential chain).")
        @click.option("--region", help=region_help)
        @click.option(
            "--endpoint-url",
            help="Send every AWS call to this endpoint (a local AWS). Default: $AWS_ENDPOINT_URL.",
        )
        @click.option(
            "--output",
            type=click.Choice([f.value for f in OutputFormat]),
            default=OutputFormat.TABLE.value,
            show_default=True,
            help="table for people, json for scripts (progress always goes to stderr).",
        )
        @functools.wraps(func)
        def wrapper(
            *args: Any,
            config: Path,
            profile: str | None,
            region: str | None,
            endpoint_url: str | None,
            output: str,
            **kwargs: Any,
        ) -> Any:
            options = GlobalOptions(config, profile, region, endpoint_url, OutputFormat(output))
            return func(*args, options=options, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def usage_errors(func: F) -> F:
    """Turn the errors an operator fixes before running (config, layout, credentials) into exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SettingsError, ProjectLayoutError, TemplateError) as exc:
            raise UsageFailure(str(exc)) from exc
        except CredentialsError as exc:
            raise UsageFailure(f"credentials: {exc}") from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise UsageFailure(f"credentials: {exc}") from exc
        except NoRegionError as exc:
            raise UsageFailure("no AWS region: pass --region or set AWS_REGION") from exc

    return wrapper  # type: ignore[return-value]


def load_context(
    options: GlobalOptions, *, check_credentials: bool = True, read_only: bool = False
) -> CommandContext:
    """`read_only`: the command only reads (status, verify, preflight), so it reaches the central and
    management accounts through their read_only_role_arn where the config names one."""
    project = locate_project()
    defaults = read_defaults(project.read(project.stackset_definition), str(project.stackset_definition))
    settings = load_settings(options.config, mandatory_regions(defaults) or ("us-east-1",))
    definition = build_definition(defaults, settings)
    output = Output(options.output)
    for note in settings.warnings():
        output.warn(note)
    access = AccessSettings(
        central_account_id=settings.central.account_id,
        central_role_arn=(read_only and settings.central.read_only_role_arn) or settings.central.role_arn,
        management_account_id=settings.organization.management_account_id,
        management_role_arn=(read_only and settings.management.read_only_role_arn)
        or settings.management.role_arn,
        member_role_name=settings.member.access_role_name,
        delegated_admin=definition.call_as == "DELEGATED_ADMIN",
    )
    sessions = Sessions.from_options(
        profile=options.profile, region=options.region, endpoint_url=options.endpoint_url, access=access
    )
    if check_credentials:
        sessions.caller_account()
    return CommandContext(settings, project, definition, sessions, output, poller_from_environment())
