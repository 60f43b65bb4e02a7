"""The public names of policy.tokens are complete and importable."""

from __future__ import annotations

import policy.tokens


def test_all_is_sorted_and_resolves() -> None:
    names = policy.tokens.__all__
    assert sorted(names) == sorted(set(names))
    for name in names:
        assert getattr(policy.tokens, name) is not None


def test_issue_names_are_public() -> None:
    from policy.tokens import MemoryStore, SQLiteStore, TokenService

    assert {MemoryStore.__name__, SQLiteStore.__name__, TokenService.__name__} == {
        "MemoryStore",
        "SQLiteStore",
        "TokenService",
    }
