"""Tests for policy._address: strict client addresses and canonical text."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._address import (
    format_address,
    parse_client_address,
    straddles_mapped_block,
    unmap,
    unmap_interval,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.9", (4, 0xCB007109)),
        ("0.0.0.0", (4, 0)),  # noqa: S104 (an address to parse, not a bind)
        ("255.255.255.255", (4, 2**32 - 1)),
        ("2001:db8::1", (6, 0x20010DB8 << 96 | 1)),
        (
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            (6, 0x20010DB885A3 << 80 | 0x8A2E03707334),
        ),
        ("::", (6, 0)),
        # IPv4-mapped: dual-stack sockets report IPv4 clients this way.
        ("::ffff:203.0.113.9", (4, 0xCB007109)),
        ("::FFFF:cb00:7109", (4, 0xCB007109)),
        (ipaddress.IPv4Address("192.0.2.1"), (4, 0xC0000201)),
        (ipaddress.IPv6Address("::ffff:192.0.2.1"), (4, 0xC0000201)),
        (ipaddress.IPv6Address("2001:db8::2"), (6, 0x20010DB8 << 96 | 2)),
    ],
)
def test_parse_client_address_accepts_one_strict_address(
    value: object, expected: tuple[int, int]
) -> None:
    assert parse_client_address(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # NAT64, 6to4 and IPv4-compatible addresses stay IPv6 hosts.
        ("64:ff9b::192.0.2.1", (6, 0x64FF9B << 96 | 0xC0000201)),
        ("2002:c000:0201::1", (6, 0x2002C0000201 << 80 | 1)),
        ("::192.0.2.1", (6, 0xC0000201)),
    ],
)
def test_other_embeddings_are_not_unmapped(
    value: str, expected: tuple[int, int]
) -> None:
    assert parse_client_address(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "010.0.0.1",
        "192.0.2.010",
        "192.0.2",
        "1.2.3.256",
        " 203.0.113.9",
        "203.0.113.9 ",
        "203.0.113.9\n",
        "203.0.113.9, 192.0.2.10",
        "203.0.113.0/24",
        "fe80::1%eth0",
        "::ffff:192.0.2.010",
        "example.com",
        "",
        "1.2.3.4\x00",
        "1.2.3.\u0664",
        "x" * 10_000,
        b"1.2.3.4",
        3232235521,
        True,
        None,
        1.5,
        ipaddress.IPv6Address("fe80::1%eth0"),
        ipaddress.ip_network("192.0.2.0/24"),
    ],
)
def test_parse_client_address_refuses_anything_else(value: object) -> None:
    assert parse_client_address(value) is None


def test_unmap_interval_only_unmaps_intervals_inside_the_block() -> None:
    first, last = 0xFFFF_0000_0000, 0xFFFF_FFFF_FFFF
    assert unmap_interval(6, first, last) == (4, 0, 2**32 - 1)
    assert unmap_interval(6, first + 5, first + 9) == (4, 5, 9)
    assert unmap_interval(6, first - 1, last) == (6, first - 1, last)
    assert unmap_interval(6, first, last + 1) == (6, first, last + 1)
    assert unmap_interval(6, 0, 2**128 - 1) == (6, 0, 2**128 - 1)
    assert unmap_interval(4, 0, 9) == (4, 0, 9)


def test_straddles_mapped_block() -> None:
    first, last = 0xFFFF_0000_0000, 0xFFFF_FFFF_FFFF
    assert straddles_mapped_block(6, 0, 2**64 - 1)  # ::/64
    assert straddles_mapped_block(6, first - 1, first)
    assert straddles_mapped_block(6, last, last + 1)
    assert not straddles_mapped_block(6, first, last)
    assert not straddles_mapped_block(6, 0, first - 1)
    assert not straddles_mapped_block(6, last + 1, 2**128 - 1)
    assert not straddles_mapped_block(4, 0, 2**32 - 1)


def test_unmap_only_touches_the_mapped_block() -> None:
    assert unmap(6, 0xFFFF_0000_0000) == (4, 0)
    assert unmap(6, 0xFFFF_FFFF_FFFF) == (4, 2**32 - 1)
    assert unmap(6, 0xFFFF_0000_0000 - 1) == (6, 0xFFFF_0000_0000 - 1)
    assert unmap(6, 0x1_0000_0000_0000) == (6, 0x1_0000_0000_0000)
    assert unmap(4, 5) == (4, 5)


@pytest.mark.parametrize(
    ("version", "value", "expected"),
    [
        (4, 0xC0000201, "192.0.2.1"),
        (4, 0, "0.0.0.0"),  # noqa: S104 (an address to print, not a bind)
        (6, 0x20010DB8 << 96 | 1, "2001:db8::1"),
        (6, 0, "::"),
    ],
)
def test_format_address(version: int, value: int, expected: str) -> None:
    assert format_address(version, value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "value", "message"),
    [
        (4, 2**32, "an IPv4 address must be 0 to 4294967295, got 4294967296"),
        (4, -1, "an IPv4 address must be 0 to 4294967295, got -1"),
        (5, 1, "IP version must be 4 or 6, got 5"),
    ],
)
def test_format_address_refuses_out_of_range(
    version: int, value: int, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(") + "$"):
        format_address(version, value)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.ip_addresses())
def test_agrees_with_ipaddress(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    expected: tuple[int, int] = (address.version, int(address))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        expected = (4, int(address.ipv4_mapped))
    assert parse_client_address(str(address)) == expected
    assert parse_client_address(address.exploded) == expected
    assert parse_client_address(address) == expected
    assert format_address(address.version, int(address)) == str(address)
