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


def test_flip_summary_counts_each_direction_and_pair() -> None:
    from policy import AccessPolicy, IPAllowlist, Scope
    from policy._accesslog import read_requests
    from policy._replay import replay_against

    old = AccessPolicy(scope=Scope.custom(["/plan"]))
    new = AccessPolicy(
        scope=Scope.custom(["/plan", "/Client"]),
        allowlist=IPAllowlist.parse("192.0.2.0/24"),
    )
    log = [
        '{"ip": "192.0.2.1", "method": "GET", "path": "/plan"}',  # same
        '{"ip": "198.51.100.1", "method": "GET", "path": "/plan"}',  # to denied
        '{"ip": "192.0.2.1", "method": "GET", "path": "/Client"}',  # to allowed
        '{"ip": "198.51.100.1", "method": "GET", "path": "/x"}',  # new reason
        "torn",
    ]
    summary, flips = replay_against(old, new, read_requests(log))

    assert (summary.total, summary.allowed, summary.malformed) == (4, 2, 1)
    assert (flips.total, flips.to_denied, flips.to_allowed) == (4, 1, 1)
    assert flips.reason_changed == 1
    assert flips.pairs_in_order() == [
        (("allowed", "ip_not_allowed"), 1),
        (("out_of_scope", "allowed"), 1),
        (("out_of_scope", "ip_not_allowed"), 1),
    ]
    assert flips.paths.top(5) == [("/Client", 1), ("/plan", 1)]
    assert flips.clients.top(5) == [("192.0.2.1", 1), ("198.51.100.1", 1)]
