"""Concurrent renewals of one pair on the SQLite store: threads and processes.

With the grace window off exactly one renewal wins; the others present a
pair that is by then superseded, which revokes the chain.  With it on, every
racer gets the one successor.  Either way no pair ever gets two successors.
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _instants import T0

from policy._decision import Reason
from policy.tokens import (
    FakeClock,
    IssuedToken,
    LifetimeRules,
    MemoryStore,
    RenewalDenied,
    SQLiteStore,
    TokenService,
)
from policy.tokens._secrets import digest

RACERS = 6
JOIN_SECONDS = 60


def _service(path: Path, grace: timedelta) -> TokenService:
    return TokenService(
        SQLiteStore(path),
        clock=FakeClock(T0 + timedelta(minutes=5)),
        rules=LifetimeRules(reuse_grace=grace),
    )


def _renew_once(
    path: Path, grace: timedelta, pair: IssuedToken, service: TokenService | None = None
) -> str:
    """Renew and return ``ok:<digest of the new access token>`` or the reason."""
    assert pair.refresh_token is not None
    try:
        new = (service or _service(path, grace)).renew(
            access_token=pair.access_token, refresh_token=pair.refresh_token
        )
    except RenewalDenied as denied:
        return denied.decision.reason.value
    return f"ok:{digest(new.access_token)}"


def _created(path: Path) -> IssuedToken:
    return _service(path, timedelta(0)).create(user="ana", name="race", scope="all")


def _race_threads(
    path: Path, grace: timedelta, pair: IssuedToken, *, shared: bool = False
) -> list[str]:
    barrier = threading.Barrier(RACERS)
    results: list[str] = []
    lock = threading.Lock()
    # shared: one store object, its connections lent to each thread in turn.
    service = _service(path, grace) if shared else None

    def racer() -> None:
        barrier.wait(timeout=JOIN_SECONDS)
        outcome = _renew_once(path, grace, pair, service)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _process_racer(
    path: Path, grace: timedelta, pair: IssuedToken, start: Any, queue: Any
) -> None:
    start.wait(JOIN_SECONDS)
    queue.put(_renew_once(path, grace, pair))


def _race_processes(path: Path, grace: timedelta, pair: IssuedToken) -> list[str]:
    # fork: the children share the parent's imports, so they start at once.
    context = multiprocessing.get_context("fork")
    start = context.Event()
    queue = context.Queue()
    processes = [
        context.Process(target=_process_racer, args=(path, grace, pair, start, queue))
        for _ in range(RACERS)
    ]
    for process in processes:
        process.start()
    start.set()
    results = [queue.get(timeout=JOIN_SECONDS) for _ in processes]
    for process in processes:
        process.join(timeout=JOIN_SECONDS)
        assert process.exitcode == 0
    return results


def _race_shared_threads(path: Path, grace: timedelta, pair: IssuedToken) -> list[str]:
    return _race_threads(path, grace, pair, shared=True)


RACES = {
    "threads": _race_threads,
    "shared-store-threads": _race_shared_threads,
    "processes": _race_processes,
}


@pytest.mark.parametrize("how", sorted(RACES))
def test_exactly_one_renewal_wins_without_grace(how: str, tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    pair = _created(path)
    results = RACES[how](path, timedelta(0), pair)
    winners = [r for r in results if r.startswith("ok:")]
    assert len(winners) == 1, results
    assert sorted(set(results) - set(winners)) == [
        Reason.REFRESH_REUSED_CHAIN_REVOKED.value
    ]
    store = SQLiteStore(path)
    token = store.get(pair.token_id)
    assert token is not None
    assert token.generation == 2
    assert token.revoked_cause == "reuse"
    assert store.pair(pair.token_id, 3) is None


@pytest.mark.parametrize("how", sorted(RACES))
def test_grace_gives_every_racer_the_same_successor(how: str, tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    pair = _created(path)
    results = RACES[how](path, timedelta(seconds=30), pair)
    assert len(results) == RACERS
    assert len(set(results)) == 1, results
    assert results[0].startswith("ok:")
    token = SQLiteStore(path).get(pair.token_id)
    assert token is not None
    assert token.generation == 2
    assert not token.revoked


def test_grace_holds_when_a_renewal_lands_between_the_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The interleaving the racing threads hit now and then, made certain: the
    # pair is read while still current, the token after another renewal.
    rules = LifetimeRules(reuse_grace=timedelta(seconds=30))
    store = MemoryStore()
    service = TokenService(store, clock=FakeClock(T0), rules=rules)
    first = service.create(user="ana", name="race", scope="all")
    assert first.refresh_token is not None
    stale = store.pair_by_access(digest(first.access_token))
    second = service.renew(
        access_token=first.access_token, refresh_token=first.refresh_token
    )
    monkeypatch.setattr(store, "pair_by_access", lambda _: stale)
    again = service.renew(
        access_token=first.access_token, refresh_token=first.refresh_token
    )
    assert again.access_token == second.access_token
    assert not service.show(first.token_id).revoked
