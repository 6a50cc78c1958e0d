"""The least HTTP a client can do: http.client, one connection, a POST, the whole answer read.

Used by the naive client (a new connection per event) and by the minimal keep-alive client that
shows what the receiver takes at a given concurrency, so that neither pays for a library's extras.
"""

from __future__ import annotations

import http.client
import ssl
from typing import Final

from e2p.bench.target import Target
from handler.delivery.client import API_KEY_HEADER

TIMEOUT_S: Final = 30.0


class DeliveryFailedError(Exception):
    """The receiver answered something other than 2xx: the figure would not be a delivery rate."""


def open_connection(target: Target, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
    if target.is_tls:
        return http.client.HTTPSConnection(target.host, target.port, timeout=TIMEOUT_S, context=context)
    return http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT_S)


def post(connection: http.client.HTTPConnection, target: Target, body: bytes, *, keep_alive: bool) -> None:
    headers = {
        API_KEY_HEADER: target.token,
        "Content-Type": "application/json",
        "Connection": "keep-alive" if keep_alive else "close",
    }
    connection.request("POST", target.path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    if not 200 <= response.status < 300:
        raise DeliveryFailedError(f"HTTP {response.status} from {target.host}:{target.port}")
