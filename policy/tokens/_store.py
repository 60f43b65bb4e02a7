"""The storage contract every token store meets.

Each method that changes state is one atomic step: it happens completely or
not at all, so a crash or a concurrent caller never sees a half-renewed
token.  Stores hold digests and metadata only; they never see a secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from policy.tokens._model import PairRecord, RevokeCause, TokenRecord

__all__ = ["TokenStore"]


@runtime_checkable
class TokenStore(Protocol):
    """Where tokens live.  Implementations: MemoryStore, SQLiteStore.

    Errors: any failure to read or write raises ``TokenStoreError`` and leaves
    the store as it was.
    """

    def add(self, token: TokenRecord, pair: PairRecord) -> None:
        """Store a new token with its first pair, atomically.

        Raises ``TokenStoreError`` when the id or a digest is already taken.
        """
        ...

    def get(self, token_id: str) -> TokenRecord | None:
        """Return the token with ``token_id``, or None."""
        ...

    def pair_by_access(self, access_digest: str) -> PairRecord | None:
        """Return the pair whose access digest is ``access_digest``, or None."""
        ...

    def pair(self, token_id: str, generation: int) -> PairRecord | None:
        """Return pair ``generation`` of token ``token_id``, or None."""
        ...

    def rotate(
        self,
        token_id: str,
        *,
        generation: int,
        seed: bytes,
        successor: PairRecord,
        at: datetime,
    ) -> bool:
        """Replace the current pair by ``successor``, if still current.

        A compare-and-swap: when token ``token_id`` is live and its current
        pair is ``generation``, mark that pair superseded at ``at`` (keeping
        ``seed``), add ``successor`` as the new current pair and return True.
        Otherwise change nothing and return False, so of two concurrent
        renewals of one pair exactly one wins.
        """
        ...

    def revoke(self, token_id: str, *, at: datetime, cause: RevokeCause) -> bool:
        """Revoke the whole chain; return whether it was live until now."""
        ...

    def revoke_user(self, user: str, *, at: datetime) -> list[str]:
        """Revoke every live token of ``user`` at once; return their ids."""
        ...

    def tokens_of(self, user: str) -> list[TokenRecord]:
        """Return every token of ``user``, revoked ones too, oldest first."""
        ...

    def close(self) -> None:
        """Release resources; the store is unusable afterwards."""
        ...
