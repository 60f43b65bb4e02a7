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

__all__ = ["ACCESS_PREFIX", "REFRESH_PREFIX", "redact"]

ACCESS_PREFIX: Final = "cvpat_"
REFRESH_PREFIX: Final = "cvprt_"

# A prefix and whatever token characters follow it: one character class
# under one plus, so matching is linear in the text's length.
_SECRET_SHAPE: Final = re.compile(
    f"({re.escape(ACCESS_PREFIX)}|{re.escape(REFRESH_PREFIX)})[A-Za-z0-9_-]+"
)


def redact(text: str) -> str:
    """Return ``text`` with everything shaped like a token secret blanked.

    The prefix stays, so a reader still sees that a secret was there.
    """
    if "cvp" not in text:
        # The common case, without the regular expression.
        return text
    return _SECRET_SHAPE.sub(r"\1***", text)
