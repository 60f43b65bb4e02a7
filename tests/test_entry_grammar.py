"""Tests for policy._entry_grammar: the line grammar, its checks, the fast path."""

from __future__ import annotations

import ipaddress
from typing import Literal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from policy._entry_grammar import EntryValue, fast_entry, read_line

V6_DOC = 0x20010DB8 << 96


def single(version: Literal[4, 6], value: int) -> EntryValue:
    return EntryValue(version, value, value, "address", None)


def values(line: str) -> list[tuple[int, str, EntryValue]]:
    items, problems = read_line(line)
    assert problems == []
    return [(item.offset, item.text, item.value) for item in items]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("10.0.0.1", EntryValue(4, 0x0A000001, 0x0A000001, "address", None)),
        (
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            single(6, 0x20010DB885A3 << 80 | 0x8A2E03707334),
        ),
        ("2001:db8::1", EntryValue(6, V6_DOC | 1, V6_DOC | 1, "address", None)),
        ("::ffff:192.0.2.1", single(6, 0xFFFFC0000201)),
        (
            "64:ff9b::192.0.2.1",
            single(6, 0x64FF9B << 96 | 0xC0000201),
        ),
        ("1.1.1.0/24", EntryValue(4, 0x01010100, 0x010101FF, "cidr", 24)),
        ("0.0.0.0/0", EntryValue(4, 0, 2**32 - 1, "cidr", 0)),
        (
            "2001:0db8:85a3::/64",
            EntryValue(
                6, 0x20010DB885A3 << 80, (0x20010DB885A3 << 80) + 2**64 - 1, "cidr", 64
            ),
        ),
        ("1.1.1.0 – 1.1.1.25", EntryValue(4, 0x01010100, 0x01010119, "range", None)),
        ("1.1.1.0-1.1.1.25", EntryValue(4, 0x01010100, 0x01010119, "range", None)),
        ("1.1.1.0 — 1.1.1.25", EntryValue(4, 0x01010100, 0x01010119, "range", None)),
        ("1.1.1.0\u22121.1.1.25", EntryValue(4, 0x01010100, 0x01010119, "range", None)),
        (
            "1.1.1.0\u00a0\u2013\u00a01.1.1.25",
            EntryValue(4, 0x01010100, 0x01010119, "range", None),
        ),
        ("1.1.1.7 - 1.1.1.7", EntryValue(4, 0x01010107, 0x01010107, "range", None)),
        (
            "2001:db8::1 - 2001:db8::ffff",
            EntryValue(6, V6_DOC | 1, V6_DOC | 0xFFFF, "range", None),
        ),
    ],
)
def test_every_entry_form(line: str, expected: EntryValue) -> None:
    assert values(line) == [(0, line, expected)]


def test_commas_comments_and_spaces() -> None:
    line = "\ufeff 10.0.0.1,\u200b10.0.0.2 , 10.0.0.0/8 # office, 1.1.1.1"
    found = values(line)
    assert [(offset, text) for offset, text, _ in found] == [
        (2, "10.0.0.1"),
        (12, "10.0.0.2"),
        (23, "10.0.0.0/8"),
    ]
    assert values("# only a comment") == []
    assert values("   ") == []
    assert [t for _, t, _ in values("10.0.0.1,")] == ["10.0.0.1"]


