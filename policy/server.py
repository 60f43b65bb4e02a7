"""The forward-auth service: gateways ask it whether a request may go through.

It answers the subrequests of nginx ``auth_request``, Traefik
``ForwardAuth`` and Envoy's HTTP ``ext_authz``: 200 to let a request through,
401 (with ``WWW-Authenticate: Bearer error="invalid_token"``) or 403 to
refuse it, 400 for a request that cannot be judged, 503 when the engine
cannot decide.  The original request is read from the headers those gateways
send:

=====================  ==============================================
header                 sent by
=====================  ==============================================
``X-Original-URI``     nginx (``proxy_set_header X-Original-URI
                       $request_uri``)
``X-Forwarded-Uri``    Traefik
``X-Original-Method``  nginx (``$request_method``)
``X-Forwarded-Method`` Traefik
(none)                 Envoy, with ``path_prefix: /ext_authz``: the
                       check's own path after the prefix, and method
=====================  ==============================================

Without a method header the method is taken to be GET: Commvault's scopes
name endpoints, not methods, so the answer does not depend on it.  More
than one URI (or method) header, even the same value twice, is
refused, and so is a check with neither a URI header nor the Envoy prefix:
a request the gateway and the service might read differently is not judged.
The client address is the socket peer unless it is a trusted proxy (see
:class:`~policy._forwarded.TrustedProxies`).  Every answer to a check
carries ``X-Policy-Reason``, which a gateway can copy to its own response
(nginx: ``auth_request_set $reason $upstream_http_x_policy_reason``); an
allowed one also carries ``X-Policy-Token-Id`` for the upstream's log.

nginx treats any status but 2xx, 401 and 403 from ``auth_request`` as an
error (it answers 500).  Pass ``bad_request_status=403`` to refuse
unjudgeable requests with 403 there instead.

Two paths are the service's own: ``GET /healthz`` and ``POST
/V4/AccessToken/Renew``, the renewal endpoint of Commvault's REST API, with
the body ``{"accessToken": ..., "refreshToken": ...}``.  A renewal is refused
(403 ``ip_not_allowed``) unless the token's allowlist admits the client
address, read as for a check.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, Literal, Protocol

from policy._decision import Decision, Reason
from policy._errors import PolicyTypeError
from policy._forwarded import TrustedProxies
from policy._http import Authorizer, authorize, denial, explain_bad_ip, read_token
from policy._reload import PolicyReloader
from policy.asgi import asgi_headers, asgi_target
from policy.tokens import IssuedToken, RenewalDenied, TokenError

__all__ = [
    "ENVOY_PREFIX",
    "HEALTH_PATH",
    "RENEW_PATH",
    "ForwardAuthApp",
    "Renewer",
    "TrustedProxies",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_log = logging.getLogger(__name__)

HEALTH_PATH: Final = "/healthz"
RENEW_PATH: Final = "/V4/AccessToken/Renew"
# Envoy's ext_authz sends the check with the original path after its
# path_prefix, which must be this one.
ENVOY_PREFIX: Final = "/ext_authz"
# A renewal body holds two tokens of under 70 characters each.
_MAX_RENEW_BODY: Final = 16 * 1024

_UNKNOWN_CLIENT: Final = Decision(
    allowed=False,
    reason=Reason.BAD_IP,
    detail="the client address of the renewal cannot be told",
)

_URI_HEADERS: Final = ("x-original-uri", "x-forwarded-uri")
_METHOD_HEADERS: Final = ("x-original-method", "x-forwarded-method")


class Renewer(Protocol):
    """Renews a pair: :class:`~policy.tokens.TokenService` fits."""

    def renew(
        self, *, access_token: str, refresh_token: str, ip: object | None = None
    ) -> IssuedToken:
        """Return the next pair, or raise RenewalDenied.

        ``ip`` is the client's address; a renewal from an address the
        token's allowlist does not admit must be refused.
        """
        ...


class _Service(Authorizer, Renewer, Protocol):
    """Both halves of the token service the server uses."""


class ForwardAuthApp:
    """The forward-auth ASGI application.

    Args:
        service: Decides requests and renews pairs (a TokenService).
        trusted_proxies: Whose forwarding headers tell the client address;
            None: the socket peer is the client.
        policy: A gateway-wide policy (a hot-reloaded file) that every
            request must also pass, judged before the token; None: none.
        bad_request_status: The status for bad_path, bad_ip and bad_method:
            400, or 403 for nginx, which turns a 400 into a 500.

    Raises:
        PolicyTypeError: An argument has the wrong type or value.
    """

    def __init__(
        self,
        service: _Service,
        *,
        trusted_proxies: TrustedProxies | None = None,
        policy: PolicyReloader | None = None,
        bad_request_status: Literal[400, 403] = 400,
    ) -> None:
        for method in ("authorize", "renew"):
            if not callable(getattr(service, method, None)):
                raise PolicyTypeError(
                    f"service must have a {method}() method, "
                    f"got {type(service).__name__}"
                )
        if trusted_proxies is not None and not isinstance(
            trusted_proxies, TrustedProxies
        ):
            raise PolicyTypeError(
                "trusted_proxies must be TrustedProxies or None, "
                f"got {type(trusted_proxies).__name__}"
            )
        if policy is not None and not isinstance(policy, PolicyReloader):
            raise PolicyTypeError(
                f"policy must be a PolicyReloader or None, got {type(policy).__name__}"
            )
        if bad_request_status not in (400, 403):
            raise PolicyTypeError(
                f"bad_request_status must be 400 or 403, got {bad_request_status!r}"
            )
        self.service = service
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.policy = policy
        self.bad_request_status = bad_request_status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer health checks, renewals and forward-auth checks."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            # Not a forward-auth call: refuse before accepting (RFC 6455
            # section 7.4.1, 1008 policy violation).
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return

        path, method = scope.get("path"), scope.get("method")
        if path == HEALTH_PATH and method in ("GET", "HEAD") and not _asks(scope):
            await _send_json(send, 200, {"status": "ok"})
        elif path == RENEW_PATH and method == "POST":
            await self._renew(scope, receive, send)
        else:
            await self._check(scope, send)

    def decide(self, scope: Scope) -> Decision:
        """Decide the original request a gateway asks about."""
        headers = asgi_headers(scope)
        client = self.trusted_proxies.resolve(_peer(scope), headers)
        ip = client.address
        targets = _values(headers, _URI_HEADERS)
        methods = _values(headers, _METHOD_HEADERS)
        if not targets:
            targets = _envoy_target(scope)
            methods = methods or [str(scope.get("method", ""))]
        refusal = _ambiguity(targets, methods, ip)
        if refusal is not None:
            return refusal
        target, method = targets[0], methods[0] if methods else "GET"

        if self.policy is not None:
            gate = self.policy.check(ip=ip, path=target, method=method)
            if not gate.allowed:
                return explain_bad_ip(gate, client.refusal)
        return authorize(
            self.service,
            read=read_token(headers),
            ip=ip,
            path=target,
            method=method,
            ip_refusal=client.refusal,
        )

    async def _check(self, scope: Scope, send: Send) -> None:
        decision = self.decide(scope)
        _log.debug(
            "forward-auth %s %s from %s: %s",
            decision.method,
            decision.path,
            decision.ip,
            decision.reason.value,
        )
        extra = [("x-policy-reason", decision.reason.value)]
        if decision.allowed:
            if decision.token_id is not None:
                extra.append(("x-policy-token-id", decision.token_id))
            await _send_json(send, 200, {"reason": "allowed"}, extra)
            return
        answer = denial(decision)
        status = answer.status
        if status == 400:
            status = self.bad_request_status
        headers = [*answer.headers, *extra]
        await _send(send, status, headers, answer.body)

    async def _renew(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, _MAX_RENEW_BODY)
        pair = _renewal_pair(body)
        if pair is None:
            await _send_json(send, 400, {"reason": "bad_request"})
            return
        # The token's allowlist judges the renewing client, whose address is
        # read as for a check; one that cannot be told is refused.
        ip = self.trusted_proxies.client_address(_peer(scope), asgi_headers(scope))
        if ip is None:
            answer = denial(_UNKNOWN_CLIENT)
            await _send(send, answer.status, list(answer.headers), answer.body)
            return
        # The gateway-wide policy binds renewal as it binds every request:
        # otherwise a client it refuses could keep a stolen pair alive.
        if self.policy is not None:
            gate = self.policy.check(ip=ip, path=asgi_target(scope), method="POST")
            if not gate.allowed:
                answer = denial(gate)
                await _send(send, answer.status, list(answer.headers), answer.body)
                return
        try:
            # Renewal writes, and may wait for another writer's lock:
            # off the event loop, so checks go on meanwhile.
            issued = await asyncio.to_thread(
                self.service.renew,
                access_token=pair[0],
                refresh_token=pair[1],
                ip=ip,
            )
        except RenewalDenied as refused:
            answer = denial(refused.decision)
            await _send(send, answer.status, list(answer.headers), answer.body)
            return
        except TokenError as error:
            _log.warning("renewal failed: %s", type(error).__name__)
            await _send_json(send, 503, {"reason": Reason.UNAVAILABLE.value})
            return
        await _send_json(send, 200, _renewed(issued), [("cache-control", "no-store")])


def _renewed(issued: IssuedToken) -> dict[str, object]:
    """The renewal answer, in the field names of Commvault's REST API."""
    until = issued.renewable_until
    return {
        "accessToken": issued.access_token,
        "refreshToken": issued.refresh_token,
        "tokenExpiryTimestamp": int(issued.access_expires_at.timestamp()),
        "accessExpiresAt": issued.access_expires_at.isoformat(),
        "renewableUntil": None if until is None else until.isoformat(),
        "tokenId": issued.token_id,
    }


