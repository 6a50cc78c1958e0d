"""Ordinary CloudFormation stacks: create or update, wait while printing events, delete.

Idempotence: a stack whose template (compared as data) and parameters already match is left
alone and reported unchanged; CloudFormation's own "No updates are to be performed" answer is
treated the same way. A stack left in ROLLBACK_COMPLETE by a failed first creation cannot be
updated, so it is deleted and created again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.aws.cfn_template import (
    ParameterSpec,
    load_template,
    required_capabilities,
    same_template,
    template_parameters,
)
from e2p.aws.polling import Poller
from e2p.console.results import Outcome
from e2p.exceptions import StackNotFoundError, StackOperationError

NO_UPDATES: Final = "No updates are to be performed"
# Every stack e2p creates carries this tag; e2p changes or deletes no stack without it unless forced
# (a stack of the same name someone else made is not ours to update or delete).
MANAGED_BY_KEY: Final = "events2panther:managed-by"
MANAGED_BY_VALUE: Final = "e2p"
SUCCESS: Final = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
# A create that failed leaves a stack that can only be deleted (rolled back or not).
DEAD: Final = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"})
TEMPLATE_BODY_LIMIT: Final = 51_200
FAILED_RESOURCE_STATES: Final = ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED")

EventSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class StackSpec:
    name: str
    template_body: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    # None: what the template needs (cfn_template.required_capabilities), never more.
    capabilities: Sequence[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # Where CloudFormation reads a body larger than TEMPLATE_BODY_LIMIT (an S3 HTTPS URL).
    template_url: str | None = None


@dataclass(frozen=True, slots=True)
class StackState:
    outcome: Outcome
    status: str
    outputs: dict[str, str]
    detail: str = ""


def _in_progress(status: str) -> bool:
    return status.endswith("_IN_PROGRESS")


def describe(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack, or None when it does not exist (CloudFormation answers with a ValidationError)."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
    return live[0] if live else None


def outputs_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}


def deployed_outputs(cfn: Any, name: str, where: str) -> dict[str, str]:
    """The outputs of stack `name`; StackNotFoundError (naming `where`) when it is not deployed."""
    stack = describe(cfn, name)
    if stack is None:
        raise StackNotFoundError(f"stack {name} not found in {where}")
    return outputs_of(stack)


def stack_resources(cfn: Any, name: str) -> list[dict[str, Any]]:
    """Every StackResourceSummary of stack `name`, all pages."""
    return [
        summary
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
        for summary in page.get("StackResourceSummaries", [])
    ]


def parameters_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or []}


def parameter_list(
    specs: Mapping[str, ParameterSpec], values: Mapping[str, str], *, update: bool
) -> list[dict[str, Any]]:
    """Every declared parameter explicitly, so a value dropped from the config returns to its default.

    A NoEcho parameter the CLI does not set keeps its previous value on update: CloudFormation only
    shows it as asterisks, so the CLI cannot know it and must not overwrite it.
    """
    entries: list[dict[str, Any]] = []
    for name, spec in specs.items():
        if name in values:
            entries.append({"ParameterKey": name, "ParameterValue": values[name]})
        elif spec.no_echo and update:
            entries.append({"ParameterKey": name, "UsePreviousValue": True})
        elif spec.default is not None:
            entries.append({"ParameterKey": name, "ParameterValue": spec.default})
    return entries


def _matches(cfn: Any, stack: Mapping[str, Any], spec: StackSpec, specs: Mapping[str, ParameterSpec]) -> bool:
    deployed = parameters_of(stack)
    for entry in parameter_list(specs, spec.parameters, update=False):
        key = entry["ParameterKey"]
        # CloudFormation shows a NoEcho value as asterisks: it cannot be compared.
        if not specs[key].no_echo and deployed.get(key) != entry["ParameterValue"]:
            return False
    body = cfn.get_template(StackName=spec.name, TemplateStage="Original")["TemplateBody"]
    return same_template(body, spec.template_body)


class StackDeployer:
    """Deploys one stack in one account and region; events go to `on_event` as they come."""

    def __init__(
        self, cfn: Any, poller: Poller, on_event: EventSink | None = None, *, force: bool = False
    ) -> None:
        self._cfn = cfn
        self._poller = poller
        self._on_event = on_event or (lambda _event: None)
        # Act on a stack of the right name even without e2p's managed-by tag (--force).
        self._force = force

    def _check_managed(self, stack: Mapping[str, Any], name: str) -> None:
        if self._force:
            return
        tags = {t.get("Key"): t.get("Value") for t in stack.get("Tags") or []}
        if tags.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
            raise StackOperationError(
                f"{name}: this stack has no {MANAGED_BY_KEY}={MANAGED_BY_VALUE} tag, so e2p did not create "
                "it; refusing to change or delete it (--force to act on it anyway)"
            )

    def deploy(self, spec: StackSpec) -> StackState:
        specs = template_parameters(load_template(spec.template_body, spec.name))
        stack = describe(self._cfn, spec.name)
        if stack is not None:
            self._check_managed(stack, spec.name)
        if stack is not None and _in_progress(stack["StackStatus"]):
            stack = self._wait(spec.name, set(), "a running operation")
            if stack.get("StackStatus") == "DELETE_COMPLETE":
                stack = None
        if stack is not None and stack["StackStatus"] in DEAD:
            self.delete(spec.name)
            stack = None
        if stack is None:
            return self._create(spec, specs)
        if _matches(self._cfn, stack, spec, specs):
            return StackState(Outcome.UNCHANGED, stack["StackStatus"], outputs_of(stack))
        return self._update(spec, specs)

    def _template_argument(self, spec: StackSpec) -> dict[str, str]:
        if spec.template_url:
            return {"TemplateURL": spec.template_url}
        if len(spec.template_body.encode()) > TEMPLATE_BODY_LIMIT:
            raise StackOperationError(
                f"{spec.name}: the template is larger than {TEMPLATE_BODY_LIMIT} bytes, "
                "the most CloudFormation takes inline"
            )
        return {"TemplateBody": spec.template_body}

    def _common(self, spec: StackSpec) -> dict[str, Any]:
        return {
            "StackName": spec.name,
            **self._template_argument(spec),
            "Capabilities": list(
                required_capabilities(load_template(spec.template_body, spec.name))
                if spec.capabilities is None
                else spec.capabilities
            ),
            "Tags": [{"Key": k, "Value": v} for k, v in spec.tags.items()],
        }

    def _create(self, spec: StackSpec, specs: Mapping[str, ParameterSpec]) -> StackState:
        self._cfn.create_stack(
            **self._common(spec),
            Parameters=parameter_list(specs, spec.parameters, update=False),
            OnFailure="ROLLBACK",
        )
        stack = self._wait(spec.name, set(), "creation")
        return self._finish(spec.name, stack, Outcome.CREATED)

    def _update(self, spec: StackSpec, specs: Mapping[str, ParameterSpec]) -> StackState:
        seen = self._event_ids(spec.name)
        try:
            self._cfn.update_stack(
                **self._common(spec), Parameters=parameter_list(specs, spec.parameters, update=True)
            )
        except ClientError as exc:
            if NO_UPDATES in str(exc):
                stack = describe(self._cfn, spec.name) or {}
                return StackState(Outcome.UNCHANGED, stack.get("StackStatus", ""), outputs_of(stack))
            raise
        stack = self._wait(spec.name, seen, "update")
        return self._finish(spec.name, stack, Outcome.UPDATED)

    def delete(self, name: str) -> Outcome:
        stack = describe(self._cfn, name)
        if stack is None:
            return Outcome.UNCHANGED
        self._check_managed(stack, name)
        seen = self._event_ids(name)
        stack_id = stack["StackId"]
        self._cfn.delete_stack(StackName=stack_id)
        # After deletion the name no longer resolves; the stack id still does.
        final = self._wait(stack_id, seen, "deletion")
        if final.get("StackStatus") not in {None, "DELETE_COMPLETE"}:
            raise StackOperationError(
                f"{name}: {final.get('StackStatus')} {self._failure_reason(stack_id)}".strip()
            )
        return Outcome.DELETED

    def _finish(self, name: str, stack: Mapping[str, Any], outcome: Outcome) -> StackState:
        status = str(stack.get("StackStatus", ""))
        if status not in SUCCESS:
            raise StackOperationError(f"{name}: {status} {self._failure_reason(name)}".strip())
        return StackState(outcome, status, outputs_of(stack))

    def _wait(self, name: str, seen: set[str], what: str) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            self._emit_new_events(name, seen)
            try:
                stacks = self._cfn.describe_stacks(StackName=name)["Stacks"]
            except ClientError as exc:
                if "does not exist" in str(exc):
                    return {"StackStatus": "DELETE_COMPLETE"}
                raise
            stack: dict[str, Any] = stacks[0]
            return None if _in_progress(stack["StackStatus"]) else stack

        return self._poller.until(settled, f"stack {name} {what}")

    def _events(self, name: str) -> list[dict[str, Any]]:
        try:
            return list(self._cfn.describe_stack_events(StackName=name).get("StackEvents", []))
        except ClientError:
            return []

    def _event_ids(self, name: str) -> set[str]:
        return {event["EventId"] for event in self._events(name)}

    def _emit_new_events(self, name: str, seen: set[str]) -> None:
        fresh = [event for event in self._events(name) if event["EventId"] not in seen]
        # describe_stack_events lists the newest first.
        for event in reversed(fresh):
            seen.add(event["EventId"])
            self._on_event(event)

    def _failure_reason(self, name: str) -> str:
        for event in self._events(name):
            if event.get("ResourceStatus") in FAILED_RESOURCE_STATES and event.get("ResourceStatusReason"):
                return f"({event['LogicalResourceId']}: {event['ResourceStatusReason']})"
        return ""


def format_event(event: Mapping[str, Any]) -> str:
    timestamp = event.get("Timestamp")
    when = timestamp.strftime("%H:%M:%S") if isinstance(timestamp, datetime) else ""
    reason = event.get("ResourceStatusReason") or ""
    return " ".join(
        part
        for part in (
            when,
            str(event.get("LogicalResourceId", "")),
            str(event.get("ResourceType", "")),
            str(event.get("ResourceStatus", "")),
            reason,
        )
        if part
    )
