"""`e2p deploy`, step by step: package, code bucket, central stack, lookup role, StackSet and its
instances, management-account stacks, token.

Order matters (AWS-FACTS.md): member rules can only target the central bus once it exists and
admits the organisation, so the central stack comes first and its outputs feed every later step.
Each step records its own result with the account and region it acted in; a failed step skips
only the steps that need what it would have produced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from e2p.aws import code_bucket
from e2p.aws.cfn_template import check_parameters, function_runtime, load_template, template_parameters
from e2p.aws.fanout import fan_out
from e2p.aws.lambda_concurrency import check_concurrency
from e2p.aws.mappings_object import store_mappings
from e2p.aws.organization import accounts_in_units, describe_organization, stackset_targets
from e2p.aws.sessions import AWS_ERRORS, error_text
from e2p.aws.stack_parameters import central_parameters, lookup_role_parameters, member_parameters
from e2p.aws.stacks import TEMPLATE_BODY_LIMIT, StackDeployer, StackSpec, StackState, format_event
from e2p.aws.stackset_ops import OperationReport, StackSetManager
from e2p.aws.token_secret import put_token
from e2p.aws.trusted_access import ensure_trusted_access
from e2p.config.mappings_file import MappingsFile
from e2p.console.options import CommandContext
from e2p.console.results import Outcome, Results
from e2p.exceptions import E2PError, TemplateError
from e2p.ops.attempts import attempt_step
from e2p.ops.coverage import compute_coverage, missing_pairs
from e2p.packaging import lambda_package

T = TypeVar("T")

STACK_TAGS: Final = {"events2panther:managed-by": "e2p"}
CENTRAL_OUTPUTS: Final = (
    "EventBusArn",
    "EventBusName",
    "BufferQueueUrl",
    "BufferQueueArn",
    "DeadLetterQueueUrl",
    "DeadLetterQueueArn",
    "RuleDeadLetterQueueUrl",
    "FunctionName",
    "FunctionRoleArn",
    "ScheduledFunctionName",
    "ScheduledFunctionRoleArn",
    "TokenSecretArn",
    "ArchiveArn",
    "IdempotencyTableName",
    "CoverageTableName",
    "DirectorySnapshotUri",
    "AliasRoleName",
)


@dataclass(frozen=True, slots=True)
class OrgFacts:
    organization_id: str
    management_account_id: str


class Deployment:
    def __init__(
        self,
        ctx: CommandContext,
        results: Results | None = None,
        *,
        mappings: MappingsFile | None = None,
        wheelhouse: Path | None = None,
        force: bool = False,
        activate_trusted_access: Callable[[], bool] | bool = False,
    ) -> None:
        """`mappings`: the organisation's mappings file (`--mappings`), stored in the code bucket
        for the forwarder; None deploys the built-in mappings only."""
        self.ctx = ctx
        self.results = results or Results()
        self._out = ctx.output
        # Consent to activate trusted access for StackSets when it is off: True/False, or asked late
        # (a prompt), only if it turns out to be needed.
        self._activate_trusted_access = activate_trusted_access
        self._mappings = mappings
        self._mappings_key = ""
        # The locked Lambda dependencies from this directory, offline (`--wheelhouse`), not the index.
        self._wheelhouse = wheelhouse
        self._deployer_arn = ""
        # Update stacks of the right name that lack e2p's managed-by tag (--force).
        self._force = force

    # -- helpers -------------------------------------------------------------------------------------

    def _attempt(self, step: str, account: str, region: str, work: Callable[[], T]) -> T | None:
        return attempt_step(self.results, self._out, step, account, region, work)

    def _skip(self, step: str, account: str, region: str, because: str) -> None:
        self.results.record(step, Outcome.SKIPPED, account, region, because)

    def _events(self, label: str) -> Callable[[dict[str, Any]], None]:
        return lambda event: self._out.progress(f"[{label}] {format_event(event)}")

    def _deploy_stack(self, session: Any, account: str, region: str, spec: StackSpec) -> StackState:
        cfn = self.ctx.sessions.client(session, "cloudformation", region)
        deployer = StackDeployer(
            cfn, self.ctx.poller, self._events(f"{account} {region} {spec.name}"), force=self._force
        )
        return deployer.deploy(spec)

    def _template(self, path: Path) -> str:
        return self.ctx.project.read(path)

    # -- the run -------------------------------------------------------------------------------------

    def run(self, token: str | None) -> Results:
        settings = self.ctx.settings
        central = settings.central
        org = self._attempt("organization", "", "", self._organization)
        package = self._attempt("package", "", "", self._package)
        code = None
        if package is not None:
            code = self._attempt(
                "code bucket", central.account_id, central.region, lambda: self._upload(package)
            )
        else:
            self._skip("code bucket", central.account_id, central.region, "no package")
        if code is not None and self._mappings is not None:
            stored = self._attempt(
                "mappings", central.account_id, central.region, lambda: self._store_mappings(code.bucket)
            )
            if stored is None:
                code = None  # never deploy the function without the file the operator asked for
        outputs = None
        concurrency = self._attempt(
            "lambda concurrency", central.account_id, central.region, self._concurrency
        )
        if org is not None and code is not None and concurrency is not None:
            outputs = self._attempt(
                "central stack", central.account_id, central.region, lambda: self._central_stack(org, code)
            )
        else:
            self._skip(
                "central stack",
                central.account_id,
                central.region,
                "organization, package or Lambda concurrency check failed",
            )
        if outputs is not None and package is not None:
            verified = self._verify_code
            self._attempt(
                "function code", central.account_id, central.region, lambda: verified(outputs, package)
            )
        if outputs is None or org is None:
            self._skip(
                "org lookup role", "", settings.management.lookup_stack_region, "central stack unavailable"
            )
            self._skip("stackset", "", self.ctx.definition.region, "central stack unavailable")
            self._skip("management stack", "", "", "central stack unavailable")
            self._skip("token", central.account_id, central.region, "central stack unavailable")
            return self.results
        self._lookup_role(org, outputs)
        self._stackset(org, outputs)
        self._management_stacks(org, outputs)
        self._token(outputs, token)
        return self.results

    # -- steps ---------------------------------------------------------------------------------------

    def _organization(self) -> OrgFacts:
        configured = self.ctx.settings.organization
        if configured.organization_id and configured.management_account_id:
            facts = OrgFacts(configured.organization_id, configured.management_account_id)
        else:
            organizations = self.ctx.sessions.client(self.ctx.sessions.admin(), "organizations")
            found = describe_organization(organizations)
            facts = OrgFacts(
                configured.organization_id or found.organization_id,
                configured.management_account_id or found.management_account_id,
            )
        self.results.record(
            "organization", Outcome.OK, facts.management_account_id, "", f"{facts.organization_id}"
        )
        return facts

    def _concurrency(self) -> bool:
        """Refuse a ReservedConcurrency Lambda would refuse, before CloudFormation fails half-way."""
        central = self.ctx.settings.central
        chosen = central.function_parameters
        reserved = int(chosen.get("ReservedConcurrency", "0"))
        maximum = int(chosen.get("MaximumConcurrency", "5"))
        client = self.ctx.sessions.client(self.ctx.sessions.central(), "lambda", central.region)
        try:
            settings = client.get_account_settings()
        except (ClientError, BotoCoreError, NotImplementedError) as exc:
            if reserved:
                raise E2PError(
                    f"cannot read Lambda's account settings to check ReservedConcurrency: {exc}"
                ) from exc
            self.results.record(
                "lambda concurrency",
                Outcome.SKIPPED,
                central.account_id,
                central.region,
                "no reservation asked",
            )
            return True
        verdict = check_concurrency(settings, reserved, maximum, self._current_reservation(client))
        if not verdict.ok and reserved:
            raise E2PError(verdict.detail)
        if not verdict.ok:
            self._out.warn(verdict.detail)
        self.results.record(
            "lambda concurrency", Outcome.OK, central.account_id, central.region, verdict.detail
        )
        return True

    def _current_reservation(self, client: Any) -> int:
        """The deployed function's reservation (it is given back when the stack changes it)."""
        central = self.ctx.settings.central
        try:
            cfn = self.ctx.sessions.client(self.ctx.sessions.central(), "cloudformation", central.region)
            resource = cfn.describe_stack_resource(StackName=central.stack_name, LogicalResourceId="Function")
            name = resource["StackResourceDetail"]["PhysicalResourceId"]
            return int(
                client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0
            )
        except (ClientError, BotoCoreError, KeyError, ValueError):
            return 0

    def _trusted_access(self, cfn: Any) -> None:
        definition = self.ctx.definition
        if definition.permission_model != "SERVICE_MANAGED":
            return
        consent = self._activate_trusted_access
        access = ensure_trusted_access(
            cfn, definition.call_as, consent if callable(consent) else (lambda: bool(consent))
        )
        self.results.record(
            "trusted access",
            Outcome.UPDATED if access.activated else Outcome.OK,
            self.ctx.sessions.caller_account(),
            definition.region,
            f"StackSets trusted access {access.detail}",
        )

    def _package(self) -> lambda_package.BuiltPackage:
        project = self.ctx.project
        runtime, architecture = function_runtime(load_template(self._template(project.central_template)))
        spec = lambda_package.spec_from_environment(
            project.handler_package, runtime, architecture, wheelhouse=self._wheelhouse
        )
        self._out.progress(f"packaging handler/ for {runtime} {architecture} (dependencies: {spec.deps})")
        built = lambda_package.build_package(spec, project.build_dir)
        detail = f"{built.path.name} sha256 {built.sha256[:12]}, {built.bytecode_note}"
        if not built.with_dependencies:
            detail += f" (handler only: {lambda_package.DEPS_VARIABLE}={spec.deps}, test/local use)"
        self.results.record(
            "package", Outcome.UNCHANGED if built.from_cache else Outcome.CREATED, detail=detail
        )
        return built

    def _upload(self, package: lambda_package.BuiltPackage) -> code_bucket.StoredCode:
        central = self.ctx.settings.central
        session = self.ctx.sessions.central()
        s3 = self.ctx.sessions.client(session, "s3", central.region)
        # The bucket policy keeps object writes for the principal deploying now.
        writer = str(self.ctx.sessions.client(session, "sts", central.region).get_caller_identity()["Arn"])
        self._deployer_arn = writer
        bucket = central.code_bucket or code_bucket.default_bucket_name(central.account_id, central.region)
        prepared = code_bucket.ensure_bucket(s3, bucket, central.region, central.account_id, writer)
        stored = code_bucket.upload(s3, bucket, package.s3_key, package.path, central.account_id)
        outcomes = {prepared, stored.outcome}
        outcome = next((o for o in (Outcome.CREATED, Outcome.UPDATED) if o in outcomes), Outcome.UNCHANGED)
        self.results.record(
            "code bucket",
            outcome,
            central.account_id,
            central.region,
            f"s3://{bucket}/{package.s3_key} version {stored.version_id}",
        )
        return stored

    def _store_mappings(self, bucket: str) -> str:
        assert self._mappings is not None  # only called with a file
        central = self.ctx.settings.central
        s3 = self.ctx.sessions.client(self.ctx.sessions.central(), "s3", central.region)
        key, outcome = store_mappings(
            s3, bucket, self._mappings.document_json, central.account_id, self._mappings.path.name
        )
        self._mappings_key = key
        self.results.record(
            "mappings",
            outcome,
            central.account_id,
            central.region,
            f"{self._mappings.path.name}: {self._mappings.organisation_entries} entries -> s3://{bucket}/{key}",
        )
        return key

    def _verify_code(self, outputs: dict[str, str], package: lambda_package.BuiltPackage) -> None:
        central = self.ctx.settings.central
        client = self.ctx.sessions.client(self.ctx.sessions.central(), "lambda", central.region)
        names = [outputs[name] for name in ("FunctionName", "ScheduledFunctionName") if outputs.get(name)]
        for name in names:
            code_bucket.verify_function_code(client, name, package.sha256)
        self.results.record(
            "function code",
            Outcome.OK,
            central.account_id,
            central.region,
            f"{', '.join(names)} run sha256 {package.sha256[:12]}",
        )

    def _central_stack(self, org: OrgFacts, code: code_bucket.StoredCode) -> dict[str, str]:
        settings = self.ctx.settings
        central = settings.central
        body = self._template(self.ctx.project.central_template)
        # The deploying principal may send to the queues (`e2p replay`); nobody else but the function.
        operators = tuple(code_bucket.writer_patterns(self._deployer_arn)) if self._deployer_arn else ()
        values = central_parameters(
            settings,
            org.organization_id,
            org.management_account_id,
            code.bucket,
            code.key,
            code_version=code.version_id,
            operator_arns=operators,
            mappings_key=self._mappings_key,
        )
        # An empty optional list the template does not declare is harmless; a value the operator set
        # for a parameter the template lacks is refused by check_parameters.
        specs = template_parameters(load_template(body, "central/template.yaml"))
        values = {k: v for k, v in values.items() if k in specs or v}
        check_parameters("central/template.yaml", specs, values)
        url = None
        if len(body.encode()) > TEMPLATE_BODY_LIMIT:
            s3 = self.ctx.sessions.client(self.ctx.sessions.central(), "s3", central.region)
            url = code_bucket.upload_template(s3, code.bucket, central.region, body, central.account_id)
        spec = StackSpec(central.stack_name, body, values, tags=STACK_TAGS, template_url=url)
        state = self._deploy_stack(self.ctx.sessions.central(), central.account_id, central.region, spec)
        missing = [name for name in CENTRAL_OUTPUTS if name not in state.outputs]
        detail = f"{central.stack_name} {state.status}"
        if missing:
            detail += f"; outputs missing: {', '.join(missing)}"
            self._out.warn(f"central stack {central.stack_name} has no output {', '.join(missing)}")
        self.results.record("central stack", state.outcome, central.account_id, central.region, detail)
        return state.outputs

    def _require(self, outputs: dict[str, str], name: str) -> str:
        value = outputs.get(name)
        if not value:
            raise TemplateError(f"the central stack has no {name} output")
        return value

    def _lookup_role(self, org: OrgFacts, outputs: dict[str, str]) -> None:
        management = self.ctx.settings.management
        region = management.lookup_stack_region

        def deploy() -> None:
            body = self._template(self.ctx.project.lookup_role_template)
            values = lookup_role_parameters(
                self.ctx.settings,
                self._require(outputs, "FunctionRoleArn"),
                outputs.get("ScheduledFunctionRoleArn", ""),
            )
            check_parameters("central/org-lookup-role.yaml", template_parameters(load_template(body)), values)
            spec = StackSpec(management.lookup_stack_name, body, values, tags=STACK_TAGS)
            state = self._deploy_stack(
                self.ctx.sessions.management(), org.management_account_id, region, spec
            )
            self.results.record(
                "org lookup role",
                state.outcome,
                org.management_account_id,
                region,
                f"{management.lookup_stack_name} {state.outputs.get('LookupRoleArn', '')}".strip(),
            )

        self._attempt("org lookup role", org.management_account_id, region, deploy)

    def _member_values(self, outputs: dict[str, str]) -> dict[str, str]:
        return member_parameters(
            self.ctx.settings,
            self._require(outputs, "EventBusArn"),
            alias_reader_arn=outputs.get("ScheduledFunctionRoleArn", ""),
            alias_role_name=outputs.get("AliasRoleName", ""),
        )

    def _stackset(self, org: OrgFacts, outputs: dict[str, str]) -> None:
        definition = self.ctx.definition
        sessions = self.ctx.sessions
        admin_account = sessions.caller_account()

        def deploy() -> None:
            body = self._template(self.ctx.project.member_template)
            values = self._member_values(outputs)
            check_parameters("member/template.yaml", template_parameters(load_template(body)), values)
            cfn = sessions.client(sessions.admin(), "cloudformation", definition.region)
            self._trusted_access(cfn)
            organizations = sessions.client(sessions.admin(), "organizations")
            manager = StackSetManager(cfn, definition, self.ctx.poller, self._out.progress)
            before = manager.instances() if manager.describe() is not None else []
            outcome, detail = manager.ensure(body, values, repair=any(not i.healthy for i in before))
            self.results.record("stackset", outcome, admin_account, definition.region, detail)
            expected = stackset_targets(
                accounts_in_units(organizations, definition.organizational_units), org.management_account_id
            )
            self._instances(manager, expected)

        self._attempt("stackset", admin_account, definition.region, deploy)

    def _instances(self, manager: StackSetManager, expected: Sequence[Any]) -> None:
        definition = self.ctx.definition
        coverage = compute_coverage(expected, definition.regions, manager.instances())
        regions = sorted({region for _account, region in missing_pairs(coverage)})
        reports: list[OperationReport] = []
        if regions:
            units = len(definition.organizational_units)
            self._out.progress(f"creating stack instances: {units} OU(s) x {', '.join(regions)}")
            reports = manager.create_instances(definition.organizational_units, regions)
        for report in reports:
            for result in report.results:
                self._out.progress(
                    f"  {result.account} {result.region}: {result.status} {result.reason}".rstrip()
                )
            if report.status != "SUCCEEDED":
                self.results.record(
                    "stack instances",
                    Outcome.FAILED,
                    "",
                    "",
                    f"operation {report.operation_id} {report.status} {report.reason}",
                )
        after = compute_coverage(expected, definition.regions, manager.instances())
        for row in after.missing:
            self.results.record(
                "stack instance",
                Outcome.FAILED,
                row.account_id,
                row.region,
                f"{row.status} {row.reason}".strip(),
            )
        created = len(missing_pairs(coverage)) - len(missing_pairs(after))
        healthy = len(after.rows) - len(after.missing)
        summary = f"{healthy}/{len(after.rows)} account x region pairs healthy"
        if after.missing:
            outcome = Outcome.FAILED
        elif created:
            outcome = Outcome.CREATED
            summary += f"; {created} created"
        else:
            outcome = Outcome.UNCHANGED
        self.results.record("stack instances", outcome, "", ",".join(definition.regions), summary)

    def _management_stacks(self, org: OrgFacts, outputs: dict[str, str]) -> None:
        management = self.ctx.settings.management
        if not management.deploy_member_stacks:
            self._skip(
                "management stack", org.management_account_id, "", "management.deploy_member_stacks = false"
            )
            return
        try:
            body = self._template(self.ctx.project.member_template)
            values = self._member_values(outputs)
            session = self.ctx.sessions.management()
        except AWS_ERRORS as exc:
            self.results.record(
                "management stack", Outcome.FAILED, org.management_account_id, "", error_text(exc)
            )
            return
        spec = StackSpec(management.member_stack_name, body, values, tags=STACK_TAGS)
        with self._out.waiting(f"management stacks in {', '.join(management.regions)}"):
            attempts = fan_out(
                list(management.regions),
                lambda region: self._deploy_stack(session, org.management_account_id, region, spec),
            )
        for attempt in attempts:
            if attempt.error is not None or attempt.value is None:
                self.results.record(
                    "management stack",
                    Outcome.FAILED,
                    org.management_account_id,
                    attempt.item,
                    error_text(attempt.error or Exception()),
                )
            else:
                self.results.record(
                    "management stack",
                    attempt.value.outcome,
                    org.management_account_id,
                    attempt.item,
                    f"{spec.name} {attempt.value.status}",
                )

    def _token(self, outputs: dict[str, str], token: str | None) -> None:
        central = self.ctx.settings.central
        if token is None:
            self._skip(
                "token", central.account_id, central.region, "no token given; the secret is left as it is"
            )
            return

        def store() -> None:
            secrets = self.ctx.sessions.client(self.ctx.sessions.central(), "secretsmanager", central.region)
            secret_id = self._require(outputs, "TokenSecretArn")
            outcome = put_token(secrets, secret_id, token)
            self.results.record(
                "token", outcome, central.account_id, central.region, f"stored in {secret_id}"
            )

        self._attempt("token", central.account_id, central.region, store)
