"""`e2p preflight` against the local organisation, and `e2p deploy` running it first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_org import (  # noqa: F401
    CENTRAL_REGION,
    CENTRAL_STACK,
    MANAGEMENT_ACCOUNT,
    STACK_SET,
    Stage,
    aws_client,
    local_aws_fixture,
    stack_status,
    stage_fixture,
)

pytestmark = pytest.mark.functional

NAMES = [
    "credentials",
    "trusted access",
    "central account",
    "lambda concurrency",
    "cloudtrail",
    "organizational units",
    "regions",
    "event pattern",
    "panther url",
]


def by_name(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in data["checks"]}


def activate_trusted_access(stage: Stage) -> None:
    stage.client("cloudformation", MANAGEMENT_ACCOUNT, CENTRAL_REGION).activate_organizations_access()


def test_every_check_answers_in_the_documented_shape_and_changes_nothing(stage: Stage) -> None:
    code, data = stage.cli_json("preflight")
    # THEN one object, every check in order, each with a verdict, detail and fix
    assert set(data) == {"ok", "checks"}
    assert [c["name"] for c in data["checks"]] == NAMES
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in data["checks"])
    assert all(c["status"] in {"PASS", "WARN", "FAIL"} for c in data["checks"])
    checks = by_name(data)
    # trusted access is off in a new organisation: a FAIL, exit 1, with the command that fixes it
    assert checks["trusted access"]["status"] == "FAIL"
    assert "activate-organizations-access" in checks["trusted access"]["fix"]
    assert data["ok"] is False
    assert code == 1
    assert checks["credentials"]["status"] == "PASS"
    assert checks["central account"]["status"] == "PASS"
    assert checks["organizational units"]["status"] == "PASS"
    assert checks["cloudtrail"]["status"] == "WARN"  # no trail in this organisation
    # AND preflight is read-only: trusted access is still off, nothing was deployed
    cfn = stage.client("cloudformation", MANAGEMENT_ACCOUNT, CENTRAL_REGION)
    assert cfn.describe_organizations_access()["Status"] == "DISABLED"
    assert cfn.list_stack_sets()["Summaries"] == []
    # AND the table has a row per check and a summary line
    table = stage.cli("preflight")
    assert table.exit_code == 1
    for name in NAMES:
        assert name in table.stdout
    assert "1 check(s) failed" in table.stdout


def test_with_the_prerequisites_nothing_fails_and_an_unknown_ou_stops_the_deploy(stage: Stage) -> None:
    # GIVEN what the runbook's prerequisites set up
    activate_trusted_access(stage)
    s3 = stage.client("s3", MANAGEMENT_ACCOUNT, "us-east-1")
    s3.create_bucket(Bucket="org-trail-logs")
    trail = stage.client("cloudtrail", MANAGEMENT_ACCOUNT, CENTRAL_REGION)
    trail.create_trail(
        Name="org-trail", S3BucketName="org-trail-logs", IsOrganizationTrail=True, IsMultiRegionTrail=True
    )
    trail.start_logging(Name="org-trail")
    # WHEN
    code, data = stage.cli_json("preflight")
    # THEN
    checks = by_name(data)
    assert checks["trusted access"]["status"] == "PASS"
    assert checks["cloudtrail"]["status"] == "PASS", checks["cloudtrail"]
    assert code == 0, data
    assert data["ok"] is True
    # WHEN the config names an OU the organisation does not have
    config = stage.write_config(
        "bad-ou.toml",
        stackset="""
            [stackset]
            organizational_units = ["ou-zzzz-zzzzzzzz"]
            regions = ["eu-west-1"]
        """,
    )
    code, data = stage.cli_json("preflight", config=config)
    assert code == 1
    assert by_name(data)["organizational units"]["status"] == "FAIL"
    assert "ou-zzzz-zzzzzzzz" in by_name(data)["organizational units"]["detail"]
    # WHEN deploy runs with the same config
    result = stage.cli("deploy", "--yes", "--output", "json", config=config)
    # THEN it stops at preflight: exit 1, the preflight object on stdout, no central stack
    assert result.exit_code == 1
    assert "preflight failed" in result.stderr
    central = aws_client(
        "cloudformation", stage.endpoint, CENTRAL_REGION, **stage.credentials(stage.layout.central_account)
    )
    assert stack_status(central, CENTRAL_STACK) is None


def test_send_test_posts_one_event_with_the_token_and_a_refused_token_fails(
    stage: Stage, tmp_path: Path
) -> None:
    from e2p.local.panther import LocalPanther

    token = "t" * 32
    with LocalPanther(token) as panther:
        config = stage.write_config(
            "local-panther.toml",
            central=f"""
                [central]
                account_id = "{stage.layout.central_account}"
                region = "{CENTRAL_REGION}"
                role_arn = "arn:aws:iam::{stage.layout.central_account}:role/OrganizationAccountAccessRole"
                panther_url = "{panther.url}"
                allow_insecure_http = true
            """,
        )
        good, bad = tmp_path / "good", tmp_path / "bad"
        good.write_text(token, encoding="utf-8")
        bad.write_text("x" * 32, encoding="utf-8")
        # WHEN preflight runs without --send-test, nothing reaches Panther
        stage.cli_json("preflight", config=config)
        assert panther.events() == []
        # WHEN it runs with --send-test and the right token: one event, the check passes
        _code, data = stage.cli_json("preflight", "--send-test", "--token-file", str(good), config=config)
        assert by_name(data)["panther test event"]["status"] == "PASS"
        assert [e["summary"] for e in panther.events()] == [
            "Events2Panther preflight test event (e2p preflight --send-test)"
        ]
        # WHEN the token is refused: FAIL, exit 1
        code, data = stage.cli_json("preflight", "--send-test", "--token-file", str(bad), config=config)
        assert code == 1
        assert by_name(data)["panther test event"]["status"] == "FAIL"
        assert "token" in by_name(data)["panther test event"]["detail"]
    # AND --send-test without a token file is a usage error
    assert stage.cli("preflight", "--send-test").exit_code == 2
