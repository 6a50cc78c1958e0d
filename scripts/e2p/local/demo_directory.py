"""The demo's account directory phase: aliases set in the accounts, the scheduled refresh run in-process.

In AWS the central stack's schedule rule runs the directory refresh every hour, and Organizations
events (CreateAccountResult...) ask it for the accounts they name. The local AWS runs no schedule
and no function, so the demo plays both through the scheduled function it hosts in-process
(scheduled_host.py): the first scheduled run after the deploy, the request the new account's
creation makes, and the asynchronous requests the forwarder queued (an account it did not know),
taken from the local Lambda's queue of asynchronous invocations (fidelity/lambda_async.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import boto3

from e2p.local.demo_org import MANAGEMENT_ALIAS, DemoOrganization, demo_alias, set_account_alias
from e2p.local.fidelity import lambda_async
from e2p.local.scheduled_host import ScheduledFunctionHost
from handler.enrichment.snapshot import Snapshot, decode
from handler.enrichment.snapshot_source import parse_location

TASK = "directory-refresh"


def set_demo_aliases(
    org: DemoOrganization,
    management: boto3.Session,
    session_of: Callable[[str], boto3.Session],
    endpoint: str,
) -> dict[str, str]:
    """Give every demo account (and the management account) its IAM alias; account id -> alias."""
    aliases = {account.account_id: demo_alias(account.name) for account in org.accounts}
    for account_id, alias in aliases.items():
        set_account_alias(session_of(account_id).client("iam", endpoint_url=endpoint), alias)
    set_account_alias(management.client("iam", endpoint_url=endpoint), MANAGEMENT_ALIAS)
    aliases[org.management_account] = MANAGEMENT_ALIAS
    return aliases


class DemoDirectory:
    def __init__(
        self,
        central: boto3.Session,
        endpoint: str,
        outputs: Mapping[str, str],
        region: str,
        say: Callable[[str], None],
    ) -> None:
        self._central = central
        self._endpoint = endpoint
        self._region = region
        self._say = say
        self._snapshot_uri = outputs["DirectorySnapshotUri"]
        self.host = ScheduledFunctionHost.from_deployment(
            central, endpoint, outputs["ScheduledFunctionName"], region
        )
        self.requested = 0

    def refresh(self, accounts: Iterable[str] = (), reason: str = "schedule") -> dict[str, Any]:
        event: dict[str, Any] = {"task": TASK, "reason": reason}
        wanted = sorted(accounts)
        if wanted:
            event["accounts"] = wanted
        summary = self.host.invoke(event)
        failures = summary.get("alias_failures") or {}
        self._say(
            f"directory refresh ({reason}): {summary['accounts']} accounts, "
            f"{summary['aliases_resolved']} aliases, {summary['aliases_read']} read"
            + (f", failures {failures}" if failures else "")
        )
        return summary

    def run_requested(self) -> int:
        """Run the refreshes the forwarder asked for (asynchronous invokes queued in the local Lambda)."""
        payloads = lambda_async.take(self.host.deployed.name)
        for payload in payloads:
            self.refresh(payload.get("accounts") or (), str(payload.get("reason", "requested")))
        self.requested += len(payloads)
        return len(payloads)

    def snapshot(self) -> Snapshot:
        location = parse_location(self._snapshot_uri)
        s3 = self._central.client("s3", endpoint_url=self._endpoint, region_name=self._region)
        return decode(s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read())

    def aliases_resolved(self) -> int:
        """Accounts whose alias the refresh read from the account itself (the snapshot holds no file)."""
        return sum(
            1 for e in self.snapshot().accounts.values() if e.alias and e.alias_read_at and not e.alias_error
        )
