"""The generic mapping, for what neither a Python mapper nor a mappings entry claims: status words
from the common keys, and no per-run id in the node; and the built-in entries never raise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.envelope import envelope_from_object
from handler.mappers import builtin_mappings
from handler.mappers.generic import generic, without_run_ids
from handler.mappings.entry import event_data
from handler.severity import Severity

pytestmark = pytest.mark.unit


def event(detail: dict[str, Any], resources: list[str] | None = None) -> Any:
    return envelope_from_object(
        {
            "source": "com.example.builds",
            "detail-type": "Build Finished",
            "detail": detail,
            "resources": resources or [],
        }
    )


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("my-project:8745a7a9-c340-456a-9166-edf953571bEX", "my-project"),
        ("jr_6aa58e7a3aa44e2e4c7db2c50e2f7396cb57901729e4b702dcb2cfbbeb3f7a86", ""),
        ("4c7599ae-0a82-49aa-ba5a-4727fcce14a8", ""),
        ("pipeline/run-20260102123456", "pipeline"),
        ("i-0abc1234", "i-0abc1234"),
        ("sms-job-21a64348", "sms-job-21a64348"),
        ("orders-db", "orders-db"),
    ],
)
def test_per_run_ids_leave_the_node(name: str, kept: str) -> None:
    assert without_run_ids(name) == kept


@pytest.mark.parametrize(
    ("detail", "words", "severity"),
    [
        ({"build-status": "FAILED"}, "FAILED", Severity.MINOR),
        ({"outcome": "Timed Out"}, "Timed Out", Severity.MINOR),
        ({"jobStatus": "COMPLETED"}, "COMPLETED", Severity.INDETERMINATE),
        ({"scan-status": "WARNING"}, "WARNING", Severity.WARNING),
    ],
)
def test_common_status_keys_give_the_summary_word_and_severity(
    detail: dict[str, Any], words: str, severity: Severity
) -> None:
    (alert,) = generic(event(detail))
    assert alert.summary == f"com.example.builds: Build Finished: {words}"
    assert alert.severity is severity


def test_the_node_keeps_the_resource_and_drops_the_build_id() -> None:
    arn = "arn:aws:codebuild:eu-west-1:111122223333:build/my-project:0d9f1c2e-1111-2222-3333-444455556666"
    (alert,) = generic(event({"build-status": "SUCCEEDED"}, [arn]))
    assert (alert.resource, alert.resource_arn) == ("my-project", arn)


# --- Every built-in entry takes any JSON shape without raising ------------------------------------


def _keys_read() -> list[str]:
    """Every key a built-in expression walks, so that generated details reach the entries' paths."""
    keys: set[str] = set()
    for entries in builtin_mappings().entries.values():
        for entry in entries:
            parts = [entry.resource, entry.resource_arn, entry.identifier, entry.severity.value]
            parts += [expr for _, expr in entry.fields]
            parts += list(entry.summary.expressions) if entry.summary is not None else []
            keys.update(
                step
                for part in parts
                if part is not None and part.path
                for step in part.path
                if isinstance(step, str)
            )
    return sorted(keys - {"detail", "resources"})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_keys_read()), inner, max_size=4)
    ),
    max_leaves=12,
)
PAIRS = sorted(builtin_mappings().entries)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pair=st.sampled_from(PAIRS),
    detail=st.dictionaries(st.sampled_from(_keys_read()), JSON, max_size=6),
    resources=st.lists(st.text(max_size=30), max_size=2),
)
def test_builtin_entries_never_raise_on_any_detail(
    pair: tuple[str, str], detail: Any, resources: Any
) -> None:
    envelope = envelope_from_object(
        {"source": pair[0], "detail-type": pair[1], "detail": detail, "resources": resources}
    )
    for entry in builtin_mappings().get(*pair):
        # Called directly: the registry would catch an exception and hide it behind the generic mapping.
        if entry.matches(envelope):
            entry.apply(event_data(envelope))
