"""Faults of the SQLite token store: kills, and a read-only, locked or full file.

A child process creates, renews and revokes tokens in a loop and prints an
acknowledgement after each call returns (the transaction has committed).
The parent kills it with SIGKILL at random moments, again and again on the
same file, then reopens the store: every acknowledged operation must be
there, and every token must be whole (its current pair present and
matching, older pairs superseded, no pair beyond it).

A store that cannot be read makes ``authorize`` deny with ``unavailable``;
a store that cannot be written makes management calls raise, leaving the
tokens as they were.  Never is a request allowed that should not be.
"""

from __future__ import annotations

import logging
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from policy import Reason
from policy.tokens import SQLiteStore, TokenService, TokenStoreError

KILLS = 20
SEED = 20240501

CHILD = r"""
import random, sys
from policy.tokens import SQLiteStore, TokenService
service = TokenService(SQLiteStore(sys.argv[1]))
chooser = random.Random(int(sys.argv[2]))
live = {}
def ack(*fields):
    print(*fields, flush=True)
while True:
    action = chooser.random()
    if len(live) < 3 or action < 0.2:
        issued = service.create(user="ana", name="crash", scope="all")
        live[issued.token_id] = issued
        ack("created", issued.token_id, issued.access_token, issued.refresh_token)
    elif action < 0.9:
        token_id = chooser.choice(sorted(live))
        old = live[token_id]
        new = service.renew(
            access_token=old.access_token, refresh_token=old.refresh_token
        )
        live[token_id] = new
        ack("renewed", token_id, new.generation, new.access_token, new.refresh_token)
    else:
        token_id = chooser.choice(sorted(live))
        del live[token_id]
        service.revoke(token_id)
        ack("revoked", token_id)
"""


@dataclass
class Acked:
    """What the children acknowledged, per token."""

    generation: dict[str, int] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def read(self, line: str) -> None:
        kind, token_id, *rest = line.split()
        if kind == "created":
            self.generation[token_id] = 1
            self.access[token_id] = rest[0]
        elif kind == "renewed":
            self.generation[token_id] = int(rest[0])
            self.access[token_id] = rest[1]
        elif kind == "revoked":
            self.revoked.add(token_id)


