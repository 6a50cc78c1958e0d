"""What the product knows about an AWS account, for the node and the extra fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class NodeNaming(StrEnum):
    """How the account is named in the Panther node (E2P_NODE_NAME); each falls back to the id.

    - name: the Organizations name, else the IAM alias (the default, as before aliases were read);
    - alias: the IAM alias only (an account without one is named by its id);
    - alias-or-name: the IAM alias, else the Organizations name;
    - id: always the 12-digit id.
    """

    NAME = "name"
    ALIAS = "alias"
    ALIAS_OR_NAME = "alias-or-name"
    ID = "id"


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
    # The operator's choice of node name, set on every entry by the directory that holds them, so
    # that the message composition needs no setting of its own (the choice is deployment-wide).
    naming: NodeNaming = NodeNaming.NAME

    @property
    def label(self) -> str:
        """How the node names the account, by `naming`; never empty (the id is the last resort)."""
        if self.naming is NodeNaming.NAME:
            return self.name or self.alias or self.account_id
        if self.naming is NodeNaming.ALIAS:
            return self.alias or self.account_id
        if self.naming is NodeNaming.ALIAS_OR_NAME:
            return self.alias or self.name or self.account_id
        return self.account_id

    @property
    def known(self) -> bool:
        return bool(self.name or self.alias)
