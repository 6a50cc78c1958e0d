"""The account directory out of band: the scheduled refresh writes one snapshot, forwarders read it.

moto builds the organisation (management account), every account's IAM alias is set in that
account, the refresh runs in the central account with the function's credentials, reads
Organizations through the lookup role and each alias through the account's alias-reader role
(moto maps assumed-role credentials to the role's account, so an alias read back proves the
read happened in that account), and writes the snapshot to S3. The forwarder side reads it with
one GetObject and never calls Organizations.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fake_aws import fake_credentials
from moto import mock_aws

from handler.config import load_refresh_settings
from handler.enrichment.account import NodeNaming
from handler.enrichment.alias_reader import AliasReader
from handler.enrichment.directory import AccountDirectory
from handler.enrichment.refresh import Refresher, SnapshotStore
from handler.enrichment.refresh_request import RefreshRequester
from handler.enrichment.snapshot import decode
from handler.enrichment.snapshot_source import S3SnapshotSource, parse_location
from handler.scheduled import app
from handler.scheduled.directory_refresh import build_refresher, refresh

pytestmark = pytest.mark.functional

CENTRAL = "123456789012"  # moto's default account: the fake base credentials map to it
REGION = "eu-west-1"
BUCKET = "e2p-directory"
LOCATION = f"s3://{BUCKET}/directory/accounts.json.gz"
ALIAS_ROLE = "events2panther-alias-reader"
# name -> (OU path below Root, alias set in the account, tags)
ACCOUNTS = {
    "web-prod": ("Workloads/Prod", "acme-web-prod", {"team": "web"}),
    "payments-prod": ("Workloads/Prod/Payments", "acme-payments", {"team": "payments"}),
    "sandbox": ("Sandbox", "", {}),
}
_management_ids = (f"3333333{n:05d}" for n in itertools.count())


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    with fake_credentials(REGION), mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield


def session_in(account_id: str) -> boto3.Session:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/admin", RoleSessionName="setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


class World:
    """An organisation of its own per test (a fresh management account) and a snapshot key of its own."""

    def __init__(self) -> None:
        self.mgmt_id = next(_management_ids)
        self.mgmt = session_in(self.mgmt_id).client("organizations")
        self.mgmt.create_organization(FeatureSet="ALL")
        self.root = self.mgmt.list_roots()["Roots"][0]["Id"]
        self.ous: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.location = f"s3://{BUCKET}/{self.mgmt_id}/accounts.json.gz"
        for name, (path, alias, tags) in ACCOUNTS.items():
            self.add(name, path, alias, tags)

    def ou(self, path: str) -> str:
        parent = self.root
        for depth, name in enumerate(path.split("/"), start=1):
            key = "/".join(path.split("/")[:depth])
            if key not in self.ous:
                self.ous[key] = self.mgmt.create_organizational_unit(ParentId=parent, Name=name)[
                    "OrganizationalUnit"
                ]["Id"]
            parent = self.ous[key]
        return parent

    def add(self, name: str, path: str, alias: str, tags: dict[str, str]) -> str:
        status = self.mgmt.create_account(
            AccountName=name,
            Email=f"{name}@example.com",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        account_id = str(status["CreateAccountStatus"]["AccountId"])
        self.mgmt.move_account(
            AccountId=account_id, SourceParentId=self.root, DestinationParentId=self.ou(path)
        )
        if alias:
            session_in(account_id).client("iam").create_account_alias(AccountAlias=alias)
        self.ids[name] = account_id
        return account_id

    def environ(self, **extra: str) -> dict[str, str]:
        return {
            "E2P_DIRECTORY_SNAPSHOT": self.location,
            "E2P_ORG_LOOKUP_ROLE_ARN": f"arn:aws:iam::{self.mgmt_id}:role/events2panther-org-lookup",
            "E2P_ACCOUNT_TAG_KEYS": "team",
            "E2P_ALIAS_ROLE_NAME": ALIAS_ROLE,
            **extra,
        }

    def refresher(self, **extra: str) -> Refresher:
        return build_refresher(
            load_refresh_settings(self.environ(**extra)), boto3.Session(region_name=REGION)
        )

    def snapshot(self) -> Any:
        location = parse_location(self.location)
        blob = boto3.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        return decode(blob)


@pytest.fixture
def world(aws: None) -> World:
    return World()


class CountingSts:
    """The refresher's STS client, counting AssumeRole calls and refusing the accounts in `refuse`."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self._sts = boto3.client("sts", region_name=REGION)
        self.refuse = refuse or set()
        self.assumed: Counter[str] = Counter()

    def assume_role(self, **kwargs: Any) -> Any:
        account = kwargs["RoleArn"].split(":")[4]
        self.assumed[account] += 1
        if account in self.refuse:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole")
        return self._sts.assume_role(**kwargs)