def problem(line: str, *, lenient: bool = False) -> tuple[int, int, str, str, str]:
    _, problems = read_line(line, lenient=lenient)
    assert len(problems) == 1
    found = problems[0]
    return found.offset + 1, found.length, found.text, found.code, found.message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "010.0.0.1",
            (
                1,
                3,
                "010",
                "ipv4-leading-zero",
                "an IPv4 octet must have no leading zero (octal or decimal is"
                " ambiguous), got '010' in '010.0.0.1'",
            ),
        ),
        (
            "192.0.2.010",
            (
                9,
                3,
                "010",
                "ipv4-leading-zero",
                "an IPv4 octet must have no leading zero (octal or decimal is"
                " ambiguous), got '010' in '192.0.2.010'",
            ),
        ),
        (
            "1.2.300.4",
            (
                5,
                3,
                "300",
                "ipv4-octet-range",
                "an IPv4 octet must be 0 to 255, got 300 in '1.2.300.4'",
            ),
        ),
        (
            "192.0.2",
            (
                1,
                7,
                "192.0.2",
                "ipv4-short-form",
                "an IPv4 address must have exactly 4 octets, got 3 in '192.0.2'",
            ),
        ),
        (
            "1.2.3.4.5",
            (
                1,
                9,
                "1.2.3.4.5",
                "ipv4-too-many-octets",
                "an IPv4 address must have exactly 4 octets, got 5 in '1.2.3.4.5'",
            ),
        ),
        (
            "10.0.0.0/33",
            (
                10,
                2,
                "33",
                "prefix-range",
                "an IPv4 prefix length must be 0 to 32, got 33 in '10.0.0.0/33'",
            ),
        ),
        (
            "2001:db8::/129",
            (
                12,
                3,
                "129",
                "prefix-range",
                "an IPv6 prefix length must be 0 to 128, got 129 in '2001:db8::/129'",
            ),
        ),
        (
            "10.0.0.0/08",
            (
                10,
                2,
                "08",
                "prefix-leading-zero",
                "a prefix length must have no leading zero, got '08' in '10.0.0.0/08'",
            ),
        ),
        (
            "10.0.0.0/",
            (
                9,
                1,
                "/",
                "prefix-invalid",
                "a prefix length must be a number 0 to 32 after '/', got '' in"
                " '10.0.0.0/'",
            ),
        ),
        (
            "10.0.0.0/255.0.0.0",
            (
                9,
                10,
                "/255.0.0.0",
                "prefix-invalid",
                "a prefix length must be a number 0 to 32 after '/', got '255.0.0.0'"
                " in '10.0.0.0/255.0.0.0'",
            ),
        ),
        (
            "1.1.1.1 - ::1",
            (
                1,
                13,
                "1.1.1.1 - ::1",
                "range-family-mismatch",
                "both ends of a range must be the same IP version, got IPv4 and IPv6"
                " in '1.1.1.1 - ::1'",
            ),
        ),
        (
            "1.1.1.9 – 1.1.1.1",
            (
                1,
                17,
                "1.1.1.9 – 1.1.1.1",
                "range-reversed",
                "a range must start at or below its end, got '1.1.1.9 – 1.1.1.1';"
                " did you mean 1.1.1.1 - 1.1.1.9?",
            ),
        ),
        (
            "fe80::1%eth0",
            (
                8,
                5,
                "%eth0",
                "ipv6-zone-id",
                "an allowlist entry must have no IPv6 zone id, got '%eth0' in"
                " 'fe80::1%eth0'",
            ),
        ),
        (
            "1::2::3",
            (
                1,
                7,
                "1::2::3",
                "ipv6-invalid",
                "not a valid IPv6 address ('::' may appear only once), got '1::2::3'",
            ),
        ),
        (
            "2001:00db8::1",
            (
                1,
                13,
                "2001:00db8::1",
                "ipv6-invalid",
                "not a valid IPv6 address (each group must have 1 to 4 hex digits),"
                " got '2001:00db8::1'",
            ),
        ),
        (
            "1:2:3:4:5:6:7:8:9",
            (
                1,
                17,
                "1:2:3:4:5:6:7:8:9",
                "ipv6-invalid",
                "not a valid IPv6 address (it must have 8 groups, or fewer with one"
                " '::'), got '1:2:3:4:5:6:7:8:9'",
            ),
        ),
        (
            "::ffff:192.0.2.010",
            (
                16,
                3,
                "010",
                "ipv4-leading-zero",
                "an IPv4 octet must have no leading zero (octal or decimal is"
                " ambiguous), got '010' in '192.0.2.010'",
            ),
        ),
        (
            "  10.0.0.5/24",
            (
                3,
                11,
                "10.0.0.5/24",
                "host-bits-set",
                "host bits set in '10.0.0.5/24': write the network 10.0.0.0/24 or"
                " the single address 10.0.0.5",
            ),
        ),
        (
            "example.com",
            (
                1,
                11,
                "example.com",
                "hostname",
                "an allowlist entry must be an address, CIDR or range, not a host"
                " name, got 'example.com'",
            ),
        ),
        (
            "10.0.0.1, localhost",
            (
                11,
                9,
                "localhost",
                "hostname",
                "an allowlist entry must be an address, CIDR or range, not a host"
                " name, got 'localhost'",
            ),
        ),
        (
            "*.*.*.*",
            (
                1,
                7,
                "*.*.*.*",
                "not-an-address",
                "expected an IPv4 or IPv6 address, CIDR or range, got '*.*.*.*'",
            ),
        ),
        (
            "10.0.0.1 10.0.0.2",
            (
                10,
                8,
                "10.0.0.2",
                "syntax",
                "expected ',' between entries or '#' before a comment, got '10.0.0.2'",
            ),
        ),
        (
            "10.0.0.0 /24",
            (
                10,
                3,
                "/24",
                "syntax",
                "expected ',' between entries or '#' before a comment, got '/24'",
            ),
        ),
        (
            "10.0.0.1 -",
            (
                11,
                1,
                "",
                "range-incomplete",
                "expected an address after the range dash, got end of line",
            ),
        ),
        (
            "10.0.0.1 \u2013 foo",
            (
                12,
                3,
                "foo",
                "range-incomplete",
                "expected an address after the range dash, got 'foo'",
            ),
        ),
        (
            "10.0.0.1\x0b",
            (
                9,
                1,
                "\x0b",
                "control-character",
                "an allowlist line must hold no control or invisible character, got"
                " U+000B at column 9",
            ),
        ),
        (
            "\u202e10.0.0.1",
            (
                1,
                1,
                "\u202e",
                "control-character",
                "an allowlist line must hold no control or invisible character, got"
                " U+202E at column 1",
            ),
        ),
    ],
)
def test_every_rejection(line: str, expected: tuple[int, int, str, str, str]) -> None:
    assert problem(line) == expected


