"""Tests for policy._vector: numpy membership agrees with the scalar path."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import IPAllowlist, PolicyTypeError

np = pytest.importorskip("numpy")

ALLOWLIST = IPAllowlist.parse(
    [
        "10.0.0.0/15",
        "10.2.0.0 - 10.2.0.9",
        "192.0.2.0/24",
        "2001:db8::/32",
        "2001:db8:1::5 - 2001:db9::7",
        "2001:dc0::8000:0:0:1 - 2001:dc0::8000:0:0:9",
        "::ffff:198.51.100.0/120",
    ]
)


def halves(value: int) -> tuple[int, int]:
    return value >> 64, value & (2**64 - 1)


def near_bounds(version: int) -> list[int]:
    top = 2**32 - 1 if version == 4 else 2**128 - 1
    found = []
    for first, last in ALLOWLIST.index.ranges(version):
        found += [v for v in (first - 1, first, last, last + 1) if 0 <= v <= top]
    return found


@settings(max_examples=200)
@given(st.lists(st.integers(0, 2**32 - 1), max_size=50))
def test_v4_agrees_with_contains(values: list[int]) -> None:
    values += near_bounds(4)
    found = ALLOWLIST.contains_array(np.array(values, dtype=np.uint32), version=4)
    assert found.dtype == bool
    assert found.tolist() == [ALLOWLIST.contains(v, version=4) for v in values]


v6_values = st.one_of(
    st.integers(0, 2**128 - 1),
    st.integers(0, 2**32 - 1).map(lambda v: 0xFFFF_0000_0000 + v),
    st.integers(0, 2**64 - 1).map(lambda v: 0x2001_0DC0 << 96 | v),
)


@settings(max_examples=200)
@given(st.lists(v6_values, max_size=50))
def test_v6_agrees_with_contains_including_mapped_rows(values: list[int]) -> None:
    values += [*near_bounds(6), 0xFFFF_C633_6405, 0xFFFF_C633_6505]
    array = np.array([halves(v) for v in values], dtype=np.uint64).reshape(-1, 2)
    found = ALLOWLIST.contains_array(array, version=6)
    expected = [ALLOWLIST.contains(ipaddress.IPv6Address(v)) for v in values]
    assert found.tolist() == expected


def test_same_high_half_after_an_interval_start_is_decided_exactly() -> None:
    # Interval 2001:dc0::8000:0:0:1 - ...:9 starts in the same high half as
    # 2001:dc0::1, which lies before it and in no interval.
    below = 0x2001_0DC0 << 96 | 1
    inside = 0x2001_0DC0 << 96 | 0x8000 << 48 | 5
    array = np.array([halves(below), halves(inside)], dtype=np.uint64)
    assert ALLOWLIST.contains_array(array, version=6).tolist() == [False, True]


def test_plain_integers_are_converted_and_checked() -> None:
    assert ALLOWLIST.contains_array([0x0A000001, 1], version=4).tolist() == [
        True,
        False,
    ]
    assert ALLOWLIST.contains_array(np.array([], dtype=np.int64), version=4).size == 0
    with pytest.raises(PolicyTypeError, match="must be 0 to 4294967295, got -1 to 5"):
        ALLOWLIST.contains_array([-1, 5], version=4)
    with pytest.raises(PolicyTypeError, match=r"one-dimensional array of integers"):
        ALLOWLIST.contains_array([1.5], version=4)
    with pytest.raises(PolicyTypeError, match=r"\(n, 2\) uint64 array"):
        ALLOWLIST.contains_array([1, 2], version=6)
    with pytest.raises(PolicyTypeError, match="version must be 4 or 6, got 5"):
        ALLOWLIST.contains_array([1], version=5)  # type: ignore[arg-type]


def test_empty_family_answers_false() -> None:
    only_v4 = IPAllowlist.parse(["192.0.2.0/24"])
    array = np.array([halves(1), halves(0xFFFF_C000_0201)], dtype=np.uint64)
    assert only_v4.contains_array(array, version=6).tolist() == [False, True]


def test_missing_numpy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "numpy", None)
    with pytest.raises(ModuleNotFoundError, match=r"needs numpy.*contains_many"):
        ALLOWLIST.contains_array([1], version=4)
