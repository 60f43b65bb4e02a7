"""Policy files: TOML in, :class:`AccessPolicy` out, every error located.

A policy file holds exactly these keys::

    scope = "custom"            # all | custom | 1-touch-recovery
                                # | hyperscale | microsoft-scim
    endpoints = '''
    /plan
    /Client
    '''                         # or a list; only with scope = "custom"
    ip_allowlist = '''
    10.0.0.0/24
    192.0.2.1 – 192.0.2.25
    '''                         # or a list; leave out for no IP restriction
    api_base = ["/commandcenter/api", "/webconsole/api"]
    case_sensitive = false

Unknown keys are errors, so a typo (``ip_allowlst``) cannot silently drop a
restriction.  Diagnostics name the file and the line of the key, or of the
entry inside a multi-line value.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from policy._allowlist import IPAllowlist
from policy._errors import (
    Diagnostic,
    PolicyError,
    PolicyFileError,
    PolicyTypeError,
    echo,
)
from policy._files import decode_source, read_source
from policy._policy import AccessPolicy
from policy._redact import redact
from policy._scope import Scope

__all__ = [
    "MAX_POLICY_BYTES",
    "load_policy",
    "loads_policy",
    "locate_items",
    "read_document",
]

_T = TypeVar("_T")

# A policy holds at most a large provider list (Azure's is about 4 MB as JSON
# and far less as one prefix a line); anything beyond this is refused before
# it is parsed.
MAX_POLICY_BYTES: Final = 16 * 1024 * 1024

_KEYS: Final = ("scope", "endpoints", "ip_allowlist", "api_base", "case_sensitive")
_TOML_POSITION: Final = re.compile(
    r"\(at (?:line (\d+), column (\d+)|end of document)\)"
)

# Maps an item index (0-based line of a multi-line string, or list position)
# to its (line, column offset) in the file.
_Locator = Callable[[int], tuple[int, int]]


def load_policy(path: str | Path, *, cache_size: int = 0) -> AccessPolicy:
    """Read and validate a policy file.

    Args:
        path: The TOML file.
        cache_size: The policy's tables of recent verdicts (see
            :class:`AccessPolicy`); 0, the default, keeps none.

    Returns:
        The policy, ready to :meth:`~AccessPolicy.check` requests.

    Raises:
        PolicyFileError: the file cannot be read, is not TOML, holds an
            unknown key or a value of the wrong type, or its allowlist,
            endpoints or API bases do not parse.  ``diagnostics`` lists every
            problem found, each with file, line and column.
        PolicyTypeError: ``cache_size`` is not an int of at least 0.
    """
    if (
        isinstance(cache_size, bool)
        or not isinstance(cache_size, int)
        or cache_size < 0
    ):
        raise PolicyTypeError(
            f"cache_size must be an int of at least 0, got {cache_size!r}"
        )
    data = read_source(path, max_bytes=MAX_POLICY_BYTES)
    policy = loads_policy(data, source=redact(str(path)))
    return policy.with_cache(cache_size) if cache_size else policy


def loads_policy(data: str | bytes, *, source: str = "<policy>") -> AccessPolicy:
    """Validate a policy given as TOML text; see :func:`load_policy`.

    Raises:
        PolicyFileError: as :func:`load_policy`.
    """
    document, lines = read_document(data, source=source)
    return _build(document, lines, source)


def read_document(
    data: str | bytes, *, source: str = "<policy>"
) -> tuple[dict[str, Any], list[str]]:
    """Decode and parse a policy file's TOML, without validating its keys.

    Returns:
        The TOML document and the text's lines, for locating keys.

    Raises:
        PolicyFileError: the text is too large, not UTF-8 or not TOML.
    """
    if len(data) > MAX_POLICY_BYTES:
        raise _file_error(
            source,
            1,
            1,
            "",
            f"policy file must be at most {MAX_POLICY_BYTES} bytes, got {len(data)}",
            "too-large",
        )
    text = _decode(data, source)
    lines = text.splitlines()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, column = _toml_position(str(error), lines)
        message = _TOML_POSITION.sub("", str(error)).strip()
        raise _file_error(
            source, line, column, "", f"not valid TOML: {message}", "toml-syntax"
        ) from None
    except RecursionError:
        # tomllib parses nested arrays and tables recursively; a file nested
        # thousands deep is no policy, and must not escape as a crash.
        raise _file_error(
            source, 1, 1, "", "not valid TOML: nested too deeply", "toml-syntax"
        ) from None
    return document, lines


def _decode(data: str | bytes, source: str) -> str:
    """Return the text of ``data``, refusing what is not UTF-8."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    return decode_source(data, source=source)


