"""The in-memory store meets the TokenStore contract (policy/tokens/_memory.py)."""

from __future__ import annotations

import pytest
from _contract import StoreContract, make_pair, make_token

from policy.tokens import MemoryStore


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


def test_repr_counts_and_close_empties() -> None:
    store = MemoryStore()
    store.add(make_token(), make_pair())
    assert repr(store) == "MemoryStore(tokens=1, pairs=1)"
    store.close()
    assert store.get("tok_1") is None
