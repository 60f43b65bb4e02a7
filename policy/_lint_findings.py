"""Where lint findings are collected, and how lint reads its inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Literal

from policy._allowlist import Entry
from policy._endpoints import Endpoint
from policy._errors import Diagnostic, PolicyTypeError, echo, shown

__all__ = ["Findings", "Locator", "check_options", "ordered", "text_items"]

# Maps an item's 0-based index to its 1-based line and column offset.
Locator = Callable[[int], tuple[int, int]]


@dataclasses.dataclass
class Findings:
    """Where the findings of one input go, with the lines to show them."""

    source: str
    line_texts: dict[int, str] = dataclasses.field(default_factory=dict)
    found: list[Diagnostic] = dataclasses.field(default_factory=list)

    def add(
        self,
        line: int,
        column: int,
        text: str,
        code: str,
        message: str,
        level: Literal["error", "warning"] = "warning",
    ) -> None:
        self.found.append(
            Diagnostic(
                source=self.source,
                line=line,
                column=column,
                text=echo(text),
                message=message,
                code=code,
                level=level,
                line_text=self.line_texts.get(line, ""),
                length=max(1, len(text)),
            )
        )

    def at(self, item: Entry | Endpoint, code: str, message: str) -> None:
        """Add a warning about one entry or endpoint, at its place."""
        self.add(item.line, item.column, item.text, code, message)


def text_items(value: str | Iterable[str], what: str) -> list[str]:
    """The lines of a text, or the strings of an iterable, checked."""
    if isinstance(value, str):
        return [line.removesuffix("\r") for line in value.split("\n")]
    if isinstance(value, bytes | bytearray) or not isinstance(value, Iterable):
        raise PolicyTypeError(
            f"{what} must be text or lines of text, got {type(value).__name__}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise PolicyTypeError(
                f"{what} lines must be str, got {type(item).__name__}"
            )
    return [item.removesuffix("\n").removesuffix("\r") for item in items]


def ordered(found: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Findings by line, column and code, each reported once, secrets blanked."""
    unique = {(d.line, d.column, d.code, d.message): d for d in map(_blanked, found)}
    return sorted(unique.values(), key=lambda d: (d.line, d.column, d.code, d.message))


def _blanked(finding: Diagnostic) -> Diagnostic:
    """The finding with secrets blanked in what is shown of it.

    Messages quote entries and endpoints as typed, and lint's output is
    printed and kept by CI; ``line_text`` stays as read, since the caret is
    placed by its columns and :meth:`Diagnostic.format` blanks it as shown.
    """
    return dataclasses.replace(
        finding,
        message=shown(finding.message),
        text=shown(finding.text),
    )


def check_options(my_ip: object, internet: object) -> None:
    """Refuse lint options of the wrong type."""
    if my_ip is not None and not isinstance(my_ip, str):
        raise PolicyTypeError(f"my_ip must be str or None, got {type(my_ip).__name__}")
    if not isinstance(internet, bool):
        raise PolicyTypeError(f"internet must be bool, got {type(internet).__name__}")
