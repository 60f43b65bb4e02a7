"""The ASGI middleware, under Starlette with Starlette's own test client."""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import pytest

starlette = pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 and still works with httpx; either does.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: E402

from policy._decision import Decision, Reason  # noqa: E402
from policy._errors import PolicyTypeError  # noqa: E402
from policy.asgi import PolicyMiddleware, TrustedProxies, asgi_target  # noqa: E402

CLIENT = ("203.0.113.9", 50000)


async def echo(request: Request) -> JSONResponse:
    decision: Decision = request.state.policy_decision
    same = request.scope["policy.decision"] is decision
    return JSONResponse({"reason": decision.reason.value, "same": same})


async def socket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def make_client(authorizer: Any, **options: Any) -> TestClient:
    app = Starlette(
        routes=[
            Route("/{rest:path}", echo, methods=["GET", "POST", "DELETE"]),
            WebSocketRoute("/ws", socket_echo),
        ],
        middleware=[Middleware(PolicyMiddleware, authorizer=authorizer, **options)],
    )
    return TestClient(app, client=CLIENT)


def test_allowed_request_reaches_the_app_with_its_decision(recorder: Any) -> None:
    client = make_client(recorder)
    response = client.get("/Client/5", headers={"Authorization": "Bearer abc"})
    assert response.status_code == 200
    assert response.json() == {"reason": "allowed", "same": True}
    call = recorder.calls[0]
    assert (call.access_token, call.ip, call.path, call.method) == (
        "abc",
        "203.0.113.9",
        "/Client/5",
        "GET",
    )


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"Authorization": "Bearer abc"}, "abc"),
        ({"Authorization": "bearer   abc  "}, "abc"),
        ({"Authtoken": "Bearer abc"}, "abc"),
        ({"Authtoken": "abc"}, "abc"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"Authorization": "Bearer"}, None),
        ({}, None),
        ({"Authorization": "Bearer abc", "Authtoken": "abc"}, "abc"),
    ],
)
def test_token_is_read_from_either_header(
    recorder: Any, headers: dict[str, str], token: str | None
) -> None:
    make_client(recorder).get("/x", headers=headers)
    assert recorder.calls[0].access_token == token


def test_two_different_tokens_are_refused_unknown(recorder: Any) -> None:
    client = make_client(recorder)
    response = client.get("/x", headers={"Authorization": "Bearer a", "Authtoken": "b"})
    assert response.status_code == 401
    assert response.json() == {"reason": "unknown_token"}
    assert recorder.calls == []


def test_raw_path_is_judged_not_the_decoded_one(recorder: Any) -> None:
    make_client(recorder).get("/plan%2F..%2FClient?x=1")
    assert recorder.calls[0].path == "/plan%2F..%2FClient"


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (Reason.MISSING_TOKEN, 401),
        (Reason.UNKNOWN_TOKEN, 401),
        (Reason.ACCESS_EXPIRED_RENEWABLE, 401),
        (Reason.EXPIRED, 401),
        (Reason.REVOKED, 401),
        (Reason.REFRESH_REUSED_CHAIN_REVOKED, 401),
        (Reason.NOT_YET_VALID, 401),
        (Reason.IP_NOT_ALLOWED, 403),
        (Reason.OUT_OF_SCOPE, 403),
        (Reason.BAD_PATH, 400),
        (Reason.BAD_IP, 400),
        (Reason.BAD_METHOD, 400),
        (Reason.UNAVAILABLE, 503),
    ],
)
def test_denials_answer_status_and_reason_only(
    recorder: Any, reason: Reason, status: int
) -> None:
    recorder.reason = reason
    response = make_client(recorder).post("/Client", headers={"Authtoken": "abc"})
    assert response.status_code == status
    assert response.json() == {"reason": reason.value}
    assert response.headers["cache-control"] == "no-store"
    challenge = response.headers.get("www-authenticate")
    assert challenge == ('Bearer error="invalid_token"' if status == 401 else None)
    assert recorder.calls[0].method == "POST"


def test_a_crashing_authorizer_denies_without_leaking(
    exploding: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="policy"):
        response = make_client(exploding).get(
            "/x", headers={"Authorization": "Bearer s3cret"}
        )
    assert response.status_code == 503
    assert response.text == '{"reason": "unavailable"}'
    assert "s3cret" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_spoofed_forwarded_for_from_untrusted_peer_changes_nothing(
    recorder: Any,
) -> None:
    client = make_client(recorder, trusted_proxies=TrustedProxies("10.0.0.0/8"))
    client.get("/x", headers={"X-Forwarded-For": "10.1.1.1"})
    assert recorder.calls[0].ip == "203.0.113.9"


def test_forwarded_for_from_trusted_peer_is_read(recorder: Any) -> None:
    client = make_client(recorder, trusted_proxies=TrustedProxies("203.0.113.0/24"))
    client.get("/x", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.1"})
    assert recorder.calls[0].ip == "198.51.100.7"


def test_unknown_client_address_reaches_the_authorizer_as_none(
    recorder: Any,
) -> None:
    app = Starlette(routes=[Route("/x", echo)])
    client = TestClient(PolicyMiddleware(app, authorizer=recorder))
    client.get("/x")  # Starlette's default peer is the name "testclient"
    assert recorder.calls[0].ip is None


def test_websocket_allowed_and_refused(recorder: Any) -> None:
    client = make_client(recorder)
    with client.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "hello"
    recorder.reason = Reason.OUT_OF_SCOPE
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass  # pragma: no cover - the connection is refused before this
    assert closed.value.code == 1008


def test_lifespan_passes_through(recorder: Any) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = PolicyMiddleware(app, authorizer=recorder)
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]
    assert recorder.calls == []


def test_target_without_raw_path_is_re_encoded() -> None:
    assert asgi_target({"path": "/a b/%/c;d"}) == "/a%20b/%25/c%3Bd"
    assert asgi_target({"raw_path": b"/a%2Fb", "path": "/a/b"}) == "/a%2Fb"
    assert asgi_target({}) == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"authorizer": object()}, "authorizer must have an authorize"),
        ({"trusted_proxies": ["10.0.0.1"]}, "trusted_proxies must be TrustedProx"),
    ],
)
def test_configuration_is_checked_at_once(
    recorder: Any, options: dict[str, Any], message: str
) -> None:
    arguments = {"authorizer": recorder, **options}
    with pytest.raises(PolicyTypeError, match=message):
        PolicyMiddleware(echo, **arguments)  # type: ignore[arg-type]
    with pytest.raises(PolicyTypeError, match="app must be an ASGI app, got int"):
        PolicyMiddleware(3, authorizer=recorder)  # type: ignore[arg-type]
