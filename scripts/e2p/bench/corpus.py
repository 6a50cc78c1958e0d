"""The real sample events every figure is measured over.

The bundled ones are the project's test events (`tests/events/**.json`, golden `.expected.json`
files excluded). The shared collection (`../shared/events`, beside the project) adds the complete
envelopes its MANIFEST lists, duplicates left out, when it is present.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from e2p.exceptions import E2PError

BUNDLED_DIR: Final = Path("tests/events")
SHARED_DIR: Final = Path("../shared/events")
MANIFEST_NAME: Final = "MANIFEST.tsv"
GOLDEN_SUFFIX: Final = ".expected.json"
EVENT_SUFFIX: Final = ".json"
# MANIFEST kinds that are whole EventBridge envelopes as found (see shared/events/README.md).
ENVELOPE_KIND: Final = "envelope"
ACCOUNT_ID_LENGTH: Final = 12


class CorpusError(E2PError):
    """No sample event could be read: nothing to measure."""


class CorpusChoice(StrEnum):
    BUNDLED = "bundled"
    SHARED = "shared"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class SampleEvent:
    name: str  # path relative to its collection, for reports
    body: str  # the envelope as an SQS body carries it: compact JSON (or the raw text if not JSON)
    account: str  # the envelope's account id, "" when it has none usable


def bundled_files(project_root: Path) -> list[Path]:
    folder = project_root / BUNDLED_DIR
    return sorted(
        path
        for path in folder.rglob(f"*{EVENT_SUFFIX}")
        if path.is_file() and not path.name.endswith(GOLDEN_SUFFIX)
    )


def shared_files(project_root: Path) -> list[Path]:
    """Complete, non-duplicate envelopes of the shared collection; [] when it is absent."""
    folder = (project_root / SHARED_DIR).resolve()
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return sorted(
        folder / row["file"]
        for row in rows
        if row.get("kind") == ENVELOPE_KIND and not row.get("dup_of") and (folder / row["file"]).is_file()
    )


def compact_body(text: str) -> str:
    """EventBridge hands SQS compact JSON; samples are pretty-printed. Unparsable text is kept as is."""
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return text


def account_of(body: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    account = document.get("account") if isinstance(document, dict) else None
    if isinstance(account, str) and len(account) == ACCOUNT_ID_LENGTH and account.isdigit():
        return account
    return ""


def read_sample(path: Path, collection: Path) -> SampleEvent:
    body = compact_body(path.read_text(encoding="utf-8"))
    try:
        name = str(path.relative_to(collection))
    except ValueError:
        name = path.name
    return SampleEvent(name, body, account_of(body))


def load_corpus(project_root: Path, choice: CorpusChoice) -> list[SampleEvent]:
    """The chosen samples, in a stable order. Raises CorpusError when there are none."""
    events: list[SampleEvent] = []
    if choice in (CorpusChoice.BUNDLED, CorpusChoice.ALL):
        events += [read_sample(path, project_root / BUNDLED_DIR) for path in bundled_files(project_root)]
    if choice in (CorpusChoice.SHARED, CorpusChoice.ALL):
        shared = (project_root / SHARED_DIR).resolve()
        events += [read_sample(path, shared) for path in shared_files(project_root)]
    if not events:
        raise CorpusError(f"no sample events found for --corpus {choice.value} under {project_root}")
    return events
