"""`e2p map`: show the Panther messages events would give, offline (no AWS, no Panther).

`--mappings FILE` maps with an organisation's mappings file on top of the built-in mappings,
exactly as the deployed function would with it (`e2p deploy --mappings FILE`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from handler.alert import MapStatus
from handler.enrichment.account import AccountInfo
from handler.envelope import envelope_from_text
from handler.exceptions import AccountLookupError, InvalidEnvelopeError
from handler.mappers import map_event
from handler.mappings import MappingsError
from handler.translate import EventMapper, translate

EVENT_SUFFIXES = (".json", ".json.txt")
# Golden files sit beside the samples in tests/events; they are expected outputs, not events.
SKIPPED_SUFFIXES = (".expected.json",)


@dataclass(frozen=True, slots=True)
class FileResult:
    file: str
    status: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    # Which mapper decided: a Python mapper's name, "<mappings file> entry <n>", or "generic".
    mapped_by: str = ""

    def as_json(self) -> str:
        return json.dumps(
            {
                "file": self.file,
                "status": self.status,
                "messages": self.messages,
                "reason": self.reason,
                "mapped_by": self.mapped_by,
            },
            ensure_ascii=False,
        )


def event_files(paths: tuple[Path, ...]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.name.endswith(EVENT_SUFFIXES) and not p.name.endswith(SKIPPED_SUFFIXES)
            )
        else:
            yield path


def map_file(path: Path, accounts: dict[str, AccountInfo], mapper: EventMapper = map_event) -> FileResult:
    raw = path.read_bytes()
    try:
        envelope = envelope_from_text(raw)
    except InvalidEnvelopeError as exc:
        return FileResult(str(path), MapStatus.INVALID.value, reason=str(exc))
    translation = translate(
        envelope, lambda account_id: accounts.get(account_id) or AccountInfo(account_id), mapper
    )
    return FileResult(
        str(path),
        translation.status.value,
        [message.to_event() for message in translation.messages],
        translation.reason,
        translation.mapped_by,
    )


def load_mapper(path: Path | None) -> EventMapper:
    """map_event, or the built-in mappings overridden by the organisation's file at `path`."""
    if path is None:
        return map_event
    from e2p.config.mappings_file import read_mappings_file
    from handler.mappers import event_mapper

    return event_mapper(read_mappings_file(path).table)


def load_accounts(path: Path | None) -> dict[str, AccountInfo]:
    if path is None:
        return {}
    from handler.enrichment.static_file import StaticFileSource

    return StaticFileSource(str(path)).load()


@click.command("map")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Accounts file (JSON/YAML) giving names, OU paths and tags, instead of Organizations.",
)
@click.option(
    "--mappings",
    "mappings_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Organisation mappings file (YAML/JSON) to test on top of the built-in mappings.",
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def map_command(
    paths: tuple[Path, ...], accounts_file: Path | None, mappings_file: Path | None, output: str
) -> None:
    """Map event files (or folders of them) to the Panther messages they would give.

    Offline: no AWS credentials and no Panther are needed. Exits 0 when every file was read
    (an invalid event is a result, not a failure); 2 when a file, the accounts file or the mappings
    file is unreadable or malformed (the mappings error names the entry and the key).
    """
    try:
        accounts = load_accounts(accounts_file)
    except AccountLookupError as exc:
        raise click.UsageError(f"accounts file: {exc}") from exc
    try:
        mapper = load_mapper(mappings_file)
    except MappingsError as exc:
        raise click.UsageError(f"mappings file: {exc}") from exc
    unreadable = 0
    results: list[FileResult] = []
    for path in event_files(paths):
        try:
            result = map_file(path, accounts, mapper)
        except OSError as exc:
            click.echo(f"e2p map: cannot read {path}: {exc.strerror or exc}", err=True)
            unreadable += 1
            continue
        if output == "json":
            click.echo(result.as_json())
        else:
            results.append(result)
    if output == "table" and (results or not unreadable):
        # After a path error with nothing read, the error line says it all: no empty table.
        _print_table(results)
    if unreadable:
        sys.exit(2)


def _print_table(results: list[FileResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Panther messages", show_lines=False)
    for column in ("file", "status", "sev", "node", "summary"):
        table.add_column(column, overflow="fold")
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
        if not result.messages:
            table.add_row(result.file, result.status, "", "", result.reason)
        for message in result.messages:
            table.add_row(
                result.file, result.status, str(message["severity"]), message["node"], message["summary"]
            )
    console = Console()
    console.print(table)
    console.print(
        f"{len(results)} files: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    )
    well_formed = len(results) - counts.get(MapStatus.INVALID.value, 0)
    if well_formed:
        generic = counts.get(MapStatus.GENERIC.value, 0)
        console.print(
            f"generic mapping: {generic} of {well_formed} well-formed envelopes ({generic / well_formed:.1%})"
        )
