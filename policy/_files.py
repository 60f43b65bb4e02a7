"""Reading the files users hand the command line: size, encoding, errors.

Every failure is a :class:`PolicyFileError` naming the file and, for a byte
that is not UTF-8, its line and column, so the CLI reports a file it cannot
use the same way whatever the subcommand.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Final

from policy._allowlist import IPAllowlist
from policy._errors import Diagnostic, PolicyFileError
from policy._redact import redact

__all__ = [
    "MAX_FILE_BYTES",
    "decode_source",
    "is_policy_path",
    "read_allowlist_file",
    "read_source",
]

# A policy or allowlist holds at most a large provider list (Azure's is
# about 4 MB as JSON and far less as one prefix a line); anything beyond
# this is refused before it is decoded.
MAX_FILE_BYTES: Final = 16 * 1024 * 1024

# Opening a FIFO for reading waits for a writer; without blocking it returns
# at once, so a path swapped for one after the check cannot hang the read.
_NO_WAIT: Final = getattr(os, "O_NONBLOCK", 0)

_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def is_policy_path(path: str | Path) -> bool:
    """True when ``path`` names a policy file: a ``.toml`` suffix, any case.

    Every subcommand decides policy file or bare allowlist with this, so
    ``PLAN.TOML`` is a policy to all of them.
    """
    return Path(path).suffix.lower() == ".toml"


def read_source(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Return a file's text: UTF-8, an optional BOM dropped.

    Raises:
        PolicyFileError: the file cannot be read (code ``unreadable``), is
            larger than ``max_bytes`` (``too-large``) or is not UTF-8
            (``encoding``, at the line and column of the first bad byte), or
            is no regular file (``not-a-file``: a FIFO, device, socket or
            directory, which could block or never end).
    """
    source = redact(str(path))
    try:
        with _open_regular(path, source) as stream:
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


def _open_regular(path: str | Path, source: str) -> BinaryIO:
    """Open a regular file for reading; refuse anything else unopened.

    Raises:
        PolicyFileError: ``path`` is no regular file (``not-a-file``).
        OSError: it cannot be opened.
    """
    # A FIFO or a device blocks in open() or read(), or never ends: refuse
    # it before opening, then again on what was opened, in case the path was
    # swapped in between.
    _require_regular(os.stat(path).st_mode, source)
    descriptor = os.open(path, os.O_RDONLY | _NO_WAIT)
    try:
        _require_regular(os.fstat(descriptor).st_mode, source)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _require_regular(mode: int, source: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "no regular file")
    message = f"cannot read {source}: the path must name a regular file, got {kind}"
    raise _error(source, 1, 1, message, "not-a-file")


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
