"""Canonical request paths: one spelling per path, or a refusal.

A scope check is only as good as the agreement between the path the checker
compares and the path the server finally routes.  Every rule below refuses a
shape that real servers have routed differently from the check in front of
them:

* Dot segments.  Envoy before CVE-2019-9901 matched routes on the raw path
  while the backend resolved ``/plan/../ClientGroup`` to ``/ClientGroup``.
  ``.`` and ``..`` segments are refused in every spelling (``%2e%2E``,
  ``.%2e``, after merging slashes), even when resolving them would stay
  inside the allowed endpoint: a request that needs them is not a normal
  API call.
* Encoded separators.  CVE-2021-29492 (Envoy) and CVE-2021-31920 (Istio):
  ``%2F`` hid segments from the matcher, then a backend decoded it into a
  separator.  ``%2F`` and ``%5C`` in any case, and a raw ``\\`` (a separator
  on Windows servers), are refused.
* Control characters.  Spring Security CVE-2022-22978: a regex ``.`` did not
  match an encoded CR or LF, so ``/admin%0Ax`` escaped the rule; Envoy
  CVE-2019-9900 truncated at NUL.  Raw and encoded controls are refused.
* Path parameters.  Tomcat strips ``;name=value`` from each segment before
  routing, so ``/plan/..;/Client`` reaches ``/Client``.  ``;`` is refused raw
  and as ``%3B``.
* A raw ``#``.  A client never sends a fragment: origin-form is an
  absolute path and an optional query (RFC 9112 section 3.2), and a query
  cannot hold ``#`` either (RFC 3986 section 3.4).  Yet nginx forwards a
  raw ``#`` as received, so dropping ``/plan#/../Job`` after the ``#``
  would judge ``/plan`` while a backend that keeps the ``#`` and resolves
  dot segments routes to ``/Job``.  A ``#`` is refused wherever it stands,
  in the query too: servers that parse the target as a URL cut the query
  there, which changes what an application reads from it.  A literal
  ``#`` travels as ``%23``, which is kept.
* Double encoding.  ``%252F`` is ``%2F`` to a server that decodes twice;
  ``%25`` followed by two hex digits is refused.
* Segments that may read as dots.  Windows drops trailing dots and
  spaces from file and directory names, so IIS and other Windows servers
  may read ``...``, ``..%20`` or ``.%20`` as ``.`` or ``..``, or as an
  empty name; NFKC turns a no-break space into a space, and some
  normalisers drop invisible characters (category Cf, such as U+200B,
  U+FEFF and U+00AD, and the other default-ignorable ones).  So each
  segment is decoded, NFKC-normalised and stripped of invisible
  characters, and refused when what is left holds only dots and
  whitespace (``dot-segment``).  A segment starting with ``..`` is refused
  too (``..%3F``, ``..:$DATA``, ``...x``, ``..x``): no API path segment
  does, and the rule leaves nothing for a server to strip its way to
  ``..``.  A dot elsewhere (``/.hidden``, ``/v1.2``, ``/Client.``) is
  kept: it cannot climb, and ``/Client.`` fails closed anyway, because it
  does not equal the endpoint ``/Client`` on a segment boundary.
* NTFS stream names.  ``name::$DATA`` opens the file ``name`` on NTFS, and
  ``dir::$INDEX_ALLOCATION`` the directory ``dir``, so a suffix the
  matcher sees can vanish on the server.  A segment holding ``:$`` (after
  the same decoding) is refused (``ntfs-stream``).
* Characters that turn into separators.  Windows "best fit" mapping, used
  when a wide string is converted to an ANSI code page, and Unicode NFKC
  normalisation turn some non-ASCII characters into ASCII ones: the
  fullwidth solidus U+FF0F becomes ``/``, the fullwidth full stop U+FF0E
  ``.``, the small and fullwidth reverse solidus U+FE68 and U+FF3C ``\\``
  (the "WorstFit" research by Orange Tsai and Splitline, 2024-2025, showed
  such mappings turning into path traversal and argument injection on
  Windows).  A percent-encoded character whose NFKC form or known best-fit
  mapping holds ``/``, ``\\``, ``.``, ``;``, ``%`` or a control character
  is refused (``confusable-character``).  IIS's own ``%u002F`` escapes are
  not escapes in RFC 3986 and are refused as ``bad-escape``.

What is kept is normalised: the query is dropped, escapes of
unreserved characters (RFC 3986 section 2.3) are decoded, other escapes get
upper-case hex (section 2.1), and repeated slashes are merged.  The result
holds only ASCII, so case folding it is plain ASCII folding.

The common path (letters, digits, single slashes, no escapes, no segment
starting with a dot) is accepted by one anchored regular expression without
nested repetition, so the cost is linear and small; everything else takes
one pass over the characters, and only a segment holding '.', '%' or ':' is
decoded again for the dot and stream rules.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import unquote

from policy._errors import MAX_ECHO, Diagnostic, PolicyError, PolicyTypeError, echo

__all__ = ["DEFAULT_MAX_PATH_LENGTH", "PathError", "canonical_path", "is_plain"]

# Longer request targets are refused before any parsing; 8 KiB matches the
# default request-line limit of common servers (Apache, nginx large buffers).
DEFAULT_MAX_PATH_LENGTH: Final = 8192

_SOURCE: Final = "<path>"

# RFC 3986 section 2.3: escapes of these are decoded, everything else kept.
_UNRESERVED: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
# pchar (section 3.3) without ';', which is refused as a path parameter.
_PCHAR: Final = _UNRESERVED | frozenset("!$&'()*+,=:@")
_HEX: Final = frozenset("0123456789abcdefABCDEF")

# ASCII characters that change where a path leads; a non-ASCII character
# that turns into one of them (or into a control) is refused.
_STEERING: Final = frozenset("/\\.;%")
# Windows best-fit mappings to those characters that NFKC does not make:
# division slash, fraction slash, big solidus and reverse solidus operator
# (to '/' or '\'), and the yen and won signs, which the Japanese and
# Korean code pages map to the byte of '\'.
_BEST_FIT: Final = frozenset("\u2215\u2044\u29f8\u29f5\u29f9\u00a5\u20a9")

# The fast path: nothing to decode, merge or refuse.  One character class
# under one star, so matching cannot backtrack.
_PLAIN: Final = re.compile(r"/[A-Za-z0-9._~!$&'()*+,=:@/-]*").fullmatch

# Default-ignorable code points outside category Cf (Unicode
# DerivedCoreProperties): combining grapheme joiner, Hangul fillers,
# Khmer inherent vowels, Mongolian and other variation selectors, and the
# reserved ranges.  Category Cf is tested by itself.
_IGNORABLE_RANGES: Final = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
)

# The refusals of one whole segment: (code, rule).
_ONLY_DOTS: Final = (
    "dot-segment",
    "path must not contain a segment made only of dots ('.', '..', '...') in"
    " any spelling, even with spaces or invisible characters added",
)
_TWO_DOTS: Final = (
    "dot-segment",
    "path must not contain a segment starting with '..' in any spelling (no"
    " API path segment does)",
)
_NTFS_STREAM: Final = (
    "ntfs-stream",
    "path must not name an NTFS data stream (':$', as in '::$DATA') in any spelling",
)


class PathError(PolicyError):
    """A request path was refused; it carries one diagnostic with the code.

    Attributes:
        code: The diagnostic's code, such as ``dot-segment``.
    """

    @property
    def code(self) -> str:
        """The stable code of the refusal."""
        return self.diagnostics[0].code


def canonical_path(raw: str, *, max_length: int = DEFAULT_MAX_PATH_LENGTH) -> str:
    """Return the canonical form of a request target's path.

    Accepted forms, each with its canonical result::

        /plan/7/schedule      ->  /plan/7/schedule
        /plan?id=7            ->  /plan
        //plan///x/           ->  /plan/x/
        /%41pi/%c3%a9         ->  /Api/%C3%A9

    A refusal reads, for ``/plan/%2e%2E/Client``::

        <path>:1:7: error dot-segment path must not contain a segment made
        only of dots ('.', '..', '...') in any spelling, even with spaces or
        invisible characters added, got '/plan/%2e%2E/Client'

    Args:
        raw: The request target as received, still percent-encoded.
        max_length: Longer targets are refused before parsing.

    Returns:
        The canonical path: starts with ``/``, ASCII only, no empty
        segment, none made only of dots or starting with ``..``, no ``:$``,
        escapes only where needed, in upper-case hex; a single trailing
        slash is kept.

    Raises:
        PathError: The target is refused; ``code`` says why.
        PolicyTypeError: ``raw`` is not a ``str``.
    """
    if not issubclass(type(raw), str):
        # The type, not isinstance(): an object may claim str through its
        # __class__ and hold no string at all.
        raise PolicyTypeError(f"path must be a str, got {type(raw).__name__}")
    if type(raw) is not str:
        # A str subclass is read as the plain string it holds, never
        # through its own methods, which could say anything.
        raw = str.__str__(raw)
    # The common case, already canonical: is_plain(), inlined.
    if (
        len(raw) <= max_length
        and _PLAIN(raw) is not None
        and "//" not in raw
        and "/." not in raw
        and ":$" not in raw
    ):
        return raw
    return _Canonicaliser(raw, max_length).run()


def is_plain(path: str) -> bool:
    """True when ``path`` is already canonical, with nothing to cut or check.

    Then ``canonical_path(path)`` is ``path`` itself (when no longer than
    its limit); a False answer says nothing either way.
    """
    return (
        _PLAIN(path) is not None
        and "//" not in path
        and "/." not in path
        and ":$" not in path
    )


class _Canonicaliser:
    """One pass over one target; raises at the first refused character."""

    __slots__ = ("escape_columns", "max_length", "raw", "segment", "segments")

    def __init__(self, raw: str, max_length: int) -> None:
        self.raw = raw
        self.max_length = max_length
        self.segments: list[str] = []
        self.segment: list[str] = []
        # 1-based columns of the '%25' escapes in the current segment.
        self.escape_columns: list[int] = []

    def run(self) -> str:
        raw = self.raw
        # Step 1: shape of the whole target, before looking inside it.
        if len(raw) > self.max_length:
            self.fail(
                self.max_length + 1,
                "path-too-long",
                f"path must be at most {self.max_length} characters",
                raw[self.max_length :],
                got=f"{len(raw)} characters",
            )
        if not raw:
            self.fail(1, "empty-path", "path must not be empty", "")
        self.check_characters()
        self.check_fragment()
        path = raw.partition("?")[0]
        if is_plain(path):
            # Only a query to drop, already checked above.
            return path
        self.check_origin_form(path)

        # Step 2: walk the path, building decoded segments.
        index = 1
        while index < len(path):
            char = path[index]
            if char == "/":
                self.end_segment(index)
                index += 1
            elif char == "%":
                index = self.escape(path, index)
            else:
                self.plain(char, index)
                index += 1
        self.end_segment(len(path))

        # Step 3: join; keep one trailing slash, which some routers honour.
        joined = "/" + "/".join(self.segments)
        if self.segments and path.endswith("/"):
            return joined + "/"
        return joined

    def check_characters(self) -> None:
        """Refuse raw controls, whitespace and non-ASCII anywhere."""
        raw = self.raw
        if raw.isascii() and raw.isprintable() and " " not in raw:
            return
        for index, char in enumerate(raw):
            if ord(char) < 0x20 or ord(char) == 0x7F:
                self.fail_control(index, char)
            if char.isspace():
                self.fail(
                    index + 1,
                    "whitespace",
                    "path must not contain raw whitespace (encode a space as %20)",
                    char,
                )
            if not char.isascii():
                self.fail(
                    index + 1,
                    "non-ascii",
                    f"path must be ASCII (percent-encode U+{ord(char):04X} as "
                    "UTF-8 bytes)",
                    char,
                )

    def check_fragment(self) -> None:
        """Refuse a raw '#', in the path or the query (see the module)."""
        found = self.raw.find("#")
        if found >= 0:
            self.fail(
                found + 1,
                "fragment",
                "path must not contain a raw '#': a request target has no"
                " fragment (RFC 9112 section 3.2); encode a literal '#' as %23",
                "#",
            )

    def check_origin_form(self, path: str) -> None:
        """Refuse targets that are not an absolute path (origin-form)."""
        if path.startswith("/"):
            return
        if "://" in path:
            self.fail(
                1,
                "absolute-form",
                "path must be origin-form, starting with '/'",
                path,
                got=f"a full URL {echo(path)!r}",
            )
        self.fail(1, "no-leading-slash", "path must start with '/'", path)

    def plain(self, char: str, index: int) -> None:
        if char in _PCHAR:
            self.segment.append(char)
        elif char == "\\":
            self.fail(
                index + 1,
                "backslash",
                "path must not contain '\\', which some servers treat as '/'",
                char,
            )
        elif char == ";":
            self.fail_parameter(index, char)
        else:
            self.fail(
                index + 1,
                "invalid-character",
                "path must hold only RFC 3986 path characters"
                f" (encode {char!r} as %{ord(char):02X})",
                char,
            )

    def escape(self, path: str, index: int) -> int:
        """Decode or keep one ``%XX`` escape; return the next index."""
        digits = path[index + 1 : index + 3]
        if len(digits) < 2 or not (digits[0] in _HEX and digits[1] in _HEX):
            self.fail(
                index + 1,
                "bad-escape",
                "a '%' in a path must be followed by two hex digits",
                path[index : index + 3],
            )
        value = int(digits, 16)
        char = chr(value)
        if char in _UNRESERVED:
            self.segment.append(char)
        elif value in (0x2F, 0x5C):
            self.fail(
                index + 1,
                "encoded-slash",
                "path must not contain an encoded '/' or '\\' (%2F, %5C: servers "
                "disagree on whether it separates segments)",
                path[index : index + 3],
            )
        elif value == 0x3B:
            self.fail_parameter(index, path[index : index + 3])
        elif value < 0x20 or value == 0x7F:
            self.fail_control(index, path[index : index + 3])
        elif value >= 0x80:
            return self.utf8_run(path, index)
        else:
            if value == 0x25:
                self.escape_columns.append(index + 1)
            self.segment.append("%" + digits.upper())
        return index + 3

    def utf8_run(self, path: str, index: int) -> int:
        """Keep a run of escaped non-ASCII bytes if they are valid UTF-8.

        Overlong forms such as ``%C0%AE`` (a '.' to lenient decoders) are
        not valid UTF-8 and so are refused with the run.
        """
        start = index
        data = bytearray()
        while path.startswith("%", index) and len(path) >= index + 3:
            digits = path[index + 1 : index + 3]
            if not (digits[0] in _HEX and digits[1] in _HEX):
                break
            if int(digits, 16) < 0x80:
                break
            data.append(int(digits, 16))
            index += 3
        try:
            decoded = data.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            self.fail(
                start + 1,
                "bad-utf8",
                "percent-encoded bytes must be valid UTF-8",
                path[start:index],
            )
        self.check_confusables(path, start, decoded)
        self.segment.append(path[start:index].upper())
        return index

    def check_confusables(self, path: str, start: int, decoded: str) -> None:
        """Refuse a decoded character that normalises into a steering one.

        ``start`` is the index of the run's first '%'; each byte of the run
        is three characters of ``path``.
        """
        offset = start
        for char in decoded:
            width = 3 * len(char.encode("utf-8"))
            if "\x80" <= char <= "\x9f":
                # C1 controls (NEL, U+0085, ends a line on some systems).
                self.fail_control(offset, path[offset : offset + width])
            if _is_confusable(char):
                self.fail(
                    offset + 1,
                    "confusable-character",
                    f"path must not contain U+{ord(char):04X}, which Windows "
                    "best-fit mapping or Unicode normalisation turns into "
                    "'/', '\\', '.', ';', '%' or a control character",
                    path[offset : offset + width],
                )
            offset += width

    def end_segment(self, index: int) -> None:
        """Close the segment ending before ``index``: merge empties, refuse dots."""
        text = "".join(self.segment)
        begin = self.raw.rfind("/", 0, index) + 1
        fault = _segment_fault(text)
        if fault is not None:
            self.fail(begin + 1, fault[0], fault[1], self.raw[begin:index])
        if self.escape_columns:
            self.check_double_encoding(text)
        if text:
            self.segments.append(text)
        self.segment = []
        self.escape_columns = []

    def check_double_encoding(self, text: str) -> None:
        """Refuse '%25' followed by two hex digits, after decoding.

        Checking the decoded segment, not the raw one, also catches
        ``%25%32%46``, which decodes to ``%252F``.  Each '%25' in ``text``
        came from one '%25' escape, in order, so its column is known.
        """
        found = -1
        for column in self.escape_columns:
            found = text.find("%25", found + 1)
            follower = text[found + 3 : found + 5]
            if len(follower) == 2 and all(char in _HEX for char in follower):
                self.fail(
                    column,
                    "double-encoding",
                    "path must not be percent-encoded twice ('%25' followed by "
                    "two hex digits)",
                    "%25" + follower,
                )

    def fail_control(self, index: int, text: str) -> None:
        self.fail(
            index + 1,
            "control-character",
            "path must not contain a control character, raw or encoded",
            text,
        )

    def fail_parameter(self, index: int, text: str) -> None:
        self.fail(
            index + 1,
            "path-parameter",
            "path must not contain ';' path parameters, raw or %3B (servers "
            "such as Tomcat strip them before routing)",
            text,
        )

    def fail(
        self, column: int, code: str, rule: str, text: str, *, got: str | None = None
    ) -> None:
        raise _error(self.raw, column, code, rule, text, got=got)


def _segment_fault(text: str) -> tuple[str, str] | None:
    """The code and rule refusing one segment, or None to keep it.

    ``text`` is the segment as built: unreserved escapes decoded, others
    kept.  Without a '.', '%' or ':' no rule below can apply, so ordinary
    segments cost one scan.  An empty ``text`` (merged slashes) is kept.
    """
    if "." not in text and "%" not in text and ":" not in text:
        return None
    seen = _as_seen(text)
    if not seen.replace(".", "").strip():
        return _ONLY_DOTS
    if seen.lstrip().startswith(".."):
        return _TWO_DOTS
    if ":$" in seen:
        return _NTFS_STREAM
    return None


def _as_seen(text: str) -> str:
    """Decode ``text``, normalise it with NFKC and drop invisible characters.

    That is the most a server, a file system or a normaliser in between is
    known to fold a name to.  The escapes in ``text`` were checked to be
    valid UTF-8, so decoding cannot fail.
    """
    decoded = unquote(text, errors="strict") if "%" in text else text
    if decoded.isascii():
        return decoded
    normal = unicodedata.normalize("NFKC", decoded)
    return "".join(char for char in normal if not _is_ignorable(char))


def _is_ignorable(char: str) -> bool:
    """True for a format or other default-ignorable (invisible) character."""
    if unicodedata.category(char) == "Cf":
        return True
    point = ord(char)
    return any(low <= point <= high for low, high in _IGNORABLE_RANGES)


def _is_confusable(char: str) -> bool:
    """True when ``char`` may become a steering character or a control."""
    if char in _BEST_FIT:
        return True
    return any(
        found in _STEERING or found < " " or "\x7f" <= found <= "\x9f"
        for found in unicodedata.normalize("NFKC", char)
    )


def _error(
    raw: str, column: int, code: str, rule: str, text: str, *, got: str | None
) -> PathError:
    """Build the error for one refusal at a 1-based column of ``raw``.

    The message is ``rule`` then what was got: ``got`` when given, else the
    start of the whole target.
    """
    shown = repr(echo(raw)) if got is None else got
    message = f"{rule}, got {shown}"
    diagnostic = Diagnostic(
        source=_SOURCE,
        line=1,
        column=column,
        text=echo(text),
        message=message,
        code=code,
        # Only the start of a long line can be shown; do not keep the rest.
        line_text=raw[: 4 * MAX_ECHO],
        length=max(1, len(text)),
    )
    return PathError(diagnostic.format(caret=False), [diagnostic])
