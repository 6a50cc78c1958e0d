"""The one HTTP session every delivery shares: kept-alive connections, no hidden retries."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def build_session(pool_size: int) -> requests.Session:
    """A keep-alive session whose pool holds `pool_size` connections (the delivery concurrency).

    urllib3 retries nothing: retries are decided in one place (handler.delivery.policy), and a
    second, silent layer would multiply the attempts and hide them from the logs.
    """
    if pool_size < 1:
        raise ValueError("pool_size must be at least 1")
    adapter = HTTPAdapter(
        pool_connections=1,  # one host: Panther
        pool_maxsize=pool_size,
        # read=False re-raises read errors as they are, so requests reports a ReadTimeout as such.
        max_retries=Retry(total=0, read=False),
    )
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Connection"] = "keep-alive"
    return session
