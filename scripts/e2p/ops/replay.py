"""`e2p replay`: dead-lettered messages back into the buffer queue, or archived events onto the bus.

Replays go into the queue -> handler path, never back onto a bus with PutEvents: re-publishing an
event rewrites its account and is refused for aws.* sources (AWS-FACTS.md). The one exception is an
EventBridge archive replay, which keeps the original events and is what `--archive` starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.aws.fanout import fan_out
from e2p.aws.message_mover import MessageMover, MoveReport, native_move
from e2p.aws.queue_depths import queue_arn, queue_depth
from e2p.aws.sessions import AWS_ERRORS, error_text
from e2p.aws.stacks import deployed_outputs, describe, outputs_of
from e2p.aws.stackset_ops import StackSetManager
from e2p.console.options import CommandContext
from e2p.exceptions import E2PError, ReplayError
from handler.idempotency import DEFAULT_TTL_S

SOURCES: Final = {"buffer": "DeadLetterQueueUrl", "rule": "RuleDeadLetterQueueUrl"}
REPLAY_DONE: Final = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
REPLAY_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class ArchiveReplay:
    name: str
    state: str
    reason: str = ""
    last_replayed: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED"


class Replayer:
    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx
        central = ctx.settings.central
        session = ctx.sessions.central()
        self._sqs = ctx.sessions.client(session, "sqs", central.region)
        self._events = ctx.sessions.client(session, "events", central.region)
        cfn = ctx.sessions.client(session, "cloudformation", central.region)
        self.outputs = deployed_outputs(cfn, central.stack_name, f"{central.account_id} {central.region}")

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise ReplayError(f"the central stack has no {name} output")
        return value

    def buffer_client(self) -> Any:
        """The central SQS client (sending to the buffer queue from another thread is safe: clients are)."""
        return self._sqs

    def depth(self, source: str) -> int:
        return queue_depth(self._sqs, self.output(SOURCES[source])).total

    def from_dead_letter_queue(self, source: str, limit: int | None) -> MoveReport:
        source_url = self.output(SOURCES[source])
        destination_url = self.output("BufferQueueUrl")
        out = self.ctx.output
        if source == "buffer" and limit is None:
            try:
                return native_move(
                    self._sqs,
                    queue_arn(self._sqs, source_url),
                    queue_arn(self._sqs, destination_url),
                    self.ctx.poller,
                )
            except (ClientError, NotImplementedError) as exc:
                # NotImplementedError is what in-process moto raises for an action it lacks; a server
                # answers with a ClientError. Either way e2p's mover does the same job, only slower.
                reason = (
                    error_text(exc) if isinstance(exc, ClientError) else "not implemented by this backend"
                )
                out.progress(f"SQS move task unavailable ({reason}); using e2p's mover")
        mover = MessageMover(self._sqs, source_url, self._sqs, destination_url)
        return mover.move(limit, progress=lambda moved: out.progress(f"{source} DLQ: {moved} moved"))

    def from_archive(self, start: datetime, end: datetime) -> ArchiveReplay:
        archive_arn = self.output("ArchiveArn")
        bus_arn = self.output("EventBusArn")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = REPLAY_NAME_CHARS.sub("-", f"e2p-{stamp}")[:64]
        self._events.start_replay(
            ReplayName=name,
            Description=f"e2p replay {start.isoformat()} .. {end.isoformat()}",
            EventSourceArn=archive_arn,
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": bus_arn},
        )

        def finished() -> dict[str, Any] | None:
            replay: dict[str, Any] = self._events.describe_replay(ReplayName=name)
            return replay if replay.get("State") in REPLAY_DONE else None

        replay = self.ctx.poller.until(finished, f"archive replay {name}")
        last = replay.get("EventLastReplayedTime")
        return ArchiveReplay(
            name,
            str(replay.get("State", "")),
            str(replay.get("StateReason", "")),
            last.isoformat() if last else "",
        )


@dataclass(frozen=True, slots=True)
class MemberQueueTarget:
    """A member stack (StackSet instance or management-account stack) whose DLQ may hold events."""

    account: str
    region: str
    stack: str


def member_targets(
    ctx: CommandContext, accounts: frozenset[str] | None, regions: frozenset[str] | None
) -> list[MemberQueueTarget]:
    """Every member stack of the deployment, narrowed to `accounts` and `regions` when given."""
    sessions = ctx.sessions
    definition = ctx.definition
    manager = StackSetManager(
        sessions.client(sessions.admin(), "cloudformation", definition.region), definition, ctx.poller
    )
    found = [MemberQueueTarget(i.account, i.region, i.stack_id) for i in manager.instances() if i.stack_id]
    management = ctx.settings.management
    if management.deploy_member_stacks:
        management_id = sessions.management_account()
        found += [
            MemberQueueTarget(management_id, region, management.member_stack_name)
            for region in management.regions
        ]
    return [
        t
        for t in found
        if (accounts is None or t.account in accounts) and (regions is None or t.region in regions)
    ]


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One line of the replay report: a dead-letter queue or the archive."""

    source: str
    method: str
    moved: int | None = None
    failed: int | None = None
    left: int | None = None
    detail: str = ""
    ok: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _codes(report: MoveReport) -> str:
    return ", ".join(f"{code} x{count}" for code, count in sorted(report.error_codes.items()))