def with_sts(refresher: Refresher, sts: CountingSts, clock: Any = None) -> Refresher:
    def iam_client(creds: Any) -> Any:
        return boto3.client(
            "iam",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    return Refresher(
        store=refresher.store,
        organizations=refresher.organizations,
        aliases=AliasReader(sts, iam_client, ALIAS_ROLE, concurrency=4),
        tag_keys=refresher.tag_keys,
        alias_max_age_s=refresher.alias_max_age_s,
        clock=clock or refresher.clock,
    )


def test_a_full_refresh_writes_names_paths_tags_and_each_accounts_own_alias(world: World) -> None:
    assert app.TASK_MODULES["directory-refresh"] == "handler.scheduled.directory_refresh"
    summary = refresh(world.refresher(), {"task": "directory-refresh"}).summary()
    snapshot = world.snapshot()
    assert set(snapshot.accounts) == {world.mgmt_id, *world.ids.values()}
    for name, (path, alias, tags) in ACCOUNTS.items():
        entry = snapshot.accounts[world.ids[name]]
        assert (entry.name, entry.ou_path, entry.alias, dict(entry.tags)) == (
            name,
            f"Root/{path}",
            alias,
            tags,
        )
        assert entry.alias_read_at > 0 and entry.alias_error == ""
    assert summary["aliases_resolved"] == 2  # web-prod and payments-prod; sandbox has none
    assert summary["aliases_read"] == len(ACCOUNTS) + 1  # and the management account


def test_aliases_are_read_again_only_when_older_than_their_interval(world: World) -> None:
    now = [1_000_000.0]
    sts = CountingSts()
    refresher = with_sts(world.refresher(E2P_ALIAS_REFRESH_SECONDS="3600"), sts, clock=lambda: now[0])
    refresher.full()
    assert sum(sts.assumed.values()) == len(ACCOUNTS) + 1
    now[0] += 1800  # names every run, aliases not yet
    refresher.full()
    assert sum(sts.assumed.values()) == len(ACCOUNTS) + 1
    session_in(world.ids["sandbox"]).client("iam").create_account_alias(AccountAlias="acme-sandbox")
    now[0] += 1800
    refresher.full()
    assert sum(sts.assumed.values()) == 2 * (len(ACCOUNTS) + 1)
    assert world.snapshot().accounts[world.ids["sandbox"]].alias == "acme-sandbox"


def test_one_account_failing_is_counted_and_never_blocks_the_others(world: World) -> None:
    sts = CountingSts(refuse={world.ids["web-prod"]})
    report = with_sts(world.refresher(), sts).full()
    assert report.alias_failures == {"AccessDenied": 1}
    snapshot = world.snapshot()
    refused = snapshot.accounts[world.ids["web-prod"]]
    assert refused.alias == "" and refused.alias_error.startswith("AccessDenied")
    assert refused.name == "web-prod"  # the name still comes from Organizations
    assert snapshot.accounts[world.ids["payments-prod"]].alias == "acme-payments"


def test_a_targeted_refresh_adds_a_new_account_and_drops_one_that_left(world: World) -> None:
    refresher = world.refresher()
    refresher.full()
    new_id = world.add("payments-dr", "Workloads/Prod/Payments", "acme-payments-dr", {"team": "payments"})
    gone = world.ids["sandbox"]
    world.mgmt.remove_account_from_organization(AccountId=gone)
    report = refresh(refresher, {"task": "directory-refresh", "accounts": [new_id, gone]})
    snapshot = world.snapshot()
    added = snapshot.accounts[new_id]
    assert (added.name, added.ou_path, added.alias, dict(added.tags)) == (
        "payments-dr",
        "Root/Workloads/Prod/Payments",
        "acme-payments-dr",
        {"team": "payments"},
    )
    assert gone not in snapshot.accounts and report.removed == 1
    assert snapshot.accounts[world.ids["web-prod"]].alias == "acme-web-prod"  # the rest kept


def test_two_refreshes_writing_at_once_keep_both_updates(world: World) -> None:
    refresher = world.refresher()
    refresher.full()
    store = refresher.store
    new_id = world.add("late", "Sandbox", "acme-late", {})

    class RacingStore(SnapshotStore):
        """Lets a targeted refresh write between this full refresh's read and its write."""

        raced = False

        def write(self, snapshot: Any, etag: str) -> int:
            if not self.raced:
                self.raced = True
                refresh(refresher, {"task": "directory-refresh", "accounts": [new_id]})
            return store.write(snapshot, etag)

    racing = Refresher(
        store=RacingStore(boto3.client("s3"), parse_location(world.location)),
        organizations=refresher.organizations,
        aliases=refresher.aliases,
        tag_keys=refresher.tag_keys,
    )
    report = racing.full()
    assert report.write_attempts == 2
    assert world.snapshot().accounts[new_id].alias == "acme-late"


def test_the_forwarder_reads_the_snapshot_in_one_call_and_asks_for_unknown_accounts(world: World) -> None:
    world.refresher().full()
    invoked: list[dict[str, Any]] = []

    class FakeLambda:
        def invoke(self, **kwargs: Any) -> dict[str, int]:
            invoked.append({"type": kwargs["InvocationType"], **json.loads(kwargs["Payload"])})
            return {"StatusCode": 202}

    session = boto3.Session(region_name=REGION)
    calls: Counter[str] = Counter()
    session.events.register("before-call", lambda model, **_: calls.update([model.name]))
    s3 = session.client("s3")
    directory = AccountDirectory(
        S3SnapshotSource(lambda: s3, parse_location(world.location)),
        ttl_s=300,
        naming=NodeNaming.ALIAS_OR_NAME,
        requester=RefreshRequester(FakeLambda, "e2p-scheduled"),
    )
    web = directory.lookup(world.ids["web-prod"])
    assert (web.name, web.alias, web.label) == ("web-prod", "acme-web-prod", "acme-web-prod")
    assert directory.lookup(world.ids["sandbox"]).label == "sandbox"  # no alias: the name
    assert calls == Counter({"GetObject": 1})  # one call, and no Organizations at all
    outsider = directory.lookup("999999999999")
    directory.lookup("999999999999")
    assert outsider.label == "999999999999" and not outsider.known
    assert invoked == [
        {
            "type": "Event",
            "task": "directory-refresh",
            "reason": "account not in the directory snapshot",
            "accounts": ["999999999999"],
        }
    ]
    assert calls == Counter({"GetObject": 1})  # a miss never reloads inline


def test_plain_moto_keeps_one_alias_per_account(aws: None) -> None:
    # The local mode relies on moto answering ListAccountAliases per account (no fidelity patch).
    first, second = "444444444401", "444444444402"
    session_in(first).client("iam").create_account_alias(AccountAlias="first-alias")
    assert session_in(first).client("iam").list_account_aliases()["AccountAliases"] == ["first-alias"]
    assert session_in(second).client("iam").list_account_aliases()["AccountAliases"] == []


def test_without_a_snapshot_yet_misses_ask_for_one_full_refresh(aws: None) -> None:
    asked: list[dict[str, Any]] = []

    class FakeLambda:
        def invoke(self, **kwargs: Any) -> dict[str, int]:
            asked.append(json.loads(kwargs["Payload"]))
            return {"StatusCode": 202}

    s3 = boto3.client("s3", region_name=REGION)
    directory = AccountDirectory(
        S3SnapshotSource(lambda: s3, parse_location(f"s3://{BUCKET}/not-written-yet.json.gz")),
        ttl_s=300,
        requester=RefreshRequester(FakeLambda, "e2p-scheduled"),
    )
    for account in ("111111111111", "222222222222", "333333333333"):
        assert directory.lookup(account).label == account
    assert asked == [{"task": "directory-refresh", "reason": "no directory snapshot yet"}]


def test_a_run_reads_at_most_its_share_of_aliases_oldest_first(world: World) -> None:
    now = [2_000_000.0]
    sts = CountingSts()
    capped = with_sts(world.refresher(E2P_ALIAS_READS_PER_RUN="2"), sts, clock=lambda: now[0])
    capped = Refresher(
        capped.store,
        capped.organizations,
        capped.aliases,
        capped.tag_keys,
        capped.alias_max_age_s,
        capped.clock,
        2,
    )
    everyone = {world.mgmt_id, *world.ids.values()}
    capped.full()
    first = set(sts.assumed)
    assert len(first) == 2
    now[0] += 60
    capped.full()
    assert len(set(sts.assumed)) == 4 and set(sts.assumed) <= everyone  # the next two, never the same twice
    assert max(sts.assumed.values()) == 1
    snapshot = world.snapshot()
    assert sum(1 for e in snapshot.accounts.values() if e.alias_read_at) == 4
