"""AccountDirectory over an in-memory source: reload rules, failures, backoff, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from handler.enrichment.account import AccountInfo
from handler.enrichment.directory import AccountDirectory, DirectoryStats
from handler.exceptions import AccountLookupError, ConfigurationError

pytestmark = pytest.mark.functional

PROD = AccountInfo("111111111111", "prod", "", "Root/Workloads/Prod", {"team": "web"})
DEV = AccountInfo("222222222222", "dev", "", "Root/Workloads/Dev")
OUTSIDER = "999999999999"
GUARD_S = 5.0  # only a guard against a hung test, never a timing assertion


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class ScriptedSource:
    """Answers each load with the next scripted directory or exception; repeats the last one."""

    def __init__(self, *answers: dict[str, AccountInfo] | Exception) -> None:
        self._answers = list(answers)
        self.loads = 0
        self.before_answer: Callable[[], None] = lambda: None

    def load(self) -> dict[str, AccountInfo]:
        self.loads += 1
        self.before_answer()
        answer = self._answers[0] if len(self._answers) == 1 else self._answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)


def by_id(*infos: AccountInfo) -> dict[str, AccountInfo]:
    return {info.account_id: info for info in infos}


def make(
    source: ScriptedSource, ttl_s: float = 3600.0, **kwargs: float
) -> tuple[AccountDirectory, FakeClock]:
    clock = FakeClock()
    return AccountDirectory(source, ttl_s, clock, **kwargs), clock


def test_first_lookup_loads_and_later_ones_use_the_cache() -> None:
    source = ScriptedSource(by_id(PROD, DEV))
    directory, clock = make(source)

    assert directory.lookup(PROD.account_id) == PROD
    clock.now += 3599
    assert directory.lookup(DEV.account_id) == DEV
    assert directory.lookup(PROD.account_id) == PROD

    assert source.loads == 1
    assert directory.stats == DirectoryStats(reloads=1, failures=0, misses=0, accounts=2)


def test_ttl_expiry_reloads_and_serves_the_new_data() -> None:
    renamed = AccountInfo(PROD.account_id, "prod-renamed")
    source = ScriptedSource(by_id(PROD), by_id(renamed))
    directory, clock = make(source, ttl_s=600)
    directory.lookup(PROD.account_id)
    clock.now += 600

    assert directory.lookup(PROD.account_id) == renamed
    assert source.loads == 2


def test_a_ttl_shorter_than_the_reload_interval_is_held_to_the_interval() -> None:
    source = ScriptedSource(by_id(PROD))
    directory, clock = make(source, ttl_s=0, min_reload_interval_s=30)
    directory.lookup(PROD.account_id)
    clock.now += 29
    directory.lookup(PROD.account_id)
    assert source.loads == 1

    clock.now += 1
    directory.lookup(PROD.account_id)

    assert source.loads == 2


def test_unknown_id_reloads_once_then_is_negatively_cached() -> None:
    source = ScriptedSource(by_id(PROD))
    directory, clock = make(source, min_reload_interval_s=60)
    directory.lookup(PROD.account_id)
    clock.now += 60

    answers = [directory.lookup(OUTSIDER) for _ in range(50)]

    assert answers == [AccountInfo(OUTSIDER)] * 50
    assert source.loads == 2
    assert directory.stats.misses == 50
    clock.now += 60
    directory.lookup(OUTSIDER)
    assert source.loads == 3


def test_a_miss_right_after_a_load_waits_for_the_interval() -> None:
    newcomer = AccountInfo("333333333333", "newcomer")
    source = ScriptedSource(by_id(PROD), by_id(PROD, newcomer))
    directory, clock = make(source, min_reload_interval_s=60)
    directory.lookup(PROD.account_id)

    assert directory.lookup(newcomer.account_id) == AccountInfo(newcomer.account_id)
    clock.now += 60
    assert directory.lookup(newcomer.account_id) == newcomer
    assert source.loads == 2


def test_invalidate_reloads_on_the_next_lookup() -> None:
    moved = AccountInfo(PROD.account_id, "prod", "", "Root/Suspended")
    source = ScriptedSource(by_id(PROD), by_id(moved))
    directory, clock = make(source, min_reload_interval_s=60)
    directory.lookup(PROD.account_id)
    clock.now += 60
    assert directory.lookup(PROD.account_id) == PROD

    directory.invalidate()

    assert directory.lookup(PROD.account_id) == moved
    assert source.loads == 2


def test_invalidations_within_the_interval_coalesce_into_one_reload() -> None:
    source = ScriptedSource(by_id(PROD))
    directory, clock = make(source, min_reload_interval_s=60)
    directory.lookup(PROD.account_id)

    for _ in range(30):
        directory.invalidate()
        directory.lookup(PROD.account_id)
        clock.now += 1
    assert source.loads == 1
    clock.now += 30
    directory.lookup(PROD.account_id)

    assert source.loads == 2


def test_failed_first_load_gives_ids_only_and_never_raises() -> None:
    source = ScriptedSource(AccountLookupError("AccessDenied"))
    directory, _ = make(source)

    assert directory.lookup(PROD.account_id) == AccountInfo(PROD.account_id)
    assert directory.stats == DirectoryStats(reloads=0, failures=1, misses=1, accounts=0)


def test_unexpected_source_error_never_reaches_the_caller() -> None:
    source = ScriptedSource(by_id(PROD), RuntimeError("bug in a source"))
    directory, clock = make(source, ttl_s=10)
    directory.lookup(PROD.account_id)
    clock.now += 60

    assert directory.lookup(PROD.account_id) == PROD
    assert directory.stats.failures == 1


def test_failed_reload_keeps_stale_data() -> None:
    source = ScriptedSource(by_id(PROD, DEV), AccountLookupError("throttled"))
    directory, clock = make(source, ttl_s=300)
    directory.lookup(PROD.account_id)
    clock.now += 300

    assert directory.lookup(PROD.account_id) == PROD
    assert directory.lookup(DEV.account_id) == DEV
    assert directory.lookup(OUTSIDER) == AccountInfo(OUTSIDER)
    assert source.loads == 2
    assert directory.stats.failures == 1


def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    source = ScriptedSource(AccountLookupError("down"))
    directory, clock = make(source, min_reload_interval_s=10, max_failure_backoff_s=35)
    directory.lookup(PROD.account_id)  # failure 1 -> wait 10

    # the waits that follow each failure: 10, 20, then 40 capped at 35
    for wait in (10, 20, 35, 35):
        loads = source.loads
        clock.now += wait - 1
        directory.lookup(PROD.account_id)
        assert source.loads == loads, f"retried before {wait} s"
        clock.now += 1
        directory.lookup(PROD.account_id)
        assert source.loads == loads + 1, f"not retried after {wait} s"


def test_success_after_failures_resets_the_backoff() -> None:
    source = ScriptedSource(
        AccountLookupError("down"), AccountLookupError("down"), by_id(PROD), by_id(PROD, DEV)
    )
    directory, clock = make(source, min_reload_interval_s=10)
    directory.lookup(PROD.account_id)
    clock.now += 10
    directory.lookup(PROD.account_id)
    clock.now += 20
    assert directory.lookup(PROD.account_id) == PROD
    clock.now += 10  # back to the plain interval, not 40 s

    assert directory.lookup(DEV.account_id) == DEV
    assert source.loads == 4


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="must not be negative"):
        AccountDirectory(ScriptedSource(by_id(PROD)), -1)


def test_concurrent_lookups_share_one_reload() -> None:
    # GIVEN a cold directory whose load holds until all eight threads are inside lookup, and no
    # reload interval, so that only the one-reload-at-a-time rule can keep the count at one
    source = ScriptedSource(by_id(PROD, DEV))
    entered = 0
    all_in = threading.Condition()

    def hold_until_all_entered() -> None:
        with all_in:
            all_in.wait_for(lambda: entered == 8, timeout=GUARD_S)

    source.before_answer = hold_until_all_entered
    directory, _ = make(source, min_reload_interval_s=0)
    results: list[AccountInfo] = []

    def worker(account_id: str) -> None:
        nonlocal entered
        with all_in:
            entered += 1
            all_in.notify_all()
        results.append(directory.lookup(account_id))

    threads = [threading.Thread(target=worker, args=(info.account_id,)) for info in (PROD, DEV) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD_S)

    # THEN one load, and the threads that came during it waited for it instead of going unnamed
    assert source.loads == 1
    assert sorted(info.name for info in results) == ["dev"] * 4 + ["prod"] * 4


def test_a_lookup_during_a_slow_reload_answers_from_the_cache_at_once() -> None:
    # GIVEN a reload in progress in another thread, and no patience for it (reload_wait_s=0)
    source = ScriptedSource(by_id(PROD))
    loading = threading.Event()
    release = threading.Event()

    def hold() -> None:
        loading.set()
        release.wait(GUARD_S)

    source.before_answer = hold
    directory, _ = make(source, reload_wait_s=0)
    first = threading.Thread(target=directory.lookup, args=(PROD.account_id,))
    first.start()
    assert loading.wait(GUARD_S)

    # WHEN another thread looks up meanwhile THEN it gets the id alone, without a second load
    assert directory.lookup(PROD.account_id) == AccountInfo(PROD.account_id)
    release.set()
    first.join(GUARD_S)
    assert source.loads == 1
    assert directory.lookup(PROD.account_id) == PROD


def test_a_known_account_is_answered_from_the_stale_cache_during_a_reload() -> None:
    # GIVEN loaded data past its TTL, and a reload (bringing a rename) held in another thread
    renamed = AccountInfo(PROD.account_id, "prod-renamed")
    source = ScriptedSource(by_id(PROD), by_id(renamed))
    directory, clock = make(source, ttl_s=60, reload_wait_s=3600)
    directory.lookup(PROD.account_id)
    clock.now += 60
    loading = threading.Event()
    release = threading.Event()

    def hold() -> None:
        loading.set()
        release.wait(GUARD_S)

    source.before_answer = hold
    reloader = threading.Thread(target=directory.lookup, args=(PROD.account_id,))
    reloader.start()
    assert loading.wait(GUARD_S)

    # WHEN the known account is looked up meanwhile THEN the stale answer comes without waiting
    # (waiting would only end when the held reload gives up, and would return the rename)
    assert directory.lookup(PROD.account_id) == PROD
    release.set()
    reloader.join(GUARD_S)
    assert directory.lookup(PROD.account_id) == renamed
    assert source.loads == 2


def test_an_invalidation_during_a_reload_is_not_lost() -> None:
    # GIVEN a reload in progress (held), started before an account changed
    source = ScriptedSource(by_id(PROD))
    directory, clock = make(source, min_reload_interval_s=60)
    directory.lookup(PROD.account_id)
    clock.now += 60
    directory.invalidate()
    loading = threading.Event()
    release = threading.Event()

    def hold() -> None:
        loading.set()
        release.wait(GUARD_S)

    source.before_answer = hold
    reloader = threading.Thread(target=directory.lookup, args=(PROD.account_id,))
    reloader.start()
    assert loading.wait(GUARD_S)

    # WHEN the change's event invalidates meanwhile
    directory.invalidate()
    release.set()
    reloader.join(GUARD_S)
    source.before_answer = lambda: None

    # THEN the data of the reload that started earlier is not taken as fresh
    clock.now += 60
    directory.lookup(PROD.account_id)
    assert source.loads == 3


def test_a_zero_interval_still_backs_off_after_failures() -> None:
    source = ScriptedSource(AccountLookupError("down"))
    directory, clock = make(source, min_reload_interval_s=0)

    for _ in range(20):
        directory.lookup(PROD.account_id)
    assert source.loads == 1
    clock.now += 1
    directory.lookup(PROD.account_id)

    assert source.loads == 2
