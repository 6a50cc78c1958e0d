"""Fault injection of the local Panther receiver: the SPEC string, each fault over HTTP, reproducibility."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from e2p.local import FaultKind, FaultPlan, FaultSpecError, LocalPanther
from e2p.local.faults import FaultInjector

pytestmark = pytest.mark.functional

TOKEN = secrets.token_hex(16)
HEADERS = {"X-Api-Token": TOKEN, "Content-Type": "application/json"}
TIMEOUT = (2, 5)
GUARD_S = 5.0


def event_body(summary: str = "fault test") -> bytes:
    return json.dumps({"event": {"node": "node-1", "summary": summary}}).encode()


def post(panther: LocalPanther, timeout: tuple[float, float] = TIMEOUT) -> requests.Response:
    return requests.post(panther.url, data=event_body(), headers=HEADERS, timeout=timeout)


def until(condition: Callable[[], bool]) -> bool:
    """Poll `condition` up to the guard; the caller asserts the result."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- the SPEC string -------------------------------------------------------------------------------------


def test_spec_with_every_kind_parses_into_the_plan() -> None:
    plan = FaultPlan.parse(
        " outage=2.5, error=0.1,throttle=0.05 ,slow=0.02,hang=0.01,auth=0.03,reset=0.04,"
        "seed=42,slow_delay=3,retry_after=2"
    )

    assert plan == FaultPlan(
        outage_s=2.5,
        error=0.1,
        throttle=0.05,
        slow=0.02,
        hang=0.01,
        auth=0.03,
        reset=0.04,
        seed=42,
        slow_delay_s=3.0,
        retry_after_s=2,
    )


def test_empty_spec_injects_nothing() -> None:
    assert FaultPlan.parse("") == FaultPlan()
    assert not FaultPlan.parse(" , ").injects_anything


def test_describe_gives_a_spec_that_parses_back() -> None:
    plan = FaultPlan(outage_s=1.5, error=0.25, reset=0.125, seed=9, retry_after_s=4)

    assert FaultPlan.parse(plan.describe()) == plan


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("boom=0.1", "unknown fault kind 'boom'"),
        ("error=1.5", "between 0 and 1"),
        ("error=-0.1", "between 0 and 1"),
        ("error=nan", "between 0 and 1"),
        ("outage=-1", "seconds >= 0"),
        ("outage=inf", "seconds >= 0"),
        ("slow_delay=-2", "seconds >= 0"),
        ("retry_after=-1", "retry_after must be >= 0"),
        ("error=lots", "'lots' is not a number"),
        ("seed=1.5", "'1.5' is not an integer"),
        ("error=0.1,error=0.2", "'error' given more than once"),
        ("error", "expected kind=value"),
        ("=0.1", "expected kind=value"),
        ("error=", "expected kind=value"),
        ("error=0.6,reset=0.6", "add up to 1.2"),
    ],
)
def test_bad_spec_is_refused_with_a_clear_message(spec: str, fragment: str) -> None:
    with pytest.raises(FaultSpecError) as refused:
        FaultPlan.parse(spec)

    assert fragment in str(refused.value)
    assert isinstance(refused.value, ValueError)  # so CLI option callbacks can treat it as bad input


# -- drawing ---------------------------------------------------------------------------------------------


def test_same_seed_draws_the_same_faults() -> None:
    plan = FaultPlan(error=0.2, throttle=0.2, reset=0.2, hang=0.1, seed=7)

    one, two = FaultInjector(plan), FaultInjector(plan)
    draws_one = [one.draw() for _ in range(300)]
    draws_two = [two.draw() for _ in range(300)]
    other_seed = FaultInjector(FaultPlan(error=0.2, throttle=0.2, reset=0.2, hang=0.1, seed=8))

    assert draws_one == draws_two
    assert [other_seed.draw() for _ in range(300)] != draws_one


def test_draws_follow_the_fractions() -> None:
    injector = FaultInjector(FaultPlan(error=0.3, reset=0.1, seed=1))

    counts = Counter(injector.draw() for _ in range(4000))

    assert 0.27 < counts[FaultKind.ERROR] / 4000 < 0.33
    assert 0.08 < counts[FaultKind.RESET] / 4000 < 0.12
    assert set(counts) == {FaultKind.ERROR, FaultKind.RESET, None}


def test_no_plan_never_draws() -> None:
    injector = FaultInjector(FaultPlan())

    assert {injector.draw() for _ in range(100)} == {None}


# -- each fault over HTTP --------------------------------------------------------------------------------


def test_error_answers_500_and_stores_nothing() -> None:
    with LocalPanther(TOKEN, faults=FaultPlan(error=1.0)) as panther:
        response = post(panther)

        assert response.status_code == 500
        assert panther.received == 0
        assert panther.fault_counts()["error"] == 1
        assert panther.requests_log[0]["fault"] == "error"


@pytest.mark.parametrize(
    ("plan", "retry_after"), [(FaultPlan(throttle=1.0), "1"), (FaultPlan(throttle=1.0, retry_after_s=3), "3")]
)
def test_throttle_answers_429_with_retry_after(plan: FaultPlan, retry_after: str) -> None:
    with LocalPanther(TOKEN, faults=plan) as panther:
        response = post(panther)

        assert response.status_code == 429
        assert response.headers["Retry-After"] == retry_after
        assert panther.received == 0
        assert panther.fault_counts()["throttle"] == 1


