"""`e2p preflight`: what must hold in the organisation before a deploy can succeed, read-only.

Each check is a pure function from what AWS answered to a verdict (PASS, WARN, FAIL) with the
detail and what to do; `Preflight` makes the read-only calls and feeds them in. An answer the
backend cannot give (an API the local AWS lacks, a permission the operator's policy leaves out on
purpose) is a WARN saying what could not be checked, never a silent PASS.

Sources (docs/aws-behaviour.md): service-managed StackSets need trusted access and are created by
the management account or a registered delegated administrator; a reservation must leave 100
unreserved Lambda executions; "AWS API Call via CloudTrail" events need a trail that logs; an
event pattern is at most 2,048 characters; opt-in regions must be enabled in the administrator and
in each target account.
"""

from __future__ import annotations

import json
import socket
import ssl
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from e2p.aws.organization import accounts_in_units
from e2p.aws.sessions import AWS_ERRORS, error_text
from e2p.aws.stacks import deployed_outputs
from e2p.config.settings import MAX_EVENT_PATTERN_CHARS
from e2p.console.options import CommandContext

STACKSETS_PRINCIPAL: Final = "member.org.stacksets.cloudformation.amazonaws.com"
TLS_TIMEOUT_S: Final = 5.0
OPT_IN_NOT_REQUIRED: Final = "opt-in-not-required"
ENABLED_OPT_IN: Final = frozenset({"opted-in", OPT_IN_NOT_REQUIRED, "ENABLED", "ENABLED_BY_DEFAULT"})


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 -- a verdict, not a password
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass
class PreflightReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(check.status is Status.FAIL for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.as_dict() for check in self.checks]}


def could_not_check(name: str, what: str, exc: BaseException, fix: str = "") -> Check:
    return Check(name, Status.WARN, f"could not check {what}: {error_text(exc)}", fix)


# -- pure checks ---------------------------------------------------------------------------------


def credentials_check(
    caller: str, management: str, delegated_admins: Sequence[str] | None, call_as: str
) -> Check:
    """StackSets are administered by the management account (CallAs SELF) or a delegated admin."""
    name = "credentials"
    if call_as == "SELF":
        if caller == management:
            return Check(name, Status.PASS, f"account {caller} is the management account")
        return Check(
            name,
            Status.FAIL,
            f"account {caller} is not the management account {management} (stackset.call_as = SELF)",
            "use management-account credentials, or register this account as a StackSets delegated "
            'administrator and set stackset.call_as = "DELEGATED_ADMIN"',
        )
    if delegated_admins is None:
        return Check(
            name,
            Status.WARN,
            f"account {caller}: the delegated administrators could not be listed",
            "check in the management account: aws organizations list-delegated-administrators "
            f"--service-principal {STACKSETS_PRINCIPAL}",
        )
    if caller in delegated_admins:
        return Check(name, Status.PASS, f"account {caller} is a registered StackSets delegated administrator")
    return Check(
        name,
        Status.FAIL,
        f"account {caller} is not a StackSets delegated administrator (stackset.call_as = DELEGATED_ADMIN)",
        "from the management account: aws organizations register-delegated-administrator "
        f"--account-id {caller} --service-principal {STACKSETS_PRINCIPAL}",
    )


def trusted_access_check(status: str, error: str = "") -> Check:
    """`status`: DescribeOrganizationsAccess's answer (ENABLED or DISABLED) for the caller."""
    from e2p.aws.trusted_access import ACTIVATE_COMMAND
    from e2p.aws.trusted_access import ENABLED as TRUSTED_ACCESS_ENABLED

    name = "trusted access"
    if error:
        return Check(name, Status.FAIL, error, f"from the management account: {ACTIVATE_COMMAND}")
    if status == TRUSTED_ACCESS_ENABLED:
        return Check(name, Status.PASS, "CloudFormation StackSets has trusted access to the organisation")
    return Check(
        name,
        Status.FAIL,
        f"trusted access for CloudFormation StackSets is {status}: service-managed StackSets cannot deploy",
        f"from the management account: {ACTIVATE_COMMAND} (or `e2p deploy --activate-trusted-access`)",
    )


def central_check(expected: str, reached: str, via: str) -> Check:
    name = "central account"
    if reached == expected:
        return Check(name, Status.PASS, f"reached {expected} {via}")
    return Check(
        name,
        Status.FAIL,
        f"{via} leads to account {reached}, not the central account {expected}",
        "set central.role_arn to a role in the central account",
    )


