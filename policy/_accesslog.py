"""Web server access logs, read one request at a time.

Three line formats are recognised, line by line, so a log that mixes them
(or has a few torn lines) still reads:

- Common Log Format: ``192.0.2.1 - - [17/May/2015:10:05:03 +0000]
  "GET /plan HTTP/1.1" 200 1234``
- Combined Log Format: the same, followed by referrer and user agent.
- JSON lines: ``{"ip": "192.0.2.1", "method": "GET", "path": "/plan"}``.

A line that fits none of them is a :class:`Malformed` record carrying its line
number and why, never an exception: one bad line must not stop an audit.

Given an open file rather than a list, lines are read at most
``max_line_length + 1`` characters at a time, so a line without end (a torn
log, ``/dev/zero``) costs no more memory than one at the limit.  Open it with
``newline="\\n"``, so that lines end only at a line feed, where ``grep -n``
ends them: a lone carriage return is then part of its line, and one before a
line feed is dropped with it here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, NamedTuple

from policy._errors import PolicyTypeError

__all__ = ["MAX_LOG_LINE", "LogRequest", "Malformed", "read_requests"]

# Longer lines are not read as requests: servers cap request lines well
# below this (nginx's large_client_header_buffers default is 8 KB).
MAX_LOG_LINE: Final = 64 * 1024

# host ident user [time] "METHOD target PROTOCOL" ...: the request line is
# split on single spaces as servers write it; a request with no protocol
# (HTTP/0.9) is accepted too.  Every part is a bounded class without nested
# quantifiers, so matching is linear in the line's length.
_CLF: Final = re.compile(
    r'(?P<ip>[^ ]+) [^ ]+ [^ ]+ \[[^\]]*\] "(?P<method>[^ "]+) (?P<path>[^ "]+)'
    r'(?: [^"]*)?"'
)


class LogRequest(NamedTuple):
    """One request from a log: who, what and where in the file.

    A named tuple rather than a frozen dataclass: a replay builds one per
    line, and a tuple is built in a quarter of the time.
    """

    line: int
    ip: str
    method: str
    path: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not a request in any known format."""

    line: int
    why: str


def read_requests(
    lines: Iterable[str], *, max_line_length: int = MAX_LOG_LINE
) -> Iterator[LogRequest | Malformed]:
    """Yield each non-blank line of a log as a request or as malformed.

    Args:
        lines: The log's lines, with or without their line endings; or an
            open text file (anything with ``readline``), which is then read
            in bounded pieces: an overlong line is never held whole, and
            the rest of it is skipped up to its line ending.
        max_line_length: Longer lines (line ending included, CRLF counted
            as one character like LF) are not read, only reported as
            :class:`Malformed`.

    Returns:
        An iterator yielding a :class:`LogRequest` for each line in a known
        format, else a :class:`Malformed` naming the 1-based line number and
        the reason.

    Raises:
        PolicyTypeError: ``max_line_length`` is not an int of at least 1
            (raised at once, before any line is read).
    """
    if (
        isinstance(max_line_length, bool)
        or not isinstance(max_line_length, int)
        or max_line_length < 1
    ):
        raise PolicyTypeError(
            f"max_line_length must be an int of at least 1, got {max_line_length!r}"
        )
    readline = getattr(lines, "readline", None)
    if callable(readline):
        # Iterating a file reads each line whole before the limit could be
        # applied; reading through readline(size) bounds it first.
        lines = _bounded_lines(readline, max_line_length)
    return _read(lines, max_line_length)


def _bounded_lines(readline: Callable[[int], str], limit: int) -> Iterator[str]:
    """Each line of a stream, an overlong one cut to ``limit + 1`` characters.

    The cut line is still longer than ``limit``, so :func:`_read` reports it
    as too long; the rest of it is read and dropped in pieces of the same
    size, so memory stays flat however long the line, and the next line
    keeps its number.
    """
    while line := readline(limit + 1):
        yield line
        if len(line) > limit and not line.endswith("\n"):
            _skip_rest_of_line(readline, limit + 1)


def _skip_rest_of_line(readline: Callable[[int], str], size: int) -> None:
    """Read and drop up to the next line ending, ``size`` characters a time."""
    while piece := readline(size):
        if piece.endswith("\n"):
            return


def _read(
    lines: Iterable[str], max_line_length: int
) -> Iterator[LogRequest | Malformed]:
    """The reading loop of :func:`read_requests`, options already checked."""
    match_clf = _CLF.match
    for number, line in enumerate(lines, start=1):
        # A CRLF ending counts as one character, as "\n" does: a log reads
        # the same whichever ending it was saved with.
        if len(line) - line.endswith("\r\n") > max_line_length:
            yield Malformed(number, f"line longer than {max_line_length} characters")
            continue
        found = match_clf(line)
        if found is not None:
            ip, method, path = found.group("ip", "method", "path")
            yield LogRequest(number, ip, method, path)
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("{"):
            yield _json_request(number, stripped)
        else:
            yield Malformed(number, "not Common, Combined or JSON log format")


def _json_request(number: int, text: str) -> LogRequest | Malformed:
    """Read a JSON-lines record with string fields ip, method and path."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return Malformed(number, "not valid JSON")
    if not isinstance(record, dict):
        return Malformed(number, "JSON record is not an object")
    fields = [record.get(key) for key in ("ip", "method", "path")]
    if not all(isinstance(field, str) for field in fields):
        return Malformed(number, "JSON record needs string fields ip, method, path")
    ip, method, path = fields
    return LogRequest(number, str(ip), str(method), str(path))
