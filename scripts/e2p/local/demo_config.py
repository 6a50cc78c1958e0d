"""The e2p config file the local mode deploys with: the same format an operator writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from e2p.console.options import GlobalOptions
from e2p.console.output import OutputFormat
from e2p.local.demo_org import DemoOrganization

CENTRAL_STACK = "events2panther-central"
ACCESS_ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True, slots=True)
class LocalTarget:
    config_path: Path
    central_account: str
    central_region: str
    stack_name: str = CENTRAL_STACK

    @property
    def central_role_arn(self) -> str:
        return f"arn:aws:iam::{self.central_account}:role/{ACCESS_ROLE}"

    def global_options(self, endpoint_url: str) -> GlobalOptions:
        return GlobalOptions(self.config_path, None, None, endpoint_url, OutputFormat.TABLE)

    def central_outputs(self, central: boto3.Session, endpoint_url: str) -> dict[str, str]:
        cfn = central.client("cloudformation", endpoint_url=endpoint_url, region_name=self.central_region)
        stack: dict[str, Any] = cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def write_config(
    workdir: Path,
    org: DemoOrganization,
    regions: Sequence[str],
    central_region: str,
    panther_url: str,
    *,
    lambda_settings: Mapping[str, int] | None = None,
    event_pattern_file: Path | None = None,
) -> LocalTarget:
    central = org.central.account_id
    ous = ", ".join(f'"{ou}"' for ou in org.targeted_ou_ids())
    region_list = ", ".join(f'"{r}"' for r in regions)
    lambda_lines = "\n".join(f"{key} = {value}" for key, value in (lambda_settings or {}).items())
    pattern_line = f'event_pattern_file = "{event_pattern_file}"\n' if event_pattern_file else ""
    text = f"""
[organization]
management_account_id = "{org.management_account}"
organization_id = "{org.organization_id}"

[central]
account_id = "{central}"
region = "{central_region}"
role_arn = "arn:aws:iam::{central}:role/{ACCESS_ROLE}"
stack_name = "{CENTRAL_STACK}"
panther_url = "{panther_url}"
# The local Panther listens on 127.0.0.1 over plain HTTP.
allow_insecure_http = true
account_tag_keys = ["team", "environment"]

[central.lambda]
{lambda_lines}

[stackset]
organizational_units = [{ous}]
regions = [{region_list}]
call_as = "SELF"

[member]
rule_state = "ENABLED"
access_role_name = "{ACCESS_ROLE}"
{pattern_line}
[management]
deploy_member_stacks = true
"""
    path = workdir / "e2p.toml"
    path.write_text(text.lstrip())
    return LocalTarget(path, central, central_region)
