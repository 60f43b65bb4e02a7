"""``policy token ...`` and ``policy authorize``: tokens on the SQLite store.

The store is ``--db``, else ``$POLICY_TOKENS_DB``, else
``$XDG_DATA_HOME/policy/tokens.db`` (``~/.local/share/policy/tokens.db``).
Output is one JSON object per line.
Secrets are printed once, by ``create`` and ``renew``, and written nowhere
else.  To keep a secret out of process listings, pass it in the environment
(``POLICY_TOKEN``, ``POLICY_REFRESH_TOKEN``) or give ``-`` and write it on
stdin, one secret a line (access token first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from policy._errors import PolicyError, echo
from policy._files import read_allowlist_file
from policy._redact import redact
from policy.cli._common import EXIT_NO, EXIT_YES, Subparsers, fail
from policy.tokens import (
    FOREVER,
    RenewalDenied,
    SQLiteStore,
    TokenService,
    as_utc,
)
from policy.tokens._lifetimes import SCOPE_IDS, Forever

__all__ = ["default_db", "register"]

DB_ENV = "POLICY_TOKENS_DB"
TOKEN_ENV = "POLICY_TOKEN"  # noqa: S105 - a variable name, not a secret
REFRESH_ENV = "POLICY_REFRESH_TOKEN"


def default_db() -> Path:
    """The store used when ``--db`` is not given."""
    from_env = os.environ.get(DB_ENV)
    if from_env:
        return Path(from_env)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "policy" / "tokens.db"


def register(subparsers: Subparsers) -> None:
    """Add the ``token`` and ``authorize`` subcommands."""
    token = subparsers.add_parser(
        "token",
        help="create, renew, revoke and inspect access tokens",
        # The module's docstring, without its reStructuredText quoting.
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = token.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    _register_create(actions)
    _register_renew(actions)
    _register_simple(actions)
    _register_authorize(subparsers)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, help=f"the token store (default: ${DB_ENV} or ~/.local/…)"
    )


def _register_create(actions: Subparsers) -> None:
    parser = actions.add_parser("create", help="create a token; prints its secrets")
    _db_option(parser)
    parser.add_argument("--user", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--scope", required=True, choices=SCOPE_IDS)
    parser.add_argument(
        "--endpoint", action="append", help="an endpoint of a custom scope; repeat"
    )
    parser.add_argument("--allowlist", type=Path, metavar="FILE")
    parser.add_argument("--renewable-until", metavar="ISO|forever")
    parser.add_argument("--expires-at", metavar="ISO")
    parser.set_defaults(run=_create)


def _register_renew(actions: Subparsers) -> None:
    parser = actions.add_parser("renew", help="renew a pair; prints the new one")
    _db_option(parser)
    parser.add_argument("--access-token", metavar="TOKEN|-", help=f"or ${TOKEN_ENV}")
    parser.add_argument("--refresh-token", metavar="TOKEN|-", help=f"or ${REFRESH_ENV}")
    parser.add_argument(
        "--ip",
        help="the address of the client asking to renew; the token's allowlist "
        "must admit it (default: not checked)",
    )
    parser.set_defaults(run=_renew)


def _register_simple(actions: Subparsers) -> None:
    revoke = actions.add_parser("revoke", help="revoke one token or all of a user")
    _db_option(revoke)
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("token_id", nargs="?")
    target.add_argument("--all-of", metavar="USER")
    revoke.set_defaults(run=_revoke)
    listing = actions.add_parser("list", help="list a user's tokens (no secrets)")
    _db_option(listing)
    listing.add_argument("--user", required=True)
    listing.set_defaults(run=_list)
    for name, run, text in (
        ("show", _show, "show one token's metadata"),
        ("clock", _clock, "show a token's deadlines and which ends first"),
    ):
        parser = actions.add_parser(name, help=text)
        _db_option(parser)
        parser.add_argument("token_id")
        parser.set_defaults(run=run)


def _register_authorize(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "authorize",
        help="decide one request made with an access token",
        description="Exit 0 if allowed, 1 if denied, 2 if unusable. The token "
        f"comes from --token, ${TOKEN_ENV}, or stdin with --token -.",
    )
    _db_option(parser)
    parser.add_argument("--token", metavar="TOKEN|-")
    parser.add_argument("--ip", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--method", default="GET")
    parser.set_defaults(run=_authorize)


# -- running -------------------------------------------------------------------


def _service(args: argparse.Namespace, *, create: bool = False) -> TokenService:
    """The service over the store; only ``create`` may start a new store.

    Every other command reads or changes tokens that must already exist, so
    a mistyped ``--db`` is an error rather than a fresh empty store (which
    would then answer ``unknown_token`` and hide the typo), and a file that
    is not a token store is refused without being written to.
    """
    path = Path(args.db or default_db())
    if not create and not (path.is_file() and path.stat().st_size > 0):
        raise PolicyError(
            f"no token store at {redact(str(path))}: create a token first with "
            "'policy token create', or point --db or POLICY_TOKENS_DB at the store"
        )
    # Without create, a file that is not already a store (another program's
    # database) is refused untouched rather than given the store's tables.
    return TokenService(SQLiteStore(path, create=create))


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=True))


def _instant(text: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PolicyError(
            f"{option} must be an ISO 8601 time with an offset, got {echo(text)!r}"
        ) from None
    return as_utc(parsed, name=option)


def _create(args: argparse.Namespace) -> int:
    try:
        until: datetime | Forever | None = None
        if args.renewable_until == FOREVER:
            until = FOREVER
        elif args.renewable_until is not None:
            until = _instant(args.renewable_until, "--renewable-until")
        expires = (
            None
            if args.expires_at is None
            else _instant(args.expires_at, "--expires-at")
        )
        allowlist = None
        if args.allowlist is not None:
            allowlist = read_allowlist_file(args.allowlist)
        issued = _service(args, create=True).create(
            user=args.user,
            name=args.name,
            scope=args.scope,
            endpoints=args.endpoint,
            allowlist=allowlist,
            renewable_until=until,
            expires_at=expires,
        )
    except PolicyError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot read {redact(str(error.filename))}: {error.strerror}")
    _emit(_issued(issued))
    return EXIT_YES


def _issued(issued: Any) -> dict[str, Any]:
    return {
        "token_id": issued.token_id,
        "name": issued.name,
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "access_expires_at": issued.access_expires_at.isoformat(),
        "renewable_until": None
        if issued.renewable_until is None
        else issued.renewable_until.isoformat(),
        "generation": issued.generation,
    }


def _secret(given: str | None, env: str) -> str:
    """The secret from the option, ``-`` for one stdin line, or the env var."""
    if given == "-":
        return sys.stdin.readline().strip()
    if given is not None:
        return given
    return os.environ.get(env, "")


def _renew(args: argparse.Namespace) -> int:
    access = _secret(args.access_token, TOKEN_ENV)
    refresh = _secret(args.refresh_token, REFRESH_ENV)
    if not access or not refresh:
        return fail(
            "renew needs both secrets: --access-token and --refresh-token "
            f"(- reads one from stdin), or {TOKEN_ENV} and {REFRESH_ENV}"
        )
    try:
        issued = _service(args).renew(
            access_token=access, refresh_token=refresh, ip=args.ip
        )
    except RenewalDenied as denied:
        _emit(denied.decision.to_dict())
        return EXIT_NO
    except PolicyError as error:
        return fail(str(error))
    _emit(_issued(issued))
    return EXIT_YES


def _revoke(args: argparse.Namespace) -> int:
    try:
        service = _service(args)
        if args.all_of is not None:
            _emit({"revoked": service.revoke_all(args.all_of)})
        else:
            was_live = service.revoke(args.token_id)
            _emit({"revoked": [args.token_id] if was_live else []})
    except PolicyError as error:
        return fail(str(error))
    return EXIT_YES


def _list(args: argparse.Namespace) -> int:
    try:
        tokens = _service(args).tokens_of(args.user)
    except PolicyError as error:
        return fail(str(error))
    for token in tokens:
        _emit(token.to_dict())
    return EXIT_YES


def _show(args: argparse.Namespace) -> int:
    try:
        _emit(_service(args).show(args.token_id).to_dict())
    except PolicyError as error:
        return fail(str(error))
    return EXIT_YES


def _clock(args: argparse.Namespace) -> int:
    try:
        _emit(_service(args).clock_of(args.token_id).to_dict())
    except PolicyError as error:
        return fail(str(error))
    return EXIT_YES


def _authorize(args: argparse.Namespace) -> int:
    token = _secret(args.token, TOKEN_ENV)
    try:
        service = _service(args)
    except PolicyError as error:
        return fail(str(error))
    decision = service.authorize(
        access_token=token or None, ip=args.ip, path=args.path, method=args.method
    )
    _emit(decision.to_dict())
    return EXIT_YES if decision.allowed else EXIT_NO
