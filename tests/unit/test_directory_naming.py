"""The node name the operator chooses (E2P_NODE_NAME), the refresh a change event asks for, and
the directory refresh's configuration."""

from __future__ import annotations

from typing import Any

import pytest

from handler.config import load_refresh_settings, load_settings
from handler.enrichment.account import AccountInfo, NodeNaming
from handler.enrichment.changes import refresh_scope
from handler.enrichment.refresh_request import RefreshRequester
from handler.envelope import Envelope, envelope_from_object
from handler.exceptions import ConfigurationError

FULL = AccountInfo("111122223333", name="payments-prod", alias="acme-payments")
NAME_ONLY = AccountInfo("111122223333", name="payments-prod")
ALIAS_ONLY = AccountInfo("111122223333", alias="acme-payments")
NEITHER = AccountInfo("111122223333")


@pytest.mark.parametrize(
    ("naming", "expected"),
    [
        (NodeNaming.NAME, ("payments-prod", "payments-prod", "acme-payments", "111122223333")),
        (NodeNaming.ALIAS, ("acme-payments", "111122223333", "acme-payments", "111122223333")),
        (NodeNaming.ALIAS_OR_NAME, ("acme-payments", "payments-prod", "acme-payments", "111122223333")),
        (NodeNaming.ID, ("111122223333",) * 4),
    ],
)
def test_each_node_naming_and_its_fallbacks(naming: NodeNaming, expected: tuple[str, ...]) -> None:
    labels = tuple(
        AccountInfo(a.account_id, a.name, a.alias, naming=naming).label
        for a in (FULL, NAME_ONLY, ALIAS_ONLY, NEITHER)
    )
    assert labels == expected


BASE_ENV = {"E2P_PANTHER_URL": "https://panther.example.com/api/event/create", "E2P_TOKEN_SECRET_ID": "s"}


def test_the_default_node_name_is_unchanged_and_a_typo_fails_loudly() -> None:
    assert load_settings(BASE_ENV).node_name is NodeNaming.NAME
    assert load_settings({**BASE_ENV, "E2P_NODE_NAME": "Alias-Or-Name"}).node_name is NodeNaming.ALIAS_OR_NAME
    with pytest.raises(ConfigurationError, match="E2P_NODE_NAME"):
        load_settings({**BASE_ENV, "E2P_NODE_NAME": "nickname"})
    with pytest.raises(ConfigurationError, match="E2P_DIRECTORY_SNAPSHOT"):
        load_settings({**BASE_ENV, "E2P_DIRECTORY_SNAPSHOT": "https://bucket/key"})


def test_refresh_settings_are_validated() -> None:
    good = {
        "E2P_DIRECTORY_SNAPSHOT": "s3://b/directory/accounts.json.gz",
        "E2P_ORG_LOOKUP_ROLE_ARN": "arn:aws:iam::111122223333:role/lookup",
    }
    settings = load_refresh_settings(good)
    assert (settings.alias_role_name, settings.alias_refresh_seconds, settings.alias_concurrency) == (
        "",
        86400,
        16,
    )
    with pytest.raises(ConfigurationError, match="E2P_ALIAS_REFRESH_SECONDS"):
        load_refresh_settings({**good, "E2P_ALIAS_REFRESH_SECONDS": "60"})  # faster than the names
    with pytest.raises(ConfigurationError, match="E2P_ORG_LOOKUP_ROLE_ARN"):
        load_refresh_settings({**good, "E2P_ORG_LOOKUP_ROLE_ARN": ""})
    with pytest.raises(ConfigurationError, match="E2P_ALIAS_ROLE_NAME"):
        load_refresh_settings({**good, "E2P_ALIAS_ROLE_NAME": "bad name"})


def cloudtrail(event_source: str, event_name: str, account: str = "444455556666", **detail: Any) -> Envelope:
    return envelope_from_object(
        {
            "id": "e1",
            "source": "aws." + event_source.split(".", maxsplit=1)[0],
            "detail-type": "AWS API Call via CloudTrail",
            "account": account,
            "region": "us-east-1",
            "time": "2026-12-02T10:00:00Z",
            "detail": {"eventSource": event_source, "eventName": event_name, **detail},
        }
    )


def test_an_alias_change_refreshes_the_account_it_happened_in() -> None:
    scope = refresh_scope(
        cloudtrail("iam.amazonaws.com", "CreateAccountAlias", requestParameters={"accountAlias": "x"})
    )
    assert scope.accounts == ("444455556666",)


def test_organizations_calls_refresh_the_account_they_name_else_everything() -> None:
    moved = cloudtrail(
        "organizations.amazonaws.com", "MoveAccount", requestParameters={"accountId": "777788889999"}
    )
    assert refresh_scope(moved).accounts == ("777788889999",)
    created = cloudtrail(
        "organizations.amazonaws.com",
        "CreateAccountResult",
        serviceEventDetails={"createAccountStatus": {"accountId": "121212121212", "state": "SUCCEEDED"}},
    )
    assert refresh_scope(created).accounts == ("121212121212",)
    renamed_ou = cloudtrail(
        "organizations.amazonaws.com", "UpdateOrganizationalUnit", requestParameters={"name": "x"}
    )
    assert refresh_scope(renamed_ou).accounts == ()


def test_requests_are_rate_limited_per_account_and_failures_never_raise() -> None:
    from botocore.exceptions import ClientError

    now = [0.0]
    sent: list[Any] = []
    fail = [False]

    class FakeLambda:
        def invoke(self, **kwargs: Any) -> None:
            if fail[0]:
                raise ClientError({"Error": {"Code": "TooManyRequestsException"}}, "Invoke")
            sent.append(kwargs)

    requester = RefreshRequester(FakeLambda, "fn", min_interval_s=300, clock=lambda: now[0])
    assert requester.request(["111111111111"], "miss")
    assert not requester.request(["111111111111"], "miss")  # within the interval
    assert requester.request(["222222222222"], "miss")
    now[0] = 301
    fail[0] = True
    assert not requester.request(["111111111111"], "miss")  # failed: counted, not raised
    assert (requester.requested, requester.failed, len(sent)) == (2, 1, 2)


def test_status_shows_each_accounts_alias_or_why_it_is_missing() -> None:
    from e2p.aws.directory_snapshot import aliases_of
    from e2p.commands.status_cmd import _alias
    from e2p.ops.coverage import Coverage
    from e2p.ops.status import StatusReport
    from handler.enrichment.snapshot import Snapshot, SnapshotEntry

    snapshot = Snapshot(
        {
            "111111111111": SnapshotEntry("111111111111", name="web", alias="acme-web", alias_read_at=1.0),
            "222222222222": SnapshotEntry(
                "222222222222", name="sandbox", alias_read_at=1.0, alias_error="AccessDenied: cannot assume x"
            ),
        }
    )
    report = StatusReport(Coverage((), ()), aliases=aliases_of(snapshot))
    assert [_alias(report, a) for a in ("111111111111", "222222222222", "333333333333")] == [
        "acme-web",
        "(AccessDenied)",
        "",
    ]
    assert report.as_json()["aliases"]["222222222222"] == {"alias": "", "alias_error": "AccessDenied"}
    assert aliases_of(None) == {}
