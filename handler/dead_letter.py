"""Writes records that cannot be delivered to the dead-letter queue, with the reason attached."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handler.exceptions import DeadLetterError

REASON_ATTRIBUTE = "e2p_reason"
EVENT_ID_ATTRIBUTE = "e2p_event_id"
RECEIVE_COUNT_ATTRIBUTE = "e2p_receive_count"
_MAX_ATTRIBUTE_CHARS = 1024


class DeadLetterQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def __repr__(self) -> str:
        return f"DeadLetterQueue({self._url!r})"

    def send(self, body: str, reason: str, event_id: str, receive_count: str) -> None:
        if not self._url:
            raise DeadLetterError("no dead-letter queue is configured")
        attributes = {
            REASON_ATTRIBUTE: reason,
            EVENT_ID_ATTRIBUTE: event_id,
            RECEIVE_COUNT_ATTRIBUTE: receive_count,
        }
        try:
            self._sqs.send_message(
                QueueUrl=self._url,
                MessageBody=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": (value or "-")[:_MAX_ATTRIBUTE_CHARS]}
                    for name, value in attributes.items()
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise DeadLetterError(f"sending to {self._url} failed: {exc}") from exc
