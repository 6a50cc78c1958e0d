"""A Panther with a capacity: what `e2p bench --instances` sends to when no --url is given.

A real console is one monitor process and its database (PANTHER-API.md): it has no rate limit, it
serves requests at the rate it can and queues the rest, so beyond its capacity answers come later;
a proxy in front of it refuses what waited too long. Modelled here as one FIFO server:

- a request is served `1 / capacity` seconds after the previous one (or at once when idle), and
  answered `latency` later (the WAN round trip): above the capacity the queue, and so the
  latency, grows;
- a request that would wait more than `max_queue_s` is refused with 429 (no Retry-After, like most
  proxies' rate limits), after the same round trip.

The accounting is pure (`CapacityModel`); `serve` puts it behind HTTP/1.1 with keep-alive on
asyncio. It also records which EventBridge event ids it stored, so that the bench can tell whether
any event was lost, and answers `GET /stats` with its counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from e2p.local.panther_contract import CREATE_PATH
from e2p.local.tls import local_tls

LOOPBACK: Final = "127.0.0.1"
MAX_LIFETIME_S: Final = 3600.0
STATS_PATH: Final = "/stats"
# The longest a request may wait in the queue before it is refused (a proxy's patience).
MAX_QUEUE_S: Final = 0.05
MAX_HEAD_BYTES: Final = 16 * 1024
MAX_BODY_BYTES: Final = 64 * 1024
TOKEN_HEADER: Final = "x-api-token"  # noqa: S105 -- a header name, not a token
_CREATED: Final = b'{"status":"Created","message":"Saved new alert"}'
_REFUSED: Final = b'{"error":{"message":"Too many requests","name":"RateLimitError"}}'
_UNAUTHORISED: Final = b'{"error":{"message":"API Key Authentication failed"}}'
_NOT_FOUND: Final = b'{"error":{"message":"not found"}}'
_REASONS: Final = {200: b"OK", 401: b"Unauthorized", 404: b"Not Found", 429: b"Too Many Requests"}


@dataclass(slots=True)
class CapacityStats:
    requests: int = 0
    stored: int = 0
    refused: int = 0  # 429
    unauthorised: int = 0
    event_ids: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["event_ids"] = sorted(self.event_ids)
        return document


class CapacityModel:
    """When each request is answered, or that it is refused. `capacity_per_s` 0: no limit."""

    def __init__(self, capacity_per_s: float, latency_s: float, max_queue_s: float = MAX_QUEUE_S) -> None:
        if capacity_per_s < 0 or latency_s < 0 or max_queue_s < 0:
            raise ValueError("capacity, latency and queue bound must not be negative")
        self._service_s = 1.0 / capacity_per_s if capacity_per_s else 0.0
        self._latency_s = latency_s
        self._max_queue_s = max_queue_s
        self._next_free = 0.0

    def admit(self, now: float) -> float | None:
        """Seconds from `now` until the answer of a request arriving now; None: refuse it (429)."""
        start = max(now, self._next_free)
        if start - now > self._max_queue_s:
            return None
        self._next_free = start + self._service_s
        return self._next_free - now + self._latency_s

    @property
    def refusal_delay_s(self) -> float:
        return self._latency_s


def _response(status: int, body: bytes) -> bytes:
    head = (
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
        b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n" % (status, _REASONS[status], len(body))
    )
    return head + body


def _event_id(body: bytes) -> str | None:
    try:
        document = json.loads(body)
        event_id = document["event"]["event_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return event_id if isinstance(event_id, str) else None


class CapacityServer:
    def __init__(self, token: str, model: CapacityModel) -> None:
        self._token = token
        self._model = model
        self.stats = CapacityStats()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away or sent garbage: close
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = min(int(headers.get("content-length", "0") or "0"), MAX_BODY_BYTES)
        body = await reader.readexactly(length) if length else b""
        writer.write(await self._answer(method, path, headers, body))
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    async def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        if method == "GET" and path == STATS_PATH:
            return _response(200, json.dumps(self.stats.as_dict()).encode())
        if method != "POST" or path != CREATE_PATH:
            return _response(404, _NOT_FOUND)
        stats = self.stats
        stats.requests += 1
        if headers.get(TOKEN_HEADER) != self._token:
            stats.unauthorised += 1
            return _response(401, _UNAUTHORISED)
        delay = self._model.admit(asyncio.get_running_loop().time())
        if delay is None:
            stats.refused += 1
            await asyncio.sleep(self._model.refusal_delay_s)
            return _response(429, _REFUSED)
        await asyncio.sleep(delay)
        stats.stored += 1
        event_id = _event_id(body)
        if event_id is not None:
            stats.event_ids.add(event_id)
        return _response(200, _CREATED)


async def serve_until_released(server: CapacityServer, tls: ssl.SSLContext | None, announce: Any) -> None:
    """Listen on 127.0.0.1, `announce(port)`, serve until stdin closes or MAX_LIFETIME_S passes."""
    loop = asyncio.get_running_loop()
    released = asyncio.Event()
    listener = await asyncio.start_server(server.handle, LOOPBACK, 0, ssl=tls, limit=MAX_HEAD_BYTES)
    announce(listener.sockets[0].getsockname()[1])
    stdin = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(stdin, 4096):
            released.set()

    loop.add_reader(stdin, on_stdin)
    try:
        await asyncio.wait_for(released.wait(), MAX_LIFETIME_S)
    except TimeoutError:
        pass  # stop by ourselves, whatever the parent does
    finally:
        loop.remove_reader(stdin)
        listener.close()


def main() -> None:
    """`python -m e2p.bench.capacity`: one JSON line in (token, capacity_per_s, latency_s, tls_dir
    or null for plain HTTP), one out (url, stats_url, ca_bundle); serves until stdin closes."""
    config = json.loads(sys.stdin.readline())
    tls: ssl.SSLContext | None = None
    ca_bundle: str | None = None
    if config.get("tls_dir"):
        tls, ca_path = local_tls(config["tls_dir"])
        ca_bundle = str(ca_path)
    scheme = "https" if tls else "http"
    model = CapacityModel(float(config["capacity_per_s"]), float(config["latency_s"]))
    server = CapacityServer(config["token"], model)

    def announce(port: int) -> None:
        base = f"{scheme}://{LOOPBACK}:{port}"
        answer = {"url": base + CREATE_PATH, "stats_url": base + STATS_PATH, "ca_bundle": ca_bundle}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()

    asyncio.run(serve_until_released(server, tls, announce))


if __name__ == "__main__":
    main()
