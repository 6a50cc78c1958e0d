"""Fixtures of the functional tests. Names start with `delivery_` or `token_` to stay out of the way
of other fixtures in this folder."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import trustme
from moto import mock_aws
from panther_stub import PantherStub

from handler.delivery import PantherClient, PantherSession, build_session

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _fake_aws_env(patch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint or profile override, so nothing can reach a real account."""
    for name, value in FAKE_AWS_ENV.items():
        patch.setenv(name, value)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        patch.setenv(name, os.devnull)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        patch.delenv(name, raising=False)


@pytest.fixture
def token_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_aws_env(monkeypatch)


@pytest.fixture(scope="module")
def token_aws_clients() -> Iterator[tuple[Any, Any]]:
    """(secretsmanager, ssm) clients on one in-process moto account shared by a module (clients are
    slow to build): tests use names of their own."""
    with pytest.MonkeyPatch.context() as patch:
        _fake_aws_env(patch)
        with mock_aws():
            session = boto3.session.Session(region_name="us-east-1")
            yield session.client("secretsmanager"), session.client("ssm")


@pytest.fixture
def delivery_stub() -> Iterator[PantherStub]:
    """A scripted Panther on 127.0.0.1, plain HTTP."""
    stub = PantherStub().start()
    try:
        yield stub
    finally:
        stub.stop()


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps; sleeps are recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RotatingTokens:
    """A TokenProvider double: serves tokens[0] until invalidate(), then tokens[1], and so on."""

    def __init__(self, *tokens: str) -> None:
        self._tokens = list(tokens)
        self._current = 0
        self.invalidations = 0
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            return self._tokens[min(self._current, len(self._tokens) - 1)]

    def invalidate(self) -> None:
        with self._lock:
            self.invalidations += 1
            self._current += 1


@pytest.fixture
def delivery_tokens() -> type[RotatingTokens]:
    """The RotatingTokens class: `delivery_tokens("first", "after-rotation")`."""
    return RotatingTokens


@pytest.fixture
def delivery_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def delivery_session() -> Iterator[PantherSession]:
    session = build_session(8)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def delivery_client_factory(
    delivery_session: PantherSession, delivery_time: FakeTime
) -> Callable[..., PantherClient]:
    """PantherClient with tiny timeouts, recorded sleeps, jitter pinned to its maximum, explicit backoff."""

    def make(url: str, tokens: Any, **overrides: Any) -> PantherClient:
        options: dict[str, Any] = {
            "connect_timeout_s": 0.5,
            "read_timeout_s": 0.2,
            "max_attempts": 3,
            "sleep": delivery_time.sleep,
            "clock": delivery_time.clock,
            "rng": lambda: 1.0,
            "backoff_base_s": 0.25,
            "backoff_cap_s": 4.0,
        }
        options.update(overrides)
        return PantherClient(delivery_session, url, tokens, **options)

    return make


@pytest.fixture
def tls_stub(tmp_path) -> Iterator[tuple[PantherStub, str]]:
    """An HTTPS Panther whose certificate is issued by a private CA; yields the stub and the CA file."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "panther-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    stub = PantherStub(ssl_context=context).start()
    try:
        yield stub, str(ca_file)
    finally:
        stub.stop()
