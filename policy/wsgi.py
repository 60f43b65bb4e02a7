"""WSGI middleware: every request passes the policy before the app sees it.

Works with any WSGI application (Flask, Django) and needs none::

    from policy.wsgi import PolicyMiddleware, TrustedProxies
    from policy.tokens import SQLiteStore, TokenService

    service = TokenService(SQLiteStore("tokens.db"))
    app.wsgi_app = PolicyMiddleware(app.wsgi_app, authorizer=service,
                                    trusted_proxies=TrustedProxies("10.0.0.1"))

An allowed request reaches the app with its :class:`~policy.Decision` in
``environ["policy.decision"]`` (``request.environ`` in Flask).  A denied
request gets the status and JSON body of :mod:`policy._http`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from policy._forwarded import TrustedProxies
from policy._http import (
    DECISION_KEY,
    Authorizer,
    authorize,
    checked_config,
    denial,
    read_token,
)

__all__ = ["PolicyMiddleware", "TrustedProxies", "wsgi_headers", "wsgi_target"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
_PATH_SAFE = "/!$&'()*+,=:@~-._"
# CGI puts these two headers under names without the HTTP_ prefix.
_CGI_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def wsgi_headers(environ: Environ) -> list[tuple[str, str]]:
    """The request headers as ``(name, value)`` pairs, names in lower case.

    The server has already joined repeated header lines with ``", "``, which
    keeps the order of forwarding headers.
    """
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            headers.append((key[5:].replace("_", "-").lower(), value))
        elif key in _CGI_HEADERS and isinstance(value, str):
            headers.append((_CGI_HEADERS[key], value))
    return headers


def wsgi_target(environ: Environ) -> str:
    """The path as the client sent it, still percent-encoded.

    The raw request target is judged when the server gives it (``RAW_URI``
    from gunicorn and Werkzeug, ``REQUEST_URI`` from uWSGI and Werkzeug),
    since ``PATH_INFO`` is already decoded and would hide ``%2F``; otherwise
    ``SCRIPT_NAME`` and ``PATH_INFO`` re-encoded.
    """
    for key in ("RAW_URI", "REQUEST_URI"):
        raw = environ.get(key)
        if isinstance(raw, str) and raw:
            return raw
    # PEP 3333: the decoded bytes are carried as latin-1 characters.
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    raw_bytes = path.encode("latin-1", "replace")
    return quote(raw_bytes, safe=_PATH_SAFE)


class PolicyMiddleware:
    """Refuse requests the authorizer denies.

    Args:
        app: The WSGI application to protect.
        authorizer: Decides each request, such as a TokenService.
        trusted_proxies: Whose forwarding headers tell the client address;
            None: ``REMOTE_ADDR`` is the client.

    Raises:
        PolicyTypeError: ``app`` is not callable, ``authorizer`` has no
            ``authorize`` method, or ``trusted_proxies`` is the wrong type.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        authorizer: Authorizer,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        self.trusted_proxies = checked_config(
            app, authorizer, trusted_proxies, kind="a WSGI app"
        )
        self.app = app
        self.authorizer = authorizer

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Judge the request; call the app only when it is allowed."""
        headers = wsgi_headers(environ)
        client = self.trusted_proxies.resolve(environ.get("REMOTE_ADDR"), headers)
        decision = authorize(
            self.authorizer,
            read=read_token(headers),
            ip=client.address,
            path=wsgi_target(environ),
            method=str(environ.get("REQUEST_METHOD", "GET")),
            ip_refusal=client.refusal,
        )
        if decision.allowed:
            environ[DECISION_KEY] = decision
            return self.app(environ, start_response)

        answer = denial(decision)
        status = f"{answer.status} {_REASONS.get(answer.status, 'Service Unavailable')}"
        start_response(status, list(answer.headers))
        return [answer.body]
