"""The forwarder's side of coverage: heartbeats are recorded and never sent; the watchdog's alerts and
clears become Panther messages about the member account they name."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import pytest
from dispatcher_fakes import AnswersAtOnce
from test_pipeline import FakeDeadLetters, FakeDirectory, ScriptedDispatcher, envelope

from handler.counters import Count
from handler.coverage.heartbeat import CoverageStoreError, Heartbeat, epoch_of
from handler.coverage.names import (
    HEARTBEAT_DETAIL_TYPE,
    HEARTBEAT_SOURCE,
    WATCHDOG_DETAIL_TYPE,
    WATCHDOG_SOURCE,
)
from handler.decisions import Action
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.enrichment.account import AccountInfo
from handler.envelope import envelope_from_object
from handler.mappers import map_event
from handler.pipeline import Pipeline, Record
from handler.translate import translate

pytestmark = pytest.mark.unit

MEMBER = "111122223333"
CENTRAL = "444455556666"


def heartbeat_body(time: str = "2026-12-02T15:00:00Z", region: str = "ap-southeast-2") -> str:
    return json.dumps(
        {
            "version": "0",
            "id": f"hb-{region}-{time}",
            "source": HEARTBEAT_SOURCE,
            "detail-type": HEARTBEAT_DETAIL_TYPE,
            "account": MEMBER,
            "region": region,
            "time": time,
            "resources": [],
            "detail": {"interval_minutes": 15, "stack": "StackSet-events2panther-member-abc"},
        }
    )


class MemorySink:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.recorded: list[Heartbeat] = []

    def record(self, heartbeat: Heartbeat) -> None:
        if self.fail:
            raise CoverageStoreError("table unavailable")
        self.recorded.append(heartbeat)


def run(body: str, sink: MemorySink | None) -> tuple[Action, str, ScriptedDispatcher]:
    dispatcher = ScriptedDispatcher()
    pipeline = Pipeline(FakeDirectory(), dispatcher, FakeDeadLetters(), heartbeats=sink)
    report = pipeline.process([Record("m1", body)], None)
    ((_, decision),) = report.decisions
    return decision.action, decision.reason, dispatcher


def test_a_heartbeat_is_recorded_with_its_own_time_and_nothing_reaches_panther() -> None:
    sink = MemorySink()
    action, reason, dispatcher = run(heartbeat_body(), sink)
    assert (action, reason) == (Action.ACK, "heartbeat recorded")
    assert dispatcher.sent == []
    assert sink.recorded == [
        Heartbeat(
            MEMBER,
            "ap-southeast-2",
            epoch_of("2026-12-02T15:00:00Z") or 0,
            15,
            "StackSet-events2panther-member-abc",
        )
    ]


def test_a_heartbeat_that_cannot_be_recorded_goes_back_to_the_queue() -> None:
    action, reason, dispatcher = run(heartbeat_body(), MemorySink(fail=True))
    assert action is Action.RETRY
    assert "table unavailable" in reason
    assert dispatcher.sent == []


def test_without_a_coverage_table_a_heartbeat_is_filtered_not_sent() -> None:
    action, reason, dispatcher = run(heartbeat_body(), None)
    assert action is Action.ACK and reason.startswith("filtered: coverage heartbeat")
    assert dispatcher.sent == []


def test_only_the_heartbeat_pair_is_taken_by_the_step() -> None:
    sink = MemorySink()
    other = json.loads(heartbeat_body())
    other["detail-type"] = "Something Else"
    _, _, dispatcher = run(json.dumps(other), sink)
    assert sink.recorded == []
    assert len(dispatcher.sent) == 1  # an unknown custom event goes the generic way


def watchdog_envelope(kind: str, state: str, **detail: str) -> dict[str, object]:
    return {
        "version": "0",
        "id": f"wd-{kind}-{state}",
        "source": WATCHDOG_SOURCE,
        "detail-type": WATCHDOG_DETAIL_TYPE,
        "account": CENTRAL,
        "region": "eu-west-1",
        "time": "2026-12-02T15:45:00Z",
        "resources": [],
        "detail": {"kind": kind, "state": state, **detail},
    }


def directory(account_id: str) -> AccountInfo:
    names = {MEMBER: "payments-prod", CENTRAL: "shared-services"}
    return AccountInfo(account_id, name=names.get(account_id, ""), ou_path="Root/Workloads")


@pytest.mark.parametrize(
    ("kind", "extra", "severity", "summary"),
    [
        (
            "silent",
            {"minutes": "45", "last_seen": "2026-12-02T15:00:00Z"},
            4,
            "no events from payments-prod/ap-southeast-2 for 45 min: forwarding is broken",
        ),
        (
            "uncovered",
            {},
            4,
            "payments-prod/ap-southeast-2 has no Events2Panther stack instance: its events are not forwarded",
        ),
        (
            "region_not_forwarded",
            {},
            3,
            "region ap-southeast-2 is enabled in payments-prod but Events2Panther does not forward it",
        ),
    ],
)
def test_pair_alert_and_its_clear_share_node_and_summary(
    kind: str, extra: dict[str, str], severity: int, summary: str
) -> None:
    pair = {"account_id": MEMBER, "account_name": "payments-prod", "region": "ap-southeast-2", **extra}
    raised = translate(envelope_from_object(watchdog_envelope(kind, "ALARM", **pair)), directory)
    cleared = translate(envelope_from_object(watchdog_envelope(kind, "OK", **pair)), directory)
    (alert,) = raised.messages
    (clear,) = cleared.messages
    # The node and the account context name the member pair, not the central account that sent it.
    assert alert.node == clear.node == "payments-prod/ap-southeast-2"
    assert alert.summary == clear.summary == summary
    assert (alert.severity, clear.severity) == (severity, 0)
    assert alert.fields["account_id"] == MEMBER and alert.fields["region"] == "ap-southeast-2"
    assert alert.fields["coverage_state"] == "ALARM" and clear.fields["coverage_state"] == "OK"
    assert alert.tag == "Coverage"


def test_dead_letters_alert_is_the_central_queue_with_the_count_in_a_field() -> None:
    detail = {"queue": "buffer dead-letter queue", "messages_waiting": "12"}
    (alert,) = translate(
        envelope_from_object(watchdog_envelope("dead_letters", "ALARM", **detail)), directory
    ).messages
    (clear,) = translate(
        envelope_from_object(watchdog_envelope("dead_letters", "OK", **{**detail, "messages_waiting": "0"})),
        directory,
    ).messages
    assert alert.node == clear.node == "shared-services/eu-west-1/buffer dead-letter queue"
    assert (
        alert.summary
        == clear.summary
        == "events wait in the Events2Panther buffer dead-letter queue (e2p replay)"
    )
    assert "12" not in alert.summary  # counts live in fields: the summary stays stable
    assert alert.fields["messages_waiting"] == "12"
    assert (alert.severity, clear.severity) == (3, 0)


def test_an_unknown_kind_is_shown_not_dropped() -> None:
    result = map_event(envelope_from_object(watchdog_envelope("nonsense", "ALARM")))
    (alert,) = result.alerts
    assert alert.summary == "Events2Panther coverage alert of an unknown kind: nonsense"
    assert int(alert.severity) == 1


class RefusesTheToken(AnswersAtOnce):
    def deliver_all(
        self, items: Sequence[tuple[str, bytes]], deadline: float | None
    ) -> list[DeliveryOutcome]:
        return [
            DeliveryOutcome(DeliveryStatus.PERMANENT, 2, 401, "HTTP 401: API Key Authentication failed", 1.0)
            for _ in items
        ]


def test_a_refused_token_is_logged_as_an_error_and_counted_for_the_alarm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Panther cannot carry the alert about its own refusal: the log line and the metric must.
    pipeline = Pipeline(FakeDirectory(), RefusesTheToken(), FakeDeadLetters())
    with caplog.at_level(logging.ERROR, logger="handler.pipeline"):
        report = pipeline.process([Record("m1", envelope())], None)
    assert report.counters.get(Count.AUTH_FAILURES) == 1
    (line,) = [r for r in caplog.records if r.getMessage() == "Panther refused the API token (HTTP 401)"]
    assert line.levelno == logging.ERROR
    assert "API Key Authentication failed" in str(getattr(line, "reason", ""))
