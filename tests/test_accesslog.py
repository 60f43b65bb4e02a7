"""Reading access logs: every format, and every malformed line counted."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from policy._accesslog import MAX_LOG_LINE, LogRequest, Malformed, read_requests
from policy._errors import PolicyTypeError

ROOT = Path(__file__).resolve().parent.parent
COMBINED = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/x.png '
    'HTTP/1.1" 200 203023 "http://semicomplete.com/" "Mozilla/5.0 (Macintosh)"'
)


def test_combined_log_format() -> None:
    assert list(read_requests([COMBINED])) == [
        LogRequest(1, "83.149.9.216", "GET", "/presentations/x.png")
    ]


def test_common_log_format_and_http09() -> None:
    lines = [
        '192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700] "POST /plan?x=1 HTTP/1.0" '
        "200 2326\n",
        '2001:db8::1 - - [10/Oct/2000:13:55:36 -0700] "GET /Client" 200 10\n',
    ]
    assert list(read_requests(lines)) == [
        LogRequest(1, "192.0.2.1", "POST", "/plan?x=1"),
        LogRequest(2, "2001:db8::1", "GET", "/Client"),
    ]


def test_json_lines() -> None:
    lines = ['{"ip": "192.0.2.1", "method": "DELETE", "path": "/plan/7"}']
    assert list(read_requests(lines)) == [
        LogRequest(1, "192.0.2.1", "DELETE", "/plan/7")
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("garbage", "not Common, Combined or JSON log format"),
        ('{"ip": "192.0.2.1"', "not valid JSON"),
        ("[1, 2]", "not Common, Combined or JSON log format"),
        (
            '{"ip": 1, "method": "GET", "path": "/"}',
            "JSON record needs string fields ip, method, path",
        ),
        (
            '{"ip": "192.0.2.1", "method": "GET"}',
            "JSON record needs string fields ip, method, path",
        ),
        ("{" * 100_000, "line longer than 65536 characters"),
        ('192.0.2.1 - - [x] "GET" 200 1', "not Common, Combined or JSON log format"),
    ],
)
def test_malformed_lines_are_records_not_errors(line: str, why: str) -> None:
    assert list(read_requests([line])) == [Malformed(1, why)]


def test_blank_lines_skipped_but_numbering_kept() -> None:
    records = list(read_requests(["\n", COMBINED + "\n", "   \n", "junk\n"]))
    assert records == [
        LogRequest(2, "83.149.9.216", "GET", "/presentations/x.png"),
        Malformed(4, "not Common, Combined or JSON log format"),
    ]


def test_max_line_is_a_named_bound() -> None:
    assert MAX_LOG_LINE == 65536


def test_the_shipped_log_reads_completely() -> None:
    log = ROOT / "data" / "access-logs" / "apache_logs"
    with open(log, encoding="utf-8", errors="replace") as stream:
        records = list(read_requests(stream))
    requests = [r for r in records if isinstance(r, LogRequest)]
    assert len(records) == 10_000
    assert len(requests) == 10_000
    assert len({r.ip for r in requests}) == 1_753


def test_line_limit_at_the_limit_and_one_past() -> None:
    line = '192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET /plan HTTP/1.1" 200 1'
    limit = len(line)
    assert list(read_requests([line], max_line_length=limit)) == [
        LogRequest(1, "192.0.2.1", "GET", "/plan")
    ]
    assert list(read_requests([line + " "], max_line_length=limit)) == [
        Malformed(1, f"line longer than {limit} characters")
    ]


def test_default_line_limit_at_the_limit_and_one_past() -> None:
    head = '192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET /'
    tail = ' HTTP/1.1" 200 1'
    line = head + "a" * (MAX_LOG_LINE - len(head) - len(tail)) + tail
    (found,) = read_requests([line])
    assert isinstance(found, LogRequest)
    assert list(read_requests([line + "\n"])) == [
        Malformed(1, "line longer than 65536 characters")
    ]


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_line_ending_counts_as_one_character_whichever_it_is(ending: str) -> None:
    head = '192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET /'
    tail = ' HTTP/1.1" 200 1'
    line = head + "a" * (MAX_LOG_LINE - 1 - len(head) - len(tail)) + tail
    (found,) = read_requests([line + ending])
    assert isinstance(found, LogRequest)
    assert list(read_requests([line + " " + ending])) == [
        Malformed(1, "line longer than 65536 characters")
    ]


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "80", None])
def test_line_limit_must_be_a_positive_int(value: object) -> None:
    with pytest.raises(PolicyTypeError) as caught:
        read_requests([], max_line_length=value)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"max_line_length must be an int of at least 1, got {value!r}"
    )


# --- an open file is read in bounded pieces


class _EndlessLine:
    """A stream whose first line is ``length`` NULs, served in pieces.

    Only ``readline`` is offered, as on a stream that cannot be iterated, and
    every size asked for is recorded.
    """

    def __init__(self, length: int, rest: str) -> None:
        self.left = length
        self.rest = rest
        self.sizes: list[int] = []

    def readline(self, size: int = -1) -> str:
        self.sizes.append(size)
        if self.left == 0:
            # The long line is spent: the rest, one line at a time.
            end = self.rest.find("\n") + 1 or len(self.rest)
            line, self.rest = self.rest[:end], self.rest[end:]
            return line
        piece = self.left if size < 0 else min(self.left, size)
        self.left -= piece
        return "\0" * piece


def test_a_stream_is_read_no_more_than_a_line_past_the_limit() -> None:
    stream = _EndlessLine(
        5_000_000, '\n{"ip": "192.0.2.1", "method": "GET", "path": "/a"}'
    )

    records = list(read_requests(stream, max_line_length=100))

    assert records == [
        Malformed(1, "line longer than 100 characters"),
        LogRequest(2, "192.0.2.1", "GET", "/a"),
    ]
    assert set(stream.sizes) == {101}


def test_an_overlong_line_in_a_file_is_never_held_whole() -> None:
    text = "x" * 4_000_000 + "\n" + COMBINED + "\n"
    stream = io.StringIO(text)
    tracemalloc.start()
    try:
        records = list(read_requests(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert records == [
        Malformed(1, "line longer than 65536 characters"),
        LogRequest(2, "83.149.9.216", "GET", "/presentations/x.png"),
    ]
    # A few line-sized pieces at a time, not the 4 MB line.
    assert peak < 1_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Exactly one past the limit, line ending included: no rest to skip.
        ("a" * 9 + "\n" + "b" * 8 + "\n", ["too long", 2]),
        # Overlong with no line ending at all: the stream just ends.
        ("a" * 25, ["too long"]),
        # Overlong over several pieces, ending exactly at a piece boundary.
        ("a" * 29 + "\n" + "b" * 8 + "\n", ["too long", 2]),
        # Windows line endings, CRLF counted as one character like LF.
        ("b" * 8 + "\r\n" + "a" * 12 + "\r\n" + "b\r\n", [1, "too long", 3]),
        # One past the limit, the piece cut between CR and LF.
        ("a" * 9 + "\r\n" + "b" * 8 + "\r\n", ["too long", 2]),
        # A torn last line ending in CR, at the limit and one past it.
        ("b" * 8 + "\r", [1]),
        ("a" * 9 + "\r", ["too long"]),
    ],
)
# Translated to LF as a file opened by default reads them, or kept as a log
# is read, with lines ending only at LF.
@pytest.mark.parametrize("newline", [None, "\n"])
def test_stream_line_numbers_survive_an_overlong_line(
    text: str, expected: list[object], newline: str | None
) -> None:
    # Every line of b's reads as one malformed request of that line number.
    stream = io.TextIOWrapper(
        io.BytesIO(text.encode()), encoding="utf-8", newline=newline
    )
    records = list(read_requests(stream, max_line_length=9))
    shown = [
        "too long"
        if r == Malformed(r.line, "line longer than 9 characters")
        else r.line
        for r in records
    ]
    assert shown == expected


def test_a_lone_carriage_return_is_part_of_its_line_when_lines_end_at_lf() -> None:
    text = '{"ip": "192.0.2.1", "method": "GET", "path": "/a"}\rjunk\n' + COMBINED
    stream = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8", newline="\n")

    assert list(read_requests(stream)) == [
        Malformed(1, "not valid JSON"),
        LogRequest(2, "83.149.9.216", "GET", "/presentations/x.png"),
    ]
