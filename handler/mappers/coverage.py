"""Coverage: the watchdog's alerts and clears, and the member heartbeats.

The watchdog (handler.scheduled.watchdog) puts one event per condition on the central bus; it
reaches Panther through the forwarder's own path (buffer, retries, dead-letter queue, idempotency).
`detail` holds what the mapper needs, all strings:
    kind        silent | uncovered | region_not_forwarded | dead_letters
    state       ALARM (the condition holds) | OK (it ended: the clear)
    account_id, account_name, region   the pair the alert is about (node)
    minutes     the silence threshold (silent)
    last_seen   when the pair was last heard, ISO time or "never" (silent)
    queue, messages_waiting            which dead-letter queue and how many (dead_letters)

A clear has severity 0 and the very node and summary of its alert, so a console rule pairs them;
the summary therefore names the problem in both states. Counts and times are fields, never in
the summary (Panther aggregates on it).

Heartbeats are recorded by the forwarder's heartbeat step (handler.coverage.heartbeat), before
mapping; this mapper filters any heartbeat that reaches it (a function without a coverage table)
so that a healthy heartbeat never becomes a Panther message.
"""

from __future__ import annotations

from collections.abc import Sequence

from handler.alert import Alert, Filtered
from handler.coverage.names import (
    HEARTBEAT_DETAIL_TYPE,
    HEARTBEAT_SOURCE,
    WATCHDOG_DETAIL_TYPE,
    WATCHDOG_SOURCE,
)
from handler.envelope import Envelope
from handler.mappers.registry import mapper
from handler.severity import Severity

TAG = "Coverage"
ALARM = "ALARM"

SILENT = "silent"
UNCOVERED = "uncovered"
REGION_NOT_FORWARDED = "region_not_forwarded"
DEAD_LETTERS = "dead_letters"

# Severity while the condition holds (README severity table).
SEVERITY = {
    SILENT: Severity.MAJOR,
    UNCOVERED: Severity.MAJOR,
    REGION_NOT_FORWARDED: Severity.MINOR,
    DEAD_LETTERS: Severity.MINOR,
}


def summary_of(kind: str, name: str, region: str, minutes: str, queue: str) -> str:
    where = f"{name}/{region}"
    if kind == SILENT:
        return f"no events from {where} for {minutes} min: forwarding is broken"
    if kind == UNCOVERED:
        return f"{where} has no Events2Panther stack instance: its events are not forwarded"
    if kind == REGION_NOT_FORWARDED:
        return f"region {region} is enabled in {name} but Events2Panther does not forward it"
    return f"events wait in the Events2Panther {queue} (e2p replay)"


@mapper(WATCHDOG_SOURCE, WATCHDOG_DETAIL_TYPE)
def watchdog_alert(envelope: Envelope) -> Sequence[Alert] | Filtered:
    kind = envelope.text("kind")
    if kind not in SEVERITY:
        # A watchdog newer than this forwarder (or a hand-made event): shown, never dropped. Mappers
        # do not raise; the kind is named in the summary, which stays stable for that kind.
        return [
            Alert(
                summary=f"Events2Panther coverage alert of an unknown kind: {kind or '(none)'}",
                severity=Severity.INDETERMINATE,
                tag=TAG,
                fields={"coverage_kind": kind, "coverage_state": envelope.text("state")},
            )
        ]
    alarm = envelope.text("state", default=ALARM) == ALARM
    account = envelope.text("account_id")
    region = envelope.text("region")
    name = envelope.text("account_name") or account
    queue = envelope.text("queue", default="dead-letter queue")
    fields = {
        "coverage_kind": kind,
        "coverage_state": ALARM if alarm else "OK",
        "last_seen": envelope.text("last_seen"),
        "silence_minutes": envelope.text("minutes"),
        "messages_waiting": envelope.text("messages_waiting"),
        "stack_status": envelope.text("stack_status"),
    }
    pair_kind = kind != DEAD_LETTERS
    return [
        Alert(
            summary=summary_of(kind, name, region, envelope.text("minutes"), queue),
            severity=SEVERITY[kind] if alarm else Severity.CLEAR,
            tag=TAG,
            # The dead-letter queue is the central account's own resource: the envelope's node.
            resource="" if pair_kind else queue,
            fields={k: v for k, v in fields.items() if v},
            account=account if pair_kind else "",
            region=region if pair_kind else "",
        )
    ]


@mapper(HEARTBEAT_SOURCE, HEARTBEAT_DETAIL_TYPE)
def heartbeat(envelope: Envelope) -> Sequence[Alert] | Filtered:
    return Filtered("coverage heartbeat: recorded by the heartbeat step, never sent to Panther")
