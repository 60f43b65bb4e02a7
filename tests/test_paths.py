"""Tests for the request path canonicaliser."""

from __future__ import annotations

import json
import string
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._errors import PolicyError, PolicyTypeError
from policy._paths import PathError, canonical_path

HANDED = Path("/work/shared/cases/handed.json")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/plan/7/schedule", "/plan/7/schedule"),
        ("/plan?id=7", "/plan"),
        ("/plan?x=%0A", "/plan"),
        # An encoded '#' is data, not a fragment: kept.
        ("/plan%23top", "/plan%23top"),
        ("/plan/", "/plan/"),
        ("//plan///x", "/plan/x"),
        ("//plan///x//", "/plan/x/"),
        ("///", "/"),
        ("/%41pi", "/Api"),
        ("/%7e%2D%5F%2e%30", "/~-_.0"),
        ("/a%20b", "/a%20b"),
        ("/%c3%a9t%c3%a9", "/%C3%A9t%C3%A9"),
        ("/a%3ab", "/a%3Ab"),
        ("/a%25b", "/a%25b"),
        ("/a%25", "/a%25"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a.b/x.", "/a.b/x."),
        ("/Client.", "/Client."),
        ("/.x./x..", "/.x./x.."),
        # A dot that cannot climb is kept: leading, trailing or inside.
        ("/a/.hidden", "/a/.hidden"),
        ("/a/x.", "/a/x."),
        ("/a/v1.2", "/a/v1.2"),
        ("/a/.x.y", "/a/.x.y"),
        ("/a/%2Ehidden", "/a/.hidden"),
        ("/a/.%20x", "/a/.%20x"),
        ("/a/x%20", "/a/x%20"),
        ("/a/x%E2%80%8B", "/a/x%E2%80%8B"),
        # A colon is kept unless a '$' follows it.
        ("/a/x:y", "/a/x:y"),
        ("/a/$x:", "/a/$x:"),
        ("/a/x:/$y", "/a/x:/$y"),
        # Non-ASCII that normalises to letters only: kept (it never equals
        # an ASCII endpoint, so it fails closed).
        ("/%ef%bc%a1", "/%EF%BC%A1"),
        ("/V4/ServerGroup", "/V4/ServerGroup"),
        ("/x:y@z!$&'()*+,=", "/x:y@z!$&'()*+,="),
    ],
)
def test_canonical_forms(raw: str, expected: str) -> None:
    assert canonical_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "column"),
    [
        ("", "empty-path", 1),
        ("*", "no-leading-slash", 1),
        ("plan", "no-leading-slash", 1),
        ("?x=1", "no-leading-slash", 1),
        ("http://h/x", "absolute-form", 1),
        ("/%zz", "bad-escape", 2),
        ("/a%4", "bad-escape", 3),
        ("/a%", "bad-escape", 3),
        ("/plan/12%2F..%2F..%2FClient", "encoded-slash", 9),
        ("/a%2fb", "encoded-slash", 3),
        ("/a%5Cb", "encoded-slash", 3),
        ("/a%5cb", "encoded-slash", 3),
        ("/a\\b", "backslash", 3),
        ("/plan/../ClientGroup", "dot-segment", 7),
        ("/plan/./x", "dot-segment", 7),
        ("/plan/..", "dot-segment", 7),
        ("/plan/.", "dot-segment", 7),
        ("/plan/%2e%2E/Client", "dot-segment", 7),
        ("/plan/.%2e/x", "dot-segment", 7),
        ("/plan/%2E", "dot-segment", 7),
        ("/plan//../x", "dot-segment", 8),
        ("/..", "dot-segment", 2),
        ("/plan/...", "dot-segment", 7),
        ("/plan/..../x", "dot-segment", 7),
        ("/plan/%2e%2e%2e/x", "dot-segment", 7),
        ("/plan/.%2E./x", "dot-segment", 7),
        ("/.....", "dot-segment", 2),
        # Windows strips trailing dots and spaces: '.. ' and '. ' climb.
        ("/a/..%20", "dot-segment", 4),
        ("/a/..%20/b", "dot-segment", 4),
        ("/a/%2E%2E%20", "dot-segment", 4),
        ("/a/.%2e%20%20", "dot-segment", 4),
        ("/a/.%20", "dot-segment", 4),
        ("/a/%2e%20/b", "dot-segment", 4),
        ("/a/.%20.%20", "dot-segment", 4),
        # NFKC turns a no-break space (or an ideographic one) into a space.
        ("/a/..%C2%A0", "dot-segment", 4),
        ("/a/%2e%2e%c2%a0", "dot-segment", 4),
        ("/a/..%E3%80%80", "dot-segment", 4),
        # Invisible characters are dropped: zero-width space, BOM, soft
        # hyphen, line separator, Hangul filler (default-ignorable, not Cf).
        ("/a/..%E2%80%8B", "dot-segment", 4),
        ("/a/%2E%2E%e2%80%8b", "dot-segment", 4),
        ("/a/..%EF%BB%BF", "dot-segment", 4),
        ("/a/%EF%BB%BF..", "dot-segment", 4),
        ("/a/..%C2%AD", "dot-segment", 4),
        ("/a/.%C2%AD.", "dot-segment", 4),
        ("/a/.%E2%80%A8", "dot-segment", 4),
        ("/a/..%E1%85%9F", "dot-segment", 4),
        # Only spaces or invisible characters: an empty name to Windows.
        ("/a/%20/b", "dot-segment", 4),
        ("/a/%E2%80%8B/b", "dot-segment", 4),
        ("/a/%20..", "dot-segment", 4),
        # A segment starting with '..' is refused whatever follows.
        ("/a/..%3f", "dot-segment", 4),
        ("/a/..%3F/b", "dot-segment", 4),
        ("/a/%2e%2e%3f", "dot-segment", 4),
        ("/a/..:$DATA", "dot-segment", 4),
        ("/a/..%3A%24DATA", "dot-segment", 4),
        ("/a/..::$INDEX_ALLOCATION", "dot-segment", 4),
        ("/a/%2E%2E%3A%3A%24INDEX_ALLOCATION/b", "dot-segment", 4),
        ("/a/..x", "dot-segment", 4),
        ("/a/...x", "dot-segment", 4),
        ("/a/%2E.x", "dot-segment", 4),
        ("/a/.%E2%80%8B.x", "dot-segment", 4),
        ("/a/%20..x", "dot-segment", 4),
        # Raw spaces and raw invisible characters are refused before that.
        ("/a/.. ", "whitespace", 6),
        ("/a/..\u200b", "non-ascii", 6),
        ("/a/..\ufeff", "non-ascii", 6),
        ("/a/..\u00ad", "non-ascii", 6),
        ("/a/..\u00a0", "whitespace", 6),
        ("/a/..?", "dot-segment", 4),
        # NTFS streams: 'x::$DATA' is the file 'x'.
        ("/x::$DATA", "ntfs-stream", 2),
        ("/a/x::$DATA", "ntfs-stream", 4),
        ("/a/x:$DATA", "ntfs-stream", 4),
        ("/a/dir::$INDEX_ALLOCATION/b", "ntfs-stream", 4),
        ("/a/x:s:$DATA?q=1", "ntfs-stream", 4),
        ("/a/x%3A%3A%24DATA", "ntfs-stream", 4),
        ("/a/x%3a$DATA", "ntfs-stream", 4),
        ("/a/x:%24DATA", "ntfs-stream", 4),
        ("/a/x:%E2%80%8B$DATA", "ntfs-stream", 4),
        ("/a/x%EF%BC%9A%EF%BC%84DATA", "ntfs-stream", 4),
        ("/a/.x::$DATA", "ntfs-stream", 4),
        ("/plan/%EF%BC%8F..%EF%BC%8FClient", "confusable-character", 7),
        ("/a%EF%BC%8Eb", "confusable-character", 3),
        ("/a%ef%b9%a8", "confusable-character", 3),
        ("/a%EF%BC%BC", "confusable-character", 3),
        ("/a%E2%88%95", "confusable-character", 3),
        ("/a%E2%81%84", "confusable-character", 3),
        ("/a%C2%A5", "confusable-character", 3),
        ("/a%E2%82%A9", "confusable-character", 3),
        ("/a%EF%BC%9B", "confusable-character", 3),
        ("/a%EF%BC%85", "confusable-character", 3),
        ("/a%E2%80%A4", "confusable-character", 3),
        ("/a%E2%80%A5", "confusable-character", 3),
        ("/%C3%A9%EF%BC%8F", "confusable-character", 8),
        ("/a%C2%85", "control-character", 3),
        ("/a%C2%9f", "control-character", 3),
        ("/a%u002f", "bad-escape", 3),
        ("/a%U002F", "bad-escape", 3),
        ("/plan;jsessionid=1", "path-parameter", 6),
        ("/plan/..;/Client", "path-parameter", 9),
        ("/plan%3bx", "path-parameter", 6),
        ("/plan/%0A", "control-character", 7),
        ("/plan/%0d", "control-character", 7),
        ("/plan/%00", "control-character", 7),
        ("/plan/%1F", "control-character", 7),
        ("/plan/%7f", "control-character", 7),
        ("/plan\r\n", "control-character", 6),
        ("/pl\tan", "control-character", 4),
        ("/pl\x00an", "control-character", 4),
        ("/plan?x=\n", "control-character", 9),
        ("/a%252F", "double-encoding", 3),
        ("/a%252e", "double-encoding", 3),
        ("/a%25%32%46", "double-encoding", 3),
        ("/a b", "whitespace", 3),
        ("/a\u00a0b", "whitespace", 3),
        ("/caf\u00e9", "non-ascii", 5),
        ("/\u212aelvin", "non-ascii", 2),
        ("/%C0%AE%C0%AE", "bad-utf8", 2),
        ("/%ff", "bad-utf8", 2),
        ("/a|b", "invalid-character", 3),
        ("/a<b>", "invalid-character", 3),
        ("/a[1]", "invalid-character", 3),
        # A raw '#' wherever it stands, before any other fault.
        ("/plan#top", "fragment", 6),
        ("/commandcenter/api/plan#/../Job", "fragment", 24),
        ("/plan?x=1#y", "fragment", 10),
        ("/plan?x=%0A#y", "fragment", 12),
        ("/plan/%2e%2e/x#", "fragment", 15),
        ("#", "fragment", 1),
    ],
)
def test_refused_shapes(raw: str, code: str, column: int) -> None:
    with pytest.raises(PathError) as caught:
        canonical_path(raw)
    (diagnostic,) = caught.value.diagnostics
    assert caught.value.code == code
    assert diagnostic.code == code
    assert diagnostic.column == column
    assert (diagnostic.source, diagnostic.line) == ("<path>", 1)


