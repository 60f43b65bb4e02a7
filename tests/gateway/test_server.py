"""The forward-auth service, driven in process with Starlette's test client."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 and still works with httpx; either does.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from policy._errors import PolicyTypeError
from policy._reload import PolicyReloader
from policy.server import ForwardAuthApp, TrustedProxies
from policy.tokens import FakeClock, IssuedToken, MemoryStore, TokenService

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
GATEWAY = ("127.0.0.1", 40000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def service(clock: FakeClock) -> TokenService:
    return TokenService(MemoryStore(), clock=clock)


@pytest.fixture
def issued(service: TokenService) -> IssuedToken:
    return service.create(
        user="ana",
        name="backup-reports",
        scope="custom",
        endpoints=["/Client", "/plan"],
        allowlist="203.0.113.0/24",
    )


def client_for(app: ForwardAuthApp, peer: tuple[str, int] = GATEWAY) -> TestClient:
    return TestClient(app, client=peer)


@pytest.fixture
def client(service: TokenService) -> TestClient:
    return client_for(
        ForwardAuthApp(service, trusted_proxies=TrustedProxies("127.0.0.1"))
    )


def ask(
    client: TestClient,
    token: str | None,
    uri: str,
    *,
    ip: str = "203.0.113.9",
    method: str = "GET",
) -> Any:
    headers = {"X-Original-URI": uri, "X-Original-Method": method}
    if ip:
        headers["X-Forwarded-For"] = ip
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get("/auth", headers=headers)


def test_health(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_health_path_asked_about_a_request_is_a_check(client: TestClient) -> None:
    # A gateway pointed at /healthz by mistake must not get a blanket 200.
    for header in ("X-Original-URI", "X-Forwarded-Uri"):
        response = client.get("/healthz", headers={header: "/Client/1"})
        assert response.status_code == 401
        assert response.headers["x-policy-reason"] == "missing_token"
    for header in ("X-Original-Method", "X-Forwarded-Method"):
        response = client.get("/healthz", headers={header: "GET"})
        assert response.status_code != 200


def test_allowed_answers_200_with_reason_and_token_id(
    client: TestClient, issued: IssuedToken
) -> None:
    response = ask(client, issued.access_token, "/Client/12?properties=all")
    assert response.status_code == 200
    assert response.headers["x-policy-reason"] == "allowed"
    assert response.headers["x-policy-token-id"] == issued.token_id


@pytest.mark.parametrize(
    ("uri", "ip", "status", "reason"),
    [
        ("/Client", "198.51.100.7", 403, "ip_not_allowed"),
        ("/Job", "203.0.113.9", 403, "out_of_scope"),
        ("/plan/..%2FJob", "203.0.113.9", 400, "bad_path"),
        ("/plan/../Job", "203.0.113.9", 400, "bad_path"),
        ("/client", "203.0.113.9", 200, "allowed"),
        ("//Client", "203.0.113.9", 200, "allowed"),
        ("/Client", "unknown", 400, "bad_ip"),
    ],
)
def test_denials_and_path_tricks(
    client: TestClient,
    issued: IssuedToken,
    uri: str,
    ip: str,
    status: int,
    reason: str,
) -> None:
    response = ask(client, issued.access_token, uri, ip=ip)
    assert response.status_code == status
    assert response.headers["x-policy-reason"] == reason


def test_missing_and_unknown_tokens_are_401_with_challenge(client: TestClient) -> None:
    for token, reason in ((None, "missing_token"), ("cvpat_nope", "unknown_token")):
        response = ask(client, token, "/Client")
        assert response.status_code == 401
        assert response.json() == {"reason": reason}
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_expired_access_token_is_401(
    client: TestClient, issued: IssuedToken, clock: FakeClock
) -> None:
    clock.advance(timedelta(minutes=30))
    response = ask(client, issued.access_token, "/Client")
    assert response.status_code == 401
    assert response.headers["x-policy-reason"] == "access_expired_renewable"
    clock.advance(timedelta(days=15))
    assert ask(client, issued.access_token, "/Client").headers["x-policy-reason"] == (
        "expired"
    )


def test_spoofed_forwarded_for_from_untrusted_peer(
    service: TokenService, issued: IssuedToken
) -> None:
    app = ForwardAuthApp(service, trusted_proxies=TrustedProxies("127.0.0.1"))
    direct = client_for(app, peer=("198.51.100.7", 1234))
    response = ask(direct, issued.access_token, "/Client", ip="203.0.113.9")
    assert response.headers["x-policy-reason"] == "ip_not_allowed"


def test_traefik_headers(client: TestClient, issued: IssuedToken) -> None:
    response = client.get(
        "/",
        headers={
            "X-Forwarded-Uri": "/plan/4",
            "X-Forwarded-Method": "DELETE",
            "X-Forwarded-For": "203.0.113.20",
            "Authtoken": issued.access_token,
        },
    )
    assert response.status_code == 200


def test_envoy_prefix(client: TestClient, issued: IssuedToken) -> None:
    headers = {
        "Authorization": f"Bearer {issued.access_token}",
        "X-Forwarded-For": "203.0.113.9",
    }
    assert client.get("/ext_authz/Client/4?x=1", headers=headers).status_code == 200
    denied = client.get("/ext_authz/Job", headers=headers)
    assert denied.headers["x-policy-reason"] == "out_of_scope"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "bad_path"),
        ({"X-Original-URI": ""}, "bad_path"),
        ({"X-Original-URI": "/Client", "X-Forwarded-Uri": "/Job"}, "bad_path"),
        ({"X-Original-URI": "/Client", "X-Forwarded-Uri": "/Client"}, "bad_path"),
        (
            {
                "X-Original-URI": "/Client",
                "X-Original-Method": "GET",
                "X-Forwarded-Method": "DELETE",
            },
            "bad_method",
        ),
    ],
)
def test_ambiguous_or_missing_original_request_is_400(
    client: TestClient, issued: IssuedToken, headers: dict[str, str], reason: str
) -> None:
    headers["Authorization"] = f"Bearer {issued.access_token}"
    response = client.get("/auth", headers=headers)
    assert response.status_code == 400
    assert response.headers["x-policy-reason"] == reason


def test_bad_request_status_for_nginx(
    service: TokenService, issued: IssuedToken
) -> None:
    app = ForwardAuthApp(service, bad_request_status=403)
    headers = {"X-Original-URI": "/a%2Fb", "Authtoken": issued.access_token}
    response = client_for(app, peer=("203.0.113.1", 5)).get("/auth", headers=headers)
    assert response.status_code == 403
    assert response.json() == {"reason": "bad_path"}


def post_renewal(
    client: TestClient, issued: IssuedToken, *, ip: str | None = "203.0.113.9"
) -> Any:
    """Renew ``issued`` as a client at ``ip`` behind the trusted gateway."""
    body = {"accessToken": issued.access_token, "refreshToken": issued.refresh_token}
    headers = {} if ip is None else {"X-Forwarded-For": ip}
    return client.post("/V4/AccessToken/Renew", json=body, headers=headers)


def test_renewal_rotates_the_pair(client: TestClient, issued: IssuedToken) -> None:
    body = {"accessToken": issued.access_token, "refreshToken": issued.refresh_token}
    response = post_renewal(client, issued)
    assert response.status_code == 200
    renewed = response.json()
    assert renewed["tokenId"] == issued.token_id
    assert renewed["tokenExpiryTimestamp"] == int(
        (T0 + timedelta(minutes=30)).timestamp()
    )
    assert renewed["accessToken"] != issued.access_token
    assert ask(client, renewed["accessToken"], "/Client").status_code == 200
    old = ask(client, issued.access_token, "/Client")
    assert (old.status_code, old.json()) == (401, {"reason": "revoked"})

    reused = client.post(
        "/V4/AccessToken/Renew", json=body, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert reused.status_code == 401
    assert reused.json() == {"reason": "refresh_reused_chain_revoked"}
    assert ask(client, renewed["accessToken"], "/Client").status_code == 401


@pytest.mark.parametrize("ip", ["198.51.100.7", None])
def test_renewal_from_outside_the_allowlist_is_refused_and_changes_nothing(
    client: TestClient, service: TokenService, issued: IssuedToken, ip: str | None
) -> None:
    # None: no forwarding header, so the client is the gateway, 127.0.0.1,
    # which the token's allowlist does not admit either.
    refused = post_renewal(client, issued, ip=ip)
    assert (refused.status_code, refused.json()) == (403, {"reason": "ip_not_allowed"})
    assert refused.headers["cache-control"] == "no-store"
    token = service.show(issued.token_id)
    assert (token.generation, token.revoked) == (1, False)
    assert ask(client, issued.access_token, "/Client").status_code == 200

    # Nothing was revoked: the same pair still renews from inside.
    assert post_renewal(client, issued).status_code == 200


def test_renewal_of_a_superseded_pair_from_outside_revokes_nothing(
    client: TestClient, issued: IssuedToken
) -> None:
    renewed = post_renewal(client, issued).json()
    refused = post_renewal(client, issued, ip="198.51.100.7")
    assert (refused.status_code, refused.json()) == (403, {"reason": "ip_not_allowed"})
    assert ask(client, renewed["accessToken"], "/Client").status_code == 200


def test_renewal_judges_the_socket_peer_without_trusted_proxies(
    service: TokenService, issued: IssuedToken
) -> None:
    app = ForwardAuthApp(service)
    outside = client_for(app, peer=("198.51.100.7", 5))
    # A forwarding header from an untrusted peer is ignored.
    refused = post_renewal(outside, issued, ip="203.0.113.9")
    assert (refused.status_code, refused.json()) == (403, {"reason": "ip_not_allowed"})
    inside = client_for(app, peer=("203.0.113.50", 5))
    assert post_renewal(inside, issued, ip=None).status_code == 200


def test_renewal_from_a_client_that_cannot_be_told_is_bad_ip(
    client: TestClient, service: TokenService, issued: IssuedToken
) -> None:
    refused = post_renewal(client, issued, ip="not-an-address")
    assert (refused.status_code, refused.json()) == (400, {"reason": "bad_ip"})
    assert service.show(issued.token_id).generation == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"accessToken": "a"}',
        b'{"accessToken": 1, "refreshToken": "b"}',
        b'{"accessToken": "' + b"a" * 20000 + b'", "refreshToken": "b"}',
    ],
)
def test_malformed_renewal_is_400(client: TestClient, body: bytes) -> None:
    response = client.post("/V4/AccessToken/Renew", content=body)
    assert (response.status_code, response.json()) == (400, {"reason": "bad_request"})


def test_gateway_policy_is_judged_first(
    service: TokenService, issued: IssuedToken, tmp_path: Path
) -> None:
    policy = tmp_path / "gateway.toml"
    policy.write_text('scope = "all"\nip_allowlist = ["203.0.113.0/28"]\n')
    app = ForwardAuthApp(
        service,
        trusted_proxies=TrustedProxies("127.0.0.1"),
        policy=PolicyReloader(policy),
    )
    client = client_for(app)
    assert ask(client, issued.access_token, "/Client").status_code == 200
    outside = ask(client, None, "/Client", ip="203.0.113.200")
    assert outside.status_code == 403  # not 401: the gateway refuses first
    assert outside.json() == {"reason": "ip_not_allowed"}

    # Renewal too: a client the gateway refuses cannot keep a pair alive.
    refused = post_renewal(client, issued, ip="203.0.113.200")
    assert (refused.status_code, refused.json()) == (403, {"reason": "ip_not_allowed"})
    renewed = post_renewal(client, issued, ip="203.0.113.9")
    assert renewed.status_code == 200


def test_crashing_service_answers_503(exploding: Any) -> None:
    exploding.renew = lambda **_: None
    response = client_for(ForwardAuthApp(exploding)).get(
        "/auth", headers={"X-Original-URI": "/Client"}
    )
    assert (response.status_code, response.json()) == (503, {"reason": "unavailable"})


def test_lifespan_is_acknowledged(service: TokenService) -> None:
    sent: list[str] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, str]:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    asyncio.run(ForwardAuthApp(service)({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"service": object()}, "service must have a authorize"),
        ({"trusted_proxies": "127.0.0.1"}, "trusted_proxies must be"),
        ({"policy": "gateway.toml"}, "policy must be a PolicyReloader"),
        ({"bad_request_status": 500}, "bad_request_status must be 400 or 403"),
    ],
)
def test_configuration_is_checked_at_once(
    service: TokenService, arguments: dict[str, Any], message: str
) -> None:
    options = {"service": service, **arguments}
    with pytest.raises(PolicyTypeError, match=message):
        ForwardAuthApp(**options)


def test_store_failure_during_renewal_is_503(
    service: TokenService, issued: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy.tokens import TokenStoreError

    def broken(**_: object) -> None:
        raise TokenStoreError("database is locked")

    monkeypatch.setattr(service, "renew", broken)
    body = {"accessToken": issued.access_token, "refreshToken": issued.refresh_token}
    response = client_for(ForwardAuthApp(service)).post(
        "/V4/AccessToken/Renew", json=body
    )
    assert (response.status_code, response.json()) == (503, {"reason": "unavailable"})


def test_client_gone_before_the_body_is_a_bad_request(service: TokenService) -> None:
    sent: list[Any] = []

    async def receive() -> dict[str, str]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/V4/AccessToken/Renew", "method": "POST"}
    asyncio.run(ForwardAuthApp(service)(scope, receive, send))
    assert sent[0]["status"] == 400


def test_websocket_is_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass  # pragma: no cover - refused before this
    assert closed.value.code == 1008


def test_forwarding_headers_over_the_limit_are_named_in_the_detail(
    service: TokenService, issued: IssuedToken
) -> None:
    small = TrustedProxies("127.0.0.1", max_header_bytes=32)
    app = ForwardAuthApp(service, trusted_proxies=small)
    headers = {
        "X-Original-URI": "/Client",
        "Authorization": f"Bearer {issued.access_token}",
        "X-Forwarded-For": "203.0.113.9, " * 4,
    }
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/auth",
        "client": GATEWAY,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    decision = app.decide(scope)
    assert decision.reason.value == "bad_ip"
    assert decision.detail == (
        "forwarding headers must be at most 32 characters in all, got at least "
        "52; the client address cannot be told"
    )
    response = client_for(app).get("/", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"reason": "bad_ip"}


def test_a_malformed_forwarding_header_is_told_apart_from_the_limit(
    service: TokenService, issued: IssuedToken
) -> None:
    app = ForwardAuthApp(service, trusted_proxies=TrustedProxies("127.0.0.1"))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/auth",
        "client": GATEWAY,
        "headers": [
            (b"x-original-uri", b"/Client"),
            (b"authorization", f"Bearer {issued.access_token}".encode()),
            (b"x-forwarded-for", b"unknown"),
        ],
    }
    decision = app.decide(scope)
    assert decision.reason.value == "bad_ip"
    assert decision.detail.startswith("the X-Forwarded-For header must name")
    assert "at most" not in decision.detail
