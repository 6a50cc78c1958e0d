"""IAM account aliases, read in each account through its alias-reader role.

`iam:ListAccountAliases` answers only about the caller's own account, so the refresh assumes the
role the member template creates once per account (deterministic name, only that action, trusting
only the refresher's role) and asks. Accounts are read `concurrency` at a time; each read is one
AssumeRole plus one ListAccountAliases. A failure is that account's alone: it is answered as "no
alias read" with a reason (the error code: AccessDenied when the role is missing or does not trust
the refresher, a throttling code when retries ran out...), counted and logged, and the rest go on.

An account has at most one alias (IAM: "you can have only one"); the first listed is taken.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handler.exceptions import aws_error_code

logger = logging.getLogger(__name__)

SESSION_NAME: Final = "events2panther-alias-reader"
# The shortest session STS grants: the role is used for one call.
SESSION_SECONDS: Final = 900
CLIENT_CONFIG: Final = Config(
    retries={"mode": "adaptive", "max_attempts": 6}, connect_timeout=5, read_timeout=10
)


@dataclass(frozen=True, slots=True)
class AliasRead:
    account_id: str
    alias: str = ""
    error: str = ""  # empty: the read succeeded (an account without alias has alias "")

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class AliasReport:
    reads: dict[str, AliasRead]
    failures: Counter[str]  # reason -> accounts

    @property
    def resolved(self) -> int:
        return sum(1 for read in self.reads.values() if read.ok and read.alias)


def role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


class AliasReader:
    """`sts` is the refresher's STS client; `iam_client(credentials)` makes an IAM client acting
    with the assumed role's credentials (AccessKeyId, SecretAccessKey, SessionToken)."""

    def __init__(
        self,
        sts: Any,
        iam_client: Callable[[dict[str, Any]], Any],
        role_name: str,
        partition: str = "aws",
        concurrency: int = 16,
    ) -> None:
        self._sts = sts
        self._iam_client = iam_client
        self._role_name = role_name
        self._partition = partition
        self._concurrency = max(1, concurrency)

    def read(self, account_ids: Iterable[str]) -> AliasReport:
        wanted = sorted(set(account_ids))
        if not wanted:
            return AliasReport({}, Counter())
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(wanted))) as pool:
            reads = {read.account_id: read for read in pool.map(self._read_one, wanted)}
        failures = Counter(read.error.split(":", 1)[0] for read in reads.values() if not read.ok)
        for reason, count in failures.most_common():
            logger.warning("account alias not read in %d account(s): %s", count, reason)
        return AliasReport(reads, failures)

    def _read_one(self, account_id: str) -> AliasRead:
        arn = role_arn(self._partition, account_id, self._role_name)
        try:
            credentials = self._sts.assume_role(
                RoleArn=arn, RoleSessionName=SESSION_NAME, DurationSeconds=SESSION_SECONDS
            )["Credentials"]
        except ClientError as exc:
            return AliasRead(account_id, error=f"{aws_error_code(exc, 'ClientError')}: cannot assume {arn}")
        except BotoCoreError as exc:
            return AliasRead(account_id, error=f"{type(exc).__name__}: cannot assume {arn}")
        try:
            aliases = self._iam_client(credentials).list_account_aliases().get("AccountAliases") or []
        except ClientError as exc:
            return AliasRead(
                account_id, error=f"{aws_error_code(exc, 'ClientError')}: ListAccountAliases refused"
            )
        except BotoCoreError as exc:
            return AliasRead(account_id, error=f"{type(exc).__name__}: ListAccountAliases failed")
        return AliasRead(account_id, alias=str(aliases[0]) if aliases else "")