def test_error_wording_and_family() -> None:
    with pytest.raises(PathError) as caught:
        canonical_path("/plan/%2e%2E/Client")
    assert str(caught.value) == (
        "<path>:1:7: error dot-segment path must not contain a segment made only "
        "of dots ('.', '..', '...') in any spelling, even with spaces or "
        "invisible characters added, got '/plan/%2e%2E/Client'"
    )
    assert isinstance(caught.value, PolicyError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.diagnostics[0].text == "%2e%2E"


_CONFUSABLE = (
    "which Windows best-fit mapping or Unicode normalisation turns into "
    "'/', '\\', '.', ';', '%' or a control character"
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "path must not be empty, got ''"),
        ("plan", "path must start with '/', got 'plan'"),
        (
            "http://h/x",
            "path must be origin-form, starting with '/', got a full URL 'http://h/x'",
        ),
        (
            "/a b",
            "path must not contain raw whitespace (encode a space as %20), got '/a b'",
        ),
        (
            "/caf\u00e9",
            "path must be ASCII (percent-encode U+00E9 as UTF-8 bytes), "
            "got '/caf\u00e9'",
        ),
        (
            "/a|b",
            "path must hold only RFC 3986 path characters (encode '|' as %7C), "
            "got '/a|b'",
        ),
        (
            "/a\\b",
            "path must not contain '\\', which some servers treat as '/', "
            "got '/a\\\\b'",
        ),
        (
            "/a;b",
            "path must not contain ';' path parameters, raw or %3B (servers such "
            "as Tomcat strip them before routing), got '/a;b'",
        ),
        (
            "/a%u002f",
            "a '%' in a path must be followed by two hex digits, got '/a%u002f'",
        ),
        (
            "/a%2fb",
            "path must not contain an encoded '/' or '\\' (%2F, %5C: servers "
            "disagree on whether it separates segments), got '/a%2fb'",
        ),
        (
            "/a%0A",
            "path must not contain a control character, raw or encoded, got '/a%0A'",
        ),
        ("/%ff", "percent-encoded bytes must be valid UTF-8, got '/%ff'"),
        (
            "/plan#/../Job",
            "path must not contain a raw '#': a request target has no fragment"
            " (RFC 9112 section 3.2); encode a literal '#' as %23, got"
            " '/plan#/../Job'",
        ),
        (
            "/a%252F",
            "path must not be percent-encoded twice ('%25' followed by two hex "
            "digits), got '/a%252F'",
        ),
        (
            "/plan/...",
            "path must not contain a segment made only of dots ('.', '..', '...') "
            "in any spelling, even with spaces or invisible characters added, "
            "got '/plan/...'",
        ),
        (
            "/plan/..%20",
            "path must not contain a segment made only of dots ('.', '..', '...') "
            "in any spelling, even with spaces or invisible characters added, "
            "got '/plan/..%20'",
        ),
        (
            "/plan/...x",
            "path must not contain a segment starting with '..' in any spelling "
            "(no API path segment does), got '/plan/...x'",
        ),
        (
            "/plan/x::$DATA",
            "path must not name an NTFS data stream (':$', as in '::$DATA') in "
            "any spelling, got '/plan/x::$DATA'",
        ),
        (
            "/a%EF%BC%8Fb",
            f"path must not contain U+FF0F, {_CONFUSABLE}, got '/a%EF%BC%8Fb'",
        ),
    ],
)
def test_each_refusal_reads_what_rule_got(raw: str, message: str) -> None:
    with pytest.raises(PathError) as caught:
        canonical_path(raw)
    found = caught.value.diagnostics[0]
    assert found.message == message
    assert found.message.count(", got ") == 1


