"""S3: ExpectedBucketOwner, which moto 5.2.5 ignores, and bucket policy conditions, which it drops.

AWS behaviour restored:
- (S3 API Reference, every operation's `x-amz-expected-bucket-owner` header) when the account id
  given does not own the bucket, the request fails with 403 AccessDenied. moto serves a bucket of
  any account to any caller and never looks at the header, so a code bucket registered first by
  another account would be used without a word.
- (IAM User Guide, policy evaluation) a bucket policy statement applies only when its Condition
  holds. moto checks object requests against the bucket policy with every condition ignored, so
  a conditional Deny (only the deployer may write; no plain HTTP) refused everyone. Here the
  statements are evaluated with their conditions (`policy.evaluate`), the caller's
  aws:PrincipalArn known. aws:SecureTransport is left out of the request context: the local AWS
  serves plain HTTP on loopback in place of AWS's HTTPS endpoints, so a condition on it does not
  match (IAM's rule for a missing key), neither refusing nor admitting by it.
- (S3 User Guide, checking object integrity) a PutObject whose `x-amz-checksum-sha256` is not the
  SHA-256 of the body fails with 400 BadDigest and stores nothing. moto 5.2.5 stores the object and
  records the wrong checksum, so an upload that AWS refuses (a body damaged on the way) would pass.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

from e2p.local.fidelity import cfn_resources, patching, policy
from e2p.local.fidelity.cfn_resources import FidelityResource
from e2p.local.fidelity.secretsmanager import caller_arn

HEADER = "x-amz-expected-bucket-owner"
CHECKSUM_HEADER = "x-amz-checksum-sha256"
_request = threading.local()


def _owner(bucket_name: str) -> str | None:
    from moto.s3.models import s3_backends

    entry = s3_backends.bucket_accounts.get(bucket_name)
    return None if entry is None else str(entry[1])


def _check(response: Any, request: Any, full_url: str) -> None:
    from moto.s3.exceptions import S3AccessDeniedError

    expected = response.headers.get(HEADER)
    if not expected:
        return
    bucket_name = response.parse_bucket_name_from_url(request, full_url)
    owner = _owner(bucket_name) if bucket_name else None
    # A missing bucket keeps moto's own answer (404 NoSuchBucket), as in AWS.
    if owner is not None and owner != expected:
        raise S3AccessDeniedError()


def _as_caller(original: Any, response: Any, request: Any, full_url: str) -> Any:
    """moto's handler with the caller known to `_get_permission` for the request's duration."""
    account = response.get_current_account()
    _request.principal = (account, caller_arn(account, response.get_access_key()))
    try:
        return original(response, request, full_url)
    finally:
        _request.principal = None


def _bucket_response(original: Any, response: Any, request: Any, full_url: str) -> Any:
    _check(response, request, full_url)
    # Bucket requests can act on objects too (DeleteObjects checks each key against the policy).
    return _as_caller(original, response, request, full_url)


def _check_digest(response: Any, request: Any) -> None:
    from moto.s3.exceptions import S3ClientError

    stated = request.headers.get(CHECKSUM_HEADER)
    if request.method != "PUT" or not stated:
        return
    body = response.body if isinstance(response.body, bytes) else str(response.body or "").encode()
    if base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") != stated:
        raise S3ClientError("BadDigest", "The SHA256 you specified did not match the calculated checksum.")


def _key_response(original: Any, response: Any, request: Any, full_url: str) -> Any:
    _check(response, request, full_url)
    _check_digest(response, request)
    return _as_caller(original, response, request, full_url)


def _get_permission(original: Any, bucket: Any, action: str, resource: str) -> Any:
    from moto.iam.access_control import PermissionResult

    principal = getattr(_request, "principal", None)
    if bucket.policy is None or principal is None:
        return original(bucket, action, resource)
    account, arn = principal
    request = policy.Request(
        action=action,
        resource=resource,
        principal_account=account,
        principal_arn=arn,
        context={"aws:principalarn": arn, "aws:principalaccount": account},
    )
    verdict = policy.evaluate([policy.load(bucket.policy.decode())], request, check_principal=True)
    if verdict is policy.Decision.EXPLICIT_DENY:
        return PermissionResult.DENIED
    return PermissionResult.PERMITTED if verdict is policy.Decision.ALLOW else PermissionResult.NEUTRAL


class BucketPolicy(FidelityResource):
    """AWS::S3::BucketPolicy: the bucket's policy document (Ref: the bucket name)."""

    def create(self) -> None:
        import json

        from moto.s3.models import s3_backends

        document = self.properties["PolicyDocument"]
        text = document if isinstance(document, str) else json.dumps(document)
        self.bucket = str(self.properties["Bucket"])
        s3_backends[self.account_id]["aws"].put_bucket_policy(self.bucket, text.encode())
        self._physical_id = self.bucket

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.exceptions import MissingBucket
        from moto.s3.models import s3_backends

        try:
            s3_backends[account_id]["aws"].delete_bucket_policy(self.bucket)
        except MissingBucket:
            # moto deletes a stack's resources in no dependency order: the bucket may be gone already.
            return


def install() -> None:
    """Install the S3 patch into this process (idempotent)."""
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    patching.replace(FakeBucket, "get_permission", _get_permission)
    patching.replace(S3Response, "_bucket_response", _bucket_response)
    patching.replace(S3Response, "_key_response", _key_response)
    cfn_resources.REGISTRY.setdefault("AWS::S3::BucketPolicy", BucketPolicy)
