"""Checks of the arguments of token management calls; no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from policy._allowlist import IPAllowlist
from policy._errors import PolicyTypeError, echo
from policy._redact import redact
from policy._scope import Scope
from policy.tokens._errors import TokenError, TokenPermissionError, token_error
from policy.tokens._lifetimes import SCOPE_IDS, ScopeId

__all__ = [
    "CREDENTIALS",
    "MAX_LABEL",
    "Credential",
    "allowlist_lines",
    "label",
    "refuse_secrets",
    "require_credential",
    "resolve_scope",
    "scope_id",
]

# How the caller of a management operation proved who they are.  Commvault
# refuses to create, edit or delete a token while authenticated by another
# access token, so a stolen token cannot mint or kill others.
Credential = Literal["password", "session", "access_token"]
CREDENTIALS: frozenset[str] = frozenset({"password", "session", "access_token"})
MAX_LABEL = 256  # users and token names longer than this are refused


def require_credential(authenticated_by: object, *, action: str) -> None:
    if authenticated_by not in CREDENTIALS:
        raise PolicyTypeError(
            "authenticated_by must be 'password', 'session' or 'access_token', "
            f"got {echo(repr(authenticated_by))}"
        )
    if authenticated_by == "access_token":
        raise token_error(
            TokenPermissionError,
            code="access-token-credential",
            message=f"cannot {action} a token while authenticated by an access "
            "token; sign in with a password or session first",
            source="authenticated_by",
            text="access_token",
        )


def label(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise PolicyTypeError(f"{kind} must be a string, got {type(value).__name__}")
    if not value.strip() or len(value) > MAX_LABEL or not value.isprintable():
        raise token_error(
            TokenError,
            code=f"bad-{kind}",
            message=f"{kind} must be 1 to {MAX_LABEL} printable characters, "
            f"not only spaces, got {echo(repr(value))}",
            source=kind,
            text=redact(value),
        )
    if redact(value) != value:
        # A secret pasted as a name would be stored in clear and shown by
        # every listing: refuse it, without echoing it.
        raise token_error(
            TokenError,
            code=f"secret-in-{kind}",
            message=f"{kind} must not contain a token secret, got {echo(repr(value))}",
            source=kind,
            text=redact(value),
        )
    return value


def refuse_secrets(kind: str, lines: Iterable[object]) -> None:
    """Refuse lines holding a token secret, which would be stored in clear.

    Endpoints and allowlist lines are kept as typed and shown by every
    listing; the error names the line with the secret blanked.  Lines that
    are not strings are left for the parser to refuse.
    """
    for number, line in enumerate(lines, start=1):
        if isinstance(line, str) and redact(line) != line:
            raise token_error(
                TokenError,
                code=f"secret-in-{kind}",
                message=f"{kind} must not contain a token secret, got "
                f"{echo(repr(line))} on line {number}",
                source=kind,
                text=redact(line),
            )


def resolve_scope(
    scope: Scope | str, endpoints: str | Iterable[str] | None
) -> tuple[ScopeId, Scope]:
    """Return the scope's id and object; endpoints only with the id ``custom``.

    ``endpoints`` is text, one endpoint a line, or the endpoints one by one.
    """
    if isinstance(scope, Scope):
        if endpoints is not None:
            raise PolicyTypeError("endpoints go with a scope id, not a Scope object")
        refuse_secrets("endpoints", (endpoint.text for endpoint in scope.endpoints))
        return scope_id(scope), scope
    if not isinstance(scope, str):
        raise PolicyTypeError(
            f"scope must be a Scope or a scope id, got {type(scope).__name__}"
        )
    given: str | list[str] | None = None
    if isinstance(endpoints, str):
        # Text: iterating it would give one "endpoint" per character.
        given = endpoints
        refuse_secrets("endpoints", endpoints.splitlines())
    elif endpoints is not None:
        given = list(endpoints)
        refuse_secrets("endpoints", given)
    built = Scope.from_id(scope, given)
    return scope_id(built), built


def scope_id(scope: Scope) -> ScopeId:
    if scope.id not in SCOPE_IDS:
        raise PolicyTypeError(f"scope {echo(scope.name)!r} has no token lifetime rules")
    return scope.id


def allowlist_lines(
    allowlist: IPAllowlist | str | Sequence[str] | None,
) -> tuple[str, ...] | None:
    """Validate the allowlist now, so a bad entry fails at creation; keep lines."""
    if allowlist is None:
        return None
    if isinstance(allowlist, IPAllowlist):
        return tuple(entry.text for entry in allowlist.entries)
    if isinstance(allowlist, str):
        lines = tuple(allowlist.splitlines())
    elif isinstance(allowlist, Sequence) and all(isinstance(x, str) for x in allowlist):
        lines = tuple(allowlist)
    else:
        raise PolicyTypeError(
            "allowlist must be text, a list of lines or None, "
            f"got {type(allowlist).__name__}"
        )
    # A comment may hold anything, a pasted secret too: refused before
    # parsing, so no parse error can echo it either.
    refuse_secrets("allowlist", lines)
    IPAllowlist.parse(list(lines), source="<allowlist>")
    return lines