def run_and_kill(db: Path, seed: int, after_seconds: float, acked: Acked) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    deadline = time.monotonic() + after_seconds
    buffer = b""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([child.stdout], [], [], left)
        if not ready:
            break
        chunk = os.read(child.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
    child.send_signal(signal.SIGKILL)
    buffer += child.stdout.read()
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the child stopped on its own"
    # Only whole lines were acknowledged; a torn last line was not.
    for line in buffer.decode("ascii").split("\n")[:-1]:
        acked.read(line)


def check_consistent(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tokens = conn.execute(
            "SELECT token_id, generation, access_expires_at FROM tokens"
        ).fetchall()
        for token_id, generation, expires in tokens:
            pairs = dict(
                conn.execute(
                    "SELECT generation, superseded_at FROM pairs WHERE token_id = ?",
                    (token_id,),
                ).fetchall()
            )
            assert sorted(pairs) == list(range(1, generation + 1)), token_id
            assert all(pairs[g] is not None for g in range(1, generation)), token_id
            assert pairs[generation] is None, token_id
            (current,) = conn.execute(
                "SELECT access_expires_at FROM pairs WHERE token_id = ? "
                "AND generation = ?",
                (token_id, generation),
            ).fetchone()
            assert current == expires, token_id


def test_kills_lose_nothing_acknowledged_and_tear_nothing(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    SQLiteStore(db).close()
    chooser = random.Random(SEED)
    acked = Acked()
    for kill in range(KILLS):
        run_and_kill(db, SEED + kill, chooser.uniform(0.2, 0.5), acked)
        check_consistent(db)
    assert len(acked.generation) >= KILLS, "the children did too little to test"
    assert max(acked.generation.values()) >= 2, "no renewal was acknowledged"

    store = SQLiteStore(db)
    service = TokenService(store)
    for token_id, generation in acked.generation.items():
        token = store.get(token_id)
        assert token is not None, f"acknowledged token {token_id} was lost"
        # A renewal may have committed just before a kill, unacknowledged.
        assert token.generation in (generation, generation + 1), token_id
        if token_id in acked.revoked:
            assert token.revoked, f"acknowledged revocation of {token_id} lost"
        decision = service.authorize(
            access_token=acked.access[token_id], ip="192.0.2.1", path="/plan"
        )
        if token.revoked or token.generation != generation:
            assert not decision.allowed
        else:
            assert decision.allowed, (token_id, decision)


# --- a store that cannot be read or written


@pytest.fixture
def issued_db(tmp_path: Path) -> tuple[Path, Any]:
    db = tmp_path / "tokens.db"
    store = SQLiteStore(db)
    service = TokenService(store)
    revoked = service.create(user="ana", name="old", scope="all")
    service.revoke(revoked.token_id)
    live = service.create(user="ana", name="ci", scope="all")
    store.close()
    return db, (live, revoked)


def unpooled(db: Path, **options: Any) -> TokenService:
    """A service whose store opens a fresh connection for every call.

    Pooled idle connections would keep their settings from before a fault
    was injected, and hold the shared lock an exclusive holder needs.
    """
    return TokenService(SQLiteStore(db, max_idle_connections=0, **options))


@contextmanager
def connect_with(
    monkeypatch: pytest.MonkeyPatch, after_connect: Callable[[sqlite3.Connection], None]
) -> Iterator[None]:
    real = sqlite3.connect

    def patched(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, **kwargs)
        after_connect(conn)
        return conn

    with monkeypatch.context() as patch:
        patch.setattr(sqlite3, "connect", patched)
        yield


def decide(service: TokenService, token: str) -> Any:
    return service.authorize(access_token=token, ip="192.0.2.1", path="/plan")


def test_an_unreadable_store_denies_as_unavailable_and_logs(
    issued_db: tuple[Path, Any], caplog: pytest.LogCaptureFixture
) -> None:
    db, (live, revoked) = issued_db
    caplog.set_level(logging.DEBUG, logger="policy")
    service = unpooled(db, timeout_seconds=0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        # An exclusive lock after a write shuts out readers even under WAL.
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE schema_version SET version = version")
        for token in (live.access_token, revoked.access_token):
            decision = decide(service, token)
            assert decision.reason is Reason.UNAVAILABLE
            assert not decision.allowed
    finally:
        holder.close()
    assert any(r.name.startswith("policy.tokens") for r in caplog.records)
    assert decide(service, live.access_token).allowed


def test_a_locked_store_refuses_writes_and_keeps_deciding(
    issued_db: tuple[Path, Any],
) -> None:
    db, (live, revoked) = issued_db
    service = unpooled(db, timeout_seconds=0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(TokenStoreError):
            service.revoke(live.token_id)
        with pytest.raises(TokenStoreError):
            service.renew(
                access_token=live.access_token, refresh_token=live.refresh_token
            )
        assert decide(service, live.access_token).allowed
        assert decide(service, revoked.access_token).reason is Reason.REVOKED
    finally:
        holder.close()


def test_a_read_only_store_refuses_writes_and_never_wrongly_allows(
    issued_db: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, (live, revoked) = issued_db
    service = unpooled(db)
    with connect_with(monkeypatch, lambda conn: conn.execute("PRAGMA query_only=ON")):
        with pytest.raises(TokenStoreError):
            service.create(user="ana", name="new", scope="all")
        with pytest.raises(TokenStoreError):
            service.renew(
                access_token=live.access_token, refresh_token=live.refresh_token
            )
        with pytest.raises(TokenStoreError):
            service.revoke(live.token_id)
        assert decide(service, revoked.access_token).reason in (
            Reason.REVOKED,
            Reason.UNAVAILABLE,
        )
        live_decision = decide(service, live.access_token)
        assert live_decision.reason in (Reason.ALLOWED, Reason.UNAVAILABLE)
    # The failed renewal left the pair as it was.
    assert decide(service, live.access_token).allowed


def test_a_full_store_refuses_writes_and_keeps_the_old_pair(
    issued_db: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, (live, revoked) = issued_db

    def cap(conn: sqlite3.Connection) -> None:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages}")

    service = unpooled(db)
    with connect_with(monkeypatch, cap):
        with pytest.raises(TokenStoreError):  # noqa: PT012 - fills until it fails
            for number in range(200):
                service.create(user="ana", name=f"fill-{number}" * 20, scope="all")
        assert decide(service, revoked.access_token).reason in (
            Reason.REVOKED,
            Reason.UNAVAILABLE,
        )
    assert decide(service, live.access_token).allowed
    check_consistent(db)
