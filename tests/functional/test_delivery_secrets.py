"""The token stays secret, and TLS is verified (against a real HTTPS server on 127.0.0.1)."""

from __future__ import annotations

import json
import logging

import pytest
from panther_stub import Reply, error_reply, hang

from handler.delivery import DeliveryStatus, Dispatcher

pytestmark = pytest.mark.functional

TOKEN = "tok-SECRET-0123456789abcdef01234"
ROTATED = "tok-SECRET-fedcba9876543210fedcb"
MARKER = "body-marker-6f1c2a"
BODY = json.dumps({"event": {"node": "n", "summary": MARKER, "severity": 2}}).encode()


@pytest.fixture
def no_ca_override(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_private_ca_bundle_is_trusted(tls_stub, no_ca_override, delivery_tokens, delivery_client_factory):
    stub, ca_file = tls_stub
    outcome = delivery_client_factory(stub.url, delivery_tokens(TOKEN), verify=ca_file).send(BODY, "e")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert stub.received[0].token == TOKEN


def test_untrusted_certificate_is_permanent_and_sends_nothing(
    tls_stub, no_ca_override, delivery_tokens, delivery_client_factory, delivery_time
):
    # GIVEN the default verification (public CAs only) and a Panther with a private certificate
    stub, _ca_file = tls_stub
    outcome = delivery_client_factory(stub.url, delivery_tokens(TOKEN)).send(BODY, "e")
    # THEN no retry can fix it: permanent, and the token never left (no request reached the server)
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.PERMANENT, 1, None)
    assert "certificate verification failed" in outcome.reason
    assert stub.received == []
    assert delivery_time.sleeps == []


def test_token_and_body_never_reach_the_logs(
    caplog, delivery_stub, delivery_tokens, delivery_client_factory, delivery_time
):
    # GIVEN every log at DEBUG, urllib3's included, and a run through rotation, retries and timeouts
    caplog.set_level(logging.DEBUG)
    delivery_stub.script(
        error_reply(401, "API Key Authentication failed"),  # rotation
        Reply(status=500, body=b"oops"),  # backoff
        hang(),  # read timeout
        Reply(),
        Reply(status=400, body={"error": {"name": "ValidationError", "message": "bad"}}),
    )
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN, ROTATED), max_attempts=4)
    outcomes = [client.send(BODY, "evt-1"), client.send(BODY, "evt-2")]
    with Dispatcher(client, concurrency=2) as dispatcher:
        outcomes += dispatcher.deliver_all([("evt-3", BODY), ("evt-4", BODY)], None)
    # THEN the logs say what happened ...
    assert [o.status for o in outcomes[:2]] == [DeliveryStatus.DELIVERED, DeliveryStatus.PERMANENT]
    loggers = {record.name for record in caplog.records}
    assert "handler.delivery.client" in loggers
    assert "urllib3.connectionpool" in loggers
    assert any(getattr(r, "correlation_id", None) == "evt-1" for r in caplog.records)
    assert any(getattr(r, "body_bytes", None) == len(BODY) for r in caplog.records)
    # ... without the token or the body, in messages or structured fields
    for secret in (TOKEN, ROTATED, MARKER):
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()
            assert secret not in repr(vars(record))
    # nor in the outcomes, the client or the dispatcher
    for secret in (TOKEN, ROTATED):
        assert all(secret not in repr(o) for o in outcomes)
        assert secret not in repr(client)
        assert secret not in repr(dispatcher)


def test_token_echoed_by_a_proxy_is_redacted_from_the_reason(
    delivery_stub, delivery_tokens, delivery_client_factory
):
    delivery_stub.responder = lambda request: Reply(
        status=400, body=f"bad request; headers were X-Api-Token: {request.token}".encode()
    )
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "e")
    assert outcome.status is DeliveryStatus.PERMANENT
    assert TOKEN not in outcome.reason
    assert "[redacted]" in outcome.reason
