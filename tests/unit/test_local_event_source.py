"""The local SQS event source mapping reads a handler's response by Lambda's ReportBatchItemFailures rules."""

from __future__ import annotations

import pytest

from e2p.local.event_source import MappingSettings, _partial_failures, lambda_record

BATCH = {"a", "b", "c"}


@pytest.mark.parametrize(
    ("response", "kept"),
    [
        (None, set()),  # no response: success
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}, {"b", "c"}),
        # malformed answers fail the whole batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, BATCH),
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, BATCH),
        ({"batchItemFailures": [{"id": "b"}]}, BATCH),
        ({"batchItemFailures": "b"}, BATCH),
        ("ok", BATCH),
    ],
)
def test_partial_batch_response_rules(response: object, kept: set[str]) -> None:
    assert _partial_failures(response, BATCH) == kept


def test_an_sqs_message_is_presented_as_lambda_does() -> None:
    settings = MappingSettings(
        queue_url="http://q", queue_arn="arn:aws:sqs:eu-west-1:111122223333:buffer", region="eu-west-1"
    )
    record = lambda_record(
        {
            "MessageId": "m1",
            "ReceiptHandle": "r1",
            "Body": "{}",
            "Attributes": {"ApproximateReceiveCount": "2"},
            "MessageAttributes": {"e2p_reason": {"DataType": "String", "StringValue": "why"}},
        },
        settings,
    )
    assert record["messageId"] == "m1"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == settings.queue_arn
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["messageAttributes"]["e2p_reason"]["stringValue"] == "why"
