"""``policy serve``: the forward-auth service, on uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

from policy._errors import PolicyError, shown
from policy._forwarded import ForwardedHeader, TrustedProxies
from policy._policy import AccessPolicy
from policy._redact import redact
from policy._reload import PolicyReloader
from policy._scope import Scope
from policy.cli._common import EXIT_YES, Subparsers, fail
from policy.server import ForwardAuthApp
from policy.tokens import SQLiteStore, TokenService

__all__ = ["build_app", "register"]


def register(subparsers: Subparsers) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the forward-auth service for API gateways",
        description="Answer nginx auth_request, Traefik ForwardAuth and Envoy "
        "ext_authz checks from a token store, and serve POST "
        "/V4/AccessToken/Renew.  Needs uvicorn (the 'gateway' extra).",
    )
    parser.add_argument("--db", required=True, type=Path, metavar="TOKENS.db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8181)
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ENTRY",
        help="a proxy whose X-Forwarded-For or Forwarded header is believed, "
        "in the allowlist grammar (address, range, CIDR); repeatable",
    )
    parser.add_argument(
        "--forwarded-header",
        choices=get_args(ForwardedHeader),
        default="either",
        help="the header the trusted proxies write (default: either, refusing "
        "a request that carries both)",
    )
    parser.add_argument(
        "--api-base",
        action="append",
        default=[],
        metavar="PATH",
        help="a base path the API is served under, such as /commandcenter/api; "
        "endpoints are matched below it; repeatable",
    )
    parser.add_argument(
        "--case-sensitive",
        action="store_true",
        help="match endpoints by exact case (Commvault routes /Client and "
        "/client alike, so the default is not to)",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="P.toml",
        help="a gateway-wide policy every request must also pass; reloaded "
        "when the file changes",
    )
    parser.add_argument(
        "--bad-request-status",
        type=int,
        choices=(400, 403),
        default=400,
        help="status for a path, address or method that cannot be judged; "
        "use 403 behind nginx, which turns other statuses into 500",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
    )
    parser.add_argument("--access-log", action="store_true")
    parser.set_defaults(run=run)


def _port(text: str) -> int:
    """A TCP port number, 1 to 65535 (0 would pick one nobody is told)."""
    port = int(text) if text.isascii() and text.isdigit() else -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1 to 65535, got {text!r}")
    return port


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``, of the family its address has.

    Raises:
        OSError: the host does not resolve, or the address cannot be bound.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


def build_app(args: argparse.Namespace) -> ForwardAuthApp:
    """Build the service from parsed arguments.

    Raises:
        PolicyError: The token store, a trusted proxy entry or the policy
            file cannot be used.
    """
    if not args.db.is_file():
        raise PolicyError(f"token store {redact(str(args.db))} does not exist")
    if any(not entry.strip() for entry in args.trusted_proxy):
        # An empty entry trusts nobody; it is almost certainly an unset
        # variable in a service file, which should not start silently.
        raise PolicyError("--trusted-proxy must name an address, range or CIDR, got ''")
    # The service builds each token's policy on first use; building one now
    # refuses a malformed API base at startup instead of at every request.
    AccessPolicy(scope=Scope.from_id("all"), api_base=args.api_base)
    proxies = TrustedProxies(args.trusted_proxy, header=args.forwarded_header)
    policy = None if args.policy is None else PolicyReloader(args.policy)
    return ForwardAuthApp(
        TokenService(
            # Serving never creates or migrates a store: a mistyped --db must
            # not turn some other SQLite file into an empty token store.
            SQLiteStore(args.db, create=False),
            api_base=args.api_base,
            case_sensitive=args.case_sensitive,
        ),
        trusted_proxies=proxies,
        policy=policy,
        bad_request_status=args.bad_request_status,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit 2 when the service cannot start."""
    try:
        import uvicorn
    except ImportError:
        return fail("serve needs uvicorn: pip install 'access-policy[gateway]'")
    try:
        app = build_app(args)
    except PolicyError as error:
        return fail(str(error))

    # Bind first, so that an address in use or a bad host is an error on
    # stderr with status 2, and "listening" is said only once it is true.
    try:
        listener = _listen(args.host, args.port)
    except OSError as error:
        reason = error.strerror or str(error)
        return fail(f"cannot listen on {args.host}:{args.port}: {reason}")
    trusted = ", ".join(args.trusted_proxy) or "none"
    listening = (
        f"policy serve: listening on http://{args.host}:{args.port} "
        f"(token store {args.db}; trusted proxies: {trusted})"
    )
    print(shown(listening), file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app,
        # The service reads forwarding headers itself, from trusted proxies
        # only; uvicorn's own reading would replace the peer before that.
        proxy_headers=False,
        server_header=False,
        access_log=args.access_log,
        log_level=args.log_level,
        lifespan="on",
    )
    try:
        with _reporting(args.log_level):
            uvicorn.Server(config).run(sockets=[listener])
    except SystemExit as stopped:
        if stopped.code not in (None, 0):
            return fail(f"the server stopped on an error (status {stopped.code})")
    finally:
        listener.close()
    return EXIT_YES


@contextlib.contextmanager
def _reporting(level: str) -> Iterator[None]:
    """Send the library's own records to stderr at ``level`` while serving.

    The library only logs (a policy file refused on reload, a renewal that
    failed) and leaves the handling to its adapter; this is the adapter, and
    an operator must see that the policy in force is not the file's.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("policy serve: %(levelname)s: %(message)s"))
    logger = logging.getLogger("policy")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    # uvicorn's access log (--access-log) quotes each request line, and an
    # Envoy check carries the client's own path: blank and escape it too.
    access = logging.getLogger("uvicorn.access")
    access.addFilter(_shown_safely)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        access.removeFilter(_shown_safely)


def _shown_safely(record: logging.LogRecord) -> bool:
    """Blank secrets and escape controls in a record's arguments; keep it."""
    if isinstance(record.args, tuple):
        record.args = tuple(
            shown(arg) if isinstance(arg, str) else arg for arg in record.args
        )
    return True
