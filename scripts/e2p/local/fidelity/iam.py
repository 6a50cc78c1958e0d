"""IAM enforcement (moto's `INITIAL_NO_AUTH_ACTION_COUNT`), made to evaluate what AWS evaluates.

The operator policy test (tests/functional/test_runbook.py) turns moto's IAM enforcement on.
(Service Authorization Reference, AWS CloudFormation: resource types `stack` and `stackset`) AWS
authorizes a CloudFormation call against the ARN of the stack or stack set it names, so a policy can
grant `arn:aws:cloudformation:*:*:stack/events2panther-*/*`. moto authorizes every CloudFormation
call against resource "*", which such a statement never matches, and would refuse what AWS allows.
Here the resource is the named stack's or stack set's ARN (calls that name none keep "*").

(Signature Version 4) AWS accepts every request botocore signs. moto recomputes the signature itself
and gets some requests wrong: Lambda's REST calls (GetFunctionConfiguration, whose path carries the
API version) fail with SignatureDoesNotMatch. The local AWS takes the signature as given and still
authenticates the access key and authorizes the action against the caller's policies.
"""

from __future__ import annotations

from typing import Any

from e2p.local.fidelity import organization, patching, policy


def cloudformation_resource(region: str, account: str, params: dict[str, Any]) -> str:
    """The ARN AWS authorizes a CloudFormation call against (the Service Authorization Reference
    forms), or "*" for calls that name no stack or stack set."""
    stack_set = params.get("StackSetName")
    if stack_set:
        name = str(stack_set).split(":")[0]  # a stack set id is NAME:UUID
        return f"arn:aws:cloudformation:{region}:{account}:stackset/{name}:*"
    stack = params.get("StackName")
    if stack:
        text = str(stack)
        if text.startswith("arn:"):
            return text
        return f"arn:aws:cloudformation:{region}:{account}:stack/{text}/*"
    return "*"


def find_role(account: str, role_arn: str) -> Any | None:
    """The moto role with this ARN in `account`, or None."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account][organization.PARTITION]
    return next((r for r in list(iam.get_roles()) if r.arn == role_arn), None)


def identity_documents(role: Any) -> list[dict[str, Any]]:
    """The role's identity policies: its inline policies and the default version of each managed one."""
    documents = [policy.load(doc) for doc in list(role.policies.values())]
    for managed in list(role.managed_policies.values()):
        documents += [policy.load(v.document) for v in managed.versions if v.is_default]
    return documents


def _determine_resource(response: Any) -> Any:
    def determine() -> str:
        params = {key: response._get_param(key) for key in ("StackSetName", "StackName")}
        return cloudformation_resource(response.region, response.current_account, params)

    return determine


def install() -> None:
    """CloudFormation calls authorized against their stack or stack set (with the CloudFormation
    patches: importing moto's CloudFormation costs seconds)."""
    from moto.cloudformation.responses import CloudFormationResponse

    patching.add_property(CloudFormationResponse, "_determine_resource", _determine_resource)


def _trust_signature(original: Any, request: Any) -> None:
    return None


def install_signatures() -> None:
    """With the core patches: requests may be signed for any service before CloudFormation is used."""
    from moto.iam.access_control import IAMRequestBase

    patching.replace(IAMRequestBase, "check_signature", _trust_signature)
