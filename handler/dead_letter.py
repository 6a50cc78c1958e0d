"""Writes records that cannot be delivered to the dead-letter queue, with the reason attached."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handler.exceptions import DeadLetterError

REASON_ATTRIBUTE = "e2p_reason"
EVENT_ID_ATTRIBUTE = "e2p_event_id"
RECEIVE_COUNT_ATTRIBUTE = "e2p_receive_count"
_MAX_ATTRIBUTE_CHARS = 1024


class DeadLetterQueue:
    """`sqs_client` is an SQS client, or None with `client_factory` making one on the first dead
    letter: most containers never write one, so they need not build the client (~10 ms, once)."""

    def __init__(
        self, sqs_client: Any, queue_url: str, *, client_factory: Callable[[], Any] | None = None
    ) -> None:
        if sqs_client is None and client_factory is None:
            raise ValueError("DeadLetterQueue needs an SQS client or a client factory")
        self._sqs = sqs_client
        self._factory = client_factory
        self._lock = threading.Lock()
        self._url = queue_url

    def __repr__(self) -> str:
        return f"DeadLetterQueue({self._url!r})"

    def _client(self) -> Any:
        with self._lock:
            if self._sqs is None and self._factory is not None:
                try:
                    self._sqs = self._factory()
                except (BotoCoreError, ClientError) as exc:
                    raise DeadLetterError(f"no SQS client for {self._url}: {exc}") from exc
            return self._sqs

    def send(self, body: str, reason: str, event_id: str, receive_count: str) -> None:
        if not self._url:
            raise DeadLetterError("no dead-letter queue is configured")
        sqs = self._client()
        attributes = {
            REASON_ATTRIBUTE: reason,
            EVENT_ID_ATTRIBUTE: event_id,
            RECEIVE_COUNT_ATTRIBUTE: receive_count,
        }
        try:
            sqs.send_message(
                QueueUrl=self._url,
                MessageBody=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": (value or "-")[:_MAX_ATTRIBUTE_CHARS]}
                    for name, value in attributes.items()
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise DeadLetterError(f"sending to {self._url} failed: {exc}") from exc
