"""Security rules of the central template, evaluated as AWS would with the local AWS's policy evaluator:
who may read the token, who may use the key and how, what the function's code and roles are pinned to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from e2p.local.fidelity.policy import Decision, Request, evaluate

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "222222222222"
REGION = "eu-west-1"
FUNCTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/central-FunctionRole-ABC"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/security-break-glass"
POWER_USER = f"arn:aws:iam::{ACCOUNT}:role/PowerUser"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:TokenSecret-abc-XyZ123"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "central",
}
RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/events2panther/central-ToBufferRule-X"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
ATTRIBUTES = {
    ("FunctionRole", "Arn"): FUNCTION_ROLE,
    ("ToBufferRule", "Arn"): RULE,
    **{
        (queue, "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
        for queue in ("BufferQueue", "RuleDeadLetterQueue", "BufferDeadLetterQueue")
    },
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, errors = decode_str((ROOT / "central" / "template.yaml").read_text(encoding="utf-8"))
    assert not errors, errors
    return loaded


def resolve(node: Any, template: dict[str, Any], params: dict[str, str]) -> Any:
    if isinstance(node, list):
        return [resolve(item, template, params) for item in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        name = node["Ref"]
        if name in PSEUDO:
            return PSEUDO[name]
        value = params.get(name, str(template["Parameters"].get(name, {}).get("Default", "")))
        if template["Parameters"].get(name, {}).get("Type") == "CommaDelimitedList":
            return value.split(",")
        return value
    if "Fn::GetAtt" in node:
        return ATTRIBUTES[tuple(node["Fn::GetAtt"])]
    if "Fn::Sub" in node:
        return re.sub(
            r"\$\{([^}]+)\}", lambda m: str(resolve({"Ref": m.group(1)}, template, params)), node["Fn::Sub"]
        )
    if "Fn::If" in node:
        name, when_true, when_false = node["Fn::If"]
        chosen = when_true if resolve(template["Conditions"][name], template, params) else when_false
        return resolve(chosen, template, params)
    if "Fn::Join" in node:
        separator, items = node["Fn::Join"]
        resolved = resolve(items, template, params)
        return separator.join(x for item in resolved for x in (item if isinstance(item, list) else [item]))
    if "Fn::Split" in node:
        separator, text = node["Fn::Split"]
        return str(resolve(text, template, params)).split(separator)
    if "Fn::Not" in node:
        return not resolve(node["Fn::Not"][0], template, params)
    if "Fn::Equals" in node:
        left, right = resolve(node["Fn::Equals"], template, params)
        return left == right
    return {key: resolve(value, template, params) for key, value in node.items()}


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return dict(template["Resources"][logical_id]["Properties"])


def read_token(document: dict[str, Any], principal_arn: str) -> Decision:
    request = Request(
        action="secretsmanager:GetSecretValue",
        resource=SECRET,
        principal_account=ACCOUNT,
        principal_arn=principal_arn,
        context={"aws:principalarn": principal_arn},
    )
    return evaluate([document], request, check_principal=True)


def test_only_the_function_role_may_read_the_token(template: dict[str, Any]) -> None:
    policy = props(template, "TokenSecretPolicy")
    assert policy["SecretId"] == {"Ref": "TokenSecret"}
    assert policy["BlockPublicPolicy"] is True
    document = resolve(policy["ResourcePolicy"], template, {})
    # The resource policy only denies: the function's own identity policy grants its read.
    assert read_token(document, FUNCTION_ROLE) is Decision.IMPLICIT_DENY
    assert read_token(document, POWER_USER) is Decision.EXPLICIT_DENY
    assert read_token(document, f"arn:aws:iam::{ACCOUNT}:root") is Decision.EXPLICIT_DENY
    assert read_token(document, BREAK_GLASS) is Decision.EXPLICIT_DENY


def test_a_break_glass_role_may_be_named(template: dict[str, Any]) -> None:
    document = resolve(
        props(template, "TokenSecretPolicy")["ResourcePolicy"], template, {"TokenReaderRoleArn": BREAK_GLASS}
    )
    assert read_token(document, BREAK_GLASS) is Decision.IMPLICIT_DENY
    assert read_token(document, FUNCTION_ROLE) is Decision.IMPLICIT_DENY
    assert read_token(document, POWER_USER) is Decision.EXPLICIT_DENY


def test_there_is_no_token_parameter_to_overwrite_a_rotated_token(template: dict[str, Any]) -> None:
    assert "PantherToken" not in template["Parameters"]
    assert props(template, "TokenSecret")["SecretString"] == '{"token":""}'


def use_key(template: dict[str, Any], action: str, **context: str) -> Decision:
    document = resolve(props(template, "Key")["KeyPolicy"], template, {})
    request = Request(
        action=action,
        resource=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234",
        principal_account=ACCOUNT,
        principal_arn=POWER_USER,
        context={key.lower(): value for key, value in context.items()},
    )
    return evaluate([document], request, check_principal=True)


def test_the_accounts_principals_decrypt_only_through_the_services(template: dict[str, Any]) -> None:
    # A `*` identity policy (PowerUserAccess) no longer decrypts a ciphertext directly.
    assert use_key(template, "kms:Decrypt") is Decision.IMPLICIT_DENY
    assert (
        use_key(template, "kms:Decrypt", **{"kms:ViaService": f"sqs.{REGION}.amazonaws.com"})
        is Decision.ALLOW
    )
    via_secrets = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    assert use_key(template, "kms:Decrypt", **via_secrets) is Decision.IMPLICIT_DENY
    own_secret = {**via_secrets, "kms:EncryptionContext:SecretARN": SECRET}
    assert use_key(template, "kms:GenerateDataKey", **own_secret) is Decision.ALLOW
    foreign = {**via_secrets, "kms:EncryptionContext:SecretARN": SECRET.replace(ACCOUNT, "333333333333")}
    assert use_key(template, "kms:Decrypt", **foreign) is Decision.IMPLICIT_DENY
    # Administration stays with the account.
    assert use_key(template, "kms:PutKeyPolicy") is Decision.ALLOW


def test_both_functions_run_the_pinned_object_version(template: dict[str, Any]) -> None:
    for logical_id in ("Function", "ScheduledFunction"):
        assert props(template, logical_id)["Code"]["S3ObjectVersion"] == {"Ref": "CodeObjectVersion"}
    assert template["Parameters"]["CodeObjectVersion"]["MinLength"] == 1


def test_the_function_role_trusts_lambda_for_this_account_only(template: dict[str, Any]) -> None:
    (trust,) = props(template, "FunctionRole")["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_archive_uses_the_stacks_key_for_a_bounded_time(template: dict[str, Any]) -> None:
    archive = props(template, "Archive")
    assert archive["KmsKeyIdentifier"] == {"Fn::GetAtt": ["Key", "Arn"]}
    retention = template["Parameters"]["ArchiveRetentionDays"]
    assert retention["MinValue"] == 1  # 0 would keep every organisation event forever
    assert retention["MaxValue"] == 365
    statements = {s["Sid"]: s for s in props(template, "Key")["KeyPolicy"]["Statement"]}
    context = resolve(statements["EventBridgeEncryptsArchive"]["Condition"], template, {})["StringEquals"]
    assert context["kms:EncryptionContext:aws:events:event-bus:arn"] == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/events2panther"
    )


QUEUE_POLICIES = {
    "BufferQueuePolicy": "BufferQueue",
    "RuleDeadLetterQueuePolicy": "RuleDeadLetterQueue",
    "BufferDeadLetterQueuePolicy": "BufferDeadLetterQueue",
}


def send(
    document: dict[str, Any], queue: str, *, principal: str | None = None, source_arn: str = ""
) -> Decision:
    context: dict[str, str] = {}
    if principal:
        context["aws:principalarn"] = principal
    if source_arn:
        context["aws:sourcearn"] = source_arn
    request = Request(
        action="sqs:SendMessage",
        resource=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        principal_account=ACCOUNT if principal else None,
        principal_arn=principal,
        service=None if principal else "events.amazonaws.com",
        context=context,
    )
    return evaluate([document], request, check_principal=True)


@pytest.mark.parametrize("policy_id", sorted(QUEUE_POLICIES))
def test_only_the_rule_the_function_and_the_operators_send_to_the_queues(
    template: dict[str, Any], policy_id: str
) -> None:
    queue = QUEUE_POLICIES[policy_id]
    params = {"OperatorRoleArns": f"{OPERATOR},arn:aws:iam::{ACCOUNT}:role/*/OrganizationAccountAccessRole"}
    document = resolve(props(template, policy_id)["PolicyDocument"], template, params)
    # A principal of the central account whose identity policy allows sqs:* is refused explicitly.
    assert send(document, queue, principal=POWER_USER) is Decision.EXPLICIT_DENY
    # The function and the operator are not denied (their identity policies grant the send).
    assert send(document, queue, principal=FUNCTION_ROLE) is not Decision.EXPLICIT_DENY
    assert send(document, queue, principal=OPERATOR) is not Decision.EXPLICIT_DENY
    # EventBridge for the bus rule is not denied either; for another rule it is.
    assert send(document, queue, source_arn=RULE) is not Decision.EXPLICIT_DENY
    assert send(document, queue, source_arn=RULE.replace("ToBufferRule", "Other")) is Decision.EXPLICIT_DENY
    # Without operators named, the operator is refused too.
    alone = resolve(props(template, policy_id)["PolicyDocument"], template, {})
    assert send(alone, queue, principal=OPERATOR) is Decision.EXPLICIT_DENY
    assert send(alone, queue, principal=FUNCTION_ROLE) is not Decision.EXPLICIT_DENY
