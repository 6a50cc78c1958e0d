"""`e2p replay --archive` says which part of a window the idempotency ledger no longer remembers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from e2p.ops.replay import beyond_idempotency
from handler.idempotency import DEFAULT_TTL_S

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_window_inside_the_ttl_needs_no_warning() -> None:
    assert beyond_idempotency(NOW - timedelta(days=7), NOW) == ""


def test_the_part_beyond_the_ttl_is_named() -> None:
    note = beyond_idempotency(NOW - timedelta(days=30), NOW)
    horizon = NOW - timedelta(seconds=DEFAULT_TTL_S)
    assert horizon.isoformat(timespec="seconds") in note
    assert "raise Panther's tally again" in note


def test_the_default_ttl_covers_the_dead_letter_queues_fourteen_days() -> None:
    assert beyond_idempotency(NOW - timedelta(days=14), NOW) == ""
