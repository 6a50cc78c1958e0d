"""The local mode's dependencies are an extra (`events2panther[local]`): check them before a local
command imports anything, so that a plain install says what to add instead of a traceback."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Final

import click

from e2p.console import exit_codes

# Import names of the `local` extra (pyproject.toml): moto serves the local AWS (flask for its server
# mode), trustme makes the local Panther's TLS certificate.
LOCAL_MODULES: Final = ("moto", "flask", "trustme")
INSTALL_HINT: Final = (
    "pip install 'events2panther[local]' (with pipx: pipx install --force 'events2panther[local]', "
    "or from a checkout: pip install '.[local]')"
)


class LocalModeMissingError(click.ClickException):
    """The local mode's extra is not installed: exit 2 (nothing was attempted)."""

    exit_code = exit_codes.USAGE


def missing_modules(
    names: Sequence[str] = LOCAL_MODULES,
    find: Callable[[str], object | None] = importlib.util.find_spec,
) -> list[str]:
    return [name for name in names if find(name) is None]


def require_local_mode(command: str, missing: Sequence[str] | None = None) -> None:
    absent = missing_modules() if missing is None else list(missing)
    if absent:
        raise LocalModeMissingError(
            f"e2p {command} runs a local AWS and a local Panther, which need the `local` extra "
            f"({', '.join(absent)} not installed): {INSTALL_HINT}"
        )
