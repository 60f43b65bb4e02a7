"""Tests for the endpoint grammar."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._endpoints import (
    DEFAULT_MAX_ENDPOINTS,
    DEFAULT_MAX_LINE_LENGTH,
    Endpoint,
    _Fast,
    _fast_word,
    _grammar_word,
    _Where,
    parse_endpoints,
    parse_prefixes,
)
from policy._errors import PolicyTypeError, ScopeError
from policy._paths import DEFAULT_MAX_PATH_LENGTH


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


# --- limits


def test_limit_defaults() -> None:
    assert (DEFAULT_MAX_LINE_LENGTH, DEFAULT_MAX_ENDPOINTS) == (1_000, 100_000)
    at_limit = "/" + "a" * (DEFAULT_MAX_LINE_LENGTH - 1)
    assert parse_endpoints([at_limit])[0].path == at_limit
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(["/ok", at_limit + "a"])
    (diagnostic,) = caught.value.errors
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == (
        "line-too-long",
        2,
        1,
    )
    assert diagnostic.message == (
        "an endpoint line must be at most 1000 characters, got 1001"
    )


def test_line_length_is_checked_before_parsing() -> None:
    # A line that would be refused for its content is refused for its
    # length first, and every other line is still read.
    with pytest.raises(ScopeError) as caught:
        parse_endpoints("/ok\n  /a?b*c;d\n/x?y", source="s.txt", max_line_length=8)
    assert [(d.code, d.line, d.column) for d in caught.value.errors] == [
        ("line-too-long", 2, 1),
        ("query-string", 3, 3),
    ]
    assert str(caught.value).splitlines()[1] == (
        "s.txt:2:1: error line-too-long an endpoint line must be at most 8 "
        "characters, got 10"
    )


def test_line_length_counts_blanks_and_comments() -> None:
    assert parse_endpoints("/plan  # p", max_line_length=10)[0].path == "/plan"
    with pytest.raises(ScopeError, match="at most 10 characters, got 11"):
        parse_endpoints("/plan  # pl", max_line_length=10)


def test_endpoint_count_limit() -> None:
    assert len(parse_endpoints("/a\n# c\n\n/b", max_endpoints=2)) == 2
    with pytest.raises(ScopeError) as caught:
        parse_endpoints("/a\n\n/b\n/c\n/d", source="s.txt", max_endpoints=2)
    (diagnostic,) = caught.value.errors
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == (
        "too-many-endpoints",
        4,
        1,
    )
    assert diagnostic.message == (
        "at most 2 endpoints are accepted, got more by line 4"
    )


def test_prefix_limits_name_the_noun() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_prefixes(
            ["/a", "/b"], source="<b>", first_line=1, noun="API base", max_endpoints=1
        )
    (diagnostic,) = caught.value.errors
    assert diagnostic.code == "too-many-api-bases"
    assert diagnostic.message == "at most 1 API bases are accepted, got more by line 2"
    with pytest.raises(ScopeError, match="an API base line must be at most 3"):
        parse_prefixes(
            ["/abc"], source="<b>", first_line=1, noun="API base", max_line_length=3
        )


@pytest.mark.parametrize("option", ["max_line_length", "max_endpoints"])
@pytest.mark.parametrize("value", [0, -1, True, 2.5, "10"])
def test_limit_options_are_checked(option: str, value: object) -> None:
    with pytest.raises(PolicyTypeError, match=f"{option} must be an int of at least 1"):
        parse_endpoints("/plan", **{option: value})  # type: ignore[arg-type]


def test_overlong_endpoint_under_a_raised_line_limit() -> None:
    word = "/" + "a" * DEFAULT_MAX_PATH_LENGTH
    with pytest.raises(ScopeError) as caught:
        parse_endpoints(["  " + word], max_line_length=2 * DEFAULT_MAX_PATH_LENGTH)
    (diagnostic,) = caught.value.errors
    assert (diagnostic.code, diagnostic.column) == (
        "path-too-long",
        DEFAULT_MAX_PATH_LENGTH + 3,
    )
    assert diagnostic.message == (
        "endpoint must be at most 8192 characters, got 8193 characters"
    )


# --- the fast path agrees with the grammar

_WHERE = _Where("<p>", 1, "", "endpoint")
_PLAIN_CHARS = "aZ09-._~!$&'()+,=:@/"
_ODD_PIECES = ["%2F", "%41", "%2e", "%", "%z", "?", "#", "*", ";", "\\", "|", "é"]
_ODD_BLANKS = ["\x00", "\x1b", "\r", "\n", "\x0b", "\u00a0", " ", "\t", "..", "//"]
_PIECES = st.sampled_from([*_PLAIN_CHARS, *_ODD_PIECES, *_ODD_BLANKS])
_BLANKS = st.text(alphabet=" \t", max_size=3)
_WORDS = st.lists(_PIECES, max_size=12).map("".join)
_STRUCTURED = st.builds(
    lambda lead, slash, word, gap, comment: lead + slash + word + gap + comment,
    _BLANKS,
    st.sampled_from(["/", "", "*"]),
    _WORDS,
    _BLANKS,
    st.sampled_from(["", "#", "# c", "#x\r", "# a\nb", "x"]),
)


@settings(max_examples=300, deadline=None)
@given(line=st.one_of(_STRUCTURED, _WORDS))
def test_fast_path_agrees_with_the_grammar(line: str) -> None:
    fast = _fast_word(line)
    if fast is _Fast.MISS:
        return
    where = _Where("<p>", 1, line, "endpoint")
    assert _grammar_word(line, where, from_list=False) == fast


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/plan", ("/plan", 1)),
        ("  /V4/ServerGroup/   # groups", ("/V4/ServerGroup/", 3)),
        ("\t/a%2Fb", ("/a%2Fb", 2)),
        ("/plan/../x", ("/plan/../x", 1)),
        ("", None),
        ("  \t", None),
        ("# a comment", None),
        ("   # a comment", None),
    ],
)
def test_fast_path_takes_the_common_lines(
    line: str, expected: tuple[str, int] | None
) -> None:
    assert _fast_word(line) == expected
    assert _grammar_word(line, _WHERE, from_list=False) == expected


@pytest.mark.parametrize(
    "line", ["/plan#top", "plan", "/a b", "/a?b", "/a\r", "\r/a", "/é", "/%zz", "*"]
)
def test_fast_path_leaves_the_rest_to_the_grammar(line: str) -> None:
    assert _fast_word(line) is _Fast.MISS
