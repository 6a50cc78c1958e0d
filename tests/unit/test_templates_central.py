"""The central template against the template <-> CLI contract and the handler's own code."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from moto.events.models import EventPattern

from e2p.ops.deployment import CENTRAL_OUTPUTS
from handler import constants
from handler.config import load_settings
from handler.exceptions import TokenUnavailableError
from handler.token import token_from_secret_string

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# AWS guidance for an SQS event source: visibility timeout at least six times the function timeout.
VISIBILITY_FACTOR = 6
SQS_MAX_VISIBILITY_S = 43200

CONTRACT_PARAMETER_DEFAULTS = {
    "OrganizationId": None,
    "AllowedOrgPaths": "",
    "ManagementAccountId": None,
    "LookupRoleName": "events2panther-org-lookup",
    "PantherUrl": None,
    "AllowInsecureHttp": "false",
    "TokenReaderRoleArn": "",
    "OperatorRoleArns": "",
    "CodeBucket": None,
    "CodeKey": None,
    "CodeObjectVersion": None,
    "MappingsKey": "",
    "AccountTagKeys": "",
    "EventBusName": "events2panther",
    "BatchSize": "100",
    "MaximumBatchingWindowInSeconds": "5",
    "MaximumConcurrency": "5",
    "DeliveryConcurrency": "25",
    "ReservedConcurrency": "0",
    "MaxReceiveCount": "5",
    "FunctionMemorySize": "256",
    "FunctionTimeout": "60",
    "ArchiveRetentionDays": "7",
    "LogRetentionDays": "30",
    "IdempotencyEnabled": "true",
    "HeartbeatMinutes": "15",
    "MissedHeartbeats": "3",
    "WatchdogMinutes": "15",
    "CoverageUnits": "",
    "CoverageRegions": "",
    "ManagementRegions": "",
    "MemberStackSetName": "events2panther-member",
    "ReadEnabledRegions": "true",
    "DirectoryRefreshSchedule": "rate(1 hour)",
    "AliasRoleName": "events2panther-alias-reader",
    "AliasRefreshSeconds": "86400",
    "NodeName": "name",
    "ForwarderName": "events2panther-forwarder",
    "AlarmEmail": "",
    "AlarmTopicArn": "",
}
REQUIRED_ENVIRONMENT = {
    constants.PANTHER_URL,
    constants.TOKEN_SECRET_ID,
    constants.ALLOW_INSECURE_HTTP,
    constants.DEAD_LETTER_QUEUE_URL,
    constants.ORG_LOOKUP_ROLE_ARN,
    constants.ACCOUNT_TAG_KEYS,
    constants.DELIVERY_CONCURRENCY,
    constants.IDEMPOTENCY_TABLE,
    constants.POWERTOOLS_SERVICE_NAME,
    constants.POWERTOOLS_METRICS_NAMESPACE,
    constants.LOG_LEVEL,
}
# Values a deployment could give the parameters without defaults.
DEPLOY_PARAMETERS = {
    "OrganizationId": "o-a1b2c3d4e5",
    "ManagementAccountId": "111122223333",
    "PantherUrl": "https://acme.runpanther.net/api/event/create",
    "CodeBucket": "artifacts",
    "CodeKey": "events2panther/handler.zip",
}
# Physical ids CloudFormation would give the resources the environment refers to.
PHYSICAL_IDS = {
    "TokenSecret": "arn:aws:secretsmanager:eu-west-1:444455556666:secret:central-TokenSecret-AbCdEf",
    "BufferDeadLetterQueue": "https://sqs.eu-west-1.amazonaws.com/444455556666/central-BufferDeadLetterQueue-X",
    "IdempotencyTable": "central-IdempotencyTable-X",
    "DirectoryBucket": "central-directorybucket-x",
    "ScheduledFunction": "central-ScheduledFunction-X",
    "CoverageTable": "central-CoverageTable-X",
}
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "444455556666"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, errors = decode_str((ROOT / "central" / "template.yaml").read_text())
    assert not errors, errors
    return loaded


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    return {**values, **DEPLOY_PARAMETERS, **overrides}


def condition_true(template: dict[str, Any], name: str, params: dict[str, str]) -> bool:
    return bool(resolve(template["Conditions"][name], template, params))


def resolve(node: Any, template: dict[str, Any], params: dict[str, str]) -> Any:
    """A small evaluator for the intrinsic functions the function's environment uses."""
    if isinstance(node, list):
        return [resolve(item, template, params) for item in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        name = node["Ref"]
        if name in params:
            value = params[name]
            return value.split(",") if template["Parameters"][name]["Type"] == "CommaDelimitedList" else value
        return PSEUDO.get(name) or PHYSICAL_IDS[name]
    if "Fn::Sub" in node:
        return re.sub(
            r"\$\{([^}]+)\}", lambda m: str(resolve({"Ref": m.group(1)}, template, params)), node["Fn::Sub"]
        )
    if "Fn::If" in node:
        name, when_true, when_false = node["Fn::If"]
        return resolve(when_true if condition_true(template, name, params) else when_false, template, params)
    if "Fn::Equals" in node:
        left, right = resolve(node["Fn::Equals"], template, params)
        return left == right
    if "Fn::Not" in node:
        return not resolve(node["Fn::Not"][0], template, params)
    if "Fn::And" in node:
        return all(resolve(item, template, params) for item in node["Fn::And"])
    if "Fn::Or" in node:
        return any(resolve(item, template, params) for item in node["Fn::Or"])
    if "Condition" in node:
        return condition_true(template, node["Condition"], params)
    if "Fn::Join" in node:
        separator, items = node["Fn::Join"]
        return separator.join(resolve(items, template, params))
    if "Condition" in node and len(node) == 1:
        return condition_true(template, node["Condition"], params)
    raise AssertionError(f"unexpected intrinsic in the environment: {node}")


def environment(template: dict[str, Any], **overrides: str) -> dict[str, str]:
    variables = props(template, "Function")["Environment"]["Variables"]
    params = parameter_values(template, overrides)
    return {name: str(resolve(value, template, params)) for name, value in variables.items()}


def test_parameters_of_the_contract(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert set(params) == set(CONTRACT_PARAMETER_DEFAULTS)
    defaults = {name: (str(spec["Default"]) if "Default" in spec else None) for name, spec in params.items()}
    assert defaults == CONTRACT_PARAMETER_DEFAULTS
    assert params["AllowedOrgPaths"]["Type"] == "CommaDelimitedList"
    assert params["AccountTagKeys"]["Type"] == "String"
    assert set(params["AllowInsecureHttp"]["AllowedValues"]) == {"false", "true"}
    assert set(params["IdempotencyEnabled"]["AllowedValues"]) == {"false", "true"}


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("OrganizationId", "o-a1b2c3d4e5", True),
        ("OrganizationId", "r-ab12", False),
        ("ManagementAccountId", "111122223333", True),
        ("ManagementAccountId", "1111", False),
        ("PantherUrl", "https://acme.runpanther.net/api/event/create", True),
        ("PantherUrl", "http://127.0.0.1:8080/api/event/create", True),
        ("PantherUrl", "https://acme.runpanther.net/", False),
        ("PantherUrl", "https://user:pw@acme.runpanther.net/api/event/create", False),
        ("MappingsKey", "", True),
        ("MappingsKey", "mappings/" + "0a" * 32 + ".json", True),
        ("MappingsKey", "lambda/" + "0a" * 32 + ".zip", False),
    ],
)
def test_parameter_patterns(template: dict[str, Any], name: str, value: str, accepted: bool) -> None:
    pattern = template["Parameters"][name]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted


