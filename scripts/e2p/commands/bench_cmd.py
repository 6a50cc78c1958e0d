"""`e2p bench`: the handler's throughput, efficiency, mapping speed, cold start, memory and cost.

Wiring only: options, the token for --url, progress on stderr, the result on stdout. The
measurements live in e2p.bench, imported when the command runs so that `e2p --help` stays fast.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from e2p.console import exit_codes
from e2p.console.local_mode import require_local_mode
from e2p.console.logs import route_logs
from e2p.console.options import UsageFailure

if TYPE_CHECKING:
    from e2p.bench.instances import InstancesOptions

# No longer read (a token in the environment reaches every child process and crash report): its
# presence is refused with the way to give the token instead.
TOKEN_VARIABLE: Final = "E2P_BENCH_TOKEN"  # noqa: S105 -- the name of a variable, not a token
LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_REPEAT: Final = 20
MAX_EVENTS: Final = 1_000_000
# The central template's BatchSize default (a test keeps them equal); not imported from the bench
# package, whose import pulls in the handler and would slow every `e2p` command down.
TEMPLATE_BATCH_SIZE: Final = 100
MAX_DELIVERY_CONCURRENCY: Final = 64  # the handler's own bound (E2P_DELIVERY_CONCURRENCY)
MAX_INSTANCES: Final = 64
DEFAULT_CAPACITY: Final = 1500.0  # --instances against the local receiver: its events/s
MAX_SCALE_ACCOUNTS: Final = 20_000
MAX_SCALE_REGIONS: Final = 17  # e2p.bench.scale_status.REGIONS


class BenchFailure(click.ClickException):
    """A measurement could not be made (receiver down, deliveries refused): exit code 1."""

    exit_code = exit_codes.FAILED


def _remote_token(token_file: Path | None, token_stdin: bool) -> str:
    from e2p.aws.token_secret import read_token
    from e2p.exceptions import SettingsError

    if os.environ.get(TOKEN_VARIABLE, "").strip():
        raise click.UsageError(
            f"${TOKEN_VARIABLE} is no longer read (the environment reaches every child process): "
            "unset it and give the token with --token-file or --token-stdin"
        )
    try:
        token = read_token(token_file, token_stdin)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    if token is None:
        raise click.UsageError(
            "--url needs the Panther token: --token-file or --token-stdin "
            "(never an argument nor a variable, so that it stays out of the shell history, the process "
            "list and child processes)"
        )
    return token


def _is_local(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


@click.command("bench")
@click.option("--url", help="A real Panther event URL to measure against (default: the local receiver).")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --url: read the Panther token from this file (or use --token-stdin).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="With a --url that is not on this machine: yes, post the bench's sample findings to that console.",
)
@click.option("--token-stdin", is_flag=True, help="With --url: read the Panther token from stdin.")
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False),
    help="With --url: CA bundle to verify Panther's certificate (default: the system's).",
)
@click.option(
    "--events",
    type=click.IntRange(1, MAX_EVENTS),
    default=1000,
    show_default=True,
    help="SQS records per run (the sample events, repeated).",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(0, 10_000),
    default=20.0,
    show_default=True,
    help="Local receiver: milliseconds before each answer (a WAN round trip to a hosted console).",
)
@click.option("--repeat", type=click.IntRange(1, MAX_REPEAT), default=3, show_default=True)
@click.option(
    "--memory-mb",
    type=click.IntRange(128, 10_240),
    default=256,
    show_default=True,
    help="Function memory for the GB-s figure (the template's FunctionMemorySize default).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_DELIVERY_CONCURRENCY),
    help="E2P_DELIVERY_CONCURRENCY for the run (default: the handler's default).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=TEMPLATE_BATCH_SIZE,
    show_default=True,
    help="Records per invocation (the template's BatchSize default).",
)
@click.option(
    "--corpus",
    type=click.Choice(["bundled", "shared", "all"]),
    default="bundled",
    show_default=True,
    help="bundled: tests/events; shared: ../shared/events envelopes (if present); all: both.",
)
@click.option(
    "--instances",
    type=click.IntRange(1, MAX_INSTANCES),
    help="Run N function instances (processes) against one Panther and report the total rate, "
    "errors and the share of its capacity used (--events then defaults to 1,500 per instance).",
)
@click.option(
    "--capacity",
    type=click.FloatRange(min=1),
    help=f"With --instances: the local receiver's capacity in events/s (default {DEFAULT_CAPACITY:g}; "
    "beyond it answers slow down, then 429); with --url, the console's known capacity.",
)
@click.option(
    "--scale",
    is_flag=True,
    help="The organisation dimension: e2p status over N accounts x R regions of stack instances, the "
    "directory refresh (tags, aliases) and its cold read, in the local AWS (docs/performance.md).",
)
@click.option(
    "--accounts",
    type=click.IntRange(1, MAX_SCALE_ACCOUNTS),
    default=1000,
    show_default=True,
    help="With --scale: accounts in the scale world.",
)
@click.option(
    "--regions",
    type=click.IntRange(1, MAX_SCALE_REGIONS),
    default=MAX_SCALE_REGIONS,
    show_default=True,
    help="With --scale: regions per account.",
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def bench_command(  # noqa: PLR0912 - a branch per mode (--scale, --instances, default); click passes every option by name
    *,
    url: str | None,
    token_file: Path | None,
    token_stdin: bool,
    allow_remote: bool,
    ca_bundle: str | None,
    events: int,
    latency_ms: float,
    repeat: int,
    memory_mb: int,
    concurrency: int | None,
    batch_size: int,
    corpus: str,
    instances: int | None,
    capacity: float | None,
    scale: bool,
    accounts: int,
    regions: int,
    output: str,
) -> None:
    """Measure the handler against the local Panther receiver (TLS on 127.0.0.1), or a real one.

    With --output json the last line is one JSON object with exactly: events_per_s,
    naive_events_per_s, ratio, limit_events_per_s, efficiency, map_events_per_s, cold_start_ms,
    peak_rss_mb, lambda_gb_s_per_million. Progress goes to stderr.

    With --scale [--accounts N] [--regions R] it measures the organisation dimension instead; the
    last line is one JSON object with at least accounts, regions, stack_instances, status_seconds,
    status_api_calls, directory_cold_read_ms, directory_bytes, directory_refresh_seconds,
    directory_refresh_calls, alias_refresh_seconds, alias_refresh_calls.

    Exit codes: 0 measured, 1 a measurement failed (deliveries refused, a probe crashed), 2 usage.
    """
    require_local_mode("bench")
    from e2p.bench.corpus import CorpusChoice
    from e2p.bench.instances import InstancesOptions
    from e2p.bench.report import render_table
    from e2p.bench.runner import BenchOptions, run_bench
    from e2p.config.project import locate_project
    from e2p.exceptions import E2PError, ProjectLayoutError

    route_logs()
    if scale:  # the organisation dimension: nothing below applies
        return _bench_scale(accounts, regions, output)

    token: str | None = None
    if url is None:
        if token_file is not None or token_stdin or ca_bundle is not None:
            raise click.UsageError("--token-file, --token-stdin and --ca-bundle go with --url")
    else:
        from handler.delivery.url import validate_panther_url
        from handler.exceptions import ConfigurationError

        try:
            url = validate_panther_url(url, allow_insecure_http=False)
        except ConfigurationError as exc:
            raise click.UsageError(f"--url: {exc}") from exc
        token = _remote_token(token_file, token_stdin)
        if not _is_local(url) and not allow_remote:
            raise click.UsageError(
                f"--url {url} is not on this machine: the bench posts thousands of sample findings there; "
                "add --allow-remote if that console is meant for it"
            )
    if capacity is not None and instances is None:
        raise click.UsageError("--capacity goes with --instances")
    if url is not None and instances is None:
        click.echo(
            f"e2p bench: about {events * 2 * repeat} events will be sent to {url} (plus up to 300 per run "
            "from the naive client)",
            err=True,
        )
    try:
        root = locate_project().root
    except ProjectLayoutError as exc:
        raise UsageFailure(str(exc)) from exc
    if instances is not None:
        events_given = click.get_current_context().get_parameter_source("events")
        _bench_instances(
            InstancesOptions(
                project_root=root,
                instances=instances,
                capacity_per_s=capacity if capacity is not None or url is not None else DEFAULT_CAPACITY,
                events=events if events_given is not click.core.ParameterSource.DEFAULT else None,
                latency_ms=latency_ms,
                batch_size=batch_size,
                concurrency=concurrency,
                corpus=CorpusChoice(corpus),
                url=url,
                token=token,
                ca_bundle=ca_bundle,
            ),
            output,
        )
        return
    try:
        options = BenchOptions(
            project_root=root,
            events=events,
            latency_ms=latency_ms,
            repeat=repeat,
            memory_mb=memory_mb,
            batch_size=batch_size,
            concurrency=concurrency,
            corpus=CorpusChoice(corpus),
            url=url,
            token=token,
            ca_bundle=ca_bundle,
            explain=output == "table",
        )
        started = time.monotonic()
        result = run_bench(
            options,
            lambda line: click.echo(f"e2p bench [{time.monotonic() - started:6.1f} s] {line}", err=True),
        )
    except E2PError as exc:
        raise BenchFailure(str(exc)) from exc
    except OSError as exc:
        raise BenchFailure(f"{type(exc).__name__}: {exc}") from exc
    if output == "json":
        click.echo(result.figures.as_json())
    else:
        render_table(result)


def _bench_instances(options: InstancesOptions, output: str) -> None:
    """`--instances N`: N function instances against one Panther (e2p.bench.instances)."""
    from e2p.bench.instances import render_instances, run_instances
    from e2p.exceptions import E2PError

    if options.url is not None:
        click.echo(f"e2p bench: {options.instances} instances will send events to {options.url}", err=True)
    started = time.monotonic()
    try:
        result = run_instances(
            options,
            lambda line: click.echo(f"e2p bench [{time.monotonic() - started:6.1f} s] {line}", err=True),
        )
    except E2PError as exc:
        raise BenchFailure(str(exc)) from exc
    except OSError as exc:
        raise BenchFailure(f"{type(exc).__name__}: {exc}") from exc
    if output == "json":
        click.echo(result.as_json())
    else:
        render_instances(result)


def _bench_scale(accounts: int, regions: int, output: str) -> None:
    """`--scale`: the organisation dimension (e2p.bench.scale_run); the JSON object last on stdout."""
    import json

    from e2p.bench.scale_run import ScaleOptions, run_scale

    started = time.monotonic()
    figures = run_scale(
        ScaleOptions(accounts=accounts, regions=regions),
        lambda line: click.echo(f"e2p bench --scale [{time.monotonic() - started:6.1f} s] {line}", err=True),
    )
    if output == "json":
        click.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        if not isinstance(value, dict):
            click.echo(f"{key:34} {value}")
