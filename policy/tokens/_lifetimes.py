"""Token lifetimes by scope, and the pure arithmetic of a token's clock.

Nothing here reads a clock: every instant, ``now`` included, is an argument,
aware and normalised to UTC by the caller (see :func:`as_utc`).  All bounds
are half-open: a token is valid while ``now < expires_at`` and renewable while
``now < renew_by``, so it is valid at 12:29:59.999999 and expired at 12:30.

The numbers follow Commvault's REST API access tokens:

* All, Custom, Hyperscale: the access token lives 30 minutes from creation or
  renewal and comes with a refresh token.  The pair may be renewed while the
  access token is valid and up to 14 days after it expired, again and again,
  until the chain's renewable-until time: 90 days after the *original*
  creation by default, at most 365 days, or forever.  Renewal never moves that
  limit.
* Microsoft SCIM: no refresh token; valid 30 days by default, at most 365.
* 1-Touch recovery: no refresh token; valid 7 days by default, at most 14.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal

from policy.tokens._errors import TokenLifetimeError, token_error

__all__ = [
    "ACCESS_LIFETIME",
    "CLOCK_SKEW",
    "DEFAULT_RENEWABLE_FOR",
    "FIXED_LIFETIMES",
    "FOREVER",
    "MAX_RENEWABLE_FOR",
    "REFRESHABLE_SCOPES",
    "RENEW_AFTER_EXPIRY",
    "SCOPE_IDS",
    "AccessState",
    "Deadline",
    "FixedLifetime",
    "Forever",
    "LifetimeRules",
    "Plan",
    "ScopeId",
    "TokenClock",
    "access_state",
    "plan",
    "renew_by",
    "token_clock",
]

ScopeId = Literal["all", "custom", "hyperscale", "microsoft-scim", "1-touch-recovery"]
SCOPE_IDS: tuple[ScopeId, ...] = (
    "all",
    "custom",
    "hyperscale",
    "microsoft-scim",
    "1-touch-recovery",
)
REFRESHABLE_SCOPES: frozenset[ScopeId] = frozenset({"all", "custom", "hyperscale"})

Forever = Literal["forever"]
FOREVER: Forever = "forever"

ACCESS_LIFETIME = timedelta(minutes=30)
RENEW_AFTER_EXPIRY = timedelta(days=14)
DEFAULT_RENEWABLE_FOR = timedelta(days=90)
MAX_RENEWABLE_FOR = timedelta(days=365)
# A creation time this far ahead of ``now`` is still accepted: servers behind
# one load balancer disagree by a few seconds.  Beyond it the token is
# ``not_yet_valid``, so a clock set ahead cannot stretch a 30-minute life.
CLOCK_SKEW = timedelta(seconds=60)

AccessState = Literal["not_yet_valid", "valid", "renewable", "expired"]
Deadline = Literal["access_expires_at", "renew_by", "renewable_until"]


@dataclass(frozen=True, slots=True)
class FixedLifetime:
    """Default and longest lifetime of a scope that has no refresh token."""

    default: timedelta
    maximum: timedelta


FIXED_LIFETIMES: Mapping[ScopeId, FixedLifetime] = MappingProxyType(
    {
        "microsoft-scim": FixedLifetime(timedelta(days=30), timedelta(days=365)),
        "1-touch-recovery": FixedLifetime(timedelta(days=7), timedelta(days=14)),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LifetimeRules:
    """Every number of the lifecycle; the defaults are Commvault's.

    Invariant: every duration is positive except ``clock_skew`` and
    ``reuse_grace``, which may be zero; defaults never exceed maxima.

    Attributes:
        access_lifetime: How long an access token of a refreshable scope lives.
        renew_after_expiry: How long after its expiry a pair may be renewed.
        default_renewable_for: Renewable-until, counted from creation, when
            none is asked for.
        max_renewable_for: The latest renewable-until a creator may ask for.
        allow_forever: Whether a chain may be renewable forever.
        fixed: Default and maximum lifetime of each scope without refresh.
        clock_skew: How far in the future a creation time may lie.
        reuse_grace: How long after a renewal the superseded pair may be
            presented again and get the same successor back (zero: off).
    """

    access_lifetime: timedelta = ACCESS_LIFETIME
    renew_after_expiry: timedelta = RENEW_AFTER_EXPIRY
    default_renewable_for: timedelta = DEFAULT_RENEWABLE_FOR
    max_renewable_for: timedelta = MAX_RENEWABLE_FOR
    allow_forever: bool = True
    fixed: Mapping[ScopeId, FixedLifetime] = field(
        default_factory=lambda: FIXED_LIFETIMES
    )
    clock_skew: timedelta = CLOCK_SKEW
    reuse_grace: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        for name in (
            "access_lifetime",
            "renew_after_expiry",
            "default_renewable_for",
            "max_renewable_for",
        ):
            _require_duration(name, getattr(self, name), positive=True)
        _require_duration("clock_skew", self.clock_skew, positive=False)
        _require_duration("reuse_grace", self.reuse_grace, positive=False)
        if self.default_renewable_for > self.max_renewable_for:
            raise ValueError(
                "default_renewable_for must not exceed max_renewable_for, got "
                f"{self.default_renewable_for} > {self.max_renewable_for}"
            )
        for scope_id, fixed in self.fixed.items():
            if not timedelta(0) < fixed.default <= fixed.maximum:
                raise ValueError(
                    f"lifetime of {scope_id} must satisfy 0 < default <= maximum, "
                    f"got {fixed.default} and {fixed.maximum}"
                )
        if set(self.fixed) != set(SCOPE_IDS) - REFRESHABLE_SCOPES:
            raise ValueError(
                "fixed must name exactly microsoft-scim and 1-touch-recovery, "
                f"got {sorted(self.fixed)}"
            )


def _require_duration(name: str, value: object, *, positive: bool) -> None:
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {type(value).__name__}")
    if value < timedelta(0) or (positive and value == timedelta(0)):
        rule = "positive" if positive else "zero or positive"
        raise ValueError(f"{name} must be {rule}, got {value}")


@dataclass(frozen=True, slots=True)
class Plan:
    """The lifetimes a new token gets.

    Attributes:
        access_expires_at: When the first access token expires.
        renewable_until: The chain's renewal limit; None when forever or when
            the scope has no refresh token.
        refreshable: Whether the token comes with a refresh token.
    """

    access_expires_at: datetime
    renewable_until: datetime | None
    refreshable: bool


def plan(
    rules: LifetimeRules,
    *,
    scope_id: ScopeId,
    created_at: datetime,
    renewable_until: datetime | Forever | None = None,
    expires_at: datetime | None = None,
) -> Plan:
    """Work out the lifetimes of a token created at ``created_at``.

    Args:
        rules: The lifecycle numbers.
        scope_id: The token's scope.
        created_at: The creation instant (aware, UTC).
        renewable_until: For refreshable scopes: an instant, ``"forever"``,
            or None for the default.
        expires_at: For scopes without refresh: the expiry, or None for the
            default.

    Returns:
        The plan.

    Raises:
        TokenLifetimeError: An option that the scope does not have, a time not
            after creation, or one beyond the scope's maximum; for example
            ``renewable_until: renewable-until-too-late renewable_until must be
            at most 365 days after creation, got 2025-06-01T00:00:00+00:00``.
    """
    if scope_id in REFRESHABLE_SCOPES:
        if expires_at is not None:
            raise token_error(
                TokenLifetimeError,
                code="expiry-not-applicable",
                message=f"expires_at applies only to scopes without refresh "
                f"tokens; scope {scope_id} renews until renewable_until instead",
                source="expires_at",
                text=expires_at.isoformat(),
            )
        until = _renewable_until(rules, created_at, renewable_until)
        return Plan(created_at + rules.access_lifetime, until, True)
    if renewable_until is not None:
        raise token_error(
            TokenLifetimeError,
            code="renewal-not-applicable",
            message=f"scope {scope_id} has no refresh token, so no renewable_until;"
            " give expires_at instead",
            source="renewable_until",
            text=str(renewable_until),
        )
    return Plan(_fixed_expiry(rules, scope_id, created_at, expires_at), None, False)


def _renewable_until(
    rules: LifetimeRules, created_at: datetime, asked: datetime | Forever | None
) -> datetime | None:
    if asked is None:
        return created_at + rules.default_renewable_for
    if asked == FOREVER:
        if not rules.allow_forever:
            raise token_error(
                TokenLifetimeError,
                code="forever-not-allowed",
                message="renewable_until may not be forever under these rules",
                source="renewable_until",
                text=FOREVER,
            )
        return None
    if not isinstance(asked, datetime):
        raise token_error(
            TokenLifetimeError,
            code="renewable-until-type",
            message="renewable_until must be an aware datetime or 'forever', got "
            f"{type(asked).__name__}",
            source="renewable_until",
            text=str(asked),
        )
    _check_window("renewable_until", asked, created_at, rules.max_renewable_for)
    return asked


def _fixed_expiry(
    rules: LifetimeRules,
    scope_id: ScopeId,
    created_at: datetime,
    asked: datetime | None,
) -> datetime:
    lifetime = rules.fixed[scope_id]
    if asked is None:
        return created_at + lifetime.default
    _check_window("expires_at", asked, created_at, lifetime.maximum)
    return asked


def _check_window(
    name: str, asked: datetime, created_at: datetime, maximum: timedelta
) -> None:
    if asked <= created_at:
        raise token_error(
            TokenLifetimeError,
            code=f"{name.replace('_', '-')}-not-after-creation",
            message=f"{name} must be after the creation time "
            f"{created_at.isoformat()}, got {asked.isoformat()}",
            source=name,
            text=asked.isoformat(),
        )
    if asked - created_at > maximum:
        raise token_error(
            TokenLifetimeError,
            code=f"{name.replace('_', '-')}-too-late",
            message=f"{name} must be at most {_days(maximum)} after creation, "
            f"got {asked.isoformat()}",
            source=name,
            text=asked.isoformat(),
        )


def _days(delta: timedelta) -> str:
    if delta % timedelta(days=1) == timedelta(0):
        return f"{delta.days} days"
    return str(delta)


def renew_by(
    rules: LifetimeRules,
    *,
    access_expires_at: datetime,
    renewable_until: datetime | None,
) -> datetime:
    """Return the instant from which the current pair can no longer be renewed.

    It is the earlier of the end of the renew window (``renew_after_expiry``
    after the access token's expiry) and the chain's renewable-until limit
    (None: forever).
    """
    window_end = access_expires_at + rules.renew_after_expiry
    if renewable_until is None:
        return window_end
    return min(window_end, renewable_until)


def access_state(
    rules: LifetimeRules,
    *,
    issued_at: datetime,
    access_expires_at: datetime,
    renew_deadline: datetime | None,
    now: datetime,
) -> AccessState:
    """Classify an access token at ``now``; ``renew_deadline`` None: no refresh.

    Returns:
        ``not_yet_valid`` when issued beyond the clock-skew allowance ahead of
        ``now``; ``valid`` while ``now < access_expires_at``; ``renewable``
        after that while ``now < renew_deadline``; else ``expired``.
    """
    if issued_at - now > rules.clock_skew:
        return "not_yet_valid"
    if now < access_expires_at:
        return "valid"
    if renew_deadline is not None and now < renew_deadline:
        return "renewable"
    return "expired"


@dataclass(frozen=True, slots=True)
class TokenClock:
    """The deadlines of one token, seen at one instant.

    Attributes:
        now: The instant the clock was read at.
        state: The access token's state at ``now`` (``revoked`` overrides).
        access_expires_at: When the current access token expires.
        renew_by: When renewing the current pair stops being possible (None:
            the scope has no refresh token).
        renewable_until: The chain's renewal limit (None: forever, or no
            refresh token).
        ends_first: Which of the three deadlines comes first.
    """

    now: datetime
    state: AccessState | Literal["revoked"]
    access_expires_at: datetime
    renew_by: datetime | None
    renewable_until: datetime | None
    ends_first: Deadline

    def to_dict(self) -> dict[str, str | None]:
        """Return a JSON-ready mapping, instants in ISO 8601."""
        return {
            "now": self.now.isoformat(),
            "state": self.state,
            "access_expires_at": self.access_expires_at.isoformat(),
            "renew_by": _iso(self.renew_by),
            "renewable_until": _iso(self.renewable_until),
            "ends_first": self.ends_first,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def token_clock(
    rules: LifetimeRules,
    *,
    issued_at: datetime,
    access_expires_at: datetime,
    refreshable: bool,
    renewable_until: datetime | None,
    revoked: bool,
    now: datetime,
) -> TokenClock:
    """Answer "what is this token's clock" at ``now`` in one record."""
    deadline = (
        renew_by(
            rules, access_expires_at=access_expires_at, renewable_until=renewable_until
        )
        if refreshable
        else None
    )
    candidates: list[tuple[datetime, Deadline]] = [
        (access_expires_at, "access_expires_at")
    ]
    if deadline is not None:
        candidates.append((access_expires_at + rules.renew_after_expiry, "renew_by"))
    if refreshable and renewable_until is not None:
        candidates.append((renewable_until, "renewable_until"))
    # Stable on ties: the access expiry is listed first and wins them.
    ends_first = min(candidates, key=lambda pair: pair[0])[1]
    state: AccessState | Literal["revoked"] = (
        "revoked"
        if revoked
        else access_state(
            rules,
            issued_at=issued_at,
            access_expires_at=access_expires_at,
            renew_deadline=deadline,
            now=now,
        )
    )
    return TokenClock(
        now,
        state,
        access_expires_at,
        deadline,
        renewable_until if refreshable else None,
        ends_first,
    )
