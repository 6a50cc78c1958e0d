"""The S3 bucket that holds the Lambda zip, in the central account and region.

Created by e2p when missing (versioned, encrypted, public access blocked, a policy refusing plain
HTTP and object writes by anyone but the deploying principal) and tagged so that `e2p teardown`
empties and removes only a bucket e2p created itself. The zip is stored under its content hash,
so an unchanged zip is never uploaded twice and the stack sees no change.

Whoever controls the bucket runs code as the function role (with the token and every event), so:
- every call carries ExpectedBucketOwner = the central account: a bucket of that predictable name
  registered first by someone else is refused with 403 instead of receiving (or serving) the code;
- the upload carries its SHA-256 (S3 refuses a body that does not match), and an object already
  there is reused only when S3's own SHA-256 of it is the zip's;
- the stack pins the object's version (S3ObjectVersion), and `verify_function_code` compares the
  deployed function's CodeSha256 with the zip after the stack settles.
Lambda code signing (AWS Signer) is not used: see SECURITY.md for why.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.console.results import Outcome
from e2p.exceptions import CodeIntegrityError

CREATED_BY_TAG: Final = "events2panther:created-by"
CREATED_BY_VALUE: Final = "e2p"
NOT_FOUND_CODES: Final = frozenset({"404", "NoSuchBucket", "NotFound", "NoSuchKey"})
REFUSED_CODES: Final = frozenset({"403", "AccessDenied", "Forbidden"})
# Object writes the bucket policy keeps for the deploying principal alone.
GUARDED_WRITES: Final = (
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
)


@dataclass(frozen=True, slots=True)
class StoredCode:
    bucket: str
    key: str
    version_id: str
    outcome: Outcome


def default_bucket_name(account_id: str, region: str) -> str:
    return f"events2panther-code-{account_id}-{region}"


def sha256_base64(hex_digest: str) -> str:
    """The base64 form of a SHA-256 (what S3's ChecksumSHA256 and Lambda's CodeSha256 carry)."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _not_owned(bucket: str, owner: str) -> CodeIntegrityError:
    return CodeIntegrityError(
        f"bucket {bucket} exists but is not owned by (or not readable from) account {owner}: "
        "refusing to store the function's code there (someone else may have registered the name); "
        "set central.code_bucket to a bucket of the central account"
    )


def bucket_exists(s3: Any, bucket: str, owner: str) -> bool:
    """True when the bucket exists and belongs to `owner`; CodeIntegrityError when another account has it."""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except ClientError as exc:
        if _code(exc) in NOT_FOUND_CODES:
            return False
        if _code(exc) in REFUSED_CODES:
            raise _not_owned(bucket, owner) from exc
        raise
    return True


def writer_patterns(caller_arn: str) -> list[str]:
    """The aws:PrincipalArn values of the deploying principal, from GetCallerIdentity's Arn.

    A role session (`arn:aws:sts::A:assumed-role/NAME/session`) is the role `NAME`, whatever its
    path (role names are unique in an account, and the session ARN drops the path); a user or the
    root is its ARN as given."""
    match = re.fullmatch(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", caller_arn)
    if match is None:
        return [caller_arn]
    partition, account, name = match.groups()
    prefix = f"arn:{partition}:iam::{account}:role/"
    return [f"{prefix}{name}", f"{prefix}*/{name}"]


def bucket_policy(bucket: str, caller_arn: str, partition: str = "aws") -> dict[str, Any]:
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "OnlyTheDeployerWritesCode",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(GUARDED_WRITES),
                "Resource": f"{bucket_arn}/*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": writer_patterns(caller_arn)}},
            },
        ],
    }


def _current_policy(s3: Any, bucket: str, owner: str) -> dict[str, Any] | None:
    try:
        text = s3.get_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner)["Policy"]
    except ClientError as exc:
        if _code(exc) in {"NoSuchBucketPolicy", *NOT_FOUND_CODES}:
            return None
        raise
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else None


def ensure_policy(s3: Any, bucket: str, owner: str, caller_arn: str) -> bool:
    """Put the bucket policy when it differs; True when it was (re)written. A later deploy by
    another principal of the account moves the write right to that principal."""
    wanted = bucket_policy(bucket, caller_arn)
    if _current_policy(s3, bucket, owner) == wanted:
        return False
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted), ExpectedBucketOwner=owner)
    return True


def _ensure_versioning(s3: Any, bucket: str, owner: str) -> bool:
    status = s3.get_bucket_versioning(Bucket=bucket, ExpectedBucketOwner=owner).get("Status")
    if status == "Enabled":
        return False
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, ExpectedBucketOwner=owner
    )
    return True