def test_outputs_of_the_contract(template: dict[str, Any]) -> None:
    # Exactly what the CLI reads: the contract between the template and `e2p`.
    assert set(template["Outputs"]) == set(CENTRAL_OUTPUTS)
    outputs = {name: spec["Value"] for name, spec in template["Outputs"].items()}
    assert outputs["TokenSecretArn"] == {"Ref": "TokenSecret"}
    assert outputs["DeadLetterQueueUrl"] == {"Ref": "BufferDeadLetterQueue"}
    assert outputs["RuleDeadLetterQueueUrl"] == {"Ref": "RuleDeadLetterQueue"}
    assert outputs["FunctionRoleArn"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}


def test_the_token_never_reaches_an_output_or_a_parameter(template: dict[str, Any]) -> None:
    text = json.dumps(template["Outputs"])
    assert "SecretString" not in text
    assert "resolve:secretsmanager" not in text
    # A token parameter would be re-entered (or cleared) by a stack update, overwriting a rotated token.
    assert not any("token" in name.lower() and "Reader" not in name for name in template["Parameters"])


def test_secret_holds_only_a_placeholder_the_handler_refuses(template: dict[str, Any]) -> None:
    secret = props(template, "TokenSecret")
    assert secret["KmsKeyId"] == {"Ref": "Key"}
    with pytest.raises(TokenUnavailableError):
        token_from_secret_string(secret["SecretString"], "the placeholder")


