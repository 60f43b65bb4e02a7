"""The public strategies, and our own properties written with them."""

from __future__ import annotations

import ipaddress

import netaddr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy import AccessPolicy, AllowlistError, IPAllowlist, Scope
from policy._lint import lint_allowlist
from policy.testing import (
    TokenAtStage,
    addresses_in,
    addresses_outside,
    allowlist_entries,
    allowlists,
    invalid_allowlist_entries,
    paths_in,
    paths_outside,
    tokens_at,
)

FAST = settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])


def _networks(
    allowlist: IPAllowlist,
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        network
        for cidr in allowlist.to_cidrs()
        for network in [ipaddress.ip_network(cidr)]
    ]


@FAST
@given(allowlist_entries())
def test_parse_format_round_trip(text: str) -> None:
    (entry,) = IPAllowlist.parse(text).entries
    (again,) = IPAllowlist.parse(str(entry)).entries
    assert (again.version, again.first, again.last, again.kind) == (
        entry.version,
        entry.first,
        entry.last,
        entry.kind,
    )


@FAST
@given(invalid_allowlist_entries())
def test_invalid_entries_fail_with_their_code(pair: tuple[str, str]) -> None:
    text, code = pair
    with pytest.raises(AllowlistError) as caught:
        IPAllowlist.parse(text)
    assert [d.code for d in caught.value.diagnostics] == [code]


@FAST
@given(st.data(), allowlists())
def test_index_against_ipaddress_and_netaddr(data: st.DataObject, text: str) -> None:
    allowlist = IPAllowlist.parse(text)
    oracle = netaddr.IPSet()
    for entry in allowlist.entries:
        for version, first, last in entry.intervals():
            low = netaddr.IPAddress(first, version=version)
            high = netaddr.IPAddress(last, version=version)
            oracle.add(netaddr.IPRange(low, high))
    inside = data.draw(addresses_in(allowlist))
    outside = data.draw(addresses_outside(allowlist))
    for ip, expected in ((inside, True), (outside, False)):
        parsed = ipaddress.ip_address(ip)
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
            parsed = parsed.ipv4_mapped
        assert any(parsed in n for n in _networks(allowlist)) is expected
        assert (netaddr.IPAddress(str(parsed)) in oracle) is expected
        assert allowlist.contains(ip) is expected


@FAST
@given(allowlists(max_entries=8))
def test_lint_never_crashes_and_is_deterministic(text: str) -> None:
    first = lint_allowlist(text, my_ip="192.0.2.1", internet=True)
    assert first == lint_allowlist(text, my_ip="192.0.2.1", internet=True)
    assert all(d.line >= 1 and d.column >= 1 for d in first)


@FAST
@given(st.lists(st.text(max_size=30), max_size=6))
def test_lint_never_crashes_on_any_text(lines: list[str]) -> None:
    found = lint_allowlist(lines)
    assert found == lint_allowlist(lines)


SCOPE = Scope.custom(["/plan", "/V4/ServerGroup"])


@FAST
@given(st.booleans(), st.data())
def test_paths_in_and_outside(case_sensitive: bool, data: st.DataObject) -> None:
    policy = AccessPolicy(
        scope=SCOPE, api_base=["/commandcenter/api"], case_sensitive=case_sensitive
    )
    inside = data.draw(
        paths_in(SCOPE, api_base="/commandcenter/api", case_sensitive=case_sensitive)
    )
    outside = data.draw(
        paths_outside(
            SCOPE, api_base="/commandcenter/api", case_sensitive=case_sensitive
        )
    )
    assert policy.check(ip="192.0.2.1", path=inside).allowed
    assert not policy.check(ip="192.0.2.1", path=outside).allowed


@settings(max_examples=30, deadline=None)
@given(tokens_at())
def test_tokens_at_each_stage(at: TokenAtStage) -> None:
    decision = at.service.authorize(
        access_token=at.token.access_token, ip="192.0.2.1", path="/Client"
    )
    assert decision.reason is at.expected


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="stage must be one of live"):
        tokens_at("dead")  # type: ignore[arg-type]


def test_import_without_hypothesis_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "policy.testing")
    with pytest.raises(ImportError, match=r"access-policy\[testing\]"):
        importlib.import_module("policy.testing")
