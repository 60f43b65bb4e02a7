"""Tests for the endpoint grammar."""

from __future__ import annotations

import pytest

from policy._endpoints import Endpoint, parse_endpoints
from policy._errors import PolicyTypeError, ScopeError


def test_text_with_comments_and_blanks() -> None:
    text = "# plans\n/plan\n\n  /V4/ServerGroup/   # groups\r\n/\n"
    assert parse_endpoints(text, source="scope.txt", first_line=10) == (
        Endpoint(text="/plan", path="/plan", line=11, column=1),
        Endpoint(text="/V4/ServerGroup/", path="/V4/ServerGroup", line=13, column=3),
        Endpoint(text="/", path="/", line=14, column=1),
    )


def test_list_and_canonical_forms() -> None:
    found = parse_endpoints(["/plan/", "//Client//x", "/%41pi", "/a%3ab"])
    assert [endpoint.path for endpoint in found] == [
        "/plan",
        "/Client/x",
        "/Api",
        "/a%3Ab",
    ]
    assert [endpoint.line for endpoint in found] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("lines", "code", "line", "column"),
    [
        (["/plan", ""], "empty-endpoint", 2, 1),
        (["/plan", "   "], "empty-endpoint", 2, 1),
        ("plan", "no-leading-slash", 1, 1),
        ("  plan/x", "no-leading-slash", 1, 3),
        ("/plan?id=7", "query-string", 1, 6),
        ("/plan#top", "fragment", 1, 6),
        ("/plan/*", "wildcard", 1, 7),
        ("*", "wildcard", 1, 1),
        ("/pl*n", "wildcard", 1, 4),
        ("/plan/../Client", "dot-segment", 1, 7),
        ("/plan/.", "dot-segment", 1, 7),
        ("/plan/%2e%2E", "dot-segment", 1, 7),
        ("/plan%2Fx", "encoded-slash", 1, 6),
        ("/plan%5cx", "encoded-slash", 1, 6),
        ("/plan;x=1", "path-parameter", 1, 6),
        ("/plan%3Bx", "path-parameter", 1, 6),
        ("/plan%0A", "control-character", 1, 6),
        ("/pl\ran", "control-character", 1, 4),
        ("/pl\x0ban", "control-character", 1, 4),
        (["/pl\nan"], "control-character", 1, 4),
        ("/plan /x", "whitespace", 1, 6),
        ("/plan\t/x", "whitespace", 1, 6),
        ("/a\\b", "backslash", 1, 3),
        ("/a%zz", "bad-escape", 1, 3),
        ("/a%252F", "double-encoding", 1, 3),
        ("/caf\u00e9", "non-ascii", 1, 5),
        ("/a|b", "invalid-character", 1, 3),
        ("   /ok\n  /a/../b", "dot-segment", 2, 6),
    ],
)
def test_load_errors(lines: str | list[str], code: str, line: int, column: int) -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(lines, source="s.txt")
    (diagnostic,) = caught.value.errors
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == (
        code,
        line,
        column,
    )
    assert diagnostic.source == "s.txt"


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints("plan\n/ok\n/a?b\n/c/*")
    assert [d.code for d in caught.value.errors] == [
        "no-leading-slash",
        "query-string",
        "wildcard",
    ]
    assert str(caught.value).startswith("3 errors:\n")


def test_error_wording() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints("/plan\n/plan?id=7")
    assert str(caught.value) == (
        "<endpoints>:2:6: error query-string endpoint must not contain a query "
        "string; endpoints are path prefixes and the query is never matched, "
        "got '/plan?id=7'\n"
        "    /plan?id=7\n"
        "         ^^^"
    )
    with pytest.raises(ScopeError) as caught:
        parse_endpoints("plan")
    assert caught.value.errors[0].message == (
        "endpoint must begin with '/': without it, a plain string comparison "
        "would make it a prefix of every path, got 'plan'"
    )
    with pytest.raises(ScopeError) as caught:
        parse_endpoints("/plan/*")
    assert "wildcards are not supported" in caught.value.errors[0].message
    assert "prefixes" in caught.value.errors[0].message


def test_control_characters_are_not_shown_raw() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(["/a\x1b[2Jb"])
    assert "\x1b" not in caught.value.errors[0].format()


@pytest.mark.parametrize("empty", ["", "\n\n", "# nothing\n   # here", [], ["# c"]])
def test_empty_scope(empty: str | list[str]) -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(empty, source="p.toml", first_line=4)
    (diagnostic,) = caught.value.errors
    assert diagnostic.code == "empty-scope"
    assert (diagnostic.source, diagnostic.line) == ("p.toml", 4)
    assert "almost certainly a mistake" in diagnostic.message


def test_handed_b26_empty_endpoint_refused() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(["/plan", ""])
    assert caught.value.errors[0].code == "empty-endpoint"
    assert "prefix of every path" in caught.value.errors[0].message


@pytest.mark.parametrize("bad", [b"/plan", 7, None])
def test_wrong_input_type(bad: object) -> None:
    with pytest.raises(PolicyTypeError):
        parse_endpoints(bad)  # type: ignore[arg-type]


def test_wrong_item_type() -> None:
    with pytest.raises(PolicyTypeError, match="got int at index 1"):
        parse_endpoints(["/a", 3])  # type: ignore[list-item]
