"""The accounts file: names, aliases, OU paths and tags written down by the operator.

Used by the Lambda (`E2P_ACCOUNTS_FILE`, shipped in the package) and offline by
`e2p map --accounts FILE`. JSON (`.json`) or YAML (`.yaml`, `.yml`), one shape (the `#` notes
are explanations, not part of the format):

    {"accounts": [
        {"id": "123456789012",              # required: 12 digits, as a string
         "name": "payments-prod",           # optional strings; "" means "not said here"
         "alias": "acme-payments-prod",
         "ou_path": "Root/Workloads/Prod",
         "tags": {"team": "payments"}}      # optional, string -> string, used as written
    ]}                                      # (not filtered by E2P_ACCOUNT_TAG_KEYS)

Validation is strict, because a typo must not silently lose enrichment: unknown keys (at the top
or in an entry) are refused, every value must be a string (YAML reads an unquoted id as a number
and drops its leading zeros), ids must be 12 digits and appear once, JSON objects must not repeat a
key. Every problem found is reported, each with the entry (`accounts[3]`) and what is wrong.

IAM account aliases normally come from the directory snapshot (read in each account by the
scheduled refresh); an alias written here overrides the one read (mode "override").
PyYAML is imported only for YAML files: the Lambda runtime does not ship it, so a Lambda
accounts file should be JSON unless the package bundles PyYAML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from handler.enrichment.account import AccountInfo
from handler.exceptions import AccountLookupError

ACCOUNTS_KEY = "accounts"
ENTRY_KEYS = frozenset({"id", "name", "alias", "ou_path", "tags"})
TEXT_KEYS = ("name", "alias", "ou_path")
ACCOUNT_ID = re.compile(r"\d{12}")
JSON_SUFFIXES = frozenset({".json"})
YAML_SUFFIXES = frozenset({".yaml", ".yml"})


class StaticFileSource:
    """The accounts file as an AccountSource. The file is read again at every load (it is small)."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)

    def load(self) -> dict[str, AccountInfo]:
        return parse_accounts_document(read_document(self._path), str(self._path))


def read_document(path: Path) -> object:
    """The file's parsed content, not yet validated."""
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES | YAML_SUFFIXES:
        raise AccountLookupError(f"{path}: accounts file must end in .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccountLookupError(f"{path}: cannot read the accounts file: {exc}") from exc
    if suffix in JSON_SUFFIXES:
        return _parse_json(text, path)
    return _parse_yaml(text, path)


def _parse_json(text: str, path: Path) -> object:
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise AccountLookupError(f"{path}: not valid JSON: {exc}") from exc
    except ValueError as exc:  # from _refuse_duplicate_keys
        raise AccountLookupError(f"{path}: {exc}") from exc


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice in one JSON object")
        result[key] = value
    return result


def _parse_yaml(text: str, path: Path) -> object:
    try:
        import yaml
    except ImportError as exc:
        raise AccountLookupError(f"{path}: YAML needs PyYAML, which is not installed; use JSON") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AccountLookupError(f"{path}: not valid YAML: {exc}") from exc


def parse_accounts_document(document: object, origin: str) -> dict[str, AccountInfo]:
    """Validate a parsed accounts file; AccountLookupError lists every problem found."""
    if not isinstance(document, Mapping):
        raise AccountLookupError(f'{origin}: expected an object {{"accounts": [...]}} at the top')
    unknown = sorted(str(key) for key in document if key != ACCOUNTS_KEY)
    if unknown:
        raise AccountLookupError(f"{origin}: unknown top-level key(s) {unknown}; only 'accounts' is allowed")
    entries = document.get(ACCOUNTS_KEY)
    if not isinstance(entries, list):
        raise AccountLookupError(f"{origin}: 'accounts' must be a list of account entries")
    accounts: dict[str, AccountInfo] = {}
    problems: list[str] = []
    for index, entry in enumerate(entries):
        where = f"accounts[{index}]"
        entry_problems = entry_problems_of(entry)
        if entry_problems:
            problems.extend(f"{where}: {problem}" for problem in entry_problems)
            continue
        info = account_from_entry(entry)
        if info.account_id in accounts:
            problems.append(f"{where}: id {info.account_id} is already listed earlier")
            continue
        accounts[info.account_id] = info
    if problems:
        raise AccountLookupError(f"{origin}: invalid accounts file: " + "; ".join(problems))
    return accounts


def entry_problems_of(entry: object) -> list[str]:
    """What is wrong with one entry; empty when it is valid."""
    if not isinstance(entry, Mapping):
        return [f"expected an object with an 'id', got {type(entry).__name__}"]
    problems: list[str] = []
    unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
    if unknown:
        problems.append(f"unknown key(s) {unknown}; allowed: {sorted(ENTRY_KEYS)}")
    account_id = entry.get("id")
    if account_id is None:
        problems.append("'id' is missing")
    elif not isinstance(account_id, str):
        problems.append(f"'id' must be a string of 12 digits in quotes, got {type(account_id).__name__}")
    elif not ACCOUNT_ID.fullmatch(account_id):
        problems.append(f"'id' {account_id!r} is not 12 digits")
    for key in TEXT_KEYS:
        if key in entry and not isinstance(entry[key], str):
            problems.append(f"{key!r} must be a string, got {type(entry[key]).__name__}")
    if "tags" in entry:
        problems.extend(_tag_problems(entry["tags"]))
    return problems


def _tag_problems(tags: object) -> list[str]:
    if not isinstance(tags, Mapping):
        return [f"'tags' must be an object of string -> string, got {type(tags).__name__}"]
    return [
        f"tag {key!r}: keys and values must be strings, got {type(key).__name__} -> {type(value).__name__}"
        for key, value in tags.items()
        if not (isinstance(key, str) and isinstance(value, str))
    ]


def account_from_entry(entry: Mapping[str, object]) -> AccountInfo:
    """An entry that passed `entry_problems_of` as an AccountInfo."""
    tags = entry.get("tags")
    tag_map: Mapping[object, object] = tags if isinstance(tags, Mapping) else {}
    return AccountInfo(
        account_id=str(entry["id"]),
        name=str(entry.get("name", "")),
        alias=str(entry.get("alias", "")),
        ou_path=str(entry.get("ou_path", "")),
        tags={str(key): str(value) for key, value in tag_map.items()},
    )
