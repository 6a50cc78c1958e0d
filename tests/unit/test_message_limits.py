"""The 4,096-byte path, pinned from Panther's contract (../shared/PANTHER-API.md) and the README's
message rules, not from handler.message.

Every limit and reserved name below is spelled out here on purpose: if the implementation's
constants drift from the contract, these tests fail (an oracle importing the same constants would
drift with them). The order in which an oversized message gives way is asserted from what the
console does with each part: node and severity identify the alert (never changed), the summary is
stored and shown, the identifier chooses the aggregation, the extra fields are only visible to rules
(not stored), and among them the protected context (account id, region, source, detail-type, event
id) is what lets an operator find the event.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.alert import Alert
from handler.compose import compose
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope
from handler.message import PantherMessage, fitted_message
from handler.severity import Severity

pytestmark = pytest.mark.unit

# PANTHER-API.md: "The whole raw body is limited to 4,096 bytes".
BODY_LIMIT = 4096
# PANTHER-API.md: reserved names, and any name matching ^[_]*id$.
RESERVED = ("_id", "id", "agent", "group", "tally", "state_change", "last_occurrence", "first_occurrence")
RESERVED_ID = re.compile(r"^_*id$")
# The event's own properties: an extra field of that name would overwrite them.
CORE = ("node", "tag", "summary", "severity", "identifier")
# README ("Panther messages"): node <= 255 characters, summary <= 400, tag and each extra field
# <= 512, identifier <= 1,024 (Panther truncates a longer one, which would change the alert).
NODE_MAX, SUMMARY_MAX, FIELD_MAX, IDENTIFIER_MAX = 255, 400, 512, 1024
# README: the context an operator searches by; never shortened, dropped only as a last resort.
# external_id is also one of the console's stored alert columns (PANTHER-API.md).
PROTECTED = ("account_id", "region", "source", "detail_type", "event_id", "external_id")
# README: a summary or identifier is not cut below this many characters.
TEXT_FLOOR = 64
ELLIPSIS = "…"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Characters of each UTF-8 width, and ones JSON must escape (6 bytes for a control character).
ONE, TWO, THREE, FOUR = "a", "é", "€", "𝄞"
CONTROL = "\x01"


def sent_event(message: PantherMessage) -> dict[str, Any]:
    """The event exactly as the body carries it, checked against the contract's validation."""
    body = message.body()
    assert isinstance(body, bytes)
    assert len(body) <= BODY_LIMIT, f"body of {len(body)} bytes"
    document = json.loads(body.decode("utf-8"))  # strict UTF-8: what Panther's parser reads
    assert list(document) == ["event"]
    event = document["event"]
    assert isinstance(event["node"], str) and event["node"]
    assert isinstance(event["summary"], str) and event["summary"]
    assert isinstance(event.get("tag", ""), str)
    assert type(event["severity"]) is int and 0 <= event["severity"] <= 5
    for name, value in event.items():
        if name in CORE:
            continue
        assert isinstance(value, str), name
        assert name not in RESERVED and not RESERVED_ID.match(name), name
    assert len(event["node"]) <= NODE_MAX
    assert len(event["summary"]) <= SUMMARY_MAX
    assert len(event.get("tag", "")) <= FIELD_MAX
    assert len(event.get("identifier", "")) <= IDENTIFIER_MAX
    for text in (event["node"], event["summary"], event.get("tag", "")):
        assert text.isprintable() and text == " ".join(text.split())
    return event


