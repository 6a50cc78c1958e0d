"""The accounts file: formats, strict validation, and how it combines with Organizations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handler.enrichment.account import AccountInfo
from handler.enrichment.build import build_directory, select_source
from handler.enrichment.layered import LayeredSource, overlay
from handler.enrichment.source import EmptySource
from handler.enrichment.static_file import StaticFileSource, parse_accounts_document
from handler.exceptions import AccountLookupError, ConfigurationError

pytestmark = pytest.mark.unit

PAYMENTS = "012345678901"  # a leading zero: the reason ids must be strings
WEB = "210987654321"

JSON_TEXT = json.dumps(
    {
        "accounts": [
            {
                "id": PAYMENTS,
                "name": "payments-prod",
                "alias": "acme-payments",
                "ou_path": "Root/Workloads/Prod/Payments",
                "tags": {"team": "payments"},
            },
            {"id": WEB, "alias": "acme-web"},
        ]
    }
)
YAML_TEXT = f"""
accounts:
  - id: "{PAYMENTS}"
    name: payments-prod
    alias: acme-payments
    ou_path: Root/Workloads/Prod/Payments
    tags:
      team: payments
  - id: "{WEB}"
    alias: acme-web
"""
EXPECTED = {
    PAYMENTS: AccountInfo(
        PAYMENTS, "payments-prod", "acme-payments", "Root/Workloads/Prod/Payments", {"team": "payments"}
    ),
    WEB: AccountInfo(WEB, alias="acme-web"),
}


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


class NoAws:
    """Stands for a boto3 session that must not be touched: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"AWS was used ({name}) where it must not be")


class FixedSource:
    def __init__(self, accounts: dict[str, AccountInfo] | Exception) -> None:
        self.accounts = accounts
        self.loads = 0

    def load(self) -> dict[str, AccountInfo]:
        self.loads += 1
        if isinstance(self.accounts, Exception):
            raise self.accounts
        return dict(self.accounts)


# --- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"), [("a.json", JSON_TEXT), ("a.yaml", YAML_TEXT), ("a.yml", YAML_TEXT)]
)
def test_json_and_yaml_files_give_the_same_accounts(tmp_path: Path, name: str, text: str) -> None:
    assert StaticFileSource(write(tmp_path, name, text)).load() == EXPECTED


def test_an_empty_list_is_a_valid_file(tmp_path: Path) -> None:
    assert StaticFileSource(write(tmp_path, "a.json", '{"accounts": []}')).load() == {}


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AccountLookupError, match=r"must end in \.json, \.yaml or \.yml"):
        StaticFileSource(write(tmp_path, "accounts.txt", JSON_TEXT)).load()


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(AccountLookupError, match="cannot read the accounts file") as caught:
        StaticFileSource(str(missing)).load()
    assert str(missing) in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)


def test_invalid_json_says_where(tmp_path: Path) -> None:
    with pytest.raises(AccountLookupError, match=r"not valid JSON: .*line 1"):
        StaticFileSource(write(tmp_path, "a.json", '{"accounts": [}')).load()


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(AccountLookupError, match="not valid YAML"):
        StaticFileSource(write(tmp_path, "a.yaml", "accounts: [unclosed")).load()


def test_duplicate_json_keys_are_refused(tmp_path: Path) -> None:
    text = '{"accounts": [{"id": "PAYMENTS", "name": "a", "name": "b"}]}'.replace("PAYMENTS", PAYMENTS)
    with pytest.raises(AccountLookupError, match="key 'name' appears twice"):
        StaticFileSource(write(tmp_path, "a.json", text)).load()


def test_unquoted_yaml_id_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(
        AccountLookupError, match=r"accounts\[0\]: 'id' must be a string of 12 digits in quotes"
    ):
        StaticFileSource(write(tmp_path, "a.yaml", "accounts:\n  - id: 123456789012\n")).load()


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], r"expected an object \{\"accounts\": \[\.\.\.\]\} at the top"),
        ({"accounts": [], "extra": 1}, r"unknown top-level key\(s\) \['extra'\]"),
        ({}, "'accounts' must be a list"),
        ({"accounts": {"id": PAYMENTS}}, "'accounts' must be a list"),
        ({"accounts": ["012345678901"]}, r"accounts\[0\]: expected an object with an 'id', got str"),
        ({"accounts": [{"name": "x"}]}, r"accounts\[0\]: 'id' is missing"),
        ({"accounts": [{"id": "12345"}]}, r"accounts\[0\]: 'id' '12345' is not 12 digits"),
        ({"accounts": [{"id": "12345678901a"}]}, "is not 12 digits"),
        ({"accounts": [{"id": "1234567890123"}]}, "is not 12 digits"),
        ({"accounts": [{"id": PAYMENTS, "nmae": "x"}]}, r"accounts\[0\]: unknown key\(s\) \['nmae'\]"),
        ({"accounts": [{"id": PAYMENTS, "name": 7}]}, r"accounts\[0\]: 'name' must be a string, got int"),
        ({"accounts": [{"id": PAYMENTS, "ou_path": None}]}, "'ou_path' must be a string, got NoneType"),
        ({"accounts": [{"id": PAYMENTS, "tags": ["a"]}]}, "'tags' must be an object of string -> string"),
        ({"accounts": [{"id": PAYMENTS, "tags": {"n": 1}}]}, r"tag 'n': .* got str -> int"),
        (
            {"accounts": [{"id": PAYMENTS}, {"id": PAYMENTS}]},
            rf"accounts\[1\]: id {PAYMENTS} is already listed",
        ),
    ],
)
def test_invalid_documents_say_which_entry_and_what(document: object, message: str) -> None:
    with pytest.raises(AccountLookupError, match=message):
        parse_accounts_document(document, "accounts.json")


