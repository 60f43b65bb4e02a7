"""Concurrent renewals of one pair on the SQLite store: threads and processes.

With the grace window off exactly one renewal wins; the others present a
pair that is by then superseded, which revokes the chain.  With it on, every
racer gets the one successor.  Either way no pair ever gets two successors.

The test process opens the store, starts the racers and closes its store
while they run, as a server does that opens the store, forks its workers and
then closes its own: the forked racers must lock the file on their own, or
the parent's closing would checkpoint and delete the WAL under them.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import time
from collections.abc import Callable
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
# One bound for a whole race: a racer that hangs or dies fails the test after
# this long at most, saying which racers never reported.
RACE_SECONDS = 30.0
# How long to wait for a racer process that has reported to exit.
EXIT_SECONDS = 5.0
GRACE = timedelta(seconds=30)

THIS = sys.modules[__name__]
Race = Callable[[SQLiteStore, timedelta, IssuedToken], list[str]]


def _service(store: SQLiteStore, grace: timedelta) -> TokenService:
    return TokenService(
        store,
        clock=FakeClock(T0 + timedelta(minutes=5)),
        rules=LifetimeRules(reuse_grace=grace),
    )


def _renew_once(service: TokenService, pair: IssuedToken) -> str:
    """Renew; return ``ok:<digest of the new access token>`` or the reason.

    Any other exception is returned as ``error:<type>: <message>``, so that
    a racer that fails is reported at once rather than waited for.
    """
    assert pair.refresh_token is not None
    try:
        new = service.renew(
            access_token=pair.access_token, refresh_token=pair.refresh_token
        )
    except RenewalDenied as denied:
        return denied.decision.reason.value
    except Exception as error:
        return f"error:{type(error).__name__}: {error}"
    return f"ok:{digest(new.access_token)}"


def _renew_with_own_store(path: Path, grace: timedelta, pair: IssuedToken) -> str:
    try:
        store = SQLiteStore(path)
    except Exception as error:
        return f"error:{type(error).__name__}: {error}"
    with store:
        return _renew_once(_service(store, grace), pair)


def _race_threads(
    parents: SQLiteStore,
    grace: timedelta,
    pair: IssuedToken,
    *,
    shared: bool = False,
) -> list[str]:
    path = parents.path
    barrier = threading.Barrier(RACERS)
    results: list[str] = []
    lock = threading.Lock()
    # shared: one store object, its connections lent to each thread in turn.
    shared_store = SQLiteStore(path) if shared else None

    def racer() -> None:
        try:
            barrier.wait(timeout=RACE_SECONDS)
        except threading.BrokenBarrierError:
            outcome = "error: the racers never all started"
        else:
            if shared_store is None:
                outcome = _renew_with_own_store(path, grace, pair)
            else:
                outcome = _renew_once(_service(shared_store, grace), pair)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=racer, daemon=True) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    parents.close()
    deadline = time.monotonic() + RACE_SECONDS
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0.0))
    stuck = sum(thread.is_alive() for thread in threads)
    if shared_store is not None and not stuck:
        shared_store.close()
    assert not stuck, f"{stuck} racer threads still running after {RACE_SECONDS} s"
    return results


def _process_racer(
    index: int, path: Path, grace: timedelta, pair: IssuedToken, start: Any, out: Any
) -> None:
    if start.wait(RACE_SECONDS):
        outcome = _renew_with_own_store(path, grace, pair)
    else:
        outcome = "error: never told to start"
    out.put((index, outcome))


def _collect(out: Any, processes: list[Any], deadline: float) -> dict[int, str]:
    """Read each racer's outcome, until all reported, all died, or time is up."""
    outcomes: dict[int, str] = {}
    while len(outcomes) < len(processes) and time.monotonic() < deadline:
        try:
            index, outcome = out.get(timeout=0.1)
        except queue.Empty:
            silent = [p for i, p in enumerate(processes) if i not in outcomes]
            if not any(process.is_alive() for process in silent):
                # Dead without reporting; one last look for an outcome that
                # was still on its way through the pipe.
                deadline = min(deadline, time.monotonic() + 0.5)
            continue
        outcomes[index] = outcome
    return outcomes


def _stop(processes: list[Any]) -> list[int | None]:
    """Wait briefly for every racer to exit, kill the rest; the exit codes."""
    deadline = time.monotonic() + EXIT_SECONDS
    for process in processes:
        process.join(timeout=max(deadline - time.monotonic(), 0.0))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(timeout=EXIT_SECONDS)
    return [process.exitcode for process in processes]


