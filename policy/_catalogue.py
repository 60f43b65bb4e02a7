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

Suggestions are endpoints a scope can hold: a template is offered cut
before its first parameter segment (``/Client/%s/Properties`` as
``/Client``), since the endpoint grammar refuses ``%s``, and an endpoint
is a literal prefix anyway.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Final

from policy._endpoints import parse_prefixes
from policy._errors import PolicyError

__all__ = ["BROAD_SHARE", "Catalogue", "Template"]

# An endpoint covering this share of the distinct templates or more allows
# far more than its name suggests; ``/V4`` covers 16 % and the widest named
# resource, ``/Client``, about 6 %.
BROAD_SHARE: Final = 0.10

_PARAMETER: Final = "%s"
_MAX_SUGGESTIONS: Final = 3
# Parameters as the catalogue writes them ('%s') and as API docs and web
# frameworks do ('{id}', '<id>', ':id'); a suggestion stops before one.
_PLACEHOLDER: Final = re.compile(r"%s|\{[^/]*\}|<[^/]*>|^:")


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

    __slots__ = ("_prefixes", "origin", "templates")

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
        # Folded to shown: each template's literal prefix, what difflib
        # compares a path with, so every close match is an endpoint.
        self._prefixes: dict[str, str] = {}
        for template in self.templates:
            prefix = _literal_prefix(template.path)
            if prefix is not None:
                self._prefixes.setdefault(prefix.lower(), prefix)

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
        that are close as strings.  Each is cut before its first parameter
        segment, and is offered only if the endpoint grammar accepts it.
        """
        wanted = _split(path.lower())
        ranked = self._deeper(wanted) if wanted else []
        if len(ranked) < _MAX_SUGGESTIONS:
            shown = {text.lower() for text in ranked}
            close = difflib.get_close_matches(
                path.lower(), list(self._prefixes), n=_MAX_SUGGESTIONS, cutoff=0.6
            )
            ranked += [self._prefixes[c] for c in close if c not in shown]
        return [text for text in ranked if _parses(text)][:_MAX_SUGGESTIONS]

    def _deeper(self, wanted: tuple[str, ...]) -> list[str]:
        """Literal prefixes of templates holding ``wanted`` below their root.

        One that still ends in the wanted segments ranks before one stopped
        short of them at a parameter, then shorter first; the first spelling
        of a folded path is kept.
        """
        found: dict[str, tuple[tuple[bool, int, str], str]] = {}
        for template in self.templates:
            cut = _embedded(template, wanted)
            prefix = None if cut is None else _literal_prefix(cut)
            if prefix is None:
                continue
            rank = (prefix != cut, len(prefix), prefix.lower())
            if prefix.lower() not in found or rank < found[prefix.lower()][0]:
                found[prefix.lower()] = (rank, prefix)
        return [text for _, text in sorted(found.values())]

    def __len__(self) -> int:
        return len(self.templates)

    def __repr__(self) -> str:
        return f"<Catalogue {len(self.templates)} templates>"


def _literal_prefix(path: str) -> str | None:
    """``path`` cut before its first parameter segment; None if none is left.

    ``/Client/%s/Properties`` gives ``/Client``; ``/%s/Jobs`` gives None,
    since ``/`` alone would allow every path.
    """
    kept: list[str] = []
    for segment in _split(path):
        if _PLACEHOLDER.search(segment):
            break
        kept.append(segment)
    return "/" + "/".join(kept) if kept else None


def _parses(endpoint: str) -> bool:
    """True when the endpoint grammar accepts ``endpoint`` as it is."""
    try:
        parse_prefixes([endpoint], source="<catalogue>", first_line=1, noun="endpoint")
    except PolicyError:
        return False
    return True


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
