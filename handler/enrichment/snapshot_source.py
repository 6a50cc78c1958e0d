"""The directory snapshot in S3 as an AccountSource: one GetObject per load.

A container's cold start costs one call, whatever the size of the organisation. Later loads (the
directory's TTL) send the ETag they hold as If-None-Match: an unchanged snapshot answers 304 with
no body, and the parsed directory is reused.

No snapshot yet (a fresh deployment whose first refresh has not run, or a wrong location) is an
AccountLookupError like any failed load: the directory keeps what it has (nothing at a cold start,
so messages carry the account id) and retries with its backoff; the first miss asks for a refresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handler.config import S3_SCHEME, s3_bucket_key
from handler.enrichment.account import AccountInfo
from handler.enrichment.snapshot import decode
from handler.exceptions import AccountLookupError, ConfigurationError, aws_error_code

logger = logging.getLogger(__name__)

NOT_MODIFIED_CODES: Final = frozenset({"304", "NotModified"})


@dataclass(frozen=True, slots=True)
class SnapshotLocation:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"


def parse_location(uri: str) -> SnapshotLocation:
    """`s3://bucket/key/with/slashes` -> SnapshotLocation; ConfigurationError otherwise."""
    parts = s3_bucket_key(uri)
    if parts is None:
        raise ConfigurationError(f"{uri!r}: expected s3://<bucket>/<key>")
    return SnapshotLocation(*parts)


class S3SnapshotSource:
    def __init__(self, client_factory: Callable[[], Any], location: SnapshotLocation) -> None:
        self._client_factory = client_factory
        self._location = location
        self._lock = threading.Lock()  # the directory runs one load at a time; this guards the cache
        self._etag = ""
        self._accounts: dict[str, AccountInfo] = {}
        self.bytes_read = 0  # size of the last object downloaded (for metrics and the bench)

    def load(self) -> dict[str, AccountInfo]:
        with self._lock:
            etag = self._etag
        request: dict[str, str] = {"Bucket": self._location.bucket, "Key": self._location.key}
        if etag:
            request["IfNoneMatch"] = etag
        try:
            answer = self._client_factory().get_object(**request)
            blob = answer["Body"].read()
        except ClientError as exc:
            if etag and aws_error_code(exc) in NOT_MODIFIED_CODES:
                with self._lock:
                    return dict(self._accounts)
            raise AccountLookupError(
                f"cannot read the directory snapshot {self._location.uri}: {exc}"
            ) from exc
        except BotoCoreError as exc:
            raise AccountLookupError(
                f"cannot read the directory snapshot {self._location.uri}: {exc}"
            ) from exc
        accounts = decode(blob).infos()
        with self._lock:
            self._etag = str(answer.get("ETag", ""))
            self._accounts = accounts
            self.bytes_read = len(blob)
        return dict(accounts)
