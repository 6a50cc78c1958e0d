"""`e2p deploy --mappings` and `e2p demo --mappings` refuse a malformed file before doing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from e2p.cli import main

pytestmark = pytest.mark.unit

BAD = """version: 1
mappings:
  - {source: com.example.orders, detail-type: Order Failed, summary: '{detail.[}'}
"""


@pytest.mark.parametrize("command", [["deploy", "--yes"], ["demo"]])
def test_a_malformed_mappings_file_is_a_usage_error_before_anything_runs(
    tmp_path: Path, command: list[str]
) -> None:
    mappings = tmp_path / "org.yaml"
    mappings.write_text(BAD)
    result = CliRunner().invoke(main, [*command, "--mappings", str(mappings)])
    assert result.exit_code == 2, result.output
    assert (
        "org.yaml: entry 1 (com.example.orders / Order Failed): summary: not a JMESPath expression"
        in result.output
    )
