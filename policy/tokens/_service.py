"""The token service: create, renew, revoke, list, and authorize requests.

The service is the only part that reads the clock and talks to a store; the
lifetime arithmetic is in :mod:`policy.tokens._lifetimes`, the renewal of a
pair in :mod:`policy.tokens._renewal`, the request check in
:class:`policy.AccessPolicy`.  Secrets pass through it once, on their way out
of :meth:`TokenService.create` and :meth:`TokenService.renew`; only their
digests go further.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime

from policy._allowlist import IPAllowlist
from policy._decision import Decision, Reason
from policy._errors import PolicyError, PolicyTypeError, echo
from policy._policy import AccessPolicy
from policy._scope import Scope
from policy.tokens._clock import Clock, SystemClock, as_utc
from policy.tokens._denials import (
    deny,
    first_pair,
    iso,
    not_found,
    not_yet_valid,
    revoked_decision,
    unloadable,
)
from policy.tokens._errors import TokenStoreError
from policy.tokens._inputs import (
    Credential,
    allowlist_lines,
    label,
    require_credential,
    resolve_scope,
)
from policy.tokens._lifetimes import (
    Forever,
    LifetimeRules,
    TokenClock,
    access_state,
    plan,
    renew_by,
    token_clock,
)
from policy.tokens._model import IssuedToken, PairRecord, TokenRecord
from policy.tokens._renewal import Renewer
from policy.tokens._secrets import digest, looks_like, matches, new_secret
from policy.tokens._store import TokenStore

__all__ = ["Credential", "TokenService"]

_log = logging.getLogger(__name__)

_POLICY_CACHE_SIZE = 1024


class TokenService:
    """Issue, renew, revoke and check access tokens held in a store.

    Args:
        store: Where tokens live (:class:`MemoryStore`, :class:`SQLiteStore`).
        clock: Tells the current instant; the system UTC clock by default.
        rules: The lifetime numbers; Commvault's by default.
        api_base: Base paths the API is served under, as for AccessPolicy.
        case_sensitive: Match endpoints by exact case, as for AccessPolicy.

    Raises:
        PolicyTypeError: ``store``, ``clock`` or ``rules`` has the wrong type.
    """

    def __init__(
        self,
        store: TokenStore,
        *,
        clock: Clock | None = None,
        rules: LifetimeRules | None = None,
        api_base: Iterable[str] = (),
        case_sensitive: bool = False,
    ) -> None:
        if not isinstance(store, TokenStore):
            raise PolicyTypeError(
                f"store must be a TokenStore, got {type(store).__name__}"
            )
        if clock is not None and not isinstance(clock, Clock):
            raise PolicyTypeError(f"clock must be a Clock, got {type(clock).__name__}")
        if rules is not None and not isinstance(rules, LifetimeRules):
            raise PolicyTypeError(
                f"rules must be LifetimeRules, got {type(rules).__name__}"
            )
        self.store = store
        self.clock: Clock = SystemClock() if clock is None else clock
        self.rules = LifetimeRules() if rules is None else rules
        self._api_base = tuple(api_base)
        self._case_sensitive = case_sensitive
        self._policies: dict[str, AccessPolicy] = {}
        self._policies_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenService(store={self.store!r}, clock={self.clock!r})"

    def now(self) -> datetime:
        """Read the clock, checked to be aware and normalised to UTC."""
        return as_utc(self.clock.now(), name="clock.now()")

    # -- management ----------------------------------------------------------

    def create(
        self,
        *,
        user: str,
        name: str,
        scope: Scope | str,
        endpoints: str | Iterable[str] | None = None,
        allowlist: IPAllowlist | str | Sequence[str] | None = None,
        renewable_until: datetime | Forever | None = None,
        expires_at: datetime | None = None,
        authenticated_by: Credential = "password",
    ) -> IssuedToken:
        """Create a token; return its id and its secrets, shown this once.

        Args:
            user: The owner.
            name: The owner's label for the token.
            scope: A :class:`Scope`, or a scope id (``all``, ``custom``,
                ``hyperscale``, ``microsoft-scim``, ``1-touch-recovery``).
            endpoints: The endpoints, when ``scope`` is the id ``custom``:
                text, one endpoint a line, or a list of endpoints.  No
                endpoint may hold a token secret.
            allowlist: An IPAllowlist, or its text or lines; None: any
                client address.  No line, comments included, may hold a
                token secret.
            renewable_until: For All, Custom and Hyperscale: the chain's
                renewal limit, an aware datetime or ``"forever"``; None: 90
                days after creation.
            expires_at: For Microsoft SCIM and 1-Touch recovery: the expiry;
                None: the scope's default.
            authenticated_by: How the caller authenticated; ``access_token``
                is refused.  The default trusts the calling code.

        Returns:
            The token id and name, the access token and (for refreshable
            scopes) the refresh token, and the deadlines.

        Raises:
            TokenPermissionError: ``authenticated_by`` is ``access_token``.
            TokenError: The user, name, an endpoint or an allowlist line is
                malformed or holds a token secret.
            TokenLifetimeError: A lifetime is not after creation, or beyond
                the scope's maximum, or does not apply to the scope.
            ScopeError: The scope or an endpoint is malformed.
            AllowlistError: The allowlist is malformed.
            PolicyTypeError: An argument has the wrong type, or a datetime
                is naive.
            TokenStoreError: The store cannot be written.
        """
        require_credential(authenticated_by, action="create")
        user = label("user", user)
        name = label("name", name)
        scope_id, scope_obj = resolve_scope(scope, endpoints)
        lines = allowlist_lines(allowlist)
        now = self.now()
        if isinstance(renewable_until, datetime):
            renewable_until = as_utc(renewable_until, name="renewable_until")
        if expires_at is not None:
            expires_at = as_utc(expires_at, name="expires_at")

        lifetimes = plan(
            self.rules,
            scope_id=scope_id,
            created_at=now,
            renewable_until=renewable_until,
            expires_at=expires_at,
        )
        access = new_secret("access")
        refresh = new_secret("refresh") if lifetimes.refreshable else None
        token = TokenRecord(
            token_id=f"tok_{secrets.token_hex(8)}",
            user=user,
            name=name,
            scope_id=scope_id,
            endpoints=tuple(e.text for e in scope_obj.endpoints)
            if scope_id == "custom"
            else (),
            allowlist=lines,
            created_at=now,
            refreshable=lifetimes.refreshable,
            renewable_until=lifetimes.renewable_until,
            issued_at=now,
            access_expires_at=lifetimes.access_expires_at,
        )
        self.store.add(
            token, first_pair(token.token_id, 1, access, refresh, now, token)
        )
        _log.debug("created token %s for user %s", token.token_id, echo(user))
        return IssuedToken(
            token_id=token.token_id,
            name=name,
            access_token=access,
            refresh_token=refresh,
            access_expires_at=token.access_expires_at,
            renewable_until=token.renewable_until,
        )

    def revoke(
        self, token_id: str, *, authenticated_by: Credential = "password"
    ) -> bool:
        """Revoke a token and every pair of its chain.

        Returns:
            True when it was live, False when it was already revoked.

        Raises:
            TokenPermissionError: ``authenticated_by`` is ``access_token``.
            TokenNotFoundError: No token has this id.
            TokenStoreError: The store cannot be written.
        """
        require_credential(authenticated_by, action="revoke")
        if self.store.get(token_id) is None:
            raise not_found(token_id)
        revoked = self.store.revoke(token_id, at=self.now(), cause="user")
        _log.debug("revoked token %s (was live: %s)", echo(token_id), revoked)
        return revoked

    def revoke_all(
        self, user: str, *, authenticated_by: Credential = "password"
    ) -> list[str]:
        """Revoke every live token of ``user`` in one step; return their ids.

        Raises:
            TokenPermissionError: ``authenticated_by`` is ``access_token``.
            TokenStoreError: The store cannot be written.
        """
        require_credential(authenticated_by, action="revoke")
        ids = self.store.revoke_user(user, at=self.now())
        _log.debug("revoked %d tokens of user %s", len(ids), echo(user))
        return ids

    def tokens_of(self, user: str) -> list[TokenRecord]:
        """Return the tokens of ``user`` (metadata only), oldest first."""
        return self.store.tokens_of(user)

    def show(self, token_id: str) -> TokenRecord:
        """Return one token's metadata.

        Raises:
            TokenNotFoundError: No token has this id.
        """
        token = self.store.get(token_id)
        if token is None:
            raise not_found(token_id)
        return token

    def clock_of(self, token_id: str, *, now: datetime | None = None) -> TokenClock:
        """Return the token's deadlines and which ends first, at ``now``.

        Args:
            token_id: The token.
            now: The instant to judge at; the service clock by default.

        Raises:
            TokenNotFoundError: No token has this id.
            PolicyTypeError: ``now`` is naive.
        """
        token = self.show(token_id)
        instant = self.now() if now is None else as_utc(now, name="now")
        return token_clock(
            self.rules,
            issued_at=token.issued_at,
            access_expires_at=token.access_expires_at,
            refreshable=token.refreshable,
            renewable_until=token.renewable_until,
            revoked=token.revoked,
            now=instant,
        )

    # -- renewal ---------------------------------------------------------------

    def renew(
        self, *, access_token: str, refresh_token: str, ip: object | None = None
    ) -> IssuedToken:
        """Renew a pair: return a new pair; the presented one stops working.

        Presenting a pair that was already renewed is treated as theft: the
        whole chain is revoked and the renewal refused with reason
        ``refresh_reused_chain_revoked`` -- unless the rules' reuse grace
        is on and the renewal happened within it, in which case the same
        successor is returned again.

        The client address is judged first, as soon as the pair is known: a
        renewal from an address the token's allowlist does not admit changes
        nothing -- no new pair, and no revocation even for a superseded
        pair, so a client outside the allowlist cannot revoke a chain.

        Args:
            access_token: The access token of the pair.
            refresh_token: The refresh token of the pair.
            ip: The address of the client asking, as for :meth:`authorize`.
                Callers that expose renewal to a network must pass it (the
                forward-auth server does): None skips the allowlist and is
                only for callers on the token owner's side, such as a local
                command line.

        Raises:
            RenewalDenied: The renewal is refused; ``error.decision.reason``
                says why (``missing_token``, ``unknown_token``, ``bad_ip``,
                ``ip_not_allowed``, ``not_yet_valid``, ``expired``,
                ``revoked``, ``refresh_reused_chain_revoked``,
                ``unavailable``).
            TokenStoreError: The store cannot be read or written.
        """
        # Built per call, so it follows the service's store, rules and clock
        # as they are now; it is two references and two bound methods.
        renewer = Renewer(
            store=self.store, rules=self.rules, now=self.now, policy_of=self._policy
        )
        return renewer.renew(
            access_token=access_token, refresh_token=refresh_token, ip=ip
        )

    # -- authorization -------------------------------------------------------

    def authorize(
        self, *, access_token: str | None, ip: object, path: str, method: str = "GET"
    ) -> Decision:
        """Decide whether a request made with ``access_token`` may go through.

        The token's lifecycle is judged first (known, live, current, not
        expired), then its scope and allowlist by :class:`AccessPolicy`.

        Returns:
            The decision, naming the token by id and name once it is known.
            Never raises: a store failure is a denial with reason
            ``unavailable``.
        """
        try:
            return self._authorize(access_token, ip, path, method)
        except (TokenStoreError, PolicyTypeError) as error:
            # Every request is refused until an operator repairs the store
            # or the clock.  The type only: the message could quote a path.
            _log.warning(
                "authorize could not decide, request denied as unavailable: %s",
                type(error).__name__,
            )
            return deny(Reason.UNAVAILABLE, "the token store is unavailable")

    def _authorize(
        self, access: str | None, ip: object, path: str, method: str
    ) -> Decision:
        if access is not None:
            if not issubclass(type(access), str):
                return deny(Reason.UNKNOWN_TOKEN, "the access token is not a string")
            # Read as the plain string it holds, never through its methods.
            access = str.__str__(access)
        if not access:
            return deny(Reason.MISSING_TOKEN, "no access token was presented")
        if not looks_like(access, "access"):
            return deny(
                Reason.UNKNOWN_TOKEN,
                "the token presented is not an access token "
                "(prefix, length or checksum is wrong)",
            )
        pair = self.store.pair_by_access(digest(access))
        token = None if pair is None else self.store.get(pair.token_id)
        if pair is None or token is None or not matches(access, pair.access_digest):
            return deny(Reason.UNKNOWN_TOKEN, "no token has this access token")

        refused = self._lifecycle(token, pair, self.now())
        if refused is not None:
            return refused
        try:
            policy = self._policy(token)
        except PolicyError:
            return unloadable(token)
        decision = policy.check(ip=ip, path=path, method=method)
        return decision.replace(token_id=token.token_id, token_name=token.name)

    def _lifecycle(
        self, token: TokenRecord, pair: PairRecord, now: datetime
    ) -> Decision | None:
        """The denial the token's lifecycle calls for at ``now``, if any."""
        if token.revoked:
            return revoked_decision(token)
        if pair.generation != token.generation:
            return self._replaced(token, pair)
        deadline = (
            renew_by(
                self.rules,
                access_expires_at=pair.access_expires_at,
                renewable_until=token.renewable_until,
            )
            if token.refreshable
            else None
        )
        state = access_state(
            self.rules,
            issued_at=pair.issued_at,
            access_expires_at=pair.access_expires_at,
            renew_deadline=deadline,
            now=now,
        )
        if state == "not_yet_valid":
            return not_yet_valid(token, pair)
        if state == "renewable":
            return deny(
                Reason.ACCESS_EXPIRED_RENEWABLE,
                f"the access token expired at {pair.access_expires_at.isoformat()}; "
                f"it can be renewed until {iso(deadline)}",
                token=token,
            )
        if state == "expired":
            return deny(
                Reason.EXPIRED,
                f"the access token expired at {pair.access_expires_at.isoformat()}"
                + ("" if deadline is None else " and can no longer be renewed"),
                token=token,
            )
        return None

    def _replaced(self, token: TokenRecord, pair: PairRecord) -> Decision:
        """The denial of an access token whose pair a renewal superseded."""
        # The pair may have been read just before a concurrent renewal and
        # the token just after: read the pair again for its renewal time.
        current = self.store.pair(token.token_id, pair.generation) or pair
        at = current.superseded_at
        when = "" if at is None else f" at {at.isoformat()}"
        return deny(
            Reason.REVOKED,
            f"this access token was replaced by renewal{when}",
            token=token,
        )

    def _policy(self, token: TokenRecord) -> AccessPolicy:
        """The token's AccessPolicy, built once: scope and allowlist never change."""
        with self._policies_lock:
            cached = self._policies.get(token.token_id)
        if cached is not None:
            return cached
        scope = Scope.from_id(token.scope_id, token.endpoints or None)
        allowlist = (
            None
            if token.allowlist is None
            else IPAllowlist.parse(list(token.allowlist), source=f"<{token.token_id}>")
        )
        policy = AccessPolicy(
            scope=scope,
            allowlist=allowlist,
            api_base=self._api_base,
            case_sensitive=self._case_sensitive,
        )
        with self._policies_lock:
            if len(self._policies) >= _POLICY_CACHE_SIZE:
                self._policies.clear()
            self._policies[token.token_id] = policy
        return policy
