"""One bench run: every measurement over the same workload, repeated, reduced to medians."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from e2p.bench.cold_start import cold_start_samples, compile_ms
from e2p.bench.corpus import CorpusChoice, load_corpus
from e2p.bench.cost import cost_per_million, gb_s_per_million, lambda_seconds_per_event
from e2p.bench.handler_run import build_bench_runtime, handler_environment, handler_rate
from e2p.bench.limit import limit_rate
from e2p.bench.mapping import map_rate
from e2p.bench.naive import MAX_NAIVE_RECORDS, naive_rate
from e2p.bench.peak_rss import peak_rss_mb
from e2p.bench.report import BenchResult, Figures, RunSettings, median, this_machine
from e2p.bench.target import LocalReceiver, Target
from e2p.bench.workload import DEFAULT_BATCH_SIZE, accounts_for, build_workload, write_accounts_file

DEFAULT_EVENTS: Final = 1000
DEFAULT_LATENCY_MS: Final = 20.0
DEFAULT_REPEAT: Final = 3
DEFAULT_MEMORY_MB: Final = 256  # the template's FunctionMemorySize default
LOCAL_TARGET: Final = "the local receiver (TLS, 127.0.0.1, separate process)"
TOKEN_BYTES: Final = 16  # a 32-character hex key, the shape of a Panther API key
MS_PER_S: Final = 1000.0

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    project_root: Path
    events: int = DEFAULT_EVENTS
    latency_ms: float = DEFAULT_LATENCY_MS
    repeat: int = DEFAULT_REPEAT
    memory_mb: int = DEFAULT_MEMORY_MB
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int | None = None  # None: the handler's own default
    corpus: CorpusChoice = CorpusChoice.BUNDLED
    url: str | None = None  # a real Panther; None: the local receiver
    token: str | None = None  # required with url
    ca_bundle: str | None = None
    # Extras only the table shows (the bytecode compile cost): one more interpreter when True.
    explain: bool = True


def cold_start_runs(repeat: int) -> int:
    """An odd number of fresh interpreters, so that the median is one of them."""
    return 2 * repeat + 1


def run_bench(options: BenchOptions, progress: Progress) -> BenchResult:
    machine = this_machine()
    corpus = load_corpus(options.project_root, options.corpus)
    accounts = accounts_for(corpus)
    workload = build_workload(corpus, options.events, accounts)
    local_token = secrets.token_hex(TOKEN_BYTES)
    with (
        tempfile.TemporaryDirectory(prefix="e2p-bench-") as folder,
        LocalReceiver(local_token, options.latency_ms / MS_PER_S) as receiver,
    ):
        assert receiver.wan is not None
        assert receiver.fast is not None
        accounts_file = write_accounts_file(accounts, Path(folder))
        if options.url is None:
            target, target_name = receiver.wan, LOCAL_TARGET
        else:
            assert options.token is not None
            target, target_name = Target(options.url, options.token, options.ca_bundle), options.url
        runtime = build_bench_runtime(
            handler_environment(target, accounts_file, options.concurrency), target.token
        )
        concurrency = int(runtime.settings.delivery_concurrency)
        samples: dict[str, list[float]] = {
            key: []
            for key in ("events_per_s", "naive_events_per_s", "limit_events_per_s", "map_events_per_s")
        }
        log_chars: list[float] = []
        seconds_per_event: list[float] = []
        cpu_per_event: list[float] = []
        try:
            for run in range(1, options.repeat + 1):
                progress(f"run {run}/{options.repeat}: handler, {workload.records} records")
                handled = handler_rate(runtime, workload, options.batch_size)
                samples["events_per_s"].append(handled.events_per_s)
                seconds_per_event.append(handled.seconds_per_event)
                cpu_per_event.append(handled.cpu_seconds_per_event)
                log_chars.append(handled.log_chars / handled.records)
                progress(f"run {run}/{options.repeat}: naive client")
                samples["naive_events_per_s"].append(naive_rate(target, workload))
                progress(f"run {run}/{options.repeat}: minimal keep-alive client x{concurrency}")
                samples["limit_events_per_s"].append(limit_rate(target, workload, concurrency))
                progress(f"run {run}/{options.repeat}: mapping")
                samples["map_events_per_s"].append(map_rate(workload, runtime.directory.lookup))
        finally:
            runtime.dispatcher.close()
        progress(f"cold start: {cold_start_runs(options.repeat)} fresh interpreters")
        cold = cold_start_samples(cold_start_runs(options.repeat))
        compiled = compile_ms() if options.explain else None
        progress("peak RSS: one 10,000-record batch")
        rss = peak_rss_mb(receiver.fast, workload, accounts_file, concurrency)
    events_per_s = median(samples["events_per_s"])
    naive = median(samples["naive_events_per_s"])
    limit = median(samples["limit_events_per_s"])
    wall_s, cpu_s = median(seconds_per_event), median(cpu_per_event)
    gb_s = gb_s_per_million(options.memory_mb, lambda_seconds_per_event(options.memory_mb, wall_s, cpu_s))
    figures = Figures(
        events_per_s=events_per_s,
        naive_events_per_s=naive,
        ratio=events_per_s / naive,
        limit_events_per_s=limit,
        efficiency=events_per_s / limit,
        map_events_per_s=median(samples["map_events_per_s"]),
        cold_start_ms=median(cold),
        peak_rss_mb=rss,
        lambda_gb_s_per_million=gb_s,
    )
    settings = RunSettings(
        target=target_name,
        events=workload.records,
        naive_records=min(workload.records, MAX_NAIVE_RECORDS),
        latency_ms=options.latency_ms if options.url is None else None,
        concurrency=concurrency,
        batch_size=options.batch_size,
        memory_mb=options.memory_mb,
        repeat=options.repeat,
        corpus=options.corpus.value,
        samples=len(corpus),
        messages_per_record=workload.message_count / workload.records,
    )
    log_bytes = median(log_chars)
    return BenchResult(
        figures=figures,
        machine=machine,
        settings=settings,
        samples={**samples, "cold_start_ms": cold},
        log_bytes_per_event=log_bytes,
        wall_ms_per_event=wall_s * MS_PER_S,
        cpu_ms_per_event=cpu_s * MS_PER_S,
        compile_ms=compiled,
        cost=cost_per_million(gb_s, options.batch_size, log_bytes),
    )
