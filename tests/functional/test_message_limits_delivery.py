"""Oversized messages as sent: composed, fitted and posted by the real client to the local Panther,
which refuses a body over 4,096 bytes as Panther's JSON body parser does (PANTHER-API.md).

The production failure this guards against: bodies measured in the wrong unit (UTF-16 code units)
and cut by a wrong Content-Length. Multi-byte characters are therefore everywhere below.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests

from e2p.local import LocalPanther
from handler.alert import Alert
from handler.compose import compose
from handler.delivery import DeliveryStatus
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope
from handler.message import PantherMessage
from handler.severity import Severity

pytestmark = pytest.mark.functional

TOKEN = secrets.token_hex(16)
BODY_LIMIT = 4096  # PANTHER-API.md


@pytest.fixture(scope="module")
def shared_panther() -> Iterator[LocalPanther]:
    with LocalPanther(TOKEN) as receiver:
        yield receiver


@pytest.fixture
def panther(shared_panther: LocalPanther) -> LocalPanther:
    shared_panther.reset()
    return shared_panther


def envelope(region: str = "eu-west-1") -> Envelope:
    return Envelope(
        source="aws.securityhub",
        detail_type="Security Hub Findings - Imported",
        detail={},
        account="111122223333",
        region=region,
        id="0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
        time="2026-12-01T10:00:00Z",
    )


def oversized(char: str) -> list[tuple[Alert, AccountInfo]]:
    """Alerts and accounts whose composed message is far over the limit, one part at a time."""
    plain = AccountInfo("111122223333", name="payments-prod", ou_path="Root/Workloads/Prod")
    return [
        # a long summary and long family fields
        (
            Alert(
                summary=char * 2000,
                severity=Severity.MAJOR,
                tag="SecurityHub",
                resource="bucket-1",
                fields={f"note_{i}": char * 600 for i in range(8)},
            ),
            plain,
        ),
        # a long node (account name and resource) and a long identifier
        (
            Alert(
                summary="Public bucket",
                severity=Severity.CRITICAL,
                tag="SecurityHub",
                resource=char * 300,
                identifier="finding/" + char * 2000 + ":5",
                external_id=char * 900,
            ),
            AccountInfo("111122223333", name="payments-" + char * 300),
        ),
        # many account tags under long keys (short values: only dropping them makes room)
        (
            Alert(summary="Finding " + char * 100, severity=Severity.WARNING, tag="SecurityHub"),
            AccountInfo(
                "111122223333",
                name="payments-prod",
                tags={f"{'cost-centre-' * 8}{i}": char * 16 for i in range(50)},
            ),
        ),
        # everything long at once
        (
            Alert(
                summary=char * 900,
                severity=Severity.MINOR,
                tag="T" + char * 900,
                resource=char * 400,
                resource_arn="arn:" + char * 900,
                identifier=char * 1500,
                external_id=char * 900,
                fields={f"f{i}": char * 512 for i in range(20)},
            ),
            AccountInfo(
                "111122223333",
                name=char * 300,
                alias=char * 300,
                ou_path=char * 600,
                tags={f"t{i}": char * 256 for i in range(50)},
            ),
        ),
    ]


@pytest.mark.parametrize("char", ["é", "€", "𝄞", "\x07"], ids=["2B", "3B", "4B", "escaped"])
def test_every_oversized_composition_is_accepted_by_panther_with_its_node_and_severity(
    char: str, panther: LocalPanther, delivery_client_factory, delivery_tokens
) -> None:
    client = delivery_client_factory(panther.url, delivery_tokens(TOKEN))
    for alert, account in oversized(char):
        # GIVEN a message composed from parts several times the body limit
        message = compose(envelope(), alert, account)
        unfitted = PantherMessage(
            alert.summary, alert.summary, int(alert.severity), alert.tag, None, {"x": char * 5000}
        )
        assert len(unfitted.body()) > BODY_LIMIT
        assert len(message.body()) <= BODY_LIMIT

        # WHEN the client sends it
        outcome = client.send(message.body(), "evt")

        # THEN Panther stores it, with the node (lower-cased, as Panther does) and the severity
        assert (outcome.status, outcome.http_status) == (DeliveryStatus.DELIVERED, 200), outcome.reason
        stored = panther.events()[-1]
        assert stored["node"] == message.node.lower()
        assert stored["severity"] == int(alert.severity)
        assert stored["summary"] == message.summary


def test_one_byte_over_the_limit_is_refused_so_the_limit_above_is_the_real_one(
    panther: LocalPanther, delivery_client_factory, delivery_tokens
) -> None:
    client = delivery_client_factory(panther.url, delivery_tokens(TOKEN))
    base = PantherMessage("n", "s", 2, "t", None, {"pad": ""})
    filler = BODY_LIMIT - len(PantherMessage("n", "s", 2, "t", None, {"pad": "x"}).body()) + 1
    at_limit = PantherMessage("n", "s", 2, "t", None, {"pad": "€" * (filler // 3) + "x" * (filler % 3)})
    over = PantherMessage("n", "s", 2, "t", None, {"pad": at_limit.fields["pad"] + "x"})
    assert base.fields["pad"] == ""
    assert (len(at_limit.body()), len(over.body())) == (BODY_LIMIT, BODY_LIMIT + 1)

    assert client.send(at_limit.body(), "evt").status is DeliveryStatus.DELIVERED
    received = panther.received
    # The client refuses a body over the limit without sending it (permanent: resending cannot help)
    refused = client.send(over.body(), "evt")
    assert (refused.status, refused.http_status) == (DeliveryStatus.PERMANENT, None)
    assert panther.received == received
    # and Panther would have refused it
    answer = requests.post(
        panther.url,
        data=over.body(),
        headers={"X-Api-Token": TOKEN, "Content-Type": "application/json"},
        timeout=(2, 5),
    )
    assert answer.status_code == 400
    assert "too large" in answer.text.lower()