def _guarded(source: str, method: str, work: Callable[[], ReplayRow]) -> ReplayRow:
    try:
        return work()
    except AWS_ERRORS as exc:
        return ReplayRow(source, method, detail=error_text(exc), ok=False)


def _would_move(label: str, depth: int, limit: int | None) -> ReplayRow:
    count = depth if limit is None else min(depth, limit)
    return ReplayRow(
        label, "dry run", left=depth, detail=f"would move {count} message(s) to the buffer queue"
    )


def replay_dead_letters(replayer: Replayer, source: str, limit: int | None, dry_run: bool) -> ReplayRow:
    label = f"{source} DLQ"
    if dry_run:
        return _guarded(label, "dry run", lambda: _would_move(label, replayer.depth(source), limit))

    def move() -> ReplayRow:
        report = replayer.from_dead_letter_queue(source, limit)
        left = replayer.depth(source)
        duplicates = (
            f"; {report.duplicates_possible} may be delivered twice" if report.duplicates_possible else ""
        )
        return ReplayRow(
            label,
            report.method,
            report.moved,
            report.failed,
            left,
            (report.error or _codes(report)) + duplicates,
            report.ok,
        )

    return _guarded(label, "", move)


def _member_queue(replayer: Replayer, target: MemberQueueTarget) -> tuple[Any, str]:
    """The member DLQ's SQS client (through the member access role) and URL."""
    sessions = replayer.ctx.sessions
    session = sessions.member(target.account)
    stack = describe(sessions.client(session, "cloudformation", target.region), target.stack)
    url = outputs_of(stack or {}).get("DeadLetterQueueUrl")
    if not url:
        raise ReplayError(f"stack {target.stack} has no DeadLetterQueueUrl output")
    return sessions.client(session, "sqs", target.region), url


def replay_member_dead_letter(
    replayer: Replayer, target: MemberQueueTarget, limit: int | None, dry_run: bool
) -> ReplayRow:
    """One member account x region DLQ into the central buffer queue (never back onto a bus:
    PutEvents refuses aws.* sources and would re-stamp the account)."""
    label = f"member DLQ {target.account} {target.region}"
    sqs, url = _member_queue(replayer, target)
    if dry_run:
        return _would_move(label, queue_depth(sqs, url).total, limit)
    out = replayer.ctx.output
    mover = MessageMover(sqs, url, replayer.buffer_client(), replayer.output("BufferQueueUrl"))
    report = mover.move(limit, progress=lambda moved: out.progress(f"{label}: {moved} moved"))
    duplicates = (
        f"; {report.duplicates_possible} may be delivered twice" if report.duplicates_possible else ""
    )
    return ReplayRow(
        label,
        report.method,
        report.moved,
        report.failed,
        queue_depth(sqs, url).total,
        (report.error or _codes(report)) + duplicates,
        report.ok,
    )


def replay_member_dead_letters(
    replayer: Replayer, targets: list[MemberQueueTarget], limit: int | None, dry_run: bool
) -> list[ReplayRow]:
    """Every target, a few at a time; one failing account or region never stops the others."""
    attempts = fan_out(targets, lambda target: replay_member_dead_letter(replayer, target, limit, dry_run))
    rows = []
    for attempt in attempts:
        if attempt.value is not None:
            rows.append(attempt.value)
        else:
            target = attempt.item
            label = f"member DLQ {target.account} {target.region}"
            rows.append(ReplayRow(label, "", detail=error_text(attempt.error or Exception()), ok=False))
    return rows


def beyond_idempotency(start: datetime, now: datetime, ttl_seconds: int = DEFAULT_TTL_S) -> str:
    """What part of a replay window is older than the idempotency TTL (the handler forgot those
    deliveries, so replaying them raises Panther's tally again), or "" when none is."""
    horizon = now - timedelta(seconds=ttl_seconds)
    if start >= horizon:
        return ""
    return (
        f"; events before {horizon.isoformat(timespec='seconds')} are older than the idempotency TTL "
        f"({ttl_seconds // 86400} days by default): those already delivered will raise Panther's tally again"
    )


def replay_archive(replayer: Replayer, start: datetime, end: datetime, dry_run: bool) -> ReplayRow:
    window = f"{start.isoformat()} .. {end.isoformat()}" + beyond_idempotency(start, datetime.now(UTC))
    if dry_run:
        return ReplayRow("archive", "dry run", detail=window)

    def replay() -> ReplayRow:
        result = replayer.from_archive(start, end)
        detail = f"{result.name} {result.state} {window}" + (f": {result.reason}" if result.reason else "")
        return ReplayRow("archive", "archive replay", detail=detail, ok=result.ok)

    return _guarded("archive", "archive replay", replay)


def parse_time(text: str, option: str) -> datetime:
    """ISO 8601; a time without an offset is taken as UTC (the archive's clock)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise E2PError(f"{option}: {text!r} is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z)") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
