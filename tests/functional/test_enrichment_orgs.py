"""Account enrichment against an organisation in moto, reached the way the Lambda reaches it.

The organisation is built from the management account; the directory runs in another ("central")
account and reads Organizations through `sts:AssumeRole` into a role of the management account.
moto answers Organizations calls from a non-management account with nothing (LOCAL-AWS.md), as
AWS refuses them, so names coming back prove the assumed role is really used.
"""

from __future__ import annotations

import collections
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fake_aws import fake_credentials
from moto import mock_aws

from handler.enrichment.account import AccountInfo
from handler.enrichment.assumed_role import assumed_role_client_factory, organizations_client_factory
from handler.enrichment.build import build_directory
from handler.enrichment.directory import AccountDirectory
from handler.enrichment.organizations_source import OrganizationsSource
from handler.exceptions import AccountLookupError

pytestmark = pytest.mark.functional

CENTRAL_ID = "123456789012"  # moto's default account: what the fake base credentials map to
MGMT_ID = "111111111111"
REGION = "eu-west-1"
SELECTED_TAGS = ("team", "cost-center")
OUTSIDER_ID = "999999999999"


@dataclass
class Org:
    """What the test created, written down by the test itself (expected values)."""

    mgmt_id: str
    mgmt: Any  # the management account's organizations client
    root_id: str
    ou_ids: dict[str, str] = field(default_factory=dict)  # path -> OU id
    accounts: dict[str, AccountInfo] = field(default_factory=dict)  # id -> expected, selected tags

    @property
    def lookup_role(self) -> str:
        return f"arn:aws:iam::{self.mgmt_id}:role/events2panther-org-lookup"

    def id_of(self, name: str) -> str:
        return next(a.account_id for a in self.accounts.values() if a.name == name)

    def add_account(self, name: str, path: str, tags: dict[str, str]) -> str:
        status = self.mgmt.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id = status["CreateAccountStatus"]["AccountId"]
        self.mgmt.move_account(
            AccountId=account_id, SourceParentId=self.root_id, DestinationParentId=self.ou_ids[path]
        )
        if tags:
            self.mgmt.tag_resource(
                ResourceId=account_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )
        selected = {k: v for k, v in tags.items() if k in SELECTED_TAGS}
        self.accounts[account_id] = AccountInfo(account_id, name, "", path, selected, "ACTIVE")
        return account_id


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    # One moto world for the module: organisations that a test changes get their own management
    # account (fresh_org), so tests never see each other's changes.
    with fake_credentials(REGION), mock_aws():
        yield


def session_in(account_id: str) -> boto3.Session:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/admin", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def build_org(mgmt_id: str) -> Org:
    """Root/{Workloads/{Prod/{Payments}}, Sandbox}, with tagged accounts at every depth."""
    mgmt = session_in(mgmt_id).client("organizations")
    mgmt.create_organization(FeatureSet="ALL")
    root_id = mgmt.list_roots()["Roots"][0]["Id"]
    built = Org(mgmt_id=mgmt_id, mgmt=mgmt, root_id=root_id)
    built.ou_ids["Root"] = root_id
    for path in ("Root/Workloads", "Root/Workloads/Prod", "Root/Workloads/Prod/Payments", "Root/Sandbox"):
        parent_path, _, name = path.rpartition("/")
        unit = mgmt.create_organizational_unit(ParentId=built.ou_ids[parent_path], Name=name)
        built.ou_ids[path] = unit["OrganizationalUnit"]["Id"]
    built.accounts[mgmt_id] = AccountInfo(mgmt_id, "master", "", "Root", {}, "ACTIVE")  # moto's name
    built.add_account(
        "payments-prod",
        "Root/Workloads/Prod/Payments",
        {"team": "payments", "cost-center": "cc-42", "owner": "not-selected"},
    )
    built.add_account("web-prod", "Root/Workloads/Prod", {"team": "web"})
    built.add_account("platform", "Root/Workloads", {"owner": "not-selected"})
    built.add_account("sandbox", "Root/Sandbox", {})
    return built


@pytest.fixture(scope="module")
def org(aws: None) -> Org:
    """Shared by the tests that only read it."""
    return build_org(MGMT_ID)


_fresh_mgmt_ids = (f"2222222{n:05d}" for n in itertools.count())


@pytest.fixture
def fresh_org(aws: None) -> Org:
    """An organisation of its own, for a test that changes it."""
    return build_org(next(_fresh_mgmt_ids))