def _build(document: dict[str, Any], lines: Sequence[str], source: str) -> AccessPolicy:
    """Check keys and types, then build each part, collecting every error."""
    found: list[Diagnostic] = []

    def fail(key: str, message: str, code: str) -> None:
        line, column = _key_position(lines, key)
        found.append(_diagnostic(source, line, column, key, message, code, lines))

    # Keys and types first: a wrong type makes the later steps meaningless.
    for key in document:
        if key not in _KEYS:
            fail(
                key,
                f"unknown key {echo(key)!r}; the keys are {', '.join(_KEYS)}",
                "unknown-key",
            )
    scope_id = document.get("scope")
    if scope_id is None:
        found.append(
            _diagnostic(
                source,
                1,
                1,
                "",
                "the key 'scope' is required "
                "(one of all, custom, 1-touch-recovery, hyperscale, "
                "microsoft-scim)",
                "missing-scope",
                lines,
            )
        )
    elif not isinstance(scope_id, str):
        fail("scope", "scope must be a string", "bad-type")
    for key in ("endpoints", "ip_allowlist"):
        if not _is_text_or_strings(document.get(key, "")):
            fail(key, f"{key} must be a string or a list of strings", "bad-type")
    if not _is_strings(document.get("api_base", [])):
        fail("api_base", "api_base must be a list of strings", "bad-type")
    if not isinstance(document.get("case_sensitive", False), bool):
        fail("case_sensitive", "case_sensitive must be true or false", "bad-type")
    if found:
        raise PolicyFileError.from_diagnostics(found)

    # Then each part, keeping the errors of all of them.
    scope = _part(
        found, lines, source, "scope", lambda: _scope(document, lines, source)
    )
    allowlist = _part(
        found,
        lines,
        source,
        "ip_allowlist",
        lambda: _allowlist(document, lines, source),
    )
    policy = None
    if scope is not None:
        bases, locate_bases = _items(document.get("api_base", []), lines, "api_base")
        policy = _part(
            found,
            lines,
            source,
            "api_base",
            lambda: _located(
                lambda: AccessPolicy(
                    scope=scope,
                    allowlist=allowlist,
                    api_base=bases,
                    case_sensitive=document.get("case_sensitive", False),
                ),
                locate_bases,
                source,
                lines,
            ),
        )
    if any(d.level == "error" for d in found) or policy is None:
        raise PolicyFileError.from_diagnostics(found)
    return policy


def _part(
    found: list[Diagnostic],
    lines: Sequence[str],
    source: str,
    key: str,
    build: Callable[[], _T],
) -> _T | None:
    """Run ``build``; on a PolicyError, keep its diagnostics, located."""
    try:
        return build()
    except PolicyError as error:
        for diagnostic in error.diagnostics:
            # One not yet placed in the file (it names the part, such as
            # "<endpoints>") is placed at the part's key.
            if diagnostic.source != source:
                line, column = _key_position(lines, key)
                diagnostic = dataclasses.replace(
                    diagnostic,
                    source=source,
                    line=line,
                    column=column,
                    line_text=lines[line - 1] if line <= len(lines) else "",
                )
            found.append(diagnostic)
        return None