def test_handler_string_resolves_to_a_callable(template: dict[str, Any]) -> None:
    function = props(template, "Function")
    module_name, _, attribute = function["Handler"].rpartition(".")
    assert module_name == "handler.app"
    if not (ROOT / "handler" / "app.py").is_file():
        pytest.skip("handler/app.py is not written yet")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


def test_function_runtime_and_sizing(template: dict[str, Any]) -> None:
    function = props(template, "Function")
    assert function["Runtime"] in {"python3.12", "python3.13"}
    assert function["Architectures"] == ["arm64"]
    assert function["Code"] == {
        "S3Bucket": {"Ref": "CodeBucket"},
        "S3Key": {"Ref": "CodeKey"},
        "S3ObjectVersion": {"Ref": "CodeObjectVersion"},
    }
    assert function["MemorySize"] == {"Ref": "FunctionMemorySize"}
    assert function["Timeout"] == {"Ref": "FunctionTimeout"}
    # Optional: new accounts often have a concurrency quota of 10, and Lambda refuses a reservation that
    # leaves fewer than min(100, quota) unreserved. 0 (the default) sets none.
    reserved = function["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert not condition_true(template, "HasReservedConcurrency", parameter_values(template, {}))
    assert condition_true(
        template, "HasReservedConcurrency", parameter_values(template, {"ReservedConcurrency": "10"})
    )


def test_environment_names_are_the_handlers(template: dict[str, Any]) -> None:
    names = set(props(template, "Function")["Environment"]["Variables"])
    assert names <= set(constants.ALL_HANDLER_VARIABLES)
    assert names >= REQUIRED_ENVIRONMENT


def test_environment_values_per_the_contract(template: dict[str, Any]) -> None:
    env = environment(template)
    assert env[constants.TOKEN_SECRET_ID] == PHYSICAL_IDS["TokenSecret"]
    assert env[constants.DEAD_LETTER_QUEUE_URL] == PHYSICAL_IDS["BufferDeadLetterQueue"]
    assert env[constants.ORG_LOOKUP_ROLE_ARN] == "arn:aws:iam::111122223333:role/events2panther-org-lookup"
    assert env[constants.IDEMPOTENCY_TABLE] == PHYSICAL_IDS["IdempotencyTable"]
    assert environment(template, IdempotencyEnabled="false")[constants.IDEMPOTENCY_TABLE] == ""
    # The dead-letter queue the handler writes to is the one the buffer queue redrives into.
    redrive = props(template, "BufferQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["BufferDeadLetterQueue", "Arn"]}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"AllowInsecureHttp": "true", "PantherUrl": "http://127.0.0.1:8080/api/event/create"},
        {"IdempotencyEnabled": "false", "AccountTagKeys": "team,cost-center"},
    ],
)
def test_the_handler_accepts_the_environment_the_template_sets(
    template: dict[str, Any], overrides: dict[str, str]
) -> None:
    settings = load_settings(environment(template, **overrides))
    assert settings.token_secret_id == PHYSICAL_IDS["TokenSecret"]
    assert settings.dead_letter_queue_url == PHYSICAL_IDS["BufferDeadLetterQueue"]


