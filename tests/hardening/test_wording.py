"""Refusal messages read "what, rule, got" with one "got", never two.

A message that says what was got twice ("..., got 21 characters, got
'/aaa...'") comes from a rule that already ends in what it got being given
the input again; each parser is checked over its refusals.
"""

from __future__ import annotations

import pytest

from policy import PathError, ScopeError, canonical_path
from policy._endpoints import parse_endpoints

_BAD_ENDPOINTS = [
    "plan",
    "/plan?id=7",
    "/plan#top",
    "/plan/*",
    "/plan/../x",
    "/plan%2Fx",
    "/plan;x=1",
    "/pl\x0ban",
    "/plan /x",
    "/a\\b",
    "/a%zz",
    "/a%252F",
    "/caf\u00e9",
    "/a|b",
    "/" + "a" * 8_192,
]


@pytest.mark.parametrize("endpoint", _BAD_ENDPOINTS, ids=lambda text: text[:12])
def test_endpoint_refusals_say_got_once(endpoint: str) -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints([endpoint], max_line_length=10_000)
    (found,) = caught.value.errors
    assert found.message.count(", got ") == 1, found.message


def test_too_long_endpoint_line_says_got_once() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(["/" + "a" * 1_000])
    (found,) = caught.value.errors
    assert found.code == "line-too-long"
    assert found.message.count(", got ") == 1, found.message


def test_too_long_endpoint_wording() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(["/" + "a" * 8_192], max_line_length=10_000)
    (found,) = caught.value.errors
    assert (found.code, found.column) == ("path-too-long", 8_193)
    assert found.message == (
        "endpoint must be at most 8192 characters, got 8193 characters"
    )


_BAD_PATHS = [
    "",
    "plan",
    "http://x/plan",
    "/plan/../x",
    "/plan%2Fx",
    "/plan;x=1",
    "/plan%0A",
    "/a b",
    "/caf\u00e9",
    "/a\\b",
    "/a%zz",
    "/a%252F",
    "/a%C0%AE",
    "/a|b",
    "/plan/..%20",
    "/plan/...x",
    "/plan/x::$DATA",
]


@pytest.mark.parametrize("path", _BAD_PATHS)
def test_path_refusals_say_got_once(path: str) -> None:
    with pytest.raises(PathError) as caught:
        canonical_path(path)
    assert caught.value.diagnostics[0].message.count(", got ") == 1


def test_too_long_path_says_got_once() -> None:
    with pytest.raises(PathError) as caught:
        canonical_path("/" + "a" * 20, max_length=10)
    found = caught.value.diagnostics[0]
    assert found.code == "path-too-long"
    assert found.message.count(", got ") == 1, found.message
