"""The one HTTP session every delivery shares: kept-alive connections, no hidden retries."""

from __future__ import annotations

import os
from typing import Final

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.util.retry import Retry

# What requests reads for `verify=True` when it trusts the environment, in its order.
CA_BUNDLE_VARIABLES: Final = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def build_session(pool_size: int) -> requests.Session:
    """A keep-alive session whose pool holds `pool_size` connections (the delivery concurrency).

    urllib3 retries nothing: retries are decided in one place (handler.delivery.policy), and a
    second, silent layer would multiply the attempts and hide them from the logs.

    The session does not read the environment on each request (trust_env off): requests would
    otherwise scan every environment variable for proxies and stat ~/.netrc on every POST, a third
    of a delivery's CPU. `environment_transport` reads the same settings once instead.
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
    session.trust_env = False
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Connection"] = "keep-alive"
    return session


def environment_transport(url: str, verify: bool | str) -> tuple[dict[str, str], bool | str]:
    """(proxies, verify) for `url` as requests would take them from the environment, read once.

    Proxies: HTTPS_PROXY/HTTP_PROXY/ALL_PROXY unless NO_PROXY covers the URL's host. Verify: an
    explicit CA bundle wins; `True` becomes REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE when one is set.
    A Lambda container's environment does not change while it lives.
    """
    proxies = {str(scheme): str(proxy) for scheme, proxy in get_environ_proxies(url).items()}
    if verify is True:
        bundle = next((os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)), None)
        return proxies, bundle or True
    return proxies, verify
