"""The S3 bucket that holds the Lambda zip, in the central account and region.

Created by e2p when missing (versioned, encrypted, public access blocked) and tagged so
that `e2p teardown` empties and removes only a bucket e2p created itself. The zip is stored under
its content hash, so an unchanged zip is never uploaded twice and the stack sees no change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.console.results import Outcome

CREATED_BY_TAG: Final = "events2panther:created-by"
CREATED_BY_VALUE: Final = "e2p"
NOT_FOUND_CODES: Final = frozenset({"404", "NoSuchBucket", "NotFound", "NoSuchKey"})


def default_bucket_name(account_id: str, region: str) -> str:
    return f"events2panther-code-{account_id}-{region}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) in NOT_FOUND_CODES:
            return False
        raise
    return True


def ensure_bucket(s3: Any, bucket: str, region: str) -> Outcome:
    if bucket_exists(s3, bucket):
        return Outcome.UNCHANGED
    arguments: dict[str, Any] = {"Bucket": bucket}
    # us-east-1 is the one region that refuses an explicit LocationConstraint.
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**arguments)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
            ]
        },
    )
    s3.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": CREATED_BY_TAG, "Value": CREATED_BY_VALUE}]}
    )
    return Outcome.CREATED


def upload(s3: Any, bucket: str, key: str, path: Path) -> Outcome:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) not in NOT_FOUND_CODES:
            raise
    else:
        return Outcome.UNCHANGED
    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="application/zip")
    return Outcome.CREATED


def created_by_e2p(s3: Any, bucket: str) -> bool:
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except ClientError as exc:
        if _code(exc) in {*NOT_FOUND_CODES, "NoSuchTagSet"}:
            return False
        raise
    return any(t.get("Key") == CREATED_BY_TAG and t.get("Value") == CREATED_BY_VALUE for t in tags)


def empty_and_delete(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker, then the bucket; returns how many were removed."""
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        # DeleteObjects takes at most 1,000 keys, which is also the page size.
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
            removed += len(doomed)
    s3.delete_bucket(Bucket=bucket)
    return removed
