"""The organisation's mappings file, read once at cold start from where `e2p deploy` stored it.

Where: an S3 object (E2P_MAPPINGS_URI=s3://<code bucket>/mappings/<sha256>.json), written by
`e2p deploy --mappings FILE` beside the function's code. S3 rather than an SSM parameter: a
parameter holds 4 KB (standard tier) or 8 KB (advanced), about twenty entries, while an
organisation's file for its own sources and the AWS families it adds easily outgrows that. The key
is the content's digest, so a changed file changes the function's configuration, and new containers
read the new file (a running container keeps the table it compiled). A local path is accepted too
(tests, a file shipped in a layer).

Any failure -- unreadable object, malformed file -- raises MappingsError (a ConfigurationError):
the cold start fails loudly and the records go back to the queue, rather than being mapped without
the organisation's entries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from handler.config import S3_SCHEME, s3_bucket_key
from handler.mappings.exceptions import MappingsError
from handler.mappings.table import MappingTable

# Object metadata `e2p deploy` writes: the operator's file name, for messages and `mapped_by`.
SOURCE_FILE_METADATA: Final = "e2p-source-file"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key). Raises MappingsError for anything else."""
    parts = s3_bucket_key(uri)
    if parts is None:
        raise MappingsError(f"{uri!r} is not an s3://bucket/key URI")
    return parts


def read_mappings_text(uri: str, s3_client: Callable[[], Any]) -> tuple[bytes, str]:
    """(the file's bytes, a short name for messages). `s3_client` is called only for an S3 URI."""
    if uri.startswith(S3_SCHEME):
        bucket, key = split_s3_uri(uri)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = s3_client().get_object(Bucket=bucket, Key=key)
            body = response["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise MappingsError(f"{uri}: cannot be read: {exc}") from exc
        name = str((response.get("Metadata") or {}).get(SOURCE_FILE_METADATA) or key.rsplit("/", 1)[-1])
        return bytes(body), name
    try:
        return Path(uri).read_bytes(), Path(uri).name
    except OSError as exc:
        raise MappingsError(f"{uri}: cannot be read: {exc.strerror or exc}") from exc


def load_organisation_mappings(uri: str, s3_client: Callable[[], Any]) -> MappingTable:
    """The built-in table overridden by the organisation's file at `uri`."""
    from handler.mappers import with_organisation
    from handler.mappings import load_document

    raw, name = read_mappings_text(uri, s3_client)
    return with_organisation(load_document(raw, name), name)
