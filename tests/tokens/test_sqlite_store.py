"""The SQLite store: contract, schema versions, durability (_sqlite.py)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from _contract import StoreContract, make_pair, make_token

from policy.tokens import SCHEMA_VERSION, SQLiteStore, TokenStoreError
from policy.tokens._sqlite import MIGRATIONS


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