def ensure_bucket(s3: Any, bucket: str, region: str, owner: str, caller_arn: str) -> Outcome:
    if bucket_exists(s3, bucket, owner):
        changed = _ensure_versioning(s3, bucket, owner)
        changed = ensure_policy(s3, bucket, owner, caller_arn) or changed
        return Outcome.UPDATED if changed else Outcome.UNCHANGED
    arguments: dict[str, Any] = {"Bucket": bucket}
    # us-east-1 is the one region that refuses an explicit LocationConstraint.
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    # CreateBucket takes no ExpectedBucketOwner: a name taken by anyone fails with BucketAlreadyExists.
    s3.create_bucket(**arguments)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
        ExpectedBucketOwner=owner,
    )
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, ExpectedBucketOwner=owner
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
            ]
        },
        ExpectedBucketOwner=owner,
    )
    s3.put_bucket_tagging(
        Bucket=bucket,
        Tagging={"TagSet": [{"Key": CREATED_BY_TAG, "Value": CREATED_BY_VALUE}]},
        ExpectedBucketOwner=owner,
    )
    ensure_policy(s3, bucket, owner, caller_arn)
    return Outcome.CREATED


def _stored_version(s3: Any, bucket: str, key: str, owner: str, checksum: str) -> str | None:
    """The version id of the object at `key` when S3's SHA-256 of it is `checksum`, else None."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner, ChecksumMode="ENABLED")
    except ClientError as exc:
        if _code(exc) in NOT_FOUND_CODES:
            return None
        raise
    version = head.get("VersionId")
    # An object without a checksum (an older upload) or with another one is replaced, not trusted.
    if head.get("ChecksumSHA256") != checksum or not version or version == "null":
        return None
    return str(version)


def upload(s3: Any, bucket: str, key: str, path: Path, owner: str) -> StoredCode:
    return upload_bytes(s3, bucket, key, path.read_bytes(), owner)


def template_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted HTTPS URL CloudFormation's TemplateURL takes for an object of `bucket`."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def upload_template(s3: Any, bucket: str, region: str, body: str, owner: str) -> str:
    """Store a template too large to pass inline (CloudFormation takes 51,200 bytes inline, 1 MB from
    S3) next to the code, under its content hash (the key names the bytes); its TemplateURL."""
    data = body.encode()
    key = f"templates/{hashlib.sha256(data).hexdigest()}.yaml"
    upload_bytes(s3, bucket, key, data, owner, content_type="application/x-yaml")
    return template_url(bucket, region, key)


def upload_bytes(
    s3: Any, bucket: str, key: str, body: bytes, owner: str, *, content_type: str = "application/zip"
) -> StoredCode:
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    version = _stored_version(s3, bucket, key, owner, checksum)
    if version is not None:
        return StoredCode(bucket, key, version, Outcome.UNCHANGED)
    # S3 computes the body's SHA-256 itself and refuses the request when it is not this one.
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType=content_type,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=checksum,
        ExpectedBucketOwner=owner,
    )
    version = response.get("VersionId")
    if not version or version == "null":
        raise CodeIntegrityError(
            f"bucket {bucket} is not versioned: the stack could not pin the code's version"
        )
    return StoredCode(bucket, key, str(version), Outcome.CREATED)


def verify_function_code(lambda_client: Any, function_name: str, expected_hex: str) -> None:
    """Fail unless the deployed function runs exactly the zip built here (Lambda's CodeSha256 is
    the base64 SHA-256 of the deployment package)."""
    deployed = lambda_client.get_function_configuration(FunctionName=function_name).get("CodeSha256")
    expected = sha256_base64(expected_hex)
    if deployed != expected:
        raise CodeIntegrityError(
            f"function {function_name} runs code with SHA-256 {deployed}, not the zip built here "
            f"({expected}): its code was changed outside e2p or the bucket served other bytes"
        )


def created_by_e2p(s3: Any, bucket: str, owner: str) -> bool:
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket, ExpectedBucketOwner=owner).get("TagSet", [])
    except ClientError as exc:
        if _code(exc) in {*NOT_FOUND_CODES, "NoSuchTagSet"}:
            return False
        raise
    return any(t.get("Key") == CREATED_BY_TAG and t.get("Value") == CREATED_BY_VALUE for t in tags)


def empty_and_delete(s3: Any, bucket: str, owner: str) -> int:
    """Delete every object version and delete marker, then the bucket; returns how many were removed."""
    # The policy keeps object deletes for the principal that deployed: whoever tears down (and may
    # delete bucket policies) lifts it first, as the bucket is going anyway.
    s3.delete_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner)
    removed = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, ExpectedBucketOwner=owner):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        # DeleteObjects takes at most 1,000 keys, which is also the page size.
        if doomed:
            answer = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": doomed, "Quiet": True}, ExpectedBucketOwner=owner
            )
            # DeleteObjects answers 200 and lists per key what it refused.
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise CodeIntegrityError(
                    f"bucket {bucket}: {len(errors)} object versions not deleted "
                    f"({first.get('Key')}: {first.get('Code')} {first.get('Message', '')})".rstrip()
                )
            removed += len(doomed)
    s3.delete_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    return removed
