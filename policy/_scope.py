"""Scopes and the matcher that checks a canonical path against one.

An endpoint allows a path when it is a prefix of the path on segment
boundaries: ``/plan`` allows ``/plan``, ``/plan/`` and ``/plan/7/schedule``
but not ``/planet``, and ``/Client`` does not allow ``/ClientGroup``.  Paths
must already be canonical (see :func:`canonical_path`).

Matching folds case by default, because Commvault's REST routing treats
``/Client`` and ``/client`` alike; a case-sensitive mode serves backends
that route by exact case.  Folding is ASCII only (``str.lower()`` on an
ASCII path).  Unicode case folding would be wrong here: it maps the Kelvin
sign U+212A to ``k`` and the long s U+017F to ``s``, so a path a backend
routes elsewhere could fold onto an allowed ASCII endpoint.  Canonical paths
are ASCII by construction, and the matcher denies anything that is not.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from collections.abc import Iterable
from importlib import resources
from typing import Any, Final, Literal, TypeAlias

from policy._endpoints import (
    DEFAULT_MAX_ENDPOINTS,
    DEFAULT_MAX_LINE_LENGTH,
    Endpoint,
    parse_endpoints,
)
from policy._errors import Diagnostic, PolicyTypeError, ScopeError, echo

__all__ = ["Scope", "ScopeKind", "ScopeMatcher", "TrieNode"]

ScopeKind: TypeAlias = Literal["all", "builtin", "custom"]

# A trie node: the endpoint text ending here (None when none does), and the
# children keyed by the next segment.
TrieNode: TypeAlias = tuple[str | None, dict[str, "TrieNode"]]

# The rule reported when the All scope allows a path: it covers every path,
# as the endpoint '/' would.
ALL_RULE: Final = "/"

_SCOPE_IDS: Final = ("all", "custom")


class ScopeMatcher:
    """A compiled set of endpoints: a trie keyed by path segment.

    Invariants: no endpoint lies below another (``/plan/7`` is dropped when
    ``/plan`` is present, as it can never decide), so the first endpoint
    met on the way down is the one that allows the path; keys are folded to
    lower case when matching is case-insensitive.  Cost grows with the
    depth of the path, not with the number of endpoints.
    """

    __slots__ = ("_count", "_root", "case_sensitive")

    def __init__(self, endpoints: Iterable[Endpoint], *, case_sensitive: bool) -> None:
        """Compile ``endpoints``; matching folds case unless ``case_sensitive``."""
        self.case_sensitive = case_sensitive
        root: _Builder = _Builder()
        count = 0
        for endpoint in endpoints:
            path = endpoint.path if case_sensitive else endpoint.path.lower()
            count += root.insert(_segments(path), endpoint.text)
        self._root = root.freeze()
        self._count = count

    @classmethod
    def everything(cls, *, case_sensitive: bool) -> ScopeMatcher:
        """A matcher that allows every canonical path (the All scope)."""
        return cls([Endpoint(ALL_RULE, "/", 1, 1)], case_sensitive=case_sensitive)

    def match(self, path: str) -> str | None:
        """Return the text of the endpoint that allows ``path``, or None.

        Args:
            path: A canonical path, as :func:`canonical_path` returns it.

        Returns:
            The endpoint as typed, for the decision's ``rule``; None when no
            endpoint allows the path, or when ``path`` is not ASCII (never
            canonical, so denied rather than folded).
        """
        if not path.isascii():
            return None
        if not self.case_sensitive:
            path = path.lower()
        text, children = self._root
        if text is not None:
            return text
        for segment in path[1:].split("/"):
            child = children.get(segment)
            if child is None:
                return None
            text, children = child
            if text is not None:
                return text
        return None

    def trie(self) -> TrieNode:
        """The compiled trie: ``(endpoint ending here or None, children)``.

        Keys are segments, folded to lower case unless case-sensitive.
        Shared, not copied: callers must not change it.
        """
        return self._root

    def __len__(self) -> int:
        """How many endpoints can decide (those not below another)."""
        return self._count

    def __repr__(self) -> str:
        mode = "case-sensitive" if self.case_sensitive else "case-insensitive"
        return f"<ScopeMatcher {self._count} endpoints, {mode}>"


class _Builder:
    """A mutable trie node used while compiling; frozen into ``TrieNode``."""

    __slots__ = ("children", "text")

    def __init__(self) -> None:
        self.text: str | None = None
        self.children: dict[str, _Builder] = {}

    def insert(self, segments: list[str], text: str) -> int:
        """Add one endpoint; return how many deciding endpoints it added."""
        node = self
        for segment in segments:
            if node.text is not None:
                return 0  # an endpoint above already allows everything here
            node = node.children.setdefault(segment, _Builder())
        if node.text is not None:
            return 0  # a duplicate (perhaps in another case): first one wins
        removed = node.count()
        node.text = text
        node.children = {}
        return 1 - removed

    def count(self) -> int:
        """Deciding endpoints at or below this node."""
        if self.text is not None:
            return 1
        return sum(child.count() for child in self.children.values())

    def freeze(self) -> TrieNode:
        children = {key: child.freeze() for key, child in self.children.items()}
        return (self.text, children)


def _segments(path: str) -> list[str]:
    """The segments of a canonical endpoint path; none for ``/``."""
    return [segment for segment in path.split("/") if segment]


class Scope:
    """What an access token may call: All, a built-in set, or Custom.

    Attributes:
        name: The display name: ``All``, ``Custom``, or a built-in's name
            such as ``1-Touch recovery``.
        kind: ``"all"``, ``"builtin"`` or ``"custom"``.
        id: The policy-file id: ``all``, ``custom``, ``hyperscale``, ...
        endpoints: The endpoints, in input order; empty for All.
        notes: Where a built-in set comes from; empty otherwise.
    """

    __slots__ = ("_matchers", "endpoints", "id", "kind", "name", "notes")

    def __init__(
        self,
        *,
        name: str,
        kind: ScopeKind,
        id: str,  # the policy file's word for it
        endpoints: tuple[Endpoint, ...],
        notes: str = "",
    ) -> None:
        """Store a scope; use the class methods rather than this."""
        self.name = name
        self.kind: ScopeKind = kind
        self.id = id
        self.endpoints = endpoints
        self.notes = notes
        self._matchers: dict[bool, ScopeMatcher] = {}

    @classmethod
    def all(cls) -> Scope:
        """The All scope: every path."""
        return cls(name="All", kind="all", id="all", endpoints=())

    @classmethod
    def custom(
        cls,
        endpoints: str | Iterable[str],
        *,
        source: str = "<endpoints>",
        first_line: int = 1,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        max_endpoints: int = DEFAULT_MAX_ENDPOINTS,
    ) -> Scope:
        """A Custom scope from endpoints as users type them.

        Args:
            endpoints: One endpoint a line, or a list of endpoints (see
                :func:`parse_endpoints`).
            source: The file name or label used in diagnostics.
            first_line: Line number of the first line, for text embedded in
                a larger file.
            max_line_length: Longest line accepted, in characters; checked
                before the line is parsed (code ``line-too-long``).
            max_endpoints: Most endpoints accepted (code
                ``too-many-endpoints``).

        Raises:
            ScopeError: An endpoint is malformed, a limit is exceeded, or
                there is no endpoint.
            PolicyTypeError: ``endpoints`` is not text or strings, or an
                option has the wrong type or range (checked before any
                parsing).
        """
        parsed = parse_endpoints(
            endpoints,
            source=source,
            first_line=first_line,
            max_line_length=max_line_length,
            max_endpoints=max_endpoints,
        )
        return cls(name="Custom", kind="custom", id="custom", endpoints=parsed)

    @classmethod
    def builtin(cls, name: str) -> Scope:
        """A built-in scope, by display name or policy-file id.

        Args:
            name: ``1-Touch recovery``, ``Hyperscale``, ``Microsoft SCIM``,
                or the ids ``1-touch-recovery``, ``hyperscale``,
                ``microsoft-scim``.

        Raises:
            ScopeError: Unknown name (code ``unknown-scope``), with a
                suggestion when one is close.
            PolicyTypeError: ``name`` is not a ``str``.
        """
        catalogue = _catalogue()
        if not isinstance(name, str):
            raise PolicyTypeError(
                f"scope name must be a str, got {type(name).__name__}"
            )
        for scope in catalogue:
            if name in (scope.name, scope.id):
                return scope
        known = [scope.name for scope in catalogue] + [s.id for s in catalogue]
        hint = ""
        if name.lower() in _SCOPE_IDS:
            hint = f"; use Scope.{name.lower()}() for the {name.capitalize()} scope"
        raise _unknown(name, "built-in scope", known, hint)

    @classmethod
    def from_id(
        cls,
        id: str,  # the policy file's word for it
        endpoints: str | Iterable[str] | None = None,
        *,
        source: str = "<endpoints>",
        first_line: int = 1,
    ) -> Scope:
        """The scope a policy file names by id.

        Args:
            id: ``all``, ``custom``, ``1-touch-recovery``, ``hyperscale`` or
                ``microsoft-scim``.
            endpoints: Required for ``custom``; refused for the others.
            source: Where the endpoints come from, for diagnostics.
            first_line: Line of the first endpoint in ``source``.

        Raises:
            ScopeError: Unknown id, endpoints missing for ``custom`` or given
                for another scope, or malformed endpoints.
            PolicyTypeError: An argument has the wrong type.
        """
        if not isinstance(id, str):
            raise PolicyTypeError(f"scope id must be a str, got {type(id).__name__}")
        ids = [*_SCOPE_IDS, *(scope.id for scope in _catalogue())]
        if id not in ids:
            raise _unknown(id, "scope id", ids, "")
        if id == "custom":
            if endpoints is None:
                raise _scope_error(
                    "missing-endpoints",
                    "a Custom scope needs its endpoints, got none",
                    id,
                )
            return cls.custom(endpoints, source=source, first_line=first_line)
        if endpoints is not None:
            raise _scope_error(
                "unexpected-endpoints",
                f"only a Custom scope takes endpoints; the {id!r} scope has a "
                "fixed set, got endpoints",
                id,
            )
        if id == "all":
            return cls.all()
        return cls.builtin(id)

    def matcher(self, *, case_sensitive: bool) -> ScopeMatcher:
        """The compiled matcher for this scope, built once per mode."""
        found = self._matchers.get(case_sensitive)
        if found is None:
            if self.kind == "all":
                found = ScopeMatcher.everything(case_sensitive=case_sensitive)
            else:
                found = ScopeMatcher(self.endpoints, case_sensitive=case_sensitive)
            self._matchers[case_sensitive] = found
        return found

    def _key(self) -> tuple[str, str, tuple[str, ...]]:
        # Equal scopes allow the same paths: order, duplicates, trailing
        # slashes and positions do not matter.
        paths = tuple(sorted({endpoint.path for endpoint in self.endpoints}))
        return (self.kind, self.id, paths)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scope):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self.kind == "all":
            return "Scope.all()"
        paths = [endpoint.path for endpoint in self.endpoints]
        if self.kind == "builtin":
            return f"<Scope {self.name!r} builtin {paths}>"
        shown = paths[:5]
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        return f"<Scope Custom {shown}{more}>"


def _scope_error(code: str, message: str, text: str) -> ScopeError:
    diagnostic = Diagnostic(
        source="<scope>",
        line=1,
        column=1,
        text=echo(text),
        message=message,
        code=code,
    )
    return ScopeError(diagnostic.format(), [diagnostic])


def _unknown(name: str, what: str, known: list[str], hint: str) -> ScopeError:
    """The error for an unknown scope name, with a close match if any."""
    folded = {choice.lower(): choice for choice in known}
    close = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.6)
    if close and not hint:
        hint = f"; did you mean {folded[close[0]]!r}?"
    choices = ", ".join(repr(choice) for choice in known)
    message = f"{what} must be one of {choices}, got {echo(name)!r}{hint}"
    return _scope_error("unknown-scope", message, name)


@functools.cache
def _catalogue() -> tuple[Scope, ...]:
    """The built-in scopes, read once from the package's ``scopes.toml``."""
    source = resources.files("policy").joinpath("data", "scopes.toml")
    data: dict[str, Any] = tomllib.loads(source.read_text(encoding="utf-8"))
    scopes = []
    for entry in data["scope"]:
        endpoints = parse_endpoints(
            entry["endpoints"], source="policy/data/scopes.toml"
        )
        scopes.append(
            Scope(
                name=entry["name"],
                kind="builtin",
                id=entry["id"],
                endpoints=endpoints,
                notes=entry["notes"],
            )
        )
    return tuple(scopes)
