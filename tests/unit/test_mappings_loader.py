"""Mappings files: what a well-formed entry gives, and every malformed entry refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handler.alert import Filtered
from handler.envelope import envelope_from_object
from handler.mappings import MappingsError, compile_document, load_document
from handler.severity import Severity

pytestmark = pytest.mark.unit

ORIGIN = "org.yaml"


def envelope(
    detail: dict[str, Any],
    detail_type: str = "Order Failed",
    source: str = "com.example.orders",
    resources: list[str] | None = None,
) -> Any:
    return envelope_from_object(
        {
            "id": "e-1",
            "source": source,
            "detail-type": detail_type,
            "account": "111122223333",
            "region": "eu-west-1",
            "time": "2026-01-02T03:04:05Z",
            "resources": resources or [],
            "detail": detail,
        }
    )


def table(*entries: dict[str, Any]) -> Any:
    return compile_document({"version": 1, "mappings": list(entries)}, ORIGIN)


ORDER_ENTRY: dict[str, Any] = {
    "source": "com.example.orders",
    "detail-type": "Order Failed",
    "tag": "Orders",
    "resource": "detail.shop",
    "summary": "Order processing failed in shop {detail.shop}",
    "severity": {"value": "detail.status", "map": {"FAILED": "major", "RETRYING": 2}, "clear": ["RECOVERED"]},
    "identifier": "detail.orderRef",
    "fields": {"order_status": "detail.status", "customer_tier": "detail.customer.tier"},
}


def test_an_entry_gives_node_summary_severity_identifier_and_fields() -> None:
    # GIVEN an organisation entry for a custom application event
    mapper = table(ORDER_ENTRY).find(
        envelope({"shop": "lyon", "status": "failed", "orderRef": "o-9", "customer": {"tier": "gold"}})
    )

    # WHEN an event of its pair is mapped
    assert mapper is not None
    (alert,) = mapper(
        envelope({"shop": "lyon", "status": "failed", "orderRef": "o-9", "customer": {"tier": "gold"}})
    )

    # THEN every part comes from the entry (the state word matched case-insensitively)
    assert alert.summary == "Order processing failed in shop lyon"
    assert alert.severity is Severity.MAJOR
    assert alert.tag == "Orders"
    assert alert.resource == "lyon"
    assert alert.identifier == "o-9:4"
    assert alert.external_id == "o-9"
    assert dict(alert.fields) == {"order_status": "failed", "customer_tier": "gold"}
    assert mapper.__name__ == "org.yaml entry 1"


def test_a_clear_value_gives_severity_0_with_the_same_node_and_summary() -> None:
    entries = table(ORDER_ENTRY)
    failed = envelope({"shop": "lyon", "status": "FAILED"})
    recovered = envelope({"shop": "lyon", "status": "RECOVERED"})
    (alert,) = entries.find(failed)(failed)
    (clear,) = entries.find(recovered)(recovered)
    assert (clear.severity, clear.summary, clear.resource) == (Severity.CLEAR, alert.summary, alert.resource)


def test_unknown_values_take_the_default_and_missing_parts_render_empty() -> None:
    entries = table({**ORDER_ENTRY, "identifier": "detail.nothing"})
    event = envelope({"status": "SOMETHING_NEW"})
    (alert,) = entries.find(event)(event)
    assert alert.severity is Severity.INDETERMINATE
    assert alert.summary == "Order processing failed in shop"
    assert alert.identifier is None
    assert alert.resource == ""


def test_rules_come_before_the_value_map_and_patterns_pick_the_entry() -> None:
    entries = table(
        {"source": "s", "detail-type": "d", "match": {"kind": ["noise"]}, "filtered": "noise"},
        {
            "source": "s",
            "detail-type": "d",
            "summary": "Scan found problems",
            "severity": {
                "rules": [{"if": "detail.counts.CRITICAL > `0`", "then": 5}],
                "value": "detail.state",
                "map": {"DONE": 1},
                "default": 2,
            },
        },
    )
    noise = envelope({"kind": "noise"}, "d", "s")
    critical = envelope({"counts": {"CRITICAL": 2}, "state": "DONE"}, "d", "s")
    done = envelope({"counts": {"CRITICAL": 0}, "state": "DONE"}, "d", "s")
    assert entries.find(noise)(noise) == Filtered("noise")
    assert entries.find(critical)(critical)[0].severity is Severity.CRITICAL
    assert entries.find(done)(done)[0].severity is Severity.INDETERMINATE


def test_no_entry_matching_gives_no_mapper() -> None:
    entries = table({"source": "s", "detail-type": "d", "match": {"kind": ["x"]}, "summary": "x"})
    assert entries.find(envelope({"kind": "y"}, "d", "s")) is None
    assert entries.find(envelope({}, "other", "s")) is None


def test_the_default_resource_is_the_first_resource_and_null_means_none() -> None:
    arn = "arn:aws:sagemaker:us-east-1:111122223333:training-job/run-42"
    default = table({"source": "s", "detail-type": "d", "summary": "x"})
    none = table({"source": "s", "detail-type": "d", "summary": "x", "resource": None})
    event = envelope({}, "d", "s", [arn])
    assert (default.find(event)(event)[0].resource, default.find(event)(event)[0].resource_arn) == (
        "run-42",
        arn,
    )
    assert (none.find(event)(event)[0].resource, none.find(event)(event)[0].resource_arn) == ("", arn)


def test_summaries_are_stable_text() -> None:
    entries = table({"source": "s", "detail-type": "d", "summary": "Job {detail.id} at {time} failed\nagain"})
    event = envelope({"id": "0d9f1c2e-1111-2222-3333-444455556666"}, "d", "s")
    (alert,) = entries.find(event)(event)
    assert alert.summary == "Job <id> at failed again"


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"detail-type": "d", "summary": "x"}, "entry 1 (? / d): source: required"),
        ({"source": "s", "detail-type": "d"}, "entry 1 (s / d): summary: required"),
        ({"source": "s", "detail-type": "d", "summary": "x", "colour": 1}, "unknown keys ['colour']"),
        ({"source": "s", "detail-type": "d", "summary": "{detail.[}"}, "summary: not a JMESPath expression"),
        ({"source": "s", "detail-type": "d", "summary": "a } b"}, "summary: unmatched '}'"),
        ({"source": "s", "detail-type": "d", "summary": "a { b"}, "summary: unclosed '{'"),
        ({"source": "s", "detail-type": "d", "summary": "x", "severity": 7}, "severity: 7 is not a severity"),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "severity": True},
            "severity: a severity is 0-5",
        ),
        ({"source": "s", "detail-type": "d", "summary": "x", "severity": {"map": {"A": 1}}}, "need 'value'"),
        (
            {
                "source": "s",
                "detail-type": "d",
                "summary": "x",
                "severity": {"value": "detail.s", "map": {"OK": 2}, "clear": ["ok"]},
            },
            "severity.clear: 'ok' is also mapped",
        ),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "severity": {"rules": [{"if": "a"}]}},
            "severity.rules[1]: expected exactly",
        ),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "fields": {"tally": "detail.a"}},
            "fields.tally",
        ),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "fields": {"account_id": "detail.a"}},
            "fields.account_id",
        ),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "fields": {"Bad-Name": "detail.a"}},
            "fields.Bad-Name",
        ),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "resource": "detail.["},
            "resource: not a JMESPath",
        ),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "match": {"a": "b"}},
            "match.a: expected a non-empty list",
        ),
        (
            {"source": "s", "detail-type": "d", "summary": "x", "match": {"a": [{"regex": "."}]}},
            "unknown operator 'regex'",
        ),
        (
            {"source": "s", "detail-type": "d", "filtered": "why", "summary": "x"},
            "filtered: an entry that filters",
        ),
        (
            {
                "source": "s",
                "detail-type": "d",
                "summary": "{detail.state} job",
                "severity": {"value": "detail.state", "clear": ["OK"]},
            },
            "summary: shows 'detail.state'",
        ),
        ("not an object", "entry 1: an entry is an object"),
    ],
)
def test_a_malformed_entry_is_refused_with_file_entry_and_key_named(entry: Any, named: str) -> None:
    with pytest.raises(MappingsError) as refused:
        table(entry)
    message = str(refused.value)
    assert message.startswith("org.yaml: entry 1")
    assert named in message


def test_an_entry_after_a_catch_all_of_its_pair_is_refused_as_unreachable() -> None:
    with pytest.raises(
        MappingsError, match=r"entry 2 \(s / d\): never used: org.yaml entry 1 has no 'match'"
    ):
        table(
            {"source": "s", "detail-type": "d", "summary": "a"},
            {"source": "s", "detail-type": "d", "match": {"x": ["y"]}, "summary": "b"},
        )


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ([], "expected an object with 'version' and 'mappings'"),
        ({"version": 2, "mappings": []}, "version: expected 1, found 2"),
        ({"version": 1, "mappings": {}}, "mappings: expected a list"),
        ({"version": 1, "mappings": [], "extra": 1}, "unknown top-level keys ['extra']"),
    ],
)
def test_a_malformed_document_is_refused(document: Any, named: str) -> None:
    with pytest.raises(MappingsError, match=rf"^org\.yaml: .*{__import__('re').escape(named)}"):
        compile_document(document, ORIGIN)


def test_yaml_and_json_texts_load_the_same_table() -> None:
    yaml_text = """
