"""`e2p deploy`'s checks before CloudFormation would fail half-way: trusted access, Lambda concurrency."""

from __future__ import annotations

from typing import Any

import pytest

from e2p.aws.lambda_concurrency import check_concurrency
from e2p.aws.trusted_access import TrustedAccessError, ensure_trusted_access

pytestmark = pytest.mark.unit


class FakeCloudFormation:
    def __init__(self, status: str) -> None:
        self.status = status
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_organizations_access(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("describe", kwargs))
        return {"Status": self.status}

    def activate_organizations_access(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("activate", kwargs))
        self.status = "ENABLED"
        return {}


def test_enabled_trusted_access_is_left_alone_and_consent_never_asked() -> None:
    cfn = FakeCloudFormation("ENABLED")
    access = ensure_trusted_access(cfn, "SELF", consent=lambda: pytest.fail("asked"))
    assert (access.status, access.activated) == ("ENABLED", False)
    assert [name for name, _ in cfn.calls] == ["describe"]


def test_disabled_trusted_access_is_activated_only_with_consent() -> None:
    cfn = FakeCloudFormation("DISABLED")
    with pytest.raises(TrustedAccessError, match="activate-organizations-access"):
        ensure_trusted_access(cfn, "SELF", consent=lambda: False)
    assert [name for name, _ in cfn.calls] == ["describe"]
    access = ensure_trusted_access(cfn, "DELEGATED_ADMIN", consent=lambda: True)
    assert access.activated
    assert cfn.calls[-1] == ("activate", {"CallAs": "DELEGATED_ADMIN"})


def settings(quota: int, unreserved: int) -> dict[str, Any]:
    return {"AccountLimit": {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": unreserved}}


@pytest.mark.parametrize(
    ("quota", "unreserved", "reserved", "already", "ok"),
    [
        (10, 10, 0, 0, True),  # a new account, no reservation: fine
        (10, 10, 2, 0, False),  # ... and any reservation is refused
        (1000, 1000, 900, 0, True),
        (1000, 1000, 901, 0, False),
        (1000, 100, 10, 10, True),  # our own current reservation of 10 is given back on update
        (1000, 100, 10, 0, False),  # ... a new one on top of 100 unreserved is not possible
    ],
)
def test_reservations_lambda_would_refuse_are_refused_first(
    quota: int, unreserved: int, reserved: int, already: int, ok: bool
) -> None:
    verdict = check_concurrency(settings(quota, unreserved), reserved, 5, already)
    assert verdict.ok is ok, verdict.detail
    if not ok:
        assert "reserved_concurrency to 0" in verdict.detail
        assert "L-B99A9384" in verdict.detail


def test_a_maximum_concurrency_above_the_unreserved_pool_is_reported() -> None:
    verdict = check_concurrency(settings(10, 3), 0, 5)
    assert not verdict.ok
    assert "throttled" in verdict.detail
