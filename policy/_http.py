"""What every HTTP adapter shares: reading the token, answering a denial.

Pure and framework-free, so the ASGI middleware, the WSGI middleware and the
forward-auth server answer alike:

===============================================  ======  =================
reasons                                          status  extra header
===============================================  ======  =================
missing_token, unknown_token, not_yet_valid,     401     ``WWW-Authenticate:
access_expired_renewable, expired, revoked,              Bearer error=
refresh_reused_chain_revoked                             "invalid_token"``
ip_not_allowed, out_of_scope                     403
bad_path, bad_ip, bad_method                     400
unavailable                                      503
===============================================  ======  =================

A denial's body is ``{"reason": "<reason>"}`` and nothing else: the detail
names rules and addresses and stays in the decision for the operator's log,
and exception text is never sent.

A credential header value longer than :data:`MAX_CREDENTIAL` characters is
refused whole, never cut: the request is denied as ``unknown_token``, as
for any other value that is no token of ours.  ``missing_token`` would
tell a client probing the limit that its header was not read at all, and
would invite a retry with a shorter one; ``unknown_token`` says only that
what was presented is not a valid token.  The detail names the limit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Protocol

from policy._decision import Decision, Reason
from policy._errors import PolicyTypeError
from policy._forwarded import TrustedProxies

__all__ = [
    "DECISION_KEY",
    "MAX_CREDENTIAL",
    "STATUS_BY_REASON",
    "Authorizer",
    "Denial",
    "TokenRead",
    "authorize",
    "checked_config",
    "denial",
    "explain_bad_ip",
    "read_token",
]

_log = logging.getLogger("policy.gateway")

# Where adapters put the decision of an allowed request for the app: the
# WSGI environ key, and the ASGI scope key (also under scope["state"]).
DECISION_KEY: Final = "policy.decision"

_UNAUTHORIZED = (
    Reason.MISSING_TOKEN,
    Reason.UNKNOWN_TOKEN,
    Reason.NOT_YET_VALID,
    Reason.ACCESS_EXPIRED_RENEWABLE,
    Reason.EXPIRED,
    Reason.REVOKED,
    Reason.REFRESH_REUSED_CHAIN_REVOKED,
)
STATUS_BY_REASON: Final[Mapping[Reason, int]] = MappingProxyType(
    {
        Reason.ALLOWED: 200,
        **dict.fromkeys(_UNAUTHORIZED, 401),
        Reason.IP_NOT_ALLOWED: 403,
        Reason.OUT_OF_SCOPE: 403,
        Reason.BAD_PATH: 400,
        Reason.BAD_IP: 400,
        Reason.BAD_METHOD: 400,
        Reason.UNAVAILABLE: 503,
    }
)

# RFC 6750 section 3.1: the error code for an expired, revoked or otherwise
# unusable token; a missing token gets it too, since Commvault's clients
# treat any 401 alike.
_CHALLENGE: Final = 'Bearer error="invalid_token"'

# Longest credential header value accepted; a real token is under 70
# characters.  A longer value is refused whole (see the module docstring).
MAX_CREDENTIAL: Final = 4096


class Authorizer(Protocol):
    """What the adapters call: :class:`~policy.tokens.TokenService` fits."""

    def authorize(
        self, *, access_token: str | None, ip: object, path: str, method: str = "GET"
    ) -> Decision:
        """Decide one request; must deny, not raise, when it cannot decide."""
        ...


def checked_config(
    app: object, authorizer: object, trusted_proxies: object, *, kind: str
) -> TrustedProxies:
    """Validate a middleware's configuration; return the proxies to trust.

    ``kind`` names the app in the error, such as ``"an ASGI app"``.

    Raises:
        PolicyTypeError: ``app`` is not callable, ``authorizer`` has no
            ``authorize`` method, or ``trusted_proxies`` is neither
            :class:`TrustedProxies` nor None.
    """
    if not callable(app):
        raise PolicyTypeError(f"app must be {kind}, got {type(app).__name__}")
    if not callable(getattr(authorizer, "authorize", None)):
        raise PolicyTypeError(
            "authorizer must have an authorize() method, "
            f"got {type(authorizer).__name__}"
        )
    if trusted_proxies is None:
        # No proxy is trusted: the socket peer is the client.
        return TrustedProxies()
    if not isinstance(trusted_proxies, TrustedProxies):
        raise PolicyTypeError(
            "trusted_proxies must be TrustedProxies or None, "
            f"got {type(trusted_proxies).__name__}"
        )
    return trusted_proxies


@dataclass(frozen=True, slots=True)
class Denial:
    """The HTTP response for a denial.

    Attributes:
        status: 400, 401, 403 or 503.
        headers: Response headers, names in lower case.
        body: The JSON body, ``{"reason": ...}``.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def denial(decision: Decision, *, status: int | None = None) -> Denial:
    """The response that refuses a request, for ``decision``'s reason.

    Args:
        decision: A denial.
        status: Overrides the status of the reason's row in the table.

    Returns:
        The response; ``status`` from :data:`STATUS_BY_REASON`, 503 for a
        reason not in it (fail closed).
    """
    code = STATUS_BY_REASON.get(decision.reason, 503) if status is None else status
    body = json.dumps({"reason": decision.reason.value}).encode("ascii")
    headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("cache-control", "no-store"),
    ]
    if code == 401:
        headers.append(("www-authenticate", _CHALLENGE))
    return Denial(code, tuple(headers), body)


