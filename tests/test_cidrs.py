"""``policy cidrs``: the minimal CIDR list, itself a valid allowlist."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from policy import IPAllowlist
from policy.cli import main
from policy.testing import allowlists


def test_prints_minimal_cidrs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "allow.txt"
    listed.write_text("10.0.0.0 - 10.0.0.2\n10.0.0.3\n::1\n", encoding="utf-8")
    assert main(["cidrs", str(listed)]) == 0
    assert capsys.readouterr().out == "10.0.0.0/30\n::1/128\n"


def test_an_ipv6_entry_over_the_mapped_block_prints_no_ipv4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "allow.txt"
    listed.write_text("::/64\n::ffff:192.0.2.0/120\n", encoding="utf-8")
    assert main(["cidrs", str(listed)]) == 0
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    v6 = sorted(ipaddress.ip_network("::/64").address_exclude(mapped))
    assert capsys.readouterr().out == "".join(
        f"{cidr}\n" for cidr in ["192.0.2.0/24", *map(str, v6)]
    )


def test_policy_without_allowlist_is_every_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('scope = "all"\n', encoding="utf-8")
    assert main(["cidrs", str(policy)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "0.0.0.0/0\n::/0\n"
    assert "has no allowlist" in captured.err
    assert main(["cidrs", str(tmp_path / "missing.txt")]) == 2


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(allowlists())
# A range ending on the first address of the IPv4-mapped block: its CIDRs
# once included ::ffff:0.0.0.0/128, which parses back as IPv4 0.0.0.0.
@example("::-::ffff:0.0.0.0")
@example("::/0")
def test_cidr_list_round_trips(text: str) -> None:
    allowlist = IPAllowlist.parse(text)
    cidrs = allowlist.to_cidrs()
    again = IPAllowlist.parse("\n".join(cidrs))
    assert again.index == allowlist.index
    assert again.to_cidrs() == cidrs


def test_an_upper_case_toml_suffix_is_a_policy_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "PLAN.TOML"
    policy.write_text(
        'scope = "all"\nip_allowlist = "10.0.0.0 - 10.0.0.3"\n', encoding="utf-8"
    )
    assert main(["cidrs", str(policy)]) == 0
    assert capsys.readouterr().out == "10.0.0.0/30\n"