def test_too_long_message_says_got_once() -> None:
    with pytest.raises(PathError) as caught:
        canonical_path("/" + "a" * 20, max_length=10)
    found = caught.value.diagnostics[0]
    assert found.message == "path must be at most 10 characters, got 21 characters"
    assert (found.column, found.text) == (11, "a" * 11)


def test_path_limit_at_the_limit_and_one_past() -> None:
    # Both the plain fast path and the full walk count the whole target.
    assert canonical_path("/" + "a" * 9, max_length=10) == "/" + "a" * 9
    assert canonical_path("/a/%41?x=1", max_length=10) == "/a/A"
    for raw in ("/" + "a" * 10, "/a/%41?x=12"):
        with pytest.raises(PathError) as caught:
            canonical_path(raw, max_length=10)
        assert caught.value.code == "path-too-long"
        assert caught.value.diagnostics[0].column == 11


def test_long_input_is_echoed_cut() -> None:
    raw = "/" + "a" * 100 + "/%2F"
    with pytest.raises(PathError) as caught:
        canonical_path(raw)
    message = str(caught.value)
    assert "... (45 more characters)" in message
    assert "a" * 61 not in message


def test_length_is_checked_first() -> None:
    assert canonical_path("/" + "a" * 99, max_length=100) == "/" + "a" * 99
    with pytest.raises(PathError) as caught:
        canonical_path("/" + "a" * 100, max_length=100)
    assert caught.value.code == "path-too-long"
    assert caught.value.diagnostics[0].column == 101
    assert "at most 100 characters, got 101 characters" in str(caught.value)
    # An over-long path is refused even when it has other faults too.
    with pytest.raises(PathError) as caught:
        canonical_path("/%2F" + "a" * 9000)
    assert caught.value.code == "path-too-long"


