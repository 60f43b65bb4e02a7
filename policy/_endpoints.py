"""The grammar of endpoints as users type them in a Custom scope.

An endpoint is a path prefix: ``/plan`` allows ``/plan`` and everything below
it.  Endpoints come one a line in a text, or as a list of strings::

    # plans and their schedules
    /plan
    /V4/ServerGroup/        # a trailing slash is ignored
    /                       # every path (allowed; the lint warns)

Blank lines and comments (``#`` at the start of a line, or after
whitespace) are ignored.  A ``#`` attached to an endpoint is a fragment and
is refused.  Each endpoint goes through :func:`canonical_path`, so it
compares equal to the request paths it is meant to match, and every shape a
request path would be refused for is refused here too.  A line longer than
``max_line_length`` is refused before it is parsed, and reading stops at
the endpoint past ``max_endpoints``.  Well-formed lines take a regular
expression fast path; the pyparsing grammar reads the rest and names every
fault.  An error reads::

    <endpoints>:2:6: error query-string endpoint must not contain a query
    string; endpoints are path prefixes and the query is never matched,
    got '/plan?id=7'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final

import pyparsing as pp

from policy._errors import Diagnostic, PolicyTypeError, ScopeError, echo
from policy._paths import DEFAULT_MAX_PATH_LENGTH, PathError, canonical_path
from policy._redact import secret_span

__all__ = [
    "DEFAULT_MAX_ENDPOINTS",
    "DEFAULT_MAX_LINE_LENGTH",
    "Endpoint",
    "parse_endpoints",
    "parse_prefixes",
]

# A line longer than this is not an endpoint line; it is refused before any
# parsing, so a hostile megabyte line costs one len().  The longest path in
# Commvault's published API is under 100 characters.
DEFAULT_MAX_LINE_LENGTH: Final = 1_000
# Bounds memory and load time; a real Custom scope lists a few dozen.
DEFAULT_MAX_ENDPOINTS: Final = 100_000


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One allowed endpoint.

    Attributes:
        text: The endpoint as typed, without surrounding blanks or comment.
        path: The canonical path: no trailing slash except for ``/`` itself.
        line: 1-based line of the endpoint in its source.
        column: 1-based column where the endpoint starts.
    """

    text: str
    path: str
    line: int
    column: int


# Line level: an optional endpoint word, then an optional comment.  The word
# runs to the next blank, so a '#' attached to it stays inside the word and
# is refused as a fragment by the endpoint grammar.
_COMMENT: Final = pp.Regex(r"#.*").set_name("comment")
_WORD: Final = pp.Regex(r"[^\s#]\S*").set_name("endpoint")
_LINE: Final = (
    pp.Opt(_WORD("endpoint")) + pp.Opt(_COMMENT).suppress() + pp.StringEnd()
).set_name("line")

# Endpoint level: '/' then RFC 3986 pchars and escapes; ';' is left out.
# '*' is a pchar, but here it would read as a wildcard, so it is refused.
_PCHARS: Final = pp.alphanums + "-._~!$&'()+,=:@"
_ESCAPE: Final = pp.Regex(r"%[0-9A-Fa-f]{2}").set_name("percent-escape")
_SEGMENT: Final = pp.Combine(pp.OneOrMore(pp.Word(_PCHARS) | _ESCAPE)).set_name(
    "segment"
)
_ENDPOINT: Final = pp.Combine(
    pp.Literal("/") + pp.ZeroOrMore(_SEGMENT | pp.Literal("/"))
).set_name("endpoint")
_ENDPOINT.leave_whitespace()
# pyparsing expands tabs before parsing unless told not to, which would move
# every reported column after a tab.
_LINE.parse_with_tabs()
_ENDPOINT.parse_with_tabs()

# The fast path: a line holding one endpoint of plain path characters and
# escapes, or nothing, between blanks, with an optional comment.  Every line
# it accepts, the grammar above accepts with the same endpoint word (a
# property test checks it); every other line, and so every error, goes to
# the grammar.  The classes of consecutive parts are disjoint, so matching
# cannot backtrack.
_FAST_LINE: Final = re.compile(
    r"[ \t]*(?:(/(?:[A-Za-z0-9\-._~!$&'()+,=:@/]|%[0-9A-Fa-f]{2})*)"
    r"(?:[ \t]+(?:#.*)?)?|#.*)?"
).fullmatch


