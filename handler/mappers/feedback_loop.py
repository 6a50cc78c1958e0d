"""The forwarder's own API calls, recognised by WHO made them, so they are never forwarded back.

The forwarder reads its token, decrypts with its key, assumes the lookup and alias-reader roles,
lists the organisation, polls its queue and writes its logs. Each call can come back as a CloudTrail
event; forwarded, it would cause more calls, for ever. Every IAM role of the forwarder has a name
starting with FORWARDER_PREFIX, so the guard is the caller, not the call:
- a session of a role whose name starts with the prefix (sessionContext.sessionIssuer.userName, or
  the role in an assumed-role ARN): the central functions' roles (the central stack's name starts
  with it, `events2panther-central` by default), the lookup role (`events2panther-org-lookup`), the
  member forwarder roles (`events2panther-forwarder-<region>`);
- a successful AssumeRole INTO such a role: their trust policies admit only the forwarder's own
  roles, and the caller of a cross-account AssumeRole is recorded without a role name.
The same call made by anyone else (a human reading the secret, a foreign account assuming a role) is
forwarded: filtering by event name for everyone would hide exactly those. Trade-off: a role someone
names `events2panther-...` is taken for the forwarder's; creating it (iam:CreateRole by someone else)
is itself forwarded. The member pattern applies the role-name guard before anything is sent
(member/template.yaml); this is the second line of defence.
"""

from __future__ import annotations

from typing import Any, Final

from handler.mappers import json_values as jv
from handler.mappers.cloudtrail_record import CloudTrailRecord

FORWARDER_PREFIX: Final = "events2panther-"
ASSUMED_ROLE_MARKER: Final = ":assumed-role/"


def _identity(record: CloudTrailRecord) -> dict[str, Any]:
    return dict(jv.mapping(record.detail.get("userIdentity")))


def _issuer_role(identity: dict[str, Any]) -> str:
    issuer = jv.mapping(jv.mapping(identity.get("sessionContext")).get("sessionIssuer"))
    name = jv.text(issuer.get("userName"))
    if name:
        return name
    arn = jv.text(identity.get("arn"))
    if ASSUMED_ROLE_MARKER in arn:
        return arn.split(ASSUMED_ROLE_MARKER, 1)[1].split("/", 1)[0]
    return ""


def _assumed_role_name(record: CloudTrailRecord) -> str:
    if record.event_name != "AssumeRole" or record.error_code:
        return ""
    arn = jv.text(record.request.get("roleArn"))
    return arn.rsplit(":role/", 1)[1].rsplit("/", 1)[-1] if ":role/" in arn else ""


def own_call(record: CloudTrailRecord) -> str:
    """The reason to filter `record` when one of the forwarder's own principals made it, else ""."""
    role = _issuer_role(_identity(record))
    if role.startswith(FORWARDER_PREFIX):
        who = f"by role {role}"
    else:
        target = _assumed_role_name(record)
        if not target.startswith(FORWARDER_PREFIX):
            return ""
        who = f"into role {target}, which trusts only the forwarder"
    return (
        f"{record.service}:{record.event_name} {who} is the forwarder's own call: "
        "not forwarded (feedback-loop guard)"
    )


# The former name, kept for callers that import it.
own_read_call = own_call
