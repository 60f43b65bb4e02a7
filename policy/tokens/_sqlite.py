"""The embedded token store: one SQLite file, standard library only.

Every state change is one ``BEGIN IMMEDIATE`` transaction: it takes the
write lock before reading, so two processes renewing one pair serialise and
exactly one wins, and a crash part-way leaves the previous state intact.  The
file is in WAL mode with ``synchronous=FULL`` (a committed renewal survives a
power cut) and is created readable by its owner only.

Instants are stored as integer microseconds since the Unix epoch, UTC: exact,
sortable and free of offset parsing.  The schema is versioned in table
``schema_version``; opening a file applies the missing migrations in one
transaction and refuses a file from a newer version.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from policy._errors import PolicyTypeError, echo
from policy._redact import redact
from policy.tokens._errors import TokenStoreError
from policy.tokens._lifetimes import ScopeId
from policy.tokens._model import PairRecord, RevokeCause, TokenRecord
from policy.tokens._sqlite_pool import ConnectionPool

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore"]

_log = logging.getLogger(__name__)

# Each migration is (version it produces, statements); applied in order.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE tokens (
                token_id TEXT PRIMARY KEY,
                user TEXT NOT NULL,
                name TEXT NOT NULL,
                scope_id TEXT NOT NULL,
                endpoints TEXT NOT NULL,
                allowlist TEXT,
                created_at INTEGER NOT NULL,
                refreshable INTEGER NOT NULL,
                renewable_until INTEGER,
                generation INTEGER NOT NULL,
                issued_at INTEGER NOT NULL,
                access_expires_at INTEGER NOT NULL,
                revoked_at INTEGER,
                revoked_cause TEXT
            )""",
            """CREATE TABLE pairs (
                token_id TEXT NOT NULL REFERENCES tokens (token_id),
                generation INTEGER NOT NULL,
                access_digest TEXT NOT NULL UNIQUE,
                refresh_digest TEXT UNIQUE,
                issued_at INTEGER NOT NULL,
                access_expires_at INTEGER NOT NULL,
                superseded_at INTEGER,
                successor_seed BLOB,
                PRIMARY KEY (token_id, generation)
            )""",
        ),
    ),
    (2, ("CREATE INDEX tokens_by_user ON tokens (user, created_at)",)),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