class _Fast(Enum):
    """What the fast path returns for a line it leaves to the grammar."""

    MISS = "miss"


# Controls are shown as '?' under the caret, one column each, so the caret
# still points at them and a terminal is not driven by them.
_VISIBLE: Final = dict.fromkeys([*range(32), 127], "?")

# What a character that stops the endpoint grammar means: code and rule.
_STOPS: Final = {
    "?": (
        "query-string",
        "{noun} must not contain a query string; {noun}s are path prefixes and "
        "the query is never matched",
    ),
    "#": ("fragment", "{noun} must not contain a fragment ('#')"),
    "*": (
        "wildcard",
        "{noun} must not contain '*': wildcards are not supported, {noun}s are "
        "prefixes and '/plan' already covers every path below it",
    ),
    ";": (
        "path-parameter",
        "{noun} must not contain ';' path parameters, which servers strip "
        "before routing",
    ),
    "\\": (
        "backslash",
        "{noun} must not contain '\\', which some servers treat as '/'",
    ),
    "%": ("bad-escape", "'%' must be followed by two hex digits"),
}


def parse_endpoints(
    text_or_lines: str | Iterable[str],
    *,
    source: str = "<endpoints>",
    first_line: int = 1,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    max_endpoints: int = DEFAULT_MAX_ENDPOINTS,
) -> tuple[Endpoint, ...]:
    """Parse the endpoints of a Custom scope.

    Args:
        text_or_lines: One endpoint a line, or a list of endpoints.  In a
            text, blank lines are skipped; in a list, an empty item is an
            error, since it would otherwise be a prefix of every path.
        source: File name or label used in diagnostics.
        first_line: Line number of the first line, for text embedded in a
            larger file.
        max_line_length: Longest line accepted, in characters; checked
            before the line is parsed (code ``line-too-long``).
        max_endpoints: Most endpoints accepted (code
            ``too-many-endpoints``).

    Returns:
        The endpoints, in input order.

    Raises:
        ScopeError: With every diagnostic found, when any endpoint is
            malformed, a limit is exceeded, or (code ``empty-scope``) there
            is no endpoint.
        PolicyTypeError: The input is neither a ``str`` nor strings, or an
            option has the wrong type or range.
    """
    endpoints = parse_prefixes(
        text_or_lines,
        source=source,
        first_line=first_line,
        noun="endpoint",
        max_line_length=max_line_length,
        max_endpoints=max_endpoints,
    )
    if not endpoints:
        raise ScopeError.from_diagnostics(
            [
                Diagnostic(
                    source=source,
                    line=first_line,
                    column=1,
                    text="",
                    message="a Custom scope must list at least one endpoint: one "
                    "that allows nothing is almost certainly a mistake, got none",
                    code="empty-scope",
                )
            ]
        )
    return endpoints


def parse_prefixes(
    text_or_lines: str | Iterable[str],
    *,
    source: str,
    first_line: int,
    noun: str,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    max_endpoints: int = DEFAULT_MAX_ENDPOINTS,
) -> tuple[Endpoint, ...]:
    """Parse path prefixes (endpoints, API bases); may return none.

    ``noun`` names the thing in messages ("endpoint", "API base"); the
    limits are as for :func:`parse_endpoints`.

    Raises:
        ScopeError: When any prefix is malformed or a limit is exceeded,
            with every diagnostic.
        PolicyTypeError: The input is neither a ``str`` nor strings, or an
            option has the wrong type or range.
    """
    _check_options(
        source=source,
        first_line=first_line,
        max_line_length=max_line_length,
        max_endpoints=max_endpoints,
    )
    endpoints: list[Endpoint] = []
    diagnostics: list[Diagnostic] = []
    for line_number, line, from_list in _lines(text_or_lines, first_line):
        where = _Where(source, line_number, line, noun)
        try:
            endpoint = _parse_line(line, where, from_list, max_line_length)
        except _LineError as error:
            diagnostics.append(error.diagnostic)
            continue
        if endpoint is None:
            continue
        endpoints.append(endpoint)
        if len(endpoints) > max_endpoints:
            diagnostics.append(_too_many(where, max_endpoints))
            break
    if diagnostics:
        raise ScopeError.from_diagnostics(diagnostics)
    return tuple(endpoints)


