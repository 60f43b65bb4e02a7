"""Token secrets: generation, format check, digests, constant-time match.

A secret reads ``cvpat_<43 chars>_<6 chars>`` (access) or ``cvprt_...``
(refresh): a recognisable prefix so secret scanners can find leaked ones, 256
random bits in unpadded URL-safe base64, then a CRC-32 checksum of everything
before it in base 62, so a scanner can tell a real-looking token from noise
without asking the server.  The checksum is no protection; the 256 bits are.

The store keeps only SHA-256 digests.  With 256 bits of entropy a plain hash
is enough (no salt or slow hash: guessing is hopeless), and a digest works as
an index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import zlib
from typing import Literal

from policy._redact import ACCESS_PREFIX, REFRESH_PREFIX

__all__ = [
    "ACCESS_PREFIX",
    "REFRESH_PREFIX",
    "SECRET_BYTES",
    "SecretKind",
    "derive_secret",
    "digest",
    "looks_like",
    "matches",
    "new_secret",
    "new_seed",
]

SecretKind = Literal["access", "refresh"]
_PREFIXES: dict[SecretKind, str] = {"access": ACCESS_PREFIX, "refresh": REFRESH_PREFIX}
SECRET_BYTES = 32
_BODY_CHARS = 43  # ceil(32 * 8 / 6), unpadded
_CHECK_CHARS = 6  # 62**6 > 2**32, so any CRC-32 fits
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHAPE = re.compile(
    rf"(cvpat_|cvprt_)([A-Za-z0-9_-]{{{_BODY_CHARS}}})_([0-9A-Za-z]{{{_CHECK_CHARS}}})"
)


def _base62(number: int) -> str:
    chars = []
    for _ in range(_CHECK_CHARS):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(reversed(chars))


def _assemble(kind: SecretKind, raw: bytes) -> str:
    body = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    head = f"{_PREFIXES[kind]}{body}"
    return f"{head}_{_base62(zlib.crc32(head.encode('ascii')))}"


def new_secret(kind: SecretKind) -> str:
    """Return a fresh secret of ``kind``, 256 bits from the system CSPRNG."""
    return _assemble(kind, secrets.token_bytes(SECRET_BYTES))


def new_seed() -> bytes:
    """Return 32 random bytes from which a pair's successor is derived."""
    return secrets.token_bytes(SECRET_BYTES)


def derive_secret(kind: SecretKind, *, parent: str, seed: bytes) -> str:
    """Derive a secret of ``kind`` from a parent secret and a stored seed.

    Renewal derives the successor pair from the presented refresh token and a
    fresh random seed, so a retried renewal inside the grace window can be
    given the very same successor without the store ever holding a secret.
    The seed alone (in the store) gives nothing without the parent secret,
    which only the client held.
    """
    mac = hmac.new(parent.encode("utf-8"), seed + kind.encode("ascii"), "sha256")
    return _assemble(kind, mac.digest())


def looks_like(secret: object, kind: SecretKind) -> bool:
    """Return whether ``secret`` has the shape and checksum of a ``kind`` secret."""
    # The type, not isinstance(): an object may claim str through its
    # __class__; a str subclass is read as the plain string it holds.
    if not issubclass(type(secret), str):
        return False
    secret = str.__str__(secret)
    if len(secret) > 64:
        return False
    found = _SHAPE.fullmatch(secret)
    if found is None or found.group(1) != _PREFIXES[kind]:
        return False
    head = secret[: -(_CHECK_CHARS + 1)]
    return hmac.compare_digest(
        found.group(3), _base62(zlib.crc32(head.encode("ascii")))
    )


def digest(secret: str) -> str:
    """Return the SHA-256 digest of ``secret``, as 64 hex digits."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(secret: str, expected_digest: str) -> bool:
    """Compare ``secret`` with a stored digest in constant time."""
    return hmac.compare_digest(digest(secret), expected_digest)