version: 1
mappings:
  - source: com.example.orders
    detail-type: Order Failed
    summary: "Order failed in {detail.shop}"
"""
    json_text = json.dumps(
        {
            "version": 1,
            "mappings": [
                {
                    "source": "com.example.orders",
                    "detail-type": "Order Failed",
                    "summary": "Order failed in {detail.shop}",
                }
            ],
        }
    )
    event = envelope({"shop": "lyon"})
    for text in (yaml_text, json_text):
        (alert,) = load_document(text, ORIGIN).find(event)(event)
        assert alert.summary == "Order failed in lyon"
    with pytest.raises(MappingsError, match=r"org\.yaml: not valid JSON"):
        load_document("{nope", ORIGIN)
    with pytest.raises(MappingsError, match=r"org\.yaml: not valid YAML"):
        load_document("a: [b", ORIGIN)


def readme_example() -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Declarative mappings", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_compiles_and_maps_as_it_says() -> None:
    # GIVEN the mappings file the README shows
    entries = load_document(readme_example(), "README")

    # THEN its custom event maps as commented: a rule first, then the default, a filtered exception
    big = envelope({"shop": "lyon", "amount": 20000, "orderId": "o-1", "reason": "PaymentDeclined"})
    small = envelope({"shop": "lyon", "amount": 10, "orderId": "o-2", "reason": "PaymentDeclined"})
    cancelled = envelope({"shop": "lyon", "reason": "CustomerCancelled"})
    (alert,) = entries.find(big)(big)
    assert (alert.summary, alert.severity, alert.identifier) == (
        "Order processing failed in shop lyon",
        Severity.MAJOR,
        "o-1:4",
    )
    assert entries.find(small)(small)[0].severity is Severity.MINOR
    assert entries.find(cancelled)(cancelled) == Filtered("customer cancellations are not incidents")


# --- The JSON Schema (handler/mappings/schema.json, for editors) agrees with the loader -------------

SCHEMA_PATH = Path(__file__).parents[2] / "handler" / "mappings" / "schema.json"


def schema_errors(document: Any) -> list[str]:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


def test_the_builtin_file_and_the_readme_example_are_valid_against_the_schema() -> None:
    import yaml

    from handler.mappings import BUILTIN_YAML

    assert schema_errors(yaml.safe_load(BUILTIN_YAML.read_text(encoding="utf-8"))) == []
    assert schema_errors(yaml.safe_load(readme_example())) == []


STRUCTURAL = [
    {"detail-type": "d", "summary": "x"},
    {"source": "s", "detail-type": "d"},
    {"source": "s", "detail-type": "d", "summary": "x", "colour": 1},
    {"source": "s", "detail-type": "d", "summary": "x", "severity": 7},
    {"source": "s", "detail-type": "d", "summary": "x", "severity": True},
    {"source": "s", "detail-type": "d", "summary": "x", "severity": {"rules": [{"if": "a"}]}},
    {"source": "s", "detail-type": "d", "summary": "x", "fields": {"Bad-Name": "detail.a"}},
    {"source": "s", "detail-type": "d", "summary": "x", "match": {"a": "b"}},
    {"source": "s", "detail-type": "d", "filtered": "why", "summary": "x"},
    "not an object",
]


@pytest.mark.parametrize("entry", STRUCTURAL)
def test_what_the_schema_refuses_the_loader_refuses_too(entry: Any) -> None:
    document = {"version": 1, "mappings": [entry]}
    assert schema_errors(document)
    with pytest.raises(MappingsError):
        compile_document(document, ORIGIN)
