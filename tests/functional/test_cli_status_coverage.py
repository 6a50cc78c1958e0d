"""`e2p status` and the coverage feature: last heard per account x region, opt-in regions enabled but not
covered, and `--html FILE`, the self-contained coverage map (tested for content)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from cli_org import (  # noqa: F401
    CENTRAL_STACK,
    MANAGEMENT_ACCOUNT,
    REGIONS,
    STACK_SET,
    Stage,
    deploy,
    local_aws_fixture,
    shared_deployment_fixture,
    stage_fixture,
)

from handler.coverage.heartbeat import DynamoDBCoverageTable, Heartbeat

pytestmark = pytest.mark.functional


def test_status_shows_last_heard_regions_not_covered_and_writes_the_html_map(
    shared_deployment: Stage, tmp_path: Path
) -> None:
    layout = shared_deployment.layout
    table = shared_deployment.central_outputs()["CoverageTableName"]
    now = int(time.time())
    app, region = layout.app_account, REGIONS[0]
    silent_region = REGIONS[1]
    # GIVEN the forwarder recorded one recent heartbeat and one two hours old
    coverage = DynamoDBCoverageTable(shared_deployment.central("dynamodb"), table)
    coverage.record(Heartbeat(app, region, now - 120, 15))
    coverage.record(Heartbeat(app, silent_region, now - 7200, 15))
    # AND the management account enabled an opt-in region outside the configuration (with trusted access)
    shared_deployment.client("organizations").enable_aws_service_access(
        ServicePrincipal="account.amazonaws.com"
    )
    shared_deployment.client("account").enable_region(AccountId=app, RegionName="me-south-1")
    try:
        page = tmp_path / "coverage.html"
        # WHEN e2p status runs with --html
        result = shared_deployment.cli("status", "--output", "json", "--html", str(page))
        report = json.loads(result.stdout)
        # THEN last heard is reported per expected pair, the old one as silent, the others never heard
        heard = {(h["account_id"], h["region"]): h for h in report["last_heard"]}
        assert heard[(app, region)]["state"] == "heard"
        assert heard[(app, region)]["age_minutes"] == 2
        assert heard[(app, silent_region)]["state"] == "silent"
        assert heard[(app, silent_region)]["age_minutes"] == 120
        assert {(a, r) for a, r in heard} >= {(a, r) for a in layout.member_accounts for r in REGIONS}
        assert {(MANAGEMENT_ACCOUNT, r) for r in REGIONS} <= set(heard)
        others = [h for pair, h in heard.items() if pair not in {(app, region), (app, silent_region)}]
        assert others and all(h["state"] == "never heard" and h["last_heard"] == "" for h in others)
        assert report["uncovered_regions"] == [
            {"account_id": app, "account_name": "app-prod", "region": "me-south-1"}
        ]
        # informational: the coverage feature does not change what healthy means
        assert report["healthy"] is True

        # AND the page is one self-contained document: no network, every state coloured, sortable by OU
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
        assert "<link" not in text and "@import" not in text
        row = re.search(rf'<tr data-ou="[^"]*" data-account="app-prod" data-id="{app}">(.*?)</tr>', text)
        assert row is not None
        states = re.findall(r'data-state="([a-z-]+)"', row.group(1))
        columns = re.findall(r'<th title="([a-z0-9-]+)">', text)
        assert dict(zip(columns, states, strict=True)) == {
            region: "forwarding",
            silent_region: "silent",
            **{r: "unheard" for r in REGIONS if r not in (region, silent_region)},
            "me-south-1": "not-forwarded",
        }
        assert 'data-key="ou"' in text and "<script>" in text
        assert "no healthy stack instance" in text  # the legend names every state

        # AND the table output names the same (the silent pair and the region not covered)
        table = shared_deployment.cli("status")
        assert "Last heard" in table.stdout and "silent" in table.stdout
        assert "Opt-in regions enabled but not covered" in table.stdout and "me-south-1" in table.stdout
    finally:
        shared_deployment.client("account").disable_region(AccountId=app, RegionName="me-south-1")


def test_deploy_include_new_regions_extends_the_stackset_to_an_opted_in_region(stage: Stage) -> None:
    # GIVEN the targeted accounts enabled an opt-in region the config does not list, and the management
    # account too (a service-managed StackSet deploys a region to every targeted account, and opt-in
    # regions only where the administrator account enabled them)
    app = stage.layout.app_account
    account = stage.client("account")
    stage.client("organizations").enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    for member in stage.layout.member_accounts:
        account.enable_region(AccountId=member, RegionName="me-south-1")
    account.enable_region(RegionName="me-south-1")
    try:
        # WHEN the deploy is asked to include new regions
        deploy(stage, "--include-new-regions")  # asserts exit code 0
        # THEN the StackSet reaches the region in the targeted accounts, and the watchdog is told so
        cloudformation = stage.client("cloudformation")
        instances = cloudformation.list_stack_instances(StackSetName=STACK_SET)["Summaries"]
        assert {i["Region"] for i in instances if i["Account"] == app} == {*REGIONS, "me-south-1"}
        central = stage.central("cloudformation").describe_stacks(StackName=CENTRAL_STACK)["Stacks"][0]
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in central["Parameters"]}
        assert "me-south-1" in parameters["CoverageRegions"].split(",")
    finally:
        for member in stage.layout.member_accounts:
            account.disable_region(AccountId=member, RegionName="me-south-1")
        account.disable_region(RegionName="me-south-1")