def test_visibility_timeout_is_at_least_six_function_timeouts(template: dict[str, Any]) -> None:
    timeouts = template["Parameters"]["FunctionTimeout"]["AllowedValues"]
    assert props(template, "BufferQueue")["VisibilityTimeout"] == {
        "Fn::FindInMap": ["VisibilityTimeoutByFunctionTimeout", {"Ref": "FunctionTimeout"}, "Seconds"]
    }
    table = template["Mappings"]["VisibilityTimeoutByFunctionTimeout"]
    for timeout in timeouts:
        visibility = table[str(timeout)]["Seconds"]
        assert VISIBILITY_FACTOR * int(timeout) <= visibility <= SQS_MAX_VISIBILITY_S, timeout
    assert str(template["Parameters"]["FunctionTimeout"]["Default"]) in map(str, timeouts)


def test_event_source_mapping(template: dict[str, Any]) -> None:
    (_name, mapping), *others = resources(template, "AWS::Lambda::EventSourceMapping").items()
    assert not others
    spec = mapping["Properties"]
    assert spec["EventSourceArn"] == {"Fn::GetAtt": ["BufferQueue", "Arn"]}
    assert spec["FunctionName"] == {"Ref": "Function"}
    assert spec["BatchSize"] == {"Ref": "BatchSize"}
    assert spec["MaximumBatchingWindowInSeconds"] == {"Ref": "MaximumBatchingWindowInSeconds"}
    assert spec["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert spec["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaximumConcurrency"}}
    # Lambda refuses a BatchSize over 10 without a batching window of at least one second.
    parameters = template["Parameters"]
    if int(parameters["BatchSize"]["Default"]) > 10:
        assert int(parameters["MaximumBatchingWindowInSeconds"]["Default"]) >= 1
    # Lambda checks the role's SQS permissions when it creates the mapping.
    assert "FunctionPolicy" in mapping["DependsOn"]


def test_every_queue_is_encrypted_and_eventbridge_writes_only_to_sse_sqs(template: dict[str, Any]) -> None:
    # EventBridge's KMS calls through SQS meet no documented key-policy condition: the queues it writes to
    # use SQS-managed keys, so no key policy can make it drop events. The function's own DLQ keeps the CMK.
    queues = resources(template, "AWS::SQS::Queue")
    assert set(queues) == {
        "BufferQueue",
        "BufferDeadLetterQueue",
        "RuleDeadLetterQueue",
        "WatchdogDeadLetterQueue",
        "DirectoryRefreshDeadLetterQueue",
    }
    written_by_eventbridge = {
        target["Arn"]["Fn::GetAtt"][0]
        for rule in resources(template, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
        if "Fn::GetAtt" in target["Arn"]
    } | {
        target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for rule in resources(template, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
        if "DeadLetterConfig" in target
    }
    assert {"BufferQueue", "RuleDeadLetterQueue"} <= written_by_eventbridge
    for name, queue in queues.items():
        if name in written_by_eventbridge:
            assert queue["Properties"]["SqsManagedSseEnabled"] is True
            assert "KmsMasterKeyId" not in queue["Properties"]
        else:
            assert queue["Properties"]["KmsMasterKeyId"] == {"Ref": "Key"}


def test_what_holds_undelivered_events_outlives_the_stack(template: dict[str, Any]) -> None:
    for name in ("Key", "BufferDeadLetterQueue", "RuleDeadLetterQueue"):
        assert template["Resources"][name]["DeletionPolicy"] == "Retain", name
        assert template["Resources"][name]["UpdateReplacePolicy"] == "Retain", name


def test_large_batches_need_a_batching_window_rule(template: dict[str, Any]) -> None:
    # Lambda refuses BatchSize > 10 with MaximumBatchingWindowInSeconds 0; the stack refuses it first.
    rule = template["Rules"]["LargeBatchesNeedABatchingWindow"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "MaximumBatchingWindowInSeconds"}, "0"]}
    (assertion,) = rule["Assertions"]
    allowed, ref = assertion["Assert"]["Fn::Contains"]
    assert ref == {"Ref": "BatchSize"}
    assert sorted(int(v) for v in allowed) == list(range(1, 11))


def test_alarms_notify_the_chosen_topic(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert alarms
    action = {
        "Fn::If": [
            "NotifiesAlarms",
            [{"Fn::If": ["HasAlarmTopicArn", {"Ref": "AlarmTopicArn"}, {"Ref": "AlarmTopic"}]}],
            {"Ref": "AWS::NoValue"},
        ]
    }
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == action, name
        assert alarm["Properties"]["OKActions"] == action, name
    none, email = (
        parameter_values(template, {}),
        parameter_values(template, {"AlarmEmail": "ops@example.com"}),
    )
    topic = parameter_values(template, {"AlarmTopicArn": "arn:aws:sns:eu-west-1:111122223333:chat"})
    assert not condition_true(template, "NotifiesAlarms", none)
    assert condition_true(template, "CreatesAlarmTopic", email)
    assert not condition_true(template, "CreatesAlarmTopic", {**topic, "AlarmEmail": "ops@example.com"})
    assert condition_true(template, "NotifiesAlarms", topic)


def test_dead_letter_queues_outlive_the_buffer(template: dict[str, Any]) -> None:
    # SQS keeps a message's first enqueue time when it moves it to a dead-letter queue.
    buffer = props(template, "BufferQueue")["MessageRetentionPeriod"]
    assert props(template, "BufferDeadLetterQueue")["MessageRetentionPeriod"] > buffer
    assert props(template, "RuleDeadLetterQueue")["MessageRetentionPeriod"] > buffer
    assert props(template, "BufferQueue")["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}


@pytest.mark.parametrize("queue", ["BufferQueue", "RuleDeadLetterQueue"])
def test_only_the_bus_rule_may_send_to_its_queues(template: dict[str, Any], queue: str) -> None:
    policies = [
        p["Properties"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    assert len(policies) == 1
    # The one Allow (the explicit Deny beside it is tests/unit/test_templates_security.py's).
    (statement,) = [s for s in policies[0]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ToBufferRule", "Arn"]}}}


def test_bus_rule_takes_every_event_to_the_buffer(template: dict[str, Any]) -> None:
    rule = props(template, "ToBufferRule")
    assert rule["EventBusName"] == {"Fn::GetAtt": ["Bus", "Name"]}
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))
    for source in ("aws.guardduty", "aws.ec2", "e2p.test", "OrderService"):
        assert pattern.matches_event({"source": source, "detail-type": "x", "detail": {}})
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["BufferQueue", "Arn"]}
    assert "RoleArn" not in target  # SQS targets are authorised by the queue policy
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}}


def expand_if(node: Any, template: dict[str, Any]) -> list[Any]:
    """Every concrete value an Fn::If tree can take (both branches of each If)."""
    if isinstance(node, dict) and "Fn::If" in node:
        _, when_true, when_false = node["Fn::If"]
        return expand_if(when_true, template) + expand_if(when_false, template)
    return [node]


def test_bus_policy_admits_the_organisation_only(template: dict[str, Any]) -> None:
    (policy,) = resources(template, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == "*"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": ["Bus", "Arn"]}
    conditions = expand_if(statement["Condition"], template)
    assert len(conditions) == 2
    # The organisation AND the member template's forwarder role name (deterministic per region).
    forwarder = {"aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${ForwarderName}-*"}}
    for condition in conditions:
        assert condition["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
        assert condition["ArnLike"] == forwarder
    with_paths = [c for c in conditions if "ForAnyValue:StringLike" in c]
    assert with_paths == [
        {
            "StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}},
            "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": {"Ref": "AllowedOrgPaths"}},
            "ArnLike": forwarder,
        }
    ]
    # An Allow only: the central account's own principals (the watchdog) must not meet a Deny here.
    assert statement["Effect"] == "Allow"
    # The OU paths apply exactly when some are given.
    chosen = statement["Condition"]["Fn::If"][0]
    with_ou = parameter_values(template, {"AllowedOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"})
    assert condition_true(template, chosen, with_ou)
    assert not condition_true(template, chosen, parameter_values(template, {}))


def open_principals(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("Principal") in ("*", {"AWS": "*"}):
            found.append(node)
        for value in node.values():
            found += open_principals(value)
    elif isinstance(node, list):
        for value in node:
            found += open_principals(value)
    return found


def test_no_unconditional_star_principal(template: dict[str, Any]) -> None:
    # A Deny to everyone (the token secret's policy) restricts; only an Allow to everyone must be conditioned.
    statements = [s for s in open_principals(template["Resources"]) if s.get("Effect") != "Deny"]
    assert statements  # the bus policy
    for statement in statements:
        for condition in expand_if(statement.get("Condition"), template):
            assert condition
            assert "aws:PrincipalOrgID" in condition.get("StringEquals", {})


def test_function_role_is_least_privilege(template: dict[str, Any]) -> None:
    role = props(template, "FunctionRole")
    assert "Policies" not in role
    assert "ManagedPolicyArns" not in role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    policy = props(template, "FunctionPolicy")
    assert policy["Roles"] == [{"Ref": "FunctionRole"}]
    statements = [s for item in policy["PolicyDocument"]["Statement"] for s in expand_if(item, template)]
    statements = [s for s in statements if s != {"Ref": "AWS::NoValue"}]
    grants = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] != "*"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            grants.setdefault(action, []).append(statement["Resource"])
    lookup_role = {"Fn::Sub": "arn:${AWS::Partition}:iam::${ManagementAccountId}:role/${LookupRoleName}"}
    assert grants == {
        "sqs:ReceiveMessage": [{"Fn::GetAtt": ["BufferQueue", "Arn"]}],
        "sqs:DeleteMessage": [{"Fn::GetAtt": ["BufferQueue", "Arn"]}],
        "sqs:ChangeMessageVisibility": [{"Fn::GetAtt": ["BufferQueue", "Arn"]}],
        "sqs:GetQueueAttributes": [{"Fn::GetAtt": ["BufferQueue", "Arn"]}],
        "sqs:SendMessage": [{"Fn::GetAtt": ["BufferDeadLetterQueue", "Arn"]}],
        "secretsmanager:GetSecretValue": [{"Ref": "TokenSecret"}],
        "kms:Decrypt": [{"Fn::GetAtt": ["Key", "Arn"]}],
        "kms:GenerateDataKey": [{"Fn::GetAtt": ["Key", "Arn"]}],
        "sts:AssumeRole": [lookup_role],
        "dynamodb:GetItem": [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}],
        "dynamodb:PutItem": [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}],
        "dynamodb:UpdateItem": [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}],
        "dynamodb:DeleteItem": [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}],
        # Only with an organisation mappings file (HasMappings), and only that object.
        "s3:GetObject": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${CodeBucket}/${MappingsKey}"}],
    }
    assert environment(template)[constants.ORG_LOOKUP_ROLE_ARN] == resolve(
        lookup_role, template, parameter_values(template, {})
    )


