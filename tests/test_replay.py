"""Replay summaries: exact totals and bounded heavy hitters."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._replay import HeavyHitters


def test_heavy_hitters_exact_below_capacity() -> None:
    table = HeavyHitters(capacity=10)
    for key in "abracadabra":
        table.add(key)
    assert table.top(3) == [("a", 5), ("b", 2), ("r", 2)]
    assert table.error_bound == 0


def test_heavy_hitters_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        HeavyHitters(capacity=0)


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from("abcdefghijklmnop"), max_size=300),
    st.integers(min_value=1, max_value=8),
)
def test_heavy_hitters_bounds_hold(stream: list[str], capacity: int) -> None:
    table = HeavyHitters(capacity=capacity)
    for key in stream:
        table.add(key)
    truth = Counter(stream)
    held = dict(table.top(capacity))

    assert len(held) <= capacity
    for key, count in held.items():
        # Space-Saving never undercounts, and overcounts by at most the bound.
        assert truth[key] <= count <= truth[key] + table.error_bound
    # Any key more frequent than the bound is guaranteed to be held.
    for key, count in truth.items():
        if count > table.error_bound:
            assert key in held