def _check_options(
    *,
    source: object,
    first_line: object,
    max_line_length: object,
    max_endpoints: object,
) -> None:
    """Refuse options of the wrong type or range, before any parsing."""
    if not isinstance(source, str):
        raise PolicyTypeError(f"source must be str, got {type(source).__name__}")
    for name, value in (
        ("first_line", first_line),
        ("max_line_length", max_line_length),
        ("max_endpoints", max_endpoints),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PolicyTypeError(f"{name} must be an int of at least 1, got {value!r}")


def _too_many(where: _Where, limit: int) -> Diagnostic:
    """The diagnostic for the endpoint one past ``limit``, on its line."""
    plural = where.noun.replace(" ", "-").lower() + "s"
    return Diagnostic(
        source=where.source,
        line=where.line,
        column=1,
        text="",
        message=f"at most {limit} {where.noun}s are accepted, got more by line "
        f"{where.line}",
        code=f"too-many-{plural}",
        line_text=where.line_text.translate(_VISIBLE),
    )


def _lines(
    text_or_lines: str | Iterable[str], first_line: int
) -> Iterator[tuple[int, str, bool]]:
    """Yield (line number, line, came from a list) for each input line."""
    if isinstance(text_or_lines, str):
        # Split on '\n' only: str.splitlines() would also split on form
        # feeds and other controls that must be reported, not hidden.
        for offset, line in enumerate(text_or_lines.split("\n")):
            yield first_line + offset, line.removesuffix("\r"), False
        return
    if isinstance(text_or_lines, bytes | bytearray) or not isinstance(
        text_or_lines, Iterable
    ):
        raise PolicyTypeError(
            "endpoints must be a str or an iterable of str, got "
            f"{type(text_or_lines).__name__}"
        )
    for offset, item in enumerate(text_or_lines):
        if not isinstance(item, str):
            raise PolicyTypeError(
                f"each endpoint must be a str, got {type(item).__name__} at "
                f"index {offset}"
            )
        yield first_line + offset, item, True


@dataclass(frozen=True, slots=True)
class _Where:
    source: str
    line: int
    line_text: str
    noun: str

    def error(
        self, column: int, code: str, rule: str, text: str, *, got: str | None = None
    ) -> _LineError:
        """The error at ``column``: ``rule``, then what was got.

        ``got`` defaults to the stripped line, quoted and cut by ``echo``.
        """
        if got is None:
            got = repr(echo(self.line_text.strip() or self.line_text))
        diagnostic = Diagnostic(
            source=self.source,
            line=self.line,
            column=column,
            text=echo(text),
            message=f"{rule.format(noun=self.noun)}, got {got}",
            code=code,
            line_text=self.line_text.translate(_VISIBLE),
            length=max(1, len(text)),
        )
        return _LineError(diagnostic)


class _LineError(Exception):
    """Internal: carries one diagnostic out of the line parser."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _parse_line(
    line: str, where: _Where, from_list: bool, max_line_length: int
) -> Endpoint | None:
    """Parse one line; None for a blank or comment line of a text."""
    # Step 1: the length, before any parsing.
    if len(line) > max_line_length:
        raise where.error(
            1,
            "line-too-long",
            f"an {{noun}} line must be at most {max_line_length} characters",
            line,
            got=str(len(line)),
        )

    # Step 2: the endpoint word, by the fast path or else the grammar.
    found = _fast_word(line)
    if found is _Fast.MISS or (found is None and from_list):
        found = _grammar_word(line, where, from_list=from_list)
    if found is None:
        return None
    word, column = found

    # Step 3: no token secret, which every listing and decision would show.
    span = secret_span(word)
    if span is not None:
        start, end = span
        raise where.error(
            column + start,
            "token-secret",
            "{noun} must not contain a token secret: it would be shown by every"
            " listing and decision",
            word[start:end],
        )

    # Step 4: the request-path rules, so endpoint and path compare equal.
    path = _canonical(word, column, where)
    return Endpoint(text=word, path=_strip_slash(path), line=where.line, column=column)


def _fast_word(line: str) -> tuple[str, int] | _Fast | None:
    """The endpoint word and its column, None for none, or MISS."""
    match = _FAST_LINE(line)
    if match is None:
        return _Fast.MISS
    word = match.group(1)
    if word is None:
        return None
    return word, match.start(1) + 1


def _grammar_word(
    line: str, where: _Where, *, from_list: bool
) -> tuple[str, int] | None:
    """The endpoint word and its column by the grammar, which names faults."""
    # Split the line into its endpoint word and comment.
    try:
        parsed = _LINE.parse_string(line, parse_all=True)
    except pp.ParseException as error:
        raise _stray(line, error.loc, where) from None
    if "endpoint" not in parsed:
        if from_list and not line.strip():
            raise where.error(
                1,
                "empty-endpoint",
                "{noun} must not be empty: an empty {noun} is a prefix of every path",
                "",
            )
        return None
    word = str(parsed["endpoint"])
    column = line.index(word) + 1

    # The endpoint grammar; its stop position names the fault.
    try:
        _ENDPOINT.parse_string(word, parse_all=True)
    except pp.ParseException as error:
        raise _stop(word, error.loc, column, where) from None
    return word, column


def _canonical(word: str, column: int, where: _Where) -> str:
    """The canonical path of ``word``, or the path rule it breaks."""
    if len(word) > DEFAULT_MAX_PATH_LENGTH:
        # Said here rather than taken from canonical_path, whose message
        # already ends in what it got.
        raise where.error(
            column + DEFAULT_MAX_PATH_LENGTH,
            "path-too-long",
            f"{{noun}} must be at most {DEFAULT_MAX_PATH_LENGTH} characters",
            word[DEFAULT_MAX_PATH_LENGTH:],
            got=f"{len(word)} characters",
        )
    try:
        return canonical_path(word)
    except PathError as error:
        found = error.diagnostics[0]
        rule = found.message.rsplit(", got ", 1)[0].replace("path", "{noun}", 1)
        raise where.error(
            column + found.column - 1, found.code, rule, found.text
        ) from None


def _stray(line: str, loc: int, where: _Where) -> _LineError:
    """The error for text after the endpoint word that is not a comment."""
    blank = loc
    while blank > 0 and line[blank - 1].isspace():
        blank -= 1
    for index in range(blank, loc):
        if not line[index].isprintable() and line[index] != "\t":
            return _character_error(line, index, index + 1, where)
    if 0 < blank < loc:
        return where.error(
            blank + 1,
            "whitespace",
            "{noun} must not contain whitespace; put one {noun} on each line",
            line[blank:loc],
        )
    return _character_error(line, loc, loc + 1, where)


def _stop(word: str, loc: int, column: int, where: _Where) -> _LineError:
    """The error for the character where the endpoint grammar stopped."""
    if loc == 0 and not word.startswith("*"):
        return where.error(
            column,
            "no-leading-slash",
            "{noun} must begin with '/': without it, a plain string comparison "
            "would make it a prefix of every path",
            word,
        )
    return _character_error(word, loc, column + loc, where)


def _character_error(text: str, loc: int, column: int, where: _Where) -> _LineError:
    """Name the fault of the character at ``text[loc]``."""
    char = text[loc] if loc < len(text) else ""
    if char in _STOPS:
        code, rule = _STOPS[char]
        return where.error(column, code, rule, text[loc : loc + 3])
    if char and (ord(char) < 0x20 or ord(char) == 0x7F):
        return where.error(
            column,
            "control-character",
            "{noun} must not contain a control character",
            char,
        )
    if char.isspace():
        return where.error(
            column, "whitespace", "{noun} must not contain whitespace", char
        )
    if char and not char.isascii():
        return where.error(
            column,
            "non-ascii",
            f"{{noun}} must be ASCII; percent-encode U+{ord(char):04X} as UTF-8",
            char,
        )
    return where.error(
        column,
        "invalid-character",
        "{noun} must hold only RFC 3986 path characters",
        char,
    )


def _strip_slash(path: str) -> str:
    """Drop the trailing slash: ``/plan/`` and ``/plan`` are one endpoint."""
    if len(path) > 1 and path.endswith("/"):
        return path[:-1]
    return path
