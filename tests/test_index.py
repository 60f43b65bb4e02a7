"""Tests for policy._index: the interval index and the attribution table."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from policy._address import unmap
from policy._index import AttributionTable, IntervalIndex

V4_MAX = 2**32 - 1
V6_MAX = 2**128 - 1


def test_merges_overlapping_adjacent_and_nested_intervals() -> None:
    index = IntervalIndex(
        [(4, 30, 40), (4, 10, 20), (4, 21, 25), (4, 12, 13), (4, 50, 60), (6, 5, 5)]
    )
    assert index.ranges(4) == ((10, 25), (30, 40), (50, 60))
    assert index.ranges(6) == ((5, 5),)
    assert repr(index) == "<IntervalIndex v4: 3 ranges, v6: 1 range>"
    assert index.address_count(4) == 16 + 11 + 11
    assert index.address_count(6) == 1
    assert index.range_count(4) == 3


def test_contains_at_every_boundary() -> None:
    index = IntervalIndex([(4, 10, 20), (4, 30, 30)])
    hits = [v for v in range(0, 40) if index.contains(4, v)]
    assert hits == [*range(10, 21), 30]
    assert not index.contains(6, 15)


def test_nested_ranges_are_found() -> None:
    # The outer range must still admit values past the inner one's end.
    index = IntervalIndex([(4, 0, 100), (4, 50, 60)])
    assert index.contains(4, 80)


def test_empty_index() -> None:
    index = IntervalIndex()
    assert repr(index) == "<IntervalIndex v4: 0 ranges, v6: 0 ranges>"
    assert not index.contains(4, 0)
    assert index.to_cidrs() == []


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        ((5, 1, 2), "IP version must be 4 or 6, got 5"),
        ((4, 3, 2), "an IPv4 interval must satisfy 0 <= first <= last <= 4294967295"),
        ((4, -1, 2), "an IPv4 interval must satisfy"),
        ((4, 0, 2**32), "an IPv4 interval must satisfy"),
    ],
)
def test_refuses_bad_intervals(interval: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message):
        IntervalIndex([interval])  # type: ignore[list-item]


def test_to_cidrs_minimal_cover() -> None:
    index = IntervalIndex(
        [
            (4, 0xC0000200, 0xC0000219),  # 192.0.2.0 - 192.0.2.25
            (6, 0x20010DB8 << 96 | 1, 0x20010DB8 << 96 | 0xFFFF),
            (4, 0, V4_MAX),
        ]
    )
    assert index.to_cidrs()[:1] == ["0.0.0.0/0"]
    assert len(index.to_cidrs()) == 1 + 16
    index = IntervalIndex([(4, 0xC0000200, 0xC0000219)])
    assert index.to_cidrs() == ["192.0.2.0/28", "192.0.2.16/29", "192.0.2.24/31"]
    assert IntervalIndex([(6, 0, V6_MAX)]).to_cidrs() == ["::/0"]
    assert IntervalIndex([(6, 1, 1), (4, 7, 7)]).to_cidrs() == ["0.0.0.7/32", "::1/128"]


def test_equality_and_hash() -> None:
    a = IntervalIndex([(4, 1, 5), (4, 6, 9)])
    b = IntervalIndex([(4, 1, 9)])
    assert a == b
    assert hash(a) == hash(b)
    assert a != IntervalIndex([(6, 1, 9)])
    assert a != "not an index"


def test_attribution_first_entry_in_input_order_wins() -> None:
    table = AttributionTable(
        [
            (4, 0, 100, 0),
            (4, 50, 60, 1),
            (4, 90, 200, 2),
            (4, 300, 300, 3),
            (6, 1, 1, 4),
        ]
    )
    assert table.owner(4, 55) == 0
    assert table.owner(4, 100) == 0
    assert table.owner(4, 101) == 2
    assert table.owner(4, 201) is None
    assert table.owner(4, 300) == 3
    assert table.owner(6, 1) == 4
    assert table.owner(6, 2) is None
    assert table.owner(6, 0) is None
    # Segments: [0,100]->0, [101,200]->2, 201->none, 300->3, 301->none;
    # v6: 0->none, 1->4, 2->none.
    assert repr(table) == "<AttributionTable v4: 5 segments, v6: 3 segments>"


def test_attribution_reaches_both_ends_of_the_line() -> None:
    top4, top6 = 2**32 - 1, 2**128 - 1
    table = AttributionTable([(4, top4 - 9, top4, 0), (6, 0, top6, 1)])
    assert table.owner(4, 0) is None
    assert table.owner(4, top4 - 10) is None
    assert table.owner(4, top4) == 0
    assert table.owner_packed(4, b"\xff" * 4) == 0
    assert table.owner(6, 0) == 1
    assert table.owner(6, top6) == 1
    assert repr(table) == "<AttributionTable v4: 2 segments, v6: 1 segments>"


def test_attribution_later_start_earlier_entry() -> None:
    table = AttributionTable([(4, 50, 60, 1), (4, 0, 100, 0)])
    assert table.owner(4, 10) == 0
    assert table.owner(4, 55) == 0
    assert table.owner(4, 61) == 0


# --- Properties -------------------------------------------------------------


def intervals(version: int) -> st.SearchStrategy[tuple[int, int, int]]:
    """Random intervals, biased to small values so that they overlap."""
    top = V4_MAX if version == 4 else V6_MAX
    value = st.one_of(st.integers(0, 300), st.integers(0, top))
    return st.tuples(value, value).map(lambda pair: (version, min(pair), max(pair)))


any_intervals = st.lists(st.one_of(intervals(4), intervals(6)), max_size=12)
probes = st.lists(st.tuples(st.sampled_from([4, 6]), st.integers(0, 310)), max_size=20)


def naive_contains(found: list[tuple[int, int, int]], version: int, value: int) -> bool:
    return any(v == version and lo <= value <= hi for v, lo, hi in found)


@settings(max_examples=300)
@given(any_intervals, probes)
def test_index_agrees_with_naive_membership(
    found: list[tuple[int, int, int]], points: list[tuple[int, int]]
) -> None:
    index = IntervalIndex(found)  # type: ignore[arg-type]
    extra = [(v, b) for v, lo, hi in found for b in (lo - 1, lo, hi, hi + 1)]
    for version, value in points + extra:
        assert index.contains(version, value) == naive_contains(found, version, value)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(any_intervals)
def test_invariants_hold(found: list[tuple[int, int, int]]) -> None:
    index = IntervalIndex(found)  # type: ignore[arg-type]
    for version in (4, 6):
        ranges = index.ranges(version)
        for (_, last), (first, _) in itertools.pairwise(ranges):
            assert last + 1 < first
        assert all(lo <= hi for lo, hi in ranges)


@settings(max_examples=200)
@given(any_intervals, st.randoms(use_true_random=False))
def test_merging_is_order_independent(
    found: list[tuple[int, int, int]], rnd: object
) -> None:
    shuffled = list(found)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert IntervalIndex(shuffled) == IntervalIndex(found)  # type: ignore[arg-type]


@settings(max_examples=200)
@given(any_intervals)
def test_to_cidrs_is_exact_and_minimal(found: list[tuple[int, int, int]]) -> None:
    index = IntervalIndex(found)  # type: ignore[arg-type]
    cidrs = index.to_cidrs()
    networks = [ipaddress.ip_network(c) for c in cidrs]
    rebuilt = IntervalIndex(
        (n.version, int(n.network_address), int(n.broadcast_address)) for n in networks
    )
    assert rebuilt == index
    # Minimal: the standard library's exact cover has the same size.
    for version in (4, 6):
        mine = [n for n in networks if n.version == version]
        theirs = [
            n
            for lo, hi in index.ranges(version)
            for n in ipaddress.summarize_address_range(
                ipaddress.ip_address(lo if version == 4 else ipaddress.IPv6Address(lo)),
                ipaddress.ip_address(hi if version == 4 else ipaddress.IPv6Address(hi)),
            )
        ]
        assert mine == theirs


@settings(max_examples=200)
@given(any_intervals, any_intervals, any_intervals)
def test_union_laws(
    a: list[tuple[int, int, int]],
    b: list[tuple[int, int, int]],
    c: list[tuple[int, int, int]],
) -> None:
    x, y, z = (IntervalIndex(i) for i in (a, b, c))  # type: ignore[arg-type]
    assert x | x == x
    assert x | y == y | x
    assert (x | y) | z == x | (y | z)
    assert x | IntervalIndex() == x
    assert x | y == IntervalIndex(a + b)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.lists(intervals(4), max_size=10), st.lists(st.integers(0, 310), max_size=20))
def test_attribution_agrees_with_first_covering_entry(
    found: list[tuple[int, int, int]], points: list[int]
) -> None:
    table = AttributionTable((v, lo, hi, n) for n, (v, lo, hi) in enumerate(found))  # type: ignore[misc]
    extra = [
        b for _, lo, hi in found for b in (lo - 1, lo, hi, hi + 1) if 0 <= b <= V4_MAX
    ]
    for value in points + extra:
        owners = [n for n, (_, lo, hi) in enumerate(found) if lo <= value <= hi]
        assert table.owner(4, value) == (owners[0] if owners else None)


# --- Packed lookups and the first-level table ----------------------------------


def address_text(version: int, value: int) -> str:
    return str(
        ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value)
    )


def block_edges(found: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Addresses at and beside every interval bound and 16-bit block edge."""
    points = []
    for version, lo, hi in found:
        shift = 16 if version == 4 else 112
        top = V4_MAX if version == 4 else V6_MAX
        for bound in (lo, hi):
            block = bound >> shift
            for value in (
                bound - 1,
                bound,
                bound + 1,
                block << shift,
                ((block + 1) << shift) - 1,
            ):
                if 0 <= value <= top:
                    points.append((version, value))
    return points


