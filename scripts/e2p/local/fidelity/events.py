"""EventBridge made faithful where moto 5.2.5 differs from AWS in ways this product relies on.

AWS behaviour restored, with the documentation fact each rests on:
- Bus-to-bus forwarding keeps the ORIGINAL envelope (id, account, region, time, resources,
  source, detail-type, detail): "the event is sent as-is" to an event bus target (EventBridge
  User Guide, sending events between event buses); moto re-stamped it with the receiving
  account/region, a new id and time and empty resources.
- Targets without Input/InputPath/InputTransformer receive the whole event, `account` included
  (EventBridge event structure reference); moto's default template had no `account`.
- The bus resource policy is enforced for PutEvents from another account and for cross-account
  rule delivery (Principal, Action, Resource, Condition incl. `aws:PrincipalOrgID` and
  `ForAnyValue:StringLike` on `aws:PrincipalOrgPaths`, IAM global condition keys); a refused
  direct PutEvents entry fails with ErrorCode AccessDeniedException (PutEventsResultEntry lists
  it), a refused rule delivery is a target delivery failure. Same-account PutEvents needs no
  bus policy.
- An event bus target needs RoleArn: the role must exist in the rule's account, trust
  events.amazonaws.com and allow events:PutEvents on the target bus (EventBridge User Guide,
  "event bus as a target" and the 2023 change requiring roles for cross-account bus targets).
- Rule state: DISABLED rules match nothing; ENABLED rules match everything except read-only
  management events delivered through CloudTrail, which only
  ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS rules receive ("Receiving read-only management
  events": read-only means an API action starting with Describe, Get or List, except STS
  GetFederationToken/GetSessionToken which are change events).
- Sources starting with `aws.` are reserved: a client's PutEvents entry fails with
  NotAuthorizedForSourceException, "Not authorized for the source." AWS services emit them;
  `emit_aws_event` is that privileged path for the local mode.
- Delivery failures never fail the sender's PutEvents: errors that retrying cannot fix (missing
  permissions, missing target resource) go straight to the target's DeadLetterConfig queue with
  the message attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE and RETRY_ATTEMPTS
  (EventBridge User Guide, "Using dead-letter queues"); without a DLQ the event is dropped, as
  AWS does, and counted in the fidelity log. EventBridge needs the DLQ's queue policy to allow
  it sqs:SendMessage, and an SQS target's queue policy likewise; a queue encrypted with a
  customer managed KMS key also needs the key policy to allow EventBridge kms:GenerateDataKey and
  kms:Decrypt (EventBridge User Guide, encrypted SQS targets), without conditions (see below);
  a DLQ must be in the rule's region.
- No chaining: an event that already crossed an account (or region) is not forwarded to a bus in
  yet another account (region): THIRD_ACCOUNT_HOP_DETECTED / THIRD_REGION_HOP_DETECTED.
- RetryPolicy is not supported on an event bus target (documented as such for the EventBridge
  bus target; whether the API refuses or ignores it is not documented): PutTargets refuses it,
  so a template never relies on it.
- The bus policy sees aws:PrincipalArn (the target role's ARN) for rule deliveries.
- An SQS target or DLQ under a customer managed key: the key policy is evaluated WITHOUT
  aws:SourceArn/aws:SourceAccount (no condition key is documented for EventBridge's KMS calls
  through SQS), so a statement conditioned on them does not admit EventBridge.
- RetryPolicy on an SQS target is stored only: the local failures above are the non-retryable kind, which AWS
  sends to the DLQ without retries, so RETRY_ATTEMPTS is always "0".
- An AWS::Events::Rule EventPattern given as JSON text (a `!Ref` to a String parameter) is a
  pattern, as CloudFormation reads it; moto encoded the text again and failed.
- Lambda targets are not supported locally (the product does not use them): PutTargets refuses
  them with a clear ValidationException instead of moto's HTTP 500 at delivery.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from e2p.local.fidelity import iam, organization, patching, policy, switch
from e2p.local.fidelity.record import FIDELITY_LOG

RESERVED_SOURCE_PREFIX = "aws."
EVENTS_SERVICE_PRINCIPAL = "events.amazonaws.com"
PUT_EVENTS_ACTION = "events:PutEvents"
SEND_MESSAGE_ACTION = "sqs:SendMessage"
ASSUME_ROLE_ACTION = "sts:AssumeRole"
MAX_ENTRIES = 10
AWS_MANAGED_SQS_KEY = "alias/aws/sqs"
KMS_ACTIONS_FOR_SQS = ("kms:GenerateDataKey", "kms:Decrypt")

STATE_DISABLED = "DISABLED"
STATE_ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
CLOUDTRAIL_API_CALL = "AWS API Call via CloudTrail"
READ_ONLY_VERBS = ("Describe", "Get", "List")
CHANGE_EVENTS_WITH_READ_VERB = frozenset({"GetFederationToken", "GetSessionToken"})

# EventBridge's dead-letter ERROR_CODE values used here.
NO_RESOURCE = "NO_RESOURCE"
NO_PERMISSIONS = "NO_PERMISSIONS"
FAILED_TO_ASSUME_ROLE = "FAILED_TO_ASSUME_ROLE"
THIRD_ACCOUNT_HOP = "THIRD_ACCOUNT_HOP_DETECTED"
THIRD_REGION_HOP = "THIRD_REGION_HOP_DETECTED"
# Not an AWS code: a target kind the local AWS cannot deliver to.
LOCAL_UNSUPPORTED_TARGET = "LOCAL_UNSUPPORTED_TARGET"

ENVELOPE_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
INGESTION_TIME = "ingestion-time"
RETRY_POLICY_ON_BUS_TARGET = (
    "RetryPolicy is not supported for event bus targets: EventBridge applies its own retries (24 h, 185 "
    "attempts); keep the DeadLetterConfig."
)
LAMBDA_TARGETS_UNSUPPORTED = (
    "Lambda targets are not supported by the events2panther local AWS: the product routes events "
    "through SQS; use an SQS target."
)


@dataclass(frozen=True, slots=True)
class Route:
    """Where an event is now and whether it already crossed an account or a region."""

    account: str
    region: str
    crossed_account: bool = False
    crossed_region: bool = False


class DeliveryFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry_time(value: Any) -> str:
    if value is None or value == "":
        return iso_time(datetime.now(UTC))
    if isinstance(value, (int, float)):
        return iso_time(datetime.fromtimestamp(float(value), UTC))
    if isinstance(value, datetime):
        return iso_time(value)
    return str(value)


def is_read_only_management_event(envelope: Mapping[str, Any]) -> bool:
    if envelope.get("detail-type") != CLOUDTRAIL_API_CALL:
        return False
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        return False
    if detail.get("eventCategory", "Management") != "Management":
        return False
    name = str(detail.get("eventName", ""))
    return name.startswith(READ_ONLY_VERBS) and name not in CHANGE_EVENTS_WITH_READ_VERB


def rule_receives(state: str | None, envelope: Mapping[str, Any]) -> bool:
    """Whether a rule in `state` is offered this event at all (before its pattern)."""
    if state == STATE_DISABLED:
        return False
    if is_read_only_management_event(envelope):
        return state == STATE_ALL_MANAGEMENT_EVENTS
    return True


def payload_of(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The event as a target receives it by default: every public field, nothing internal."""
    return {k: v for k, v in envelope.items() if k != INGESTION_TIME}


