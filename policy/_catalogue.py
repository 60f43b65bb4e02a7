"""The catalogue of known REST endpoints, and how a scope endpoint fits it.

The catalogue shipped in ``policy/data/commvault-endpoints.txt`` holds the
endpoint templates of Commvault's Python SDK (its first line says exactly
where they come from).  A template is a path whose ``%s`` stands for one
parameter, such as ``/Client/%s/Properties``; its query string is dropped,
since scopes never match the query.

A scope endpoint is *known* when it is a prefix, on segment boundaries, of
at least one template: ``/Client`` and ``/Client/7`` are known (the second
through ``/Client/%s``), ``/plan`` is not (the plan APIs live under
``/V2/Plan`` and ``/v4/Plan``).  Comparison folds ASCII case, as Commvault's
routing does.  An endpoint is *broad* when it covers at least
:data:`BROAD_SHARE` of the distinct templates: ``/`` covers all of them and
``/V4`` about a fifth.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Final

__all__ = ["BROAD_SHARE", "Catalogue", "Template"]

# An endpoint covering this share of the distinct templates or more allows
# far more than its name suggests; ``/V4`` covers 16 % and the widest named
# resource, ``/Client``, about 6 %.
BROAD_SHARE: Final = 0.10

_PARAMETER: Final = "%s"
_MAX_SUGGESTIONS: Final = 3


@dataclass(frozen=True, slots=True)
class Template:
    """One catalogue template.

    Attributes:
        text: The template as listed, query string included.
        path: The path part, without the query.
        segments: The path's segments, ASCII case-folded.
    """

    text: str
    path: str
    segments: tuple[str, ...]


def _segment_matches(template: str, endpoint: str) -> bool:
    """True when one folded template segment admits one endpoint segment."""
    if _PARAMETER not in template:
        return template == endpoint
    if template == _PARAMETER:
        return bool(endpoint)
    pattern = ".+".join(re.escape(part) for part in template.split(_PARAMETER))
    return re.fullmatch(pattern, endpoint) is not None


def _split(path: str) -> tuple[str, ...]:
    return tuple(segment for segment in path.split("/") if segment)


class Catalogue:
    """Known endpoint templates, deduplicated by folded path.

    Invariant: ``templates`` holds one template per distinct folded path, in
    source order (the first spelling wins).

    Attributes:
        origin: The source's first-line comment, without the ``#``.
        templates: The distinct templates.
    """

    __slots__ = ("origin", "templates")

    def __init__(self, lines: Iterable[str], *, origin: str = "") -> None:
        """Read templates, one a line; blank and ``#`` lines are skipped."""
        seen: dict[tuple[str, ...], Template] = {}
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            path = text.split("?", 1)[0]
            segments = _split(path.lower())
            seen.setdefault(segments, Template(text, path, segments))
        self.origin = origin
        self.templates: tuple[Template, ...] = tuple(seen.values())

    @classmethod
    @functools.cache
    def commvault(cls) -> Catalogue:
        """The shipped Commvault catalogue, read once."""
        source = resources.files("policy").joinpath("data", "commvault-endpoints.txt")
        lines = source.read_text(encoding="utf-8").splitlines()
        origin = lines[0].lstrip("# ").strip() if lines else ""
        return cls(lines, origin=origin)

    def covered(self, path: str) -> list[Template]:
        """The templates that the endpoint ``path`` is a prefix of."""
        wanted = _split(path.lower())
        return [
            template
            for template in self.templates
            if len(wanted) <= len(template.segments)
            and all(
                _segment_matches(t, e)
                for t, e in zip(template.segments, wanted, strict=False)
            )
        ]

    def is_known(self, path: str) -> bool:
        """True when ``path`` is a prefix of at least one template."""
        return bool(self.covered(path))

    def share(self, path: str) -> float:
        """The share of distinct templates the endpoint ``path`` covers."""
        if not self.templates:
            return 0.0
        return len(self.covered(path)) / len(self.templates)

    def suggest(self, path: str) -> list[str]:
        """Known endpoints close to ``path``, best first (at most three).

        Endpoints that hold the same segments deeper down come first, cut
        after those segments (``/plan`` suggests ``/V2/Plan``), then paths
        that are close as strings.
        """
        wanted = _split(path.lower())
        found: dict[str, str] = {}
        if wanted:
            for template in self.templates:
                cut = _embedded(template, wanted)
                if cut is not None:
                    found.setdefault(cut.lower(), cut)
        ranked = sorted(found.values(), key=lambda text: (len(text), text.lower()))
        if len(ranked) < _MAX_SUGGESTIONS:
            folded = {t.path.lower(): t.path for t in self.templates}
            close = difflib.get_close_matches(
                path.lower(), list(folded), n=_MAX_SUGGESTIONS, cutoff=0.6
            )
            ranked += [folded[c] for c in close if c not in found]
        return ranked[:_MAX_SUGGESTIONS]

    def __len__(self) -> int:
        return len(self.templates)

    def __repr__(self) -> str:
        return f"<Catalogue {len(self.templates)} templates>"


def _embedded(template: Template, wanted: tuple[str, ...]) -> str | None:
    """The template's path cut after ``wanted``, found below its first segment."""
    size = len(wanted)
    segments = template.segments
    original = _split(template.path)
    for start in range(1, len(segments) - size + 1):
        # Literal segments only: a parameter would embed any word anywhere.
        if segments[start : start + size] == wanted:
            return "/" + "/".join(original[: start + size])
    return None
