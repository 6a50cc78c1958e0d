"""The bench's output: one JSON object with exactly the agreed keys, or a table for people.

The JSON keys are relied on by checks outside the repository: `FIGURE_KEYS` is their only spelling.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Final

from e2p.bench.cost import MB_PER_VCPU, CostPerMillion, lambda_seconds_per_event

FIGURE_KEYS: Final = (
    "events_per_s",
    "naive_events_per_s",
    "ratio",
    "limit_events_per_s",
    "efficiency",
    "map_events_per_s",
    "cold_start_ms",
    "peak_rss_mb",
    "lambda_gb_s_per_million",
)
# Targets from the performance issue, shown beside the figures (None: no target).
TARGETS: Final[Mapping[str, tuple[str, float]]] = {
    "ratio": (">=", 20.0),
    "efficiency": (">=", 0.8),
    "map_events_per_s": (">=", 20_000.0),
    "cold_start_ms": ("<=", 250.0),
    "peak_rss_mb": ("<=", 128.0),
}
DECIMALS: Final = 3
REPORT_WIDTH: Final = 110


@dataclass(frozen=True, slots=True)
class Figures:
    events_per_s: float
    naive_events_per_s: float
    ratio: float
    limit_events_per_s: float
    efficiency: float
    map_events_per_s: float
    cold_start_ms: float
    peak_rss_mb: float
    lambda_gb_s_per_million: float

    def as_json(self) -> str:
        """One line, the keys of FIGURE_KEYS and nothing else, numbers rounded for reading."""
        values = asdict(self)
        return json.dumps({key: round(float(values[key]), DECIMALS) for key in FIGURE_KEYS})


assert tuple(field.name for field in fields(Figures)) == FIGURE_KEYS  # one spelling, checked at import


@dataclass(frozen=True, slots=True)
class Machine:
    cores: int
    python: str
    platform: str
    load_average: float  # 1-minute load when the run started: other work on the machine skews figures


def this_machine() -> Machine:
    return Machine(os.cpu_count() or 1, platform.python_version(), platform.platform(), os.getloadavg()[0])


@dataclass(frozen=True, slots=True)
class RunSettings:
    target: str  # "local receiver (TLS, 127.0.0.1)" or the --url host
    events: int
    naive_records: int
    latency_ms: float | None
    concurrency: int
    batch_size: int
    memory_mb: int
    repeat: int
    corpus: str
    samples: int  # distinct sample events
    messages_per_record: float


@dataclass(frozen=True, slots=True)
class BenchResult:
    figures: Figures
    machine: Machine
    settings: RunSettings
    samples: Mapping[str, Sequence[float]]  # every measured value, per figure
    log_bytes_per_event: float
    # Per event in the handler run, this machine: wall time and CPU time of the whole process.
    wall_ms_per_event: float
    cpu_ms_per_event: float
    compile_ms: float | None  # None when not measured (JSON output)
    cost: CostPerMillion


def spread(values: Sequence[float]) -> str:
    if len(values) < 2:
        return ""
    return f"{min(values):,.1f} to {max(values):,.1f}"


def verdict(key: str, value: float) -> str:
    target = TARGETS.get(key)
    if target is None:
        return ""
    sign, bound = target
    met = value >= bound if sign == ">=" else value <= bound
    return f"{'met' if met else 'NOT met'} ({sign} {bound:g})"


def render_table(result: BenchResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # a file or a pipe: wide enough that no figure name is folded
        console = Console(width=REPORT_WIDTH)
    s, m = result.settings, result.machine
    latency = "n/a (remote)" if s.latency_ms is None else f"{s.latency_ms:g} ms"
    console.print(f"[bold]e2p bench[/bold] against {s.target}")
    console.print(
        f"machine   {m.cores} cores, Python {m.python}, {m.platform}, "
        f"load average {m.load_average:.2f} at start"
    )
    console.print(
        f"settings  {s.events} records ({s.samples} samples, {s.messages_per_record:.2f} messages/record, "
        f"corpus {s.corpus}), latency {latency}, delivery concurrency {s.concurrency}, "
        f"batch size {s.batch_size}, memory {s.memory_mb} MB, median of {s.repeat}; naive over "
        f"{s.naive_records} records"
    )
    table = Table(show_lines=False)
    for column in ("figure", "median", "runs (min to max)", "target"):
        table.add_column(column, overflow="fold")
    values = asdict(result.figures)
    for key in FIGURE_KEYS:
        table.add_row(
            key, f"{values[key]:,.3f}", spread(result.samples.get(key, ())), verdict(key, values[key])
        )
    console.print(table)
    cost = result.cost
    console.print(f"log volume {result.log_bytes_per_event:,.0f} bytes/event at INFO")
    lambda_ms = lambda_seconds_per_event(s.memory_mb, result.wall_ms_per_event, result.cpu_ms_per_event)
    bound = "CPU" if lambda_ms > result.wall_ms_per_event else "waiting for Panther"
    vcpu = min(s.memory_mb / MB_PER_VCPU, 1.0)
    console.print(
        f"per event here: {result.wall_ms_per_event:.2f} ms wall, {result.cpu_ms_per_event:.2f} ms CPU; at "
        f"{s.memory_mb} MB ({vcpu:.2f} vCPU) an instance needs {lambda_ms:.2f} ms per event, bound by "
        f"{bound}: about {1000 / lambda_ms:,.0f} events/s per instance"
    )
    if result.compile_ms is not None:
        console.print(
            f"compiling the shipped modules a cold start imports takes {result.compile_ms:,.0f} ms: "
            "what a cold start pays on top when the zip carries no bytecode"
        )
    console.print(
        f"cost per million events (us-east-1 list prices): EventBridge ${cost.eventbridge:.2f} + "
        f"SQS ${cost.sqs:.2f} + Lambda ${cost.lambda_duration:.4f} duration + ${cost.lambda_requests:.3f} "
        f"requests + CloudWatch Logs ${cost.logs:.3f} = ${cost.total:.2f}"
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))