def test_every_problem_is_reported_at_once() -> None:
    document = {"accounts": [{"id": "1"}, {"id": PAYMENTS}, {"id": WEB, "alias": 3, "colour": "red"}]}

    with pytest.raises(AccountLookupError) as caught:
        parse_accounts_document(document, "accounts.json")

    text = str(caught.value)
    assert text.startswith("accounts.json: invalid accounts file: ")
    assert "accounts[0]: 'id' '1' is not 12 digits" in text
    assert "accounts[2]: unknown key(s) ['colour']" in text
    assert "accounts[2]: 'alias' must be a string, got int" in text
    assert "accounts[1]" not in text


# --- override and replace ------------------------------------------------------------------------


ORG = {
    PAYMENTS: AccountInfo(
        PAYMENTS, "payments", "", "Root/Workloads/Prod", {"team": "pay", "env": "prod"}, "ACTIVE"
    ),
    WEB: AccountInfo(WEB, "web", "", "Root/Workloads", {}, "SUSPENDED"),
}


def test_override_wins_field_by_field_and_keeps_the_rest() -> None:
    file_accounts = {
        PAYMENTS: AccountInfo(PAYMENTS, alias="acme-pay", tags={"team": "payments", "tier": "1"}),
        "333333333333": AccountInfo("333333333333", "partner"),
    }

    merged = overlay(ORG, file_accounts)

    assert merged == {
        PAYMENTS: AccountInfo(
            PAYMENTS,
            "payments",
            "acme-pay",
            "Root/Workloads/Prod",
            {"team": "payments", "env": "prod", "tier": "1"},
            "ACTIVE",
        ),
        WEB: ORG[WEB],
        "333333333333": AccountInfo("333333333333", "partner"),
    }


def test_override_file_values_replace_organizations_names_and_paths() -> None:
    merged = overlay(ORG, {WEB: AccountInfo(WEB, "web-renamed", "", "Root/Elsewhere")})

    assert (merged[WEB].name, merged[WEB].ou_path, merged[WEB].state) == (
        "web-renamed",
        "Root/Elsewhere",
        "SUSPENDED",
    )


def test_layered_source_reads_the_file_first_and_fails_whole() -> None:
    broken_file = FixedSource(AccountLookupError("bad file"))
    organizations = FixedSource(ORG)

    with pytest.raises(AccountLookupError, match="bad file"):
        LayeredSource(override=broken_file, base=organizations).load()

    assert organizations.loads == 0


def test_layered_source_propagates_an_organizations_failure() -> None:
    source = LayeredSource(override=FixedSource({}), base=FixedSource(AccountLookupError("throttled")))
    with pytest.raises(AccountLookupError, match="throttled"):
        source.load()


def test_replace_mode_uses_the_file_alone_and_never_touches_aws(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", JSON_TEXT)
    source = select_source(
        role_arn="arn:aws:iam::111111111111:role/lookup",
        accounts_file=path,
        file_mode="replace",
        tag_keys=("team",),
        base_session=NoAws(),  # type: ignore[arg-type]
        region=None,
    )

    assert source.load() == EXPECTED


def test_override_mode_without_a_role_is_the_file_alone(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", YAML_TEXT)
    directory = build_directory(role_arn=None, accounts_file=path, file_mode="override", ttl_s=60)

    assert directory.lookup(PAYMENTS) == EXPECTED[PAYMENTS]
    assert directory.lookup(WEB).label == "acme-web"


def test_neither_role_nor_file_knows_ids_only() -> None:
    directory = build_directory(role_arn=None, accounts_file=None, ttl_s=60, base_session=NoAws())  # type: ignore[arg-type]

    assert directory.lookup(PAYMENTS) == AccountInfo(PAYMENTS)
    assert (
        select_source(
            role_arn="", accounts_file="", file_mode="override", tag_keys=(), base_session=None, region=None
        ).load()
        == EmptySource().load()
        == {}
    )


def test_replace_without_a_file_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'replace' needs an accounts file"):
        build_directory(
            role_arn="arn:aws:iam::111111111111:role/x", accounts_file=None, file_mode="replace", ttl_s=60
        )


def test_unknown_mode_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'merge'"):
        build_directory(role_arn=None, accounts_file=None, file_mode="merge", ttl_s=60)


def test_broken_file_fails_at_build_time(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '{"accounts": [{"id": "1"}]}')
    with pytest.raises(ConfigurationError, match=r"accounts\[0\]: 'id' '1' is not 12 digits") as caught:
        build_directory(role_arn=None, accounts_file=path, ttl_s=60)
    assert isinstance(caught.value.__cause__, AccountLookupError)
