"""The local Panther receiver keeps the Panther event API contract, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests

from e2p.local import LocalPanther

pytestmark = pytest.mark.functional

TOKEN = secrets.token_hex(16)
TIMEOUT = (2, 5)
LIMIT = 4096


@pytest.fixture(scope="module")
def shared_panther() -> Iterator[LocalPanther]:
    with LocalPanther(TOKEN) as receiver:
        yield receiver


@pytest.fixture
def panther(shared_panther: LocalPanther) -> LocalPanther:
    """One receiver per module, emptied before each test (starting one per test costs more)."""
    shared_panther.reset()
    return shared_panther


def post(
    receiver: LocalPanther,
    payload: Any = None,
    *,
    raw: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    token: str | None = TOKEN,
    url: str | None = None,
) -> requests.Response:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["X-Api-Token"] = token
    data = raw if raw is not None else json.dumps(payload).encode()
    return requests.post(url or receiver.url, data=data, headers=sent, timeout=TIMEOUT)


def event(**fields: Any) -> dict[str, Any]:
    return {"event": {"node": "acct-1/eu-west-1", "summary": "something happened", **fields}}


def body_of_exactly(size: int) -> bytes:
    """A valid body of `size` bytes whose summary is mostly 3- and 2-byte UTF-8 characters."""
    shell = {"event": {"node": "n", "summary": "", "severity": 2}}
    room = size - len(json.dumps(shell, ensure_ascii=False).encode())
    euros = room // 6
    rest = room - 3 * euros
    shell["event"]["summary"] = "€" * euros + "é" * (rest // 2) + "x" * (rest % 2)
    raw = json.dumps(shell, ensure_ascii=False).encode("utf-8")
    assert len(raw) == size  # GIVEN precondition: the body is exactly the size the test is about
    assert len(raw.decode()) < size  # and multi-byte characters make bytes and characters differ
    return raw


def error_of(response: requests.Response) -> dict[str, Any]:
    payload = response.json()
    assert isinstance(payload["error"], dict)
    return payload["error"]


# -- API key ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token_is_401_no_header(panther: LocalPanther, token: str | None) -> None:
    response = post(panther, event(), token=token)

    assert response.status_code == 401
    assert "No x-api-token header" in error_of(response)["message"]
    assert panther.received == 0


def test_wrong_token_is_401_authentication_failed(panther: LocalPanther) -> None:
    response = post(panther, event(), token=TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1"))

    assert response.status_code == 401
    assert "API Key Authentication failed" in error_of(response)["message"]
    assert panther.received == 0


def test_token_in_query_string_is_not_accepted(panther: LocalPanther) -> None:
    response = post(panther, event(), token=None, url=f"{panther.url}?x-api-token={TOKEN}")

    assert response.status_code == 401
    assert "No x-api-token header" in error_of(response)["message"]


def test_token_is_kept_nowhere(panther: LocalPanther) -> None:
    # GIVEN accepted, refused and invalid requests, one with the token misplaced in the query string
    post(panther, event(account_name="prod"))
    post(panther, event(), token=TOKEN.upper() + "x")
    post(panther, {"event": {"node": "n"}})
    post(panther, event(), token=None, url=f"{panther.url}?x-api-token={TOKEN}")

    # THEN nothing the receiver exposes contains it
    exposed = [panther.requests_log, panther.alerts(), panther.events(), repr(panther), vars(panther)]
    assert all(TOKEN not in str(thing) for thing in exposed)
    assert len(panther.requests_log) == 4


# -- body size ---------------------------------------------------------------------------------------


def test_body_of_exactly_the_limit_in_multibyte_utf8_is_accepted(panther: LocalPanther) -> None:
    response = post(panther, raw=body_of_exactly(LIMIT))

    assert response.status_code == 200
    assert panther.received == 1


def test_body_one_byte_over_the_limit_is_400_payload_too_large(panther: LocalPanther) -> None:
    response = post(panther, raw=body_of_exactly(LIMIT + 1))

    assert response.status_code == 400
    error = error_of(response)
    assert (error["name"], error["type"], error["status"]) == (
        "PayloadTooLargeError",
        "entity.too.large",
        413,
    )
    assert panther.received == 0


def test_too_large_is_refused_before_the_token_is_checked(panther: LocalPanther) -> None:
    response = post(panther, raw=body_of_exactly(LIMIT + 1), token=None)

    assert response.status_code == 400
    assert error_of(response)["name"] == "PayloadTooLargeError"


def test_too_large_body_keeps_the_connection_usable(panther: LocalPanther) -> None:
    with requests.Session() as session:
        headers = {"X-Api-Token": TOKEN, "Content-Type": "application/json"}
        refused = session.post(panther.url, data=body_of_exactly(LIMIT + 1), headers=headers, timeout=TIMEOUT)
        accepted = session.post(panther.url, data=json.dumps(event()), headers=headers, timeout=TIMEOUT)

    assert (refused.status_code, accepted.status_code) == (400, 200)
    assert panther.connections_opened == 1


def test_gzip_body_is_inflated_and_the_limit_applies_to_the_inflated_bytes(panther: LocalPanther) -> None:
    fits = gzip.compress(body_of_exactly(LIMIT))
    too_big = gzip.compress(body_of_exactly(LIMIT + 1))
    assert len(too_big) < LIMIT  # GIVEN: only its inflated size is over the limit

    accepted = post(panther, raw=fits, headers={"Content-Encoding": "gzip"})
    refused = post(panther, raw=too_big, headers={"Content-Encoding": "gzip"})

    assert accepted.status_code == 200
    assert refused.status_code == 400
    assert error_of(refused)["name"] == "PayloadTooLargeError"
    assert panther.received == 1


def test_unsupported_content_encoding_is_refused(panther: LocalPanther) -> None:
    response = post(panther, raw=json.dumps(event()).encode(), headers={"Content-Encoding": "br"})

    assert response.status_code == 400
    assert error_of(response)["type"] == "encoding.unsupported"


# -- JSON and schema -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"not json", b'{"event": ', b'"a string"', b"42", b'{"event": NaN}'])
def test_body_that_is_not_a_json_object_or_array_is_400(panther: LocalPanther, raw: bytes) -> None:
    response = post(panther, raw=raw)

    assert response.status_code == 400
    assert error_of(response)["name"] == "SyntaxError"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "no event"),
        ({}, "no event"),
        ({"evnt": {"node": "n", "summary": "s"}}, "no event"),
        ({"event": None}, "no event"),
        ({"event": "node=n"}, "event must be an object"),
        ({"event": ["n", "s"]}, "event must be an object"),
        ({"event": {}}, "Fields required [node,summary]"),
        ({"event": {"summary": "s"}}, "Fields required [node,summary]"),
        ({"event": {"node": "n"}}, "Fields required [node,summary]"),
        ({"event": {"node": "", "summary": "s"}}, "Node field should have a value"),
        ({"event": {"node": 7, "summary": "s"}}, "Node field should be a string"),
        ({"event": {"node": "n", "summary": ""}}, "Summary field should have a value"),
        ({"event": {"node": "n", "summary": ["s"]}}, "Summary must be a string"),
        ({"event": {"node": "n", "summary": "s", "tag": 3}}, "Tag field should be a string"),
    ],
)
def test_schema_errors_are_400_validation_error(panther: LocalPanther, payload: Any, message: str) -> None:
    response = post(panther, payload)

    assert response.status_code == 400
    assert error_of(response) == {"name": "ValidationError", "message": message}
    assert panther.received == 0


@pytest.mark.parametrize("severity", [-1, 6, 2.5, "3", True, False, None, 100])
def test_severity_outside_integers_0_to_5_is_refused(panther: LocalPanther, severity: Any) -> None:
    response = post(panther, event(severity=severity))

    assert response.status_code == 400
    assert error_of(response)["message"] == "Severity should be between 0 and 5"


@pytest.mark.parametrize(("sent", "stored"), [(0, 0), (5, 5), (3.0, 3)])
def test_severity_bounds_are_accepted(panther: LocalPanther, sent: Any, stored: int) -> None:
    response = post(panther, event(severity=sent))

    assert response.status_code == 200
    [alert] = panther.alerts()
    assert alert["severity"] == stored
    assert type(alert["severity"]) is int


def test_severity_defaults_to_1(panther: LocalPanther) -> None:
    post(panther, event())

    [alert] = panther.alerts()
    assert alert["severity"] == 1


@pytest.mark.parametrize("value", [1, 1.5, None, True, {"a": "b"}, ["a"]])
def test_extra_fields_must_be_strings(panther: LocalPanther, value: Any) -> None:
    response = post(panther, event(account_id=value))

    assert response.status_code == 400
    assert error_of(response)["message"] == "Must be of type string"


@pytest.mark.parametrize(
    "name",
    ["_id", "id", "__id", "agent", "group", "tally", "state_change", "last_occurrence", "first_occurrence"],
)
def test_reserved_names_are_refused(panther: LocalPanther, name: str) -> None:
    response = post(panther, event(**{name: "x"}))

    assert response.status_code == 400
    assert error_of(response)["message"].startswith("Fields not allowed")


@pytest.mark.parametrize("name", ["ids", "idx", "_idx", "event_id", "account_id", "grouping", "agent_name"])
def test_names_that_only_resemble_reserved_ones_are_accepted(panther: LocalPanther, name: str) -> None:
    response = post(panther, event(**{name: "x"}))

    assert response.status_code == 200
    [alert] = panther.alerts()
    assert alert[name] == "x"


def test_only_the_first_error_is_reported(panther: LocalPanther) -> None:
    response = post(panther, {"event": {"node": 1, "summary": 2, "tally": "3", "x": 4}})

    message = error_of(response)["message"]
    assert isinstance(message, str)
    assert message in {"Node field should be a string", "Summary must be a string"}


def test_non_json_content_type_is_not_parsed(panther: LocalPanther) -> None:
    response = post(panther, raw=json.dumps(event()).encode(), headers={"Content-Type": "text/plain"})

    assert response.status_code == 400
    assert error_of(response)["message"] == "no event"


# -- aggregation -----------------------------------------------------------------------------------------


def test_node_is_lower_cased(panther: LocalPanther) -> None:
    response = post(panther, event(node="Prod-Account/EU-West-1"))

    [alert] = panther.alerts()
    assert alert["node"] == "prod-account/eu-west-1"
    assert response.json()["event"]["node"] == "prod-account/eu-west-1"


def test_same_identifier_aggregates_and_keeps_the_first_fields(panther: LocalPanther) -> None:
    first = post(panther, event(node="Node-A", summary="disk full", tag="first-tag", region="eu-west-1"))
    second = post(panther, event(node="node-a", summary="disk full", tag="second-tag", region="us-east-1"))

    assert (first.status_code, second.status_code) == (200, 200)
    assert "new alert" in first.json()["message"]
    assert "updated" in second.json()["message"]
    [alert] = panther.alerts()
    assert alert["tally"] == 2
    assert (alert["tag"], alert["region"]) == ("first-tag", "eu-west-1")
    assert alert["identifier"] == "node-a:1:disk full"
    assert alert["last_occurrence"] >= alert["first_occurrence"]
    assert panther.tally_total() == 2
    assert panther.received == 2


def test_a_different_severity_is_a_different_alert(panther: LocalPanther) -> None:
    post(panther, event(severity=2))
    post(panther, event(severity=4))

    assert sorted(alert["severity"] for alert in panther.alerts()) == [2, 4]


def test_client_identifier_aggregates_keeping_first_severity_and_latest_summary(
    panther: LocalPanther,
) -> None:
    post(panther, event(identifier="finding-123", severity=4, summary="finding opened"))
    post(panther, event(identifier="finding-123", severity=0, summary="finding resolved"))

    [alert] = panther.alerts()
    assert (alert["identifier"], alert["tally"]) == ("finding-123", 2)
    assert alert["severity"] == 4
    assert alert["summary"] == "finding resolved"


def test_client_identifier_is_truncated_to_1024_characters(panther: LocalPanther) -> None:
    stem = "f" * 1024
    post(panther, event(identifier=stem + "first tail"))
    post(panther, event(identifier=stem + "other tail"))

    [alert] = panther.alerts()
    assert alert["identifier"] == stem
    assert alert["tally"] == 2


def test_client_identifier_must_be_a_string(panther: LocalPanther) -> None:
    response = post(panther, event(identifier=123))

    assert response.status_code == 400


def test_aggregation_is_thread_safe(panther: LocalPanther) -> None:
    def send(count: int) -> None:
        with requests.Session() as session:
            for _ in range(count):
                session.post(
                    panther.url,
                    data=json.dumps(event()),
                    headers={"X-Api-Token": TOKEN, "Content-Type": "application/json"},
                    timeout=TIMEOUT,
                ).raise_for_status()

    senders = [threading.Thread(target=send, args=(25,)) for _ in range(8)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=30)

    [alert] = panther.alerts()
    assert alert["tally"] == 200
    assert panther.received == 200


# -- console rules, queue, bookkeeping -------------------------------------------------------------------


def test_discard_rule_answers_400_event_discarded_and_stores_nothing() -> None:
    with LocalPanther(TOKEN, discard=lambda ev: ev["node"] == "noisy-node") as receiver:
        discarded = post(receiver, event(node="Noisy-Node"))
        kept = post(receiver, event(node="quiet-node"))

        assert discarded.status_code == 400
        assert discarded.json() == {"message": "Event discarded"}
        assert kept.status_code == 200
        assert [alert["node"] for alert in receiver.alerts()] == ["quiet-node"]
        assert receiver.received == 1
        assert receiver.outcome_counts()["discarded"] == 1


def test_queue_endpoint_answers_queued_after_the_same_checks(panther: LocalPanther) -> None:
    queued = post(panther, event(), url=panther.queue_url)
    unauthorised = post(panther, event(), url=panther.queue_url, token=None)
    invalid = post(panther, {"event": {"node": "n"}}, url=panther.queue_url)

    assert (queued.status_code, queued.json()) == (200, {"status": "Queued"})
    assert unauthorised.status_code == 401
    assert invalid.status_code == 400
    assert panther.received == 1


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/event/delete"), ("GET", "/api/event/create")])
def test_other_routes_are_404(panther: LocalPanther, method: str, path: str) -> None:
    response = requests.request(
        method, panther.base_url + path, headers={"X-Api-Token": TOKEN}, timeout=TIMEOUT
    )

    assert response.status_code == 404


def test_requests_log_records_each_status_and_reset_forgets_everything(panther: LocalPanther) -> None:
    statuses = [
        post(panther, event()).status_code,
        post(panther, event(), token=None).status_code,
        post(panther, {"event": {}}).status_code,
        post(panther, event()).status_code,
    ]

    assert [entry["status"] for entry in panther.requests_log] == statuses
    assert [entry["outcome"] for entry in panther.requests_log] == [
        "created",
        "unauthorised",
        "invalid",
        "updated",
    ]

    panther.reset()

    assert (panther.alerts(), panther.requests_log, panther.received, panther.tally_total()) == ([], [], 0, 0)
    assert post(panther, event()).json()["message"] == "Saved new alert"
