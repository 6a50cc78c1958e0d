"""Putting the Panther token into the central secret, without it ever reaching a log or an argv.

The token is read from a file, stdin, or a hidden prompt; it is checked with the handler's own
rule (printable ASCII, no spaces) so a token the function would refuse is never stored; and it is
written only when it differs from the current value, so a repeated deploy changes nothing.
"""

from __future__ import annotations

import hmac
import sys
from pathlib import Path
from typing import Any, Final, TextIO

import click
from botocore.exceptions import ClientError

from e2p.console.results import Outcome
from e2p.exceptions import SettingsError
from handler.exceptions import TokenUnavailableError
from handler.token import usable_token

NO_VALUE_CODES: Final = frozenset({"ResourceNotFoundException"})


def _checked(raw: str, source: str) -> str:
    try:
        return usable_token(raw, source)
    except TokenUnavailableError as exc:
        raise SettingsError("token", str(exc)) from exc


def read_token(
    token_file: Path | None, from_stdin: bool, stdin: TextIO | None = None, prompt: bool = False
) -> str | None:
    """The token from the chosen source, or None when none was given (the secret is left as it is)."""
    if token_file is not None and from_stdin:
        raise SettingsError("token", "give --token-file or --token-stdin, not both")
    if token_file is not None:
        try:
            return _checked(token_file.read_text(encoding="utf-8"), f"--token-file {token_file}")
        except OSError as exc:
            raise SettingsError("token", f"cannot read {token_file}: {exc.strerror or exc}") from exc
    if from_stdin:
        return _checked((stdin or sys.stdin).read(), "--token-stdin")
    if prompt:
        entered = click.prompt(
            "Panther API token (input hidden; leave empty to keep the current one)",
            default="",
            hide_input=True,
            show_default=False,
            err=True,
        )
        return _checked(entered, "the prompt") if entered.strip() else None
    return None


def put_token(secrets: Any, secret_id: str, token: str) -> Outcome:
    try:
        current = secrets.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as exc:
        # A secret created without a value has no AWSCURRENT version yet.
        if exc.response.get("Error", {}).get("Code") not in NO_VALUE_CODES:
            raise
        current = None
    if current is not None and hmac.compare_digest(current.encode(), token.encode()):
        return Outcome.UNCHANGED
    secrets.put_secret_value(SecretId=secret_id, SecretString=token)
    return Outcome.UPDATED
