"""The organisation's mappings file from `e2p deploy --mappings` to the forwarder's cold start.

moto's S3 holds the object as the deploy writes it (content-addressed key, SHA-256 checked); the
forwarder's runtime reads it once, compiles it over the built-in mappings, and maps with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fake_aws import fake_credentials
from moto import mock_aws
from moto.events.models import EventPattern

from e2p.aws.cfn_template import load_template
from e2p.aws.mappings_object import mappings_key, store_mappings
from e2p.config.mappings_file import admit_sources, read_mappings_file
from e2p.console.results import Outcome
from handler.alert import MapStatus
from handler.config import Settings
from handler.envelope import envelope_from_text
from handler.exceptions import ConfigurationError
from handler.runtime import _event_mapper

pytestmark = pytest.mark.functional

ROOT = Path(__file__).parents[2]
EVENTS = ROOT / "tests" / "events"
ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
BUCKET = "e2p-code"
ORG_FILE = """
version: 1
mappings:
  # A custom application event: in Panther like an AWS family.
  - source: app.payment
    detail-type: PaymentCreated
    tag: Payments
    summary: "Payment created"
    fields: {amount: detail.amount}
  # An override of a built-in pair: this organisation's Glue jobs are its nightly ETL.
  - source: aws.glue
    detail-type: Glue Job State Change
    tag: DataPlatform
    resource: detail.jobName
    summary: "Nightly ETL {detail.jobName} failed"
    severity: {value: detail.state, map: {FAILED: critical, TIMEOUT: major}, clear: [SUCCEEDED]}
"""


@pytest.fixture
def s3() -> Iterator[Any]:
    with fake_credentials(REGION), mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


@pytest.fixture
def org_file(tmp_path: Path) -> Path:
    path = tmp_path / "org-mappings.yaml"
    path.write_text(ORG_FILE)
    return path


def settings(uri: str) -> Settings:
    return Settings(panther_url="https://acme.runpanther.net/api/event/create", mappings_uri=uri)


def sample(relative: str) -> Any:
    return envelope_from_text((EVENTS / relative).read_bytes())


def test_the_deployed_file_is_what_the_forwarder_maps_with(s3: Any, org_file: Path) -> None:
    # GIVEN the file stored as `e2p deploy --mappings` stores it (twice: the second is a no-op)
    mappings = read_mappings_file(org_file)
    key, outcome = store_mappings(s3, BUCKET, mappings.document_json, ACCOUNT, org_file.name)
    again = store_mappings(s3, BUCKET, mappings.document_json, ACCOUNT, org_file.name)
    assert (key, outcome, again) == (
        mappings_key(mappings.document_json),
        Outcome.CREATED,
        (key, Outcome.UNCHANGED),
    )

    # WHEN the forwarder's runtime builds its mapper at cold start from E2P_MAPPINGS_URI
    mapper = _event_mapper(settings(f"s3://{BUCKET}/{key}"), boto3.Session(region_name=REGION))

    # THEN the custom source is mapped, the override replaces the built-in entry, the rest is built-in
    payment = mapper(sample("generic/custom-app-payment.json"))
    assert (payment.status, payment.mapped_by, payment.alerts[0].summary) == (
        MapStatus.MAPPED,
        "org-mappings.yaml entry 1",
        "Payment created",
    )
    assert payment.alerts[0].fields == {"amount": "150.00"}
    glue = mapper(sample("glue/job-failed.json")).alerts[0]
    assert (glue.summary, int(glue.severity), glue.tag, glue.resource) == (
        "Nightly ETL MyJob failed",
        5,
        "DataPlatform",
        "MyJob",
    )
    codebuild = mapper(sample("codebuild/build-succeeded.json"))
    assert codebuild.mapped_by.startswith("builtin.yaml entry")


def test_without_a_file_the_forwarder_maps_with_the_built_in_entries(s3: Any) -> None:
    mapper = _event_mapper(settings(""), boto3.Session(region_name=REGION))
    assert mapper(sample("generic/custom-app-payment.json")).status is MapStatus.GENERIC
    assert mapper(sample("glue/job-failed.json")).alerts[0].summary == "Glue job MyJob failed"


def test_an_unreadable_or_malformed_file_fails_the_cold_start_loudly(s3: Any) -> None:
    # A missing object: the invocation fails (records stay queued) rather than map without the file.
    with pytest.raises(ConfigurationError, match=rf"s3://{BUCKET}/mappings/absent.json: cannot be read"):
        _event_mapper(settings(f"s3://{BUCKET}/mappings/absent.json"), boto3.Session(region_name=REGION))
    # An object that is not a valid file (written by hand, not by e2p deploy): refused by entry and key.
    s3.put_object(
        Bucket=BUCKET,
        Key="mappings/bad.json",
        Body=json.dumps(
            {"version": 1, "mappings": [{"source": "a", "detail-type": "b", "summary": "x", "severity": 9}]}
        ),
    )
    with pytest.raises(
        ConfigurationError, match=r"bad\.json: entry 1 \(a / b\): severity: 9 is not a severity"
    ):
        _event_mapper(settings(f"s3://{BUCKET}/mappings/bad.json"), boto3.Session(region_name=REGION))


def test_the_member_pattern_admits_the_files_custom_sources(org_file: Path) -> None:
    # GIVEN the default member pattern and the file's custom sources
    member = load_template((ROOT / "member" / "template.yaml").read_text(), "member/template.yaml")
    default = member["Parameters"]["EventPattern"]["Default"]
    mappings = read_mappings_file(org_file)
    assert mappings.custom_sources == ("app.payment",)

    # WHEN the documented branch is added
    extended = admit_sources(default, mappings.custom_sources)

    # THEN the custom event is forwarded, what the default forwarded still is, and it fits EventBridge's limit
    payment = json.loads((EVENTS / "generic" / "custom-app-payment.json").read_text())
    glue = json.loads((EVENTS / "glue" / "job-failed.json").read_text())
    assert not EventPattern.load(default).matches_event(payment)
    assert EventPattern.load(extended).matches_event(payment)
    assert EventPattern.load(extended).matches_event(glue)
    assert len(extended) <= 2048
