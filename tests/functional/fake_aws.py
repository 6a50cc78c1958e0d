"""Fake AWS credentials for tests that talk to moto, in process or through `e2p.local.aws.LocalAws`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

FAKE_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Variables that would point a client somewhere other than the fake the test gives it.
REDIRECTING_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID")


@contextmanager
def fake_credentials(region: str) -> Iterator[None]:
    """Fake keys and `region` while the block runs, so nothing can reach a real account."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**FAKE_KEYS, "AWS_DEFAULT_REGION": region}.items():
            patch.setenv(name, value)
        for name in REDIRECTING_ENV:
            patch.delenv(name, raising=False)
        yield