aligned = st.integers(0, 2**16 - 1).map(lambda block: block << 16)
v4_blocky = st.tuples(
    st.one_of(
        aligned, aligned.map(lambda v: v - 1 if v else 0), st.integers(0, V4_MAX)
    ),
    st.one_of(
        aligned, aligned.map(lambda v: v - 1 if v else 0), st.integers(0, V4_MAX)
    ),
).map(lambda pair: (4, min(pair), max(pair)))


@settings(max_examples=300)
@example(found=[(6, 0, 0xFFFF_0000_0000)], points=[])
@given(st.lists(st.one_of(v4_blocky, intervals(4), intervals(6)), max_size=12), probes)
def test_contains_text_agrees_with_contains(
    found: list[tuple[int, int, int]], points: list[tuple[int, int]]
) -> None:
    index = IntervalIndex(found)  # type: ignore[arg-type]
    for version, value in points + block_edges(found):
        # The text of an IPv4-mapped IPv6 address is judged as IPv4.
        key = unmap(version, value)  # type: ignore[arg-type]
        expected = index.contains(*key)
        assert index.contains_text(address_text(version, value)) is expected


def test_first_level_table_settles_whole_and_empty_blocks() -> None:
    # 10.0.0.0/15 covers blocks 0x0A00 and 0x0A01 whole; 10.2.0.0 - 10.2.0.9
    # splits block 0x0A02; every other block is empty.
    index = IntervalIndex([(4, 0x0A000000, 0x0A01FFFF), (4, 0x0A020000, 0x0A020009)])
    table = index.first_level(4)
    assert len(table) == 2**16
    assert (table[0x0A00], table[0x0A01], table[0x0A02], table[0x0A03]) == (1, 1, 2, 0)
    assert sum(table) == 1 + 1 + 2
    assert index.first_level(6) == bytes(2**16)


def test_contains_text_reads_strictly_and_unmaps() -> None:
    index = IntervalIndex([(4, 0xC0000200, 0xC00002FF), (6, 1, 1)])
    assert index.contains_text("192.0.2.7") is True
    assert index.contains_text("::ffff:192.0.2.7") is True
    assert index.contains_text("::1") is True
    assert index.contains_text("192.0.3.7") is False
    for text in ("192.0.2.07", " 192.0.2.7", "192.0.2", "::1%eth0", "1.2.3.4\0", ""):
        assert index.contains_text(text) is None
