"""No token secret leaves the library except in its one-time display.

Tokens are created, used, renewed, reused, revoked and misused, through the
service (memory and SQLite stores) and through the command line; then
everything the library emitted is scanned for each secret and for every
16-character piece of it: log records at every level from every logger,
exception messages and reprs, decision records, audit lines, command
output other than the create/renew display, and the SQLite files
(database, write-ahead log and shared memory) byte for byte.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policy import Decision, PolicyError, Reason
from policy.audit import AuditLog
from policy.cli import main
from policy.tokens import (
    FakeClock,
    MemoryStore,
    SQLiteStore,
    TokenError,
    TokenService,
    _secrets,
)

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PIECE = 16


@dataclass
class Emitted:
    """Every secret handed out, and everything else the library said."""

    secrets: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def keep(self, *values: object) -> None:
        for value in values:
            self.texts.append(value if isinstance(value, str) else repr(value))

    def error(self, error: BaseException) -> None:
        self.keep(str(error), repr(error), error.args)
        if isinstance(error, PolicyError):
            for found in error.diagnostics:
                self.keep(found.format(), found.text, found.line_text)

    def decision(self, decision: Decision) -> None:
        self.keep(decision, json.dumps(decision.to_dict()), decision.detail)


def pieces(secret: str) -> set[str]:
    return {secret[start : start + PIECE] for start in range(len(secret) - PIECE + 1)}


def leaks(secrets: list[str], text: str | bytes) -> list[str]:
    """The pieces of any secret found in ``text``."""
    found = []
    for secret in secrets:
        for piece in pieces(secret):
            needle = piece.encode("ascii") if isinstance(text, bytes) else piece
            if needle in text:
                found.append(piece)
    return found


def exercise(service: TokenService, clock: FakeClock, emitted: Emitted) -> None:
    """Run every service path that touches a secret, keeping what comes out."""
    audit_stream = io.StringIO()
    audit = AuditLog(audit_stream, clock=clock.now)

    def decide(
        token: str | None, path: str = "/plan/7", ip: str = "198.51.100.7"
    ) -> Decision:
        decision = service.authorize(access_token=token, ip=ip, path=path)
        emitted.decision(decision)
        audit.record(decision)
        return decision

    issued = service.create(
        user="ana",
        name="ci",
        scope="custom",
        endpoints=["/plan"],
        allowlist="198.51.100.0/24",
    )
    assert issued.refresh_token is not None
    access, refresh = issued.access_token, issued.refresh_token
    emitted.secrets += [access, refresh]
    emitted.keep(issued, str(issued), service, service.store)

    assert decide(access).allowed
    assert decide(access, ip="192.0.2.1").reason is Reason.IP_NOT_ALLOWED
    assert decide(access, path="/Client").reason is Reason.OUT_OF_SCOPE
    assert decide(access, path="/plan/%2e%2e/x").reason is Reason.BAD_PATH
    # A client that pastes its token into the path is still judged by it;
    # the decision and the audit line hold that path redacted.
    assert decide(access, path=f"/plan/{access}").allowed
    # One character changed (to another: a secret may end in any of them).
    altered = access[:-1] + ("x" if access[-1] != "x" else "y")
    assert decide(altered).reason is Reason.UNKNOWN_TOKEN
    assert decide(refresh).reason is Reason.UNKNOWN_TOKEN
    assert decide(None).reason is Reason.MISSING_TOKEN

    clock.advance(timedelta(minutes=31))
    assert decide(access).reason is Reason.ACCESS_EXPIRED_RENEWABLE
    renewed = service.renew(access_token=access, refresh_token=refresh)
    emitted.secrets += [renewed.access_token, str(renewed.refresh_token)]
    emitted.keep(renewed, str(renewed))
    assert decide(renewed.access_token).allowed
    assert decide(access).reason is Reason.REVOKED

    for bad_pair in ((access, "cvprt_x"), (refresh, access), (access + "x", refresh)):
        try:
            service.renew(access_token=bad_pair[0], refresh_token=bad_pair[1])
        except TokenError as error:
            emitted.error(error)
    clock.advance(timedelta(minutes=5))
    try:
        # Reuse of a spent refresh token outside the grace window.
        service.renew(access_token=access, refresh_token=refresh)
    except TokenError as error:
        emitted.error(error)
    decide(renewed.access_token)

    for record in service.tokens_of("ana"):
        emitted.keep(record, record.to_dict())
    emitted.keep(service.show(issued.token_id))
    emitted.keep(service.clock_of(issued.token_id).to_dict())
    service.revoke(issued.token_id)
    decide(renewed.access_token)
    emitted.keep(audit_stream.getvalue(), audit)


@pytest.fixture
def everything(caplog: pytest.LogCaptureFixture) -> Iterator[Emitted]:
    caplog.set_level(logging.DEBUG)
    emitted = Emitted()
    yield emitted
    records = caplog.get_records("call")
    assert records, "the scenario logged nothing at all; the capture is broken"
    for record in records:
        emitted.keep(record.getMessage(), record.args, record.__dict__)
    for text in emitted.texts:
        assert not leaks(emitted.secrets, text), text[:300]


def test_memory_store_leaks_no_secret(everything: Emitted) -> None:
    clock = FakeClock(START)
    exercise(TokenService(MemoryStore(), clock=clock), clock, everything)
    assert len(everything.secrets) == 4


def test_sqlite_store_leaks_no_secret(everything: Emitted, tmp_path: Path) -> None:
    clock = FakeClock(START)
    store = SQLiteStore(tmp_path / "tokens.db")
    exercise(TokenService(store, clock=clock), clock, everything)
    files = sorted(tmp_path.glob("tokens.db*"))
    assert tmp_path / "tokens.db" in files
    for file in files:
        data = file.read_bytes()
        assert not leaks(everything.secrets, data), file.name


def test_scan_finds_a_planted_leak() -> None:
    # The scanner itself must be able to fail.
    secret = _secrets.new_secret("access")
    assert leaks([secret], f"log: {secret[20:40]}")
    assert leaks([secret], secret.encode("ascii")[5:30])
    assert not leaks([secret], secret[20:35])


# --- the command line


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_leaks_no_secret_outside_its_one_time_display(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "cli.db"
    monkeypatch.setenv("POLICY_TOKENS_DB", str(db))
    monkeypatch.delenv("POLICY_TOKEN", raising=False)
    monkeypatch.delenv("POLICY_REFRESH_TOKEN", raising=False)
    status, display, _ = run_cli(
        capsys,
        "token", "create", "--user", "ana", "--name", "ci", "--scope", "custom",
        "--endpoint", "/plan",
    )  # fmt: skip
    assert status == 0
    issued = json.loads(display)
    secrets = [issued["access_token"], issued["refresh_token"]]
    outputs: list[str] = []

    def keep(*argv: str) -> int:
        status, out, err = run_cli(capsys, *argv)
        outputs.extend([out, err])
        return status

    monkeypatch.setenv("POLICY_TOKEN", secrets[0])
    assert keep("authorize", "--ip", "192.0.2.1", "--path", "/plan") == 0
    assert keep("authorize", "--ip", "192.0.2.1", "--path", "/Client") == 1
    assert keep("token", "list", "--user", "ana") == 0
    assert keep("token", "show", issued["token_id"]) == 0
    assert keep("token", "clock", issued["token_id"]) == 0
    monkeypatch.setenv("POLICY_REFRESH_TOKEN", secrets[0])  # the wrong secret
    assert keep("token", "renew") != 0
    assert keep("token", "revoke", issued["token_id"]) == 0
    assert keep("authorize", "--ip", "192.0.2.1", "--path", "/plan") == 1
    monkeypatch.setenv("POLICY_REFRESH_TOKEN", secrets[1])
    assert keep("token", "renew") != 0

    outputs += [record.getMessage() for record in caplog.records]
    assert any(outputs), "the commands printed nothing; the capture is broken"
    for text in outputs:
        assert not leaks(secrets, text), text[:300]
    for file in sorted(tmp_path.glob("cli.db*")):
        assert not leaks(secrets, file.read_bytes()), file.name


# --- constant-time comparison


def test_digest_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(START)
    service = TokenService(MemoryStore(), clock=clock)
    issued = service.create(user="ana", name="ci", scope="all")
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(left: object, right: object) -> bool:
        calls.append((left, right))
        return real(left, right)  # type: ignore[arg-type]

    monkeypatch.setattr(hmac, "compare_digest", spy)
    decision = service.authorize(
        access_token=issued.access_token, ip="192.0.2.1", path="/plan"
    )
    assert decision.allowed
    expected = _secrets.digest(issued.access_token)
    assert (expected, expected) in calls


def test_digest_comparison_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    # The result of compare_digest is what decides, not a separate '=='.
    clock = FakeClock(START)
    service = TokenService(MemoryStore(), clock=clock)
    issued = service.create(user="ana", name="ci", scope="all")
    real = hmac.compare_digest

    def refuse_digests(left: object, right: object) -> bool:
        if isinstance(left, str) and len(left) == 64:
            return False
        return real(left, right)  # type: ignore[arg-type]

    monkeypatch.setattr(hmac, "compare_digest", refuse_digests)
    decision = service.authorize(
        access_token=issued.access_token, ip="192.0.2.1", path="/plan"
    )
    assert decision.reason is Reason.UNKNOWN_TOKEN