# --- helpers over moto's backends -------------------------------------------------------------


def _events_backend(account: str, region: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[account][region]


def _sqs_queue(account: str, region: str, name: str) -> Any | None:
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    try:
        return sqs_backends[account][region].get_queue(name)
    except QueueDoesNotExist:
        return None


def _org_context(account: str, principal_arn: str | None = None) -> dict[str, str | list[str]]:
    context: dict[str, str | list[str]] = {"aws:principalaccount": account}
    if principal_arn:
        # For a role session IAM sets aws:PrincipalArn to the role's ARN, not the session's.
        context["aws:principalarn"] = principal_arn
    member = organization.membership(account)
    if member is not None:
        context["aws:principalorgid"] = member.org_id
        context["aws:principalorgpaths"] = [member.path]
    return context


def bus_policy_allows(bus: Any, principal_account: str, principal_arn: str | None = None) -> bool:
    document = policy.load(bus.policy)
    request = policy.Request(
        action=PUT_EVENTS_ACTION,
        resource=bus.arn,
        principal_account=principal_account,
        principal_arn=principal_arn,
        context=_org_context(principal_account, principal_arn),
    )
    return policy.evaluate([document], request, check_principal=True) is policy.Decision.ALLOW


def _service_may_send(queue: Any, rule: Any) -> bool:
    """A queue policy must let EventBridge (for this rule) send to the queue."""
    request = policy.Request(
        action=SEND_MESSAGE_ACTION,
        resource=queue.queue_arn,
        service=EVENTS_SERVICE_PRINCIPAL,
        context={"aws:sourcearn": rule.arn, "aws:sourceaccount": rule.account_id},
    )
    document = policy.load(queue.policy)
    return policy.evaluate([document], request, check_principal=True) is policy.Decision.ALLOW


def _key_allows_events(queue: Any, rule: Any) -> bool:
    """An SQS queue encrypted with a customer managed key needs the key policy to admit EventBridge."""
    from moto.kms.models import kms_backends

    key_id = queue.kms_master_key_id
    if not key_id or str(key_id).endswith(AWS_MANAGED_SQS_KEY):
        return True
    parts = queue.queue_arn.split(":")
    backend = kms_backends[parts[4]][parts[3]]
    from moto.kms.exceptions import NotFoundException

    try:
        key = backend.describe_key(backend.any_id_to_key_id(str(key_id)))
    except (NotFoundException, KeyError):  # an unknown key: EventBridge cannot use it
        return False
    document = policy.load(key.policy)
    # SQS calls KMS for EventBridge's SendMessage; AWS documents no condition key those calls carry
    # (the encrypted SNS target guide: aws:SourceAccount/aws:SourceArn are not supported there). The
    # local AWS gives none, so a statement that needs one fails as it may on AWS (docs/aws-behaviour.md).
    context: dict[str, str | list[str]] = {}
    return all(
        policy.evaluate(
            [document],
            policy.Request(
                action=action, resource=key.arn, service=EVENTS_SERVICE_PRINCIPAL, context=context
            ),
            check_principal=True,
        )
        is policy.Decision.ALLOW
        for action in KMS_ACTIONS_FOR_SQS
    )


def _check_role(rule: Any, role_arn: str | None, bus_arn: str) -> None:
    if not role_arn:
        raise DeliveryFailure(NO_PERMISSIONS, f"Target {bus_arn} is an event bus and has no RoleArn.")
    parts = role_arn.split(":")
    role_account = parts[4] if len(parts) > 4 else ""
    if role_account != rule.account_id:
        raise DeliveryFailure(FAILED_TO_ASSUME_ROLE, f"Role {role_arn} is not in the rule's account.")
    role = iam.find_role(role_account, role_arn)
    if role is None:
        raise DeliveryFailure(FAILED_TO_ASSUME_ROLE, f"Role {role_arn} does not exist.")
    trust = policy.load(role.assume_role_policy_document)
    assume = policy.Request(
        action=ASSUME_ROLE_ACTION,
        resource=role_arn,
        service=EVENTS_SERVICE_PRINCIPAL,
        context={"aws:sourcearn": rule.arn, "aws:sourceaccount": rule.account_id},
    )
    if policy.evaluate([trust], assume, check_principal=True) is not policy.Decision.ALLOW:
        raise DeliveryFailure(
            FAILED_TO_ASSUME_ROLE, f"Role {role_arn} does not trust {EVENTS_SERVICE_PRINCIPAL}."
        )
    documents = iam.identity_documents(role)
    put = policy.Request(action=PUT_EVENTS_ACTION, resource=bus_arn, principal_arn=role_arn)
    if policy.evaluate(documents, put, check_principal=False) is not policy.Decision.ALLOW:
        raise DeliveryFailure(NO_PERMISSIONS, f"Role {role_arn} may not {PUT_EVENTS_ACTION} on {bus_arn}.")


# --- delivery ---------------------------------------------------------------------------------


def _transformed(target: Mapping[str, Any], envelope: Mapping[str, Any]) -> Any:
    from moto.events.utils import EventTemplateParser

    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng import ext

        path = ext.parse(target["InputPath"])  # type: ignore[attr-defined]
        matches = path.find(payload_of(envelope))
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        event = dict(envelope)
        event.setdefault(INGESTION_TIME, datetime.now(UTC).timestamp())
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
        )
    return payload_of(envelope)