def one_line(text: str) -> str:
    """README: node, summary and tag are one printable line (other characters become spaces)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def whole(parts: dict[str, Any]) -> dict[str, Any]:
    """Each part as sent when size is no issue: cleaned and within its own limit."""
    identifier = parts["identifier"]
    return {
        "node": cut(one_line(parts["node"]), NODE_MAX) or "unknown",
        "summary": cut(one_line(parts["summary"]), SUMMARY_MAX) or "(no summary)",
        "tag": cut(one_line(parts["tag"]), FIELD_MAX),
        "identifier": cut(identifier, IDENTIFIER_MAX) if identifier else None,
        # Each extra field: the values it may be sent as (see field_forms).
        # A lone surrogate in a name (valid JSON, not UTF-8) is sent as U+FFFD.
        "fields": {
            LONE_SURROGATE.sub("\ufffd", name): field_forms(value)
            for name, value in parts["fields"].items()
            if field_forms(value)
            and name not in RESERVED
            and not RESERVED_ID.match(name)
            and name not in CORE
        },
    }


def field_forms(value: str) -> set[str]:
    """An extra value as it may be sent: printable text (a value with other characters is made one
    line, as a summary is; a printable one may be too), within its limit; nothing when empty."""
    lines = {cut(one_line(value), FIELD_MAX)}
    if value.isprintable():
        lines.add(cut(value, FIELD_MAX))
    return lines - {""}


def is_cut_from(sent: str, original: str) -> bool:
    return sent.endswith(ELLIPSIS) and len(sent) < len(original) and original.startswith(sent[:-1])


def assert_gave_way_in_order(parts: dict[str, Any], message: PantherMessage) -> None:
    """The contract's order: unprotected extras first, then the summary, then the identifier,
    then the protected context; the node, the severity and the tag never."""
    event = sent_event(message)
    expected = whole(parts)
    fields = expected["fields"]
    sent_fields = {name: value for name, value in event.items() if name not in CORE}
    kept_unprotected = [name for name in sent_fields if name not in PROTECTED]
    summary_cut = event["summary"] != expected["summary"]
    identifier_cut = event.get("identifier") != expected["identifier"]
    # A value of white space only may be dropped as empty once cleaned: not a loss.
    protected_dropped = [
        name
        for name in PROTECTED
        if name in fields and name not in event and any(form.strip() for form in fields[name])
    ]

    assert event["node"] == expected["node"]
    assert event["severity"] == parts["severity"]
    assert event.get("tag", "") == expected["tag"]
    assert set(sent_fields) <= set(fields)
    for name, value in sent_fields.items():
        assert value.isprintable(), name
        if name in PROTECTED:
            assert value in fields[name], f"protected {name} shortened"
        else:
            assert value in fields[name] or any(is_cut_from(value, form) for form in fields[name]), name
    if summary_cut:
        assert is_cut_from(event["summary"], expected["summary"])
        assert not kept_unprotected, "the summary was cut while extras were left"
    if identifier_cut:
        assert is_cut_from(event["identifier"], expected["identifier"])
        assert not kept_unprotected, "the identifier was cut while extras were left"
        assert len(event["summary"]) <= TEXT_FLOOR, "the identifier was cut before the summary"
    if protected_dropped:
        assert not kept_unprotected
        assert len(event["summary"]) <= TEXT_FLOOR
        assert len(event.get("identifier") or "") <= TEXT_FLOOR


def fit(parts: dict[str, Any]) -> PantherMessage:
    return fitted_message(
        parts["node"],
        parts["summary"],
        parts["severity"],
        parts["tag"],
        identifier=parts["identifier"],
        fields=dict(parts["fields"]),
    )


# ---------------------------------------------------------------------------------------------
# Limits and names, each with the contract's own number


@pytest.mark.parametrize("name", [*RESERVED, "__id", "___id", *CORE])
def test_a_reserved_or_core_name_is_never_sent_as_an_extra_field(name: str) -> None:
    message = fitted_message(
        "acct/eu-west-1", "s", 3, "T", identifier=None, fields={name: "x", "account_id": "1"}
    )

    event = sent_event(message)
    # The core properties keep their own values; a reserved name is not sent at all.
    assert (event["node"], event["summary"], event["severity"], event["tag"]) == (
        "acct/eu-west-1",
        "s",
        3,
        "T",
    )
    assert "identifier" not in event
    assert name in CORE or name not in event
    assert event["account_id"] == "1"


@pytest.mark.parametrize(
    "name", ["ids", "idx", "id_", "_id_", "a_id", "account_id", "event_id", "Id", "agents"]
)
def test_names_that_only_look_reserved_are_sent(name: str) -> None:
    event = sent_event(fitted_message("n", "s", 1, "t", identifier=None, fields={name: "kept"}))

    assert event[name] == "kept"


@pytest.mark.parametrize(
    ("part", "limit"), [("node", NODE_MAX), ("summary", SUMMARY_MAX), ("tag", FIELD_MAX)]
)
def test_core_texts_are_cut_at_their_limit_with_an_ellipsis(part: str, limit: int) -> None:
    parts = {"node": "n", "summary": "s", "tag": "t", part: "x" * (limit + 1)}
    exact = {**parts, part: "y" * limit}

    cut = sent_event(
        fitted_message(parts["node"], parts["summary"], 2, parts["tag"], identifier=None, fields={})
    )
    whole = sent_event(
        fitted_message(exact["node"], exact["summary"], 2, exact["tag"], identifier=None, fields={})
    )

    assert cut[part] == "x" * (limit - 1) + ELLIPSIS
    assert whole[part] == "y" * limit


def test_an_extra_field_and_the_identifier_are_cut_at_their_limits() -> None:
    message = fitted_message(
        "n",
        "s",
        2,
        "t",
        identifier="i" * (IDENTIFIER_MAX + 1),
        fields={"long": "v" * (FIELD_MAX + 1), "exact": "w" * FIELD_MAX},
    )

    event = sent_event(message)

    assert event["identifier"] == "i" * (IDENTIFIER_MAX - 1) + ELLIPSIS
    assert event["long"] == "v" * (FIELD_MAX - 1) + ELLIPSIS
    assert event["exact"] == "w" * FIELD_MAX


def test_an_identifier_of_exactly_the_limit_is_kept_whole() -> None:
    event = sent_event(fitted_message("n", "s", 2, "t", identifier="i" * IDENTIFIER_MAX, fields={}))

    assert event["identifier"] == "i" * IDENTIFIER_MAX


def test_empty_parts_get_the_documented_placeholders_and_empty_fields_are_not_sent() -> None:
    event = sent_event(fitted_message(" \n", "\t", 0, "", identifier="", fields={"empty": "", "kept": "k"}))

    assert (event["node"], event["summary"]) == ("unknown", "(no summary)")
    assert "identifier" not in event
    assert "empty" not in event
    assert event["kept"] == "k"


def test_node_summary_and_tag_are_one_printable_line() -> None:
    event = sent_event(
        fitted_message("a\nb\x00c", " two\r\n lines\t", 1, "x\u2028y", identifier=None, fields={})
    )

    assert (event["node"], event["summary"], event["tag"]) == ("a b c", "two lines", "x y")


def test_a_message_that_fits_is_sent_unchanged() -> None:
    # GIVEN a message of 4,096 bytes or a little less, with multi-byte characters
    fields = {"note": THREE * 300, "account_id": "111122223333"}
    message = fitted_message(
        "acct/eu-west-1/" + FOUR * 10, "s" * 400, 4, "T", identifier="id-1", fields=fields
    )
    room = BODY_LIMIT - len(message.body())
    assert 0 <= room < 4096

    # THEN nothing was shortened
    event = sent_event(message)
    assert event["note"] == THREE * 300
    assert event["summary"] == "s" * 400


def test_a_body_of_exactly_the_limit_is_sent_as_is_and_one_byte_more_is_not() -> None:
    # GIVEN extras that bring the body close to the limit, and one more field sized to reach it
    fields = {f"pad{i}": "p" * 500 for i in range(7)}
    base = len(fitted_message("n", "s", 2, "t", identifier=None, fields=fields).body())
    room = BODY_LIMIT - base - len(',"last":""')

    def with_last(length: int) -> dict[str, Any]:
        return sent_event(
            fitted_message("n", "s", 2, "t", identifier=None, fields={**fields, "last": "z" * length})
        )

    # WHEN the body is exactly 4,096 bytes, THEN nothing is shortened
    exact = with_last(room)
    assert len(json.dumps({"event": exact}, ensure_ascii=False, separators=(",", ":")).encode()) == BODY_LIMIT
    assert exact["last"] == "z" * room
    assert all(exact[name] == "p" * 500 for name in fields)
    # WHEN it would be one byte more, THEN the largest extra gives way and the rest is whole
    over = with_last(room + 1)
    assert over["last"] == "z" * (room + 1)
    assert [name for name in fields if over[name] != "p" * 500] == ["pad0"]
    assert is_cut_from(over["pad0"], "p" * 500)


# ---------------------------------------------------------------------------------------------
# Over 4,096 bytes in every combination of long parts


LONG_PARTS = ("node", "summary", "identifier", "tag", "extras", "protected", "many_short")


def oversized_parts(long: set[str], char: str) -> dict[str, Any]:
    """Message parts where each part named in `long` is at (or far over) its limit in `char`."""
    fields: dict[str, str] = {
        "account_id": "111122223333",
        "region": "eu-west-1",
        "source": "aws.guardduty",
        "detail_type": "GuardDuty Finding",
        "event_id": "6f6b1c6e-3c6a-4d0e-9a5e-1a2b3c4d5e6f",
        "external_id": "arn:aws:guardduty:eu-west-1:111122223333:detector/d/finding/f",
        "account_name": "payments-prod",
    }
    if "extras" in long:
        fields |= {f"context_{i}": char * 700 for i in range(6)}
    if "protected" in long:
        fields |= {name: char * FIELD_MAX for name in PROTECTED}
    if "many_short" in long:
        # Short values (not worth halving) under long names: only dropping them makes room.
        fields |= {f"account_tag_{'k' * 100}_{i}": char * 16 for i in range(60)}
    return {
        "node": "acct/eu-west-1/" + char * 400 if "node" in long else "acct/eu-west-1/i-0abc",
        "summary": char * 600 if "summary" in long else "Finding on i-0abc",
        "severity": 4,
        "tag": char * 900 if "tag" in long else "GuardDuty",
        "identifier": char * 1500 if "identifier" in long else "arn:aws:guardduty:finding/1:4",
        "fields": fields,
    }


COMBINATIONS = [
    set(combo) for size in range(1, len(LONG_PARTS) + 1) for combo in itertools.combinations(LONG_PARTS, size)
]


@pytest.mark.parametrize("char", [ONE, TWO, THREE, FOUR, CONTROL], ids=["1B", "2B", "3B", "4B", "escaped"])
def test_every_combination_of_long_parts_fits_and_gives_way_in_order(char: str) -> None:
    oversized = 0
    for long in COMBINATIONS:
        parts = oversized_parts(long, char)
        raw = PantherMessage(
            parts["node"], parts["summary"], 4, parts["tag"], parts["identifier"], dict(parts["fields"])
        )
        oversized += len(raw.body()) > BODY_LIMIT

        message = fit(parts)

        assert_gave_way_in_order(parts, message)
    # The combinations really exercise the shrinking path, not just the limits of each part.
    assert oversized >= len(COMBINATIONS) // 2


def test_many_short_extras_are_dropped_before_the_node_or_the_context_is_touched() -> None:
    # GIVEN an account with many tags under long keys, and otherwise an ordinary finding
    parts = oversized_parts({"many_short"}, FOUR)

    message = fit(parts)

    # THEN the node, severity, summary and protected context are whole; tags went first
    event = sent_event(message)
    assert event["node"] == "acct/eu-west-1/i-0abc"
    assert event["summary"] == "Finding on i-0abc"
    assert all(event[name] == parts["fields"][name] for name in PROTECTED)
    assert any(name.startswith("account_tag_") for name in parts["fields"])
    assert sum(name.startswith("account_tag_") for name in event) < 60


def test_long_extras_are_shortened_before_the_summary() -> None:
    parts = oversized_parts({"extras", "summary"}, THREE)

    event = sent_event(fit(parts))

    # The extras could make all the room needed: the summary keeps its 400 characters.
    assert len(event["summary"]) == SUMMARY_MAX
    assert any(event.get(f"context_{i}", "").endswith(ELLIPSIS) for i in range(6))


def test_the_protected_context_outlives_the_summary_and_identifier() -> None:
    parts = oversized_parts({"summary", "identifier", "protected", "node"}, FOUR)

    event = sent_event(fit(parts))

    # THEN the node is whole, the summary and identifier are down to their floor, and the context
    # that could stay is whole
    assert event["node"] == whole(parts)["node"]
    assert is_cut_from(event["summary"], whole(parts)["summary"])
    assert len(event["summary"]) <= TEXT_FLOOR
    assert len(event["identifier"]) <= TEXT_FLOOR
    kept = [name for name in PROTECTED if name in event]
    assert kept
    assert all(event[name] == FOUR * FIELD_MAX for name in kept)


def over_the_limit_by(fields: dict[str, str], excess: int, **parts: Any) -> dict[str, str]:
    """`fields` plus protected extras (ASCII, at most 512 characters each) sized so that the
    unfitted body is exactly `excess` bytes over the limit."""
    shape = {"node": "n", "summary": "s", "severity": 2, "tag": "t", "identifier": None, **parts}

    def size(extras: dict[str, str]) -> int:
        message = PantherMessage(
            shape["node"], shape["summary"], shape["severity"], shape["tag"], shape["identifier"], extras
        )
        return len(message.body())

    target = BODY_LIMIT + excess
    padded = dict(fields)
    for name in (n for n in PROTECTED if n not in fields):
        padded[name] = "e" * FIELD_MAX
        over = size(padded) - target
        if over >= 0:
            padded[name] = "e" * (FIELD_MAX - over)
            break
    assert size(padded) == target
    return padded


def test_the_heaviest_short_extra_name_and_value_is_dropped_first() -> None:
    # GIVEN short extras (not worth halving): one heavy by its name and value, one with a long name
    # but a tiny value (and the last name in order), and light ones; about 130 bytes too many
    heavy, long_name = "a" * 100, "z" * 90
    fields = {f"m{i:02d}": FOUR * 16 for i in range(20)} | {heavy: FOUR * 16, long_name: "x"}
    fields = over_the_limit_by(fields, 130)

    event = sent_event(fitted_message("n", "s", 2, "t", identifier=None, fields=fields))

    # THEN dropping the heaviest (name and value together) was enough: every other field is whole
    assert heavy not in event
    assert event[long_name] == "x"
    assert all(event[f"m{i:02d}"] == FOUR * 16 for i in range(20))


def test_the_heaviest_protected_extra_is_dropped_first() -> None:
    # GIVEN only protected extras, about 300 bytes too many, the heaviest not last in name order
    fields = {
        "account_id": FOUR * FIELD_MAX,
        "detail_type": FOUR * 400,
        "external_id": THREE * 200,
        "source": "s" * 100,
        "region": "r" * 10,
    }
    assert len(PantherMessage("n", "s", 2, "t", None, fields).body()) > BODY_LIMIT

    event = sent_event(fitted_message("n", "s", 2, "t", identifier=None, fields=fields))

    # THEN dropping the heaviest was enough, and the others are whole
    assert "account_id" not in event
    assert {name: event[name] for name in fields if name != "account_id"} == {
        name: value for name, value in fields.items() if name != "account_id"
    }


def test_shorten_never_exceeds_its_limit() -> None:
    from handler.message import shorten

    assert shorten("abc", 3) == "abc"
    assert shorten("abcd", 3) == "ab" + ELLIPSIS
    assert shorten("abc", 1) == ELLIPSIS
    assert shorten("abc", 2) == "a" + ELLIPSIS


@pytest.mark.parametrize("part", ["summary", "identifier"])
def test_a_summary_or_identifier_at_the_floor_is_not_cut_further(part: str) -> None:
    # GIVEN a summary (or identifier) of exactly the floor, and only protected extras to give way
    texts = {"summary": "s", "identifier": None, part: "w" * TEXT_FLOOR}
    fields = {name: FOUR * FIELD_MAX for name in PROTECTED}

    event = sent_event(
        fitted_message("n", texts["summary"], 2, "t", identifier=texts["identifier"], fields=fields)
    )

    # THEN the protected extras gave way, not the text at its floor
    assert event[part] == "w" * TEXT_FLOOR
    assert [name for name in PROTECTED if name in event]


@pytest.mark.parametrize("part", ["summary", "identifier"])
def test_a_summary_or_identifier_is_halved(part: str) -> None:
    # GIVEN a long summary (or identifier) and a body that one halving brings under the limit
    texts = {"summary": "s", "identifier": None, part: FOUR * 400}
    fields = over_the_limit_by({}, 100, **texts)

    event = sent_event(
        fitted_message("n", texts["summary"], 2, "t", identifier=texts["identifier"], fields=fields)
    )

    # THEN it is cut to half its length (README: "each halved"), the ellipsis included
    assert event[part] == FOUR * 199 + ELLIPSIS


def test_an_extra_value_is_halved() -> None:
    fields = over_the_limit_by({"note": FOUR * 400}, 100)

    event = sent_event(fitted_message("n", "s", 2, "t", identifier=None, fields=fields))

    assert event["note"] == FOUR * 199 + ELLIPSIS


def test_past_every_floor_the_node_then_the_tag_give_way() -> None:
    # Never reached within the limits (a node, tag, summary and identifier at their floors fit in
    # 4,096 bytes): this is what guarantees that the fitting loop always ends.
    from handler.message import _shrink_once

    at_floor = PantherMessage("n" * TEXT_FLOOR, "s" * TEXT_FLOOR, 2, "t" * 100, "i" * TEXT_FLOOR, {})
    long_node = PantherMessage("n" * 65, "s", 2, "t" * 100, None, {})

    assert _shrink_once(at_floor) == PantherMessage(
        "n" * TEXT_FLOOR, "s" * TEXT_FLOOR, 2, "t" * 49 + ELLIPSIS, "i" * TEXT_FLOOR, {}
    )
    assert _shrink_once(long_node).node == "n" * 31 + ELLIPSIS
    assert _shrink_once(long_node).tag == "t" * 100


def test_the_largest_extra_by_bytes_is_shortened_first() -> None:
    # GIVEN two extras of equal length in characters, one of 4-byte characters
    fields = {"ascii": "a" * 500, "wide": FOUR * 500, "middle": THREE * 500, "account_id": "1"}
    assert len(PantherMessage("n", "s", 2, "t", None, fields).body()) > BODY_LIMIT

    event = sent_event(fitted_message("n", "s", 2, "t", identifier=None, fields=fields))

    # THEN the one that weighs most was cut, once; the others are whole
    assert event["ascii"] == "a" * 500
    assert event["middle"] == THREE * 500
    assert event["wide"] == FOUR * 249 + ELLIPSIS


def test_a_lone_surrogate_in_a_field_name_under_pressure_is_measured_not_fatal() -> None:
    # GIVEN many short extras whose names hold a lone surrogate (valid in JSON, not in UTF-8: an
    # accounts file can carry one in a tag key), so that only dropping fields makes room
    fields = {f"tag_\ud800_{'k' * 100}_{i}": FOUR * 16 for i in range(60)}

    event = sent_event(fitted_message("n", "s", 2, "t", identifier=None, fields=fields))

    # THEN some were dropped, the others are sent with U+FFFD in their names, and the body fits
    kept = [name for name in event if name.startswith("tag_")]
    assert 0 < len(kept) < 60
    assert all(name.startswith("tag_\ufffd_") for name in kept)


# ---------------------------------------------------------------------------------------------
# Through compose: the path every real message takes


def test_a_composed_finding_with_huge_parts_fits_and_keeps_its_node_and_severity() -> None:
    envelope = Envelope(
        source="aws.guardduty",
        detail_type="GuardDuty Finding",
        detail={},
        account="111122223333",
        region="ap-southeast-2",
        id="0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
        time="2026-12-01T10:00:00Z",
    )
    alert = Alert(
        summary="Ĳ" * 1000,
        severity=Severity.CRITICAL,
        tag="GuardDuty",
        resource="i-0abc",
        resource_arn="arn:aws:ec2:ap-southeast-2:111122223333:instance/i-0abc",
        identifier="arn:aws:guardduty:ap-southeast-2:111122223333:detector/d/finding/" + "f" * 2000 + ":5",
        external_id="x" * 3000,
        fields={"finding_type": "日本語" * 400, "console_url": "https://c/" + "q" * 900},
    )
    account = AccountInfo(
        "111122223333",
        name="payments-" + "ü" * 300,
        ou_path="Root/" + "Workloads/" * 100,
        tags={f"cost-centre-{i}": "€" * 200 for i in range(50)},
    )

    message = compose(envelope, alert, account)

    event = sent_event(message)
    assert event["severity"] == 5
    assert event["node"] == ("payments-" + "ü" * 300 + "/ap-southeast-2/i-0abc")[: NODE_MAX - 1] + ELLIPSIS
    assert event["summary"] == "Ĳ" * (SUMMARY_MAX - 1) + ELLIPSIS or len(event["summary"]) <= TEXT_FLOOR
    assert event["external_id"] == "x" * (FIELD_MAX - 1) + ELLIPSIS
    assert (
        event["account_id"],
        event["region"],
        event["source"],
        event["detail_type"],
        event["event_id"],
    ) == (
        "111122223333",
        "ap-southeast-2",
        "aws.guardduty",
        "GuardDuty Finding",
        "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
    )


# ---------------------------------------------------------------------------------------------
# The property: any message fits, keeps node and severity, and gives way in order

_PIECE = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        # A lone surrogate can come from an event's JSON ("\\ud800"); UTF-8 cannot encode it.
        st.sampled_from([ONE, TWO, THREE, FOUR, CONTROL, '"', "\\", "\n", "\ud800"]),
    ),
    max_size=24,
)
# Long texts are what put a body under pressure: pieces repeated up to several hundred characters.
_TEXT = st.one_of(_PIECE, st.builds(lambda piece, times: (piece * times)[:700], _PIECE, st.integers(1, 200)))
_NAME = st.one_of(
    st.sampled_from(
        [*PROTECTED, *RESERVED, *CORE, "account_name", "ou_path", "resource", "finding_type", "tag_\ud800"]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=150),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    node=_TEXT,
    summary=_TEXT,
    severity=st.integers(min_value=0, max_value=5),
    tag=_TEXT,
    identifier=st.one_of(st.none(), _TEXT, st.text(min_size=1000, max_size=1500)),
    fields=st.dictionaries(_NAME, _TEXT, max_size=60),
)
def test_any_message_fits_keeps_node_and_severity_and_gives_way_in_order(
    node: str, summary: str, severity: int, tag: str, identifier: str | None, fields: dict[str, str]
) -> None:
    parts = {
        "node": node,
        "summary": summary,
        "severity": severity,
        "tag": tag,
        "identifier": identifier,
        "fields": fields,
    }

    message = fit(parts)

    assert_gave_way_in_order(parts, message)
    # Fitting is idempotent: what was sent, fitted again, is the same body.
    assert message.fitted().body() == message.body()
