"""`e2p teardown`: everything `e2p deploy` created, in the reverse order.

Stack instances are deleted by OU (the only way for a service-managed StackSet), then listed again:
backends differ in what an OU deletion covers, so what remains is reported account by account
instead of being assumed gone. The StackSet is only deleted once it is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from e2p.aws import code_bucket
from e2p.aws.cfn_template import load_template
from e2p.aws.fanout import fan_out
from e2p.aws.sessions import error_text
from e2p.aws.stacks import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    StackDeployer,
    describe,
    format_event,
    stack_resources,
)
from e2p.aws.stackset_ops import StackSetManager, managed_by_e2p
from e2p.console.options import CommandContext
from e2p.console.results import Outcome, Results
from e2p.exceptions import StackSetOperationError
from e2p.ops.attempts import attempt_step

T = TypeVar("T")


# Why each kind of retained resource outlives the stack, and what to do with it.
RETAINED_WHY: Final = {
    "AWS::KMS::Key": (
        "old token versions, logs and dead letters are encrypted with it; schedule its deletion with "
        "`aws kms schedule-key-deletion --key-id {id}` once nothing needs them"
    ),
    "AWS::SQS::Queue": (
        "it may hold the only copy of undelivered events; replay or read it, then "
        "`aws sqs delete-queue --queue-url {id}`"
    ),
}


def retained_resources(cfn: Any, stack_name: str) -> list[tuple[str, str, str]]:
    """(logical id, type, physical id) of the stack's resources with DeletionPolicy Retain."""
    body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    template = body if isinstance(body, dict) else load_template(body)
    retained = {
        logical
        for logical, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("DeletionPolicy") == "Retain"
    }
    return [
        (str(r.get("LogicalResourceId")), str(r.get("ResourceType")), str(r.get("PhysicalResourceId")))
        for r in stack_resources(cfn, stack_name)
        if r.get("LogicalResourceId") in retained and r.get("PhysicalResourceId")
    ]


def retained_note(resource: tuple[str, str, str]) -> str:
    logical, kind, physical = resource
    why = RETAINED_WHY.get(kind, "DeletionPolicy Retain").format(id=physical)
    return f"{kind} {logical} {physical} kept: {why}"