def _body(payload: Any) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload)


def _deliver_to_queue(rule: Any, target: Mapping[str, Any], arn: Any, envelope: Mapping[str, Any]) -> None:
    from moto.sqs.models import sqs_backends

    queue = _sqs_queue(arn.account, arn.region, arn.resource_id)
    if queue is None:
        raise DeliveryFailure(NO_RESOURCE, f"Queue {target['Arn']} does not exist.")
    if not _service_may_send(queue, rule):
        raise DeliveryFailure(
            NO_PERMISSIONS, f"The queue policy of {target['Arn']} does not allow EventBridge."
        )
    if not _key_allows_events(queue, rule):
        raise DeliveryFailure(NO_PERMISSIONS, f"The KMS key of {target['Arn']} does not allow EventBridge.")
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource_id,
        message_body=_body(_transformed(target, envelope)),
        group_id=group_id,
        deduplication_id=str(envelope.get("id")) if queue.fifo_queue else None,
    )


def _deliver_to_log_group(target: Mapping[str, Any], arn: Any, envelope: Mapping[str, Any]) -> None:
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.models import logs_backends

    backend = logs_backends[arn.account][arn.region]
    name = arn.resource_id.removesuffix(":*")
    stream = str(uuid.uuid4())
    try:
        backend.create_log_stream(name, stream)
    except ResourceNotFoundException as error:
        raise DeliveryFailure(NO_RESOURCE, f"Log group {name} does not exist.") from error
    millis = int(datetime.now(UTC).timestamp() * 1000)
    backend.put_log_events(
        name, stream, [{"timestamp": millis, "message": _body(_transformed(target, envelope))}]
    )


