"""Golden tests: every sample tests/events/<family>/X.json against its hand-written X.expected.json.

An expected file is {"status": "mapped"|"generic", "alerts": [...]} or {"status": "filtered",
"reason_contains": "..."}. Each expected alert lists summary, severity, tag, resource and
identifier, and optionally resource_arn, external_id and a subset of `fields`: only what is listed
is compared, so a new extra field does not break the goldens, a changed summary does.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from handler.alert import Alert
from handler.envelope import envelope_from_text
from handler.mappers import map_event

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).parents[1] / "events"
EXPECTED_SUFFIX = ".expected.json"
ALWAYS_COMPARED = ("summary", "severity", "tag", "resource", "identifier")
COMPARED_WHEN_LISTED = ("resource_arn", "external_id")


def golden_pairs() -> list[tuple[Path, Path]]:
    """(sample, expected) for every sample under tests/events, sorted."""
    samples = sorted(p for p in EVENTS.rglob("*.json") if not p.name.endswith(EXPECTED_SUFFIX))
    return [(p, p.with_name(p.stem + EXPECTED_SUFFIX)) for p in samples]


def _comparable(alert: Alert, expected: dict[str, Any]) -> dict[str, Any]:
    """The alert reduced to the keys the expectation names."""
    found: dict[str, Any] = {
        "summary": alert.summary,
        "severity": int(alert.severity),
        "tag": alert.tag,
        "resource": alert.resource,
        "identifier": alert.identifier,
    }
    for key in COMPARED_WHEN_LISTED:
        if key in expected:
            found[key] = getattr(alert, key)
    if "fields" in expected:
        found["fields"] = {name: alert.fields.get(name) for name in expected["fields"]}
    return found


PAIRS = golden_pairs()


@pytest.mark.parametrize(
    ("sample", "expected_path"), PAIRS, ids=[str(p.relative_to(EVENTS).with_suffix("")) for p, _ in PAIRS]
)
def test_sample_maps_as_written_in_its_golden_file(sample: Path, expected_path: Path) -> None:
    # GIVEN a real (or documented-derived) sample and the expectation written by reading it
    envelope = envelope_from_text(sample.read_bytes())
    expected = json.loads(expected_path.read_text(encoding="utf-8"))

    # WHEN it is mapped
    result = map_event(envelope)

    # THEN the status, and the alerts or the filter reason, are the expected ones
    assert result.status.value == expected["status"]
    if expected["status"] == "filtered":
        assert result.alerts == ()
        assert expected["reason_contains"] in result.reason
        return
    wanted = expected["alerts"]
    assert len(result.alerts) == len(wanted)
    actual = [_comparable(alert, want) for alert, want in zip(result.alerts, wanted, strict=True)]
    assert actual == [{k: want[k] for k in (*ALWAYS_COMPARED, *want.keys())} for want in wanted]


def test_every_sample_has_a_golden_file_and_a_manifest_row() -> None:
    # GIVEN the samples, the golden files and the attribution manifest
    samples = {p.relative_to(EVENTS).as_posix() for p, _ in PAIRS}
    goldens = {
        p.relative_to(EVENTS).as_posix().replace(EXPECTED_SUFFIX, ".json")
        for p in EVENTS.rglob("*" + EXPECTED_SUFFIX)
    }
    with (EVENTS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))

    # THEN each sample has exactly one golden file and one manifest row with its source and licence
    assert samples
    assert goldens == samples
    assert {row["file"] for row in rows} == samples
    assert all(row["source_repo"] and row["license"] and row["corpus_file"] for row in rows)
