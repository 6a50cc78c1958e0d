"""What every measurement works on: N SQS records cut from the corpus, and what Panther gets for them.

The records repeat the corpus in its order until N are made, each with a message id of its own.
The Panther bodies are computed once with the handler's own mapping, so that the naive and the
minimal clients send exactly what the handler sends.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from e2p.bench.corpus import SampleEvent
from handler.enrichment.account import AccountInfo
from handler.envelope import envelope_from_text
from handler.exceptions import InvalidEnvelopeError
from handler.translate import translate

# The template's BatchSize default, and what an SQS event source hands Lambda at most per batch.
DEFAULT_BATCH_SIZE: Final = 100
MAX_SQS_BATCH: Final = 10_000
BENCH_OU_PATH: Final = "Root/Workloads/Bench"
BENCH_TAGS: Final = {"team": "bench", "cost-center": "e2p"}
ACCOUNTS_FILE_NAME: Final = "bench-accounts.json"


@dataclass(frozen=True, slots=True)
class Workload:
    bodies: tuple[str, ...]  # one SQS record body per record
    messages: tuple[tuple[bytes, ...], ...]  # the Panther request bodies each record gives

    @property
    def records(self) -> int:
        return len(self.bodies)

    @property
    def message_count(self) -> int:
        return sum(len(bodies) for bodies in self.messages)

    def flat_messages(self, records: int | None = None) -> list[bytes]:
        """The Panther bodies of the first `records` records (all when None), in order."""
        chosen = self.messages if records is None else self.messages[:records]
        return [body for bodies in chosen for body in bodies]


def accounts_for(corpus: Sequence[SampleEvent]) -> dict[str, AccountInfo]:
    """A directory that knows every account of the corpus, with a name, an OU path and tags."""
    ids = sorted({event.account for event in corpus if event.account})
    return {
        account_id: AccountInfo(
            account_id=account_id,
            name=f"bench-{account_id[-4:]}",
            ou_path=BENCH_OU_PATH,
            tags=dict(BENCH_TAGS),
        )
        for account_id in ids
    }


def write_accounts_file(accounts: Mapping[str, AccountInfo], folder: Path) -> Path:
    """The accounts file (E2P_ACCOUNTS_FILE) the handler's directory loads, in its JSON shape."""
    path = folder / ACCOUNTS_FILE_NAME
    document = {
        "accounts": [
            {"id": info.account_id, "name": info.name, "ou_path": info.ou_path, "tags": dict(info.tags)}
            for info in accounts.values()
        ]
    }
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def panther_bodies(body: str, accounts: Mapping[str, AccountInfo]) -> tuple[bytes, ...]:
    """What the handler would POST for one record (nothing for a filtered or invalid one)."""
    try:
        envelope = envelope_from_text(body)
    except InvalidEnvelopeError:
        return ()
    translation = translate(envelope, lambda account_id: accounts.get(account_id) or AccountInfo(account_id))
    return tuple(message.body() for message in translation.messages)


def build_workload(
    corpus: Sequence[SampleEvent], records: int, accounts: Mapping[str, AccountInfo]
) -> Workload:
    if records < 1:
        raise ValueError("a workload needs at least one record")
    per_sample = {event.body: panther_bodies(event.body, accounts) for event in corpus}
    bodies = tuple(event.body for event in itertools.islice(itertools.cycle(corpus), records))
    return Workload(bodies, tuple(per_sample[body] for body in bodies))


def sqs_record(index: int, body: str) -> dict[str, Any]:
    """One record as the SQS event source puts it in the Lambda event (the fields the handler reads)."""
    return {
        "messageId": f"bench-{index:08d}",
        "receiptHandle": f"bench-receipt-{index}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


def sqs_events(bodies: Sequence[str], batch_size: int) -> Iterator[dict[str, Any]]:
    """The Lambda events an SQS event source with this BatchSize would invoke the function with."""
    if not 1 <= batch_size <= MAX_SQS_BATCH:
        raise ValueError(f"batch size must be from 1 to {MAX_SQS_BATCH}")
    for start in range(0, len(bodies), batch_size):
        chunk = bodies[start : start + batch_size]
        yield {"Records": [sqs_record(start + offset, body) for offset, body in enumerate(chunk)]}