def _deliver_to_bus(
    rule: Any, target: Mapping[str, Any], arn: Any, envelope: Mapping[str, Any], route: Route
) -> None:
    bus_name = arn.resource_id
    crosses_account = arn.account != route.account
    crosses_region = arn.region != route.region
    if crosses_account and route.crossed_account:
        raise DeliveryFailure(
            THIRD_ACCOUNT_HOP, f"Event {envelope.get('id')} already came from another account."
        )
    if crosses_region and route.crossed_region:
        raise DeliveryFailure(
            THIRD_REGION_HOP, f"Event {envelope.get('id')} already came from another region."
        )
    bus = _events_backend(arn.account, arn.region).event_buses.get(bus_name)
    if bus is None:
        raise DeliveryFailure(NO_RESOURCE, f"Event bus {target['Arn']} does not exist.")
    _check_role(rule, target.get("RoleArn"), bus.arn)
    if arn.account != rule.account_id and not bus_policy_allows(bus, rule.account_id, target.get("RoleArn")):
        raise DeliveryFailure(
            NO_PERMISSIONS, f"The policy of {bus.arn} does not allow account {rule.account_id}."
        )
    dispatch(
        bus,
        envelope,
        Route(
            arn.account,
            arn.region,
            crossed_account=route.crossed_account or crosses_account,
            crossed_region=route.crossed_region or crosses_region,
        ),
    )


def _deliver(rule: Any, target: Mapping[str, Any], envelope: Mapping[str, Any], route: Route) -> None:
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    if arn.service == "sqs":
        _deliver_to_queue(rule, target, arn, envelope)
    elif arn.service == "logs" and arn.resource_type == "log-group":
        _deliver_to_log_group(target, arn, envelope)
    elif arn.service == "events" and arn.resource_type == "event-bus":
        _deliver_to_bus(rule, target, arn, envelope, route)
    elif arn.service == "events" and not arn.resource_type:
        # moto's archive rule: its InputTransformer names the archive.
        archive_arn = parse_arn(_transformed(target, envelope)["archive-arn"])
        rule._send_to_events_archive(archive_arn.resource_id, dict(envelope))
    else:
        raise DeliveryFailure(LOCAL_UNSUPPORTED_TARGET, f"Target {target['Arn']} is not supported locally.")


