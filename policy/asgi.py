"""ASGI middleware: every HTTP and WebSocket request passes the policy first.

Works under any ASGI framework (Starlette, FastAPI) and needs none::

    from policy.asgi import PolicyMiddleware, TrustedProxies
    from policy.tokens import SQLiteStore, TokenService

    service = TokenService(SQLiteStore("tokens.db"))
    app = PolicyMiddleware(app, authorizer=service,
                           trusted_proxies=TrustedProxies("10.0.0.0/8"))

    # or, with Starlette: Starlette(middleware=[Middleware(
    #     PolicyMiddleware, authorizer=service)])

An allowed request reaches the app with its :class:`~policy.Decision` in
``scope["policy.decision"]`` and ``scope["state"]["policy_decision"]``
(``request.state.policy_decision`` in Starlette).  A denied HTTP request
gets the status and JSON body of :mod:`policy._http`; a denied WebSocket is
closed before it is accepted (code 1008, policy violation), which servers
answer with HTTP 403.  Lifespan events pass through untouched.

The authorizer is called inline, on the event loop: a TokenService over
SQLite answers from one read in WAL mode, which never waits for a writer.
An authorizer that may block for long belongs behind a thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from policy._decision import Decision
from policy._forwarded import TrustedProxies
from policy._http import (
    DECISION_KEY,
    Authorizer,
    authorize,
    checked_config,
    denial,
    read_token,
)

__all__ = ["PolicyMiddleware", "TrustedProxies", "asgi_headers", "asgi_target"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger(__name__)

# RFC 6455 section 7.4.1: 1008, the endpoint refuses by policy.
_WS_POLICY_VIOLATION = 1008
# Characters of a decoded path that stay as they are when re-encoding it.
_PATH_SAFE = "/!$&'()*+,=:@~-._"


def asgi_headers(scope: Scope) -> list[tuple[str, str]]:
    """The request headers as text pairs (ASGI sends latin-1 bytes)."""
    return [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
        for name, value in scope.get("headers", ())
    ]


def asgi_target(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded.

    ``raw_path`` is judged when the server gives it, since ``path`` is
    already decoded and would hide ``%2F``; otherwise ``path`` re-encoded.
    """
    raw = scope.get("raw_path")
    if isinstance(raw, bytes | bytearray) and raw:
        return bytes(raw).decode("latin-1")
    path = scope.get("path", "")
    return quote(path, safe=_PATH_SAFE) if isinstance(path, str) else ""


class PolicyMiddleware:
    """Refuse HTTP and WebSocket requests the authorizer denies.

    Args:
        app: The ASGI application to protect.
        authorizer: Decides each request, such as a TokenService.
        trusted_proxies: Whose forwarding headers tell the client address;
            None: the socket peer is the client.

    Raises:
        PolicyTypeError: ``app`` is not callable, or ``authorizer`` has no
            ``authorize`` method, or ``trusted_proxies`` is the wrong type.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authorizer: Authorizer,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        self.trusted_proxies = checked_config(
            app, authorizer, trusted_proxies, kind="an ASGI app"
        )
        self.app = app
        self.authorizer = authorizer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Judge HTTP and WebSocket requests; pass anything else through."""
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        headers = asgi_headers(scope)
        client = scope.get("client")
        peer = client[0] if client else None
        method = scope.get("method", "GET") if kind == "http" else "GET"
        client = self.trusted_proxies.resolve(peer, headers)
        decision = authorize(
            self.authorizer,
            read=read_token(headers),
            ip=client.address,
            path=asgi_target(scope),
            method=method,
            ip_refusal=client.refusal,
        )

        if decision.allowed:
            scope[DECISION_KEY] = decision
            scope.setdefault("state", {})["policy_decision"] = decision
            await self.app(scope, receive, send)
        elif kind == "websocket":
            _log.debug("websocket refused: %s", decision.reason.value)
            await send({"type": "websocket.close", "code": _WS_POLICY_VIOLATION})
        else:
            await _send_denial(send, decision)


async def _send_denial(send: Send, decision: Decision) -> None:
    """Send the one fixed response of a denial."""
    answer = denial(decision)
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [(k.encode(), v.encode()) for k, v in answer.headers],
        }
    )
    await send({"type": "http.response.body", "body": answer.body})
