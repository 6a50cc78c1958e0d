"""Where a command writes: progress and warnings on stderr, the result on stdout (table or JSON).

Keeping progress on stderr lets `--output json` be piped into jq while CloudFormation events still
scroll past on the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from e2p.console.results import Outcome, Results

OUTCOME_STYLES = {
    Outcome.CREATED: "green",
    Outcome.UPDATED: "green",
    Outcome.DELETED: "green",
    Outcome.UNCHANGED: "dim",
    Outcome.OK: "green",
    Outcome.SKIPPED: "yellow",
    Outcome.FAILED: "bold red",
}


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class Output:
    def __init__(self, fmt: OutputFormat = OutputFormat.TABLE) -> None:
        self.format = fmt
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        # soft_wrap: a summary line piped to a file or another program stays one line (tables still
        # fit the width: rich uses 80 columns when stdout is not a terminal).
        self.out = Console(highlight=False, soft_wrap=True)

    @property
    def json(self) -> bool:
        return self.format is OutputFormat.JSON

    def progress(self, text: str) -> None:
        self.err.print(escape(text))

    def warn(self, text: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(text)}")

    def waiting(self, text: str) -> AbstractContextManager[object]:
        """A spinner on stderr while AWS works (nothing is drawn when stderr is not a terminal)."""
        return self.err.status(escape(text), spinner="dots")

    def error(self, text: str) -> None:
        self.err.print(f"[bold red]error:[/] {escape(text)}")

    def emit_json(self, data: Any) -> None:
        # click.echo, not rich: JSON must reach stdout byte for byte, unwrapped and uncoloured.
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))

    def table(
        self, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], styles: Sequence[str] = ()
    ) -> None:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for index, row in enumerate(rows):
            style = styles[index] if index < len(styles) else None
            table.add_row(*(escape(str(cell)) for cell in row), style=style)
        self.out.print(table)

    def results(self, title: str, results: Results) -> None:
        """The final table every multi-step command prints (or its JSON form)."""
        items = results.items
        if self.json:
            self.emit_json({"results": [item.as_dict() for item in items], "failed": len(results.failed)})
            return
        self.table(
            title,
            ("step", "account", "region", "result", "detail"),
            ((i.step, i.account, i.region, i.outcome.value, i.detail) for i in items),
            [OUTCOME_STYLES[i.outcome] for i in items],
        )
        failed = len(results.failed)
        summary = (
            f"{failed} step(s) failed" if failed else ("changes applied" if results.changed else "no change")
        )
        self.out.print(f"[bold red]{summary}[/]" if failed else summary)
