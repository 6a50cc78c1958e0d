"""The operator's config file (TOML), read once and validated strictly before anything runs.

Every key is known: an unknown key, a value of the wrong shape or a malformed identifier raises
SettingsError naming the key (`central.account_id: expected a 12-digit AWS account id, got '12'`).
Defaults that belong to the StackSet definition (stacksets/stackset.yaml) are applied later, by
the code that merges that file with these settings; the file itself stays data.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from e2p.config import validators as v
from e2p.exceptions import SettingsError

DEFAULT_CONFIG_FILE: Final = "e2p.toml"
DEFAULT_CENTRAL_STACK: Final = "events2panther-central"
# The central template's AllowedPattern for AlarmEmail and AlarmTopicArn.
EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+")
SNS_TOPIC_ARN: Final = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}")
# Every role of the forwarder is named with this prefix (handler/mappers/feedback_loop.py).
FORWARDER_ROLE_PREFIX: Final = "events2panther-"
DEFAULT_MEMBER_STACK: Final = "events2panther-member"
DEFAULT_LOOKUP_STACK: Final = "events2panther-org-lookup"
DEFAULT_LOOKUP_ROLE: Final = "events2panther-org-lookup"
DEFAULT_ACCESS_ROLE: Final = "OrganizationAccountAccessRole"
# IAM is global, so the lookup role stack can live in any region; us-east-1 is always enabled.
DEFAULT_LOOKUP_STACK_REGION: Final = "us-east-1"
# Global services (IAM, Organizations, sign-in) emit their events in us-east-1 only.
MANDATORY_REGIONS: Final = ("us-east-1",)
CALL_AS: Final = ("SELF", "DELEGATED_ADMIN")
RULE_STATES: Final = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", "DISABLED")
MAX_EVENT_PATTERN_CHARS: Final = 2048
SECTIONS: Final = ("organization", "central", "stackset", "member", "management")
# Stand-ins for a missing required value, so that parsing goes on and every unknown key of the
# section is reported too (a misspelt required key is the usual cause); never used as settings.
PLACEHOLDER_ACCOUNT: Final = "000000000000"
PLACEHOLDER_REGION: Final = "us-east-1"
PLACEHOLDER_URL: Final = "https://panther.invalid/api/event/create"
PLACEHOLDER_ROOT: Final = "r-0000"
SUGGESTION_CUTOFF: Final = 0.7
LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FunctionSetting:
    """One `[central.lambda]` key and the central template parameter it sets."""

    parameter: str
    parse: Callable[[str, Any], str]


NODE_NAMES: Final = ("name", "alias", "alias-or-name", "id")


def _int_setting(parameter: str, minimum: int, maximum: int) -> FunctionSetting:
    return FunctionSetting(parameter, lambda key, value: str(v.integer(key, value, minimum, maximum)))


# The central template's FunctionTimeout list: the buffer queue's visibility timeout is looked up from it.
FUNCTION_TIMEOUTS: Final = (30, 60, 90, 120, 180, 300, 600, 900)


def _timeout(key: str, value: Any) -> str:
    seconds = v.integer(key, value, 1, 900)
    if seconds not in FUNCTION_TIMEOUTS:
        raise SettingsError(
            key, f"the central template accepts only {', '.join(map(str, FUNCTION_TIMEOUTS))}"
        )
    return str(seconds)


def _retention(key: str, value: Any) -> str:
    days = v.integer(key, value, 1, 3653)
    if days not in LOG_RETENTION_DAYS:
        raise SettingsError(
            key, f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))} days"
        )
    return str(days)


# Bounds are the ones Lambda, SQS and EventBridge enforce, so a bad value fails here and not half-way
# through a CloudFormation update.
FUNCTION_SETTINGS: Final[Mapping[str, FunctionSetting]] = {
    "batch_size": _int_setting("BatchSize", 1, 10000),
    "maximum_batching_window_seconds": _int_setting("MaximumBatchingWindowInSeconds", 0, 300),
    "maximum_concurrency": _int_setting("MaximumConcurrency", 2, 1000),
    "delivery_concurrency": _int_setting("DeliveryConcurrency", 1, 64),
    # 0 = no reservation (the template's default): new accounts may have a quota of 10 and cannot reserve.
    "reserved_concurrency": _int_setting("ReservedConcurrency", 0, 1000),
    "max_receive_count": _int_setting("MaxReceiveCount", 1, 1000),
    "memory_size": _int_setting("FunctionMemorySize", 128, 10240),
    "timeout_seconds": FunctionSetting("FunctionTimeout", _timeout),
    # 1-365: the template's bounds (0 would keep every organisation event forever).
    "archive_retention_days": _int_setting("ArchiveRetentionDays", 1, 365),
    "log_retention_days": FunctionSetting("LogRetentionDays", _retention),
    "idempotency_enabled": FunctionSetting(
        "IdempotencyEnabled", lambda k, val: str(v.boolean(k, val)).lower()
    ),
    # `id` names accounts in Panther by their 12-digit id, which a member account cannot change.
    "node_name": FunctionSetting("NodeName", lambda k, val: v.one_of(k, val, NODE_NAMES)),
}


@dataclass(frozen=True, slots=True)
class OrganizationSettings:
    management_account_id: str | None = None
    organization_id: str | None = None


@dataclass(frozen=True, slots=True)
class CentralSettings:
    account_id: str
    region: str
    panther_url: str
    role_arn: str | None = None
    # Used instead of role_arn by the read-only commands (status, verify, preflight) when set.
    read_only_role_arn: str | None = None
    stack_name: str = DEFAULT_CENTRAL_STACK
    allow_insecure_http: bool = False
    account_tag_keys: tuple[str, ...] = ()
    allowed_org_paths: tuple[str, ...] = ()
    event_bus_name: str | None = None
    code_bucket: str | None = None
    # Where the central alarms notify (central template AlarmEmail / AlarmTopicArn); None: no one.
    alarm_email: str | None = None
    alarm_topic_arn: str | None = None
    # Central template parameter name -> value, only for the keys the operator set.
    function_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StackSetSettings:
    organizational_units: tuple[str, ...]
    regions: tuple[str, ...]
    # Mandatory regions the operator did not list; the CLI warns that it added them.
    added_regions: tuple[str, ...] = ()
    name: str | None = None
    region: str | None = None
    call_as: str | None = None
    failure_tolerance_percentage: int | None = None
    max_concurrent_percentage: int | None = None
    retain_stacks_on_account_removal: bool | None = None


@dataclass(frozen=True, slots=True)
class MemberSettings:
    rule_state: str = "ENABLED"
    # Compact JSON, validated; None keeps the template's default pattern.
    event_pattern: str | None = None
    access_role_name: str = DEFAULT_ACCESS_ROLE
    # Minutes between coverage heartbeats (member and central HeartbeatMinutes); 0 turns them off;
    # None keeps the templates' default (15).
    heartbeat_minutes: int | None = None
    # A CloudWatch alarm on every member DLQ (~$0.10 per account x region per month); off: `e2p status
    # --member-dlqs` reads the depths on demand.
    dead_letter_alarm: bool = False


@dataclass(frozen=True, slots=True)
class ManagementSettings:
    regions: tuple[str, ...]
    added_regions: tuple[str, ...] = ()
    deploy_member_stacks: bool = True
    role_arn: str | None = None
    # Used instead of role_arn by the read-only commands (status, verify, preflight) when set.
    read_only_role_arn: str | None = None
    member_stack_name: str = DEFAULT_MEMBER_STACK
    lookup_stack_name: str = DEFAULT_LOOKUP_STACK
    lookup_role_name: str = DEFAULT_LOOKUP_ROLE
    lookup_stack_region: str = DEFAULT_LOOKUP_STACK_REGION


@dataclass(frozen=True, slots=True)
class Settings:
    organization: OrganizationSettings
    central: CentralSettings
    stackset: StackSetSettings
    member: MemberSettings
    management: ManagementSettings
    source: Path | None = None

    def warnings(self) -> list[str]:
        notes = [
            f"stackset.regions: added {region} (global services emit their events there only)"
            for region in self.stackset.added_regions
        ]
        notes += [
            f"management.regions: added {region} (global services emit their events there only)"
            for region in self.management.added_regions
        ]
        # The member pattern and the handler recognise the forwarder's own calls by role name prefix;
        # the central functions' roles are named after the stack (CloudFormation-generated names).
        for key, name in (
            ("central.stack_name", self.central.stack_name),
            ("management.lookup_role_name", self.management.lookup_role_name),
        ):
            if not name.startswith(FORWARDER_ROLE_PREFIX):
                notes.append(
                    f"{key}: {name!r} does not start with {FORWARDER_ROLE_PREFIX!r}; the feedback-loop guard "
                    "will not recognise its roles' own API calls (they may be forwarded back to Panther)"
                )
        return notes


def did_you_mean(word: str, known: Sequence[str]) -> str:
    """`; did you mean panther_url?` when a known name is close to `word`, else ``."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=SUGGESTION_CUTOFF)
    return f"; did you mean {close[0]}?" if close else ""


