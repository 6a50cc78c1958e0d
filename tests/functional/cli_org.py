"""Fixtures for the e2p CLI tests: fake credentials, an organisation in moto, a project and a config.

The organisation (management account = moto's default 123456789012):

    root
    |-- Security            (targeted)  central, audit
    `-- Workloads
        `-- Prod            (targeted)  app-prod
            `-- Apps
                `-- Deep                (empty; tests add late accounts here)

Targeted OUs hold their accounts as direct children because moto expands an OU target only one
level down (LOCAL-AWS.md); AWS covers any depth, which `e2p status` checks on its own.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
STANDINS = REPO / "tests" / "fixtures" / "cli_standins"
MANAGEMENT_ACCOUNT = "123456789012"
CENTRAL_REGION = "eu-west-1"
REGIONS = ("eu-west-1", "us-east-1")
PROJECT_FILES = (
    "central/template.yaml",
    "central/org-lookup-role.yaml",
    "member/template.yaml",
    "stacksets/stackset.yaml",
)
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "E2P_LAMBDA_DEPS": "none",
}
CLEARED_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "E2P_CONFIG", "MOTO_ACCOUNT_ID")


@dataclass(frozen=True)
class OrgLayout:
    organization_id: str
    root_id: str
    security_ou: str
    workloads_ou: str
    prod_ou: str
    apps_ou: str
    deep_ou: str
    central_account: str
    audit_account: str
    app_account: str

    @property
    def targeted_ous(self) -> tuple[str, str]:
        return (self.security_ou, self.prod_ou)

    @property
    def member_accounts(self) -> tuple[str, ...]:
        return (self.central_account, self.audit_account, self.app_account)


def _ou(org: Any, parent: str, name: str) -> str:
    return str(org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])


def add_account(org: Any, name: str, parent: str, root: str) -> str:
    status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    account_id = str(status["AccountId"])
    org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
    return account_id


def build_organization() -> OrgLayout:
    org = boto3.client("organizations", region_name="us-east-1")
    organization_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    security = _ou(org, root, "Security")
    workloads = _ou(org, root, "Workloads")
    prod = _ou(org, workloads, "Prod")
    apps = _ou(org, prod, "Apps")
    deep = _ou(org, apps, "Deep")
    return OrgLayout(
        organization_id=organization_id,
        root_id=root,
        security_ou=security,
        workloads_ou=workloads,
        prod_ou=prod,
        apps_ou=apps,
        deep_ou=deep,
        central_account=add_account(org, "central", security, root),
        audit_account=add_account(org, "audit", security, root),
        app_account=add_account(org, "app-prod", prod, root),
    )


def session_in(account_id: str, region: str = CENTRAL_REGION) -> boto3.Session:
    """A session inside `account_id`, the way the CLI reaches it (moto maps assumed roles to accounts)."""
    if account_id == MANAGEMENT_ACCOUNT:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def make_project(root: Path) -> Path:
    """The repository when every deployable file exists; else a copy completed with the stand-ins."""
    if all((REPO / name).is_file() for name in PROJECT_FILES):
        return REPO
    for name in PROJECT_FILES:
        source = REPO / name if (REPO / name).is_file() else STANDINS / name
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    shutil.copytree(REPO / "handler", root / "handler", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def write_config(path: Path, layout: OrgLayout, extra: str = "", **sections: str) -> Path:
    """A valid config for `layout`; `sections` replace whole sections by name."""
    defaults = {
        "organization": f"""
            [organization]
            management_account_id = "{MANAGEMENT_ACCOUNT}"
            organization_id = "{layout.organization_id}"
        """,
        "central": f"""
            [central]
            account_id = "{layout.central_account}"
            region = "{CENTRAL_REGION}"
            role_arn = "arn:aws:iam::{layout.central_account}:role/OrganizationAccountAccessRole"
            panther_url = "https://panther.example.com/api/event/create"
            account_tag_keys = ["team"]
        """,
        "stackset": f"""
            [stackset]
            organizational_units = ["{layout.security_ou}", "{layout.prod_ou}"]
            regions = ["{REGIONS[0]}"]
        """,
        "member": """
            [member]
            rule_state = "ENABLED"
        """,
        "management": """
            [management]
            deploy_member_stacks = true
        """,
    }
    defaults.update(sections)
    text = "\n".join(textwrap.dedent(body) for body in defaults.values()) + textwrap.dedent(extra)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    yield


@pytest.fixture
def moto_org(fake_aws: None) -> Iterator[OrgLayout]:
    from moto import mock_aws

    with mock_aws():
        yield build_organization()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project(tmp_path / "project")
    monkeypatch.setenv("E2P_PROJECT_ROOT", str(root))
    monkeypatch.setenv("E2P_BUILD_DIR", str(tmp_path / "build"))
    return root


@pytest.fixture
def config(tmp_path: Path, moto_org: OrgLayout, project: Path) -> Path:
    return write_config(tmp_path / "e2p.toml", moto_org)


def cli_env() -> dict[str, str]:
    """The environment a subprocess run of the CLI gets: fake credentials, nothing from the caller."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV and not k.startswith("AWS_")}
    env.update(FAKE_ENV)
    return env
