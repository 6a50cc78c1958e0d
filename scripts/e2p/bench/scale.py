"""Scale figures for docs/performance.md: `python -m e2p.bench.scale [--accounts N] [--ous N]`.

Two questions a 1,000-account organisation asks of the handler's account directory:
- memory: how much a directory of N AccountInfo entries holds (tracemalloc, fresh strings);
- refresh: how long one full `OrganizationsSource.load()` takes, and how many Organizations calls
  it makes (ListAccounts pages, the OU walk, one ListTagsForResource per account when tag keys
  are configured), against moto in this process: no AWS, fake credentials. moto answers without
  network latency or throttling, so the wall time is a floor; the call count is what AWS would see.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from collections import Counter
from typing import Any, Final

FAKE_AWS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
TAG_KEYS: Final = ("team", "environment")
TOP_LEVEL_OUS: Final = ("Workloads", "Security", "Sandbox", "Infrastructure")


def directory_bytes(entries: list[dict[str, Any]]) -> int:
    """Bytes a dict of AccountInfo keeps alive, strings and tag dicts included: everything is
    decoded afresh while traced, and the decoding's own containers are dropped before reading."""
    from handler.enrichment.account import AccountInfo

    text = json.dumps(entries)
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    fresh = json.loads(text)
    directory = {
        entry["id"]: AccountInfo(
            account_id=entry["id"],
            name=entry["name"],
            ou_path=entry["ou_path"],
            tags=entry["tags"],
            state=entry["state"],
        )
        for entry in fresh
    }
    del fresh
    size = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    del directory
    return int(size)


def build_organisation(client: Any, accounts: int, ous_per_top: int) -> None:
    root = client.list_roots()["Roots"][0]["Id"]
    leaves = []
    for top in TOP_LEVEL_OUS:
        parent = client.create_organizational_unit(ParentId=root, Name=top)["OrganizationalUnit"]["Id"]
        for index in range(ous_per_top):
            unit = client.create_organizational_unit(ParentId=parent, Name=f"{top}-{index}")
            leaves.append(unit["OrganizationalUnit"]["Id"])
    for index in range(accounts):
        status = client.create_account(Email=f"bench-{index}@example.com", AccountName=f"bench-{index:04d}")
        account_id = status["CreateAccountStatus"]["AccountId"]
        client.move_account(
            AccountId=account_id, SourceParentId=root, DestinationParentId=leaves[index % len(leaves)]
        )
        client.tag_resource(
            ResourceId=account_id,
            Tags=[{"Key": "team", "Value": f"team-{index % 17}"}, {"Key": "environment", "Value": "prod"}],
        )


def measure(accounts: int, ous_per_top: int) -> dict[str, Any]:
    os.environ.update(FAKE_AWS)
    import boto3
    from moto import mock_aws

    from handler.enrichment.organizations_source import OrganizationsSource

    with mock_aws():
        client = boto3.client("organizations", region_name="us-east-1")
        client.create_organization(FeatureSet="ALL")
        build_organisation(client, accounts, ous_per_top)
        calls: Counter[str] = Counter()

        def count(event_name: str, **_kwargs: Any) -> None:
            calls[event_name.rsplit(".", 1)[-1]] += 1

        client.meta.events.register("before-call.organizations", count)
        source = OrganizationsSource(lambda: client, TAG_KEYS)
        started = time.perf_counter()
        loaded = source.load()
        refresh_s = time.perf_counter() - started
    entries = [
        {
            "id": info.account_id,
            "name": info.name,
            "ou_path": info.ou_path,
            "tags": dict(info.tags),
            "state": info.state,
        }
        for info in loaded.values()
    ]
    size = directory_bytes(entries)
    return {
        "accounts": len(loaded),
        "ous": len(TOP_LEVEL_OUS) * (1 + ous_per_top),
        "refresh_s": round(refresh_s, 3),
        "calls": dict(sorted(calls.items())),
        "directory_bytes": size,
        "bytes_per_account": round(size / len(loaded)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--ous", type=int, default=9, help="OUs under each of the 4 top-level OUs")
    options = parser.parse_args()
    print(json.dumps(measure(options.accounts, options.ous)))


if __name__ == "__main__":
    main()
