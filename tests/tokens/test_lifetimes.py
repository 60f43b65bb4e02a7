"""Lifetime rules and clock arithmetic (policy/tokens/_lifetimes.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policy.tokens import LifetimeRules, TokenLifetimeError
from policy.tokens._lifetimes import access_state, plan, renew_by, token_clock

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
RULES = LifetimeRules()


@pytest.mark.parametrize("scope_id", ["all", "custom", "hyperscale"])
def test_refreshable_defaults(scope_id: str) -> None:
    made = plan(RULES, scope_id=scope_id, created_at=T0)  # type: ignore[arg-type]
    assert made.refreshable
    assert made.access_expires_at == T0 + timedelta(minutes=30)
    assert made.renewable_until == T0 + timedelta(days=90)


@pytest.mark.parametrize(
    ("scope_id", "default", "maximum"),
    [("microsoft-scim", 30, 365), ("1-touch-recovery", 7, 14)],
)
def test_fixed_scopes_default_and_maximum(
    scope_id: str, default: int, maximum: int
) -> None:
    made = plan(RULES, scope_id=scope_id, created_at=T0)  # type: ignore[arg-type]
    assert not made.refreshable
    assert made.renewable_until is None
    assert made.access_expires_at == T0 + timedelta(days=default)
    longest = T0 + timedelta(days=maximum)
    assert (
        plan(
            RULES,
            scope_id=scope_id,  # type: ignore[arg-type]
            created_at=T0,
            expires_at=longest,
        ).access_expires_at
        == longest
    )
    with pytest.raises(TokenLifetimeError) as caught:
        plan(RULES, scope_id=scope_id, created_at=T0, expires_at=longest + US)  # type: ignore[arg-type]
    assert caught.value.diagnostics[0].code == "expires-at-too-late"
    assert f"expires_at must be at most {maximum} days after creation" in str(
        caught.value
    )


def test_renewable_until_limits() -> None:
    longest = T0 + timedelta(days=365)
    assert (
        plan(
            RULES, scope_id="all", created_at=T0, renewable_until=longest
        ).renewable_until
        == longest
    )
    assert (
        plan(
            RULES, scope_id="all", created_at=T0, renewable_until="forever"
        ).renewable_until
        is None
    )
    with pytest.raises(TokenLifetimeError) as caught:
        plan(RULES, scope_id="all", created_at=T0, renewable_until=longest + US)
    assert str(caught.value) == (
        "renewable_until: renewable-until-too-late renewable_until must be at "
        "most 365 days after creation, got 2025-05-01T12:00:00.000001+00:00"
    )
    with pytest.raises(TokenLifetimeError, match="must be after the creation time"):
        plan(RULES, scope_id="all", created_at=T0, renewable_until=T0)


def test_forever_can_be_forbidden() -> None:
    rules = LifetimeRules(allow_forever=False)
    with pytest.raises(TokenLifetimeError, match="may not be forever"):
        plan(rules, scope_id="hyperscale", created_at=T0, renewable_until="forever")


def test_options_that_do_not_apply_to_the_scope_are_refused() -> None:
    with pytest.raises(TokenLifetimeError) as caught:
        plan(RULES, scope_id="all", created_at=T0, expires_at=T0 + timedelta(days=1))
    assert caught.value.diagnostics[0].code == "expiry-not-applicable"
    with pytest.raises(TokenLifetimeError) as caught:
        plan(
            RULES,
            scope_id="microsoft-scim",
            created_at=T0,
            renewable_until=T0 + timedelta(days=1),
        )
    assert caught.value.diagnostics[0].code == "renewal-not-applicable"


def test_configurable_numbers() -> None:
    rules = LifetimeRules(
        access_lifetime=timedelta(minutes=5), default_renewable_for=timedelta(days=1)
    )
    made = plan(rules, scope_id="custom", created_at=T0)
    assert made.access_expires_at == T0 + timedelta(minutes=5)
    assert made.renewable_until == T0 + timedelta(days=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"access_lifetime": timedelta(0)}, "access_lifetime must be positive, got"),
        ({"clock_skew": timedelta(seconds=-1)}, "clock_skew must be zero or positive"),
        (
            {"default_renewable_for": timedelta(days=400)},
            "default_renewable_for must not exceed max_renewable_for",
        ),
    ],
)
def test_rules_are_validated(kwargs: dict[str, timedelta], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LifetimeRules(**kwargs)  # type: ignore[arg-type]


def _state(now: datetime, *, issued: datetime = T0) -> str:
    expires = issued + timedelta(minutes=30)
    return access_state(
        RULES,
        issued_at=issued,
        access_expires_at=expires,
        renew_deadline=renew_by(
            RULES, access_expires_at=expires, renewable_until=T0 + timedelta(days=90)
        ),
        now=now,
    )


def test_access_boundaries_are_exact() -> None:
    expiry = T0 + timedelta(minutes=30)
    assert _state(T0) == "valid"
    assert _state(expiry - US) == "valid"  # 12:29:59.999999
    assert _state(expiry) == "renewable"  # 12:30:00
    window_end = expiry + timedelta(days=14)
    assert _state(window_end - US) == "renewable"
    assert _state(window_end) == "expired"


def test_creation_in_the_future_beyond_skew_is_not_yet_valid() -> None:
    assert _state(T0, issued=T0 + timedelta(seconds=60)) == "valid"
    assert _state(T0, issued=T0 + timedelta(seconds=60) + US) == "not_yet_valid"
    assert _state(T0, issued=T0 + timedelta(minutes=10)) == "not_yet_valid"


def test_renew_by_is_the_earlier_limit() -> None:
    late = T0 + timedelta(days=89, hours=23)
    limit = T0 + timedelta(days=90)
    assert renew_by(RULES, access_expires_at=late, renewable_until=limit) == limit
    early = T0 + timedelta(minutes=30)
    assert renew_by(
        RULES, access_expires_at=early, renewable_until=limit
    ) == early + timedelta(days=14)
    assert renew_by(
        RULES, access_expires_at=early, renewable_until=None
    ) == early + timedelta(days=14)


def test_token_clock_reports_every_deadline_and_the_first() -> None:
    expires = T0 + timedelta(minutes=30)
    seen = token_clock(
        RULES,
        issued_at=T0,
        access_expires_at=expires,
        refreshable=True,
        renewable_until=T0 + timedelta(days=90),
        revoked=False,
        now=T0,
    )
    assert seen.to_dict() == {
        "now": "2024-05-01T12:00:00+00:00",
        "state": "valid",
        "access_expires_at": "2024-05-01T12:30:00+00:00",
        "renew_by": "2024-05-15T12:30:00+00:00",
        "renewable_until": "2024-07-30T12:00:00+00:00",
        "ends_first": "access_expires_at",
    }
    # Renewed at the end of the chain: the limit comes before the access expiry.
    issued = T0 + timedelta(days=89, hours=23, minutes=50)
    near_end = token_clock(
        RULES,
        issued_at=issued,
        access_expires_at=issued + timedelta(minutes=30),
        refreshable=True,
        renewable_until=T0 + timedelta(days=90),
        revoked=False,
        now=issued,
    )
    assert near_end.ends_first == "renewable_until"
    assert near_end.renew_by == T0 + timedelta(days=90)


def test_token_clock_without_refresh_and_revoked() -> None:
    seen = token_clock(
        RULES,
        issued_at=T0,
        access_expires_at=T0 + timedelta(days=7),
        refreshable=False,
        renewable_until=None,
        revoked=True,
        now=T0,
    )
    assert seen.state == "revoked"
    assert seen.renew_by is None
    assert seen.renewable_until is None
    assert seen.ends_first == "access_expires_at"
