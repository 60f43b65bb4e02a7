"""The one family of errors the library raises, and the diagnostics they carry.

Every problem found in a user's input is a :class:`Diagnostic`: where it is
(source, 1-based line and column, span), what text is at fault, a stable code
and one sentence of explanation.  Errors collect all diagnostics of an input
at once, so a user fixes a whole list in one pass instead of one line per
run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, Self

from policy._redact import redact

__all__ = [
    "MAX_ECHO",
    "AllowlistError",
    "Diagnostic",
    "Level",
    "PolicyError",
    "PolicyFileError",
    "PolicyTypeError",
    "ScopeError",
    "echo",
    "printable",
    "shown",
]

Level = Literal["error", "warning"]

# Untrusted input is echoed back at most this far, so a hostile or
# accidental megabyte line cannot flood a log or a terminal.
MAX_ECHO = 60


# Characters a terminal acts on or that reorder what a reader sees: C0 and
# C1 controls with DEL (an ESC starts a terminal command), and the Unicode
# bidirectional formatting characters (they can make text read backwards).
_UNPRINTABLE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def printable(text: str) -> str:
    """Return ``text`` with controls and bidi formatting written as escapes.

    ``"a\x1b[31m"`` becomes ``"a\\x1b[31m"``, as repr() would write it.
    """
    if text.isprintable():
        return text
    return _UNPRINTABLE.sub(_escape, text)


def shown(text: str) -> str:
    """Return untrusted text as it may be printed or logged, whole.

    A token secret in it is blanked and controls are written as escapes
    (:func:`printable`); :func:`echo` also cuts it short.
    """
    return printable(redact(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _blanked(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


def echo(text: str, limit: int = MAX_ECHO) -> str:
    """Return ``text`` cut to ``limit`` characters, saying what was elided.

    A token secret in it is blanked first: users paste secrets into the
    wrong argument, and the message must not carry them on.  Controls are
    written as escapes, so echoed input cannot drive a terminal.
    """
    text = shown(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about one place in an input.

    Attributes:
        source: The file name, or a ``<...>`` label for text given in memory.
        line: 1-based line number.
        column: 1-based column of the first offending character.
        text: The offending text, as typed (cut by :func:`echo` when shown).
        message: One sentence: what is wrong, the rule, and what was got.
        code: A stable machine-readable code, such as ``host-bits-set``.
        level: ``"error"`` or ``"warning"``.
        line_text: The whole source line, for the caret display.
        length: How many characters the offending span covers (at least 1).
    """

    source: str
    line: int
    column: int
    text: str
    message: str
    code: str
    level: Level = "error"
    line_text: str = ""
    length: int = 1

    def __repr__(self) -> str:
        # The fields hold the input as typed, so a pasted secret too: the
        # repr, which tracebacks and logs show, blanks it.
        shown = ", ".join(
            f"{field.name}={_blanked(getattr(self, field.name))!r}"
            for field in dataclasses.fields(self)
        )
        return f"Diagnostic({shown})"

    @property
    def location(self) -> str:
        """``source:line:column``, the prefix editors and CI annotators read."""
        return f"{self.source}:{self.line}:{self.column}"

    def format(self, *, caret: bool = True) -> str:
        """Render as ``file:line:col: level code message`` with a caret line.

        Everything shown is redacted and has its controls escaped, the file
        name included: it was typed too.
        """
        head = shown(f"{self.location}: {self.level} {self.code} {self.message}")
        if not caret or not self.line_text:
            return head
        line, limit = self.line_text, 2 * MAX_ECHO
        echoed = echo(line, limit)
        # The caret goes under the span as shown, where escapes and blanked
        # secrets have changed the width; a span past the cut gets none.
        start, end = self.column - 1, self.column - 1 + self.length
        before = len(shown(line[:start]))
        span = len(shown(line[start:end]))
        visible = min(len(shown(line)), limit)
        if before >= visible:
            return f"{head}\n    {echoed}"
        width = max(1, min(span, visible - before))
        marker = " " * before + "^" * width
        return f"{head}\n    {echoed}\n    {marker}"

    def __str__(self) -> str:
        return self.format()


class PolicyError(ValueError):
    """Base of every error the library raises about its input.

    Attributes:
        diagnostics: Every finding, errors first in input order; warnings
            found alongside are kept so a caller can show them too.
    """

    def __init__(self, message: str, diagnostics: Iterable[Diagnostic] = ()) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__(message)

    @classmethod
    def from_diagnostics(cls, diagnostics: Iterable[Diagnostic]) -> Self:
        """Build the error whose message lists every error diagnostic."""
        found = tuple(diagnostics)
        errors = [d for d in found if d.level == "error"]
        if not errors:
            raise ValueError("an error needs at least one error diagnostic")
        if len(errors) == 1:
            message = errors[0].format()
        else:
            lines = "\n".join(d.format() for d in errors)
            message = f"{len(errors)} errors:\n{lines}"
        return cls(message, found)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """The diagnostics at level ``error``."""
        return tuple(d for d in self.diagnostics if d.level == "error")


class AllowlistError(PolicyError):
    """An IP allowlist, or one of its entries, cannot be used."""


class ScopeError(PolicyError):
    """A scope or one of its endpoints cannot be used."""


class PolicyFileError(PolicyError):
    """A policy file cannot be read, parsed or validated."""


class PolicyTypeError(PolicyError, TypeError):
    """An API was called with an argument of the wrong type or shape."""
