"""Pieces of request-target segments that servers are known to read apart.

Shared by the differential tests, which build targets from them and check
that whatever our policy allows reaches the handler the policy judged:
case and percent-encoded spellings of an endpoint, dot segments in every
spelling, encoded slashes and backslashes, path parameters, double
encoding, non-ASCII bytes and a NUL.
"""

from __future__ import annotations

PIECES = [
    "plan",
    "Plan",
    "%70lan",
    "pl%61n",
    "x",
    ".",
    "..",
    "%2e",
    "%2E%2e",
    ".%2e",
    "",
    "%2F",
    "%5C",
    ";x",
    "..;",
    "%3B",
    "a%20b",
    "%25",
    "%2541",
    "%C3%A9",
    "~",
    "%7E",
    "\\",
    "%00",
]
