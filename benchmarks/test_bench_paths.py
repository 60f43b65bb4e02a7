"""Scope match, canonical paths, the whole check, loading and batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import _data
from policy import IPAllowlist, Scope, canonical_path, load_policy

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("count", [1, 100, 10_000])
def test_scope_match_depth_4(benchmark: Any, count: int) -> None:
    real = _data.endpoints()
    paths = real[:count] + [f"/Synthetic{n}/item" for n in range(count - len(real))]
    match = Scope.custom(paths).matcher(case_sensitive=False).match
    probe = "/" + "/".join(f"{paths[-1]}/7/a/b".split("/")[1:5])
    assert benchmark(match, probe) is not None


def test_canonical_path(benchmark: Any) -> None:
    assert benchmark(canonical_path, "/commandcenter/api/plan/7?x=1") == (
        "/commandcenter/api/plan/7"
    )


@pytest.mark.parametrize("cache_size", [0, 4096])
def test_check(benchmark: Any, cache_size: int) -> None:
    # The same request each round: the cached policy answers from its tables.
    policy = load_policy(ROOT / "examples" / "plan-automation.toml")
    policy = policy.with_cache(cache_size)
    decision = benchmark(
        lambda: policy.check(ip="198.51.100.7", path="/webconsole/api/plan/7")
    )
    assert decision.allowed


def test_load_azure(benchmark: Any) -> None:
    azure = _data.prefixes("azure")
    allowlist = benchmark.pedantic(IPAllowlist.parse, (azure,), rounds=3)
    assert allowlist.index.range_count(4) == 793


def test_contains_array_v4(benchmark: Any) -> None:
    np = pytest.importorskip("numpy")
    allowlist = IPAllowlist.parse(_data.prefixes("azure"))
    values = np.random.default_rng(1).integers(0, 2**32, 1_000_000, dtype=np.uint32)
    assert benchmark(allowlist.contains_array, values, version=4).size == 1_000_000
