"""Panther's answer is read within a bound and never decompressed (issue 13, item 11)."""

from __future__ import annotations

import gzip

import pytest
from panther_stub import Reply

from handler.delivery import DeliveryStatus
from handler.delivery.client import MAX_REPLY_BYTES

pytestmark = pytest.mark.functional

TOKEN = "tok-123"
BODY = b'{"event":{"node":"n","summary":"s","severity":1,"tag":"t"}}'


def test_a_compressed_answer_is_not_expanded(delivery_tokens, delivery_stub, delivery_client_factory):
    # GIVEN a 400 whose gzip body expands to 64 MB of a message (a decompression bomb)
    bomb = gzip.compress(b'{"message":"' + b"A" * (64 * 1024 * 1024) + b'"}')
    delivery_stub.script(Reply(status=400, body=bomb, headers={"Content-Encoding": "gzip"}))
    # WHEN it is the answer
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)).send(BODY, "evt-1")
    # THEN the status decides (a permanent 4xx), and nothing of the 64 MB was produced
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.PERMANENT, 400)
    assert "AAAA" not in outcome.reason
    # (the request asked for none: Accept-Encoding identity)
    assert delivery_stub.received[0].headers["accept-encoding"] == "identity"


def test_an_answer_longer_than_the_cap_is_cut_and_its_connection_not_reused(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    # GIVEN a first answer far longer than any Panther answer, then a normal one
    delivery_stub.script(Reply(status=200, body=b"x" * (MAX_REPLY_BYTES * 40)), Reply())
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN))
    # WHEN two events are sent one after the other
    first = client.send(BODY, "evt-1")
    second = client.send(BODY, "evt-2")
    # THEN both are delivered, and the second went on a new connection (the first was closed unread)
    assert first.status is DeliveryStatus.DELIVERED and second.status is DeliveryStatus.DELIVERED
    assert delivery_stub.received[0].connection != delivery_stub.received[1].connection
