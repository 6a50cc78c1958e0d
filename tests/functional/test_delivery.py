"""PantherClient against a real HTTP server on 127.0.0.1 (tests/functional/panther_stub.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from panther_stub import Reply, close, error_reply, hang

from handler.delivery import DEADLINE_REASON, DeliveryStatus
from handler.delivery.policy import RETRY_AFTER_MAX_S
from handler.exceptions import TokenUnavailableError

pytestmark = pytest.mark.functional

TOKEN = "tok-0123456789abcdef0123456789ab"
ROTATED = "tok-fedcba9876543210fedcba987654"
BODY = json.dumps({"event": {"node": "prod/eu-west-1", "summary": "a test", "severity": 3}}).encode()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_success_posts_the_body_with_the_token_header(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    # GIVEN Panther answering 200
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN))
    # WHEN one event is sent
    outcome = client.send(BODY, "evt-1")
    # THEN it is delivered in one request carrying the exact body and the headers of the contract
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.DELIVERED, 1, 200)
    assert outcome.done
    [request] = delivery_stub.received
    assert request.method == "POST"
    assert request.path == "/api/event/create"
    assert request.body == BODY
    assert request.headers["x-api-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert request.headers["connection"].lower() == "keep-alive"
    assert delivery_time.sleeps == []


def test_validation_error_is_permanent_without_retry(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    delivery_stub.script(error_reply(400, "event.summary must be string", name="ValidationError"))
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.PERMANENT, 1, 400)
    assert "event.summary must be string" in outcome.reason
    assert len(delivery_stub.received) == 1
    assert delivery_time.sleeps == []


def test_long_panther_message_is_truncated_in_the_reason(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    delivery_stub.script(error_reply(400, "x" * 5000, name="ValidationError"))
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert outcome.status is DeliveryStatus.PERMANENT
    assert "xxxx" in outcome.reason
    assert len(outcome.reason) < 300


def test_event_discarded_by_panther_rules_is_done(delivery_tokens, delivery_stub, delivery_client_factory):
    delivery_stub.script(Reply(status=400, body={"message": "Event discarded"}))
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.DISCARDED, 1, 400)
    assert outcome.done
    assert len(delivery_stub.received) == 1


def test_wrong_token_is_reread_once_then_permanent(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    # GIVEN a Panther that refuses every token, and a generous attempt budget
    delivery_stub.responder = lambda _request: error_reply(401, "API Key Authentication failed")
    tokens = delivery_tokens(TOKEN, ROTATED)
    client = delivery_client_factory(delivery_stub.url, tokens, max_attempts=5)
    # WHEN one event is sent
    outcome = client.send(BODY, "evt-1")
    # THEN the token is re-read once, tried once, and the message fails for good: two requests only
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.PERMANENT, 2, 401)
    assert tokens.invalidations == 1
    assert delivery_stub.tokens() == [TOKEN, ROTATED]
    assert "API Key Authentication failed" in outcome.reason
    assert delivery_time.sleeps == []


def test_rotated_token_is_picked_up_after_a_401(delivery_tokens, delivery_stub, delivery_client_factory):
    delivery_stub.responder = lambda request: (
        Reply() if request.token == ROTATED else error_reply(401, "API Key Authentication failed")
    )
    tokens = delivery_tokens(TOKEN, ROTATED)
    outcome = delivery_client_factory(delivery_stub.url, tokens).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert tokens.invalidations == 1
    assert delivery_stub.tokens() == [TOKEN, ROTATED]


def test_token_already_replaced_by_another_worker_is_not_invalidated_again(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    # GIVEN a provider whose cached token changes between the request and its 401 (another worker
    # re-read it meanwhile)
    tokens = delivery_tokens(TOKEN, ROTATED)

    def responder(request):
        if request.token == TOKEN:
            tokens.invalidate()  # what the other worker did
            return error_reply(401, "API Key Authentication failed")
        return Reply()

    delivery_stub.responder = responder
    outcome = delivery_client_factory(delivery_stub.url, tokens).send(BODY, "evt-1")
    # THEN the client uses the new token without dropping it again
    assert outcome.status is DeliveryStatus.DELIVERED
    assert tokens.invalidations == 1
    assert delivery_stub.tokens() == [TOKEN, ROTATED]


def test_auth_service_failure_is_retried_with_backoff_without_touching_the_token(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    delivery_stub.script(error_reply(401, "Auth service failed"), Reply())
    tokens = delivery_tokens(TOKEN, ROTATED)
    outcome = delivery_client_factory(delivery_stub.url, tokens).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert tokens.invalidations == 0
    assert delivery_stub.tokens() == [TOKEN, TOKEN]
    assert delivery_time.sleeps == [0.25]  # base 0.25 s x jitter 1.0


def test_missing_token_header_answer_is_permanent(delivery_tokens, delivery_stub, delivery_client_factory):
    delivery_stub.responder = lambda _request: error_reply(401, "No x-api-token header")
    tokens = delivery_tokens(TOKEN, ROTATED)
    outcome = delivery_client_factory(delivery_stub.url, tokens).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.PERMANENT, 1)
    assert tokens.invalidations == 0


def test_429_waits_what_retry_after_says(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    delivery_stub.script(
        Reply(status=429, body={"message": "slow down"}, headers={"Retry-After": "1"}), Reply()
    )
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert delivery_time.sleeps == [1.0]


def test_503_retry_after_http_date_is_honoured(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=3), usegmt=True)
    delivery_stub.script(Reply(status=503, body=b"busy", headers={"Retry-After": later}), Reply())
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), wall_clock=lambda: now)
    outcome = client.send(BODY, "evt-1")
    assert outcome.status is DeliveryStatus.DELIVERED
    assert delivery_time.sleeps == [3.0]


def test_retry_after_is_capped(delivery_tokens, delivery_stub, delivery_client_factory, delivery_time):
    delivery_stub.script(Reply(status=429, body=b"", headers={"Retry-After": "3600"}), Reply())
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert outcome.status is DeliveryStatus.DELIVERED
    assert delivery_time.sleeps == [RETRY_AFTER_MAX_S]
    assert RETRY_AFTER_MAX_S < 3600


def test_5xx_then_success_backs_off_exponentially(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    delivery_stub.script(Reply(status=500, body=b"oops"), Reply(status=502, body=b"bad gateway"), Reply())
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.DELIVERED, 3, 200)
    assert delivery_time.sleeps == [0.25, 0.5]  # base 0.25 s doubling, jitter pinned at 1.0


def test_backoff_uses_full_jitter_and_the_cap(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    delivery_stub.responder = lambda _request: Reply(status=500, body=b"oops")
    client = delivery_client_factory(
        delivery_stub.url, delivery_tokens(TOKEN), max_attempts=5, rng=lambda: 0.5, backoff_cap_s=0.6
    )
    outcome = client.send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.RETRYABLE, 5, 500)
    # half of min(0.6, 0.25 * 2^n) for n = 0..3
    assert delivery_time.sleeps == [0.125, 0.25, 0.3, 0.3]


def test_5xx_every_time_is_retryable_after_max_attempts(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    delivery_stub.responder = lambda _request: Reply(status=500, body={"error": "internal"})
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.RETRYABLE, 3, 500)
    assert len(delivery_stub.received) == 3
    assert "internal" in outcome.reason


def test_read_timeout_is_retried_then_delivered(delivery_tokens, delivery_stub, delivery_client_factory):
    delivery_stub.script(Reply(delay_s=2.0), Reply())
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)


def test_hanging_panther_gives_retryable_after_read_timeouts(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    # GIVEN Panther's event server down: requests hang with no answer
    delivery_stub.responder = lambda _request: hang()
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), max_attempts=2).send(
        BODY, "e"
    )
    # THEN each attempt ends at the read timeout and the message stays retryable
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.RETRYABLE, 2, None)
    assert "read timeout" in outcome.reason
    assert len(delivery_stub.received) == 2


def test_connection_refused_is_retryable(
    delivery_tokens, closed_port, delivery_client_factory, delivery_time
):
    url = f"http://127.0.0.1:{closed_port}/api/event/create"
    outcome = delivery_client_factory(url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.RETRYABLE, 3, None)
    assert "refused" in outcome.reason
    assert delivery_time.sleeps == [0.25, 0.5]


def test_kept_alive_connection_is_reused(delivery_tokens, delivery_stub, delivery_client_factory):
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN))
    assert client.send(BODY, "evt-1").status is DeliveryStatus.DELIVERED
    assert client.send(BODY, "evt-2").status is DeliveryStatus.DELIVERED
    first, second = delivery_stub.received
    assert first.connection == second.connection


def test_pooled_connection_dropped_by_the_server_is_retried_at_once(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    # GIVEN a kept-alive connection that Panther drops when it is next used (idle close race)
    delivery_stub.script(Reply(), close(), Reply())
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), max_attempts=1)
    assert client.send(BODY, "evt-1").status is DeliveryStatus.DELIVERED
    # WHEN the next event goes out on it
    outcome = client.send(BODY, "evt-2")
    # THEN it is resent on a new connection at once, even with a single-attempt budget
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)
    first, dropped, resent = delivery_stub.received
    assert dropped.connection == first.connection
    assert resent.connection != dropped.connection
    assert delivery_time.sleeps == []


def test_connections_dropped_every_time_stay_bounded(delivery_tokens, delivery_stub, delivery_client_factory):
    delivery_stub.responder = lambda _request: close()
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    # one free reconnect, then the normal budget of 3
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.RETRYABLE, 4)
    assert len(delivery_stub.received) == 4


def test_no_attempt_starts_when_the_deadline_has_passed(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN))
    outcome = client.send(BODY, "evt-1", deadline=delivery_time.now - 1)
    assert (outcome.status, outcome.attempts, outcome.reason) == (
        DeliveryStatus.RETRYABLE,
        0,
        DEADLINE_REASON,
    )
    assert delivery_stub.received == []


def test_no_attempt_starts_that_could_not_finish_before_the_deadline(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    # GIVEN attempts that may take up to 0.5 s (connect 0.2 + read 0.3), a deadline 1.0 s away, and
    # backoffs of 0.25 s then 0.5 s
    delivery_stub.responder = lambda _request: Reply(status=500, body=b"oops")
    client = delivery_client_factory(
        delivery_stub.url, delivery_tokens(TOKEN), connect_timeout_s=0.2, read_timeout_s=0.3, max_attempts=10
    )
    outcome = client.send(BODY, "evt-1", deadline=delivery_time.now + 1.0)
    # THEN attempt 1 starts at 0, attempt 2 at 0.25 (ends by 0.75); a third would start at 0.75 and
    # could run to 1.25, so it is not started and no sleep is spent on it
    assert (outcome.status, outcome.attempts, outcome.reason) == (
        DeliveryStatus.RETRYABLE,
        2,
        DEADLINE_REASON,
    )
    assert outcome.http_status == 500
    assert delivery_time.sleeps == [0.25]
    assert len(delivery_stub.received) == 2


def test_retry_after_beyond_the_deadline_is_not_waited_for(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    delivery_stub.script(Reply(status=503, body=b"", headers={"Retry-After": "5"}))
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN))
    outcome = client.send(BODY, "evt-1", deadline=delivery_time.now + 3.0)
    assert (outcome.status, outcome.attempts, outcome.reason) == (
        DeliveryStatus.RETRYABLE,
        1,
        DEADLINE_REASON,
    )
    assert delivery_time.sleeps == []


def test_body_over_the_limit_is_refused_before_sending(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    body = json.dumps({"event": {"node": "n", "summary": "é" * 3000}}).encode()
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(body, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.PERMANENT, 0)
    assert str(len(body)) in outcome.reason
    assert delivery_stub.received == []


def test_redirect_is_not_followed(delivery_tokens, delivery_stub, delivery_client_factory):
    # A redirect would carry the token header to another address.
    delivery_stub.script(Reply(status=302, body=b"", headers={"Location": "http://127.0.0.2:9/steal"}))
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.PERMANENT, 1, 302)
    assert len(delivery_stub.received) == 1


def test_unreadable_token_leaves_the_message_retryable(delivery_stub, delivery_client_factory):
    class BrokenTokens:
        def get(self):
            raise TokenUnavailableError("cannot read secret 'panther': ResourceNotFoundException")

        def invalidate(self):
            raise AssertionError("nothing to invalidate")

    outcome = delivery_client_factory(delivery_stub.url, BrokenTokens()).send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.RETRYABLE, 0)
    assert "ResourceNotFoundException" in outcome.reason
    assert delivery_stub.received == []
