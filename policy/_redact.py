"""Token secrets never leave the library in anything it writes.

Secrets carry a recognisable prefix (``cvpat_`` for access tokens,
``cvprt_`` for refresh tokens) so that secret scanners find leaked ones; the
same prefixes let every message, detail and log line that echoes untrusted
input blank out a secret someone pasted into the wrong place (a token id
argument, a request path, a method).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ACCESS_PREFIX",
    "REFRESH_PREFIX",
    "may_hold_secret",
    "redact",
    "secret_span",
]

ACCESS_PREFIX: Final = "cvpat_"
REFRESH_PREFIX: Final = "cvprt_"


def _spelled(text: str) -> str:
    """A pattern for ``text`` with any character possibly percent-encoded.

    Encoded once (``%5F``) or more (``%255F``), hex digits in either case.
    """
    parts = []
    for char in text:
        code = f"{ord(char):02X}"
        high, low = code[0], code[1]
        hexes = f"{high}[{low}{low.lower()}]" if low.isalpha() else high + low
        parts.append(f"(?:{re.escape(char)}|%(?:25)*{hexes})")
    return "".join(parts)


# A prefix and whatever token characters follow it, as typed or as they read
# in a percent-encoded URL (a path echoed in a message is still encoded).
# Each repetition starts with a distinct character, a '%' or one of the
# class, so matching is linear in the text's length.
_SECRET_SHAPE: Final = re.compile(
    f"({_spelled(ACCESS_PREFIX)}|{_spelled(REFRESH_PREFIX)})"
    "(?:[A-Za-z0-9_-]|%[0-9A-Fa-f]{2})+"
)


def secret_span(text: str) -> tuple[int, int] | None:
    """Return where the first secret shape in ``text`` starts and ends."""
    if "cvp" not in text and "%" not in text:
        return None
    found = _SECRET_SHAPE.search(text)
    return None if found is None else found.span()


def may_hold_secret(text: str) -> bool:
    """False when ``text`` surely holds no secret shape, in one or two scans."""
    return "cvp" in text or "%" in text


def redact(text: str) -> str:
    """Return ``text`` with everything shaped like a token secret blanked.

    The prefix stays as written, so a reader still sees that a secret was
    there: ``/plan/cvpat_Q...`` reads ``/plan/cvpat_***``, and
    ``/plan/cvpat%5FQ...`` reads ``/plan/cvpat%5F***``.
    """
    if "cvp" not in text and "%" not in text:
        # The common case, without the regular expression.
        return text
    return _SECRET_SHAPE.sub(r"\1***", text)