def test_several_problems_on_one_line_are_all_reported() -> None:
    items, problems = read_line("010.0.0.1, 10.0.0.1, 1.2.3.256")
    assert [item.text for item in items] == ["10.0.0.1"]
    assert [(p.offset + 1, p.code) for p in problems] == [
        (1, "ipv4-leading-zero"),
        (28, "ipv4-octet-range"),
    ]


def test_long_untrusted_text_is_echoed_cut() -> None:
    line = "1" * 200 + ".0.0.0"
    message = problem(line)[4]
    assert "(140 more characters)" in message
    assert len(message) < 250


def test_lenient_host_bits_read_as_network_with_warning() -> None:
    items, problems = read_line("  10.0.0.5/24", lenient=True)
    assert [item.value for item in items] == [
        EntryValue(4, 0x0A000000, 0x0A0000FF, "cidr", 24)
    ]
    assert items[0].text == "10.0.0.5/24"
    assert [(p.offset, p.level, p.code, p.message) for p in problems] == [
        (
            2,
            "warning",
            "host-bits-set",
            "host bits set in '10.0.0.5/24': read as the network 10.0.0.0/24;"
            " write that, or the single address 10.0.0.5",
        )
    ]


# --- The fast path --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", EntryValue(4, 0x0A000001, 0x0A000001, "address", None)),
        ("10.0.0.0/8", EntryValue(4, 0x0A000000, 0x0AFFFFFF, "cidr", 8)),
        ("2001:db8::/32", EntryValue(6, V6_DOC, V6_DOC + 2**96 - 1, "cidr", 32)),
    ],
)
def test_fast_path_reads_the_dominant_forms(text: str, expected: EntryValue) -> None:
    assert fast_entry(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "010.0.0.1",
        "192.0.2",
        "10.0.0.5/24",
        "10.0.0.0/08",
        "10.0.0.0/33",
        "::ffff:192.0.2.1",
        "1.1.1.0-1.1.1.9",
        " 10.0.0.1",
        "fe80::1%eth0",
        "",
        "10.0.0.1,10.0.0.2",
    ],
)
def test_fast_path_leaves_everything_else_to_the_grammar(text: str) -> None:
    assert fast_entry(text) is None


octets = st.one_of(
    st.integers(0, 255).map(str),
    st.sampled_from(["00", "01", "010", "0300", "256", "999", "1000", ""]),
)
ipv4_texts = st.lists(octets, min_size=2, max_size=5).map(".".join)
ipv6_texts = st.one_of(
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.tuples(st.ip_addresses(v=6).map(str), ipv4_texts).map(
        lambda pair: pair[0].rsplit(":", 1)[0] + ":" + pair[1]
    ),
    st.lists(
        st.sampled_from(["0", "db8", "00db8", "ffff", "", "1"]), min_size=2, max_size=10
    ).map(":".join),
)
prefixes = st.one_of(
    st.just(""),
    st.integers(0, 130).map(lambda n: f"/{n}"),
    st.sampled_from(["/08", "/00", "/", "/x", "/024"]),
)
entries = st.one_of(
    st.tuples(st.one_of(ipv4_texts, ipv6_texts), prefixes).map("".join),
    st.text(alphabet="0123456789abcdef:./-%, ", max_size=20),
)


@settings(max_examples=300)
@given(entries)
@example("10.0.0.1")
@example("::ffff:1.2.3.4/120")
def test_fast_path_agrees_with_grammar(text: str) -> None:
    fast = fast_entry(text)
    items, problems = read_line(text)
    errors = [p for p in problems if p.level == "error"]
    if fast is not None:
        assert errors == []
        assert [item.value for item in items] == [fast]
    if errors:
        assert fast is None


networks = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)),
).map(lambda pair: ipaddress.ip_interface(f"{pair[0]}/{pair[1]}").network)


@settings(max_examples=300)
@given(networks)
def test_canonical_networks_take_the_fast_path_and_agree_with_ipaddress(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> None:
    expected = EntryValue(
        network.version,
        int(network.network_address),
        int(network.broadcast_address),
        "cidr",
        network.prefixlen,
    )
    text = str(network)
    if "." in text and network.version == 6:
        assert fast_entry(text) is None
    else:
        assert fast_entry(text) == expected
    assert [item.value for item in read_line(text)[0]] == [expected]
