"""Open SQLite connections, kept for reuse by the SQLite token store.

Opening a connection and setting its pragmas costs far more than the one
indexed lookup a request needs, so connections are kept open and lent out.

A connection is lent to one caller at a time and comes back when the caller
is done, so no two threads ever use one connection at once; that is why the
connections may be opened with ``check_same_thread=False`` and still move
between threads.  A connection that comes back after an error, or still in a
transaction, is closed rather than lent again.

SQLite forbids using a connection in a process forked after it was opened.
In a child process the pool forgets every connection of its parent and opens
its own.  The parent's connections are left open and referenced, never used
or closed: closing one in the child could release or checkpoint the shared
WAL file while the parent still relies on it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator

__all__ = ["ConnectionPool"]

# Connections inherited from a parent process.  Referenced here so that the
# garbage collector does not close them in the child either.
_INHERITED: list[sqlite3.Connection] = []
_POOLS: weakref.WeakSet[ConnectionPool] = weakref.WeakSet()


class ConnectionPool:
    """Reusable connections of one process, each lent to one caller at a time.

    Invariants: every connection this process opened and has not closed is in
    ``_opened``; the idle ones are also in ``_idle`` (at most ``max_idle``);
    all were opened by process ``_pid``.

    Args:
        connect: Opens one connection, ready for use.
        max_idle: How many idle connections to keep open.
    """

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, max_idle: int
    ) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: list[sqlite3.Connection] = []
        self._opened: set[sqlite3.Connection] = set()
        self._closed = False
        _POOLS.add(self)

    def __repr__(self) -> str:
        return (
            f"<ConnectionPool open={len(self._opened)} idle={len(self._idle)} "
            f"max_idle={self._max_idle} closed={self._closed}>"
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """Lend a connection for the block; it comes back when the block ends.

        Raises:
            sqlite3.Error: The pool is closed, or a connection cannot be
                opened.
        """
        conn = self._take()
        reusable = False
        try:
            yield conn
            reusable = not conn.in_transaction
        finally:
            self._give_back(conn, reusable=reusable)

    def close(self) -> None:
        """Close the idle connections now and lent ones when they come back."""
        self._check_process()
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._opened.difference_update(idle)
        for conn in idle:
            conn.close()

    def _take(self) -> sqlite3.Connection:
        self._check_process()
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if self._idle:
                return self._idle.pop()

        # Opening may wait for another process's lock: not under ours.
        conn = self._connect()
        with self._lock:
            self._opened.add(conn)
        return conn

    def _give_back(self, conn: sqlite3.Connection, *, reusable: bool) -> None:
        with self._lock:
            if conn not in self._opened:
                # Opened before a fork: the parent's, never to be touched.
                return
            keep = reusable and not self._closed and len(self._idle) < self._max_idle
            if keep:
                self._idle.append(conn)
                return
            self._opened.discard(conn)
        conn.close()

    def _check_process(self) -> None:
        # The fork hook below normally does this first; the check covers a
        # child forked by other means than os.fork.
        if self._pid != os.getpid():
            self.forget_parent()

    def forget_parent(self) -> None:
        """In a forked child: set the parent's connections aside, unused."""
        # The parent's lock may have been held by a thread that does not
        # exist in the child: replace it, never acquire it.
        self._lock = threading.Lock()
        _INHERITED.extend(self._opened)
        self._opened = set()
        self._idle = []
        self._pid = os.getpid()


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool.forget_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)