@dataclass(frozen=True, slots=True)
class TokenRead:
    """The credential of a request, as read from its headers.

    Attributes:
        token: The token, or None when none was presented.
        conflict: True when headers presented different tokens; the request
            is then refused as ``unknown_token``, whichever one is right.
        too_long: True when a credential header value is longer than
            :data:`MAX_CREDENTIAL`; the request is then refused as
            ``unknown_token``, and ``token`` is None.
    """

    token: str | None
    conflict: bool = False
    too_long: bool = False

    def __repr__(self) -> str:
        shown = "None" if self.token is None else "'***'"
        return (
            f"TokenRead(token={shown}, conflict={self.conflict}, "
            f"too_long={self.too_long})"
        )


def read_token(headers: Iterable[tuple[str, str]]) -> TokenRead:
    """Read the access token from ``Authorization`` or ``Authtoken``.

    Accepted: ``Authorization: Bearer <token>``, ``Authtoken: Bearer
    <token>``, and ``Authtoken: <token>`` or ``Authtoken: QSDK <token>`` as
    Commvault's SDK and its login responses write it.  The
    scheme is matched without regard to case (RFC 9110 section 11.1).
    Another scheme (``Authorization: Basic ...``) presents no token.  A
    value longer than :data:`MAX_CREDENTIAL` characters, of any scheme, is
    not read: ``too_long`` is set instead.
    """
    found: set[str] = set()
    for name, value in headers:
        key = name.lower()
        if key not in ("authorization", "authtoken"):
            continue
        if len(value) > MAX_CREDENTIAL:
            return TokenRead(None, too_long=True)
        token = _credential(value, bare_allowed=key == "authtoken")
        if token is not None:
            found.add(token)
    if len(found) > 1:
        return TokenRead(None, conflict=True)
    return TokenRead(next(iter(found), None))


def _credential(value: str, *, bare_allowed: bool) -> str | None:
    """The token in one header value, or None."""
    text = value.strip(" \t")
    scheme, _, rest = text.partition(" ")
    if scheme.lower() == "bearer" or (bare_allowed and scheme.lower() == "qsdk"):
        token = rest.strip(" \t")
        return token or None
    if bare_allowed and text and " " not in text:
        return text
    return None


def authorize(
    authorizer: Authorizer,
    *,
    read: TokenRead,
    ip: str | None,
    path: str,
    method: str,
    ip_refusal: str | None = None,
) -> Decision:
    """Ask ``authorizer``, turning a conflict or a crash into a denial.

    ``ip_refusal`` says why ``ip`` is None (from
    :func:`~policy._forwarded.resolve_client`); it becomes the detail of a
    ``bad_ip`` denial.
    """
    if read.too_long:
        return Decision(
            allowed=False,
            reason=Reason.UNKNOWN_TOKEN,
            detail=f"a credential header must be at most {MAX_CREDENTIAL} "
            "characters, got more; it was not read",
            ip=ip,
            method=method,
        )
    if read.conflict:
        return Decision(
            allowed=False,
            reason=Reason.UNKNOWN_TOKEN,
            detail="the Authorization and Authtoken headers present different tokens",
            ip=ip,
            method=method,
        )
    try:
        decision = authorizer.authorize(
            access_token=read.token, ip=ip, path=path, method=method
        )
        return explain_bad_ip(decision, ip_refusal)
    except Exception as error:
        # Any failure must deny, and must not reach the client as text.
        # The type only: the message could quote the token or a path.
        _log.warning("the authorizer failed, request denied: %s", type(error).__name__)
        return Decision(
            allowed=False,
            reason=Reason.UNAVAILABLE,
            detail=f"the authorizer failed with {type(error).__name__}",
            ip=ip,
            method=method,
        )


def explain_bad_ip(decision: Decision, ip_refusal: str | None) -> Decision:
    """``decision``, its detail replaced by ``ip_refusal`` if it is bad_ip.

    The engine only sees that no client address was given; the forwarding
    headers' reader knows why, and the operator needs that in the detail.
    """
    if ip_refusal is None or decision.allowed or decision.reason is not Reason.BAD_IP:
        return decision
    return decision.replace(detail=ip_refusal)
