"""`e2p preflight`'s verdicts, as pure functions of what AWS answered."""

from __future__ import annotations

import socket
import ssl

import pytest

from e2p.ops.preflight import (
    Status,
    cloudtrail_check,
    concurrency_check,
    credentials_check,
    event_pattern_check,
    organizational_units_check,
    panther_check,
    regions_check,
    send_test_check,
    trusted_access_check,
)

pytestmark = pytest.mark.unit

URL = "https://panther.example.com/api/event/create"


def settings(total: int, unreserved: int) -> dict[str, dict[str, int]]:
    return {"AccountLimit": {"ConcurrentExecutions": total, "UnreservedConcurrentExecutions": unreserved}}


def test_credentials_must_be_the_management_account_or_a_registered_delegated_admin() -> None:
    assert credentials_check("111", "111", None, "SELF").status is Status.PASS
    refused = credentials_check("222", "111", None, "SELF")
    assert refused.status is Status.FAIL
    assert "DELEGATED_ADMIN" in refused.fix
    assert credentials_check("222", "111", ["222"], "DELEGATED_ADMIN").status is Status.PASS
    unregistered = credentials_check("333", "111", ["222"], "DELEGATED_ADMIN")
    assert unregistered.status is Status.FAIL
    assert "register-delegated-administrator --account-id 333" in unregistered.fix
    assert credentials_check("333", "111", None, "DELEGATED_ADMIN").status is Status.WARN


def test_trusted_access_disabled_fails_with_the_command_that_activates_it() -> None:
    assert trusted_access_check("ENABLED").status is Status.PASS
    disabled = trusted_access_check("DISABLED")
    assert disabled.status is Status.FAIL
    assert "activate-organizations-access" in disabled.fix


@pytest.mark.parametrize(
    ("account", "parameters", "status"),
    [
        (settings(1000, 1000), {}, Status.PASS),
        (settings(1000, 1000), {"ReservedConcurrency": "900"}, Status.PASS),  # leaves exactly 100
        (settings(1000, 1000), {"ReservedConcurrency": "901"}, Status.FAIL),  # leaves 99
        (settings(10, 10), {"ReservedConcurrency": "5"}, Status.FAIL),  # a new account: 10 in all
        (settings(10, 10), {"MaximumConcurrency": "20"}, Status.WARN),
        (settings(10, 10), {}, Status.PASS),  # the default 5 fits
    ],
)
def test_the_lambda_quota_against_the_configured_concurrency(
    account: dict[str, dict[str, int]], parameters: dict[str, str], status: Status
) -> None:
    assert concurrency_check(account, parameters).status is status


def test_cloudtrail_wants_a_logging_multi_region_organisation_trail() -> None:
    org = {"Name": "org", "TrailARN": "arn:org", "IsOrganizationTrail": True, "IsMultiRegionTrail": True}
    local = {"Name": "mine", "TrailARN": "arn:mine", "IsOrganizationTrail": False, "IsMultiRegionTrail": True}
    assert cloudtrail_check([org], {"arn:org": True}).status is Status.PASS
    assert cloudtrail_check([org], {"arn:org": False}).status is Status.WARN  # exists, not logging
    assert cloudtrail_check([local], {"arn:mine": True}).status is Status.WARN
    assert cloudtrail_check([{**org, "IsMultiRegionTrail": False}], {"arn:org": True}).status is Status.WARN
    none = cloudtrail_check([], {})
    assert none.status is Status.WARN
    assert "--is-organization-trail" in none.fix


def test_missing_units_fail_and_are_named() -> None:
    assert organizational_units_check(["ou-a"], []).status is Status.PASS
    missing = organizational_units_check(["ou-a", "ou-b"], ["ou-b"])
    assert missing.status is Status.FAIL
    assert "ou-b" in missing.detail


def test_opt_in_regions_must_be_enabled_in_the_admin_and_every_target_account() -> None:
    status = {"us-east-1": "opt-in-not-required", "af-south-1": "opted-in", "me-south-1": "not-opted-in"}
    assert regions_check(["us-east-1", "af-south-1"], status, {}).status is Status.PASS
    assert regions_check(["us-east-1", "me-south-1"], status, {}).status is Status.FAIL
    assert regions_check(["us-east-1", "xx-nowhere-1"], status, {}).status is Status.FAIL
    gap = regions_check(["af-south-1"], status, {"af-south-1": ["444455556666"]})
    assert gap.status is Status.FAIL
    assert "444455556666" in gap.detail


def test_the_event_pattern_size_syntax_and_test_event_branch() -> None:
    pattern = '{"source":["aws.guardduty"]}'
    assert event_pattern_check(pattern, True).status is Status.PASS
    assert event_pattern_check(pattern, None).status is Status.PASS
    assert event_pattern_check(pattern, False).status is Status.WARN  # verify could not prove the path
    assert event_pattern_check(pattern, None, "InvalidEventPatternException: bad").status is Status.FAIL
    assert event_pattern_check("{" + " " * 2048 + "}", None).status is Status.FAIL
    assert event_pattern_check("{not json", None).status is Status.FAIL


def failing(exc: BaseException):  # type: ignore[no-untyped-def]
    def probe(host: str, port: int, tls: bool) -> str:
        raise exc

    return probe


def test_panther_url_certificate_not_trusted_fails_unreachable_warns() -> None:
    ok = panther_check(URL, False, lambda host, port, tls: f"{host}:{port} tls={tls}")
    assert ok.status is Status.PASS
    assert ok.detail == "panther.example.com:443 tls=True"
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "self-signed certificate"
    refused = panther_check(URL, False, failing(untrusted))
    assert refused.status is Status.FAIL
    assert "self-signed certificate" in refused.detail
    assert panther_check(URL, False, failing(socket.gaierror(-2, "Name or service not known"))).status is (
        Status.WARN
    )
    assert panther_check(URL, False, failing(ConnectionRefusedError(111, "refused"))).status is Status.WARN


def test_panthers_answer_to_the_test_event() -> None:
    assert send_test_check(200, '{"status": "Created"}').status is Status.PASS
    assert send_test_check(401, "API Key Authentication failed").status is Status.FAIL
    assert send_test_check(400, '{"message": "Event discarded"}').status is Status.WARN
    assert send_test_check(404, "Not Found").status is Status.FAIL
    assert send_test_check(None, "", "connection refused").status is Status.FAIL
