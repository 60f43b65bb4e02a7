"""Reading the files users hand the command line: size, encoding, errors.

Every failure is a :class:`PolicyFileError` naming the file and, for a byte
that is not UTF-8, its line and column, so the CLI reports a file it cannot
use the same way whatever the subcommand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from policy._allowlist import IPAllowlist
from policy._errors import Diagnostic, PolicyFileError
from policy._redact import redact

__all__ = ["MAX_FILE_BYTES", "decode_source", "read_allowlist_file", "read_source"]

# A policy or allowlist holds at most a large provider list (Azure's is
# about 4 MB as JSON and far less as one prefix a line); anything beyond
# this is refused before it is decoded.
MAX_FILE_BYTES: Final = 16 * 1024 * 1024


def read_source(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Return a file's text: UTF-8, an optional BOM dropped.

    Raises:
        PolicyFileError: the file cannot be read (code ``unreadable``), is
            larger than ``max_bytes`` (``too-large``) or is not UTF-8
            (``encoding``, at the line and column of the first bad byte).
    """
    source = redact(str(path))
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            data = stream.read(max_bytes + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        message = f"cannot read {source}: {reason}"
        raise _error(source, 1, 1, message, "unreadable") from None
    if len(data) > max_bytes:
        # A file still growing may have been smaller when it was measured.
        message = f"file must be at most {max_bytes} bytes, got {max(size, len(data))}"
        raise _error(source, 1, 1, message, "too-large")

    return decode_source(data, source=source)


def decode_source(data: bytes, *, source: str) -> str:
    """Return the text of a file's bytes: UTF-8, an optional BOM dropped.

    Raises:
        PolicyFileError: the bytes are not UTF-8 (code ``encoding``, at the
            line and column of the first bad byte).
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        message = f"file must be UTF-8, got byte 0x{data[error.start]:02x}"
        raise _error(source, line, column, message, "encoding") from None


def read_allowlist_file(path: str | Path, *, lenient: bool = False) -> IPAllowlist:
    """Parse a bare allowlist file, one entry a line.

    Raises:
        PolicyFileError: as :func:`read_source`.
        AllowlistError: an entry does not parse, or there is none.
    """
    return IPAllowlist.parse(
        read_source(path), source=redact(str(path)), lenient=lenient
    )


def _error(
    source: str, line: int, column: int, message: str, code: str
) -> PolicyFileError:
    return PolicyFileError.from_diagnostics(
        [Diagnostic(source, line, column, "", message, code)]
    )
