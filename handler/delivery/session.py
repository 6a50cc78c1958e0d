"""The one HTTP connection pool every delivery shares: kept-alive connections, no hidden retries.

urllib3 is used directly, not through requests, whose per-call machinery (request preparation,
hooks, adapters, response wrapping) was 40 % of a POST's client CPU (callgrind, TLS on 127.0.0.1:
1.48 M instructions per POST through a requests.Session, 0.90 M through this pool). What requests
added that matters here is rebuilt once, when the client is built (a container's environment does
not change while it lives): proxies from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY unless NO_PROXY covers the
host, the REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE variables, certifi's bundle, and one TLS context.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final, Self
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.response import HTTPResponse
from urllib3.util import Retry, Timeout, parse_url
from urllib3.util.ssl_ import create_urllib3_context

from handler.exceptions import ConfigurationError

# What requests reads for `verify=True` when it trusts the environment, in its order.
CA_BUNDLE_VARIABLES: Final = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
PROXY_SCHEMES: Final = ("http", "https")
# urllib3 retries nothing and follows no redirect: retries are decided in one place
# (handler.delivery.policy), a second, silent layer would multiply the attempts and hide them from
# the logs, and a redirect would carry X-Api-Token to wherever it points. `total=False` also makes
# urllib3 raise the failure itself rather than a MaxRetryError around it.
NO_RETRIES: Final = Retry(total=False, redirect=False)
_IPV4_MAX_PREFIX: Final = 32

# urllib3 1.26's type stubs leave these untyped: their signatures, as used here, stated once.
_new_tls_context: Final[Callable[..., ssl.SSLContext]] = create_urllib3_context


def _host_pool(manager: urllib3.PoolManager, url: str) -> HTTPConnectionPool:
    connection_from_url: Callable[[str], HTTPConnectionPool] = manager.connection_from_url
    return connection_from_url(url)


def _clear(manager: urllib3.PoolManager) -> None:
    clear: Callable[[], None] = manager.clear
    clear()


class PantherPool:
    """Kept-alive connections to one Panther URL, at most the session's pool size, shared by threads
    (urllib3's pool is a locked queue). A worker that finds every connection busy waits for one
    instead of opening an extra one; the delivery concurrency equals the pool size, so none waits."""

    __slots__ = ("_manager", "_target", "_urlopen")

    def __init__(
        self, manager: urllib3.PoolManager, urlopen: Callable[..., HTTPResponse], target: str
    ) -> None:
        self._manager = manager
        self._urlopen = urlopen
        self._target = target

    def post(self, body: bytes, headers: Mapping[str, str], timeout: Timeout) -> HTTPResponse:
        """POST `body`; the caller reads the answer's body and then calls `release_conn()`.

        Raises urllib3's own exceptions (urllib3.exceptions.HTTPError), unwrapped."""
        return self._urlopen(
            "POST",
            self._target,
            body=body,
            headers=headers,
            retries=NO_RETRIES,
            redirect=False,
            timeout=timeout,
            # Bounded, so that a connection that never came back to the pool shows as an error
            # instead of a worker waiting forever.
            pool_timeout=timeout.connect_timeout,
            preload_content=False,
        )

    def close(self) -> None:
        _clear(self._manager)


class PantherSession:
    """Builds the pools of the Panther clients: `pool_size` connections each (the delivery
    concurrency). One per container, like the requests.Session it replaces; `close()` for tests."""

    def __init__(self, pool_size: int) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.pool_size = pool_size
        self._pools: list[PantherPool] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PantherSession(pool_size={self.pool_size})"

    def pool_for(self, url: str, verify: bool | str = True) -> PantherPool:
        """The pool for `url` (validated by validate_panther_url). `verify` as requests takes it:
        True (certifi's bundle, or REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE when set), a CA bundle file or
        directory, or False. The environment is read here, once."""
        context = tls_context(effective_verify(verify))
        options: dict[str, Any] = {
            "num_pools": 1,  # one host: Panther
            "maxsize": self.pool_size,
            "block": True,
            "retries": NO_RETRIES,
            "cert_reqs": "CERT_NONE" if verify is False else "CERT_REQUIRED",
            "ssl_context": context,
        }
        proxy = environment_proxy(url)
        manager = urllib3.PoolManager(**options) if proxy is None else _proxy_manager(proxy, context, options)
        if proxy is not None and urlsplit(url).scheme.lower() == "http":
            # Forwarded, not tunnelled: the proxy manager writes the absolute URL and proxy headers.
            pool = PantherPool(manager, manager.urlopen, url)
        else:
            # The host's own pool, straight: the manager's per-request look-up is not needed.
            target = parse_url(url).request_uri
            pool = PantherPool(manager, _host_pool(manager, url).urlopen, target)
        with self._lock:
            self._pools.append(pool)
        return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def build_session(pool_size: int) -> PantherSession:
    """The session whose pools hold `pool_size` connections (the delivery concurrency)."""
    return PantherSession(pool_size)


def effective_verify(verify: bool | str) -> bool | str:
    """An explicit CA bundle wins; `True` becomes REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE when one is
    set, as requests takes them."""
    if verify is True:
        bundle = next((os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)), None)
        return bundle or True
    return verify


