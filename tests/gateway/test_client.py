"""The client helper: one renewal in flight, saved before use, renewed early."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from policy._errors import PolicyTypeError
from policy.client import (
    PairFileError,
    RenewalFailed,
    TokenClient,
    TokenPair,
    load_pair,
    save_pair,
    urllib_transport,
)
from policy.tokens import FakeClock, IssuedToken, SQLiteStore, TokenService

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class ServiceTransport:
    """Answers renewals from a TokenService as the server does, counting them."""

    def __init__(self, service: TokenService, *, delay_seconds: float = 0.0) -> None:
        self.service = service
        self.delay_seconds = delay_seconds
        self.calls = 0
        self.urls: list[str] = []

    def __call__(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        self.calls += 1
        self.urls.append(url)
        time.sleep(self.delay_seconds)  # lets other threads pile up behind
        from policy.tokens import RenewalDenied

        pair = json.loads(body)
        try:
            issued = self.service.renew(
                access_token=pair["accessToken"], refresh_token=pair["refreshToken"]
            )
        except RenewalDenied as refused:
            return 401, json.dumps({"reason": refused.decision.reason.value}).encode()
        answer = {
            "accessToken": issued.access_token,
            "refreshToken": issued.refresh_token,
            "tokenExpiryTimestamp": int(issued.access_expires_at.timestamp()),
        }
        return 200, json.dumps(answer).encode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def service(clock: FakeClock, tmp_path: Path) -> TokenService:
    return TokenService(SQLiteStore(tmp_path / "tokens.db"), clock=clock)


@pytest.fixture
def issued(service: TokenService) -> IssuedToken:
    return service.create(user="ana", name="reports", scope="all")


@pytest.fixture
def pair_file(tmp_path: Path, issued: IssuedToken) -> Path:
    path = tmp_path / "pair.json"
    assert issued.refresh_token is not None
    save_pair(
        path,
        TokenPair(issued.access_token, issued.refresh_token, issued.access_expires_at),
    )
    return path


def make_client(
    pair_file: Path, transport: Callable[..., Any], clock: FakeClock
) -> TokenClient:
    return TokenClient(
        "http://127.0.0.1:9/api/",
        pair_file=pair_file,
        transport=transport,
        clock=clock,
    )


def test_token_is_used_until_shortly_before_expiry(
    pair_file: Path, service: TokenService, issued: IssuedToken, clock: FakeClock
) -> None:
    transport = ServiceTransport(service)
    client = make_client(pair_file, transport, clock)

    clock.advance(timedelta(minutes=24, seconds=59))
    assert client.access_token() == issued.access_token
    assert transport.calls == 0

    clock.advance(timedelta(seconds=1))  # five minutes before expiry
    renewed = client.access_token()
    assert renewed != issued.access_token
    assert transport.calls == 1
    assert transport.urls == ["http://127.0.0.1:9/api/V4/AccessToken/Renew"]
    assert service.authorize(access_token=renewed, ip="192.0.2.1", path="/Job")
    assert client.access_token() == renewed
    assert transport.calls == 1


def test_rotated_pair_is_saved_before_it_is_returned(
    pair_file: Path, service: TokenService, clock: FakeClock
) -> None:
    client = make_client(pair_file, ServiceTransport(service), clock)
    clock.advance(timedelta(minutes=29))
    token = client.access_token()
    saved = load_pair(pair_file)
    assert saved.access_token == token
    assert saved.access_expires_at == T0 + timedelta(minutes=59)
    assert oct(pair_file.stat().st_mode & 0o777) == "0o600"
    left = sorted(p.name for p in pair_file.parent.iterdir() if "pair" in p.name)
    assert left == ["pair.json", "pair.json.lock"]  # no temporary file left


def test_failed_save_keeps_the_old_file_and_uses_nothing_new(
    pair_file: Path,
    service: TokenService,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = pair_file.read_bytes()
    client = make_client(pair_file, ServiceTransport(service), clock)
    clock.advance(timedelta(minutes=29))

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(PairFileError, match="No space left on device"):
        client.access_token()
    assert pair_file.read_bytes() == before
    assert [p.name for p in pair_file.parent.iterdir() if p.name.startswith(".")] == []


def test_one_renewal_in_flight_across_threads(
    pair_file: Path, service: TokenService, clock: FakeClock
) -> None:
    transport = ServiceTransport(service, delay_seconds=0.05)
    client = make_client(pair_file, transport, clock)
    clock.advance(timedelta(minutes=29))
    tokens: list[str] = []

    def work() -> None:
        tokens.append(client.access_token())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert transport.calls == 1
    assert len(tokens) == 8
    assert len(set(tokens)) == 1
    assert service.authorize(access_token=tokens[0], ip="192.0.2.1", path="/Job")


def test_second_client_on_the_same_file_uses_the_first_ones_renewal(
    pair_file: Path, service: TokenService, clock: FakeClock
) -> None:
    transport = ServiceTransport(service)
    first = make_client(pair_file, transport, clock)
    second = make_client(pair_file, transport, clock)
    clock.advance(timedelta(minutes=29))
    assert first.access_token() == second.access_token()
    assert transport.calls == 1


def test_refused_renewal_names_the_reason(
    pair_file: Path, service: TokenService, issued: IssuedToken, clock: FakeClock
) -> None:
    service.revoke(issued.token_id)
    client = make_client(pair_file, ServiceTransport(service), clock)
    clock.advance(timedelta(minutes=29))
    with pytest.raises(RenewalFailed) as failed:
        client.access_token()
    assert (failed.value.status, failed.value.reason) == (401, "revoked")


def test_forced_renewal(
    pair_file: Path, service: TokenService, issued: IssuedToken, clock: FakeClock
) -> None:
    client = make_client(pair_file, ServiceTransport(service), clock)
    pair = client.renew()
    assert pair.access_token != issued.access_token
    assert client.access_token() == pair.access_token
    assert "cvpat" not in repr(pair) + repr(client)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, b"{}", "renewal answer must hold accessToken"),
        (200, b"not json", "renewal answer must hold accessToken"),
        (503, b'{"reason": "unavailable"}', r"HTTP 503 \(unavailable\)"),
        (502, b"<html>", r"HTTP 502 \(no reason\)"),
    ],
)
def test_bad_answers_fail(
    pair_file: Path, clock: FakeClock, status: int, body: bytes, message: str
) -> None:
    client = make_client(pair_file, lambda *_: (status, body), clock)
    with pytest.raises(RenewalFailed, match=message):
        client.renew()


def test_unreachable_server_fails_without_status(
    pair_file: Path, clock: FakeClock
) -> None:
    def refuse(*_: object) -> tuple[int, bytes]:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(RenewalFailed) as failed:
        make_client(pair_file, refuse, clock).renew()
    assert failed.value.status is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "must be JSON with accessToken"),
        ('{"accessToken": "a"}', "must be JSON with accessToken"),
        (
            '{"accessToken": "a", "refreshToken": "b", '
            '"accessExpiresAt": "2025-01-01T00:00:00"}',
            "must have a UTC offset",
        ),
    ],
)
def test_bad_pair_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pair.json"
    path.write_text(content)
    with pytest.raises(PairFileError, match=message):
        load_pair(path)
    with pytest.raises(PairFileError, match="cannot read pair file"):
        load_pair(tmp_path / "missing.json")


def test_options_are_checked(pair_file: Path) -> None:
    with pytest.raises(PolicyTypeError, match="base_url must start with http"):
        TokenClient("file:///etc/passwd", pair_file=pair_file)
    with pytest.raises(PolicyTypeError, match="renew_before must be a timedelta"):
        TokenClient(
            "http://127.0.0.1:9", pair_file=pair_file, renew_before=timedelta(-1)
        )
    with pytest.raises(ValueError, match="renewal URL must be http or https"):
        urllib_transport()("POST", "file:///etc/passwd", {}, b"")


def test_renewal_over_loopback_with_urllib(
    tmp_path: Path, serve: Callable[..., int]
) -> None:
    # A token created an hour ago is due; the real service renews it.
    db = tmp_path / "served.db"
    past = FakeClock(datetime.now(UTC) - timedelta(hours=1))
    issued = TokenService(SQLiteStore(db), clock=past).create(
        user="ana", name="loopback", scope="all"
    )
    assert issued.refresh_token is not None
    path = tmp_path / "served-pair.json"
    save_pair(
        path,
        TokenPair(issued.access_token, issued.refresh_token, issued.access_expires_at),
    )
    port = serve(db)

    client = TokenClient(f"http://127.0.0.1:{port}", pair_file=path)
    token = client.access_token()

    assert token != issued.access_token
    assert load_pair(path).access_token == token
    assert load_pair(path).access_expires_at > datetime.now(UTC) + timedelta(minutes=25)


def test_refusal_over_loopback_with_urllib(
    tmp_path: Path, serve: Callable[..., int]
) -> None:
    db = tmp_path / "served.db"
    SQLiteStore(db).close()
    path = tmp_path / "served-pair.json"
    save_pair(path, TokenPair("cvpat_unknown", "cvprt_unknown", datetime.now(UTC)))
    port = serve(db)
    with pytest.raises(RenewalFailed) as failed:
        TokenClient(f"http://127.0.0.1:{port}", pair_file=path).access_token()
    assert (failed.value.status, failed.value.reason) == (401, "unknown_token")


def test_unwritable_lock_file(pair_file: Path, clock: FakeClock) -> None:
    client = make_client(pair_file.parent / "missing" / "pair.json", print, clock)
    with pytest.raises(PairFileError, match="cannot open lock file"):
        client.renew()


def test_a_secret_pasted_as_the_pair_file_path_is_not_echoed(tmp_path: Path) -> None:
    secret = "cvpat_" + "S" * 43 + "_AAAAAA"
    with pytest.raises(PairFileError) as caught:
        load_pair(tmp_path / secret)
    assert "S" * 10 not in str(caught.value)
    assert "cannot read pair file" in str(caught.value)
    assert "cvpat_***" in str(caught.value)
