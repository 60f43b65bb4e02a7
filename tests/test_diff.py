"""Diff: address space and endpoints gained and lost."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import AccessPolicy, IPAllowlist, Scope
from policy._diff import diff_allowlists, diff_policies, subtract
from policy._endpoints import Endpoint
from policy.cli import main

ranges = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200))).map(
    lambda pairs: sorted({(min(p), max(p)) for p in pairs})
)


def _merged(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    from policy._index import IntervalIndex

    return list(IntervalIndex((4, a, b) for a, b in pairs).ranges(4))


@settings(max_examples=200)
@given(ranges, ranges)
def test_subtract_is_set_difference(
    left: list[tuple[int, int]], right: list[tuple[int, int]]
) -> None:
    a, b = _merged(left), _merged(right)
    expected = {x for lo, hi in a for x in range(lo, hi + 1)} - {
        x for lo, hi in b for x in range(lo, hi + 1)
    }
    got = subtract(a, b)
    assert {x for lo, hi in got for x in range(lo, hi + 1)} == expected
    assert got == _merged(got)


def test_reordering_and_rewriting_changes_nothing() -> None:
    old = IPAllowlist.parse("10.0.0.0/24\n10.0.1.0 - 10.0.1.255\n")
    new = IPAllowlist.parse("10.0.0.0/23\n")
    v4, v6 = diff_allowlists(old, new)
    assert (v4.gained, v4.lost, v6.gained, v6.lost) == ((), (), (), ())


def test_gained_and_lost_as_minimal_cidrs() -> None:
    old = IPAllowlist.parse("10.0.0.0/24\n2001:db8::/64\n")
    new = IPAllowlist.parse("10.0.0.0/25\n10.0.1.0 - 10.0.1.2\n")
    v4, v6 = diff_allowlists(old, new)
    assert v4.gained == ("10.0.1.0/31", "10.0.1.2/32")
    assert v4.gained_count == 3
    assert v4.lost == ("10.0.0.128/25",)
    assert v4.lost_count == 128
    assert v6.lost == ("2001:db8::/64",)
    assert v6.lost_count == 2**64


def test_an_ipv6_entry_over_the_mapped_block_gains_no_ipv4() -> None:
    old = IPAllowlist.parse("198.51.100.0/24\n")
    v4, v6 = diff_allowlists(old, IPAllowlist.parse("198.51.100.0/24\n::/1\n"))
    assert (v4.gained, v4.gained_count, v4.lost) == ((), 0, ())
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    v6_gained = sorted(ipaddress.ip_network("::/1").address_exclude(mapped))
    assert v6.gained == tuple(map(str, v6_gained))
    assert v6.gained_count == 2**127 - 2**32
    # An entry inside the block is its IPv4 equivalent, so it gains IPv4.
    v4, _ = diff_allowlists(old, IPAllowlist.parse("::ffff:192.0.2.0/120\n"))
    assert (v4.gained, v4.lost) == (("192.0.2.0/24",), ("198.51.100.0/24",))


def test_no_allowlist_is_every_address() -> None:
    v4, v6 = diff_allowlists(IPAllowlist.parse("0.0.0.0/1"), None)
    assert v4.gained == ("128.0.0.0/1",)
    assert v6.gained == ("::/0",)


def test_policies_endpoints_and_settings() -> None:
    old = AccessPolicy(scope=Scope.custom(["/plan", "/Client"]))
    new = AccessPolicy(
        scope=Scope.custom(["/client", "/V4/Plan"]),
        api_base=["/webconsole/api"],
        case_sensitive=True,
    )
    found = diff_policies(old, new)
    assert found.endpoints_gained == ("/V4/Plan",)
    assert found.endpoints_lost == ("/plan",)
    assert found.settings == (
        "api_base: +/webconsole/api",
        "case_sensitive: False -> True",
    )
    assert found.different
    everything = diff_policies(old, AccessPolicy(scope=Scope.all()))
    assert everything.settings == ("scope: Custom -> All",)
    assert everything.endpoints_gained == ("/",)


def test_cli_exit_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("10.0.0.0/24\n10.0.1.0/24\n", encoding="utf-8")
    b.write_text("10.0.0.0/23\n2001:db8::/127\n", encoding="utf-8")
    assert main(["diff", str(a), str(a)]) == 0
    assert capsys.readouterr().out == "no difference\n"
    assert main(["diff", str(a), str(b)]) == 1
    assert capsys.readouterr().out == (
        "IPv6 gained: 2 addresses in 1 CIDR\n  + 2001:db8::/127\n"
    )
    bad = tmp_path / "bad.txt"
    bad.write_text("010.0.0.1\n", encoding="utf-8")
    assert main(["diff", str(a), str(bad)]) == 2


def test_upper_case_toml_files_are_compared_as_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "OLD.TOML"
    new = tmp_path / "New.Toml"
    old.write_text('scope = "custom"\nendpoints = ["/plan"]\n', encoding="utf-8")
    new.write_text('scope = "custom"\nendpoints = ["/V4/Plan"]\n', encoding="utf-8")
    assert main(["diff", str(old), str(new)]) == 1
    assert capsys.readouterr().out == (
        "endpoints gained:\n  + /V4/Plan\nendpoints lost:\n  - /plan\n"
    )


def _custom(*typed: str) -> AccessPolicy:
    # Built around the grammar, which now refuses a secret in an endpoint:
    # the diff must blank one whatever let it in.
    endpoints = tuple(Endpoint(text=t, path=t, line=1, column=1) for t in typed)
    scope = Scope(name="Custom", kind="custom", id="custom", endpoints=endpoints)
    return AccessPolicy(scope=scope)


def test_a_secret_in_an_endpoint_is_blanked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "cvpat_" + "Q" * 43
    found = diff_policies(_custom("/plan"), _custom("/plan", f"/x/{secret}\x1b"))
    assert found.endpoints_gained == ("/x/cvpat_***\x1b",)
    assert found.lines() == ["endpoints gained:", "  + /x/cvpat_***\\x1b"]
    monkeypatch.setattr("policy.cli._diff.diff_files", lambda old, new: found)
    assert main(["diff", "--format", "json", "a.toml", "b.toml"]) == 1
    out = capsys.readouterr().out
    assert "Q" * 8 not in out
    assert "cvpat_***" in out
