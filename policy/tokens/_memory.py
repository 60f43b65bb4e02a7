"""An in-memory token store, for tests and single-process services."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from policy.tokens._errors import TokenStoreError
from policy.tokens._model import PairRecord, RevokeCause, TokenRecord

__all__ = ["MemoryStore"]


class MemoryStore:
    """Tokens in dictionaries behind one lock; lost when the process ends.

    Invariants: every token has pairs ``1..generation``; every digest maps to
    exactly one pair; each method holds the lock for its whole step.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenRecord] = {}
        self._pairs: dict[tuple[str, int], PairRecord] = {}
        self._by_access: dict[str, tuple[str, int]] = {}
        self._refresh_digests: set[str] = set()

    def __repr__(self) -> str:
        with self._lock:
            return f"MemoryStore(tokens={len(self._tokens)}, pairs={len(self._pairs)})"

    def add(self, token: TokenRecord, pair: PairRecord) -> None:
        """Store a new token with its first pair, atomically."""
        with self._lock:
            if token.token_id in self._tokens:
                raise TokenStoreError(f"token id {token.token_id} is already taken")
            self._check_unique(pair)
            self._tokens[token.token_id] = token
            self._put(pair)

    def get(self, token_id: str) -> TokenRecord | None:
        """Return the token with ``token_id``, or None."""
        with self._lock:
            return self._tokens.get(token_id)

    def pair_by_access(self, access_digest: str) -> PairRecord | None:
        """Return the pair whose access digest is ``access_digest``, or None."""
        with self._lock:
            key = self._by_access.get(access_digest)
            return None if key is None else self._pairs[key]

    def pair(self, token_id: str, generation: int) -> PairRecord | None:
        """Return pair ``generation`` of token ``token_id``, or None."""
        with self._lock:
            return self._pairs.get((token_id, generation))

    def rotate(
        self,
        token_id: str,
        *,
        generation: int,
        seed: bytes,
        successor: PairRecord,
        at: datetime,
    ) -> bool:
        """Replace the current pair by ``successor``, if still current."""
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None or token.revoked or token.generation != generation:
                return False
            self._check_unique(successor)
            old = self._pairs[(token_id, generation)]
            self._pairs[(token_id, generation)] = replace(
                old, superseded_at=at, successor_seed=seed
            )
            self._put(successor)
            self._tokens[token_id] = replace(
                token,
                generation=successor.generation,
                issued_at=successor.issued_at,
                access_expires_at=successor.access_expires_at,
            )
            return True

    def revoke(self, token_id: str, *, at: datetime, cause: RevokeCause) -> bool:
        """Revoke the whole chain; return whether it was live until now."""
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None or token.revoked:
                return False
            self._tokens[token_id] = replace(token, revoked_at=at, revoked_cause=cause)
            return True

    def revoke_user(self, user: str, *, at: datetime) -> list[str]:
        """Revoke every live token of ``user`` at once; return their ids."""
        with self._lock:
            live = [
                t for t in self._tokens.values() if t.user == user and not t.revoked
            ]
            for token in live:
                self._tokens[token.token_id] = replace(
                    token, revoked_at=at, revoked_cause="user"
                )
            return [t.token_id for t in live]

    def tokens_of(self, user: str) -> list[TokenRecord]:
        """Return every token of ``user``, revoked ones too, oldest first."""
        with self._lock:
            found = [t for t in self._tokens.values() if t.user == user]
        return sorted(found, key=lambda t: (t.created_at, t.token_id))

    def close(self) -> None:
        """Drop everything."""
        with self._lock:
            self._tokens.clear()
            self._pairs.clear()
            self._by_access.clear()
            self._refresh_digests.clear()

    def _check_unique(self, pair: PairRecord) -> None:
        if pair.access_digest in self._by_access or (
            pair.refresh_digest is not None
            and pair.refresh_digest in self._refresh_digests
        ):
            raise TokenStoreError("a digest of the new pair is already stored")

    def _put(self, pair: PairRecord) -> None:
        self._pairs[(pair.token_id, pair.generation)] = pair
        self._by_access[pair.access_digest] = (pair.token_id, pair.generation)
        if pair.refresh_digest is not None:
            self._refresh_digests.add(pair.refresh_digest)
