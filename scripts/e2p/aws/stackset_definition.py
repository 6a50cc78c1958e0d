"""The StackSet definition: stacksets/stackset.yaml (the project's defaults) merged with the config.

stackset.yaml is data, not a template: StackSetName, Description, PermissionModel, AutoDeployment,
Capabilities, ManagedExecution, OperationPreferences, CallAs, MandatoryRegions. What is specific to
an organisation (OUs, regions, call-as, tolerance) comes from the operator's config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from e2p.config.settings import Settings
from e2p.exceptions import ProjectLayoutError

SERVICE_MANAGED: Final = "SERVICE_MANAGED"
# The StackSet API refuses a count and a percentage for the same preference.
_EXCLUSIVE: Final = {
    "FailureTolerancePercentage": "FailureToleranceCount",
    "MaxConcurrentPercentage": "MaxConcurrentCount",
}


@dataclass(frozen=True, slots=True)
class StackSetDefinition:
    name: str
    description: str
    region: str
    call_as: str
    organizational_units: tuple[str, ...]
    regions: tuple[str, ...]
    permission_model: str = SERVICE_MANAGED
    auto_deployment: Mapping[str, bool] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    managed_execution: Mapping[str, bool] = field(default_factory=dict)
    operation_preferences: Mapping[str, Any] = field(default_factory=dict)


def read_defaults(text: str, source: str = "stacksets/stackset.yaml") -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProjectLayoutError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("StackSetName"), str):
        raise ProjectLayoutError(f"{source} must be a mapping with at least StackSetName")
    return data


def mandatory_regions(defaults: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(region) for region in defaults.get("MandatoryRegions") or ())


def build_definition(defaults: Mapping[str, Any], settings: Settings) -> StackSetDefinition:
    """Config values win over the file's; nothing here talks to AWS."""
    chosen = settings.stackset
    preferences = dict(defaults.get("OperationPreferences") or {})
    for key, value in (
        ("FailureTolerancePercentage", chosen.failure_tolerance_percentage),
        ("MaxConcurrentPercentage", chosen.max_concurrent_percentage),
    ):
        if value is not None:
            preferences[key] = value
            preferences.pop(_EXCLUSIVE[key], None)
    auto_deployment = dict(defaults.get("AutoDeployment") or {"Enabled": True})
    if chosen.retain_stacks_on_account_removal is not None:
        auto_deployment["RetainStacksOnAccountRemoval"] = chosen.retain_stacks_on_account_removal
    return StackSetDefinition(
        name=chosen.name or str(defaults["StackSetName"]),
        description=str(defaults.get("Description") or ""),
        region=chosen.region or settings.central.region,
        call_as=chosen.call_as or str(defaults.get("CallAs") or "SELF"),
        organizational_units=chosen.organizational_units,
        regions=chosen.regions,
        permission_model=str(defaults.get("PermissionModel") or SERVICE_MANAGED),
        auto_deployment=auto_deployment,
        capabilities=tuple(defaults.get("Capabilities") or ()),
        managed_execution=dict(defaults.get("ManagedExecution") or {}),
        operation_preferences=preferences,
    )