class _Section:
    """A TOML table whose keys are consumed one by one; whatever is left over is refused.

    A missing required key does not stop parsing (see `required`): `finish` reports the unknown
    keys first, each with the closest known key, then the missing ones.
    """

    def __init__(self, name: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise SettingsError(name, f"expected a table [{name}], got {type(data).__name__}")
        self.name = name
        self._data: dict[str, Any] = dict(data)
        self._seen: set[str] = set()
        self._missing: list[str] = []

    def key(self, key: str) -> str:
        return f"{self.name}.{key}"

    def has(self, key: str) -> bool:
        return key in self._data

    def take(self, key: str) -> Any:
        self._seen.add(key)
        return self._data.get(key)

    def required(self, key: str, placeholder: Any) -> Any:
        """The value of `key`; when it is absent, `placeholder` (a valid stand-in) lets parsing go
        on, and `finish` raises."""
        if key not in self._data:
            self._seen.add(key)
            self._missing.append(key)
            return placeholder
        return self.take(key)

    def section(self, key: str) -> _Section:
        return _Section(self.key(key), self.take(key) if self.has(key) else {})

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        missing = "; ".join(f"{self.key(key)} is required" for key in self._missing)
        if unknown:
            allowed = ", ".join(sorted(self._seen))
            problems = [f"unknown key {key}{did_you_mean(key, sorted(self._seen))}" for key in unknown]
            problem = "; ".join(problems) + f" (allowed in [{self.name}]: {allowed or 'none'})"
            raise SettingsError(self.key(unknown[0]), f"{problem}; {missing}" if missing else problem)
        if self._missing:
            raise SettingsError(
                self.key(self._missing[0]),
                "is required" + "".join(f"; {self.key(key)} is required" for key in self._missing[1:]),
            )


def _optional(section: _Section, key: str, parse: Callable[[str, Any], Any]) -> Any:
    value = section.take(key)
    return None if value is None else parse(section.key(key), value)


def _with_mandatory(
    regions: Sequence[str], mandatory: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    added = tuple(region for region in mandatory if region not in regions)
    return (*regions, *added), added


def _parse_organization(section: _Section) -> OrganizationSettings:
    settings = OrganizationSettings(
        management_account_id=_optional(section, "management_account_id", v.account_id),
        organization_id=_optional(section, "organization_id", v.organization_id),
    )
    section.finish()
    return settings


# The central template's BatchSize default, for a config that sets only the window.
TEMPLATE_BATCH_SIZE: Final = 100
LARGEST_BATCH_WITHOUT_WINDOW: Final = 10


def _check_batching_window(section: _Section, parameters: Mapping[str, str]) -> None:
    """Lambda refuses an SQS mapping with BatchSize > 10 and MaximumBatchingWindowInSeconds 0."""
    window = parameters.get("MaximumBatchingWindowInSeconds")
    if window is None or int(window) > 0:
        return
    batch = int(parameters.get("BatchSize", TEMPLATE_BATCH_SIZE))
    if batch > LARGEST_BATCH_WITHOUT_WINDOW:
        raise SettingsError(
            section.key("maximum_batching_window_seconds"),
            f"must be at least 1 when batch_size is above {LARGEST_BATCH_WITHOUT_WINDOW} "
            f"(batch_size is {batch}{'' if 'BatchSize' in parameters else ', the template default'}); "
            "Lambda refuses it otherwise",
        )


def _parse_function(section: _Section) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for key, setting in FUNCTION_SETTINGS.items():
        if section.has(key):
            parameters[setting.parameter] = setting.parse(section.key(key), section.take(key))
    section.finish()
    reserved = parameters.get("ReservedConcurrency")
    maximum = parameters.get("MaximumConcurrency")
    _check_batching_window(section, parameters)
    if reserved is not None and maximum is not None and 0 < int(reserved) < int(maximum):
        # The event source mapping would be throttled by the function's own reservation.
        raise SettingsError(
            section.key("reserved_concurrency"), f"must be at least maximum_concurrency ({maximum})"
        )
    return parameters


def _parse_central(section: _Section) -> CentralSettings:
    allow_http = _optional(section, "allow_insecure_http", v.boolean) or False
    tag_keys = [
        v.matching(f"{section.key('account_tag_keys')}[{i}]", key, v.TAG_KEY, "a tag key without commas")
        for i, key in enumerate(
            v.string_list(section.key("account_tag_keys"), section.take("account_tag_keys") or [])
        )
    ]
    org_paths = [
        v.org_path(f"{section.key('allowed_org_paths')}[{i}]", path)
        for i, path in enumerate(
            v.string_list(section.key("allowed_org_paths"), section.take("allowed_org_paths") or [])
        )
    ]
    settings = CentralSettings(
        account_id=v.account_id(
            section.key("account_id"), section.required("account_id", PLACEHOLDER_ACCOUNT)
        ),
        region=v.region(section.key("region"), section.required("region", PLACEHOLDER_REGION)),
        panther_url=v.panther_url(
            section.key("panther_url"), section.required("panther_url", PLACEHOLDER_URL), allow_http
        ),
        role_arn=_optional(section, "role_arn", v.role_arn),
        read_only_role_arn=_optional(section, "read_only_role_arn", v.role_arn),
        stack_name=_optional(section, "stack_name", v.stack_name) or DEFAULT_CENTRAL_STACK,
        allow_insecure_http=allow_http,
        account_tag_keys=tuple(tag_keys),
        allowed_org_paths=tuple(org_paths),
        event_bus_name=_optional(section, "event_bus_name", v.event_bus_name),
        code_bucket=_optional(section, "code_bucket", v.bucket_name),
        alarm_email=_optional(
            section, "alarm_email", lambda k, val: v.matching(k, val, EMAIL, "an e-mail address")
        ),
        alarm_topic_arn=_optional(
            section, "alarm_topic_arn", lambda k, val: v.matching(k, val, SNS_TOPIC_ARN, "an SNS topic ARN")
        ),
        function_parameters=_parse_function(section.section("lambda")),
    )
    section.finish()  # before the cross-checks: a placeholder must not be reported as a value
    for key, arn in (("role_arn", settings.role_arn), ("read_only_role_arn", settings.read_only_role_arn)):
        if arn is not None and f":{settings.account_id}:" not in arn:
            raise SettingsError(
                section.key(key), f"must be a role in the central account {settings.account_id}"
            )
    return settings


def _regions(section: _Section, key: str, *, required: bool) -> list[str] | None:
    raw = section.required(key, [PLACEHOLDER_REGION]) if required else section.take(key)
    if raw is None:
        return None
    values = v.string_list(section.key(key), raw, allow_empty=False)
    return [v.region(f"{section.key(key)}[{i}]", region) for i, region in enumerate(values)]


def _parse_stackset(section: _Section, mandatory_regions: Sequence[str]) -> StackSetSettings:
    units = v.string_list(
        section.key("organizational_units"),
        section.required("organizational_units", [PLACEHOLDER_ROOT]),
        allow_empty=False,
    )
    regions, added = _with_mandatory(_regions(section, "regions", required=True) or [], mandatory_regions)
    settings = StackSetSettings(
        organizational_units=tuple(
            v.organizational_unit_id(f"{section.key('organizational_units')}[{i}]", unit)
            for i, unit in enumerate(units)
        ),
        regions=regions,
        added_regions=added,
        name=_optional(section, "name", v.stack_set_name),
        region=_optional(section, "region", v.region),
        call_as=_optional(section, "call_as", lambda k, val: v.one_of(k, val, CALL_AS)),
        failure_tolerance_percentage=_optional(section, "failure_tolerance_percentage", v.percentage),
        max_concurrent_percentage=_optional(
            section, "max_concurrent_percentage", lambda k, val: v.percentage(k, val, minimum=1)
        ),
        retain_stacks_on_account_removal=_optional(section, "retain_stacks_on_account_removal", v.boolean),
    )
    section.finish()
    return settings


def _event_pattern(key: str, value: Any, base_dir: Path) -> str:
    path = Path(v.string(key, value))
    path = path if path.is_absolute() else base_dir / path
    try:
        pattern = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(key, f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise SettingsError(key, f"{path} is not JSON: {exc}") from exc
    if not isinstance(pattern, dict) or not pattern:
        raise SettingsError(key, f"{path} must hold a non-empty JSON object (an EventBridge event pattern)")
    compact = json.dumps(pattern, separators=(",", ":"), sort_keys=True)
    if len(compact) > MAX_EVENT_PATTERN_CHARS:
        raise SettingsError(
            key,
            f"the pattern is {len(compact)} characters; "
            f"EventBridge accepts at most {MAX_EVENT_PATTERN_CHARS}",
        )
    return compact


def _parse_member(section: _Section, base_dir: Path) -> MemberSettings:
    pattern_file = section.take("event_pattern_file")
    settings = MemberSettings(
        rule_state=_optional(section, "rule_state", lambda k, val: v.one_of(k, val, RULE_STATES))
        or "ENABLED",
        event_pattern=None
        if pattern_file is None
        else _event_pattern(section.key("event_pattern_file"), pattern_file, base_dir),
        access_role_name=_optional(section, "access_role_name", v.role_name) or DEFAULT_ACCESS_ROLE,
        heartbeat_minutes=_optional(section, "heartbeat_minutes", lambda k, val: v.integer(k, val, 0, 1440)),
        dead_letter_alarm=_optional(section, "dead_letter_alarm", v.boolean) or False,
    )
    section.finish()
    return settings


def _parse_management(
    section: _Section, stackset_regions: Sequence[str], mandatory_regions: Sequence[str]
) -> ManagementSettings:
    listed = _regions(section, "regions", required=False)
    regions, added = _with_mandatory(listed if listed is not None else stackset_regions, mandatory_regions)
    settings = ManagementSettings(
        regions=regions,
        added_regions=added if listed is not None else (),
        deploy_member_stacks=_optional(section, "deploy_member_stacks", v.boolean) is not False,
        role_arn=_optional(section, "role_arn", v.role_arn),
        read_only_role_arn=_optional(section, "read_only_role_arn", v.role_arn),
        member_stack_name=_optional(section, "member_stack_name", v.stack_name) or DEFAULT_MEMBER_STACK,
        lookup_stack_name=_optional(section, "lookup_stack_name", v.stack_name) or DEFAULT_LOOKUP_STACK,
        lookup_role_name=_optional(section, "lookup_role_name", v.role_name) or DEFAULT_LOOKUP_ROLE,
        lookup_stack_region=_optional(section, "lookup_stack_region", v.region)
        or DEFAULT_LOOKUP_STACK_REGION,
    )
    section.finish()
    return settings


def parse_settings(
    data: Mapping[str, Any], base_dir: Path, mandatory_regions: Sequence[str] = MANDATORY_REGIONS
) -> Settings:
    """Validate an already-parsed config document. `base_dir` resolves relative file names."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise SettingsError(
            f"[{unknown[0]}]",
            f"unknown section{did_you_mean(unknown[0], SECTIONS)} (allowed: {', '.join(SECTIONS)})",
        )
    for name in ("central", "stackset"):
        if name not in data:
            raise SettingsError(f"[{name}]", "section is required")
    organization = _parse_organization(_Section("organization", data.get("organization", {})))
    central = _parse_central(_Section("central", data["central"]))
    stackset = _parse_stackset(_Section("stackset", data["stackset"]), mandatory_regions)
    member = _parse_member(_Section("member", data.get("member", {})), base_dir)
    management = _parse_management(
        _Section("management", data.get("management", {})), stackset.regions, mandatory_regions
    )
    return Settings(organization, central, stackset, member, management)


def load_settings(path: Path, mandatory_regions: Sequence[str] = MANDATORY_REGIONS) -> Settings:
    """Read and validate the TOML file at `path`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SettingsError("", f"config file {path} not found (pass --config FILE)") from exc
    except OSError as exc:
        raise SettingsError("", f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError("", f"{path} is not valid TOML: {exc}") from exc
    settings = parse_settings(data, path.parent, mandatory_regions)
    return Settings(
        settings.organization, settings.central, settings.stackset, settings.member, settings.management, path
    )
