"""Reused SQLite connections: lending, closing, forking (_sqlite_pool.py)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
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


def test_a_changed_process_id_sets_the_old_connections_aside(
    opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    with pool.connection() as parents:
        pass
    # As in a child forked while another thread held the pool's lock.
    pool._lock.acquire()
    monkeypatch.setattr(pool, "_pid", -1)
    with pool.connection() as childs:
        assert childs is not parents
    assert any(conn is parents for conn in _sqlite_pool._INHERITED)
    assert usable(parents)  # set aside, not closed
    pool.close()
    assert usable(parents)


def _child(pool: ConnectionPool, parents_id: int, queue: Any) -> None:
    with pool.connection() as conn:
        conn.execute("INSERT INTO seen VALUES ('child')")
        queue.put(
            (
                id(conn) != parents_id,
                any(id(c) == parents_id for c in _sqlite_pool._INHERITED),
            )
        )


def test_a_forked_child_opens_its_own_connection(opener: Opener) -> None:
    pool = ConnectionPool(opener, max_idle=2)
    with pool.connection() as parents:
        parents.execute("CREATE TABLE seen (who TEXT)")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(pool, id(parents), queue))
    child.start()
    fresh, set_aside = queue.get(timeout=JOIN_SECONDS)
    child.join(timeout=JOIN_SECONDS)
    assert child.exitcode == 0
    assert (fresh, set_aside) == (True, True)
    # The parent's connection is untouched and sees the child's write.
    with pool.connection() as again:
        assert again is parents
        assert again.execute("SELECT who FROM seen").fetchall() == [("child",)]
