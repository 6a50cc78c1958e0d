"""A read-only view of the CloudTrail record in `detail` of the "... via CloudTrail" detail-types.

Shared by the CloudTrail, sign-in, Organizations and Control Tower mappers. Real records and the
flattened ones some tools store (requestParameters as a JSON string, eventSource missing) both read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final
from urllib.parse import quote

from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.principal import Principal, principal_from

# Lambda's CloudTrail event names carry the API version: UpdateFunctionConfiguration20150331v2.
_API_VERSION_SUFFIX = re.compile(r"\d{8}(?:v\d+)?$")
CONSOLE_EVENT_URL: Final = "https://console.aws.amazon.com/cloudtrail/home?region={region}#/events/{event_id}"

# requestParameters keys naming the target, most specific first. Values may be ids, names or ARNs.
REQUEST_RESOURCE_KEYS: Final = (
    "bucketName",
    "instanceId",
    "functionName",
    "roleName",
    "userName",
    "groupName",
    "policyArn",
    "keyId",
    "dBInstanceIdentifier",
    "dBClusterIdentifier",
    "dBSnapshotIdentifier",
    "dBClusterSnapshotIdentifier",
    "secretId",
    "trailName",
    "groupId",
    "networkAclId",
    "routeTableId",
    "imageId",
    "snapshotId",
    "volumeId",
    "vpcId",
    "internetGatewayId",
    "tableName",
    "repositoryName",
    "queueUrl",
    "topicArn",
    "logGroupName",
    "stackName",
    "detectorId",
    "configRuleName",
    "configurationRecorderName",
    "deliveryChannelName",
    "projectArn",
    "projectName",
    "clusterName",
    "serviceName",
    "guardrailIdentifier",
    "resolverQueryLogConfigId",
    "resourceArn",
    "resourceId",
    "accountId",
    "targetId",
    "name",
    "names",
    "keyName",
)
# responseElements paths naming what a create call produced.
RESPONSE_RESOURCE_PATHS: Final = (
    ("instancesSet", "items"),
    ("groupId",),
    ("vpc", "vpcId"),
    ("accessKey", "userName"),
    ("user", "userName"),
    ("role", "roleName"),
    ("keyMetadata", "keyId"),
    ("dBInstance", "dBInstanceIdentifier"),
    ("trailARN",),
    ("functionArn",),
)


# What quote(text, safe="") leaves as it is. Regions and event ids are made of these only: one match
# spares quote()'s encoding round trip.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(text: str) -> str:
    return text if _URL_SAFE.fullmatch(text) else quote(text, safe="")


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # short, for the node and the summary
    full: str  # as the record gives it (often an ARN)


def _target_from_value(value: Any) -> Target | None:
    if value is None:
        return None
    if isinstance(value, str):  # the common shape: skip the container checks below
        found = value.strip()
        return Target(short_name(found), found) if found else None
    if isinstance(value, jv.SEQUENCES):
        for item in value:
            # Lists of ids, or of {instanceId: ...} as in instancesSet.items.
            found = jv.first_text(item, "instanceId") if isinstance(item, Mapping) else jv.text(item)
            if found:
                return Target(short_name(found), found)
        return None
    if isinstance(value, Mapping):
        return _target_from_value(value.get("items"))
    found = jv.text(value)
    return Target(short_name(found), found) if found else None


class CloudTrailRecord:
    """The CloudTrail record of an envelope. Every accessor tolerates missing or odd fields.

    The scalars every mapper reads (several times each) are read once, here; the heavier views are
    computed on first use. A record is read-only.
    """

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        detail: Mapping[str, Any] = envelope.detail
        self.detail = detail
        self.event_name: str = jv.text(detail.get("eventName"))
        # The event name without Lambda's API version suffix.
        self.api_name: str = _API_VERSION_SUFFIX.sub("", self.event_name) or self.event_name
        self.event_source: str = jv.text(detail.get("eventSource"))
        # `iam` from iam.amazonaws.com; from the envelope source when the record lacks eventSource.
        self.service: str = (
            self.event_source.split(".", 1)[0] if self.event_source else envelope.source.removeprefix("aws.")
        )
        # `iam:CreateUser`, the IAM-style name operators search for.
        self.action: str = f"{self.service}:{self.api_name or 'unknown'}"
        self.read_only: bool | None = jv.flag(detail.get("readOnly"))
        self.error_code: str = jv.text(detail.get("errorCode"))

    @property
    def error_message(self) -> str:
        return jv.text(self.detail.get("errorMessage"))

    @cached_property
    def principal(self) -> Principal:
        return principal_from(self.detail.get("userIdentity"))

    @cached_property
    def request(self) -> Mapping[str, Any]:
        return jv.mapping(self.detail.get("requestParameters"))

    @cached_property
    def response(self) -> Mapping[str, Any]:
        return jv.mapping(self.detail.get("responseElements"))

    @cached_property
    def service_details(self) -> Mapping[str, Any]:
        return jv.mapping(self.detail.get("serviceEventDetails"))

    @cached_property
    def target(self) -> Target | None:
        """The resource the call acted on: request parameters, then the response, then resources."""
        request = self.request
        for key in REQUEST_RESOURCE_KEYS:
            if key in request:  # most keys are absent: look only at the ones present
                found = _target_from_value(request[key])
                if found is not None:
                    return found
        found = _target_from_value(self.request.get("instancesSet"))
        if found is not None:
            return found
        for path in RESPONSE_RESOURCE_PATHS:
            found = _target_from_value(jv.at(self.response, *path))
            if found is not None:
                return found
        for item in jv.mappings(self.detail.get("resources")):
            arn = jv.first_text(item, "ARN", "arn")
            if arn:
                return Target(short_name(arn), arn)
        if self.envelope.resources:
            first = self.envelope.resources[0]
            return Target(short_name(first), first)
        return None

    @property
    def source_ip(self) -> str:
        return jv.text(self.detail.get("sourceIPAddress"))

    @property
    def console_url(self) -> str:
        event_id = jv.text(self.detail.get("eventID"))
        region = jv.text(self.detail.get("awsRegion")) or self.envelope.region
        if not event_id or not region:
            return ""
        return CONSOLE_EVENT_URL.format(region=_quoted(region), event_id=_quoted(event_id))

    def fields(self) -> dict[str, str]:
        """The extra fields every CloudTrail-based alert carries."""
        read_only = self.read_only
        return jv.present(
            {
                "event_name": self.event_name,
                "event_source": self.event_source,
                "principal": self.principal.name,
                "principal_type": self.principal.kind,
                "principal_arn": self.principal.arn,
                "source_ip": self.source_ip,
                "error_code": self.error_code,
                "error_message": self.error_message,
                "read_only": "" if read_only is None else str(read_only).lower(),
                "cloudtrail_event_id": jv.text(self.detail.get("eventID")),
                "console_url": self.console_url,
            }
        )