def test_not_a_string_is_a_type_error() -> None:
    with pytest.raises(PolicyTypeError, match="path must be a str, got bytes"):
        canonical_path(b"/plan")  # type: ignore[arg-type]


def _handed(ids: set[str]) -> list[dict[str, object]]:
    cases = json.loads(HANDED.read_text(encoding="utf-8"))
    return [case for case in cases if case["id"] in ids]


@pytest.mark.parametrize(
    "case", _handed({"B18", "B19", "B24"}), ids=lambda case: str(case["id"])
)
def test_handed_paths_rejected(case: dict[str, object]) -> None:
    assert case["expect"] == "reject"
    with pytest.raises(PathError):
        canonical_path(str(case["path"]))


# Characters a path may be built from, with the dangerous ones in it.
_ALPHABET = string.ascii_letters[:6] + "Kk09-._~!$&'()*+,=:@/%;\\?# \t\n\x00"
_PATHS = st.text(alphabet=_ALPHABET, max_size=40).map(lambda text: "/" + text)
_ESCAPES = st.sampled_from(
    ["%2e", "%2E", "%41", "%7E", "%20", "%25", "%3A", "%C3%A9", "%2f", "%0a"]
)
_PIECES = st.lists(st.one_of(st.sampled_from(list(_ALPHABET)), _ESCAPES), max_size=20)