R = TypeVar("R")
# Decoded rows remembered per store and table: a few hundred kilobytes.
_DECODED_ROWS = 4096

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Full statements as literals: nothing user-supplied is ever formatted in.
_SELECT_TOKENS = (
    "SELECT token_id, user, name, scope_id, endpoints, allowlist, created_at, "
    "refreshable, renewable_until, generation, issued_at, access_expires_at, "
    "revoked_at, revoked_cause FROM tokens "
)
_INSERT_TOKENS = (
    "INSERT INTO tokens (token_id, user, name, scope_id, endpoints, allowlist, "
    "created_at, refreshable, renewable_until, generation, issued_at, "
    "access_expires_at, revoked_at, revoked_cause) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_PAIRS = (
    "SELECT token_id, generation, access_digest, refresh_digest, issued_at, "
    "access_expires_at, superseded_at, successor_seed FROM pairs "
)
_INSERT_PAIR = (
    "INSERT INTO pairs (token_id, generation, access_digest, refresh_digest, "
    "issued_at, access_expires_at, superseded_at, successor_seed) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _maybe_micros(value: datetime | None) -> int | None:
    return None if value is None else _micros(value)


def _instant(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _required_instant(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class SQLiteStore:
    """Tokens in one SQLite file; safe across threads and processes.

    Connections are kept open and reused (see :mod:`._sqlite_pool`), each by
    one thread at a time, so one store object may be shared by threads;
    separate processes, and forked children, may open the same file (a
    child forked while a call was in flight refuses every call, since SQLite
    could not lock the file safely there; see :mod:`._sqlite_pool`).  Every
    read is one statement, which SQLite runs as its own read transaction: it
    sees every change committed before it began, by any process, so a
    revocation elsewhere is seen by the very next lookup.  Nothing read is
    kept between calls but decoded rows, looked up by their exact values, so
    nothing can go stale.

    Use it as a context manager, or call :meth:`close`, to close the
    connections.

    Args:
        path: The database file; created (mode 0600, parents 0700) if absent
            and ``create`` is true.
        create: Whether a missing or empty file becomes a new store.  When
            false, the file must already be a token store (hold the
            ``schema_version`` table); anything else is refused without
            being written to.
        timeout_seconds: How long a call waits for another writer's lock
            before failing with ``TokenStoreError``.
        max_idle_connections: How many unused connections to keep open for
            the next calls; more threads than this still work, opening and
            closing their extra connections.

    Raises:
        TokenStoreError: The file cannot be opened or migrated, its schema
            is newer than this library knows, or ``create`` is false and it
            is not a token store.
        PolicyTypeError: ``max_idle_connections`` is not an int of 0 or more.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        timeout_seconds: float = 10.0,
        max_idle_connections: int = 8,
    ) -> None:
        if type(max_idle_connections) is not int or max_idle_connections < 0:
            raise PolicyTypeError(
                "max_idle_connections must be an int of 0 or more, "
                f"got {max_idle_connections!r}"
            )
        self._path = Path(path)
        self._create = create
        self._timeout = timeout_seconds
        self._pool = ConnectionPool(self._connect, max_idle=max_idle_connections)
        self._token_from = _Decoded(_token_from, size=_DECODED_ROWS)
        self._pair_from = _Decoded(_pair_from, size=_DECODED_ROWS)
        if create:
            self._prepare_file()
        else:
            self._require_store()
        self._migrate()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self._path)!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def schema_version(self) -> int:
        """Return the schema version recorded in the file."""
        row = self._row("SELECT version FROM schema_version", ())
        return int(row[0])

    # -- connection handling -------------------------------------------------

    def _prepare_file(self) -> None:
        try:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as error:
            raise TokenStoreError(
                f"token store {echo(str(self._path))} cannot be created: "
                f"{error.strerror}"
            ) from None

    def _uri(self, mode: str) -> str:
        # as_uri() percent-encodes '?', '#' and '%' in the file name.
        return f"{self._path.absolute().as_uri()}?mode={mode}"

    def _require_store(self) -> None:
        """Refuse, untouched, a file that does not already hold a store."""
        why = self._why_not_a_store()
        if why is not None:
            # The whole path, redacted: a cut one would not say which file.
            shown = redact(str(self._path))
            raise TokenStoreError(f"{shown} is not a token store: {why}")

    def _why_not_a_store(self) -> str | None:
        try:
            status = self._path.stat()
        except OSError as error:
            return error.strerror or type(error).__name__
        if not stat.S_ISREG(status.st_mode):
            return "not a regular file"
        if status.st_size == 0:
            return "the file is empty"

        # Read-only: this connection can neither create the file nor write
        # to it, whatever the file turns out to be.
        try:
            conn = sqlite3.connect(self._uri("ro"), uri=True, timeout=self._timeout)
            try:
                row = conn.execute(
                    "SELECT 1 FROM sqlite_master "
                    "WHERE type = 'table' AND name = 'schema_version'"
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
                return "not an SQLite database"
            raise self._store_error(error) from None
        return None if row is not None else "it has no schema_version table"

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False: the pool lends each connection to one
        # thread at a time, and it may be a different thread each time.
        # Without create, mode=rw: a file deleted since it was checked is an
        # error, not a new empty database.
        conn = sqlite3.connect(
            self._path if self._create else self._uri("rw"),
            timeout=self._timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=not self._create,
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any error, then re-raised."""
        try:
            with self._pool.connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._store_error(error) from None

    def _rows(self, statement: str, parameters: tuple[Any, ...]) -> list[Any]:
        """Run one read statement; SQLite makes it its own read transaction."""
        try:
            with self._pool.connection() as conn:
                cursor = conn.execute(statement, parameters)
                try:
                    return cursor.fetchall()
                finally:
                    # Ends the read transaction at once, so the connection
                    # goes back to the pool holding no snapshot.
                    cursor.close()
        except sqlite3.Error as error:
            raise self._store_error(error) from None

    def _row(self, statement: str, parameters: tuple[Any, ...]) -> Any:
        """The first row of one read statement, or None."""
        rows = self._rows(statement, parameters)
        return rows[0] if rows else None

    def _store_error(self, error: sqlite3.Error) -> TokenStoreError:
        # SQLite messages name tables and constraints, never row values, so
        # no digest can leak through them.
        _log.debug("token store %s failed: %s", self._path, type(error).__name__)
        return TokenStoreError(
            f"token store {echo(str(self._path))} failed: "
            f"{type(error).__name__}: {echo(str(error))}"
        )

    def _migrate(self) -> None:
        with self._transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            current = 0 if row is None else int(row[0])
            if current > SCHEMA_VERSION:
                raise TokenStoreError(
                    f"token store {echo(str(self._path))} has schema version "
                    f"{current}, newer than the {SCHEMA_VERSION} this library "
                    "knows; upgrade the library"
                )
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        conn.execute(statement)
                    _log.debug("token store migrated to version %d", version)
            if row is None:
                conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    # -- the TokenStore protocol ---------------------------------------------

    def add(self, token: TokenRecord, pair: PairRecord) -> None:
        """Store a new token with its first pair, in one transaction."""
        with self._transaction() as conn:
            conn.execute(
                _INSERT_TOKENS,
                _token_row(token),
            )
            _insert_pair(conn, pair)

    def get(self, token_id: str) -> TokenRecord | None:
        """Return the token with ``token_id``, or None."""
        row = self._row(_SELECT_TOKENS + "WHERE token_id = ?", (token_id,))
        return None if row is None else self._token_from(row)

    def pair_by_access(self, access_digest: str) -> PairRecord | None:
        """Return the pair whose access digest is ``access_digest``, or None."""
        row = self._row(_SELECT_PAIRS + "WHERE access_digest = ?", (access_digest,))
        return None if row is None else self._pair_from(row)

    def pair(self, token_id: str, generation: int) -> PairRecord | None:
        """Return pair ``generation`` of token ``token_id``, or None."""
        row = self._row(
            _SELECT_PAIRS + "WHERE token_id = ? AND generation = ?",
            (token_id, generation),
        )
        return None if row is None else self._pair_from(row)

    def rotate(
        self,
        token_id: str,
        *,
        generation: int,
        seed: bytes,
        successor: PairRecord,
        at: datetime,
    ) -> bool:
        """Replace the current pair by ``successor``, if still current."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT generation, revoked_at FROM tokens WHERE token_id = ?",
                (token_id,),
            ).fetchone()
            if row is None or row[1] is not None or row[0] != generation:
                return False
            conn.execute(
                "UPDATE pairs SET superseded_at = ?, successor_seed = ? "
                "WHERE token_id = ? AND generation = ?",
                (_micros(at), seed, token_id, generation),
            )
            _insert_pair(conn, successor)
            conn.execute(
                "UPDATE tokens SET generation = ?, issued_at = ?, "
                "access_expires_at = ? WHERE token_id = ?",
                (
                    successor.generation,
                    _micros(successor.issued_at),
                    _micros(successor.access_expires_at),
                    token_id,
                ),
            )
            return True

    def revoke(self, token_id: str, *, at: datetime, cause: RevokeCause) -> bool:
        """Revoke the whole chain; return whether it was live until now."""
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE tokens SET revoked_at = ?, revoked_cause = ? "
                "WHERE token_id = ? AND revoked_at IS NULL",
                (_micros(at), cause, token_id),
            ).rowcount
        return changed == 1

    def revoke_user(self, user: str, *, at: datetime) -> list[str]:
        """Revoke every live token of ``user`` at once; return their ids."""
        with self._transaction() as conn:
            ids = [
                str(row[0])
                for row in conn.execute(
                    "SELECT token_id FROM tokens WHERE user = ? AND revoked_at IS NULL "
                    "ORDER BY created_at, token_id",
                    (user,),
                )
            ]
            conn.execute(
                "UPDATE tokens SET revoked_at = ?, revoked_cause = 'user' "
                "WHERE user = ? AND revoked_at IS NULL",
                (_micros(at), user),
            )
        return ids

    def tokens_of(self, user: str) -> list[TokenRecord]:
        """Return every token of ``user``, revoked ones too, oldest first."""
        rows = self._rows(
            _SELECT_TOKENS + "WHERE user = ? ORDER BY created_at, token_id", (user,)
        )
        return [self._token_from(row) for row in rows]

    def close(self) -> None:
        """Close the connections; the store is unusable afterwards.

        A call made after this fails with ``TokenStoreError``; one in flight
        in another thread finishes, and its connection is closed then.
        """
        self._pool.close()


class _Decoded(Generic[R]):
    """Records decoded from rows, remembered by the row's exact values.

    Decoding a row (JSON, five instants) costs more than reading it.  A row
    read again with the same values decodes to an equal frozen record, so the
    one decoded before is returned; a row whose values changed (a renewal, a
    revocation) is a different key and is decoded afresh.  Nothing here can
    go stale: every lookup still reads the row from the file.  At ``size``
    rows the memory is emptied and starts again.
    """

    def __init__(self, decode: Callable[[tuple[Any, ...]], R], *, size: int) -> None:
        self._decode = decode
        self._size = size
        self._records: dict[tuple[Any, ...], R] = {}

    def __call__(self, row: tuple[Any, ...]) -> R:
        record = self._records.get(row)
        if record is None:
            record = self._decode(row)
            if len(self._records) >= self._size:
                self._records.clear()
            self._records[row] = record
        return record


def _insert_pair(conn: sqlite3.Connection, pair: PairRecord) -> None:
    conn.execute(
        _INSERT_PAIR,
        (
            pair.token_id,
            pair.generation,
            pair.access_digest,
            pair.refresh_digest,
            _micros(pair.issued_at),
            _micros(pair.access_expires_at),
            _maybe_micros(pair.superseded_at),
            pair.successor_seed,
        ),
    )


def _token_row(token: TokenRecord) -> tuple[Any, ...]:
    return (
        token.token_id,
        token.user,
        token.name,
        token.scope_id,
        json.dumps(list(token.endpoints)),
        None if token.allowlist is None else json.dumps(list(token.allowlist)),
        _micros(token.created_at),
        int(token.refreshable),
        _maybe_micros(token.renewable_until),
        token.generation,
        _micros(token.issued_at),
        _micros(token.access_expires_at),
        _maybe_micros(token.revoked_at),
        token.revoked_cause,
    )


def _token_from(row: tuple[Any, ...]) -> TokenRecord:
    allowlist = None if row[5] is None else tuple(json.loads(row[5]))
    return TokenRecord(
        token_id=row[0],
        user=row[1],
        name=row[2],
        scope_id=cast(ScopeId, row[3]),
        endpoints=tuple(json.loads(row[4])),
        allowlist=allowlist,
        created_at=_required_instant(row[6]),
        refreshable=bool(row[7]),
        renewable_until=_instant(row[8]),
        generation=row[9],
        issued_at=_required_instant(row[10]),
        access_expires_at=_required_instant(row[11]),
        revoked_at=_instant(row[12]),
        revoked_cause=cast(RevokeCause | None, row[13]),
    )


def _pair_from(row: tuple[Any, ...]) -> PairRecord:
    return PairRecord(
        token_id=row[0],
        generation=row[1],
        access_digest=row[2],
        refresh_digest=row[3],
        issued_at=_required_instant(row[4]),
        access_expires_at=_required_instant(row[5]),
        superseded_at=_instant(row[6]),
        successor_seed=row[7],
    )
