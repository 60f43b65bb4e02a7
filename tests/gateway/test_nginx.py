"""A real nginx, with auth_request to ``policy serve``, in front of an app.

Every request below goes over loopback through nginx.  The upstream app
records what reached it, so each denial is also shown to have stopped the
request before the app.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from policy.tokens import FakeClock, IssuedToken, SQLiteStore, TokenService

_BASE = "/commandcenter/api"


@dataclass
class Gateway:
    port: int
    tokens: dict[str, IssuedToken]
    seen: list[str]


def _create_tokens(db: Path) -> dict[str, IssuedToken]:
    """Tokens created at several instants, so some are expired now."""
    now = datetime.now(UTC)

    def create(name: str, age: timedelta, **options: Any) -> IssuedToken:
        service = TokenService(SQLiteStore(db), clock=FakeClock(now - age))
        return service.create(user="ana", name=name, scope="custom", **options)

    reports = {"endpoints": ["/Client", "/plan"], "allowlist": "203.0.113.0/24"}
    return {
        "good": create("good", timedelta(0), **reports),
        "renewable": create("renewable", timedelta(hours=1), **reports),
        "expired": create("expired", timedelta(days=20), **reports),
        "renew-me": create("renew-me", timedelta(0), **reports),
        "renew-guarded": create("renew-guarded", timedelta(0), **reports),
    }


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    serve_module: Any,
    upstream: Any,
    nginx: Any,
) -> Gateway:
    directory = tmp_path_factory.mktemp("gateway")
    db = directory / "tokens.db"
    tokens = _create_tokens(db)
    auth_port = serve_module(
        db,
        "--trusted-proxy",
        "127.0.0.1",
        "--api-base",
        _BASE,
        "--bad-request-status",
        "403",
    )
    port = nginx(auth_port=auth_port, upstream_port=upstream.port)
    return Gateway(port, tokens, upstream.seen)


@dataclass
class Answer:
    status: int
    reason: str | None
    challenge: str | None
    body: bytes


def send(
    gateway: Gateway,
    path: str,
    *,
    token: str | None = None,
    client: str | None = "203.0.113.9",
    method: str = "GET",
    body: bytes | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """One request through nginx, the path sent exactly as given.

    ``source`` is the loopback address the request comes from: the service
    trusts 127.0.0.1 as a proxy, any other loopback address is a client.
    """
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if client is not None:
        # As an upstream proxy in front of nginx would write it.
        headers["X-Forwarded-For"] = client
    connection = http.client.HTTPConnection(
        "127.0.0.1", gateway.port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(
            response.status,
            response.getheader("X-Policy-Reason"),
            response.getheader("WWW-Authenticate"),
            response.read(),
        )
    finally:
        connection.close()


def test_allowed_request_reaches_the_upstream(gateway: Gateway) -> None:
    answer = send(
        gateway, f"{_BASE}/Client/7?x=1", token=gateway.tokens["good"].access_token
    )
    assert (answer.status, answer.reason) == (200, "allowed")
    assert json.loads(answer.body) == {"upstream": f"{_BASE}/Client/7?x=1"}


@pytest.mark.parametrize(
    ("path", "client", "status", "reason"),
    [
        # The client address, through nginx as a trusted proxy.
        (f"{_BASE}/Client", "198.51.100.7", 403, "ip_not_allowed"),
        (f"{_BASE}/Client", None, 403, "ip_not_allowed"),  # nginx's own peer
        (f"{_BASE}/Client", "203.0.113.9, 127.0.0.1", 200, "allowed"),
        # Scope.
        (f"{_BASE}/Job", "203.0.113.9", 403, "out_of_scope"),
        ("/webconsole/api/Client", "203.0.113.9", 403, "out_of_scope"),
        # Path tricks: refused or judged as the backend routes them.
        (f"{_BASE}/plan%2F..%2FJob", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}/plan/../Job", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}/plan/%2e%2e/Job", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}/plan;x=1", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}//Client", "203.0.113.9", 200, "allowed"),
        (f"{_BASE}/CLIENT", "203.0.113.9", 200, "allowed"),
        (f"{_BASE}/%43lient", "203.0.113.9", 200, "allowed"),
    ],
)
def test_denials_and_path_tricks(
    gateway: Gateway, path: str, client: str | None, status: int, reason: str
) -> None:
    before = len(gateway.seen)
    answer = send(
        gateway, path, token=gateway.tokens["good"].access_token, client=client
    )
    assert (answer.status, answer.reason) == (status, reason)
    assert len(gateway.seen) == before + (1 if status == 200 else 0)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("renewable", "access_expired_renewable"),
        ("expired", "expired"),
        (None, "missing_token"),
    ],
)
def test_expired_or_missing_token_is_401_with_challenge(
    gateway: Gateway, name: str | None, reason: str
) -> None:
    token = None if name is None else gateway.tokens[name].access_token
    answer = send(gateway, f"{_BASE}/Client", token=token)
    assert (answer.status, answer.reason) == (401, reason)
    assert answer.challenge == 'Bearer error="invalid_token"'


def test_a_client_cannot_forge_its_address_to_renew(gateway: Gateway) -> None:
    issued = gateway.tokens["renew-guarded"]
    body = json.dumps(
        {"accessToken": issued.access_token, "refreshToken": issued.refresh_token}
    ).encode()
    # 127.0.0.5 is not a trusted proxy: its own X-Forwarded-For naming an
    # allowed address must change nothing, for renewal as for requests.
    for path, method, payload in (
        ("/V4/AccessToken/Renew", "POST", body),
        (f"{_BASE}/plan", "GET", None),
    ):
        answer = send(
            gateway,
            path,
            token=issued.access_token,
            method=method,
            body=payload,
            client="203.0.113.9",
            source="127.0.0.5",
        )
        # The check answers in a header, the renewal in its JSON body.
        reason = answer.reason or json.loads(answer.body)["reason"]
        assert (answer.status, reason) == (403, "ip_not_allowed")
    # Nothing was rotated: the pair still renews from an allowed client.
    assert (
        send(gateway, "/V4/AccessToken/Renew", method="POST", body=body).status == 200
    )


def test_renewal_through_the_gateway(gateway: Gateway) -> None:
    issued = gateway.tokens["renew-me"]
    body = json.dumps(
        {"accessToken": issued.access_token, "refreshToken": issued.refresh_token}
    ).encode()
    answer = send(gateway, "/V4/AccessToken/Renew", method="POST", body=body)
    assert answer.status == 200
    renewed = json.loads(answer.body)["accessToken"]

    assert send(gateway, f"{_BASE}/plan", token=renewed).status == 200
    old = send(gateway, f"{_BASE}/plan", token=issued.access_token)
    assert (old.status, old.reason) == (401, "revoked")
