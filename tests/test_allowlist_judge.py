"""IPAllowlist.judge (_allowlist.py): the address as judged, and who admits it.

judge() is the per-request question of AccessPolicy.check, answered by a
fast IPv4 path of its own; these tests hold it to the same reading as
``in`` and match(), and to an oracle written from the documented rules with
the standard library's ipaddress.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import AccessPolicy, Reason, Scope
from policy._allowlist import Entry, IPAllowlist

V4_MAX = 2**32 - 1
V6_MAX = 2**128 - 1
MAPPED_FIRST = 0xFFFF_0000_0000  # ::ffff:0.0.0.0
MAPPED_LAST = 0xFFFF_FFFF_FFFF  # ::ffff:255.255.255.255

SAMPLE = IPAllowlist.parse(
    "\n".join(
        [
            "10.0.0.0/8",
            "10.1.0.0/16",  # inside the one above, which comes first
            "192.0.2.7",
            "2001:db8::/32",
            "2001:db8:1::1 - 2001:db8:1::9",
            "::ffff:198.51.100.0/120",  # wholly mapped: admits IPv4 clients
            "::/64",  # reaches over the mapped block: IPv6 clients only
        ]
    )
)


def entry_text(judged: tuple[str, Entry | None] | None) -> tuple[str, str | None]:
    assert judged is not None
    text, entry = judged
    return text, None if entry is None else entry.text


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.1.2.3", ("10.1.2.3", "10.0.0.0/8")),
        ("10.0.0.0", ("10.0.0.0", "10.0.0.0/8")),
        ("10.255.255.255", ("10.255.255.255", "10.0.0.0/8")),
        ("11.0.0.0", ("11.0.0.0", None)),
        ("9.255.255.255", ("9.255.255.255", None)),
        ("192.0.2.7", ("192.0.2.7", "192.0.2.7")),
        ("192.0.2.8", ("192.0.2.8", None)),
        ("0.0.0.0", ("0.0.0.0", None)),  # noqa: S104 (an address, not a bind)
        ("255.255.255.255", ("255.255.255.255", None)),
        ("2001:db8::1", ("2001:db8::1", "2001:db8::/32")),
        ("2001:DB8:0000::0001", ("2001:db8::1", "2001:db8::/32")),
        ("2001:db8:1::5", ("2001:db8:1::5", "2001:db8::/32")),
        ("2001:db9::", ("2001:db9::", None)),
        ("::1", ("::1", "::/64")),
        ("::", ("::", "::/64")),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ("ffff:" * 7 + "ffff", None)),
        # Mapped text is judged as IPv4 and shown unmapped.
        ("::ffff:10.9.8.7", ("10.9.8.7", "10.0.0.0/8")),
        ("::FFFF:a09:807", ("10.9.8.7", "10.0.0.0/8")),
        ("0:0:0:0:0:ffff:198.51.100.9", ("198.51.100.9", "::ffff:198.51.100.0/120")),
        ("198.51.100.9", ("198.51.100.9", "::ffff:198.51.100.0/120")),
        ("198.51.101.0", ("198.51.101.0", None)),
        # ::/64 covers ::ffff:0:0/96 as written, but no client is judged
        # there: the mapped client is an IPv4 one, admitted by no entry.
        ("::ffff:1.2.3.4", ("1.2.3.4", None)),
        ("::ffff:0.0.0.0", ("0.0.0.0", None)),  # noqa: S104 (not a bind)
        # Not mapped, so not unmapped: IPv4-compatible, NAT64 and 6to4.
        ("::10.1.2.3", ("::a01:203", "::/64")),
        ("64:ff9b::10.1.2.3", ("64:ff9b::a01:203", None)),
        ("2002:a01:203::", ("2002:a01:203::", None)),
    ],
)
def test_text_examples(address: str, expected: tuple[str, str | None]) -> None:
    assert entry_text(SAMPLE.judge(address)) == expected
    assert (address in SAMPLE) == (expected[1] is not None)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (ipaddress.IPv4Address("10.1.2.3"), ("10.1.2.3", "10.0.0.0/8")),
        (ipaddress.IPv4Address("8.8.8.8"), ("8.8.8.8", None)),
        (ipaddress.IPv6Address("2001:db8::1"), ("2001:db8::1", "2001:db8::/32")),
        (ipaddress.IPv6Address("::ffff:10.1.2.3"), ("10.1.2.3", "10.0.0.0/8")),
        (
            ipaddress.IPv6Address("::ffff:198.51.100.1"),
            ("198.51.100.1", "::ffff:198.51.100.0/120"),
        ),
        (ipaddress.IPv6Address("::ffff:1.2.3.4"), ("1.2.3.4", None)),
    ],
)
def test_ipaddress_objects(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    expected: tuple[str, str | None],
) -> None:
    assert entry_text(SAMPLE.judge(address)) == expected


def test_a_str_subclass_is_read_like_its_text() -> None:
    class Text(str):
        pass

    # Not the exact-type fast path, but the same answer.
    assert entry_text(SAMPLE.judge(Text("10.1.2.3"))) == ("10.1.2.3", "10.0.0.0/8")
    assert entry_text(SAMPLE.judge(Text("::ffff:10.1.2.3"))) == (
        "10.1.2.3",
        "10.0.0.0/8",
    )


@pytest.mark.parametrize(
    ("lines", "address", "winner"),
    [
        (["10.0.0.0/8", "10.1.0.0/16"], "10.1.2.3", "10.0.0.0/8"),
        (["10.1.0.0/16", "10.0.0.0/8"], "10.1.2.3", "10.1.0.0/16"),
        (["10.1.0.0/16", "10.0.0.0/8"], "10.2.0.0", "10.0.0.0/8"),
        # A range and a CIDR overlapping partly: each owns its own side.
        (["10.0.0.0 - 10.0.0.20", "10.0.0.16/28"], "10.0.0.18", "10.0.0.0 - 10.0.0.20"),
        (["10.0.0.0 - 10.0.0.20", "10.0.0.16/28"], "10.0.0.21", "10.0.0.16/28"),
        (["10.0.0.16/28", "10.0.0.0 - 10.0.0.20"], "10.0.0.18", "10.0.0.16/28"),
        # Duplicates, even in another spelling: the first line wins.
        (["10.0.0.1", "10.0.0.1/32", "10.0.0.1"], "10.0.0.1", "10.0.0.1"),
        (["10.0.0.1/32", "10.0.0.1"], "10.0.0.1", "10.0.0.1/32"),
        # A mapped entry and its IPv4 twin are the same addresses.
        (["::ffff:10.0.0.0/104", "10.0.0.0/8"], "10.1.1.1", "::ffff:10.0.0.0/104"),
        (["10.0.0.0/8", "::ffff:10.0.0.0/104"], "::ffff:10.1.1.1", "10.0.0.0/8"),
        (["2001:db8::/48", "2001:db8::/32", "::/0"], "2001:db8::1", "2001:db8::/48"),
        (["::/0", "2001:db8::/48"], "2001:db8::1", "::/0"),
        (["0.0.0.0/0", "0.0.0.0"], "0.0.0.0", "0.0.0.0/0"),  # noqa: S104 (not a bind)
        (["255.255.255.255", "0.0.0.0/0"], "255.255.255.255", "255.255.255.255"),
    ],
)
def test_the_first_entry_in_input_order_wins(
    lines: list[str], address: str, winner: str
) -> None:
    allowlist = IPAllowlist.parse("\n".join(lines))
    judged = allowlist.judge(address)
    assert judged is not None
    assert judged[1] is not None
    assert judged[1].text == winner
    assert judged[1] is allowlist.match(address)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " 10.1.2.3",
        "10.1.2.3 ",
        "10.1.2.3\n",
        "\t10.1.2.3",
        "10.1.2.3/32",
        "10.0.0.0/8",
        "2001:db8::/32",
        "010.1.2.3",
        "10.01.2.3",
        "10.1.2",
        "10.1.2.3.4",
        "0x0a.1.2.3",
        "167838211",
        "10.1.2.256",
        "10.1.2.3\x00",
        "\x00",
        "2001:db8::1\x00",
        "10.1.2.3,10.1.2.4",
        "10.1.2.3 10.1.2.4",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "2001:db8::1::2",
        "::ffff:010.1.2.3",
        "\u0661\u0660.1.2.3",  # Arabic-Indic digits
        "１０.1.2.3",  # fullwidth digits
        "localhost",
        "1" * 1_000_000,
        "10.1.2.3" + " " * 1_000_000,
        "::" + "0:" * 200_000 + "1",
        None,
        True,
        False,
        0,
        167838211,
        3.5,
        b"10.1.2.3",
        bytearray(b"10.1.2.3"),
        memoryview(b"10.1.2.3"),
        ["10.1.2.3"],
        ("10.1.2.3",),
        {"10.1.2.3"},
        object(),
        ipaddress.IPv4Network("10.0.0.0/8"),
        ipaddress.IPv6Address("fe80::1%eth0"),
        IPAllowlist,
    ],
    ids=repr,
)
def test_anything_but_one_address_is_none(value: object) -> None:
    assert SAMPLE.judge(value) is None
    assert value not in SAMPLE


# --- Property: judge agrees with match, in, and an ipaddress oracle ---------------

# Anchors make entries overlap, nest and touch, and put IPv6 entries in,
# across and beside the IPv4-mapped block.
_V4_ANCHORS = (0, 0x0A000000, 0xC0000200, V4_MAX)
_V6_ANCHORS = (0, MAPPED_FIRST, MAPPED_LAST, 0x2001_0DB8 << 96, V6_MAX)


def _near(anchors: tuple[int, ...], top: int) -> st.SearchStrategy[int]:
    def around(anchor: int, offset: int) -> int:
        return min(max(anchor + offset, 0), top)

    return st.one_of(
        st.integers(0, top),
        st.builds(around, st.sampled_from(anchors), st.integers(-(2**17), 2**17)),
    )


def _address_class(
    version: int,
) -> type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]:
    return ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address


def _network(version: int, value: int, length: int) -> str:
    size = 1 << ((32 if version == 4 else 128) - length)
    return f"{_address_class(version)(value & ~(size - 1))}/{length}"


def _range(version: int, pair: tuple[int, int]) -> str:
    low, high = sorted(pair)
    return f"{_address_class(version)(low)} - {_address_class(version)(high)}"


_V4 = _near(_V4_ANCHORS, V4_MAX)
_V6 = _near(_V6_ANCHORS, V6_MAX)
# Mapped entries, which admit IPv4 clients, are rare among random IPv6
# ones, so they get a form of their own.
_MAPPED = st.integers(MAPPED_FIRST, MAPPED_LAST)
_ENTRY = st.one_of(
    st.builds(_network, st.just(4), _V4, st.integers(0, 32)),
    st.builds(_network, st.just(4), _V4, st.integers(20, 32)),
    st.builds(_range, st.just(4), st.tuples(_V4, _V4)),
    st.builds(_network, st.just(6), _V6, st.integers(0, 128)),
    st.builds(_network, st.just(6), _V6, st.integers(90, 128)),
    st.builds(_range, st.just(6), st.tuples(_V6, _V6)),
    st.builds(_network, st.just(6), _MAPPED, st.integers(96, 128)),
    st.builds(_range, st.just(6), st.tuples(_MAPPED, _MAPPED)),
)
_ALLOWLIST_LINES = st.lists(_ENTRY, min_size=1, max_size=8)


def _oracle_admits(entry: Entry, version: int, value: int) -> bool:
    """Whether ``entry`` admits a client judged as ``(version, value)``.

    Written from the module's rules: an IPv6 entry lying wholly in the
    mapped block means its IPv4 equivalent; any other entry admits clients
    of its own family in its interval (IPv6 clients are never in the block,
    as they were unmapped).
    """
    family, first, last = entry.version, entry.first, entry.last
    if family == 6 and first >= MAPPED_FIRST and last <= MAPPED_LAST:
        family, first, last = 4, first - MAPPED_FIRST, last - MAPPED_FIRST
    return family == version and first <= value <= last


def _oracle(allowlist: IPAllowlist, address: object) -> tuple[str, Entry | None]:
    parsed = ipaddress.ip_address(address)  # type: ignore[arg-type]
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    version, value = parsed.version, int(parsed)
    for entry in allowlist.entries:
        if _oracle_admits(entry, version, value):
            return str(parsed), entry
    return str(parsed), None


def _spellings(version: int, value: int) -> Iterator[object]:
    """Every way a client address reaches judge(), for one address."""
    if version == 4:
        address = ipaddress.IPv4Address(value)
        yield str(address)
        yield address
        yield f"::ffff:{address}"
        yield ipaddress.IPv6Address(MAPPED_FIRST + value)
        return
    address6 = ipaddress.IPv6Address(value)
    yield str(address6)
    yield address6.exploded
    yield address6.exploded.upper()
    yield address6


def _edges(allowlist: IPAllowlist) -> Iterator[tuple[int, int]]:
    """Each entry's first-1, first, last and last+1, and each family's ends.

    An edge in the mapped block is also given as IPv4 text, so the IPv4
    fast path meets the mapped entries' edges too.
    """
    yield from ((4, 0), (4, V4_MAX), (6, 0), (6, V6_MAX))
    yield from ((6, MAPPED_FIRST - 1), (6, MAPPED_LAST + 1))
    top = {4: V4_MAX, 6: V6_MAX}
    for entry in allowlist.entries:
        for value in (entry.first - 1, entry.first, entry.last, entry.last + 1):
            if 0 <= value <= top[entry.version]:
                yield entry.version, value
            if entry.version == 6 and MAPPED_FIRST <= value <= MAPPED_LAST:
                yield 4, value - MAPPED_FIRST


def _assert_agrees(allowlist: IPAllowlist, address: object) -> None:
    judged = allowlist.judge(address)
    expected = _oracle(allowlist, address)
    assert judged == expected, address
    assert judged[1] is allowlist.match(address)  # type: ignore[arg-type]
    assert (address in allowlist) == (judged[1] is not None)


@settings(max_examples=300)
@given(
    lines=_ALLOWLIST_LINES,
    extra=st.lists(st.tuples(st.just(4), _V4) | st.tuples(st.just(6), _V6), max_size=8),
)
def test_judge_agrees_with_match_in_and_the_oracle(
    lines: list[str], extra: list[tuple[int, int]]
) -> None:
    allowlist = IPAllowlist.parse("\n".join(lines))
    for version, value in [*_edges(allowlist), *extra]:
        for address in _spellings(version, value):
            _assert_agrees(allowlist, address)


# --- Through the policy: cached and uncached decisions ---------------------------

_PATHS = st.sampled_from(
    ["/api/plan", "/api/plan/7", "/api/Client", "/elsewhere", "/api/../x", ""]
)


def _ip_forms(version: int, value: int) -> st.SearchStrategy[object]:
    return st.sampled_from(list(_spellings(version, value)))


@settings(max_examples=200, deadline=None)
@given(lines=_ALLOWLIST_LINES, data=st.data())
def test_policy_decisions_are_equal_with_and_without_a_cache(
    lines: list[str], data: st.DataObject
) -> None:
    # The fixed-allowlist test in test_policy.py thrashes tiny tables; here
    # the allowlists are random and the table never fills, so every repeat
    # is read back from it.
    allowlist = IPAllowlist.parse("\n".join(lines))
    scope = Scope.custom(["/plan"])
    uncached = AccessPolicy(
        scope=scope, allowlist=allowlist, api_base=["/api"], cache_size=0
    )
    cached = AccessPolicy(
        scope=scope, allowlist=allowlist, api_base=["/api"], cache_size=4096
    )
    edges = list(_edges(allowlist))
    ips = st.one_of(
        st.sampled_from(edges).flatmap(lambda pair: _ip_forms(*pair)),
        st.sampled_from(["10.0.0.1 ", "", "::ffff:010.0.0.1", "not an address"]),
    )
    requests = data.draw(st.lists(st.tuples(ips, _PATHS), min_size=1, max_size=30))
    for _ in range(2):
        for ip, path in requests:
            expected = uncached.check(ip=ip, path=path)
            assert cached.check(ip=ip, path=path) == expected
            judged = allowlist.judge(ip)
            if judged is None:
                assert expected.reason is Reason.BAD_IP
                continue
            assert expected.ip == judged[0]
            if judged[1] is None:
                assert not expected.allowed
            elif expected.allowed:
                assert f"allowlist entry {judged[1].text!r}" in expected.detail
