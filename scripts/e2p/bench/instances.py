"""`e2p bench --instances N`: N function instances against one Panther, and what share of it they use.

Each instance is a process of its own running the real handler (`e2p.bench.instance`); the Panther is
either the capacity-limited local receiver (`e2p.bench.capacity`, its own process) or a real
console at --url. Every record gets an EventBridge id of its own, so that the local receiver can
tell which events it stored: `lost` counts the records that give messages none of which reached
it, together with those the queue gave up on (received 5 times). Records the handler dead-lettered
with a reason (an envelope it cannot read, a message Panther refuses for good) are counted apart
(`dead_lettered`): they are parked for replay, not lost.

Figures: `events_per_s` messages stored per second (all instances, start to last finish);
`capacity_share` that rate over --capacity; `retry_share` HTTP requests beyond the first per
message over all requests.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from e2p.bench.batch_queue import Batch, BatchQueue
from e2p.bench.corpus import CorpusChoice, load_corpus
from e2p.bench.instance import InstanceCounts
from e2p.bench.target import import_path_env, stop_process
from e2p.bench.workload import DEFAULT_BATCH_SIZE, accounts_for, write_accounts_file
from e2p.exceptions import E2PError
from handler.enrichment.account import AccountInfo
from handler.envelope import envelope_from_text
from handler.exceptions import InvalidEnvelopeError
from handler.translate import translate

INSTANCE_MODULE: Final = "e2p.bench.instance"
CAPACITY_MODULE: Final = "e2p.bench.capacity"
DEFAULT_INSTANCES: Final = 8
DEFAULT_CAPACITY: Final = 1500.0
DEFAULT_EVENTS_PER_INSTANCE: Final = 1500
RUN_TIMEOUT_S: Final = 1800.0
TOKEN_BYTES: Final = 16
MS_PER_S: Final = 1000.0
DECIMALS: Final = 3

Progress = Callable[[str], None]


class InstancesError(E2PError):
    """An instance or the receiver failed: no figure."""


@dataclass(frozen=True, slots=True)
class InstancesOptions:
    project_root: Path
    instances: int = DEFAULT_INSTANCES
    capacity_per_s: float | None = DEFAULT_CAPACITY  # None: unknown (a real console)
    events: int | None = None  # records in all; None: DEFAULT_EVENTS_PER_INSTANCE per instance
    latency_ms: float = 20.0
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int | None = None  # E2P_DELIVERY_CONCURRENCY: each instance's maximum
    corpus: CorpusChoice = CorpusChoice.BUNDLED
    tls: bool = True
    url: str | None = None
    token: str | None = None
    ca_bundle: str | None = None


@dataclass(frozen=True, slots=True)
class InstancesResult:
    instances: int
    capacity_events_per_s: float | None
    events_per_s: float
    capacity_share: float | None
    retry_share: float
    lost: int
    dead_lettered: int
    records: int
    messages: int
    requests: int
    refused: int | None  # 429 answers of the local receiver (None: a real console)
    seconds: float
    cpu_ms_per_message: float

    def as_json(self) -> str:
        document = {
            key: round(value, DECIMALS) if isinstance(value, float) else value
            for key, value in (
                ("instances", self.instances),
                ("capacity_events_per_s", self.capacity_events_per_s),
                ("events_per_s", self.events_per_s),
                ("capacity_share", self.capacity_share),
                ("retry_share", self.retry_share),
                ("lost", self.lost),
                ("dead_lettered", self.dead_lettered),
                ("records", self.records),
                ("messages", self.messages),
                ("requests", self.requests),
                ("refused", self.refused),
                ("seconds", self.seconds),
                ("cpu_ms_per_message", self.cpu_ms_per_message),
            )
        }
        return json.dumps(document)


@dataclass(frozen=True, slots=True)
class UniqueRecords:
    bodies: list[str]
    event_ids: list[str | None]  # per record: its EventBridge id, None when it gives no message
    messages: int

    @property
    def expected_ids(self) -> set[str]:
        return {event_id for event_id in self.event_ids if event_id is not None}


def unique_records(
    corpus_bodies: Sequence[str], records: int, accounts: dict[str, AccountInfo]
) -> UniqueRecords:
    """`records` SQS bodies cycling through the corpus, each with an EventBridge id of its own."""
    bodies: list[str] = []
    event_ids: list[str | None] = []
    messages = 0
    for index in range(records):
        document = json.loads(corpus_bodies[index % len(corpus_bodies)])
        if isinstance(document, dict):
            document["id"] = f"{document.get('id', 'bench')}-{index:08d}"
        body = json.dumps(document)
        bodies.append(body)
        event_ids.append(None)
        try:
            envelope = envelope_from_text(body)
        except InvalidEnvelopeError:
            continue
        lookup = lambda account_id: accounts.get(account_id) or AccountInfo(account_id)  # noqa: E731
        count = len(translate(envelope, lookup).messages)
        if count:
            event_ids[-1] = envelope.id
            messages += count
    return UniqueRecords(bodies, event_ids, messages)


def _read_line(stream: IO[bytes], what: str) -> bytes:
    line = stream.readline()
    if not line:
        raise InstancesError(f"{what} exited before answering")
    return line


@contextlib.contextmanager
def capacity_receiver(
    token: str, capacity_per_s: float, latency_s: float, tls_dir: str | None
) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        [sys.executable, "-m", CAPACITY_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=import_path_env(),
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        config = {
            "token": token,
            "capacity_per_s": capacity_per_s,
            "latency_s": latency_s,
            "tls_dir": tls_dir,
        }
        process.stdin.write(json.dumps(config).encode() + b"\n")
        process.stdin.flush()
        yield json.loads(_read_line(process.stdout, "the capacity receiver"))
    finally:
        stop_process(process)


def receiver_stats(stats_url: str, ca_bundle: str | None) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=ca_bundle) if stats_url.startswith("https") else None
    with urllib.request.urlopen(stats_url, timeout=30, context=context) as answer:  # noqa: S310 - our own receiver # nosec B310
        stats: dict[str, Any] = json.loads(answer.read())
    return stats


def _serve(process: subprocess.Popen[bytes], queue: BatchQueue, bodies: Sequence[str]) -> InstanceCounts:
    """Hand one instance batches until the queue is done; its counts. When it fails, the queue is
    aborted so that the other instances stop too."""
    try:
        return _feed(process, queue, bodies)
    except BaseException:
        queue.abort()
        raise


def _feed(process: subprocess.Popen[bytes], queue: BatchQueue, bodies: Sequence[str]) -> InstanceCounts:
    assert process.stdin is not None
    assert process.stdout is not None
    last: Batch | None = None
    while True:
        answer = json.loads(_read_line(process.stdout, "an instance"))
        if last is not None:
            queue.give_back(last, set(answer["returned"]))
        batch = queue.take()
        if batch is None:
            process.stdin.write(b'{"stop": true}\n')
            process.stdin.flush()
            break
        order = {"batch": [[index, receives, bodies[index]] for index, receives in batch]}
        process.stdin.write(json.dumps(order).encode() + b"\n")
        process.stdin.flush()
        last = batch
    return InstanceCounts(**json.loads(_read_line(process.stdout, "an instance")))


def _run_instances(
    settings: dict[str, Any], queue: BatchQueue, bodies: Sequence[str], instances: int, progress: Progress
) -> tuple[list[InstanceCounts], float]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(instances):
            process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
                [sys.executable, "-m", INSTANCE_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=import_path_env(),
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps(settings).encode() + b"\n")
            process.stdin.flush()
            processes.append(process)
        for process in processes:
            assert process.stdout is not None
            if not json.loads(_read_line(process.stdout, "an instance")).get("ready"):
                raise InstancesError("an instance did not start")
        progress(f"{len(processes)} instances ready: go")
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=instances, thread_name_prefix="bench-instance") as pool:
            futures = [pool.submit(_serve, process, queue, bodies) for process in processes]
            counts = [future.result(timeout=RUN_TIMEOUT_S) for future in futures]
        return counts, time.perf_counter() - started
    finally:
        for process in processes:
            stop_process(process)


def run_instances(options: InstancesOptions, progress: Progress) -> InstancesResult:
    if options.instances < 1:
        raise ValueError("at least one instance")
    corpus = load_corpus(options.project_root, options.corpus)
    accounts = accounts_for(corpus)
    total = options.events or DEFAULT_EVENTS_PER_INSTANCE * options.instances
    records = unique_records([event.body for event in corpus], total, accounts)
    queue = BatchQueue(len(records.bodies), options.batch_size)
    token = options.token or secrets.token_hex(TOKEN_BYTES)
    with tempfile.TemporaryDirectory(prefix="e2p-bench-instances-") as tmp:
        folder = Path(tmp)
        settings: dict[str, Any] = {
            "token": token,
            "accounts_file": str(write_accounts_file(accounts, folder)),
            "concurrency": options.concurrency,
            "batch_size": options.batch_size,
        }
        if options.url is not None:
            settings.update(url=options.url, ca_bundle=options.ca_bundle)
            progress(f"{options.instances} instances, {total} records -> {options.url}")
            counts, seconds = _run_instances(settings, queue, records.bodies, options.instances, progress)
            stats = None
        else:
            capacity = options.capacity_per_s or 0.0
            tls_dir = str(folder) if options.tls else None
            with capacity_receiver(token, capacity, options.latency_ms / MS_PER_S, tls_dir) as receiver:
                settings.update(url=receiver["url"], ca_bundle=receiver["ca_bundle"])
                progress(
                    f"{options.instances} instances, {total} records -> local receiver "
                    f"(capacity {capacity:g}/s, {options.latency_ms:g} ms)"
                )
                counts, seconds = _run_instances(settings, queue, records.bodies, options.instances, progress)
                stats = receiver_stats(receiver["stats_url"], receiver["ca_bundle"])
    return instances_figures(options, records, counts, seconds, stats, given_up=queue.lost)


def instances_figures(
    options: InstancesOptions,
    records: UniqueRecords,
    counts: list[InstanceCounts],
    seconds: float,
    stats: dict[str, Any] | None,
    *,
    given_up: Sequence[int] = (),
) -> InstancesResult:
    """`given_up`: indexes of the records the queue stopped redelivering."""
    delivered = sum(count.messages_delivered for count in counts)
    requests = sum(count.delivery_attempts for count in counts)
    lost_records = {f"record {index}" for index in given_up if records.event_ids[index] is None}
    lost_ids = {event_id for index in given_up if (event_id := records.event_ids[index]) is not None}
    if stats is not None:
        # The receiver's own word: records that give messages, none of which it stored.
        lost_ids |= records.expected_ids - set(stats["event_ids"])
        stored = int(stats["stored"])
        requests = max(requests, int(stats["requests"]))
    else:
        stored = delivered
    lost = len(lost_ids) + len(lost_records)
    events_per_s = stored / seconds if seconds > 0 else 0.0
    capacity = options.capacity_per_s
    cpu_s = sum(count.cpu_seconds for count in counts)
    return InstancesResult(
        instances=options.instances,
        capacity_events_per_s=capacity,
        events_per_s=events_per_s,
        capacity_share=events_per_s / capacity if capacity else None,
        retry_share=max(requests - records.messages, 0) / requests if requests else 0.0,
        lost=lost,
        dead_lettered=sum(count.dead_lettered for count in counts),
        records=len(records.bodies),
        messages=records.messages,
        requests=requests,
        refused=None if stats is None else int(stats["refused"]),
        seconds=seconds,
        cpu_ms_per_message=cpu_s * MS_PER_S / max(delivered, 1),
    )


def render_instances(result: InstancesResult) -> None:
    """The figures for people, on stdout."""
    capacity = "unknown" if result.capacity_events_per_s is None else f"{result.capacity_events_per_s:,.0f}"
    share = "-" if result.capacity_share is None else f"{result.capacity_share:.3f}"
    refused = "-" if result.refused is None else f"{result.refused:,}"
    rows = (
        ("instances", f"{result.instances}"),
        ("capacity_events_per_s", capacity),
        ("events_per_s", f"{result.events_per_s:,.1f}"),
        ("capacity_share", share),
        ("retry_share", f"{result.retry_share:.4f}"),
        ("lost", f"{result.lost:,}"),
        ("dead-lettered (with a reason)", f"{result.dead_lettered:,}"),
        ("records / messages", f"{result.records:,} / {result.messages:,}"),
        ("requests (429 answers)", f"{result.requests:,} ({refused})"),
        ("seconds", f"{result.seconds:.2f}"),
        ("CPU per message (instances)", f"{result.cpu_ms_per_message:.3f} ms"),
    )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        sys.stdout.write(f"{name:<{width}}  {value}\n")
