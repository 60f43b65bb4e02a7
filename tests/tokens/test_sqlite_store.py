"""The SQLite store: contract, schema, durability, sharing (_sqlite.py)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from _contract import StoreContract, make_pair, make_token
from _instants import T0

from policy._decision import Reason
from policy._errors import PolicyTypeError, echo
from policy.tokens import (
    SCHEMA_VERSION,
    FakeClock,
    SQLiteStore,
    TokenService,
    TokenStoreError,
)
from policy.tokens._sqlite import MIGRATIONS

JOIN_SECONDS = 60


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SQLiteStore:
        return SQLiteStore(tmp_path / "tokens.db")


def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    SQLiteStore(path).add(make_token(), make_pair())
    again = SQLiteStore(path)
    assert again.get("tok_1") == make_token()
    assert again.pair_by_access("a-tok_1-1") == make_pair()


def test_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.db"
    SQLiteStore(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_fresh_file_has_current_schema_version(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "tokens.db")
    assert store.schema_version() == SCHEMA_VERSION == 2


def test_migrates_a_version_1_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[0][1]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1)")
    store = SQLiteStore(path)
    assert store.schema_version() == 2
    with sqlite3.connect(path) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "tokens_by_user" in names
    store.add(make_token(), make_pair())
    assert store.get("tok_1") == make_token()


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(TokenStoreError) as caught:
        SQLiteStore(path)
    assert "has schema version 99, newer than the 2 this library knows" in str(
        caught.value
    )


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TokenStoreError, match="cannot be created"):
        SQLiteStore(blocker / "tokens.db")


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TokenStoreError, match="DatabaseError"):
        SQLiteStore(path)


def _service(store: SQLiteStore) -> TokenService:
    return TokenService(store, clock=FakeClock(T0))


def _allowed(service: TokenService, access_token: str) -> Reason:
    return service.authorize(
        access_token=access_token, ip="192.0.2.1", path="/Client"
    ).reason


def test_revocation_by_another_store_is_seen_at_once(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    with SQLiteStore(path) as one, SQLiteStore(path) as other:
        issuer, checker = _service(one), _service(other)
        issued = issuer.create(user="ana", name="n", scope="all")
        # Warm the checker: its connection and decoded rows are reused.
        for _ in range(3):
            assert _allowed(checker, issued.access_token) is Reason.ALLOWED
        assert issuer.revoke(issued.token_id)
        assert _allowed(checker, issued.access_token) is Reason.REVOKED


def test_renewal_by_another_store_is_seen_at_once(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    with SQLiteStore(path) as one, SQLiteStore(path) as other:
        issuer, checker = _service(one), _service(other)
        issued = issuer.create(user="ana", name="n", scope="all")
        assert _allowed(checker, issued.access_token) is Reason.ALLOWED
        assert issued.refresh_token is not None
        renewed = issuer.renew(
            access_token=issued.access_token, refresh_token=issued.refresh_token
        )
        assert _allowed(checker, issued.access_token) is Reason.REVOKED
        assert _allowed(checker, renewed.access_token) is Reason.ALLOWED


def _revoke_in_child(path: Path, token_id: str) -> None:
    SQLiteStore(path).revoke(token_id, at=T0, cause="user")


def test_revocation_by_another_process_is_seen_at_once(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    with SQLiteStore(path) as store:
        service = _service(store)
        issued = service.create(user="ana", name="n", scope="all")
        assert _allowed(service, issued.access_token) is Reason.ALLOWED
        context = multiprocessing.get_context("spawn")
        child = context.Process(target=_revoke_in_child, args=(path, issued.token_id))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        assert _allowed(service, issued.access_token) is Reason.REVOKED


def test_a_forked_child_uses_the_parents_store_object(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "tokens.db") as store:
        service = _service(store)
        issued = service.create(user="ana", name="n", scope="all")
        assert _allowed(service, issued.access_token) is Reason.ALLOWED
        context = multiprocessing.get_context("fork")
        child = context.Process(target=service.revoke, args=(issued.token_id,))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        assert _allowed(service, issued.access_token) is Reason.REVOKED
        assert store.schema_version() == SCHEMA_VERSION


def _revoke_when_told(path: Path, token_id: str, ready: Any, go: Any, out: Any) -> None:
    try:
        with SQLiteStore(path) as store:
            # Connected: in WAL mode the idle connection holds a shared lock.
            store.get(token_id)
            ready.set()
            if not go.wait(JOIN_SECONDS):
                raise TimeoutError("never told to go")
            store.revoke(token_id, at=T0, cause="user")
    except Exception as error:
        out.put(f"{type(error).__name__}: {error}")
    else:
        out.put("ok")


def test_a_child_forked_with_the_store_open_holds_real_locks(tmp_path: Path) -> None:
    # SQLite records per process which locks it holds on a file.  A child
    # forked while the parent had the file open would inherit that record but
    # not the locks, so its connection would never take them; the parent,
    # closing its last connection, would then see no other user, checkpoint
    # and delete the WAL, and the child's write would be lost.
    path = tmp_path / "tokens.db"
    store = SQLiteStore(path)
    store.add(make_token(), make_pair())
    context = multiprocessing.get_context("fork")
    ready, go, out = context.Event(), context.Event(), context.Queue()
    child = context.Process(
        target=_revoke_when_told, args=(path, "tok_1", ready, go, out), daemon=True
    )
    child.start()
    try:
        assert ready.wait(JOIN_SECONDS)
        store.close()
        with SQLiteStore(path) as other:
            assert other.get("tok_1") == make_token()
        # The child still uses the WAL, so the parent must not remove it.
        assert (tmp_path / "tokens.db-wal").exists()
        go.set()
        assert out.get(timeout=JOIN_SECONDS) == "ok"
    finally:
        child.join(timeout=JOIN_SECONDS)
        if child.is_alive():  # pragma: no cover - only when the test fails
            child.kill()
    assert child.exitcode == 0
    with SQLiteStore(path) as again:
        token = again.get("tok_1")
    assert token is not None
    assert token.revoked_cause == "user"


def _use_after_fork(store: SQLiteStore, path: Path, out: Any) -> None:
    outcomes = []
    for use in (store.schema_version, lambda: SQLiteStore(path).schema_version()):
        try:
            use()
        except TokenStoreError as error:
            outcomes.append(str(error))
        else:  # pragma: no cover - only when the test fails
            outcomes.append("used")
    out.put(outcomes)


def test_a_child_forked_while_a_call_is_in_flight_refuses_the_store(
    tmp_path: Path,
) -> None:
    # A connection lent out at the fork cannot be closed first; the child
    # inherits its lock record, so no connection there would be safe.
    path = tmp_path / "tokens.db"
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    with SQLiteStore(path) as store:
        with store._pool.connection():
            child = context.Process(target=_use_after_fork, args=(store, path, out))
            child.start()
        outcomes = out.get(timeout=JOIN_SECONDS)
        child.join(timeout=JOIN_SECONDS)
        assert child.exitcode == 0
        assert store.schema_version() == SCHEMA_VERSION
    refused = (
        f"token store {echo(str(path))} failed: ProgrammingError: "
        "this process was forked while connections were in use"
    )
    # The parent's store object and a new one opened in the child alike.
    assert outcomes == [refused, refused]


def test_close_makes_the_store_unusable(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    with SQLiteStore(path) as store:
        store.add(make_token(), make_pair())
    with pytest.raises(TokenStoreError) as caught:
        store.get("tok_1")
    assert str(caught.value) == (
        f"token store {echo(str(path))} failed: "
        "ProgrammingError: Cannot operate on a closed database."
    )
    with pytest.raises(TokenStoreError, match="closed database"):
        store.add(make_token("tok_2"), make_pair("tok_2"))
    store.close()  # twice is harmless
    assert SQLiteStore(path).get("tok_1") == make_token()


def test_one_store_serves_many_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "tokens.db", max_idle_connections=2)
    service = _service(store)
    issued = [service.create(user="ana", name=f"n{i}", scope="all") for i in range(4)]
    seen: list[Reason] = []
    lock = threading.Lock()

    def worker() -> None:
        for pair in issued * 10:
            reason = _allowed(service, pair.access_token)
            with lock:
                seen.append(reason)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert seen == [Reason.ALLOWED] * 240


@pytest.mark.parametrize("bad", [-1, 1.5, True, "8"])
def test_max_idle_connections_is_checked(tmp_path: Path, bad: object) -> None:
    with pytest.raises(PolicyTypeError) as caught:
        SQLiteStore(tmp_path / "tokens.db", max_idle_connections=bad)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"max_idle_connections must be an int of 0 or more, got {bad!r}"
    )


def test_no_idle_connections_still_works(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "tokens.db", max_idle_connections=0)
    store.add(make_token(), make_pair())
    assert store.get("tok_1") == make_token()


def _foreign_database(path: Path) -> bytes:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    return path.read_bytes()


def test_without_create_a_foreign_database_is_refused_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.db"
    before = _foreign_database(path)
    with pytest.raises(TokenStoreError) as caught:
        SQLiteStore(path, create=False)
    assert str(caught.value) == (
        f"{path} is not a token store: it has no schema_version table"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "No such file or directory"),
        (b"", "the file is empty"),
        (b"not a database, just text\n" * 40, "not an SQLite database"),
    ],
)
def test_without_create_a_missing_empty_or_other_file_is_refused(
    tmp_path: Path, content: bytes | None, why: str
) -> None:
    path = tmp_path / "tokens.db"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TokenStoreError) as caught:
        SQLiteStore(path, create=False)
    assert str(caught.value) == f"{path} is not a token store: {why}"
    if content is None:
        assert not path.exists()
    else:
        assert path.read_bytes() == content
    assert len(list(tmp_path.iterdir())) == (content is not None)


def test_without_create_a_secret_in_the_path_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "cvpat_abcdefghijklmnop.db"
    with pytest.raises(TokenStoreError) as caught:
        SQLiteStore(path, create=False)
    assert "abcdefghijklmnop" not in str(caught.value)
    assert "cvpat_***" in str(caught.value)


def test_without_create_an_existing_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    SQLiteStore(path).add(make_token(), make_pair())
    with SQLiteStore(path, create=False) as store:
        assert store.get("tok_1") == make_token()
        assert store.schema_version() == SCHEMA_VERSION


def test_with_create_a_missing_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.db"
    with SQLiteStore(path, create=True) as store:
        assert store.schema_version() == SCHEMA_VERSION
    assert path.stat().st_size > 0
