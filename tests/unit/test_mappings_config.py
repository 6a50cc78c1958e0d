"""E2P_MAPPINGS_URI is read and checked with the rest of the configuration, at cold start."""

from __future__ import annotations

from pathlib import Path

import pytest

from handler import constants as env
from handler.config import load_settings
from handler.exceptions import ConfigurationError

pytestmark = pytest.mark.unit

BASE = {env.PANTHER_URL: "https://acme.runpanther.net/api/event/create", env.TOKEN_SECRET_ID: "token"}


def test_unset_means_the_builtin_mappings_only() -> None:
    assert load_settings(BASE).mappings_uri == ""


def test_an_s3_uri_or_a_readable_file_is_kept(tmp_path: Path) -> None:
    uri = "s3://e2p-code/mappings/" + "0a" * 32 + ".json"
    assert load_settings({**BASE, env.MAPPINGS_URI: uri}).mappings_uri == uri
    local = tmp_path / "org.json"
    local.write_text('{"version": 1, "mappings": []}')
    assert load_settings({**BASE, env.MAPPINGS_URI: str(local)}).mappings_uri == str(local)


@pytest.mark.parametrize("value", ["s3://bucket-only", "s3:///key", "/no/such/file.json"])
def test_anything_else_fails_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=env.MAPPINGS_URI):
        load_settings({**BASE, env.MAPPINGS_URI: value})
