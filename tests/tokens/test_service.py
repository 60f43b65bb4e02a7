"""The token service: lifecycle at every boundary, renewal, reuse, leaks."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _instants import T0

from policy import AllowlistError, PolicyTypeError, Scope, ScopeError
from policy._decision import Reason
from policy.tokens import (
    FakeClock,
    IssuedToken,
    LifetimeRules,
    MemoryStore,
    RenewalDenied,
    SQLiteStore,
    TokenError,
    TokenLifetimeError,
    TokenNotFoundError,
    TokenPermissionError,
    TokenService,
    TokenStoreError,
)
from policy.tokens._secrets import digest

US = timedelta(microseconds=1)
MINUTES_30 = timedelta(minutes=30)


@pytest.fixture
def service(clock: FakeClock) -> TokenService:
    return TokenService(MemoryStore(), clock=clock)


def reason(service: TokenService, issued: IssuedToken, path: str = "/Client") -> Reason:
    return service.authorize(
        access_token=issued.access_token, ip="10.0.0.1", path=path
    ).reason


def renew(service: TokenService, issued: IssuedToken) -> IssuedToken:
    assert issued.refresh_token is not None
    return service.renew(
        access_token=issued.access_token, refresh_token=issued.refresh_token
    )


def renew_denied(service: TokenService, issued: IssuedToken) -> Reason:
    with pytest.raises(RenewalDenied) as caught:
        renew(service, issued)
    return caught.value.decision.reason


# -- creation ------------------------------------------------------------------


def test_create_returns_secrets_once_and_names_token(service: TokenService) -> None:
    issued = service.create(user="ana", name="ci", scope="all")
    assert issued.access_token.startswith("cvpat_")
    assert issued.refresh_token is not None
    assert issued.refresh_token.startswith("cvprt_")
    assert issued.access_expires_at == T0 + MINUTES_30
    assert issued.renewable_until == T0 + timedelta(days=90)
    assert re.fullmatch(r"tok_[0-9a-f]{16}", issued.token_id)
    decision = service.authorize(
        access_token=issued.access_token, ip="192.0.2.1", path="/Client"
    )
    assert decision.allowed
    assert (decision.token_id, decision.token_name) == (issued.token_id, "ci")


@pytest.mark.parametrize("scope", ["microsoft-scim", "1-touch-recovery"])
def test_fixed_scopes_have_no_refresh_token(service: TokenService, scope: str) -> None:
    issued = service.create(user="ana", name="n", scope=scope)
    assert issued.refresh_token is None
    assert issued.renewable_until is None


def test_create_refuses_a_lifetime_beyond_the_maximum(service: TokenService) -> None:
    with pytest.raises(TokenLifetimeError, match="at most 14 days after creation"):
        service.create(
            user="ana",
            name="n",
            scope="1-touch-recovery",
            expires_at=T0 + timedelta(days=14) + US,
        )
    with pytest.raises(TokenLifetimeError, match="at most 365 days"):
        service.create(
            user="ana",
            name="n",
            scope="hyperscale",
            renewable_until=T0 + timedelta(days=366),
        )
    assert service.tokens_of("ana") == []


def test_create_refuses_naive_times(service: TokenService) -> None:
    with pytest.raises(PolicyTypeError, match="renewable_until must be a timezone"):
        service.create(
            user="ana", name="n", scope="all", renewable_until=datetime(2024, 6, 1)
        )
    with pytest.raises(PolicyTypeError, match="expires_at must be a timezone"):
        service.create(
            user="ana",
            name="n",
            scope="microsoft-scim",
            expires_at=datetime(2024, 6, 1),
        )


def test_create_validates_scope_allowlist_and_labels(service: TokenService) -> None:
    with pytest.raises(ScopeError):
        service.create(user="ana", name="n", scope="custom")
    with pytest.raises(ScopeError):
        service.create(user="ana", name="n", scope="everything")
    with pytest.raises(AllowlistError):
        service.create(user="ana", name="n", scope="all", allowlist=["192.0.2.010"])
    with pytest.raises(TokenError, match="name must be 1 to 256"):
        service.create(user="ana", name="  ", scope="all")
    with pytest.raises(PolicyTypeError, match="user must be a string, got int"):
        service.create(user=7, name="n", scope="all")  # type: ignore[arg-type]


SECRET = "cvpat_" + "Q" * 43


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ({"scope": "custom", "endpoints": [f"/{SECRET}"]}, "'/cvpat_***' on line 1"),
        (
            {"scope": "custom", "endpoints": ["/plan", f"/plan/{SECRET}"]},
            "'/plan/cvpat_***' on line 2",
        ),
        (
            {"scope": "custom", "endpoints": f"/plan\n/{SECRET}"},
            "'/cvpat_***' on line 2",
        ),
    ],
)
def test_create_refuses_a_secret_in_an_endpoint(
    service: TokenService, options: dict[str, Any], shown: str
) -> None:
    with pytest.raises(TokenError) as caught:
        service.create(user="ana", name="n", **options)
    assert str(caught.value) == (
        "endpoints: secret-in-endpoints endpoints must not contain a token "
        f"secret, got {shown}"
    )
    assert caught.value.diagnostics[0].code == "secret-in-endpoints"
    assert "Q" * 8 not in repr(caught.value.diagnostics)
    assert service.tokens_of("ana") == []


def test_no_scope_object_can_hold_a_secret_endpoint() -> None:
    # So a prebuilt Scope handed to create() never needs the check above.
    with pytest.raises(ScopeError) as caught:
        Scope.custom([f"/x/{SECRET}"])
    assert caught.value.diagnostics[0].code == "token-secret"
    assert "Q" * 8 not in str(caught.value)


@pytest.mark.parametrize(
    "allowlist",
    [f"10.0.0.1  # {SECRET}", ["10.0.0.1", f"# {SECRET}"], f"10.0.0.1\n{SECRET}"],
)
def test_create_refuses_a_secret_in_the_allowlist(
    service: TokenService, allowlist: str | list[str]
) -> None:
    with pytest.raises(TokenError) as caught:
        service.create(user="ana", name="n", scope="all", allowlist=allowlist)
    assert caught.value.diagnostics[0].code == "secret-in-allowlist"
    assert "Q" * 8 not in str(caught.value)
    assert "Q" * 8 not in repr(caught.value.diagnostics)
    assert "cvpat_***" in str(caught.value)
    assert service.tokens_of("ana") == []


def test_create_takes_endpoints_as_text_one_a_line(service: TokenService) -> None:
    one = service.create(user="ana", name="one", scope="custom", endpoints="/plan")
    two = service.create(
        user="ana", name="two", scope="custom", endpoints="/plan\n/Client/job\n"
    )
    assert service.show(one.token_id).endpoints == ("/plan",)
    assert service.show(two.token_id).endpoints == ("/plan", "/Client/job")
    assert service.authorize(
        access_token=one.access_token, ip="192.0.2.1", path="/plan"
    ).allowed


def test_access_token_credential_cannot_manage_tokens(service: TokenService) -> None:
    with pytest.raises(TokenPermissionError) as caught:
        service.create(
            user="ana", name="n", scope="all", authenticated_by="access_token"
        )
    assert "cannot create a token while authenticated by an access token" in str(
        caught.value
    )
    issued = service.create(
        user="ana", name="n", scope="all", authenticated_by="session"
    )
    with pytest.raises(TokenPermissionError, match="cannot revoke a token"):
        service.revoke(issued.token_id, authenticated_by="access_token")
    with pytest.raises(TokenPermissionError):
        service.revoke_all("ana", authenticated_by="access_token")
    assert reason(service, issued) is Reason.ALLOWED


# -- lifecycle at every boundary, every scope ------------------------------------


@pytest.mark.parametrize("scope", ["all", "custom", "hyperscale"])
def test_refreshable_scope_boundaries(
    service: TokenService, clock: FakeClock, scope: str
) -> None:
    endpoints = ["/Client"] if scope == "custom" else None
    issued = service.create(user="ana", name="n", scope=scope, endpoints=endpoints)
    path = "/Client" if scope != "hyperscale" else _hyperscale_path(service)
    clock.set(T0 + MINUTES_30 - US)  # 12:29:59.999999
    assert reason(service, issued, path) is Reason.ALLOWED
    clock.set(T0 + MINUTES_30)  # 12:30:00
    assert reason(service, issued, path) is Reason.ACCESS_EXPIRED_RENEWABLE
    clock.set(T0 + MINUTES_30 + timedelta(days=14) - US)
    assert reason(service, issued, path) is Reason.ACCESS_EXPIRED_RENEWABLE
    clock.set(T0 + MINUTES_30 + timedelta(days=14))
    assert reason(service, issued, path) is Reason.EXPIRED
    assert renew_denied(service, issued) is Reason.EXPIRED


def _hyperscale_path(service: TokenService) -> str:
    # Any endpoint of the built-in set will do.
    from policy._scope import Scope

    return Scope.builtin("hyperscale").endpoints[0].path


@pytest.mark.parametrize(
    ("scope", "days"), [("microsoft-scim", 30), ("1-touch-recovery", 7)]
)
def test_fixed_scope_boundaries(
    service: TokenService, clock: FakeClock, scope: str, days: int
) -> None:
    from policy._scope import Scope

    issued = service.create(user="ana", name="n", scope=scope)
    path = Scope.builtin(scope).endpoints[0].path
    clock.set(T0 + timedelta(days=days) - US)
    assert reason(service, issued, path) is Reason.ALLOWED
    clock.set(T0 + timedelta(days=days))
    assert reason(service, issued, path) is Reason.EXPIRED


def test_renewed_at_the_last_instant_of_the_window(
    service: TokenService, clock: FakeClock
) -> None:
    issued = service.create(user="ana", name="n", scope="all")
    clock.set(T0 + MINUTES_30 + timedelta(days=14) - US)
    renewed = renew(service, issued)
    assert renewed.generation == 2
    assert renewed.access_expires_at == clock.now() + MINUTES_30
    assert reason(service, renewed) is Reason.ALLOWED


def test_renewable_until_counts_from_original_creation(
    service: TokenService, clock: FakeClock
) -> None:
    limit = T0 + timedelta(days=20)
    current = service.create(user="ana", name="n", scope="all", renewable_until=limit)
    for day in range(1, 20):
        clock.set(T0 + timedelta(days=day))
        current = renew(service, current)
    clock.set(limit - US)
    current = renew(service, current)
    assert current.renewable_until == limit
    clock.set(limit)
    assert renew_denied(service, current) is Reason.EXPIRED
    # The access token issued just before the limit still lives its 30 min.
    assert reason(service, current) is Reason.ALLOWED


def test_forever_chain_renews_past_a_year(
    service: TokenService, clock: FakeClock
) -> None:
    current = service.create(
        user="ana", name="n", scope="all", renewable_until="forever"
    )
    for step in range(1, 50):
        clock.set(T0 + timedelta(days=10 * step))
        current = renew(service, current)
    assert current.renewable_until is None
    assert reason(service, current) is Reason.ALLOWED


def test_creation_in_the_future_is_not_yet_valid(
    service: TokenService, clock: FakeClock
) -> None:
    clock.set(T0 + timedelta(minutes=10))
    issued = service.create(user="ana", name="n", scope="all")
    clock.set(T0)
    assert reason(service, issued) is Reason.NOT_YET_VALID
    assert renew_denied(service, issued) is Reason.NOT_YET_VALID
    clock.set(T0 + timedelta(minutes=9))  # inside the 60 s skew
    assert reason(service, issued) is Reason.ALLOWED


# -- renewal, rotation, reuse ------------------------------------------------------


def test_renewal_rotates_the_pair(service: TokenService, clock: FakeClock) -> None:
    first = service.create(user="ana", name="n", scope="all")
    clock.advance(timedelta(minutes=45))
    second = renew(service, first)
    assert second.token_id == first.token_id
    assert second.access_token != first.access_token
    assert reason(service, first) is Reason.REVOKED
    assert reason(service, second) is Reason.ALLOWED


def test_reusing_a_superseded_pair_revokes_the_chain(
    service: TokenService, clock: FakeClock
) -> None:
    first = service.create(user="ana", name="n", scope="all")
    clock.advance(timedelta(hours=1))
    second = renew(service, first)
    clock.advance(timedelta(hours=1))
    with pytest.raises(RenewalDenied) as caught:
        renew(service, first)
    decision = caught.value.decision
    assert decision.reason is Reason.REFRESH_REUSED_CHAIN_REVOKED
    assert decision.token_id == first.token_id
    assert reason(service, second) is Reason.REFRESH_REUSED_CHAIN_REVOKED
    assert renew_denied(service, second) is Reason.REFRESH_REUSED_CHAIN_REVOKED
    assert service.show(first.token_id).revoked_cause == "reuse"


def test_grace_window_returns_the_same_successor(clock: FakeClock) -> None:
    rules = LifetimeRules(reuse_grace=timedelta(seconds=30))
    service = TokenService(MemoryStore(), clock=clock, rules=rules)
    first = service.create(user="ana", name="n", scope="all")
    second = renew(service, first)
    clock.advance(timedelta(seconds=29))
    again = renew(service, first)
    assert again.access_token == second.access_token
    assert again.refresh_token == second.refresh_token
    assert reason(service, second) is Reason.ALLOWED
    clock.advance(timedelta(seconds=1))  # the grace window is over
    assert renew_denied(service, first) is Reason.REFRESH_REUSED_CHAIN_REVOKED


def test_grace_does_not_cover_a_pair_two_renewals_back(clock: FakeClock) -> None:
    rules = LifetimeRules(reuse_grace=timedelta(minutes=5))
    service = TokenService(MemoryStore(), clock=clock, rules=rules)
    first = service.create(user="ana", name="n", scope="all")
    second = renew(service, first)
    renew(service, second)
    assert renew_denied(service, first) is Reason.REFRESH_REUSED_CHAIN_REVOKED


def test_renewal_needs_the_matching_pair(service: TokenService) -> None:
    one = service.create(user="ana", name="a", scope="all")
    two = service.create(user="ana", name="b", scope="all")
    assert two.refresh_token is not None
    with pytest.raises(RenewalDenied) as caught:
        service.renew(access_token=one.access_token, refresh_token=two.refresh_token)
    assert caught.value.decision.reason is Reason.UNKNOWN_TOKEN
    with pytest.raises(RenewalDenied) as caught:
        service.renew(access_token=one.access_token, refresh_token="")
    assert caught.value.decision.reason is Reason.MISSING_TOKEN
    with pytest.raises(RenewalDenied) as caught:
        service.renew(access_token="cvpat_junk", refresh_token="cvprt_junk")
    assert caught.value.decision.reason is Reason.UNKNOWN_TOKEN
    # Nothing was revoked by the failed attempts.
    assert reason(service, one) is Reason.ALLOWED


# -- authorization -------------------------------------------------------------------


def test_authorize_reasons_before_the_policy(service: TokenService) -> None:
    assert (
        service.authorize(access_token=None, ip="10.0.0.1", path="/x").reason
        is Reason.MISSING_TOKEN
    )
    assert (
        service.authorize(access_token="Bearer abc", ip="10.0.0.1", path="/x").reason
        is Reason.UNKNOWN_TOKEN
    )
    stranger = TokenService(MemoryStore()).create(user="x", name="x", scope="all")
    assert reason(service, stranger) is Reason.UNKNOWN_TOKEN


def test_authorize_applies_scope_and_allowlist(service: TokenService) -> None:
    issued = service.create(
        user="ana",
        name="plans",
        scope="custom",
        endpoints=["/plan"],
        allowlist="10.0.0.0/8\n# office\n",
    )
    ok = service.authorize(
        access_token=issued.access_token, ip="10.2.3.4", path="/plan/7"
    )
    assert ok.allowed
    assert ok.token_name == "plans"
    far = service.authorize(
        access_token=issued.access_token, ip="192.0.2.1", path="/plan/7"
    )
    assert far.reason is Reason.IP_NOT_ALLOWED
    assert far.token_id == issued.token_id
    out = service.authorize(
        access_token=issued.access_token, ip="10.2.3.4", path="/Client"
    )
    assert out.reason is Reason.OUT_OF_SCOPE


def test_revoke_one_and_all(service: TokenService) -> None:
    one = service.create(user="ana", name="a", scope="all")
    two = service.create(user="ana", name="b", scope="microsoft-scim")
    other = service.create(user="bo", name="c", scope="all")
    assert service.revoke(one.token_id)
    assert not service.revoke(one.token_id)
    assert reason(service, one) is Reason.REVOKED
    assert service.revoke_all("ana") == [two.token_id]
    assert [t.revoked for t in service.tokens_of("ana")] == [True, True]
    assert reason(service, other) is Reason.ALLOWED
    with pytest.raises(TokenNotFoundError, match="no token has id 'tok_nope'"):
        service.revoke("tok_nope")


def test_clock_of(service: TokenService, clock: FakeClock) -> None:
    issued = service.create(user="ana", name="n", scope="all")
    clock.advance(timedelta(hours=1))
    seen = service.clock_of(issued.token_id)
    assert seen.state == "renewable"
    assert seen.access_expires_at == T0 + MINUTES_30
    assert seen.renew_by == T0 + MINUTES_30 + timedelta(days=14)
    assert seen.ends_first == "access_expires_at"
    with pytest.raises(TokenNotFoundError):
        service.clock_of("tok_nope")


def test_store_failure_denies_as_unavailable(clock: FakeClock) -> None:
    class BrokenStore(MemoryStore):
        def pair_by_access(self, access_digest: str) -> None:
            raise TokenStoreError("disk gone")

    service = TokenService(BrokenStore(), clock=clock)
    issued = service.create(user="ana", name="n", scope="all")
    decision = service.authorize(
        access_token=issued.access_token, ip="10.0.0.1", path="/x"
    )
    assert decision.reason is Reason.UNAVAILABLE
    assert not decision.allowed


def test_store_failure_is_logged_for_the_operator(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenStore(MemoryStore):
        def pair_by_access(self, access_digest: str) -> None:
            raise TokenStoreError(f"disk gone while reading {access_digest}")

    service = TokenService(BrokenStore(), clock=clock)
    issued = service.create(user="ana", name="n", scope="all")
    with caplog.at_level(logging.DEBUG, logger="policy"):
        service.authorize(access_token=issued.access_token, ip="10.0.0.1", path="/x")
    (record,) = [r for r in caplog.records if "could not decide" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "authorize could not decide, request denied as unavailable: TokenStoreError"
    )
    assert record.exc_info is None
    assert "disk gone" not in caplog.text
    assert issued.access_token[:16] not in caplog.text


def test_authorize_racing_a_renewal_names_the_renewal_time(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pair is read, a renewal supersedes it, then the token is read:
    # the stale pair has no renewal time, the store's current copy does.
    store = MemoryStore()
    service = TokenService(store, clock=clock)
    issued = service.create(user="ana", name="n", scope="all")
    stale = store.pair_by_access(digest(issued.access_token))
    assert stale is not None
    assert stale.superseded_at is None
    clock.advance(timedelta(minutes=5))
    renew(service, issued)
    monkeypatch.setattr(store, "pair_by_access", lambda access_digest: stale)

    decision = service.authorize(
        access_token=issued.access_token, ip="10.0.0.1", path="/x"
    )
    assert decision.reason is Reason.REVOKED
    assert decision.detail == (
        "this access token was replaced by renewal at "
        f"{(T0 + timedelta(minutes=5)).isoformat()}"
    )


def test_naive_clock_denies_as_unavailable() -> None:
    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2024, 5, 1, 12, 0)

    good = TokenService(MemoryStore(), clock=FakeClock(T0))
    issued = good.create(user="ana", name="n", scope="all")
    service = TokenService(good.store, clock=NaiveClock())
    assert reason(service, issued) is Reason.UNAVAILABLE
    with pytest.raises(PolicyTypeError, match=r"clock\.now\(\) must be"):
        service.create(user="ana", name="n", scope="all")


# -- secrets never leak --------------------------------------------------------------


def _fragments(secret: str) -> list[str]:
    return [secret[i : i + 16] for i in range(len(secret) - 15)]


def test_secrets_never_leak(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="policy")
    path = tmp_path / "tokens.db"
    service = TokenService(SQLiteStore(path), clock=clock)
    first = service.create(
        user="ana",
        name="n",
        scope="custom",
        endpoints=["/plan"],
        allowlist=["10.0.0.1"],
    )
    clock.advance(timedelta(minutes=40))
    second = renew(service, first)
    third = service.create(user="ana", name="fixed", scope="microsoft-scim")
    texts = [repr(first), str(second), repr(service), repr(service.store)]
    texts += [repr(t) for t in service.tokens_of("ana")]
    texts += [str(t.to_dict()) for t in service.tokens_of("ana")]
    texts.append(str(service.clock_of(first.token_id)))
    for issued in (first, second, third):
        decision = service.authorize(
            access_token=issued.access_token, ip="10.0.0.2", path="/plan"
        )
        texts += [repr(decision), str(decision.to_dict())]
    clock.advance(timedelta(minutes=1))
    try:
        renew(service, first)
    except RenewalDenied as error:
        texts += [str(error), repr(error), repr(error.decision)]
    texts += [record.getMessage() for record in caplog.records]
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    secrets = [first.access_token, first.refresh_token, second.access_token]
    secrets += [second.refresh_token, third.access_token]
    assert any("chain revoked" in text for text in texts)  # the scan saw the logs
    for secret in secrets:
        assert secret is not None
        for fragment in _fragments(secret):
            assert all(fragment not in text for text in texts), fragment
            assert fragment.encode() not in raw, fragment