def test_auth_fault_is_401_auth_service_failed_when_a_token_is_sent() -> None:
    with LocalPanther(TOKEN, faults=FaultPlan(auth=1.0)) as panther:
        with_token = post(panther)
        without_token = requests.post(panther.url, data=event_body(), timeout=TIMEOUT)

        assert with_token.status_code == 401
        assert "Auth service failed" in with_token.json()["error"]["message"]
        assert "No x-api-token header" in without_token.json()["error"]["message"]
        assert panther.fault_counts()["auth"] == 1
        assert panther.received == 0


def test_slow_answers_after_the_client_gave_up_but_stores_the_event_so_a_retry_duplicates() -> None:
    with LocalPanther(TOKEN, faults=FaultPlan(slow=1.0, slow_delay_s=2.0)) as panther:
        for _attempt in range(2):
            with pytest.raises(requests.exceptions.ReadTimeout):
                post(panther, timeout=(2, 0.2))

        assert until(lambda: panther.received == 2)
        [alert] = panther.alerts()
        assert alert["tally"] == 2
        assert panther.fault_counts()["slow"] == 2


def test_hang_never_answers_and_stores_nothing() -> None:
    with LocalPanther(TOKEN, faults=FaultPlan(hang=1.0)) as panther:
        with pytest.raises(requests.exceptions.ReadTimeout):
            post(panther, timeout=(2, 0.3))

        assert panther.received == 0
        [entry] = panther.requests_log
        assert (entry["status"], entry["outcome"], entry["fault"]) == (None, "hang", "hang")
        assert panther.fault_counts()["hang"] == 1


def test_stop_releases_a_hung_connection() -> None:
    outcome: list[BaseException] = []

    def hung_request(url: str) -> None:
        try:
            requests.post(url, data=event_body(), headers=HEADERS, timeout=(2, GUARD_S * 2))
        except requests.exceptions.RequestException as exc:
            outcome.append(exc)

    panther = LocalPanther(TOKEN, faults=FaultPlan(hang=1.0)).start()
    client = threading.Thread(target=hung_request, args=(panther.url,))
    client.start()
    assert until(lambda: len(panther.requests_log) == 1)

    panther.stop()
    client.join(GUARD_S)

    # THEN the client is released by the server closing, long before its own read timeout
    assert not client.is_alive()
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)


def test_reset_closes_the_connection_without_an_answer() -> None:
    with LocalPanther(TOKEN, faults=FaultPlan(reset=1.0)) as panther:
        for _attempt in range(2):
            with pytest.raises(requests.exceptions.ConnectionError):
                post(panther)

        assert panther.received == 0
        assert panther.fault_counts()["reset"] == 2
        assert [entry["status"] for entry in panther.requests_log] == [None, None]


def test_outage_from_the_delivery_clock_refuses_then_recovers_on_the_same_port() -> None:
    with LocalPanther(TOKEN, faults=FaultPlan(outage_s=0.5)) as panther:
        port = panther.port
        panther.start_delivery_clock()

        with pytest.raises(requests.exceptions.ConnectionError):
            post(panther)
        assert until(lambda: _accepted(panther))

        assert panther.port == port
        assert panther.received == 1
        assert panther.fault_counts()["outage"] == 1


def test_outage_starts_at_the_first_request_when_no_clock_was_started() -> None:
    with LocalPanther(TOKEN, faults=FaultPlan(outage_s=0.5)) as panther:
        with pytest.raises(requests.exceptions.ConnectionError):
            post(panther)  # the first request finds the server going down
        with pytest.raises(requests.exceptions.ConnectionError):
            post(panther)  # and the next one finds nobody listening
        assert until(lambda: _accepted(panther))

        assert panther.requests_log[0]["outcome"] == "outage"
        assert panther.fault_counts()["outage"] == 1
        assert panther.received == 1


def test_stop_cuts_pooled_keep_alive_connections() -> None:
    with LocalPanther(TOKEN) as panther, requests.Session() as session:
        assert _accepted(panther, session)
        panther.stop()

        # a connection left open would still be served by its thread: stop() must cut it
        assert not _accepted(panther, session)
        assert panther.connections_opened == 1


def test_the_same_seed_gives_the_same_run() -> None:
    plan = FaultPlan.parse("error=0.25,throttle=0.25,reset=0.2,auth=0.1,seed=5")

    def run() -> list[int | str]:
        with LocalPanther(TOKEN, faults=plan) as panther:
            return [_status_or_reset(panther) for _ in range(30)]

    first, second = run(), run()

    assert first == second
    assert {200, 500, 429, 401, "reset"} <= set(first)


def test_the_token_never_reaches_the_logs_or_the_records(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = secrets.token_hex(16)
    plan = FaultPlan.parse("error=0.2,throttle=0.2,reset=0.2,auth=0.2,seed=3")
    with LocalPanther(TOKEN, faults=plan) as panther:
        for _ in range(10):
            _status_or_reset(panther)
            _status_or_reset(panther, token=wrong)
        records = [panther.requests_log, panther.alerts(), panther.events(), repr(panther)]

    assert caplog.records  # GIVEN the receiver did log (start, stop, faults)
    for secret in (TOKEN, wrong):
        assert secret not in caplog.text
        assert all(secret not in str(record) for record in records)


def _accepted(panther: LocalPanther, session: requests.Session | None = None) -> bool:
    sender = session or requests
    try:
        return (
            sender.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT).status_code == 200
        )
    except requests.exceptions.ConnectionError:
        return False


def _status_or_reset(panther: LocalPanther, token: str = TOKEN) -> int | str:
    headers = {**HEADERS, "X-Api-Token": token}
    try:
        return requests.post(panther.url, data=event_body(), headers=headers, timeout=TIMEOUT).status_code
    except requests.exceptions.ConnectionError:
        return "reset"
