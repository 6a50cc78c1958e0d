"""status, verify and preflight reach the central and management accounts through the read-only roles
the config names; the commands that change things keep the write roles (issue 13, item 13)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cli_org import REPO

from e2p.console.options import GlobalOptions, load_context
from e2p.exceptions import SettingsError

pytestmark = pytest.mark.functional

CENTRAL = "222222222222"
MANAGEMENT = "111111111111"
WRITE = f"arn:aws:iam::{CENTRAL}:role/OrganizationAccountAccessRole"
READ = f"arn:aws:iam::{CENTRAL}:role/events2panther-read-only"
MANAGEMENT_READ = f"arn:aws:iam::{MANAGEMENT}:role/events2panther-read-only"


def config(tmp_path: Path, central_read: str = READ) -> Path:
    path = tmp_path / "e2p.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [organization]
            management_account_id = "{MANAGEMENT}"
            organization_id = "o-a1b2c3d4e5"

            [central]
            account_id = "{CENTRAL}"
            region = "eu-west-1"
            panther_url = "https://panther.example.com/api/event/create"
            role_arn = "{WRITE}"
            read_only_role_arn = "{central_read}"

            [management]
            read_only_role_arn = "{MANAGEMENT_READ}"

            [stackset]
            organizational_units = ["ou-ab12-cdef3456"]
            regions = ["eu-west-1", "us-east-1"]
            """
        ),
        encoding="utf-8",
    )
    return path


def options(path: Path) -> GlobalOptions:
    return GlobalOptions(config=path, profile=None, region="eu-west-1", endpoint_url=None, output="table")


def test_read_only_commands_use_the_read_only_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2P_PROJECT_ROOT", str(REPO))
    path = config(tmp_path)
    reading = load_context(options(path), check_credentials=False, read_only=True).sessions.access
    writing = load_context(options(path), check_credentials=False).sessions.access
    assert (reading.central_role_arn, reading.management_role_arn) == (READ, MANAGEMENT_READ)
    assert (writing.central_role_arn, writing.management_role_arn) == (WRITE, None)


def test_a_read_only_role_of_another_account_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2P_PROJECT_ROOT", str(REPO))
    path = config(tmp_path, central_read="arn:aws:iam::333333333333:role/read-only")
    with pytest.raises(SettingsError, match="read_only_role_arn"):
        load_context(options(path), check_credentials=False, read_only=True)


@pytest.mark.parametrize("command", ["status_cmd", "verify_cmd", "preflight_cmd"])
def test_the_read_only_commands_ask_for_read_only_access(command: str) -> None:
    source = (REPO / "scripts" / "e2p" / "commands" / f"{command}.py").read_text(encoding="utf-8")
    assert "load_context(options, read_only=True)" in source


def test_the_config_offers_the_node_by_id_and_bounds_the_archive(tmp_path: Path) -> None:
    from e2p.config.settings import load_settings

    base = config(tmp_path).read_text(encoding="utf-8")
    path = tmp_path / "lambda.toml"
    path.write_text(
        base + '\n[central.lambda]\nnode_name = "id"\narchive_retention_days = 30\n', encoding="utf-8"
    )
    assert load_settings(path).central.function_parameters == {"NodeName": "id", "ArchiveRetentionDays": "30"}
    for bad in ('node_name = "account"', "archive_retention_days = 0", "archive_retention_days = 400"):
        path.write_text(base + f"\n[central.lambda]\n{bad}\n", encoding="utf-8")
        with pytest.raises(SettingsError):
            load_settings(path)
