"""Extra fields get the summary's line cleaning: no control or bidi character reaches Panther (issue 13)."""

from __future__ import annotations

import json

import pytest

from handler.message import fitted_message

pytestmark = pytest.mark.unit

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("control", [*BIDI, "\x00", "\x1b", "\n", "\r", "\t", "\u200f"])
def test_no_control_or_bidi_character_survives_in_an_extra_field(control: str) -> None:
    message = fitted_message(
        "node",
        "summary",
        2,
        "tag",
        identifier=None,
        fields={"resource": f"invoice{control}fdp.exe", "account_id": "111111111111"},
    )
    event = json.loads(message.body())["event"]
    assert control not in event["resource"]
    assert event["resource"] == "invoice fdp.exe"
    assert event["account_id"] == "111111111111"


def test_a_field_of_control_characters_only_is_dropped() -> None:
    message = fitted_message(
        "n", "s", 1, "t", identifier=None, fields={"note": "\u202e\u2066", "region": "eu-west-1"}
    )
    assert message.fields == {"region": "eu-west-1"}


def test_printable_fields_are_left_as_they_are() -> None:
    fields = {"user_agent": "aws-cli/2.15  Python/3.11", "region": "eu-west-1"}
    message = fitted_message("n", "s", 1, "t", identifier=None, fields=dict(fields))
    assert message.fields == fields
