"""What the product knows about an AWS account, for the node and the extra fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AccountInfo:
    account_id: str
    name: str = ""
    alias: str = ""
    ou_path: str = ""  # e.g. "Root/Workloads/Prod"
    tags: Mapping[str, str] = field(default_factory=dict)
    # Organizations' account State (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED...), "" when unknown.
    # Accounts are kept whatever their state: an event from a closing account still deserves its name.
    state: str = ""

    @property
    def label(self) -> str:
        """How operators name the account: its name, else its IAM alias, else its id."""
        return self.name or self.alias or self.account_id

    @property
    def known(self) -> bool:
        return bool(self.name or self.alias)
