"""Renewal of a token's pair: rotation, reuse detection and the reuse grace.

A renewal trades the current pair of a chain for the next one, derived from
the presented refresh token and a fresh seed, and swaps it in with one
compare-and-swap in the store.  Presenting a superseded pair revokes the
chain, unless the rules' reuse grace covers a retry, which gets the same
successor back.  :class:`TokenService` builds a :class:`Renewer` for each
call to :meth:`TokenService.renew`; nothing here reads the clock except
through the ``now`` it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from policy._decision import Reason
from policy._errors import PolicyError
from policy._policy import AccessPolicy
from policy.tokens._denials import (
    address_refused,
    deny,
    not_yet_valid,
    renewal_closed,
    revoked_decision,
    unloadable,
)
from policy.tokens._errors import RenewalDenied
from policy.tokens._lifetimes import LifetimeRules, access_state, renew_by
from policy.tokens._model import IssuedToken, PairRecord, TokenRecord
from policy.tokens._secrets import derive_secret, digest, looks_like, matches, new_seed
from policy.tokens._store import TokenStore

__all__ = ["Renewer"]

_log = logging.getLogger(__name__)

# A renewal that loses a compare-and-swap is retried; the retry sees the
# pair superseded and ends there, so two attempts always suffice.
_RENEW_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class Renewer:
    """Renew pairs held in ``store`` under ``rules``.

    Attributes:
        store: Where the tokens live; every read and the swap go to it.
        rules: The lifetime numbers: access lifetime, renewal window and
            reuse grace.
        now: Reads the clock, aware and in UTC; called once per attempt,
            and again when the attempt finds the pair superseded.
        policy_of: The token's AccessPolicy, whose allowlist judges the
            client address; may raise PolicyError when it no longer loads.
    """

    store: TokenStore
    rules: LifetimeRules
    now: Callable[[], datetime]
    policy_of: Callable[[TokenRecord], AccessPolicy]

    def renew(
        self, *, access_token: str, refresh_token: str, ip: object | None
    ) -> IssuedToken:
        """Renew a pair, as :meth:`TokenService.renew` documents.

        Raises:
            RenewalDenied: The renewal is refused; the decision says why.
            TokenStoreError: The store cannot be read or written.
        """
        for _ in range(_RENEW_ATTEMPTS):
            issued = self._try_renew(access_token, refresh_token, ip, self.now())
            if issued is not None:
                return issued
        # Only reachable if the store keeps refusing the swap of a pair it
        # reports as current: refuse rather than loop.
        raise RenewalDenied(deny(Reason.UNAVAILABLE, "the store refused renewal"))

    def _try_renew(
        self, access: str, refresh: str, ip: object | None, now: datetime
    ) -> IssuedToken | None:
        """One renewal attempt; None when a concurrent renewal won the swap."""
        token, pair = self._find_renewable(access, refresh)
        if ip is not None:
            self._check_renewal_address(token, ip)
        if token.revoked:
            raise RenewalDenied(revoked_decision(token))
        if pair.generation != token.generation:
            return self._reused(token, pair, refresh, now)

        deadline = renew_by(
            self.rules,
            access_expires_at=pair.access_expires_at,
            renewable_until=token.renewable_until,
        )
        state = access_state(
            self.rules,
            issued_at=pair.issued_at,
            access_expires_at=pair.access_expires_at,
            renew_deadline=deadline,
            now=now,
        )
        if state == "not_yet_valid":
            raise RenewalDenied(not_yet_valid(token, pair))
        # The deadline binds even while the access token is still valid: a
        # renewal at the renewable-until limit is refused, never stretched.
        if state == "expired" or now >= deadline:
            raise RenewalDenied(renewal_closed(token, deadline))

        seed = new_seed()
        successor = self._successor(token, pair, refresh, seed, now)
        if not self.store.rotate(
            token.token_id,
            generation=pair.generation,
            seed=seed,
            successor=successor[1],
            at=now,
        ):
            return None
        _log.debug("renewed token %s to pair %d", token.token_id, pair.generation + 1)
        return successor[0]

    def _find_renewable(
        self, access: str, refresh: str
    ) -> tuple[TokenRecord, PairRecord]:
        """The token and pair the two secrets name, or a refusal."""
        if not access or not refresh:
            raise RenewalDenied(
                deny(
                    Reason.MISSING_TOKEN,
                    "renewal needs both the access and the refresh token",
                )
            )
        if not looks_like(access, "access") or not looks_like(refresh, "refresh"):
            raise RenewalDenied(
                deny(
                    Reason.UNKNOWN_TOKEN,
                    "the tokens presented are not an access "
                    "and a refresh token (prefix, length or checksum is wrong)",
                )
            )
        pair = self.store.pair_by_access(digest(access))
        token = None if pair is None else self.store.get(pair.token_id)
        if (
            pair is None
            or token is None
            or pair.refresh_digest is None
            or not matches(refresh, pair.refresh_digest)
        ):
            raise RenewalDenied(
                deny(
                    Reason.UNKNOWN_TOKEN,
                    "no token has this access and refresh token pair",
                )
            )
        return token, pair

    def _check_renewal_address(self, token: TokenRecord, ip: object) -> None:
        """Refuse a renewal from an address the token's allowlist refuses."""
        try:
            policy = None if token.allowlist is None else self.policy_of(token)
        except PolicyError:
            raise RenewalDenied(unloadable(token)) from None
        refused = address_refused(
            token, ip, allowlist=None if policy is None else policy.allowlist
        )
        if refused is not None:
            raise RenewalDenied(refused)

    def _successor(
        self,
        token: TokenRecord,
        pair: PairRecord,
        refresh: str,
        seed: bytes,
        now: datetime,
    ) -> tuple[IssuedToken, PairRecord]:
        """Derive the next pair from the presented refresh token and ``seed``."""
        access = derive_secret("access", parent=refresh, seed=seed)
        new_refresh = derive_secret("refresh", parent=refresh, seed=seed)
        expires = now + self.rules.access_lifetime
        record = PairRecord(
            token_id=token.token_id,
            generation=pair.generation + 1,
            access_digest=digest(access),
            refresh_digest=digest(new_refresh),
            issued_at=now,
            access_expires_at=expires,
        )
        issued = IssuedToken(
            token_id=token.token_id,
            name=token.name,
            access_token=access,
            refresh_token=new_refresh,
            access_expires_at=expires,
            renewable_until=token.renewable_until,
            generation=record.generation,
        )
        return issued, record

    def _reused(
        self, token: TokenRecord, pair: PairRecord, refresh: str, now: datetime
    ) -> IssuedToken:
        """A superseded pair was presented: grace retry, or theft."""
        # The pair was read before the token: a renewal in between shows it
        # still current.  Read it again, after the token, to see its seed.
        pair = self.store.pair(token.token_id, pair.generation) or pair
        successor = self.store.pair(token.token_id, pair.generation + 1)
        # ``now`` was read before the pair; a concurrent winner may have read
        # its own instant later and still swapped first, so the pair looks
        # superseded after ``now``.  The clock read again, after the swap was
        # seen, is never before it, unless the clock itself stepped back.
        now = max(now, self.now())
        if (
            successor is not None
            and pair.superseded_at is not None
            and pair.successor_seed is not None
            and token.generation == successor.generation
            and timedelta(0) <= now - pair.superseded_at < self.rules.reuse_grace
        ):
            issued, _ = self._successor(
                token, pair, refresh, pair.successor_seed, successor.issued_at
            )
            if matches(issued.access_token, successor.access_digest):
                _log.debug("renewal of token %s retried within grace", token.token_id)
                return issued

        self.store.revoke(token.token_id, at=now, cause="reuse")
        # An operator should look: either a client retried without grace,
        # or someone else holds a copy of this chain's tokens.
        _log.warning(
            "token %s: superseded pair %d presented; chain revoked",
            token.token_id,
            pair.generation,
        )
        raise RenewalDenied(
            deny(
                Reason.REFRESH_REUSED_CHAIN_REVOKED,
                f"pair {pair.generation} was already renewed; presenting it again "
                "is treated as theft, so every token of the chain is revoked",
                token=token,
            )
        )