def _scope(document: dict[str, Any], lines: Sequence[str], source: str) -> Scope:
    """Build the scope; endpoints are only meaningful for ``custom``."""
    scope_id = document["scope"]
    endpoints = document.get("endpoints")
    if scope_id != "custom":
        if endpoints is not None:
            line, column = _key_position(lines, "endpoints")
            raise PolicyFileError.from_diagnostics(
                [
                    _diagnostic(
                        source,
                        line,
                        column,
                        "endpoints",
                        "endpoints are only for "
                        f'scope = "custom", got scope = {echo(scope_id)!r}',
                        "endpoints-without-custom",
                        lines,
                    )
                ]
            )
        return Scope.from_id(scope_id)
    if endpoints is None:
        line, column = _key_position(lines, "scope")
        raise PolicyFileError.from_diagnostics(
            [
                _diagnostic(
                    source,
                    line,
                    column,
                    "scope",
                    "scope = \"custom\" needs the key 'endpoints'",
                    "custom-without-endpoints",
                    lines,
                )
            ]
        )
    items, locate = _items(endpoints, lines, "endpoints")
    return _located(lambda: Scope.custom(items), locate, source, lines)


def _allowlist(
    document: dict[str, Any], lines: Sequence[str], source: str
) -> IPAllowlist | None:
    """Build the allowlist; a missing key means no IP restriction."""
    value = document.get("ip_allowlist")
    if value is None:
        return None
    items, locate = _items(value, lines, "ip_allowlist")
    return _located(lambda: IPAllowlist.parse(items), locate, source, lines)


def _located(
    build: Callable[[], _T], locate: _Locator, source: str, lines: Sequence[str]
) -> _T:
    """Run ``build`` and move its diagnostics to their place in the file."""
    try:
        return build()
    except PolicyError as error:
        moved = [_move(d, locate, source, lines) for d in error.diagnostics]
        raise type(error).from_diagnostics(moved) from None


def _move(
    diagnostic: Diagnostic, locate: _Locator, source: str, lines: Sequence[str]
) -> Diagnostic:
    """Rebase a diagnostic from item ``line`` to file line and column."""
    line, offset = locate(diagnostic.line - 1)
    return dataclasses.replace(
        diagnostic,
        source=source,
        line=line,
        column=diagnostic.column + offset,
        line_text=lines[line - 1] if 0 < line <= len(lines) else "",
    )


def locate_items(
    value: str | list[str], lines: Sequence[str], key: str
) -> tuple[list[str], Callable[[int], tuple[int, int]]]:
    """Split the value of ``key`` into items, and say where each one is.

    For tools that report on single entries of a policy file (lint,
    explain): the items are the lines of a multi-line string, or the
    strings of a list, as the loader reads them.

    Args:
        value: The key's value as TOML decoded it.
        lines: The file's lines.
        key: ``ip_allowlist`` or ``endpoints``.

    Returns:
        The items, and a function from an item's 0-based index to its
        1-based file line and the column offset of the item in that line.
    """
    return _items(value, lines, key)


def _items(
    value: str | list[str], lines: Sequence[str], key: str
) -> tuple[list[str], _Locator]:
    """Split a value into items and say where each item is in the file."""
    key_line, _ = _key_position(lines, key)
    if isinstance(value, list):
        places = _list_places(value, lines, key_line)
        return (
            value,
            lambda index: places[index] if index < len(places) else (key_line, 0),
        )

    # A multi-line string: TOML drops a newline right after the opening
    # quotes, so the first item is on the next line in that case.
    items = value.splitlines() or [""]
    opening = lines[key_line - 1] if key_line <= len(lines) else ""
    after_equals = opening.split("=", 1)[-1].strip()
    starts_next = after_equals in ('"""', "'''")
    first = key_line + 1 if starts_next else key_line
    first_offset = 0
    if not starts_next:
        first_offset = max(0, _find_item(opening, items[0], opening.find("=") + 1))
    return items, lambda index: (first + index, first_offset if index == 0 else 0)