def _race_processes(
    parents: SQLiteStore, grace: timedelta, pair: IssuedToken
) -> list[str]:
    path = parents.path
    # fork: the children share the parent's imports, so they start at once.
    context = multiprocessing.get_context("fork")
    start = context.Event()
    out = context.Queue()
    processes = [
        context.Process(
            target=_process_racer,
            args=(index, path, grace, pair, start, out),
            daemon=True,
        )
        for index in range(RACERS)
    ]
    for process in processes:
        process.start()
    start.set()
    parents.close()
    try:
        outcomes = _collect(out, processes, time.monotonic() + RACE_SECONDS)
    finally:
        exit_codes = _stop(processes)
    silent = sorted(set(range(RACERS)) - set(outcomes))
    assert not silent, (
        f"racers {silent} reported nothing within {RACE_SECONDS} s; "
        f"exit codes {exit_codes}, reported {outcomes}"
    )
    assert exit_codes == [0] * RACERS, (exit_codes, outcomes)
    return [outcomes[index] for index in range(RACERS)]


def _race_shared_threads(
    parents: SQLiteStore, grace: timedelta, pair: IssuedToken
) -> list[str]:
    return _race_threads(parents, grace, pair, shared=True)


RACES: dict[str, Race] = {
    "threads": _race_threads,
    "shared-store-threads": _race_shared_threads,
    "processes": _race_processes,
}


def _created(path: Path, grace: timedelta) -> tuple[SQLiteStore, IssuedToken]:
    """A store left open, as the race wants it, and a new token's pair."""
    store = SQLiteStore(path)
    return store, _service(store, grace).create(user="ana", name="race", scope="all")


@pytest.mark.parametrize("how", sorted(RACES))
def test_exactly_one_renewal_wins_without_grace(how: str, tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    parents, pair = _created(path, timedelta(0))
    results = RACES[how](parents, timedelta(0), pair)
    winners = [r for r in results if r.startswith("ok:")]
    assert len(winners) == 1, results
    assert sorted(set(results) - set(winners)) == [
        Reason.REFRESH_REUSED_CHAIN_REVOKED.value
    ]
    with SQLiteStore(path) as store:
        token = store.get(pair.token_id)
        assert token is not None
        assert token.generation == 2
        assert token.revoked_cause == "reuse"
        assert store.pair(pair.token_id, 3) is None


@pytest.mark.parametrize("how", sorted(RACES))
def test_grace_gives_every_racer_the_same_successor(how: str, tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    parents, pair = _created(path, GRACE)
    results = RACES[how](parents, GRACE, pair)
    assert len(results) == RACERS
    assert len(set(results)) == 1, results
    assert results[0].startswith("ok:")
    with SQLiteStore(path) as store:
        token = store.get(pair.token_id)
        assert token is not None
        assert token.generation == 2
        assert not token.revoked
        assert store.pair(pair.token_id, 3) is None


def test_a_racer_that_hangs_fails_the_race_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A racer that never reports must fail the race after RACE_SECONDS, named,
    # with the hung process killed, rather than stall the run.
    monkeypatch.setattr(THIS, "RACE_SECONDS", 1.0)
    monkeypatch.setattr(THIS, "EXIT_SECONDS", 0.5)

    def hang(*_: object) -> str:
        time.sleep(60)
        return "never"  # pragma: no cover - killed first

    monkeypatch.setattr(THIS, "_renew_with_own_store", hang)
    parents, pair = _created(tmp_path / "tokens.db", GRACE)
    began = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        _race_processes(parents, GRACE, pair)
    assert time.monotonic() - began < 15
    assert str(caught.value).startswith(
        "racers [0, 1, 2, 3, 4, 5] reported nothing within 1.0 s; exit codes [-9, "
    )


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


def test_grace_holds_for_a_racer_that_read_the_clock_before_the_winner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With a real clock a loser may read the time, then see the pair already
    # superseded by a winner that read the time a moment later: the pair was
    # superseded "after" the loser's instant, yet the retry is within grace.
    rules = LifetimeRules(reuse_grace=timedelta(seconds=30))
    store = MemoryStore()
    clock = FakeClock(T0)
    service = TokenService(store, clock=clock, rules=rules)
    first = service.create(user="ana", name="race", scope="all")
    assert first.refresh_token is not None
    read_pair = store.pair_by_access
    won: list[IssuedToken] = []

    def winner_first(access_digest: str) -> Any:
        # The winner renews between the loser's clock reading and its read.
        monkeypatch.setattr(store, "pair_by_access", read_pair)
        clock.advance(timedelta(microseconds=1))
        won.append(
            service.renew(
                access_token=first.access_token,
                refresh_token=first.refresh_token or "",
            )
        )
        clock.advance(timedelta(microseconds=1))
        return read_pair(access_digest)

    monkeypatch.setattr(store, "pair_by_access", winner_first)
    loser = service.renew(
        access_token=first.access_token, refresh_token=first.refresh_token
    )
    assert loser.access_token == won[0].access_token
    assert not service.show(first.token_id).revoked
