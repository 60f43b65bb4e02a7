"""Open SQLite connections, kept for reuse by the SQLite token store.

Opening a connection and setting its pragmas costs far more than the one
indexed lookup a request needs, so connections are kept open and lent out.

A connection is lent to one caller at a time and comes back when the caller
is done, so no two threads ever use one connection at once; that is why the
connections may be opened with ``check_same_thread=False`` and still move
between threads.  A connection that comes back after an error, or still in a
transaction, is closed rather than lent again.

Forking is where SQLite files get corrupted.  SQLite keeps one record per
database file per process of the POSIX locks the process holds on it, shared
by all its connections to that file.  A forked child inherits that record but
not the locks themselves (``fcntl`` locks belong to a process), so a
connection the child opens believes the parent's locks are already its own
and never takes them.  Another process, seeing no reader, may then
checkpoint and delete the WAL the child is writing to: two renewals of one
pair both succeed, or the file is corrupted.  Hence:

* Just before ``os.fork``, every pool closes its idle connections, so a
  child inherits no SQLite state for files nobody was using at that instant,
  and its own connections take real locks.  The pool locks are held across
  the fork, so no connection is given back between the closing and the fork.
* A connection lent out at the fork (in use by another thread) cannot be
  closed.  A child that inherits one opens no connection at all, to any
  file: every use fails with ``sqlite3.ProgrammingError``.  The inherited
  connections stay referenced and untouched, since closing one would drop
  the child's locks and could checkpoint the parent's WAL.

Connections opened outside these pools are not covered: a process that
forks must not hold any.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["ConnectionPool"]


@dataclass(slots=True)
class _ProcessState:
    """What the pools of this process know about the fork it came from.

    ``pid`` is the process the pools last checked they run in; ``inherited``
    holds connections open in the parent at the fork, referenced so that the
    garbage collector never closes them here; ``forked_in_use`` is true when
    any connection was open, or being opened, at the fork, and then no pool
    opens a connection.
    """

    pid: int
    inherited: list[sqlite3.Connection] = field(default_factory=list)
    forked_in_use: bool = False


_PROCESS = _ProcessState(pid=os.getpid())
_POOLS: weakref.WeakSet[ConnectionPool] = weakref.WeakSet()
# Pools whose locks the fork hook holds between the fork's two halves.
_HELD: list[ConnectionPool] = []

# Short enough to reach the store's error whole (see policy._errors.echo).
_FORKED_IN_USE = "this process was forked while connections were in use"


class ConnectionPool:
    """Reusable connections of one process, each lent to one caller at a time.

    Invariants: every connection this process opened and has not finished
    closing is in ``_opened``; the idle ones are also in ``_idle`` (at most
    ``max_idle``); all were opened by the current process; ``_opening``
    counts the connections being opened, not yet in ``_opened``.

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
        self._idle: list[sqlite3.Connection] = []
        self._opened: set[sqlite3.Connection] = set()
        self._opening = 0
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
            sqlite3.Error: The pool is closed, a connection cannot be opened,
                or this process was forked while connections were in use.
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
        _check_process()
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            self._close(conn)

    def _take(self) -> sqlite3.Connection:
        _check_process()
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if _PROCESS.forked_in_use:
                raise sqlite3.ProgrammingError(_FORKED_IN_USE)
            if self._idle:
                return self._idle.pop()
            self._opening += 1

        # Opening may wait for another process's lock: not under ours.
        try:
            conn = self._connect()
        finally:
            with self._lock:
                self._opening -= 1
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
        self._close(conn)

    def _close(self, conn: sqlite3.Connection) -> None:
        # Closing may checkpoint the WAL, so it runs outside the lock; the
        # connection counts as open until it is done, so a fork meanwhile
        # leaves the child refusing connections.
        try:
            conn.close()
        finally:
            with self._lock:
                self._opened.discard(conn)

    def _before_fork(self) -> None:
        """Close the idle connections, then hold the lock until after the fork."""
        self._lock.acquire()
        _HELD.append(self)
        idle, self._idle = self._idle, []
        for conn in idle:
            # A failed close leaves the connection in _opened: the child
            # then refuses connections, which is safe.
            with contextlib.suppress(sqlite3.Error):
                conn.close()
                self._opened.discard(conn)

    def _forget_parent(self) -> None:
        """In a forked child: set the parent's connections aside, unused."""
        # The parent's lock may have been held by a thread that does not
        # exist in the child: replace it, never acquire it.
        self._lock = threading.Lock()
        if self._opened or self._opening:
            _PROCESS.forked_in_use = True
        _PROCESS.inherited.extend(self._opened)
        self._opened = set()
        self._idle = []
        self._opening = 0


def _check_process() -> None:
    # The fork hooks below normally run first; this covers a child forked
    # by other means than os.fork, whose parent closed nothing beforehand.
    if _PROCESS.pid != os.getpid():
        _after_fork_in_child()


def _before_fork() -> None:
    for pool in list(_POOLS):
        pool._before_fork()


def _after_fork_in_parent() -> None:
    held = list(_HELD)
    _HELD.clear()
    for pool in held:
        pool._lock.release()


def _after_fork_in_child() -> None:
    _HELD.clear()
    _PROCESS.pid = os.getpid()
    for pool in list(_POOLS):
        pool._forget_parent()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
