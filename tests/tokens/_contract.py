"""The TokenStore contract, checked against every store implementation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from policy.tokens import PairRecord, TokenRecord, TokenStore, TokenStoreError

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_token(token_id: str = "tok_1", user: str = "ana") -> TokenRecord:  # noqa: S107
    return TokenRecord(
        token_id=token_id,
        user=user,
        name=f"name of {token_id}",
        scope_id="custom",
        endpoints=("/plan", "/Client"),
        allowlist=("10.0.0.0/8", "2001:db8::/32"),
        created_at=T0,
        refreshable=True,
        renewable_until=T0 + timedelta(days=90),
        issued_at=T0,
        access_expires_at=T0 + timedelta(minutes=30),
    )


def make_pair(token_id: str = "tok_1", generation: int = 1) -> PairRecord:  # noqa: S107
    issued = T0 + timedelta(hours=generation - 1)
    return PairRecord(
        token_id=token_id,
        generation=generation,
        access_digest=f"a-{token_id}-{generation}",
        refresh_digest=f"r-{token_id}-{generation}",
        issued_at=issued,
        access_expires_at=issued + timedelta(minutes=30),
    )


class StoreContract:
    """Subclasses provide a ``store`` fixture."""

    def test_is_a_token_store(self, store: TokenStore) -> None:
        assert isinstance(store, TokenStore)

    def test_add_then_read_back_exactly(self, store: TokenStore) -> None:
        token, pair = make_token(), make_pair()
        store.add(token, pair)
        assert store.get("tok_1") == token
        assert store.pair_by_access("a-tok_1-1") == pair
        assert store.pair("tok_1", 1) == pair
        assert store.get("nope") is None
        assert store.pair_by_access("nope") is None
        assert store.pair("tok_1", 2) is None

    def test_add_refuses_duplicates_and_changes_nothing(
        self, store: TokenStore
    ) -> None:
        store.add(make_token(), make_pair())
        with pytest.raises(TokenStoreError):
            store.add(make_token(), make_pair("tok_1", 1))
        clash = replace(make_pair("tok_2"), access_digest="a-tok_1-1")
        with pytest.raises(TokenStoreError):
            store.add(make_token("tok_2"), clash)
        assert store.get("tok_2") is None
        assert [t.token_id for t in store.tokens_of("ana")] == ["tok_1"]

    def test_rotate_is_compare_and_swap(self, store: TokenStore) -> None:
        store.add(make_token(), make_pair())
        at = T0 + timedelta(hours=1)
        seed = b"s" * 32
        assert store.rotate(
            "tok_1", generation=1, seed=seed, successor=make_pair(generation=2), at=at
        )
        assert not store.rotate(
            "tok_1", generation=1, seed=seed, successor=make_pair(generation=3), at=at
        )
        token = store.get("tok_1")
        assert token is not None
        assert token.generation == 2
        assert token.issued_at == at
        assert token.access_expires_at == at + timedelta(minutes=30)
        old = store.pair("tok_1", 1)
        assert old is not None
        assert old.superseded_at == at
        assert old.successor_seed == seed
        assert store.pair("tok_1", 3) is None

    def test_rotate_failure_leaves_no_half_renewed_token(
        self, store: TokenStore
    ) -> None:
        store.add(make_token(), make_pair())
        store.add(make_token("tok_2"), make_pair("tok_2"))
        # The successor's digest collides: the swap must fail as a whole.
        clash = replace(make_pair(generation=2), access_digest="a-tok_2-1")
        with pytest.raises(TokenStoreError):
            store.rotate("tok_1", generation=1, seed=b"s" * 32, successor=clash, at=T0)
        assert store.get("tok_1") == make_token()
        assert store.pair("tok_1", 1) == make_pair()
        assert store.pair("tok_1", 2) is None

    def test_revoke_and_rotate_after_revoke(self, store: TokenStore) -> None:
        store.add(make_token(), make_pair())
        assert store.revoke("tok_1", at=T0, cause="reuse")
        assert not store.revoke("tok_1", at=T0 + timedelta(1), cause="user")
        token = store.get("tok_1")
        assert token is not None
        assert (token.revoked_at, token.revoked_cause) == (T0, "reuse")
        assert not store.rotate(
            "tok_1",
            generation=1,
            seed=b"s" * 32,
            successor=make_pair(generation=2),
            at=T0,
        )
        assert not store.revoke("missing", at=T0, cause="user")

    def test_tokens_of_and_revoke_user(self, store: TokenStore) -> None:
        store.add(make_token("tok_b"), make_pair("tok_b"))
        store.add(make_token("tok_a"), make_pair("tok_a"))
        store.add(make_token("tok_c", user="bo"), make_pair("tok_c"))
        assert [t.token_id for t in store.tokens_of("ana")] == ["tok_a", "tok_b"]
        store.revoke("tok_a", at=T0, cause="user")
        assert store.revoke_user("ana", at=T0) == ["tok_b"]
        assert all(t.revoked for t in store.tokens_of("ana"))
        bo = store.get("tok_c")
        assert bo is not None
        assert not bo.revoked
        assert store.tokens_of("nobody") == []

    def test_forever_and_no_allowlist_round_trip(self, store: TokenStore) -> None:
        token = replace(make_token(), renewable_until=None, allowlist=None)
        pair = replace(make_pair(), refresh_digest=None)
        store.add(token, pair)
        assert store.get("tok_1") == token
        assert store.pair("tok_1", 1) == pair

    def test_repr_shows_no_digest(self, store: TokenStore) -> None:
        store.add(make_token(), make_pair())
        assert "a-tok_1-1" not in repr(store.pair("tok_1", 1))
        assert "a-tok_1-1" not in repr(store)