@settings(max_examples=300)
@given(st.one_of(_PATHS, _PIECES.map(lambda parts: "/" + "".join(parts))))
def test_canonicalisation_is_idempotent(raw: str) -> None:
    try:
        once = canonical_path(raw)
    except PathError:
        return
    assert canonical_path(once) == once
    assert once.startswith("/")
    assert "//" not in once
    assert once.isascii()


_DANGER = st.sampled_from(
    [
        "%2F",
        "%2f",
        "%5C",
        "%5c",
        "\\",
        "/..",
        "/.",
        "/%2e%2e",
        "/.%2E",
        "/%2e",
        "%00",
        "%0A",
        "%0d",
        "%7F",
        "\r",
        "\n",
        "\x00",
        ";",
        "%3B",
        "%252F",
        "/...",
        "%EF%BC%8F",
        "%EF%BC%8E",
        "%EF%BC%BC",
        "%C2%85",
        "#",
        "#/../",
        "/..%20",
        "/.%20",
        "/%20",
        "/..%C2%A0",
        "/..%E2%80%8B",
        "/..%EF%BB%BF",
        "/..%C2%AD",
        "/.%E2%80%8B",
        "/%E2%80%8B",
        "/..%3f",
        "/..:$DATA",
        "/..::$INDEX_ALLOCATION",
        "/..x",
        "/...x",
        "::$DATA",
        ":$DATA",
        "::$INDEX_ALLOCATION",
        "%3A%3A%24DATA",
        ":%24DATA",
    ]
)
_SAFE = st.text(alphabet=string.ascii_letters + string.digits + "-_~", max_size=8)


@settings(max_examples=300)
@given(_SAFE, _DANGER, _SAFE, st.sampled_from(["", "/", "/x"]))
def test_dangerous_shapes_always_refused(
    before: str, danger: str, after: str, tail: str
) -> None:
    # A dot segment only exists as a whole segment, so it ends one.
    if danger.startswith("/"):
        raw = f"/{before}{danger}{tail}"
    else:
        raw = f"/{before}{danger}{after}{tail}"
    with pytest.raises(PathError):
        canonical_path(raw)


# What may follow '..' at the start of a segment: anything at all.
_AFTER_TWO_DOTS = st.lists(
    st.one_of(
        st.sampled_from(list(string.ascii_letters[:4] + "09-._~!$&'()*+,=:@")),
        st.sampled_from(["%20", "%2E", "%3F", "%C2%A0", "%E2%80%8B", "%41"]),
    ),
    max_size=8,
)


@settings(max_examples=300)
@given(_SAFE, st.sampled_from(["..", "%2E.", ".%2e", "%2E%2E"]), _AFTER_TWO_DOTS)
def test_segments_starting_with_two_dots_always_refused(
    before: str, dots: str, after: list[str]
) -> None:
    raw = f"/{before}/{dots}{''.join(after)}"
    with pytest.raises(PathError) as caught:
        canonical_path(raw)
    assert caught.value.code == "dot-segment"
    assert caught.value.diagnostics[0].column == len(before) + 3


_PLAIN_ALPHABET = string.ascii_letters[:4] + "09._~!$&'()*+,=:@/-"


@settings(max_examples=300)
@given(st.text(alphabet=_PLAIN_ALPHABET, max_size=30).map(lambda text: "/" + text))
def test_fast_path_agrees_with_full_walk(raw: str) -> None:
    # The fast path may skip the walk only where the walk accepts as is.
    fast = _outcome(raw)
    with mock.patch("policy._paths.is_plain", return_value=False):
        walked = _outcome(raw)
    assert fast == walked


def _outcome(raw: str) -> str:
    """The canonical form of ``raw``, or the code of its refusal."""
    try:
        return canonical_path(raw)
    except PathError as error:
        return f"refused: {error.code}"
