"""A token file others can read is flagged (issue 13, item 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2p.aws.token_secret import readable_by_others

pytestmark = pytest.mark.unit


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize(
    ("mode", "flagged"), [(0o600, False), (0o400, False), (0o640, True), (0o644, True), (0o602, True)]
)
def test_a_token_file_readable_by_group_or_others_is_flagged(
    tmp_path: Path, mode: int, flagged: bool
) -> None:
    token = tmp_path / "token"
    token.write_text("0123456789abcdef0123456789abcdef")
    token.chmod(mode)
    assert readable_by_others(token) is flagged