def key_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in props(template, "Key")["KeyPolicy"]["Statement"]}


def test_key_policy_lets_the_function_use_the_key_and_not_eventbridge_for_queues(
    template: dict[str, Any],
) -> None:
    statements = key_statements(template)
    function = [
        s for s in statements.values() if s["Principal"] == {"AWS": {"Fn::GetAtt": ["FunctionRole", "Arn"]}}
    ]
    events = [
        s
        for sid, s in statements.items()
        if s["Principal"] == {"Service": "events.amazonaws.com"} and sid != "EventBridgeEncryptsArchive"
    ]
    assert len(function) == 1
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(function[0]["Action"])
    # The queues EventBridge writes use SSE-SQS: no statement for it here (the archive's is separate).
    assert events == []
    assert props(template, "Key")["EnableKeyRotation"] is True


def test_idempotency_table_is_what_powertools_expects(template: dict[str, Any]) -> None:
    table = props(template, "IdempotencyTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    recovery = table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    assert resolve(recovery, template, parameter_values(template, {})) is True
    assert resolve(recovery, template, parameter_values(template, {"IdempotencyEnabled": "false"})) is False


def test_log_group_is_the_functions_with_retention(template: dict[str, Any]) -> None:
    group = props(template, "FunctionLogGroup")
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${Function}"}
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "FunctionLogGroup" in template["Resources"]["BufferEventSource"]["DependsOn"]


def test_archive_keeps_every_bus_event(template: dict[str, Any]) -> None:
    archive = props(template, "Archive")
    assert archive["SourceArn"] == {"Fn::GetAtt": ["Bus", "Arn"]}
    assert archive["RetentionDays"] == {"Ref": "ArchiveRetentionDays"}
    assert "EventPattern" not in archive


def test_alarms_watch_every_place_an_event_can_stall(template: dict[str, Any]) -> None:
    watched = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        spec = alarm["Properties"]
        dimensions = {d["Name"]: d["Value"] for d in spec["Dimensions"]}
        subject = dimensions.get("QueueName") or dimensions.get("FunctionName") or dimensions.get("RuleName")
        watched.add((spec["Namespace"], spec["MetricName"], json.dumps(subject, sort_keys=True)))
        if spec["Namespace"] == "AWS/Events":
            # Metrics of a rule on a custom bus carry both dimensions.
            assert dimensions["EventBusName"] == {"Fn::GetAtt": ["Bus", "Name"]}

    def queue(name: str) -> str:
        return json.dumps({"Fn::GetAtt": [name, "QueueName"]})

    rule = json.dumps({"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": ["ToBufferRule", "Arn"]}]}]})
    function = json.dumps({"Ref": "Function"})
    assert watched >= {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("BufferDeadLetterQueue")),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("RuleDeadLetterQueue")),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", queue("BufferQueue")),
        ("AWS/Lambda", "Errors", function),
        ("AWS/Lambda", "Throttles", function),
        ("AWS/Events", "FailedInvocations", rule),
        ("AWS/Events", "InvocationsSentToDlq", rule),
    }


def test_idempotency_outlives_every_replay_window(template: dict[str, Any]) -> None:
    # A replay from a dead-letter queue or from the archive must not raise Panther's tally again for
    # what was already delivered: the ledger must remember at least as long as either keeps events.
    from handler.idempotency import DEFAULT_TTL_S

    resources = template["Resources"]
    dlq_retention = max(
        int(resources[name]["Properties"]["MessageRetentionPeriod"])
        for name in ("BufferDeadLetterQueue", "RuleDeadLetterQueue")
    )
    archive_days = int(template["Parameters"]["ArchiveRetentionDays"]["Default"])
    assert max(dlq_retention, archive_days * 86400) <= DEFAULT_TTL_S
