"""Mapping of EventBridge envelopes to alerts: one module per event family, plus the generic one.

Importing a family module registers its mappers; `FAMILY_MODULES` lists them so that adding a
family is one module plus one line here plus its golden test.
"""

from __future__ import annotations

import importlib

from handler.alert import MapResult
from handler.envelope import Envelope
from handler.mappers.registry import map_envelope

FAMILY_MODULES: tuple[str, ...] = (
    "cloudtrail",
    "signin",
    "organizations",
    "controltower",
    "ec2",
    "ebs",
    "guardduty",
    "securityhub",
    "config",
    "health",
    "inspector",
    "macie",
    "access_analyzer",
    "autoscaling",
    "ecs",
    "codepipeline",
    "rds",
    "kms",
    "backup",
    "cloudwatch",
    "stepfunctions",
    "coverage",
)

for _name in FAMILY_MODULES:
    importlib.import_module(f"handler.mappers.{_name}")


# Imported here, once the families are: an import statement inside map_event would run the import
# machinery on every event.
from handler.mappers.generic import generic  # noqa: E402


def map_event(envelope: Envelope) -> MapResult:
    return map_envelope(envelope, generic)
