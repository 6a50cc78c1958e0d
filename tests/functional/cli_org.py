"""Fixtures for the e2p CLI tests: an organisation on the project's local AWS, a config, the CLI.

Test modules import the `*_fixture` functions (pytest registers them under the name without the
suffix, so a test's parameter never shadows an import).

The CLI runs against `e2p.local.aws.LocalAws` (moto 5.2.5 in this process, made faithful by the
local mode's fidelity patches) through `--endpoint-url`, exactly as the demo does: plain moto cannot
deploy the real central template (it skips AWS::SecretsManager::Secret) nor expand OU targets as
AWS does (LOCAL-AWS.md). Tests that do not need CloudFormation use plain in-process moto.

The organisation (management account = moto's default 123456789012):

    root
    |-- Security            (targeted)  central, audit
    `-- Workloads
        `-- Prod            (targeted)  app-prod
            `-- Apps
                `-- Deep                (empty; tests add late accounts here)
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import boto3
import pytest
from click.testing import CliRunner, Result

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
MANAGEMENT_ACCOUNT = "123456789012"
CENTRAL_REGION = "eu-west-1"
REGIONS = ("eu-west-1", "us-east-1")
CENTRAL_STACK = "events2panther-central"
MEMBER_STACK = "events2panther-member"
LOOKUP_STACK = "events2panther-org-lookup"
STACK_SET = "events2panther-member"
PANTHER_URL = "https://panther.example.com/api/event/create"
FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "E2P_LAMBDA_DEPS": "none",
    "E2P_POLL_INTERVAL_SECONDS": "0.05",
}
# Variables that would point the CLI somewhere else than the test wants.
CLEARED_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "E2P_CONFIG", "MOTO_ACCOUNT_ID", "AWS_REGION")


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
    def member_accounts(self) -> tuple[str, str, str]:
        return (self.central_account, self.audit_account, self.app_account)


def aws_client(service: str, endpoint: str | None, region: str = "us-east-1", **credentials: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=endpoint,
        **(credentials or FAKE_CREDENTIALS),
    )


def account_credentials(account_id: str, endpoint: str | None) -> dict[str, str]:
    """Credentials the local AWS maps to `account_id` (moto keys assumed roles by account)."""
    if account_id == MANAGEMENT_ACCOUNT:
        return dict(FAKE_CREDENTIALS)
    credentials = aws_client("sts", endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="cli-test"
    )["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def _ou(org: Any, parent: str, name: str) -> str:
    return str(org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])


def add_account(org: Any, name: str, parent: str, root: str) -> str:
    status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    account_id = str(status["AccountId"])
    org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
    return account_id


def build_organization(org: Any) -> OrgLayout:
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


def config_text(layout: OrgLayout, **sections: str) -> str:
    """A valid config for `layout`; keyword arguments replace whole sections by name."""
    parts = {
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
            panther_url = "{PANTHER_URL}"
            account_tag_keys = ["team"]
        """,
        "stackset": f"""
            [stackset]
            organizational_units = ["{layout.security_ou}", "{layout.prod_ou}"]
            regions = {json.dumps(list(REGIONS))}
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
    parts.update(sections)
    return "\n".join(textwrap.dedent(body) for body in parts.values())


@dataclass
class Stage:
    """One organisation on the local AWS, its config file, and the CLI pointed at both."""

    endpoint: str
    layout: OrgLayout
    config: Path
    build_dir: Path
    env: dict[str, str | None] = field(default_factory=dict)

    def cli(
        self,
        *args: str,
        input: str | None = None,
        config: Path | None = None,
        endpoint_from_environment: bool = False,
    ) -> Result:
        """The real `e2p` group, pointed at the local AWS by --endpoint-url (or AWS_ENDPOINT_URL)."""
        from e2p.cli import main

        arguments = [*args, "--config", str(config or self.config)]
        env = dict(self.env)
        if endpoint_from_environment:
            env["AWS_ENDPOINT_URL"] = self.endpoint
        else:
            arguments += ["--endpoint-url", self.endpoint]
        return CliRunner().invoke(main, arguments, input=input, env=env, catch_exceptions=False)

    def cli_json(self, *args: str, config: Path | None = None) -> tuple[int, Any]:
        result = self.cli(*args, "--output", "json", config=config)
        return result.exit_code, json.loads(result.stdout)

    def credentials(self, account: str) -> dict[str, str]:
        return account_credentials(account, self.endpoint)

    def client(self, service: str, account: str = MANAGEMENT_ACCOUNT, region: str = CENTRAL_REGION) -> Any:
        return aws_client(service, self.endpoint, region, **self.credentials(account))

    def central(self, service: str) -> Any:
        return self.client(service, self.layout.central_account, CENTRAL_REGION)

    def central_outputs(self) -> dict[str, str]:
        stack = self.central("cloudformation").describe_stacks(StackName=CENTRAL_STACK)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def write_config(self, name: str, **sections: str) -> Path:
        path = self.config.parent / name
        path.write_text(config_text(self.layout, **sections), encoding="utf-8")
        return path


def stack_status(cloudformation: Any, name: str) -> str | None:
    """The stack's status, or None when no stack of that name is alive."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status = str(stacks[0]["StackStatus"])
    return None if status == "DELETE_COMPLETE" else status


