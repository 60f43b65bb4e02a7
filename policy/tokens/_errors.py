"""Errors of the token lifecycle, all in the :class:`PolicyError` family."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from policy._errors import Diagnostic, PolicyError, echo

if TYPE_CHECKING:
    from policy._decision import Decision

__all__ = [
    "RenewalDenied",
    "TokenError",
    "TokenLifetimeError",
    "TokenNotFoundError",
    "TokenPermissionError",
    "TokenStoreError",
    "token_error",
]


class TokenError(PolicyError):
    """A token operation was refused."""


class TokenLifetimeError(TokenError):
    """A requested lifetime breaks its scope's rules (too long, in the past)."""


class TokenPermissionError(TokenError):
    """The caller may not do this, whatever the arguments."""


class TokenNotFoundError(TokenError):
    """No token has the given id."""


class TokenStoreError(TokenError):
    """The token store cannot be read or written; nothing was changed."""


class RenewalDenied(TokenError):
    """A renewal was refused; :attr:`decision` says why.

    Attributes:
        decision: The denial, naming the token by id and name when known
            (reason ``refresh_reused_chain_revoked`` when a superseded pair
            was presented and the whole chain was revoked).
    """

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(
            f"renewal refused ({decision.reason.value}): {decision.detail}"
        )


E = TypeVar("E", bound=TokenError)


def token_error(
    cls: type[E], *, code: str, message: str, source: str, text: str = ""
) -> E:
    """Build ``cls`` carrying one diagnostic about argument ``source``.

    ``text`` is the offending value as given; it is cut by :func:`echo` and
    must never be a secret.
    """
    diagnostic = Diagnostic(
        source=f"<{source}>",
        line=1,
        column=1,
        text=echo(text),
        message=message,
        code=code,
        line_text=echo(text),
        length=max(1, len(echo(text))),
    )
    return cls(f"{source}: {code} {message}", (diagnostic,))