def _attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def dead_letter(
    rule: Any, target: Mapping[str, Any], envelope: Mapping[str, Any], failure: DeliveryFailure
) -> None:
    """Send the event to the target's DLQ, or drop it (and record that) as AWS would."""
    from moto.utilities.arns import parse_arn

    detail = f"rule={rule.arn} target={target.get('Arn')} event={envelope.get('id')}: {failure.message}"
    dlq_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not dlq_arn:
        FIDELITY_LOG.add("dropped", failure.code, detail)
        return
    arn = parse_arn(dlq_arn)
    queue = _sqs_queue(arn.account, arn.region, arn.resource_id) if arn.region == rule.region_name else None
    if queue is None:
        FIDELITY_LOG.add("dropped", failure.code, f"{detail} (dead-letter queue {dlq_arn} unusable)")
        return
    if not _service_may_send(queue, rule) or not _key_allows_events(queue, rule):
        FIDELITY_LOG.add(
            "dropped", failure.code, f"{detail} (policy or key of {dlq_arn} does not allow EventBridge)"
        )
        return
    from moto.sqs.models import sqs_backends

    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource_id,
        message_body=json.dumps(payload_of(envelope)),
        message_attributes={
            "RULE_ARN": _attribute(rule.arn),
            "TARGET_ARN": _attribute(str(target.get("Arn"))),
            "ERROR_CODE": _attribute(failure.code),
            "ERROR_MESSAGE": _attribute(failure.message),
            "RETRY_ATTEMPTS": _attribute("0"),
        },
    )
    FIDELITY_LOG.add("dead-lettered", failure.code, detail)


def send_to_targets(rule: Any, envelope: Mapping[str, Any], route: Route) -> None:
    if not rule_receives(rule.state, envelope):
        return
    if not rule.event_pattern.matches_event(payload_of(envelope)):
        return
    for target in list(rule.targets):
        try:
            _deliver(rule, target, envelope, route)
        except DeliveryFailure as failure:
            dead_letter(rule, target, envelope, failure)


def dispatch(bus: Any, envelope: Mapping[str, Any], route: Route) -> None:
    for rule in list(bus.rules.values()):
        send_to_targets(rule, envelope, route)


def _origin_route(bus: Any, envelope: Mapping[str, Any]) -> Route:
    return Route(
        bus.account_id,
        bus.region,
        crossed_account=envelope.get("account") not in (None, "", bus.account_id),
        crossed_region=envelope.get("region") not in (None, "", bus.region),
    )


def emit_aws_event(account: str, region: str, event: Mapping[str, Any]) -> str:
    """Put an event on `account`'s default bus in `region` the way an AWS service does.

    No reserved-source check (this is how `aws.*` events enter the local AWS). Missing envelope
    fields are filled in (`id`, `time`, `version`, and `account`/`region` from the arguments).
    Returns the event id.
    """
    envelope: dict[str, Any] = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "time": iso_time(datetime.now(UTC)),
        "resources": [],
        "detail": {},
        **{k: v for k, v in event.items() if k in ENVELOPE_KEYS},
        "account": account,
        "region": region,
    }
    bus = _events_backend(account, region).event_buses["default"]
    with switch.mode(True):
        dispatch(bus, envelope, _origin_route(bus, envelope))
    return str(envelope["id"])


# --- patched moto entry points ------------------------------------------------------------------


def _resolve_bus(backend: Any, name_or_arn: str | None) -> Any:
    from moto.events.exceptions import ResourceNotFoundException

    value = name_or_arn or "default"
    account, region, name = backend.account_id, backend.region_name, value
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        region, account, name = parts[3], parts[4], parts[5].split("/", 1)[-1]
    bus = _events_backend(account, region).event_buses.get(name)
    if bus is None:
        raise ResourceNotFoundException(f"Event bus {name} does not exist.")
    return bus


def _entry_error(code: str, message: str) -> dict[str, str]:
    return {"ErrorCode": code, "ErrorMessage": message}


def _put_one(backend: Any, entry: Mapping[str, Any]) -> dict[str, str]:
    for field_name in ("Source", "DetailType", "Detail"):
        if not entry.get(field_name):
            return _entry_error(
                "InvalidArgument",
                f"Parameter {field_name} is not valid. Reason: {field_name} is a required argument.",
            )
    if str(entry["Source"]).startswith(RESERVED_SOURCE_PREFIX):
        return _entry_error("NotAuthorizedForSourceException", "Not authorized for the source.")
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        return _entry_error("MalformedDetail", "Detail is malformed.")
    bus = _resolve_bus(backend, entry.get("EventBusName"))
    if bus.account_id != backend.account_id and not bus_policy_allows(bus, backend.account_id):
        principal = f"arn:aws:iam::{backend.account_id}:root"
        return _entry_error(
            "AccessDeniedException",
            f"User: {principal} is not authorized to perform: {PUT_EVENTS_ACTION} on resource: {bus.arn} "
            f"because no resource-based policy allows the {PUT_EVENTS_ACTION} action",
        )
    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": backend.account_id,
        "time": _entry_time(entry.get("Time")),
        "region": backend.region_name,
        "resources": list(entry.get("Resources") or []),
        "detail": detail,
    }
    dispatch(bus, envelope, _origin_route(bus, envelope))
    return {"EventId": envelope["id"]}


