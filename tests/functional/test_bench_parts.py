"""The pieces of `e2p bench` whose results can be known without running a benchmark."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from e2p.bench.corpus import CorpusChoice, load_corpus
from e2p.bench.cost import cost_per_million, gb_s_per_million, lambda_seconds_per_event
from e2p.bench.workload import accounts_for, build_workload, sqs_events, write_accounts_file
from e2p.cli import main
from handler.enrichment.static_file import StaticFileSource

pytestmark = pytest.mark.functional

PROJECT = Path(__file__).parents[2]


def test_gb_s_per_million_is_memory_times_wall_time() -> None:
    # 256 MB = 0.25 GB, 2 ms per event: 0.25 x 0.002 x 1,000,000 = 500 GB-s
    assert gb_s_per_million(256, 0.002) == pytest.approx(500.0)


def test_cost_lines_follow_the_request_counts() -> None:
    cost = cost_per_million(gb_s=500.0, batch_size=10, log_bytes_per_event=0.0)
    # one send + a receive and a delete shared by 10 messages: 1.2 M SQS requests at $0.40
    assert cost.sqs == pytest.approx(0.48)
    # 100,000 invocations at $0.20 per million
    assert cost.lambda_requests == pytest.approx(0.02)
    assert cost.lambda_duration == pytest.approx(500.0 * 0.0000133334)
    assert cost.logs == 0.0


def test_the_bundled_corpus_leaves_golden_files_out() -> None:
    corpus = load_corpus(PROJECT, CorpusChoice.BUNDLED)
    samples = sorted(PROJECT.glob("tests/events/**/*.json"))
    goldens = [path for path in samples if path.name.endswith(".expected.json")]
    assert goldens, "the bundled events have golden files to leave out"
    assert len(corpus) == len(samples) - len(goldens)
    assert not any(event.name.endswith(".expected.json") for event in corpus)


def test_batches_are_cut_like_an_sqs_event_source() -> None:
    bodies = [f'{{"n": {index}}}' for index in range(25)]
    events = list(sqs_events(bodies, 10))
    assert [len(event["Records"]) for event in events] == [10, 10, 5]
    records = [record for event in events for record in event["Records"]]
    assert [record["body"] for record in records] == bodies
    assert len({record["messageId"] for record in records}) == 25


def test_the_workload_repeats_the_corpus_and_its_accounts_file_loads(tmp_path: Path) -> None:
    corpus = load_corpus(PROJECT, CorpusChoice.BUNDLED)
    accounts = accounts_for(corpus)
    workload = build_workload(corpus, len(corpus) + 3, accounts)
    assert workload.bodies[: len(corpus)] == tuple(event.body for event in corpus)
    assert workload.bodies[len(corpus) :] == tuple(event.body for event in corpus[:3])
    # the handler's own accounts-file reader accepts what the bench writes
    loaded = StaticFileSource(str(write_accounts_file(accounts, tmp_path))).load()
    assert set(loaded) == {event.account for event in corpus if event.account}
    # every Panther body is a JSON event under Panther's 4,096-byte limit
    for body in workload.flat_messages():
        assert len(body) <= 4096
        assert "node" in json.loads(body)["event"]


def test_url_needs_a_token_that_is_never_an_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2P_BENCH_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["bench", "--url", "https://acme.app.panther.support/api/event/create"])
    assert result.exit_code == 2
    assert "--token-file" in result.output


def test_token_options_are_refused_without_url(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("0123456789abcdef0123456789abcdef")
    result = CliRunner().invoke(main, ["bench", "--token-file", str(token_file)])
    assert result.exit_code == 2
    assert "--url" in result.output


def test_plain_http_url_is_refused() -> None:
    result = CliRunner().invoke(
        main,
        ["bench", "--url", "http://acme.app.panther.support/api/event/create", "--token-stdin"],
        input="x",
    )
    assert result.exit_code == 2
    assert "https" in result.output


def test_lambda_time_per_event_is_the_longer_of_wall_and_cpu_at_the_memory_share() -> None:
    # 256 MB is 256/1769 of a vCPU: 1 ms of CPU here takes ~6.9 ms there, longer than 3 ms of waiting
    assert lambda_seconds_per_event(256, 0.003, 0.001) == pytest.approx(0.001 * 1769 / 256)
    # at 1,769 MB the same event waits longer than it computes
    assert lambda_seconds_per_event(1769, 0.003, 0.001) == pytest.approx(0.003)
    # past one vCPU the single interpreter lock gains nothing
    assert lambda_seconds_per_event(10240, 0.0001, 0.001) == pytest.approx(0.001)


def test_the_bench_batch_size_is_the_templates_default() -> None:
    from e2p.bench.workload import DEFAULT_BATCH_SIZE
    from e2p.commands.bench_cmd import TEMPLATE_BATCH_SIZE

    template = (PROJECT / "central" / "template.yaml").read_text(encoding="utf-8")
    default = re.search(r"\n  BatchSize:\n(?:    .*\n)*?    Default: (\d+)\n", template)
    assert default is not None
    assert TEMPLATE_BATCH_SIZE == DEFAULT_BATCH_SIZE == int(default.group(1))