def _renewal_pair(body: bytes | None) -> tuple[str, str] | None:
    """The two tokens of a renewal body, or None when it is malformed."""
    if body is None:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    access, refresh = document.get("accessToken"), document.get("refreshToken")
    if not isinstance(access, str) or not isinstance(refresh, str):
        return None
    return access, refresh


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _values(headers: list[tuple[str, str]], names: tuple[str, ...]) -> list[str]:
    """Every value sent under any of ``names``, in order."""
    return [value.strip(" \t") for name, value in headers if name.lower() in names]


def _envoy_target(scope: Scope) -> list[str]:
    """The original target of an Envoy check: its own, after the prefix."""
    own = asgi_target(scope)
    if not own.startswith(ENVOY_PREFIX + "/"):
        return []
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    target = own.removeprefix(ENVOY_PREFIX)
    return [f"{target}?{query}" if query else target]


def _ambiguity(
    targets: list[str], methods: list[str], ip: str | None
) -> Decision | None:
    """A refusal when the original URI or method is not exactly one value."""
    if len(targets) != 1 or not targets[0]:
        detail = (
            "the gateway sent no original URI (X-Original-URI, X-Forwarded-Uri, "
            f"or a check under {ENVOY_PREFIX}/)"
            if not targets or not targets[0]
            else "the gateway sent the original URI more than once"
        )
        return Decision(allowed=False, reason=Reason.BAD_PATH, detail=detail, ip=ip)
    if len(methods) > 1:
        return Decision(
            allowed=False,
            reason=Reason.BAD_METHOD,
            detail="the gateway sent the original method more than once",
            ip=ip,
        )
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown; there is nothing to set up."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send_json(
    send: Send,
    status: int,
    document: dict[str, object],
    extra: list[tuple[str, str]] | None = None,
) -> None:
    body = json.dumps(document).encode("utf-8")
    headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        *(extra or []),
    ]
    await _send(send, status, headers, body)


async def _send(
    send: Send, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _asks(scope: Scope) -> bool:
    """True when a gateway asks about an original request (names a part).

    A gateway wired to ``/healthz`` by mistake then gets a decision, not
    the health check's 200 that would let every request through.
    """
    return bool(_values(asgi_headers(scope), _URI_HEADERS + _METHOD_HEADERS))