def _list_places(
    value: list[str], lines: Sequence[str], key_line: int
) -> list[tuple[int, int]]:
    """Find the line and column offset of each list item, in order."""
    places: list[tuple[int, int]] = []
    line = key_line
    for item in value:
        for candidate in range(line, len(lines) + 1):
            start = lines[candidate - 1].find("=") + 1 if candidate == key_line else 0
            column = _find_item(lines[candidate - 1], item, start) if item else -1
            if column >= 0:
                line = candidate
                places.append((candidate, column))
                break
        else:
            places.append((line, 0))
    return places


def _find_item(line: str, item: str, start: int) -> int:
    """The 0-based column where ``item`` starts in ``line``, or -1.

    The item is as TOML decoded it, so a string that spells a character
    with an escape (``"\u00e9"``, ``"\t"``) does not hold it as typed: the
    line is then read with its escapes decoded, each decoded character
    remembering the column it came from.  Columns inside the item after an
    escape stay approximate; its start, and a fault at its first escape,
    are exact.
    """
    found = line.find(item, start)
    if found >= 0 or "\\" not in line:
        return found
    decoded, columns = _decode_escapes(line, start)
    found = decoded.find(item)
    return columns[found] if found >= 0 else -1


# TOML basic-string escapes: a character, or a code point in 4 or 8 digits.
_ESCAPE: Final = re.compile(r'\\(?:([btnfr"\\])|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))')
_SHORT_ESCAPES: Final = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


def _decode_escapes(line: str, start: int) -> tuple[str, list[int]]:
    """Decode TOML escapes in ``line`` from ``start``; say where each came from."""
    decoded: list[str] = []
    columns: list[int] = []
    at = start
    for match in _ESCAPE.finditer(line, start):
        decoded.extend(line[at : match.start()])
        columns.extend(range(at, match.start()))
        short, four, eight = match.groups()
        if short:
            char = _SHORT_ESCAPES.get(short, short)
        else:
            point = int(four or eight, 16)
            # tomllib refused an out-of-range escape in a value; one left
            # elsewhere on the line (a comment) stands as a placeholder.
            char = chr(point) if point <= 0x10FFFF else "\ufffd"
        decoded.append(char)
        columns.append(match.start())
        at = match.end()
    decoded.extend(line[at:])
    columns.extend(range(at, len(line)))
    return "".join(decoded), columns


def _key_position(lines: Sequence[str], key: str) -> tuple[int, int]:
    """The 1-based line and column where ``key`` is assigned, or (1, 1)."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number, line.find(key) + 1
    return 1, 1


def _toml_position(message: str, lines: Sequence[str]) -> tuple[int, int]:
    """Where tomllib says the syntax error is; its message is all it gives."""
    found = _TOML_POSITION.search(message)
    if found is not None and found.group(1) is not None:
        return int(found.group(1)), int(found.group(2))
    if found is not None and lines:
        return len(lines), len(lines[-1]) + 1
    return 1, 1


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_text_or_strings(value: object) -> bool:
    return isinstance(value, str) or _is_strings(value)


def _diagnostic(
    source: str,
    line: int,
    column: int,
    text: str,
    message: str,
    code: str,
    lines: Sequence[str],
) -> Diagnostic:
    return Diagnostic(
        source=source,
        line=line,
        column=column,
        text=text,
        message=message,
        code=code,
        line_text=lines[line - 1] if 0 < line <= len(lines) else "",
        length=max(1, len(text)),
    )


def _file_error(
    source: str, line: int, column: int, text: str, message: str, code: str
) -> PolicyFileError:
    return PolicyFileError.from_diagnostics(
        [Diagnostic(source, line, column, text, message, code)]
    )
