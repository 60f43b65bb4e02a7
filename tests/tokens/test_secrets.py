"""Secret format, checksum, digests (policy/tokens/_secrets.py)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policy.tokens._secrets import (
    _assemble,
    derive_secret,
    digest,
    looks_like,
    matches,
    new_secret,
    new_seed,
)

SHAPE = re.compile(r"cvp(at|rt)_[A-Za-z0-9_-]{43}_[0-9A-Za-z]{6}")


@pytest.mark.parametrize(
    ("kind", "prefix"), [("access", "cvpat_"), ("refresh", "cvprt_")]
)
def test_new_secret_shape(kind: str, prefix: str) -> None:
    secret = new_secret(kind)  # type: ignore[arg-type]
    assert secret.startswith(prefix)
    assert len(secret) == 56
    assert SHAPE.fullmatch(secret)
    assert looks_like(secret, kind)  # type: ignore[arg-type]


def test_prefix_tells_kinds_apart() -> None:
    assert not looks_like(new_secret("access"), "refresh")
    assert not looks_like(new_secret("refresh"), "access")


def test_secrets_are_unique() -> None:
    assert len({new_secret("access") for _ in range(200)}) == 200
    assert new_seed() != new_seed()
    assert len(new_seed()) == 32


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"


@settings(max_examples=200)
@given(
    raw=st.binary(min_size=32, max_size=32),
    position=st.integers(min_value=6, max_value=55),
    other=st.sampled_from(ALPHABET),
)
def test_checksum_catches_any_single_change(
    raw: bytes, position: int, other: str
) -> None:
    # CRC-32 detects every single-character substitution.
    secret = _assemble("access", raw)
    assume(other != secret[position])
    changed = secret[:position] + other + secret[position + 1 :]
    assert not looks_like(changed, "access")


@pytest.mark.parametrize(
    "value", ["", "cvpat_", "cvpat_" + "A" * 43 + "_000000", 42, None, "x" * 10_000]
)
def test_looks_like_refuses_junk(value: object) -> None:
    assert not looks_like(value, "access")


def test_digest_is_sha256_hex_and_matches_in_constant_time() -> None:
    secret = new_secret("refresh")
    assert digest(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert matches(secret, digest(secret))
    assert not matches(new_secret("refresh"), digest(secret))


def test_derive_is_deterministic_and_depends_on_both_inputs() -> None:
    parent = new_secret("refresh")
    seed = new_seed()
    first = derive_secret("access", parent=parent, seed=seed)
    assert derive_secret("access", parent=parent, seed=seed) == first
    assert looks_like(first, "access")
    assert derive_secret("refresh", parent=parent, seed=seed) != first
    assert derive_secret("access", parent=parent, seed=new_seed()) != first
    assert derive_secret("access", parent=new_secret("refresh"), seed=seed) != first