@pytest.fixture(scope="module")
def central(aws: None) -> boto3.Session:
    """The central account's session (moto's default account), as the Lambda has it."""
    return boto3.Session(region_name=REGION)


class CountingFactory:
    """Wraps a client factory; counts the Organizations operations of every client it hands out."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self.calls: collections.Counter[str] = collections.Counter()
        self.broken: Exception | None = None

    def __call__(self) -> Any:
        if self.broken is not None:
            raise self.broken
        client = self._factory()
        client.meta.events.register(
            "before-call.organizations.*", self._count, unique_id="e2p-test-call-counter"
        )
        return client

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def access_denied(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, operation)


# --- the organisation, read through the assumed role -----------------------------------------


def test_central_account_cannot_list_the_organisation_itself(org: Org, central: boto3.Session) -> None:
    # GIVEN the central account's own credentials (the moto gap this file relies on)
    assert central.client("sts").get_caller_identity()["Account"] == CENTRAL_ID
    # THEN Organizations tells it nothing, so every name below must come through the role
    assert central.client("organizations", region_name="us-east-1").list_accounts()["Accounts"] == []


def test_names_nested_ou_paths_and_selected_tags(org: Org, central: boto3.Session) -> None:
    source = OrganizationsSource(organizations_client_factory(central, org.lookup_role), SELECTED_TAGS)

    accounts = source.load()

    assert accounts == org.accounts
    assert accounts[org.id_of("payments-prod")].ou_path == "Root/Workloads/Prod/Payments"
    assert accounts[org.id_of("payments-prod")].tags == {"team": "payments", "cost-center": "cc-42"}


def test_ou_tree_is_walked_once_not_one_list_parents_per_account(org: Org, central: boto3.Session) -> None:
    factory = CountingFactory(organizations_client_factory(central, org.lookup_role))

    OrganizationsSource(factory, SELECTED_TAGS).load()

    assert factory.calls["ListAccounts"] == 1
    assert factory.calls["ListRoots"] == 1
    # one visit per OU and the root: each lists its accounts and its child OUs once
    assert factory.calls["ListAccountsForParent"] == len(org.ou_ids)
    assert factory.calls["ListOrganizationalUnitsForParent"] == len(org.ou_ids)
    assert factory.calls["ListParents"] == 0
    assert factory.calls["DescribeAccount"] == 0
    assert factory.calls["ListTagsForResource"] == len(org.accounts)


def test_no_tag_calls_when_no_tag_keys_are_configured(org: Org, central: boto3.Session) -> None:
    factory = CountingFactory(organizations_client_factory(central, org.lookup_role))

    accounts = OrganizationsSource(factory).load()

    assert factory.calls["ListTagsForResource"] == 0
    assert all(info.tags == {} for info in accounts.values())
    assert accounts[org.id_of("web-prod")].name == "web-prod"


def test_account_state_other_than_active_is_kept(fresh_org: Org, central: boto3.Session) -> None:
    sandbox = fresh_org.id_of("sandbox")
    fresh_org.mgmt.close_account(AccountId=sandbox)

    accounts = OrganizationsSource(organizations_client_factory(central, fresh_org.lookup_role)).load()

    assert accounts[sandbox].name == "sandbox"
    assert accounts[sandbox].state not in {"", "ACTIVE"}


# --- the role, its credentials and their renewal ---------------------------------------------


def counted_central_session() -> tuple[boto3.Session, collections.Counter[str]]:
    """A central session of its own, counting the AssumeRole calls of every client made from it."""
    session = boto3.Session(region_name=REGION)
    counter: collections.Counter[str] = collections.Counter()
    session.events.register("before-call.sts.AssumeRole", lambda **_: counter.update(["AssumeRole"]))
    return session, counter


def test_credentials_are_assumed_once_while_valid(org: Org) -> None:
    central, assumed = counted_central_session()
    factory = organizations_client_factory(central, org.lookup_role)

    for _ in range(3):
        factory().list_roots()

    assert assumed["AssumeRole"] == 1
    assert factory() is factory()


def test_credentials_near_expiry_are_renewed_before_use(org: Org) -> None:
    # GIVEN credentials that live 15 minutes: inside botocore's early-refresh window from the start
    central, assumed = counted_central_session()
    factory = assumed_role_client_factory(central, org.lookup_role, "organizations", None, duration_s=900)

    for _ in range(3):
        factory().list_roots()

    # THEN each call found them close to expiry and assumed the role again
    assert assumed["AssumeRole"] == 3


def test_role_outside_the_management_account_is_a_failure(org: Org, central: boto3.Session) -> None:
    member_role = f"arn:aws:iam::{org.id_of('web-prod')}:role/events2panther-org-lookup"
    for role in (f"arn:aws:iam::{CENTRAL_ID}:role/x", member_role):
        source = OrganizationsSource(organizations_client_factory(central, role))
        with pytest.raises(AccountLookupError, match="management account"):
            source.load()


def test_factory_error_becomes_account_lookup_error(org: Org, central: boto3.Session) -> None:
    factory = CountingFactory(organizations_client_factory(central, org.lookup_role))
    factory.broken = access_denied("AssumeRole")

    with pytest.raises(AccountLookupError, match="AccessDenied") as caught:
        OrganizationsSource(factory).load()

    assert caught.value.__cause__ is factory.broken


# --- the directory in front of Organizations -------------------------------------------------


def directory_over(
    org: Org, central: boto3.Session, ttl_s: float = 3600.0
) -> tuple[AccountDirectory, CountingFactory, FakeClock]:
    factory = CountingFactory(organizations_client_factory(central, org.lookup_role))
    clock = FakeClock()
    directory = AccountDirectory(OrganizationsSource(factory, SELECTED_TAGS), ttl_s, clock)
    return directory, factory, clock


def test_many_lookups_of_known_accounts_make_one_listing(org: Org, central: boto3.Session) -> None:
    directory, factory, _ = directory_over(org, central)

    for _ in range(5):
        for account_id, expected in org.accounts.items():
            assert directory.lookup(account_id) == expected

    assert factory.calls["ListAccounts"] == 1
    assert directory.stats.reloads == 1
    assert directory.stats.misses == 0


def test_a_miss_reloads_once_and_finds_a_new_account(fresh_org: Org, central: boto3.Session) -> None:
    directory, factory, clock = directory_over(fresh_org, central)
    directory.lookup(MGMT_ID)
    newcomer = fresh_org.add_account("newcomer", "Root/Sandbox", {"team": "new"})
    clock.now += 61

    assert directory.lookup(newcomer) == fresh_org.accounts[newcomer]
    assert directory.lookup(newcomer) == fresh_org.accounts[newcomer]

    assert factory.calls["ListAccounts"] == 2


def test_an_unknown_id_does_not_reload_again_within_the_interval(org: Org, central: boto3.Session) -> None:
    directory, factory, clock = directory_over(org, central)
    directory.lookup(MGMT_ID)
    clock.now += 61

    # the first miss reloads once, then the id is negatively cached for the interval
    for step in range(10):
        assert directory.lookup(OUTSIDER_ID) == AccountInfo(OUTSIDER_ID)
        clock.now += 5
        assert factory.calls["ListAccounts"] == 2, f"reloaded again at step {step}"
    clock.now += 20  # now past the interval since the last reload

    directory.lookup(OUTSIDER_ID)

    assert factory.calls["ListAccounts"] == 3
    assert directory.stats.misses == 11


def test_invalidate_reloads_and_sees_a_moved_account(fresh_org: Org, central: boto3.Session) -> None:
    directory, factory, clock = directory_over(fresh_org, central)
    web = fresh_org.id_of("web-prod")
    assert directory.lookup(web).ou_path == "Root/Workloads/Prod"
    fresh_org.mgmt.move_account(
        AccountId=web,
        SourceParentId=fresh_org.ou_ids["Root/Workloads/Prod"],
        DestinationParentId=fresh_org.root_id,
    )
    clock.now += 120
    assert directory.lookup(web).ou_path == "Root/Workloads/Prod"  # cached: TTL not reached
    assert factory.calls["ListAccounts"] == 1

    directory.invalidate()

    assert directory.lookup(web).ou_path == "Root"
    assert factory.calls["ListAccounts"] == 2


def test_a_burst_of_invalidations_costs_one_listing_per_interval(org: Org, central: boto3.Session) -> None:
    directory, factory, clock = directory_over(org, central)
    directory.lookup(MGMT_ID)

    for _ in range(20):
        directory.invalidate()
        directory.lookup(MGMT_ID)
        clock.now += 1
    assert factory.calls["ListAccounts"] == 1
    clock.now += 60
    directory.lookup(MGMT_ID)

    assert factory.calls["ListAccounts"] == 2


def test_ttl_expiry_reloads(org: Org, central: boto3.Session) -> None:
    directory, factory, clock = directory_over(org, central, ttl_s=300)
    directory.lookup(MGMT_ID)
    clock.now += 299
    directory.lookup(MGMT_ID)
    assert factory.calls["ListAccounts"] == 1

    clock.now += 1
    directory.lookup(MGMT_ID)

    assert factory.calls["ListAccounts"] == 2


def test_failed_reload_keeps_stale_data_and_backs_off(org: Org, central: boto3.Session) -> None:
    directory, factory, clock = directory_over(org, central, ttl_s=300)
    payments = org.id_of("payments-prod")
    assert directory.lookup(payments).name == "payments-prod"
    factory.broken = access_denied("AssumeRole")
    clock.now += 300

    assert directory.lookup(payments) == org.accounts[payments]  # stale, still named
    assert directory.lookup(OUTSIDER_ID) == AccountInfo(OUTSIDER_ID)
    assert directory.stats.failures == 1
    clock.now += 59
    directory.lookup(payments)
    assert directory.stats.failures == 1  # backing off: no attempt within the interval

    factory.broken = None
    clock.now += 1
    assert directory.lookup(payments).name == "payments-prod"
    assert directory.stats.reloads == 2
    assert factory.calls["ListAccounts"] == 2


def test_role_outside_the_management_account_gives_ids_only(org: Org, central: boto3.Session) -> None:
    source = OrganizationsSource(organizations_client_factory(central, f"arn:aws:iam::{CENTRAL_ID}:role/x"))
    directory = AccountDirectory(source, 3600, FakeClock())

    info = directory.lookup(org.id_of("payments-prod"))

    assert info == AccountInfo(org.id_of("payments-prod"))
    assert not info.known
    assert directory.stats.failures == 1


# --- the wiring the pipeline uses ------------------------------------------------------------


def test_build_directory_with_role_reads_organizations(org: Org, central: boto3.Session) -> None:
    directory = build_directory(
        role_arn=org.lookup_role, accounts_file=None, ttl_s=3600, tag_keys=SELECTED_TAGS, base_session=central
    )

    for account_id, expected in org.accounts.items():
        assert directory.lookup(account_id) == expected


def test_build_directory_file_overrides_organizations(
    org: Org, central: boto3.Session, tmp_path: Path
) -> None:
    payments, web = org.id_of("payments-prod"), org.id_of("web-prod")
    partner = "444444444444"
    accounts_file = tmp_path / "accounts.json"
    accounts_file.write_text(
        json.dumps(
            {
                "accounts": [
                    {"id": payments, "alias": "acme-payments", "tags": {"tier": "1"}},
                    {"id": web, "name": "storefront"},
                    {"id": partner, "name": "partner-audit", "ou_path": "Outside"},
                ]
            }
        ),
        encoding="utf-8",
    )

    directory = build_directory(
        role_arn=org.lookup_role,
        accounts_file=str(accounts_file),
        file_mode="override",
        ttl_s=3600,
        tag_keys=SELECTED_TAGS,
        base_session=central,
    )

    expected_payments = org.accounts[payments]
    assert directory.lookup(payments) == AccountInfo(
        payments,
        expected_payments.name,
        "acme-payments",
        expected_payments.ou_path,
        {**expected_payments.tags, "tier": "1"},
        "ACTIVE",
    )
    assert directory.lookup(web).name == "storefront"
    assert directory.lookup(web).ou_path == org.accounts[web].ou_path
    assert directory.lookup(partner) == AccountInfo(partner, "partner-audit", ou_path="Outside")
    assert directory.lookup(MGMT_ID) == org.accounts[MGMT_ID]


def test_the_role_client_shares_the_base_sessions_data_loader_not_its_credentials() -> None:
    """A new botocore loader would parse botocore's endpoint and partition files again (~100 ms of
    the first invocation); the role's session takes the base session's, credentials stay its own."""
    from handler.runtime import BotocoreSession

    for base in (boto3.Session(region_name="us-east-1"), BotocoreSession()):
        inner = base._session if isinstance(base, boto3.Session) else base.botocore_session
        client = organizations_client_factory(base, "arn:aws:iam::111111111111:role/lookup", "us-east-1")()
        assert client._loader is inner.get_component("data_loader")
        assert client._request_signer._credentials.method == "events2panther-assume-role"