@functools.lru_cache(maxsize=8)
def tls_context(verify: bool | str) -> ssl.SSLContext:
    """One TLS context for every connection: the CA bundle is loaded once (~30 ms of CPU for
    certifi's), not per connection nor per client. `True` trusts certifi's bundle (what requests
    trusts), a path that bundle file or directory. The context is not modified once made."""
    if verify is False:
        return _new_tls_context(cert_reqs=ssl.CERT_NONE)
    bundle = certifi.where() if verify is True else verify
    context = _new_tls_context(cert_reqs=ssl.CERT_REQUIRED)
    try:
        if os.path.isdir(bundle):
            context.load_verify_locations(capath=bundle)
        else:
            context.load_verify_locations(cafile=bundle)
    except OSError as exc:  # ssl.SSLError included
        raise ConfigurationError(
            f"the CA bundle {bundle!r} cannot be loaded ({type(exc).__name__}): check the CA bundle setting"
        ) from exc
    return context


def environment_proxy(url: str) -> str | None:
    """The proxy for `url` from the environment, as requests chooses it: HTTPS_PROXY/HTTP_PROXY (by
    the URL's scheme), else ALL_PROXY; none when NO_PROXY covers the URL's host."""
    if _bypasses_proxy(url):
        return None
    proxies = getproxies()
    scheme = urlsplit(url).scheme.lower()
    return proxies.get(scheme) or proxies.get("all") or None


def _bypasses_proxy(url: str) -> bool:
    """requests' `should_bypass_proxies`: NO_PROXY entries match an IPv4 host exactly or by CIDR,
    another host by suffix (with or without its port); then the standard library's rules."""
    parts = urlsplit(url)
    hostname = parts.hostname
    if hostname is None:
        return True
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY")
    if no_proxy:
        entries = [entry for entry in no_proxy.replace(" ", "").split(",") if entry]
        if _is_ipv4(hostname):
            if any(_ipv4_matches(hostname, entry) for entry in entries):
                return True
        else:
            with_port = f"{hostname}:{parts.port}" if parts.port else hostname
            if any(hostname.endswith(entry) or with_port.endswith(entry) for entry in entries):
                return True
    try:
        return bool(proxy_bypass(hostname))
    except (TypeError, socket.gaierror):
        return False


def _is_ipv4(text: str) -> bool:
    try:
        socket.inet_aton(text)
    except OSError:
        return False
    return True


def _ipv4_matches(address: str, entry: str) -> bool:
    if entry.count("/") != 1:
        return address == entry
    network, _, bits = entry.partition("/")
    if not bits.isdigit() or not 1 <= int(bits) <= _IPV4_MAX_PREFIX or not _is_ipv4(network):
        return False
    host = ipaddress.IPv4Address(socket.inet_aton(address))
    base = ipaddress.IPv4Address(socket.inet_aton(network))
    return host in ipaddress.IPv4Network((base, int(bits)), strict=False)


def _proxy_manager(proxy: str, context: ssl.SSLContext, options: dict[str, Any]) -> urllib3.ProxyManager:
    """A proxy manager for `proxy` (a URL from the environment, scheme http:// when it has none).
    Messages quote only the proxy's scheme: its URL may hold credentials."""
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    parsed = parse_url(proxy)
    scheme = (parsed.scheme or "").lower()
    if scheme not in PROXY_SCHEMES or not parsed.host:
        raise ConfigurationError(
            f"the proxy set in the environment for the Panther URL ({scheme}://...) is not supported: "
            "use an http:// or https:// proxy, or exclude the Panther host with NO_PROXY"
        )
    proxy_headers: dict[str, str] | None = None
    if parsed.auth:
        user, _, password = parsed.auth.partition(":")
        credentials = f"{unquote(user)}:{unquote(password)}".encode("latin-1")
        proxy_headers = {"Proxy-Authorization": f"Basic {base64.b64encode(credentials).decode('ascii')}"}
    netloc = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
    return urllib3.ProxyManager(
        f"{scheme}://{netloc}",
        proxy_headers=proxy_headers,
        # The proxy's certificate is checked against the same bundle as Panther's.
        proxy_ssl_context=context if scheme == "https" else None,
        **options,
    )
