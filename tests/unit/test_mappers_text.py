"""Short resource names for the node, and the last guard on summaries."""

from __future__ import annotations

import pytest

from handler.mappers.arn import short_name
from handler.mappers.stable_text import SUMMARY_LIMIT, mask_numbers, stable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("identifier", "short"),
    [
        ("arn:aws:ec2:us-east-1:111122223333:instance/i-0abc", "i-0abc"),
        ("arn:aws:s3:::exports", "exports"),
        ("arn:aws:s3:::exports/2025/01/report.csv", "exports"),
        ("arn:aws:s3:us-east-1:111122223333:accesspoint/finance", "finance"),
        ("arn:aws:lambda:eu-west-1:111122223333:function:billing:$LATEST", "billing"),
        ("arn:aws:iam::111122223333:role/service-role/ingest", "ingest"),
        ("arn:aws:rds:eu-west-1:111122223333:db:orders", "orders"),
        ("arn:aws:rds:eu-west-1:111122223333:snapshot:rds:orders-2025-01-02-03-04", "orders"),
        ("arn:aws:dynamodb:eu-west-1:111122223333:table/sessions/stream/2025-01-01T00:00:00.000", "sessions"),
        (
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        ("arn:aws:kms:eu-west-1:111122223333:alias/payments", "alias/payments"),
        ("arn:aws:cloudwatch:eu-west-1:111122223333:alarm:api 5xx", "api 5xx"),
        ("arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/billing:*", "/aws/lambda/billing"),
        ("arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188", "web"),
        ("arn:aws:ecr:eu-west-1:111122223333:repository/team/api/sha256:0123abcd", "api"),
        ("arn:aws:ec2:eu-west-1b:instance/i-0def", "i-0def"),  # malformed documentation sample
        ("https://sqs.eu-west-1.amazonaws.com/111122223333/jobs", "jobs"),
        ("/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/fn-app", "fn-app"),
        ("cr-0123 | us-east-1b | t3.medium | Linux/UNIX | 0.0%", "cr-0123"),
        (" i-0abc ", "i-0abc"),
        ("", ""),
    ],
)
def test_short_name(identifier: str, short: str) -> None:
    assert short_name(identifier) == short


def test_stable_removes_timestamps_and_ids_and_keeps_one_bounded_line() -> None:
    text = "Job\nfailed at 2025-01-02T03:04:05Z for request 7f9e2c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6 " + "x" * 400

    cleaned = stable(text)

    assert "\n" not in cleaned
    assert "2025-01-02" not in cleaned
    assert "7f9e2c1a" not in cleaned
    assert cleaned.startswith("Job failed at for request <id> ")
    assert len(cleaned) == SUMMARY_LIMIT


def test_mask_numbers_keeps_names_that_contain_digits() -> None:
    message = "Free storage for db-2 is low at 2% [9.72 GB] (RDS-EVENT-0089)"

    assert mask_numbers(message) == "Free storage for db-2 is low at #% [# GB] (RDS-EVENT-0089)"
