"""Short resource names for the Panther node, from ARNs and the other identifiers AWS events carry.

Operators know `i-0abc`, `my-bucket`, `my-function`, not the ARN: the short name goes into the node
(`<account>/<region>/<resource>`), the full identifier into the `resource` extra field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

ARN_PARTS: Final = 6
# Automated RDS snapshots are named rds:<db>-YYYY-MM-DD-HH-MM: a new name every day for the same DB.
_RDS_AUTOMATED_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$")
_ECR_DIGEST = re.compile(r"[/@]sha256:\w+$")
# Resource types whose last path segment is a generated hash; the name is the segment before it.
_NAME_BEFORE_HASH: Final = ("loadbalancer/", "targetgroup/")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(identifier: str) -> Arn | None:
    parts = identifier.strip().split(":", ARN_PARTS - 1)
    if len(parts) < ARN_PARTS or parts[0] != "arn":
        return None
    return Arn(*parts[1:])


def _last_segment(path: str) -> str:
    segments = [s for s in path.split("/") if s]
    return segments[-1] if segments else path


def _path_or_typed(resource: str) -> str:
    """`name` from `type/path/name`, or from `type:name[:more]` (db:mydb, alarm:Name, log-group:/a/b:*)."""
    slash, colon = resource.find("/"), resource.find(":")
    if colon != -1 and (slash == -1 or colon < slash):
        rest = resource.split(":", 1)[1].removesuffix(":*")
        # A name may itself be a path (log groups: /aws/lambda/fn); otherwise read what follows.
        return rest if rest.startswith("/") else _path_or_typed(rest)
    if slash != -1:
        return _last_segment(resource)
    return resource


def _s3(resource: str) -> str:
    return resource.split("/", 1)[0]


def _lambda(resource: str) -> str:
    # function:Name[:qualifier]
    parts = resource.split(":")
    return parts[1] if len(parts) > 1 else resource


def _ecr(resource: str) -> str:
    return _last_segment(_ECR_DIGEST.sub("", resource))


def _codebuild(resource: str) -> str:
    # build/<project>:<build uuid>: the project is what operators know; the uuid changes every run.
    name = _path_or_typed(resource)
    return name.split(":", 1)[0] if resource.startswith("build/") else name


def _cloudformation(resource: str) -> str:
    # stack/<name>/<uuid>, stackset/<name>:<uuid>: the name, not the generated suffix.
    segments = resource.split("/")
    if resource.startswith("stack/") and len(segments) >= 2:
        return segments[1]
    if resource.startswith("stackset/"):
        return segments[1].split(":", 1)[0]
    return _path_or_typed(resource)


def _datasync(resource: str) -> str:
    # task/<task id>/execution/<execution id>: the task, not this run of it.
    segments = resource.split("/")
    return segments[1] if resource.startswith("task/") and len(segments) >= 2 else _path_or_typed(resource)


def _dynamodb(resource: str) -> str:
    # table/Name/stream/<timestamp>: the table is the stable part.
    return resource.split("/")[1] if resource.startswith("table/") else _path_or_typed(resource)


def _kms(resource: str) -> str:
    return resource if resource.startswith("alias/") else _path_or_typed(resource)


def _rds(resource: str) -> str:
    return _RDS_AUTOMATED_SUFFIX.sub("", _path_or_typed(resource).removeprefix("rds:"))


def _elb(resource: str) -> str:
    segments = resource.split("/")
    if resource.startswith(_NAME_BEFORE_HASH) and len(segments) >= 3:
        return segments[-2]
    return _path_or_typed(resource)


_SERVICE_RULES: Final[dict[str, Callable[[str], str]]] = {
    "s3": _s3,
    "lambda": _lambda,
    "ecr": _ecr,
    "dynamodb": _dynamodb,
    "codebuild": _codebuild,
    "cloudformation": _cloudformation,
    "datasync": _datasync,
    "kms": _kms,
    "rds": _rds,
    "elasticloadbalancing": _elb,
    # autoScalingGroup:<uuid>:autoScalingGroupName/<name>
    "autoscaling": _last_segment,
}


def _from_arn(arn: Arn) -> str:
    if arn.service == "s3" and (arn.region or arn.account):
        # Buckets have neither; access points and batch jobs (accesspoint/name, job/id) have both.
        return _path_or_typed(arn.resource)
    rule = _SERVICE_RULES.get(arn.service, _path_or_typed)
    return rule(arn.resource)


def short_name(identifier: str) -> str:
    """The name an operator knows for `identifier` (an ARN, a path, or already a short id)."""
    cleaned = identifier.strip()
    if not cleaned:
        return ""
    # AWS Health entity values can read "cr-0123 | us-east-1b | t3.medium | ...": the id comes first.
    cleaned = cleaned.split(" | ", 1)[0].strip()
    arn = parse_arn(cleaned)
    if arn is not None:
        return _from_arn(arn) or cleaned
    if cleaned.startswith("arn:"):
        # Malformed ARN (too few colons, as in some documentation samples): keep the tail.
        return _last_segment(cleaned.rsplit(":", 1)[-1])
    if cleaned.startswith(("https://", "http://")):
        # SQS queue URLs: the queue name is the last path segment.
        return _last_segment(cleaned.split("://", 1)[1].split("?", 1)[0])
    if cleaned.startswith("/"):
        # Azure resource paths from Inspector's multi-cloud findings.
        return _last_segment(cleaned)
    return cleaned
