"""`LocalPanther`: the local Panther receiver used by `e2p demo`, the end-to-end tests and `e2p bench`.

It implements the Panther event API contract (see panther_contract.py for what was read from the
real server and what was decided), aggregates alerts like the console, and injects faults from a
`FaultPlan`. The API token is kept only as a SHA-256 digest: nothing it records can contain it.

    with LocalPanther(token, tls=server_context, faults=FaultPlan.parse("error=0.1")) as panther:
        post events to panther.url ...
        panther.alerts(), panther.received, panther.requests_log
"""

from __future__ import annotations

import logging
import ssl
import threading
from types import TracebackType
from typing import Any, Self

from e2p.local.faults import FaultInjector, FaultPlan
from e2p.local.panther_contract import CREATE_PATH, QUEUE_PATH, token_digest
from e2p.local.panther_server import DEFAULT_IDLE_TIMEOUT_S, PantherHTTPServer
from e2p.local.panther_service import DiscardRule, OutageSwitch, PantherService
from e2p.local.panther_store import DEFAULT_EVENTS_KEPT, DEFAULT_REQUESTS_KEPT, AlertStore, RequestJournal

logger = logging.getLogger(__name__)


class LocalPanther:
    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        latency_s: float = 0.0,
        faults: FaultPlan | None = None,
        discard: DiscardRule | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        events_kept: int = DEFAULT_EVENTS_KEPT,
        requests_kept: int = DEFAULT_REQUESTS_KEPT,
    ) -> None:
        """`discard` is the console rule that discards an event (given the normalised event)."""
        if not token:
            raise ValueError("the local Panther needs a non-empty API token")
        if latency_s < 0 or idle_timeout_s <= 0:
            raise ValueError("latency_s must be >= 0 and idle_timeout_s > 0")
        self._host = host
        self._port = port
        self._tls = tls
        self._idle_timeout_s = idle_timeout_s
        self.plan = faults or FaultPlan()
        self._store = AlertStore(events_kept=events_kept)
        self._journal = RequestJournal(kept=requests_kept)
        self._injector = FaultInjector(self.plan)
        self._stopping = threading.Event()
        self._service = PantherService(
            token_digest(token),
            store=self._store,
            journal=self._journal,
            injector=self._injector,
            outage=OutageSwitch(self.plan.outage_s),
            latency_s=latency_s,
            discard=discard,
        )
        self._server: PantherHTTPServer | None = None

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = PantherHTTPServer(
            (self._host, self._port),
            self._service,
            tls=self._tls,
            idle_timeout_s=self._idle_timeout_s,
            stopping=self._stopping,
        )
        self._server.serve_in_background()
        logger.info("local Panther listening on %s (faults: %s)", self.url, self.plan.describe() or "none")
        return self

    def stop(self) -> None:
        """Stop serving and cut every connection (hung and slow ones included). Idempotent."""
        self._stopping.set()
        if self._server is not None:
            self._server.stop()
            logger.info("local Panther on port %s stopped", self._server.server_port)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start_delivery_clock(self) -> None:
        """Start the planned outage now (if any and not yet started) instead of at the first request."""
        if self._service.claim_outage():
            self._running().outage(self.plan.outage_s)

    # -- where it listens -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._running().server_port

    @property
    def base_url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """The create endpoint, the URL a Panther user configures."""
        return self.base_url + CREATE_PATH

    @property
    def queue_url(self) -> str:
        return self.base_url + QUEUE_PATH

    # -- what it received -------------------------------------------------------------------------

    @property
    def received(self) -> int:
        """Accepted (stored) events, whatever their answer: a `slow` one counts though its answer was lost."""
        return self._store.received

    @property
    def requests_log(self) -> list[dict[str, Any]]:
        """Recent requests: time, method, path (no query), status (None: no answer), outcome, fault."""
        return self._journal.entries()

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts with their fields, tally, first/last occurrence and state_change."""
        return self._store.alerts()

    def alert(self, identifier: str) -> dict[str, Any] | None:
        return self._store.alert(identifier)

    def events(self) -> list[dict[str, Any]]:
        """Recent accepted events as the console's rules saw them (node lower-cased, identifier set)."""
        return self._store.events()

    def tally_total(self) -> int:
        return self._store.tally_total()

    def status_counts(self) -> dict[int | None, int]:
        return self._journal.status_counts()

    def outcome_counts(self) -> dict[str, int]:
        return self._journal.outcome_counts()

    def fault_counts(self) -> dict[str, int]:
        """Injected faults per kind (outage counts 1 when it starts)."""
        return self._injector.counts()

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far: keep-alive reuse shows as fewer connections than requests."""
        return self._running().connections_opened

    def reset(self) -> None:
        """Forget alerts, events, the journal and the counters; faults keep their random sequence."""
        self._store.reset()
        self._journal.reset()
        self._injector.reset_counts()
        if self._server is not None:
            self._server.reset_counters()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "not started"
        return f"LocalPanther({where}, faults={self.plan.describe() or 'none'!r})"

    def _running(self) -> PantherHTTPServer:
        if self._server is None:
            raise RuntimeError(
                "the local Panther is not started: use it as a context manager or call start()"
            )
        return self._server
