"""Where the bench sends events: the local receiver process, or a real Panther at --url."""

from __future__ import annotations

import contextlib
import json
import os
import select
import ssl
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self
from urllib.parse import urlsplit

from e2p.exceptions import E2PError

HANDSHAKE_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 10.0
RECEIVER_MODULE: Final = "e2p.bench.receiver"


class TargetError(E2PError):
    """The local receiver did not start, or the target URL is unusable."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str
    ca_bundle: str | None = None  # None: the system's trust store
    latency_s: float | None = None  # the receiver's answer latency when known (local runs)

    @property
    def is_tls(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_bundle)


CHILD_HIDDEN_VARIABLES: Final = frozenset({"E2P_BENCH_TOKEN"})


def import_path_env() -> dict[str, str]:
    """The environment for child interpreters, with the folders `e2p` and `handler` are imported from
    first on PYTHONPATH (the parent may have found them through its own sys.path)."""
    import e2p
    import handler

    folders = [str(Path(next(iter(module.__path__))).parent) for module in (e2p, handler)]
    current = os.environ.get("PYTHONPATH", "")
    # Children get the token, when they need one, on stdin: never through the environment.
    env = {name: value for name, value in os.environ.items() if name not in CHILD_HIDDEN_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*folders, *filter(None, current.split(os.pathsep))]))
    return env


def _read_line(stream: IO[bytes], timeout_s: float) -> bytes:
    readable, _, _ = select.select([stream], [], [], timeout_s)
    if not readable:
        raise TargetError(f"the local receiver did not start within {timeout_s:.0f} s")
    return stream.readline()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Close a receiver's stdin (its signal to stop), wait for it, kill it if it does not exit."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):  # already gone
            process.stdin.close()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
    if process.stdout is not None:
        process.stdout.close()


class LocalReceiver:
    """The receiver process: `wan` (LocalPanther) answers after `latency_s`; `fast` (a minimal sink)
    at once. Both over TLS on 127.0.0.1."""

    def __init__(self, token: str, latency_s: float) -> None:
        self._token = token
        self._latency_s = latency_s
        self._tmp = tempfile.TemporaryDirectory(prefix="e2p-bench-")
        self._process: subprocess.Popen[bytes] | None = None
        self.wan: Target | None = None
        self.fast: Target | None = None

    def start(self) -> Self:
        self._process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
            [sys.executable, "-m", RECEIVER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=import_path_env(),
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        config = {"token": self._token, "latency_s": self._latency_s, "tls_dir": self._tmp.name}
        self._process.stdin.write(json.dumps(config).encode() + b"\n")
        self._process.stdin.flush()
        line = _read_line(self._process.stdout, HANDSHAKE_TIMEOUT_S)
        if not line:
            raise TargetError(f"the local receiver exited with code {self._process.wait()} before serving")
        answer = json.loads(line)
        self.wan = Target(answer["url"], self._token, answer["ca_bundle"], self._latency_s)
        self.fast = Target(answer["fast_url"], self._token, answer["ca_bundle"], 0.0)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process(process)
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
