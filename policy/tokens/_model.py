"""Token records as stored: metadata and digests, never a secret.

A *token* is one create-and-renew chain: it keeps its id, name, scope and
creation time for life.  Each renewal adds a *pair* (access and refresh
digests) and supersedes the previous one; exactly one pair per token is
current.  Revoking a token revokes every pair of its chain at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from policy.tokens._lifetimes import ScopeId

__all__ = ["IssuedToken", "PairRecord", "RevokeCause", "TokenRecord"]

# Why a token was revoked: by a user (or administrator), or because a
# superseded pair was presented, which is treated as theft.
RevokeCause = Literal["user", "reuse"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """One token (chain), as listed; holds no secret and no digest.

    Invariants: ``generation >= 1``; ``revoked_cause`` is set exactly when
    ``revoked_at`` is; ``renewable_until`` is None for forever and for scopes
    without refresh (``refreshable`` false); ``endpoints`` is empty unless
    ``scope_id`` is ``custom``; ``allowlist`` None means no IP restriction.

    Attributes:
        token_id: Public, random identifier; safe to log.
        user: The owner.
        name: The owner's label.
        scope_id: The scope's id.
        endpoints: The endpoints of a Custom scope, as typed.
        allowlist: The allowlist entries, as typed, or None.
        created_at: Creation of the chain; renewals never move it.
        refreshable: Whether the token has a refresh token.
        renewable_until: The chain's renewal limit.
        generation: Number of the current pair, 1 before any renewal.
        issued_at: When the current pair was issued.
        access_expires_at: When the current access token expires.
        revoked_at: When the chain was revoked, if it was.
        revoked_cause: Why.
    """

    token_id: str
    user: str
    name: str
    scope_id: ScopeId
    endpoints: tuple[str, ...] = ()
    allowlist: tuple[str, ...] | None = None
    created_at: datetime
    refreshable: bool
    renewable_until: datetime | None
    generation: int = 1
    issued_at: datetime
    access_expires_at: datetime
    revoked_at: datetime | None = None
    revoked_cause: RevokeCause | None = None

    @property
    def revoked(self) -> bool:
        """Whether the chain has been revoked."""
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready mapping, instants in ISO 8601."""
        return {
            "token_id": self.token_id,
            "user": self.user,
            "name": self.name,
            "scope": self.scope_id,
            "endpoints": list(self.endpoints),
            "allowlist": None if self.allowlist is None else list(self.allowlist),
            "created_at": self.created_at.isoformat(),
            "refreshable": self.refreshable,
            "renewable_until": _iso(self.renewable_until),
            "generation": self.generation,
            "issued_at": self.issued_at.isoformat(),
            "access_expires_at": self.access_expires_at.isoformat(),
            "revoked_at": _iso(self.revoked_at),
            "revoked_cause": self.revoked_cause,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True, kw_only=True)
class PairRecord:
    """One access/refresh pair of a chain, by digest; repr shows no digest.

    Attributes:
        token_id: The chain it belongs to.
        generation: 1 for the pair issued at creation, then +1 per renewal.
        access_digest: SHA-256 of the access secret (hex).
        refresh_digest: SHA-256 of the refresh secret, None without refresh.
        issued_at: When the pair was issued.
        access_expires_at: When its access token expires.
        superseded_at: When a renewal replaced it, if one did.
        successor_seed: The random seed its successor was derived from; lets
            a retry inside the grace window get the same successor back.
    """

    token_id: str
    generation: int
    access_digest: str = field(repr=False)
    refresh_digest: str | None = field(repr=False)
    issued_at: datetime
    access_expires_at: datetime
    superseded_at: datetime | None = None
    successor_seed: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    """What create and renew hand back: the one-time secrets and the metadata.

    The secrets are shown here once and can never be read back; ``repr`` and
    ``str`` hide them.

    Attributes:
        token_id: The token's id.
        name: The token's name.
        access_token: The access secret.
        refresh_token: The refresh secret, None for scopes without refresh.
        access_expires_at: When the access token expires.
        renewable_until: The chain's renewal limit (None: forever or n/a).
        generation: The pair's number in its chain.
    """

    token_id: str
    name: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    access_expires_at: datetime
    renewable_until: datetime | None
    generation: int = 1
