"""Membership of client address texts: ours against pytricia, per list."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import _data
from policy import IPAllowlist

TRAFFIC = {"log": _data.log_clients(), "fresh": _data.fresh_traffic(20_000)}


@pytest.mark.parametrize("traffic", list(TRAFFIC))
def test_allowlist_contains(
    benchmark: Any, real_allowlist: IPAllowlist, traffic: str
) -> None:
    addresses = TRAFFIC[traffic]

    def run() -> int:
        return sum(address in real_allowlist for address in addresses)

    assert benchmark(run) >= 0


@pytest.mark.parametrize("traffic", list(TRAFFIC))
def test_pytricia_contains(benchmark: Any, traffic: str) -> None:
    pytricia = pytest.importorskip("pytricia")
    v4, v6 = pytricia.PyTricia(32), pytricia.PyTricia(128)
    for prefix in _data.prefixes("azure"):
        (v6 if ":" in prefix else v4)[prefix] = True
    addresses = TRAFFIC[traffic]

    def run() -> int:
        return sum((a in v6) if ":" in a else (a in v4) for a in addresses)

    assert benchmark(run) >= 0
