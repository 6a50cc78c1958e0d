"""Secrets Manager: the secret's resource policy decides GetSecretValue, which moto 5.2.5 ignores.

AWS behaviour restored (Secrets Manager User Guide, "Determine who has permissions to your
secrets" and "Resource-based policies"): an explicit Deny in the secret's resource policy that
matches the caller refuses the request whatever the caller's identity policies say; a caller of
another account also needs an Allow in the resource policy. The condition key `aws:PrincipalArn`
of a role session is the role's ARN (IAM User Guide, global condition keys). moto stores the
policy (PutResourcePolicy) and then serves the value to anyone. Refused calls answer
AccessDeniedException, as AWS does.

Also (Secrets Manager API, GetSecretValue and UpdateSecretVersionStage): a GetSecretValue without a
VersionId or VersionStage returns the version labelled AWSCURRENT; moto returns the version it last
made current itself, so after the label was moved back to an older version (a token rotated away and
back) it served the wrong token. Moving AWSCURRENT here makes that version the one served.

Also AWS::SecretsManager::ResourcePolicy for CloudFormation, which moto skips (`ResourcePolicy`
below, added to cfn_resources.REGISTRY by `install`).
"""

from __future__ import annotations

import json
from typing import Any

from e2p.local.fidelity import cfn_resources, patching, policy
from e2p.local.fidelity.cfn_resources import FidelityResource

CURRENT_STAGE = "AWSCURRENT"
GET_SECRET_VALUE = "secretsmanager:GetSecretValue"  # noqa: S105 - an IAM action name


def caller_arn(account_id: str, access_key_id: str) -> str:
    """The caller's principal ARN as IAM conditions see it: the role ARN of an assumed-role session,
    else the account root (moto's default credentials belong to no user of any account)."""
    from moto.iam.models import iam_backends

    key = iam_backends[account_id]["aws"].access_keys.get(access_key_id)
    role_arn = getattr(key, "role_arn", None)
    return str(role_arn) if role_arn else f"arn:aws:iam::{account_id}:root"


def decision(document: str | None, secret_arn: str, account_id: str, principal_arn: str) -> policy.Decision:
    request = policy.Request(
        action=GET_SECRET_VALUE,
        resource=secret_arn,
        principal_account=account_id,
        principal_arn=principal_arn,
        context={"aws:principalarn": principal_arn, "aws:principalaccount": account_id},
    )
    return policy.evaluate([policy.load(document)], request, check_principal=True)


def _get_secret_value(original: Any, response: Any) -> Any:
    from moto.core.exceptions import JsonRESTError

    secret_id = response._get_param("SecretId")
    account = response.current_account
    try:
        secret = response.backend.describe_secret(secret_id)
    except Exception:  # noqa: BLE001 - moto's own call below gives AWS's error for a missing secret
        return original(response)
    principal = caller_arn(account, response.get_access_key())
    if (
        decision(getattr(secret, "policy", None), secret.arn, account, principal)
        is policy.Decision.EXPLICIT_DENY
    ):
        raise JsonRESTError(
            "AccessDeniedException",
            f"User: {principal} is not authorized to perform: {GET_SECRET_VALUE} on resource: {secret_id} "
            "with an explicit deny in a resource-based policy",
        )
    return original(response)


class ResourcePolicy(FidelityResource):
    """AWS::SecretsManager::ResourcePolicy (Ref: the secret's ARN)."""

    def create(self) -> None:
        from moto.secretsmanager.models import secretsmanager_backends

        props = self.properties
        document = props["ResourcePolicy"]
        text = document if isinstance(document, str) else json.dumps(document)
        backend = secretsmanager_backends[self.account_id][self.region_name]
        arn, _name = backend.put_resource_policy(props["SecretId"], text)
        self.secret_arn = arn
        self._physical_id = arn

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.secretsmanager.exceptions import SecretNotFoundException
        from moto.secretsmanager.models import secretsmanager_backends

        try:
            secretsmanager_backends[account_id][region_name].delete_resource_policy(self.secret_arn)
        except SecretNotFoundException:
            # moto deletes a stack's resources in no dependency order: the secret may be gone already.
            return


def _update_secret_version_stage(original: Any, backend: Any, **kwargs: Any) -> Any:
    result = original(backend, **kwargs)
    moved_to = kwargs.get("move_to_version_id")
    if kwargs.get("version_stage") == CURRENT_STAGE and moved_to:
        backend.secrets[kwargs["secret_id"]].default_version_id = moved_to
    return result


def install() -> None:
    """Install the Secrets Manager patch into this process (idempotent)."""
    from moto.secretsmanager.models import SecretsManagerBackend
    from moto.secretsmanager.responses import SecretsManagerResponse

    patching.replace(SecretsManagerBackend, "update_secret_version_stage", _update_secret_version_stage)

    patching.replace(SecretsManagerResponse, "get_secret_value", _get_secret_value)
    cfn_resources.REGISTRY.setdefault("AWS::SecretsManager::ResourcePolicy", ResourcePolicy)
