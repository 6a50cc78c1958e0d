"""The watchdog's reads and writes of the coverage table (one table, key `pk`, TTL `expiration`).

    pair#<account>#<region>   last_seen (the forwarder's heartbeat step), first_expected (the watchdog)
    alert#<kind>#<account>#<region>   an open watchdog alert: its event detail, so the clear repeats it

One paginated Scan reads both (17,000 pairs at 1,000 accounts x 17 regions: a few MB, read once
per run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handler.coverage.evaluate import ALERT_KEY_PREFIX, Condition
from handler.coverage.heartbeat import PAIR_KEY_PREFIX, PAIR_RETENTION_S, CoverageStoreError, pair_key

# An open alert outlives its last confirmation by this much; a watchdog switched off for longer
# forgets it (and so never sends its clear).
ALERT_RETENTION_S: Final = 31 * 86400


@dataclass(slots=True)
class TableState:
    last_seen: dict[tuple[str, str], int] = field(default_factory=dict)
    first_expected: dict[tuple[str, str], int] = field(default_factory=dict)
    open_alerts: dict[str, Condition] = field(default_factory=dict)


def _number(item: Mapping[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(float(value)) if value is not None else None


def _condition(item: Mapping[str, Any]) -> Condition | None:
    try:
        detail = json.loads(item["detail"]["S"])
        return Condition(
            str(item["kind"]["S"]), str(item["account_id"]["S"]), str(item["region"]["S"]), detail
        )
    except (KeyError, ValueError, TypeError):
        return None


class CoverageStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def read(self) -> TableState:
        state = TableState()
        try:
            for page in self._client.get_paginator("scan").paginate(TableName=self._table):
                for item in page.get("Items", []):
                    key = item.get("pk", {}).get("S", "")
                    if key.startswith(PAIR_KEY_PREFIX):
                        pair = (item.get("account_id", {}).get("S", ""), item.get("region", {}).get("S", ""))
                        if (seen := _number(item, "last_seen")) is not None:
                            state.last_seen[pair] = seen
                        if (expected := _number(item, "first_expected")) is not None:
                            state.first_expected[pair] = expected
                    elif key.startswith(ALERT_KEY_PREFIX) and (condition := _condition(item)) is not None:
                        state.open_alerts[key] = condition
        except (ClientError, BotoCoreError) as exc:
            raise CoverageStoreError(f"coverage table {self._table}: {exc}") from exc
        return state

    def expect(self, pairs: Iterable[tuple[str, str]], now: int) -> None:
        """Note when each pair was first expected (kept if already there)."""
        for account, region in pairs:
            self._update(
                pair_key(account, region),
                "SET account_id = :a, #region = :r, first_expected = if_not_exists(first_expected, :t), "
                "expiration = if_not_exists(expiration, :e)",
                {
                    ":a": {"S": account},
                    ":r": {"S": region},
                    ":t": {"N": str(now)},
                    ":e": {"N": str(now + PAIR_RETENTION_S)},
                },
            )

    def open(self, condition: Condition, now: int) -> None:
        self._update(
            condition.key,
            "SET kind = :k, account_id = :a, #region = :r, detail = :d, confirmed = :t, expiration = :e",
            {
                ":k": {"S": condition.kind},
                ":a": {"S": condition.account_id},
                ":r": {"S": condition.region},
                ":d": {"S": json.dumps(dict(condition.detail), sort_keys=True)},
                ":t": {"N": str(now)},
                ":e": {"N": str(now + ALERT_RETENTION_S)},
            },
        )

    def close(self, condition: Condition) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key={"pk": {"S": condition.key}})
        except (ClientError, BotoCoreError) as exc:
            raise CoverageStoreError(f"coverage table {self._table}: {exc}") from exc

    def _update(self, key: str, expression: str, values: Mapping[str, Any]) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression=expression,
                ExpressionAttributeNames={"#region": "region"},
                ExpressionAttributeValues=dict(values),
            )
        except (ClientError, BotoCoreError) as exc:
            raise CoverageStoreError(f"coverage table {self._table}: {exc}") from exc
