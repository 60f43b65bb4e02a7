"""Reused SQLite connections: lending, closing, forking (_sqlite_pool.py)."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest

from policy.tokens import _sqlite_pool
from policy.tokens._sqlite_pool import ConnectionPool

JOIN_SECONDS = 60


class Opener:
    """Opens connections to one file and remembers each one it opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: list[sqlite3.Connection] = []

    def __call__(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.opened.append(conn)
        return conn


def usable(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1").fetchall()
    except sqlite3.ProgrammingError:
        return False
    return True


@pytest.fixture
def opener(tmp_path: Path) -> Opener:
    return Opener(tmp_path / "pool.db")


def test_a_returned_connection_is_lent_again(opener: Opener) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    with pool.connection() as first:
        pass
    with pool.connection() as second:
        assert second.execute("SELECT 41 + 1").fetchone() == (42,)
    assert second is first
    assert len(opener.opened) == 1


def test_connections_lent_at_once_are_distinct(opener: Opener) -> None:
    pool = ConnectionPool(opener, max_idle=1)
    with pool.connection() as one, pool.connection() as two:
        assert one is not two
    # Only one stays idle; the other was closed on its return.
    assert [usable(conn) for conn in opener.opened] == [False, True]
    assert "open=1 idle=1 max_idle=1 closed=False" in repr(pool)


def test_a_connection_returned_after_an_error_is_closed(opener: Opener) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    with pytest.raises(ZeroDivisionError), pool.connection():
        _ = 1 / 0
    (conn,) = opener.opened
    assert not usable(conn)
    with pool.connection() as fresh:
        assert fresh is not conn


def test_a_connection_returned_in_a_transaction_is_closed(opener: Opener) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    with pool.connection() as conn:
        conn.execute("BEGIN IMMEDIATE")
    assert not usable(conn)


def test_close_closes_idle_now_and_lent_on_return(opener: Opener) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    with pool.connection() as lent:
        with pool.connection():
            pass
        pool.close()
        idle = opener.opened[1]
        assert not usable(idle)
        assert usable(lent)  # the caller holding it finishes its work
    assert not usable(lent)
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):  # noqa: SIM117
        with pool.connection():
            pass  # pragma: no cover - refused before this
    pool.close()  # twice is harmless


def test_threads_never_share_a_connection(opener: Opener) -> None:
    pool = ConnectionPool(opener, max_idle=4)
    holders: dict[int, int] = {}
    clashes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait(timeout=JOIN_SECONDS)
        for _ in range(50):
            with pool.connection() as conn:
                with lock:
                    if id(conn) in holders:
                        clashes.append(id(conn))
                    holders[id(conn)] = threading.get_ident()
                conn.execute("SELECT 1").fetchall()
                with lock:
                    del holders[id(conn)]

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    assert clashes == []
    assert len(pool._idle) <= 4


def test_a_changed_process_id_without_the_fork_hook_refuses_connections(
    opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A child forked other than by os.fork: nothing was closed beforehand, so
    # the parent's connection is inherited and no new one would be safe.
    pool = ConnectionPool(opener, max_idle=2)
    with pool.connection() as parents:
        pass
    monkeypatch.setattr(_sqlite_pool, "_POOLS", weakref.WeakSet([pool]))
    monkeypatch.setattr(_sqlite_pool._PROCESS, "inherited", [])
    monkeypatch.setattr(_sqlite_pool._PROCESS, "forked_in_use", False)
    monkeypatch.setattr(_sqlite_pool._PROCESS, "pid", -1)
    # As in a child forked while another thread held the pool's lock.
    pool._lock.acquire()
    with (
        pytest.raises(sqlite3.ProgrammingError) as caught,
        pool.connection(),
    ):
        pass  # pragma: no cover - refused before this
    assert str(caught.value) == (
        "this process was forked while connections were in use"
    )
    assert _sqlite_pool._PROCESS.inherited == [parents]
    assert _sqlite_pool._PROCESS.forked_in_use
    assert usable(parents)  # set aside, not closed
    pool.close()
    assert usable(parents)


def _child(pool: ConnectionPool, opener: Opener, queue: Any) -> None:
    # Every outcome is reported, so a failing child fails the test at once.
    try:
        with pool.connection() as conn:
            conn.execute("INSERT INTO seen VALUES ('child')")
            queue.put((len(opener.opened), len(_sqlite_pool._PROCESS.inherited)))
    except Exception as error:  # pragma: no cover - only when the test fails
        queue.put((type(error).__name__, str(error)))


def test_a_fork_closes_idle_connections_and_the_child_opens_its_own(
    opener: Opener,
) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    with pool.connection() as parents:
        parents.execute("CREATE TABLE seen (who TEXT)")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(pool, opener, queue))
    child.start()
    opened, inherited = queue.get(timeout=JOIN_SECONDS)
    child.join(timeout=JOIN_SECONDS)
    assert child.exitcode == 0
    # The child opened a second connection and inherited none.
    assert (opened, inherited) == (2, 0)
    # The parent's idle connection was closed just before the fork; its pool
    # is usable again after it, and sees the child's write.
    assert not usable(parents)
    with pool.connection() as again:
        assert again is not parents
        assert again.execute("SELECT who FROM seen").fetchall() == [("child",)]
    assert "open=1 idle=1" in repr(pool)


def _report_refusal(pool: ConnectionPool, queue: Any) -> None:
    try:
        with pool.connection():
            queue.put("lent")  # pragma: no cover - only when the test fails
    except sqlite3.ProgrammingError as error:
        queue.put(str(error))
    except Exception as error:  # pragma: no cover - only when the test fails
        queue.put(f"{type(error).__name__}: {error}")


def test_a_child_forked_while_a_connection_is_lent_refuses_connections(
    opener: Opener,
) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with pool.connection() as lent:
        child = context.Process(target=_report_refusal, args=(pool, queue))
        child.start()
        assert usable(lent)  # the parent's call goes on
    refusal = queue.get(timeout=JOIN_SECONDS)
    child.join(timeout=JOIN_SECONDS)
    assert child.exitcode == 0
    assert refusal == "this process was forked while connections were in use"
    with pool.connection() as again:
        assert again is lent


def test_a_child_forked_while_a_connection_is_being_opened_refuses(
    opener: Opener,
) -> None:
    entered, release = threading.Event(), threading.Event()
    parent = os.getpid()

    def slow_open() -> sqlite3.Connection:
        # Slow in the parent only: a child that opens fails fast, not late.
        if os.getpid() == parent:
            entered.set()
            release.wait(JOIN_SECONDS)
        return opener()

    pool = ConnectionPool(slow_open, max_idle=2)

    def borrow() -> None:
        with pool.connection():
            pass

    thread = threading.Thread(target=borrow)
    thread.start()
    try:
        assert entered.wait(JOIN_SECONDS)
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_report_refusal, args=(pool, queue))
        child.start()
        refusal = queue.get(timeout=JOIN_SECONDS)
        child.join(timeout=JOIN_SECONDS)
    finally:
        release.set()
        thread.join(timeout=JOIN_SECONDS)
    assert child.exitcode == 0
    assert refusal == "this process was forked while connections were in use"
    with pool.connection() as conn:  # the parent's pool goes on working
        assert usable(conn)
