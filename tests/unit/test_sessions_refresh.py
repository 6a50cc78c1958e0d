"""Assumed-role sessions renew their credentials instead of failing after the first hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2p.aws.sessions import refreshing_session
from e2p.exceptions import CredentialsError

ROLE = "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"


class FakeSts:
    """Hands out numbered credentials that expire `lifetime` after each call."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self.calls = 0

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["RoleArn"] == ROLE
        self.calls += 1
        return {
            "Credentials": {
                "AccessKeyId": f"AKIA{self.calls}",
                "SecretAccessKey": "secret",
                "SessionToken": f"token{self.calls}",
                "Expiration": datetime.now(UTC) + self.lifetime,
            }
        }


def test_credentials_close_to_expiry_are_fetched_again() -> None:
    # GIVEN credentials that expire within botocore's mandatory refresh window (10 minutes)
    sts = FakeSts(lifetime=timedelta(minutes=5))
    session = refreshing_session(sts, ROLE, region="us-east-1")
    assert sts.calls == 1
    # WHEN a client signs a request (it reads the frozen credentials)
    frozen = session.get_credentials().get_frozen_credentials()
    # THEN a new AssumeRole was made and its keys are used
    assert sts.calls == 2
    assert frozen.access_key == "AKIA2"


def test_fresh_credentials_are_not_fetched_again() -> None:
    sts = FakeSts(lifetime=timedelta(hours=1))
    session = refreshing_session(sts, ROLE, region="us-east-1")
    assert session.get_credentials().get_frozen_credentials().access_key == "AKIA1"
    assert sts.calls == 1


def test_a_refused_role_fails_at_once_with_its_reason() -> None:
    class Refusing:
        def assume_role(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")

    with pytest.raises(CredentialsError, match="AccessDenied"):
        refreshing_session(Refusing(), ROLE, region="us-east-1")