def results_by_step(data: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in data["results"]:
        grouped.setdefault(row["step"], []).append(row)
    return grouped


@pytest.fixture(scope="session", name="local_aws")
def local_aws_fixture() -> Iterator[Any]:
    """One local AWS server per test process; each stage resets it."""
    from e2p.local.aws import LocalAws

    with LocalAws() as local:
        yield local


# Every stage resets the one local AWS of this process. A stage kept for several tests (`reuse`) is
# rebuilt when another stage was made since, whatever order the tests run in.
_generation = [0]
_kept: dict[str, tuple[int, Any]] = {}


# What `e2p deploy` reads from the repository: the templates, the StackSet definition, the handler.
DEPLOYABLE = ("central", "member", "stacksets", "handler")


def snapshot_project(directory: Path) -> Path:
    """A copy of the repository's deployable files, so that an edit made to the working tree while
    the tests run cannot change the package between two deploys of one test."""
    for name in DEPLOYABLE:
        shutil.copytree(REPO / name, directory / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return directory


_snapshot: dict[str, Path] = {}


def project_root(factory: pytest.TempPathFactory) -> Path:
    if "root" not in _snapshot:
        _snapshot["root"] = snapshot_project(factory.mktemp("project"))
    return _snapshot["root"]


def make_stage(local: Any, directory: Path, root: Path = REPO) -> Stage:
    local.reset()
    _generation[0] += 1
    directory.mkdir(parents=True, exist_ok=True)
    layout = build_organization(aws_client("organizations", local.endpoint_url))
    config = directory / "e2p.toml"
    config.write_text(config_text(layout), encoding="utf-8")
    build_dir = directory / "build"
    env: dict[str, str | None] = {
        **FAKE_ENV,
        "E2P_PROJECT_ROOT": str(root),
        "E2P_BUILD_DIR": str(build_dir),
        **dict.fromkeys(CLEARED_ENV),
    }
    return Stage(local.endpoint_url, layout, config, build_dir, env)


def reuse(key: str, build: Callable[[], T], alive: Callable[[T], bool] = lambda _value: True) -> T:
    """`build()`'s value, kept while no other stage replaced the local AWS's contents and `alive`
    still holds (moto's in-process mock, used by other tests, also resets the server's state)."""
    kept = _kept.get(key)
    if kept is not None and kept[0] == _generation[0] and alive(kept[1]):
        return cast(T, kept[1])
    value = build()
    _kept[key] = (_generation[0], value)
    return value


def central_stack_alive(stage: Stage) -> bool:
    return stack_status(stage.central("cloudformation"), CENTRAL_STACK) is not None


def forget(key: str) -> None:
    """After a test changed a kept stage: the next user gets a new one."""
    _kept.pop(key, None)


def deploy(stage: Stage, *extra: str) -> dict[str, Any]:
    code, data = stage.cli_json("deploy", "--yes", "--activate-trusted-access", *extra)
    assert code == 0, data
    return data


@pytest.fixture(name="stage")
def stage_fixture(local_aws: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Stage:
    """A fresh organisation, nothing deployed."""
    return make_stage(local_aws, tmp_path / "stage", project_root(tmp_path_factory))


@pytest.fixture(name="deployed")
def deployed_fixture(stage: Stage) -> Stage:
    """A fresh organisation with everything deployed (for tests that change what is deployed)."""
    deploy(stage)
    return stage


TEST_SOURCE = "events2panther.test"


def pattern_with_test_source(root: Path) -> str:
    """The member template's default pattern plus a branch for `e2p send-test-event`'s source."""
    from e2p.aws.cfn_template import load_template

    template = load_template((root / "member" / "template.yaml").read_text(encoding="utf-8"))
    pattern = json.loads(template["Parameters"]["EventPattern"]["Default"])
    pattern["$or"].append({"source": [TEST_SOURCE]})
    return json.dumps(pattern)


@pytest.fixture(name="shared_deployment")
def shared_deployment_fixture(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Stage:
    """One deployment for tests that leave it as they found it. Its member rules also forward the
    test source (config event_pattern_file), so that send-test-event can take the member path."""

    def build() -> Stage:
        root = project_root(tmp_path_factory)
        stage = make_stage(local_aws, tmp_path_factory.mktemp("shared"), root)
        (stage.config.parent / "pattern.json").write_text(pattern_with_test_source(root), encoding="utf-8")
        stage.config = stage.write_config(
            "shared.toml",
            member="""
                [member]
                event_pattern_file = "pattern.json"
            """,
        )
        deploy(stage)
        return stage

    return reuse("shared_deployment", build, alive=central_stack_alive)