class Teardown:
    def __init__(self, ctx: CommandContext, results: Results | None = None, *, force: bool = False) -> None:
        self.ctx = ctx
        # Delete stacks and the StackSet of the configured names even without e2p's managed-by tag
        # (--force).
        self._force = force
        self.results = results or Results()
        self._sessions = ctx.sessions
        self._out = ctx.output
        # Member rules that may still target the central bus keep the central stack alive.
        self._members_remain = False

    def _attempt(self, step: str, account: str, region: str, work: Callable[[], T]) -> T | None:
        return attempt_step(self.results, self._out, step, account, region, work)

    def _deployer(self, session: Any, account: str, region: str, name: str) -> StackDeployer:
        cfn = self._sessions.client(session, "cloudformation", region)
        label = f"{account} {region} {name}"
        return StackDeployer(
            cfn,
            self.ctx.poller,
            lambda e: self.ctx.output.progress(f"[{label}] {format_event(e)}"),
            force=self._force,
        )

    def run(self) -> Results:
        management_id = self._attempt("organization", "", "", self._sessions.management_account)
        self._stackset()
        if management_id is not None:
            self._management_stacks(management_id)
            self._lookup_role(management_id)
        self._central()
        return self.results

    def _stackset(self) -> None:
        definition = self.ctx.definition
        admin_account = self._sessions.caller_account()
        cfn = self._sessions.client(self._sessions.admin(), "cloudformation", definition.region)
        manager = StackSetManager(cfn, definition, self.ctx.poller, self.ctx.output.progress)

        def delete() -> bool:
            deployed = manager.describe()
            if deployed is None:
                self.results.record(
                    "stackset", Outcome.UNCHANGED, admin_account, definition.region, "not found"
                )
                return True
            if not self._force and not managed_by_e2p(deployed):
                # Same rule as for stacks: a StackSet that only shares the configured name may be
                # someone else's, and deleting it removes its stacks from every member account.
                raise StackSetOperationError(
                    f"StackSet {definition.name}: it has no {MANAGED_BY_KEY}={MANAGED_BY_VALUE} tag, so e2p "
                    "did not create it; refusing to delete it or its instances (--force to delete it anyway)"
                )
            instances = manager.instances()
            reasons: dict[tuple[str, str], str] = {}
            if instances:
                units = sorted({i.organizational_unit for i in instances if i.organizational_unit})
                units = units or list(definition.organizational_units)
                regions = sorted({i.region for i in instances})
                self.ctx.output.progress(
                    f"deleting {len(instances)} stack instance(s): {', '.join(units)} x {', '.join(regions)}"
                )
                reasons = {
                    (result.account, result.region): f"{result.status} {result.reason}".strip()
                    for report in manager.delete_instances(units, regions)
                    for result in report.results
                    if result.status not in {"SUCCEEDED", "SKIPPED"}
                }
            remaining = manager.instances()
            for instance in remaining:
                reason = (
                    reasons.get((instance.account, instance.region)) or f"{instance.label} {instance.reason}"
                )
                self.results.record(
                    "stack instance",
                    Outcome.FAILED,
                    instance.account,
                    instance.region,
                    f"still present after deletion by OU ({reason.strip()})",
                )
            if remaining:
                self.results.record(
                    "stackset",
                    Outcome.FAILED,
                    admin_account,
                    definition.region,
                    f"{len(remaining)} instance(s) remain; not deleted",
                )
                return False
            if instances:
                self.results.record(
                    "stack instances",
                    Outcome.DELETED,
                    admin_account,
                    definition.region,
                    f"{len(instances)} deleted",
                )
                self._member_queues_note(sorted({i.region for i in instances}))
            self.results.record(
                "stackset", manager.delete(), admin_account, definition.region, definition.name
            )
            return True

        # False (instances remain) or None (the step failed): member stacks may still exist.
        if self._attempt("stackset", admin_account, definition.region, delete) is not True:
            self._members_remain = True

    def _member_queues_note(self, regions: list[str]) -> None:
        self.results.record(
            "retained",
            Outcome.SKIPPED,
            "",
            ",".join(regions),
            "member dead-letter queues (DeletionPolicy Retain: they may hold the only copy of events that "
            "were never forwarded) stay in every account x region; `e2p replay --member` before teardown, "
            "then delete the empty ones",
        )

    def _management_stacks(self, management_id: str) -> None:
        management = self.ctx.settings.management
        session = self._attempt("management stack", management_id, "", self._sessions.management)
        if session is None:
            return
        name = management.member_stack_name
        attempts = fan_out(
            list(management.regions),
            lambda region: self._deployer(session, management_id, region, name).delete(name),
        )
        for attempt in attempts:
            if attempt.value is None:
                self.results.record(
                    "management stack",
                    Outcome.FAILED,
                    management_id,
                    attempt.item,
                    error_text(attempt.error or Exception()),
                )
            else:
                self.results.record("management stack", attempt.value, management_id, attempt.item, name)

    def _lookup_role(self, management_id: str) -> None:
        management = self.ctx.settings.management
        region = management.lookup_stack_region

        def delete() -> None:
            deployer = self._deployer(
                self._sessions.management(), management_id, region, management.lookup_stack_name
            )
            self.results.record(
                "org lookup role",
                deployer.delete(management.lookup_stack_name),
                management_id,
                region,
                management.lookup_stack_name,
            )

        self._attempt("org lookup role", management_id, region, delete)

    def _central(self) -> None:
        central = self.ctx.settings.central
        if self._members_remain:
            self.results.record(
                "central stack",
                Outcome.SKIPPED,
                central.account_id,
                central.region,
                "member stacks may still forward to its bus; run teardown again once they are gone",
            )
            return

        def delete() -> tuple[Any, str]:
            session = self._sessions.central()
            cfn = self._sessions.client(session, "cloudformation", central.region)
            stack = describe(cfn, central.stack_name)
            parameters = {
                p["ParameterKey"]: p.get("ParameterValue", "") for p in (stack or {}).get("Parameters") or []
            }
            kept = retained_resources(cfn, central.stack_name) if stack is not None else []
            deployer = self._deployer(session, central.account_id, central.region, central.stack_name)
            outcome = deployer.delete(central.stack_name)
            self.results.record(
                "central stack", outcome, central.account_id, central.region, central.stack_name
            )
            for resource in kept:
                self.results.record(
                    "retained", Outcome.SKIPPED, central.account_id, central.region, retained_note(resource)
                )
            default = code_bucket.default_bucket_name(central.account_id, central.region)
            return session, parameters.get("CodeBucket") or central.code_bucket or default

        # The bucket goes only once the stack is gone: a stack that could not be deleted may still
        # need its code object for an update or a rollback.
        deleted = self._attempt("central stack", central.account_id, central.region, delete)
        if deleted is not None:
            self._bucket(*deleted)

    def _bucket(self, session: Any, bucket: str) -> None:
        central = self.ctx.settings.central
        s3 = self._sessions.client(session, "s3", central.region)

        def delete() -> None:
            if not code_bucket.bucket_exists(s3, bucket, central.account_id):
                self.results.record(
                    "code bucket",
                    Outcome.UNCHANGED,
                    central.account_id,
                    central.region,
                    f"{bucket} not found",
                )
            elif not code_bucket.created_by_e2p(s3, bucket, central.account_id):
                self.results.record(
                    "code bucket",
                    Outcome.SKIPPED,
                    central.account_id,
                    central.region,
                    f"{bucket} was not created by e2p; kept",
                )
            else:
                removed = code_bucket.empty_and_delete(s3, bucket, central.account_id)
                self.results.record(
                    "code bucket",
                    Outcome.DELETED,
                    central.account_id,
                    central.region,
                    f"{bucket} ({removed} object versions)",
                )

        self._attempt("code bucket", central.account_id, central.region, delete)
