"""The member StackSet: create or update it, add missing instances, wait for operations, delete.

Only one operation runs on a StackSet at a time; a call refused with OperationInProgressException
waits for the running one and tries again. Per-instance results come from
ListStackSetOperationResults, so a failure names its account and region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.aws.cfn_template import load_template, same_template, template_parameters
from e2p.aws.polling import Poller
from e2p.aws.stacks import MANAGED_BY_KEY, MANAGED_BY_VALUE, parameter_list
from e2p.aws.stackset_definition import StackSetDefinition
from e2p.console.results import Outcome
from e2p.exceptions import StackSetOperationError

RUNNING_STATES: Final = frozenset({"RUNNING", "QUEUED", "STOPPING"})
# The API takes at most 50 OUs per Create/Update/DeleteStackInstances call.
MAX_UNITS_PER_CALL: Final = 50
NOT_FOUND: Final = "StackSetNotFoundException"
IN_PROGRESS: Final = "OperationInProgressException"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class InstanceState:
    account: str
    region: str
    status: str
    detailed_status: str = ""
    reason: str = ""
    organizational_unit: str = ""
    drift: str = ""
    stack_id: str = ""

    @property
    def healthy(self) -> bool:
        return self.status == "CURRENT" and self.detailed_status in {"", "SUCCEEDED"}

    @property
    def label(self) -> str:
        return self.detailed_status or self.status


@dataclass(frozen=True, slots=True)
class InstanceResult:
    account: str
    region: str
    status: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OperationReport:
    operation_id: str
    action: str
    status: str
    reason: str
    results: tuple[InstanceResult, ...]

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED" and all(r.status in {"SUCCEEDED", "SKIPPED"} for r in self.results)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def managed_by_e2p(stack_set: Mapping[str, Any]) -> bool:
    """Whether a described StackSet carries e2p's managed-by tag (what `e2p deploy` puts on it)."""
    tags = {t.get("Key"): t.get("Value") for t in stack_set.get("Tags") or []}
    return tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE


