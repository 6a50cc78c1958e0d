"""The forwarder's CloudWatch log lines that mention a marker, as `verify` and `send-test-event` read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError

# The log search starts this long before the send.
LOG_LOOKBACK_MS: Final = 5 * 60 * 1000


def function_log_lines(
    logs: Any, function: str, sent_at: datetime, needle: str, *, max_items: int | None = None
) -> list[str] | None:
    """Messages of /aws/lambda/`function` that contain `needle`, from a little before `sent_at`
    (at most `max_items` when given); None when the log group does not exist yet (nothing has run)."""
    paging = {"MaxItems": max_items, "PageSize": max_items} if max_items else {}
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function}",
        startTime=int(sent_at.timestamp() * 1000) - LOG_LOOKBACK_MS,
        filterPattern=f'"{needle}"',
        PaginationConfig=paging,
    )
    try:
        # CloudWatch Logs may answer a search with empty pages before the matching one.
        return [str(e.get("message", "")) for page in pages for e in page.get("events", [])]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
