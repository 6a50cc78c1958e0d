"""AccountDirectory: the account cache for the container's life, in front of one AccountSource.

When a lookup reloads (one `source.load()`, the whole directory):
- never loaded yet, or the data is older than `ttl_s`, or `invalidate()` was called;
- the id is unknown (a new account, or one outside the organisation).
Every reload is rate-limited: none starts within `min_reload_interval_s` of the previous attempt,
and after failures the wait doubles up to `max_failure_backoff_s`. That is the negative cache: an
event from an outsider account id, or a burst of Organizations events each calling `invalidate()`,
costs at most one listing per interval, never one per event.

`lookup` never raises and never waits long: a failed reload keeps the previous data (an unknown id
gets `AccountInfo(account_id)`, so the message still goes out with the id), and only one reload
runs at a time. While it runs, a lookup of a known account answers at once from the cache (stale
or not); a lookup of an unknown id waits for it at most `reload_wait_s` (at a cold start, the first
messages would otherwise all go out unnamed). The reload runs in the thread that claimed it:
Lambda freezes background threads between invocations, so a background refresh could stall.

With a `requester` (the snapshot mode: the source is the snapshot the scheduled refresh writes), a
miss never reloads: the unknown id is answered with the id alone and a targeted refresh of that
account is requested from the scheduled function, and `account_changed` (an event saying an
account changed) requests one for the accounts concerned. The snapshot itself is re-read on the TTL
and after `account_changed`, rate-limited like any reload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from handler.enrichment.account import AccountInfo, NodeNaming
from handler.enrichment.source import AccountSource
from handler.exceptions import AccountLookupError, ConfigurationError

if TYPE_CHECKING:
    from handler.enrichment.changes import RefreshScope
    from handler.enrichment.refresh_request import RefreshRequester

logger = logging.getLogger(__name__)

DEFAULT_MIN_RELOAD_INTERVAL_S = 60.0
DEFAULT_MAX_FAILURE_BACKOFF_S = 900.0
DEFAULT_RELOAD_WAIT_S = 10.0
# A zero reload interval must not turn a failing source into one call per event.
FAILURE_BACKOFF_FLOOR_S = 1.0

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class DirectoryStats:
    """Counters since the container started, for metrics.

    reloads: successful loads; failures: failed loads; misses: lookups of an id the directory
    does not hold (answered with the id alone); accounts: how many it holds now.
    """

    reloads: int
    failures: int
    misses: int
    accounts: int


class AccountDirectory:
    def __init__(
        self,
        source: AccountSource,
        ttl_s: float,
        clock: Clock = time.monotonic,
        *,
        min_reload_interval_s: float = DEFAULT_MIN_RELOAD_INTERVAL_S,
        max_failure_backoff_s: float = DEFAULT_MAX_FAILURE_BACKOFF_S,
        reload_wait_s: float = DEFAULT_RELOAD_WAIT_S,
        naming: NodeNaming = NodeNaming.NAME,
        requester: RefreshRequester | None = None,
    ) -> None:
        if ttl_s < 0 or min_reload_interval_s < 0 or reload_wait_s < 0:
            raise ConfigurationError("ttl_s, min_reload_interval_s and reload_wait_s must not be negative")
        self._source = source
        self._ttl_s = ttl_s
        self._clock = clock
        self._min_interval_s = min_reload_interval_s
        self._max_backoff_s = max(max_failure_backoff_s, min_reload_interval_s)
        self._reload_wait_s = reload_wait_s
        self._naming = naming
        self._requester = requester
        # One lock guards all the state and is held only for short reads and writes, never while the
        # source loads. The thread that claims a reload (`_loading`) loads without it; the threads
        # that need what the reload brings wait on `_reload_done`, bounded by reload_wait_s.
        self._state_lock = threading.Lock()
        self._reload_done = threading.Condition(self._state_lock)
        self._loading = False
        self._accounts: dict[str, AccountInfo] = {}
        self._expires_at: float | None = None  # None: never loaded, or invalidated
        self._last_attempt_at: float | None = None
        self._invalidations = 0  # lets a reload tell whether it started before the last invalidate()
        self._claimed_invalidations = 0
        self._failures_in_row = 0
        self._reloads = 0
        self._failures = 0
        self._misses = 0

    def lookup(self, account_id: str) -> AccountInfo:
        with self._state_lock:
            claimed_at = self._claim_reload(account_id)
            if claimed_at is None and self._loading and account_id not in self._accounts:
                # Cold start or a new account: the running reload probably brings it. A known
                # account is answered at once from the (maybe stale) cache instead.
                self._reload_done.wait_for(lambda: not self._loading, timeout=self._reload_wait_s)
        if claimed_at is not None:
            self._reload(claimed_at)
        with self._state_lock:
            info = self._accounts.get(account_id)
            if info is not None:
                return info
            self._misses += 1
            never_loaded = self._reloads == 0
        if self._requester is not None:
            # No snapshot read yet (none written, or unreadable): one full refresh, not one per account.
            if never_loaded:
                self._requester.request([], "no directory snapshot yet")
            else:
                self._requester.request([account_id], "account not in the directory snapshot")
        return AccountInfo(account_id, naming=self._naming)

    def invalidate(self) -> None:
        """The data is stale (an account was created, moved, renamed or tagged): reload when allowed."""
        with self._state_lock:
            self._expires_at = None
            self._invalidations += 1

    def account_changed(self, scope: RefreshScope) -> None:
        """An event says accounts changed: read the directory again when allowed and, in snapshot
        mode, ask the scheduled refresh to update those accounts (all of them for an empty scope)."""
        self.invalidate()
        if self._requester is not None:
            self._requester.request(scope.accounts, scope.reason)

    @property
    def stats(self) -> DirectoryStats:
        with self._state_lock:
            return DirectoryStats(self._reloads, self._failures, self._misses, len(self._accounts))

    def _claim_reload(self, account_id: str) -> float | None:
        """Under the lock: when this lookup must reload, claims the reload and returns the time."""
        if self._loading:
            return None
        now = self._clock()
        if self._last_attempt_at is not None and now < self._last_attempt_at + self._wait_after_attempt():
            return None
        stale = self._expires_at is None or now >= self._expires_at
        if not stale and (account_id in self._accounts or self._requester is not None):
            return None
        self._loading = True
        self._last_attempt_at = now
        self._claimed_invalidations = self._invalidations
        return now

    def _wait_after_attempt(self) -> float:
        if self._failures_in_row == 0:
            return self._min_interval_s
        base = max(self._min_interval_s, FAILURE_BACKOFF_FLOOR_S)
        return min(base * 2.0 ** (self._failures_in_row - 1), self._max_backoff_s)

    def _reload(self, started: float) -> None:
        try:
            accounts = self._source.load()
        except AccountLookupError as exc:
            logger.warning("account directory reload failed, keeping the previous data: %s", exc)
            self._finish(started, None)
        except Exception:
            # Enrichment must never stop delivery: a bug in a source is logged with its traceback
            # and handled like any failed reload (previous data kept, backoff).
            logger.exception("account directory reload failed unexpectedly, keeping the previous data")
            self._finish(started, None)
        except BaseException:
            self._finish(started, None)  # never leave the other threads waiting for a reload that died
            raise
        else:
            self._finish(started, accounts)
            logger.info("account directory loaded %d accounts", len(accounts))

    def _finish(self, started: float, accounts: dict[str, AccountInfo] | None) -> None:
        with self._state_lock:
            if accounts is None:
                self._failures_in_row += 1
                self._failures += 1
            else:
                self._accounts = (
                    dict(accounts)
                    if self._naming is NodeNaming.NAME
                    else {key: replace(info, naming=self._naming) for key, info in accounts.items()}
                )
                # The TTL counts from the start of the load: the listing is as old as its first page.
                # An invalidate() that came during the load may not be reflected in it: stay stale.
                fresh = self._claimed_invalidations == self._invalidations
                self._expires_at = started + self._ttl_s if fresh else None
                self._failures_in_row = 0
                self._reloads += 1
            self._loading = False
            self._reload_done.notify_all()