def with_managed_by(tags: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The StackSet's tags plus e2p's managed-by tag.

    UpdateStackSet replaces the whole tag list when Tags is given, so the operator's own tags are
    carried over rather than dropped.
    """
    kept = [dict(t) for t in tags if t.get("Key") != MANAGED_BY_KEY]
    return [*kept, {"Key": MANAGED_BY_KEY, "Value": MANAGED_BY_VALUE}]


def chunks(values: Sequence[str], size: int = MAX_UNITS_PER_CALL) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def definition_differences(
    deployed: Mapping[str, Any],
    definition: StackSetDefinition,
    template_body: str,
    parameters: Mapping[str, str],
) -> list[str]:
    """What differs between the deployed StackSet and the wanted one (empty: nothing to update).

    ManagedExecution is set on every create and update but not compared: it changes how StackSets
    schedules operations, not what is deployed, and is not worth a rollout to every account alone.
    Fields the API does not return are not compared either.
    """
    differences = []
    if not same_template(deployed.get("TemplateBody") or "", template_body):
        differences.append("template")
    current = {p["ParameterKey"]: p.get("ParameterValue") for p in deployed.get("Parameters") or []}
    if current != dict(parameters):
        differences.append("parameters")
    if not managed_by_e2p(deployed):
        # A StackSet deployed before e2p tagged it: the update adds the tag teardown looks for.
        differences.append("managed-by tag")
    if (deployed.get("Description") or "") != definition.description:
        differences.append("description")
    if "Capabilities" in deployed and sorted(deployed["Capabilities"]) != sorted(definition.capabilities):
        differences.append("capabilities")
    if "AutoDeployment" in deployed and dict(deployed["AutoDeployment"]) != dict(definition.auto_deployment):
        differences.append("auto-deployment")
    return differences


class StackSetManager:
    def __init__(
        self, cfn: Any, definition: StackSetDefinition, poller: Poller, progress: Progress | None = None
    ) -> None:
        self._cfn = cfn
        self.definition = definition
        self._poller = poller
        self._progress = progress or (lambda _text: None)

    @property
    def _identity(self) -> dict[str, str]:
        return {"StackSetName": self.definition.name, "CallAs": self.definition.call_as}

    # -- reading -------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any] | None:
        try:
            stack_set: dict[str, Any] = self._cfn.describe_stack_set(**self._identity)["StackSet"]
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                return None
            raise
        return None if stack_set.get("Status") == "DELETED" else stack_set

    def instances(self, account: str | None = None, region: str | None = None) -> list[InstanceState]:
        """Every stack instance, or only those in `account` and `region` when both are given."""
        where = {"StackInstanceAccount": account, "StackInstanceRegion": region} if account and region else {}
        found = []
        for page in self._cfn.get_paginator("list_stack_instances").paginate(**self._identity, **where):
            for item in page.get("Summaries", []):
                found.append(
                    InstanceState(
                        account=str(item.get("Account", "")),
                        region=str(item.get("Region", "")),
                        status=str(item.get("Status", "")),
                        detailed_status=str(
                            (item.get("StackInstanceStatus") or {}).get("DetailedStatus", "")
                        ),
                        reason=str(item.get("StatusReason", "")),
                        organizational_unit=str(item.get("OrganizationalUnitId", "")),
                        drift=str(item.get("DriftStatus", "")),
                        stack_id=str(item.get("StackId", "")),
                    )
                )
        return found

    # -- writing -------------------------------------------------------------------------------------

    def resolved_parameters(self, template_body: str, values: Mapping[str, str]) -> dict[str, str]:
        specs = template_parameters(load_template(template_body, "member template"))
        return {e["ParameterKey"]: e["ParameterValue"] for e in parameter_list(specs, values, update=False)}

    def _settings(
        self,
        template_body: str,
        parameters: Mapping[str, str],
        tags: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, Any]:
        definition = self.definition
        settings: dict[str, Any] = {
            **self._identity,
            "Tags": with_managed_by(tags),
            "Description": definition.description,
            "TemplateBody": template_body,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            "Capabilities": list(definition.capabilities),
            "PermissionModel": definition.permission_model,
        }
        if definition.auto_deployment:
            settings["AutoDeployment"] = dict(definition.auto_deployment)
        if definition.managed_execution:
            settings["ManagedExecution"] = dict(definition.managed_execution)
        return settings

    def ensure(
        self, template_body: str, values: Mapping[str, str], repair: bool = False
    ) -> tuple[Outcome, str]:
        """Create the StackSet or update it (and with it every existing instance) when it differs.

        `repair` forces an update when the definition matches but some instances are not current.
        Returns the outcome and a detail line.
        """
        parameters = self.resolved_parameters(template_body, values)
        deployed = self.describe()
        if deployed is None:
            self._retrying(self._cfn.create_stack_set, **self._settings(template_body, parameters))
            return Outcome.CREATED, f"StackSet {self.definition.name} created"
        differences = definition_differences(deployed, self.definition, template_body, parameters)
        if not differences and not repair:
            return Outcome.UNCHANGED, "definition unchanged"
        operation = self._retrying(
            self._cfn.update_stack_set,
            **self._settings(template_body, parameters, deployed.get("Tags") or []),
            OperationPreferences=dict(self.definition.operation_preferences),
        )["OperationId"]
        report = self.wait(operation)
        reason = ", ".join(differences) or "instances not current"
        if not report.succeeded:
            raise StackSetOperationError(f"update ({reason}) {report.status}: {report.reason}".strip())
        return Outcome.UPDATED, f"updated ({reason}); operation {operation}"

    def create_instances(self, units: Sequence[str], regions: Sequence[str]) -> list[OperationReport]:
        reports = []
        for batch in chunks(units):
            operation = self._retrying(
                self._cfn.create_stack_instances,
                **self._identity,
                DeploymentTargets={"OrganizationalUnitIds": batch},
                Regions=list(regions),
                OperationPreferences=dict(self.definition.operation_preferences),
            )["OperationId"]
            reports.append(self.wait(operation))
        return reports

    def delete_instances(self, units: Sequence[str], regions: Sequence[str]) -> list[OperationReport]:
        reports = []
        for batch in chunks(units):
            operation = self._retrying(
                self._cfn.delete_stack_instances,
                **self._identity,
                DeploymentTargets={"OrganizationalUnitIds": batch},
                Regions=list(regions),
                RetainStacks=False,
                OperationPreferences=dict(self.definition.operation_preferences),
            )["OperationId"]
            reports.append(self.wait(operation))
        return reports

    def delete(self) -> Outcome:
        if self.describe() is None:
            return Outcome.UNCHANGED
        self._retrying(self._cfn.delete_stack_set, **self._identity)
        return Outcome.DELETED

    # -- operations ----------------------------------------------------------------------------------

    def _retrying(self, call: Callable[..., Any], **arguments: Any) -> Any:
        def attempt() -> Any | None:
            try:
                return call(**arguments) or {}
            except ClientError as exc:
                if _code(exc) != IN_PROGRESS:
                    raise
            self._progress(f"StackSet {self.definition.name}: another operation is running, waiting for it")
            self._wait_idle()
            return None

        return self._poller.until(attempt, f"StackSet {self.definition.name} to accept the operation")

    def _wait_idle(self) -> None:
        def idle() -> bool | None:
            operations = self._cfn.list_stack_set_operations(**self._identity).get("Summaries", [])
            return True if not any(op.get("Status") in RUNNING_STATES for op in operations) else None

        self._poller.until(idle, f"running operations on StackSet {self.definition.name}")

    def wait(self, operation_id: str) -> OperationReport:
        def finished() -> dict[str, Any] | None:
            operation: dict[str, Any] = self._cfn.describe_stack_set_operation(
                **self._identity, OperationId=operation_id
            )["StackSetOperation"]
            return None if operation.get("Status") in RUNNING_STATES else operation

        operation = self._poller.until(finished, f"StackSet operation {operation_id}")
        results = []
        paginator = self._cfn.get_paginator("list_stack_set_operation_results")
        for page in paginator.paginate(**self._identity, OperationId=operation_id):
            for item in page.get("Summaries", []):
                results.append(
                    InstanceResult(
                        str(item.get("Account", "")),
                        str(item.get("Region", "")),
                        str(item.get("Status", "")),
                        str(item.get("StatusReason", "")),
                    )
                )
        return OperationReport(
            operation_id,
            str(operation.get("Action", "")),
            str(operation.get("Status", "")),
            str(operation.get("StatusReason", "")),
            tuple(results),
        )
