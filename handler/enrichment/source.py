"""The one thing every account source does: give the whole directory in one call."""

from __future__ import annotations

from typing import Protocol

from handler.enrichment.account import AccountInfo


class AccountSource(Protocol):
    def load(self) -> dict[str, AccountInfo]:
        """Every account the source knows, by id. Raises AccountLookupError when it cannot tell."""
        ...


class EmptySource:
    """Neither a lookup role nor an accounts file: events go out with the account id alone."""

    def load(self) -> dict[str, AccountInfo]:
        return {}
