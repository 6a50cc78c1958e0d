"""The organisation's mappings file as an object of the code bucket, where the forwarder reads it.

Key mappings/<sha256 of the JSON>.json: the key changes when the content does, so the central
stack's MappingsKey parameter, hence the function's E2P_MAPPINGS_URI, changes with it and new
containers read the new file; an unchanged file is neither rewritten nor redeployed. S3 checks
the body's SHA-256 on the way in (ChecksumSHA256), as for the code zip.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.console.results import Outcome

KEY_PREFIX: Final = "mappings/"
NOT_FOUND: Final = frozenset({"404", "NoSuchKey", "NotFound"})
# Read back by handler.mappings.organisation (the same name, S3 lower-cases metadata keys).
SOURCE_FILE_METADATA: Final = "e2p-source-file"


def mappings_key(document_json: bytes) -> str:
    return f"{KEY_PREFIX}{hashlib.sha256(document_json).hexdigest()}.json"


def store_mappings(
    s3: Any, bucket: str, document_json: bytes, owner: str, file_name: str = ""
) -> tuple[str, Outcome]:
    """(key, CREATED or UNCHANGED). Raises ClientError on anything but "not there yet".
    `file_name`: the operator's file name, kept as object metadata so that the forwarder's logs and
    `mapped_by` name "<file> entry <n>" as the operator wrote it."""
    key = mappings_key(document_json)
    checksum = base64.b64encode(hashlib.sha256(document_json).digest()).decode("ascii")
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner, ChecksumMode="ENABLED")
        if head.get("ChecksumSHA256") == checksum:
            return key, Outcome.UNCHANGED
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) not in NOT_FOUND:
            raise
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=document_json,
        ContentType="application/json",
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=checksum,
        ExpectedBucketOwner=owner,
        Metadata={SOURCE_FILE_METADATA: file_name} if file_name else {},
    )
    return key, Outcome.CREATED