def concurrency_check(
    settings: Mapping[str, Any], function_parameters: Mapping[str, str], already_reserved: int = 0
) -> Check:
    """The central account's Lambda quota against the configured concurrency: the deploy's own
    rule (e2p.aws.lambda_concurrency); a reservation Lambda would refuse fails, a queue that could
    outgrow the unreserved executions warns."""
    from e2p.aws.lambda_concurrency import check_concurrency

    reserved = int(function_parameters.get("ReservedConcurrency", "0") or 0)
    maximum = int(function_parameters.get("MaximumConcurrency", "5") or 5)
    verdict = check_concurrency(dict(settings), reserved, maximum, already_reserved)
    if verdict.ok:
        return Check("lambda concurrency", Status.PASS, verdict.detail)
    fix = "lower central.lambda.reserved_concurrency (or unset it), or ask Service Quotas for more"
    if reserved:
        return Check("lambda concurrency", Status.FAIL, verdict.detail, fix)
    return Check(
        "lambda concurrency",
        Status.WARN,
        verdict.detail,
        "lower central.lambda.maximum_concurrency, or ask for a higher quota in Service Quotas",
    )


def cloudtrail_check(trails: Sequence[Mapping[str, Any]], logging: Mapping[str, bool]) -> Check:
    """An organisation trail that logs (or at least a trail here): API call events depend on it."""
    name = "cloudtrail"
    logging_trails = [t for t in trails if logging.get(str(t.get("TrailARN", t.get("Name", ""))), False)]
    organisation = [t for t in logging_trails if t.get("IsOrganizationTrail")]
    fix = (
        "create an organisation trail from the management account: aws cloudtrail create-trail "
        "--name org-trail --s3-bucket-name BUCKET --is-organization-trail --is-multi-region-trail, "
        "then aws cloudtrail start-logging --name org-trail"
    )
    if organisation:
        multi = [t for t in organisation if t.get("IsMultiRegionTrail")]
        chosen = (multi or organisation)[0]
        if not multi:
            return Check(
                name,
                Status.WARN,
                f"organisation trail {chosen.get('Name')} logs one region only",
                "make it multi-region: aws cloudtrail update-trail --name NAME --is-multi-region-trail",
            )
        return Check(name, Status.PASS, f"organisation trail {chosen.get('Name')} is logging in every region")
    if logging_trails:
        return Check(
            name,
            Status.WARN,
            f"trail {logging_trails[0].get('Name')} logs this account only: API call events of other "
            "accounts need a trail each",
            fix,
        )
    return Check(
        name,
        Status.WARN,
        "no trail is logging: 'AWS API Call via CloudTrail' events will not reach EventBridge "
        "(service events such as GuardDuty findings still do)",
        fix,
    )


def organizational_units_check(configured: Sequence[str], missing: Sequence[str]) -> Check:
    name = "organizational units"
    if missing:
        return Check(
            name,
            Status.FAIL,
            f"not found in the organisation: {', '.join(missing)}",
            "fix stackset.organizational_units (aws organizations list-organizational-units-for-parent)",
        )
    return Check(name, Status.PASS, f"{len(configured)} found: {', '.join(configured)}")


def regions_check(
    regions: Sequence[str], admin_status: Mapping[str, str], disabled_in_accounts: Mapping[str, Sequence[str]]
) -> Check:
    """`admin_status`: region -> OptInStatus in the administrator account (DescribeRegions);
    `disabled_in_accounts`: opt-in region -> targeted accounts where it is not enabled."""
    name = "regions"
    unknown = [r for r in regions if r not in admin_status]
    if unknown:
        return Check(
            name,
            Status.FAIL,
            f"not regions of this partition: {', '.join(unknown)}",
            "fix stackset.regions",
        )
    disabled = [r for r in regions if admin_status[r] not in ENABLED_OPT_IN]
    if disabled:
        return Check(
            name,
            Status.FAIL,
            f"opt-in region(s) not enabled in the administrator account: {', '.join(disabled)}",
            "enable them: aws account enable-region --region-name REGION",
        )
    gaps = {r: accounts for r, accounts in disabled_in_accounts.items() if accounts}
    if gaps:
        listed = "; ".join(f"{r}: {', '.join(sorted(a)[:5])}" for r, a in sorted(gaps.items()))
        return Check(
            name,
            Status.FAIL,
            f"opt-in region(s) not enabled in targeted accounts: {listed}",
            "from the management account: aws account enable-region --account-id ID --region-name REGION",
        )
    opt_in = [r for r in regions if admin_status[r] != OPT_IN_NOT_REQUIRED]
    note = f"; opt-in: {', '.join(opt_in)}" if opt_in else " (none needs opting in)"
    return Check(name, Status.PASS, f"{len(regions)} regions enabled{note}")


