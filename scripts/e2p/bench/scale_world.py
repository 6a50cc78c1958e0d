"""The scale world: an organisation of N accounts in 40 OUs, built in moto in this process.

    Root
    |-- Workloads, Security, Sandbox, Infrastructure     4 top-level OUs
    |   `-- <top>-0 ... <top>-8                          9 OUs under each: 40 OUs in all

Accounts are spread over the 36 leaf OUs, each tagged (team, environment, cost-center) and given
an IAM account alias inside the account (as its owners would), so the directory refresh reads
names, OU paths, tags and aliases exactly as it does in AWS. Nothing here is simulated: these
are moto's Organizations, IAM, STS and S3 answering real botocore calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

TOP_LEVEL_OUS: Final = ("Workloads", "Security", "Sandbox", "Infrastructure")
OUS_PER_TOP: Final = 9  # 4 + 4 x 9 = 40 OUs
TAG_KEYS: Final = ("team", "environment")
ALIAS_ROLE: Final = "events2panther-alias-reader"


@dataclass
class ScaleOrganisation:
    management_id: str
    root_id: str
    ou_ids: list[str] = field(default_factory=list)  # every OU, top-level first
    leaves: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)  # member accounts (not the management)


def session_in(boto3: Any, account_id: str, region: str) -> Any:
    """A boto3 Session acting in `account_id` (moto maps assumed-role credentials to the account)."""
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/bench-admin", RoleSessionName="bench-setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def build_organisation(boto3: Any, accounts: int, region: str, *, aliases: bool = True) -> ScaleOrganisation:
    """Inside mock_aws: the organisation, with the management account as moto's default account."""
    client = boto3.client("organizations", region_name=region)
    organization = client.create_organization(FeatureSet="ALL")["Organization"]
    root = client.list_roots()["Roots"][0]["Id"]
    world = ScaleOrganisation(organization["MasterAccountId"], root)
    for top in TOP_LEVEL_OUS:
        parent = client.create_organizational_unit(ParentId=root, Name=top)["OrganizationalUnit"]["Id"]
        world.ou_ids.append(parent)
        for index in range(OUS_PER_TOP):
            unit = client.create_organizational_unit(ParentId=parent, Name=f"{top}-{index}")
            world.ou_ids.append(unit["OrganizationalUnit"]["Id"])
            world.leaves.append(unit["OrganizationalUnit"]["Id"])
    for index in range(accounts):
        status = client.create_account(
            Email=f"bench-{index}@example.com",
            AccountName=f"bench-{index:05d}",
            Tags=[
                {"Key": "team", "Value": f"team-{index % 17}"},
                {"Key": "environment", "Value": ("prod", "staging", "dev")[index % 3]},
                {"Key": "cost-center", "Value": f"cc-{index % 50}"},
            ],
        )
        account_id = str(status["CreateAccountStatus"]["AccountId"])
        client.move_account(
            AccountId=account_id,
            SourceParentId=root,
            DestinationParentId=world.leaves[index % len(world.leaves)],
        )
        if aliases:
            session_in(boto3, account_id, region).client("iam").create_account_alias(
                AccountAlias=f"acme-bench-{index:05d}"
            )
        world.accounts.append(account_id)
    return world