def _put_events(original: Any, backend: Any, entries: list[dict[str, Any]]) -> list[dict[str, str]]:
    if len(entries) > MAX_ENTRIES:
        return list(original(backend, entries))  # moto raises AWS's validation error
    return [_put_one(backend, entry) for entry in entries]


def _send_to_targets(
    original: Any, rule: Any, event: Mapping[str, Any], transform_input: bool = True
) -> None:
    # Reached from moto's own callers (archive replay): the event is an envelope already.
    bus = _events_backend(rule.account_id, rule.region_name).event_buses.get(rule.event_bus_name)
    route = _origin_route(bus, event) if bus is not None else Route(rule.account_id, rule.region_name)
    send_to_targets(rule, event, route)


def _put_targets(
    original: Any, backend: Any, name: str, event_bus_arn: str | None, targets: list[Any]
) -> None:
    from moto.events.exceptions import ValidationException

    for target in targets:
        # A schedule rule's function target is run by e2p.local.schedules (the scheduled function,
        # in-process); only event-pattern rules would need the Lambda delivery moto lacks.
        if ":lambda:" in str(target.get("Arn", "")) and not _is_schedule_rule(backend, name, event_bus_arn):
            raise ValidationException(LAMBDA_TARGETS_UNSUPPORTED)
        if ":event-bus/" in str(target.get("Arn", "")) and target.get("RetryPolicy"):
            raise ValidationException(RETRY_POLICY_ON_BUS_TARGET)
    original(backend, name, event_bus_arn, targets)


def _is_schedule_rule(backend: Any, name: str, event_bus_arn: str | None) -> bool:
    # Schedule rules exist on the default bus only.
    on_default = not event_bus_arn or event_bus_arn.endswith("default")
    bus = backend.event_buses.get("default") if on_default else None
    rule = bus.rules.get(name) if bus is not None else None
    return bool(rule is not None and getattr(rule, "scheduled_expression", None))


def _put_permission(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    backend: Any,
    event_bus_name: str,
    action: str,
    principal: str,
    statement_id: str,
    condition: dict[str, str],
    policy_text: str,
) -> None:
    if not policy_text:
        original(backend, event_bus_name, action, principal, statement_id, condition, policy_text)
        return
    # A Policy replaces the whole bus policy on AWS; moto merged it by principal.
    bus = backend.describe_event_bus(event_bus_name or "default")
    bus.remove_statements()
    original(backend, event_bus_name, action, principal, statement_id, condition, policy_text)


def _archive_from_cloudformation(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    cls: Any,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = cloudformation_json["Properties"]
    if isinstance(properties.get("EventPattern"), (dict, list)):
        properties["EventPattern"] = json.dumps(properties["EventPattern"])
    if "ArchiveName" not in properties:
        resource_name = resource_name[-ARCHIVE_NAME_MAX:]
    return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)


ARCHIVE_NAME_MAX = 48


def _rule_from_cloudformation(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    cls: Any,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = cloudformation_json["Properties"]
    if isinstance(properties.get("EventPattern"), str):
        # CloudFormation takes the pattern as an object or as JSON text (a `!Ref` to a String
        # parameter); moto re-encoded the text into a JSON string literal.
        properties["EventPattern"] = json.loads(properties["EventPattern"])
    return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)


def install() -> None:
    """Install the EventBridge patches into this process (idempotent)."""
    from moto.events import models

    patching.replace(models.EventsBackend, "put_events", _put_events)
    patching.replace(models.EventsBackend, "put_targets", _put_targets)
    patching.replace(models.EventsBackend, "put_permission", _put_permission)
    patching.replace(models.Rule, "send_to_targets", _send_to_targets)
    patching.replace(models.Archive, "create_from_cloudformation_json", _archive_from_cloudformation)
    patching.replace(models.Rule, "create_from_cloudformation_json", _rule_from_cloudformation)
    # `!Ref` of a bus is its name on AWS; moto returned the model object.
    patching.add_property(models.EventBus, "physical_resource_id", lambda bus: bus.name)
    patching.add_property(models.Archive, "physical_resource_id", lambda archive: archive.name)