def event_pattern_check(pattern: str, answer: bool | None, refusal: str = "") -> Check:
    """`answer`: TestEventPattern's result for the test event (None: the backend gave none)."""
    name = "event pattern"
    size = len(pattern)
    if size > MAX_EVENT_PATTERN_CHARS:
        return Check(
            name,
            Status.FAIL,
            f"{size} characters; EventBridge accepts at most {MAX_EVENT_PATTERN_CHARS}",
            "shorten member.event_pattern_file",
        )
    try:
        json.loads(pattern)
    except json.JSONDecodeError as exc:
        return Check(name, Status.FAIL, f"not JSON: {exc}", "fix member.event_pattern_file")
    if refusal:
        return Check(name, Status.FAIL, f"EventBridge refused it: {refusal}", "fix member.event_pattern_file")
    if answer is None:
        return Check(name, Status.PASS, f"{size} characters, JSON (syntax not checked by this backend)")
    if answer is False:
        return Check(
            name,
            Status.WARN,
            f"{size} characters, valid; it does not forward the test event, so `e2p verify` cannot prove "
            "the path",
            'add {"source":["events2panther.test"],"detail-type":["Events2Panther Test Event"]} to its $or',
        )
    return Check(name, Status.PASS, f"{size} characters, valid, forwards the test event")


def panther_check(url: str, allow_insecure_http: bool, probe: Callable[[str, int, bool], str]) -> Check:
    """`probe(host, port, tls)` resolves, connects and (for https) verifies the certificate; it
    returns a short description or raises OSError / ssl.SSLError."""
    name = "panther url"
    parts = urlsplit(url)
    host, tls = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    try:
        answer = probe(host, port, tls)
    except ssl.SSLCertVerificationError as exc:
        return Check(
            name,
            Status.FAIL,
            f"{host}:{port} answers TLS with a certificate this machine does not trust: {exc.verify_message}",
            "use Panther's public endpoint, or give the function your CA (E2P_CA_BUNDLE)",
        )
    except socket.gaierror as exc:
        return Check(
            name,
            Status.WARN,
            f"{host} does not resolve from this machine: {exc.strerror or exc}",
            "check the URL; the function resolves it from the central account's network",
        )
    except (OSError, ssl.SSLError) as exc:
        return Check(
            name,
            Status.WARN,
            f"{host}:{port} not reachable from this machine: {exc}",
            "check the URL and that the central account's network reaches it",
        )
    if not tls:
        note = " (central.allow_insecure_http: local test consoles only)" if allow_insecure_http else ""
        return Check(name, Status.PASS, f"{answer}{note}")
    return Check(name, Status.PASS, answer)


TEST_EVENT: Final = {
    "node": "events2panther/preflight",
    "tag": "Events2Panther",
    "summary": "Events2Panther preflight test event (e2p preflight --send-test)",
    "severity": 1,
}


def send_test_check(status: int | None, answer: str, error: str = "") -> Check:
    """Panther's answer to the one test event `--send-test` posts (PANTHER-API.md)."""
    name = "panther test event"
    if error:
        return Check(
            name, Status.FAIL, f"not sent: {error}", "check the URL, the network and the certificate"
        )
    if status == 200:
        return Check(name, Status.PASS, f"Panther accepted it: look for '{TEST_EVENT['summary']}'")
    if status == 401:
        return Check(
            name,
            Status.FAIL,
            f"Panther refused the token: {answer[:200]}",
            "create a token with the permission to create events, then deploy it with --token-file",
        )
    if status == 400 and "discarded" in answer.lower():
        return Check(name, Status.WARN, "accepted, then discarded by the console's rules", "check the rules")
    return Check(
        name, Status.FAIL, f"HTTP {status}: {answer[:200]}", "check the URL (its path ends /api/event/create)"
    )


