"""Renewal judged by the client address (renew(ip=...), _denials.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from policy._allowlist import IPAllowlist
from policy._decision import Reason
from policy.tokens import (
    FakeClock,
    IssuedToken,
    LifetimeRules,
    MemoryStore,
    RenewalDenied,
    SQLiteStore,
    TokenService,
    TokenStore,
)
from policy.tokens._denials import address_refused

STORES: dict[str, Callable[[Path], TokenStore]] = {
    "memory": lambda _: MemoryStore(),
    "sqlite": lambda tmp: SQLiteStore(tmp / "tokens.db"),
}


@pytest.fixture(params=sorted(STORES))
def service(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> TokenService:
    return TokenService(STORES[request.param](tmp_path), clock=clock)


@pytest.fixture
def issued(service: TokenService) -> IssuedToken:
    return service.create(
        user="ana", name="ci", scope="all", allowlist=["10.0.0.0/8", "2001:db8::/32"]
    )


def renew(service: TokenService, pair: IssuedToken, ip: object) -> IssuedToken:
    assert pair.refresh_token is not None
    return service.renew(
        access_token=pair.access_token, refresh_token=pair.refresh_token, ip=ip
    )


def refused(service: TokenService, pair: IssuedToken, ip: object) -> RenewalDenied:
    with pytest.raises(RenewalDenied) as caught:
        renew(service, pair, ip)
    return caught.value


def allowed(service: TokenService, pair: IssuedToken) -> bool:
    return service.authorize(
        access_token=pair.access_token, ip="10.1.2.3", path="/Client"
    ).allowed


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3",
        "2001:db8::7",
        "::ffff:10.9.9.9",  # IPv4-mapped: judged as 10.9.9.9
        IPv4Address("10.0.0.1"),
        IPv6Address("2001:db8::1"),
    ],
)
def test_an_admitted_address_renews(
    service: TokenService, issued: IssuedToken, ip: object
) -> None:
    renewed = renew(service, issued, ip)
    assert renewed.generation == 2
    assert allowed(service, renewed)
    assert not allowed(service, issued)


@pytest.mark.parametrize(
    ("ip", "shown"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db9::1", "2001:db9::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (IPv4Address("11.0.0.1"), "11.0.0.1"),
    ],
)
def test_an_address_outside_the_allowlist_changes_nothing(
    service: TokenService, issued: IssuedToken, ip: object, shown: str
) -> None:
    decision = refused(service, issued, ip).decision
    assert decision.reason is Reason.IP_NOT_ALLOWED
    assert not decision.allowed
    assert decision.detail == (
        f"client address {shown} matches no entry of the token's allowlist, "
        "so it may not renew the token"
    )
    assert (decision.ip, decision.token_id, decision.token_name) == (
        shown,
        issued.token_id,
        "ci",
    )
    token = service.show(issued.token_id)
    assert (token.generation, token.revoked) == (1, False)
    assert service.store.pair(issued.token_id, 2) is None
    assert allowed(service, issued)
    # Refused again and again: still nothing changes, and the pair renews
    # from inside afterwards.
    refused(service, issued, ip)
    assert renew(service, issued, "10.0.0.9").generation == 2


@pytest.mark.parametrize(
    ("ip", "echoed"),
    [
        ("10.0.0.1, 10.0.0.2", "'10.0.0.1, 10.0.0.2'"),
        ("", "''"),
        (" 10.0.0.1", "' 10.0.0.1'"),
        ("10.0.0.1/32", "'10.0.0.1/32'"),
        ("fe80::1%eth0", "'fe80::1%eth0'"),
        (167772161, "167772161"),
        (b"10.0.0.1", "b'10.0.0.1'"),
    ],
)
def test_not_one_address_is_bad_ip(
    service: TokenService, issued: IssuedToken, ip: object, echoed: str
) -> None:
    decision = refused(service, issued, ip).decision
    assert decision.reason is Reason.BAD_IP
    assert decision.detail == f"client address {echoed} is not exactly one IP address"
    assert decision.token_id == issued.token_id
    assert service.show(issued.token_id).generation == 1


def test_without_an_allowlist_any_address_renews_but_not_garbage(
    service: TokenService,
) -> None:
    anywhere = service.create(user="ana", name="open", scope="all")
    assert renew(service, anywhere, "198.51.100.1").generation == 2
    assert refused(service, anywhere, "nonsense").decision.reason is Reason.BAD_IP


def test_without_ip_the_allowlist_is_not_consulted(
    service: TokenService, issued: IssuedToken
) -> None:
    assert renew(service, issued, None).generation == 2


def test_a_superseded_pair_from_outside_revokes_nothing(
    service: TokenService, issued: IssuedToken, clock: FakeClock
) -> None:
    current = renew(service, issued, "10.0.0.1")
    clock.advance(timedelta(minutes=1))
    decision = refused(service, issued, "192.0.2.1").decision
    assert decision.reason is Reason.IP_NOT_ALLOWED
    assert not service.show(issued.token_id).revoked
    assert allowed(service, current)
    # From inside, the same reuse is theft as before.
    reuse = refused(service, issued, "10.0.0.1").decision
    assert reuse.reason is Reason.REFRESH_REUSED_CHAIN_REVOKED
    assert service.show(issued.token_id).revoked_cause == "reuse"


def test_a_grace_retry_from_outside_gets_no_successor(clock: FakeClock) -> None:
    rules = LifetimeRules(reuse_grace=timedelta(seconds=30))
    service = TokenService(MemoryStore(), clock=clock, rules=rules)
    first = service.create(user="ana", name="n", scope="all", allowlist="10.0.0.0/8")
    second = renew(service, first, "10.0.0.1")
    assert refused(service, first, "192.0.2.1").decision.reason is (
        Reason.IP_NOT_ALLOWED
    )
    assert renew(service, first, "10.0.0.1").access_token == second.access_token


def test_a_revoked_token_from_outside_says_only_ip_not_allowed(
    service: TokenService, issued: IssuedToken
) -> None:
    service.revoke(issued.token_id)
    assert refused(service, issued, "192.0.2.1").decision.reason is (
        Reason.IP_NOT_ALLOWED
    )
    assert refused(service, issued, "10.0.0.1").decision.reason is Reason.REVOKED


def test_an_allowlist_that_no_longer_loads_is_unavailable(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = TokenService(MemoryStore(), clock=clock)
    issued = service.create(user="ana", name="n", scope="all", allowlist="10.0.0.0/8")
    stored = service.show(issued.token_id)
    broken = replace(stored, allowlist=("10.0.0.0/33",))
    monkeypatch.setattr(service.store, "get", lambda _: broken)
    decision = refused(service, issued, "10.0.0.1").decision
    assert decision.reason is Reason.UNAVAILABLE
    assert decision.detail == "the token's stored scope or allowlist no longer loads"


def test_address_refused_fails_closed_without_a_parsed_allowlist(
    service: TokenService, issued: IssuedToken
) -> None:
    token = service.show(issued.token_id)
    refusal = address_refused(token, "10.0.0.1", allowlist=None)
    assert refusal is not None
    assert refusal.reason is Reason.IP_NOT_ALLOWED
    admitted = IPAllowlist.parse(["10.0.0.0/8"])
    assert address_refused(token, "10.0.0.1", allowlist=admitted) is None
