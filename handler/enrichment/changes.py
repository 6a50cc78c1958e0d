"""Which accounts an account-directory change event is about, for a targeted refresh.

The pipeline calls this only for events `handler.mappers.organizations.changes_account_directory`
accepts (successful writes that change names, OU paths, tags or aliases). The answer:
- IAM CreateAccountAlias / DeleteAccountAlias: the account the call was made in (the envelope's
  `account`); its alias is read again at once, whatever the alias refresh interval says.
- Organizations and Account calls naming one account (MoveAccount, TagResource on an account,
  CloseAccount, PutAccountName with an AccountId, CreateAccountResult's new account id...): that
  account. PutAccountName without an AccountId renames the caller's own account.
- Anything else (an OU renamed, a handshake accepted, Control Tower enrolment): the whole
  directory, names and OU paths (aliases keep their own, slower interval).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.cloudtrail_record import CloudTrailRecord

_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")
ALIAS_EVENTS: Final = frozenset({"CreateAccountAlias", "DeleteAccountAlias"})
ACCOUNT_KEYS: Final = ("accountId", "resourceId", "targetId")
SELF_NAMING_EVENTS: Final = frozenset({"PutAccountName"})


@dataclass(frozen=True, slots=True)
class RefreshScope:
    accounts: tuple[str, ...]  # empty: the whole directory
    reason: str


def refresh_scope(envelope: Envelope) -> RefreshScope:
    record = CloudTrailRecord(envelope)
    event = record.event_name
    if event in ALIAS_EVENTS:
        return RefreshScope(_valid(envelope.account), f"{event} in {envelope.account}")
    for key in ACCOUNT_KEYS:
        found = _valid(jv.text(record.request.get(key)))
        if found:
            return RefreshScope(found, f"{event} of {found[0]}")
    created = _valid(jv.text(jv.at(record.service_details, "createAccountStatus", "accountId")))
    if created:
        return RefreshScope(created, f"{event} of {created[0]}")
    if event in SELF_NAMING_EVENTS:
        return RefreshScope(_valid(envelope.account), f"{event} in {envelope.account}")
    return RefreshScope((), event or envelope.detail_type)


def _valid(account_id: str) -> tuple[str, ...]:
    return (account_id,) if _ACCOUNT_ID.match(account_id) else ()