def post_test_event(url: str, token: str, cafile: str | None) -> tuple[int | None, str, str]:
    """POST the test event once (no retry): (status, answer, error)."""
    import urllib3

    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=cafile)
    try:
        response = pool.request(
            "POST",
            url,
            body=json.dumps({"event": TEST_EVENT}).encode(),
            headers={"X-Api-Token": token, "Content-Type": "application/json"},
            timeout=urllib3.Timeout(connect=TLS_TIMEOUT_S, read=2 * TLS_TIMEOUT_S),
            retries=False,
            redirect=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        return None, "", str(exc)
    return response.status, response.data.decode("utf-8", "replace"), ""


def probe_endpoint(host: str, port: int, tls: bool, cafile: str | None = None) -> str:
    """Resolve, connect and, for TLS, complete a verified handshake; nothing is sent."""
    with socket.create_connection((host, port), timeout=TLS_TIMEOUT_S) as raw:
        if not tls:
            return f"{host}:{port} accepts connections"
        context = ssl.create_default_context(cafile=cafile)
        with context.wrap_socket(raw, server_hostname=host) as secure:
            version = secure.version() or "TLS"
            certificate = secure.getpeercert() or {}
            issuer = dict(item for rdn in certificate.get("issuer", ()) for item in rdn)
            organisation = issuer.get("organizationName", "?")
            return f"{host}:{port} answers {version}, certificate trusted (issuer {organisation})"


def default_cafile() -> str | None:
    """The bundle the function trusts by default (certifi), so this check sees what it will see."""
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


# -- the run ---------------------------------------------------------------------------------------


class Preflight:
    def __init__(
        self,
        ctx: CommandContext,
        probe: Callable[[str, int, bool], str] | None = None,
        test_token: str | None = None,
    ) -> None:
        """`test_token`: post one test event to Panther with it (`--send-test`); None sends nothing."""
        self.ctx = ctx
        self._sessions = ctx.sessions
        self._cafile = default_cafile()
        self._probe = probe or (lambda host, port, tls: probe_endpoint(host, port, tls, self._cafile))
        self._test_token = test_token

    def run(self) -> PreflightReport:
        report = PreflightReport()
        steps: list[Callable[[], Check]] = [
            self._credentials,
            self._trusted_access,
            self._central,
            self._concurrency,
            self._cloudtrail,
            self._units,
            self._regions,
            self._pattern,
            self._panther,
        ]
        if self._test_token is not None:
            steps.append(self._send_test)
        for step in steps:
            report.checks.append(step())
        return report

    def _send_test(self) -> Check:
        assert self._test_token is not None
        return send_test_check(
            *post_test_event(self.ctx.settings.central.panther_url, self._test_token, self._cafile)
        )

    def _admin(self, service: str, region: str | None = None) -> Any:
        return self._sessions.client(self._sessions.admin(), service, region)

    def _credentials(self) -> Check:
        call_as = self.ctx.definition.call_as
        try:
            caller = self._sessions.caller_account()
            management = self._sessions.management_account()
        except AWS_ERRORS as exc:
            return Check("credentials", Status.FAIL, error_text(exc), "check the AWS credentials and profile")
        admins: list[str] | None = None
        if call_as != "SELF":
            try:
                pages = (
                    self._admin("organizations")
                    .get_paginator("list_delegated_administrators")
                    .paginate(ServicePrincipal=STACKSETS_PRINCIPAL)
                )
                admins = [str(a["Id"]) for page in pages for a in page.get("DelegatedAdministrators", [])]
            except AWS_ERRORS:
                admins = None
        return credentials_check(caller, management, admins, call_as)

    def _trusted_access(self) -> Check:
        # The deploy's own check, never consenting: preflight changes nothing.
        from e2p.aws.trusted_access import TrustedAccessError, ensure_trusted_access

        cfn = self._admin("cloudformation", self.ctx.definition.region)
        try:
            access = ensure_trusted_access(cfn, self.ctx.definition.call_as, lambda: False)
        except TrustedAccessError as exc:
            disabled = "a service-managed stack set cannot be created" in str(exc)
            return trusted_access_check("DISABLED", "" if disabled else str(exc))
        except AWS_ERRORS as exc:
            return trusted_access_check("", f"cannot read trusted access: {error_text(exc)}")
        return trusted_access_check(access.status)

    def _central(self) -> Check:
        central = self.ctx.settings.central
        via = f"through {central.role_arn}" if central.role_arn else "with the current credentials"
        try:
            identity = self._sessions.client(
                self._sessions.central(), "sts", central.region
            ).get_caller_identity()
        except AWS_ERRORS as exc:
            return Check(
                "central account",
                Status.FAIL,
                f"cannot reach {central.account_id} {via}: {error_text(exc)}",
                "set central.role_arn to a role the management account may assume in the central account",
            )
        return central_check(central.account_id, str(identity["Account"]), via)

    def _concurrency(self) -> Check:
        central = self.ctx.settings.central
        try:
            lam = self._sessions.client(self._sessions.central(), "lambda", central.region)
            settings = lam.get_account_settings()
        except (*AWS_ERRORS, NotImplementedError) as exc:
            return could_not_check("lambda concurrency", "the Lambda quota (GetAccountSettings)", exc)
        return concurrency_check(settings, central.function_parameters, self._current_reservation(lam))

    def _current_reservation(self, lam: Any) -> int:
        """A deployed function's reservation counts as available again when the deploy changes it."""
        central = self.ctx.settings.central
        try:
            cfn = self._sessions.client(self._sessions.central(), "cloudformation", central.region)
            outputs = deployed_outputs(cfn, central.stack_name, f"{central.account_id} {central.region}")
            name = outputs.get("FunctionName")
            answer = lam.get_function_concurrency(FunctionName=name) if name else {}
        except AWS_ERRORS:
            return 0  # nothing deployed yet
        return int(answer.get("ReservedConcurrentExecutions", 0) or 0)

    def _cloudtrail(self) -> Check:
        region = self.ctx.settings.central.region
        try:
            cloudtrail = self._sessions.client(self._sessions.management(), "cloudtrail", region)
            trails = cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", [])
            logging = {}
            for trail in trails:
                key = str(trail.get("TrailARN", trail.get("Name", "")))
                logging[key] = bool(cloudtrail.get_trail_status(Name=key).get("IsLogging"))
        except AWS_ERRORS as exc:
            return could_not_check("cloudtrail", "the trails", exc)
        return cloudtrail_check(trails, logging)

    def _units(self) -> Check:
        units = self.ctx.definition.organizational_units
        organizations = self._admin("organizations")
        missing: list[str] = []
        try:
            roots = {str(r["Id"]) for r in organizations.list_roots()["Roots"]}
            for unit in units:
                if unit.startswith("r-"):
                    if unit not in roots:
                        missing.append(unit)
                    continue
                try:
                    organizations.describe_organizational_unit(OrganizationalUnitId=unit)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "OrganizationalUnitNotFoundException":
                        raise
                    missing.append(unit)
        except AWS_ERRORS as exc:
            return could_not_check("organizational units", "the OUs", exc)
        return organizational_units_check(units, missing)

    def _regions(self) -> Check:
        regions = self.ctx.definition.regions
        try:
            answer = self._admin("ec2", self.ctx.definition.region).describe_regions(AllRegions=True)
            status = {
                str(r["RegionName"]): str(r.get("OptInStatus", OPT_IN_NOT_REQUIRED))
                for r in answer["Regions"]
            }
        except AWS_ERRORS as exc:
            return could_not_check("regions", "the regions (DescribeRegions)", exc)
        opt_in = [r for r in regions if status.get(r, OPT_IN_NOT_REQUIRED) != OPT_IN_NOT_REQUIRED]
        gaps: dict[str, list[str]] = {}
        if opt_in:
            try:
                accounts = accounts_in_units(
                    self._admin("organizations"), self.ctx.definition.organizational_units
                )
                account = self._sessions.client(self._sessions.management(), "account")
                for region in opt_in:
                    gaps[region] = [
                        a.account_id
                        for a in accounts
                        if account.get_region_opt_status(AccountId=a.account_id, RegionName=region)[
                            "RegionOptStatus"
                        ]
                        not in ENABLED_OPT_IN
                    ]
            except AWS_ERRORS as exc:
                found = regions_check(regions, status, {})
                if found.status is Status.FAIL:
                    return found
                return could_not_check(
                    "regions", f"the opt-in regions {', '.join(opt_in)} in each targeted account", exc
                )
        return regions_check(regions, status, gaps)

    def _pattern(self) -> Check:
        pattern = self.ctx.settings.member.event_pattern or self._template_pattern()
        if pattern is None:
            return Check("event pattern", Status.WARN, "the member template has no default pattern to check")
        sent_at = datetime.now(UTC)
        from e2p.ops.test_event import test_envelope

        caller = self._sessions.caller_account()
        envelope = test_envelope(caller, self.ctx.definition.region, str(uuid.uuid4()), sent_at)
        try:
            answer = self._admin("events", self.ctx.definition.region).test_event_pattern(
                EventPattern=pattern, Event=json.dumps(envelope)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidEventPatternException":
                return event_pattern_check(pattern, None, error_text(exc))
            return event_pattern_check(pattern, None)
        except AWS_ERRORS:
            return event_pattern_check(pattern, None)
        result = answer.get("Result")
        return event_pattern_check(pattern, result if isinstance(result, bool) else None)

    def _template_pattern(self) -> str | None:
        from e2p.aws.cfn_template import load_template

        template = load_template(self.ctx.project.read(self.ctx.project.member_template))
        default = (template.get("Parameters", {}).get("EventPattern") or {}).get("Default")
        return json.dumps(json.loads(default), separators=(",", ":")) if isinstance(default, str) else None

    def _panther(self) -> Check:
        central = self.ctx.settings.central
        return panther_check(central.panther_url, central.allow_insecure_http, self._probe)
