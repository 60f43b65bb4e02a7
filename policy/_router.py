"""Routing a canonical path: its API base, then its scope endpoint.

A path is judged relative to the longest API base it lies under (see
:class:`ApiBase`), against the scope's trie (see :class:`ScopeMatcher`).
:class:`Router` gives the answer of both steps:

* When no base lies under another (the usual case), a copy of the scope's
  trie is grafted under each base, each endpoint of a copy noting the
  length of its base, so one walk of the path's segments answers, and no
  relative path is built.  Grafting would be wrong for nested bases: with
  ``/api`` and ``/api/v2``, ``/api/v2/x`` is judged under ``/api/v2``
  alone, and a single trie cannot both stop at ``/api``'s endpoint ``/v2``
  for ``/api/v2/z`` and look past it for ``/api/v2/x``.
* Otherwise a trie of the bases' segments finds the longest base, and the
  scope's own matcher judges the rest of the path.
"""

from __future__ import annotations

import itertools
from typing import TypeAlias

from policy._api_base import ApiBase
from policy._scope import ScopeMatcher, TrieNode

__all__ = ["Router"]

# Where a path leads: the endpoint as typed, and the length of the API base
# in front of it.
_Destination: TypeAlias = tuple[str, int]
# A node of the grafted trie: where a path ending here leads (None when no
# endpoint ends here), the children keyed by the next segment, and the
# length of the base the node lies under (-1 above every base).
_Node: TypeAlias = tuple[_Destination | None, dict[str, "_Node"], int]
# A node of the bases' trie: the length of the base ending here (-1 when
# none does), and the children keyed by the next segment.
_BaseNode: TypeAlias = tuple[int, dict[str, "_BaseNode"]]


class Router:
    """A scope mounted under API bases.

    Invariant: :meth:`route` answers as :meth:`ApiBase.strip` followed by
    :meth:`ScopeMatcher.match` on the relative path would.
    """

    __slots__ = ("_bases", "_case_sensitive", "_grafted", "_matcher")

    def __init__(self, matcher: ScopeMatcher, base: ApiBase | None) -> None:
        """Mount ``matcher`` under every base of ``base`` (the root if None).

        Bases are compared by exact case when the matcher compares
        endpoints so, and ASCII-folded otherwise.
        """
        case_sensitive = matcher.case_sensitive
        bases = ("/",) if base is None else base.bases
        if not case_sensitive:
            bases = tuple(path.lower() for path in bases)
        self._matcher = matcher
        self._case_sensitive = case_sensitive
        self._bases = _base_trie(bases)
        self._grafted = None if _nested(bases) else _graft(matcher.trie(), bases)

    def route(self, path: str) -> tuple[str | None, int] | None:
        """Find the API base and the endpoint of a canonical path.

        Returns:
            ``(endpoint, base_length)``: the endpoint allowing the path
            (None when none does) and the length of the longest base the
            path lies under; the relative path is ``path[base_length:] or
            "/"``.  None when the path lies under no base.
        """
        if not path.isascii():
            # Never canonical; ApiBase and ScopeMatcher refuse it alike.
            return None
        if not self._case_sensitive:
            path = path.lower()
        grafted = self._grafted
        if grafted is None:
            return self._walk(path)
        destination, children, base_length = grafted
        if destination is not None:
            return destination
        for segment in path[1:].split("/"):
            child = children.get(segment)
            if child is None:
                break
            destination, children, base_length = child
            if destination is not None:
                return destination
        # No endpoint allows the path; the last node reached says whether a
        # base holds it.
        return None if base_length < 0 else (None, base_length)

    def _walk(self, path: str) -> tuple[str | None, int] | None:
        """Route in two steps: the longest base, then the scope below it."""
        base_length = self._longest_base(path)
        if base_length < 0:
            return None
        return self._matcher.match(path[base_length:] or "/"), base_length

    def _longest_base(self, path: str) -> int:
        """Return the length of the longest base holding ``path`` (-1: none)."""
        base_length, children = self._bases
        for segment in path[1:].split("/"):
            child = children.get(segment)
            if child is None:
                break
            length, children = child
            if length >= 0:
                base_length = length
        return base_length

    def __repr__(self) -> str:
        walk = "two steps" if self._grafted is None else "one walk"
        return f"<Router {self._matcher!r}, {walk}>"


def _segments(base: str) -> tuple[str, ...]:
    return tuple(segment for segment in base.split("/") if segment)


def _length(base: str) -> int:
    # A canonical base has no trailing slash but "/", whose relative paths
    # keep their leading slash.
    return len(base.rstrip("/"))


def _nested(bases: tuple[str, ...]) -> bool:
    """True when a base equals another or lies under it on a segment boundary."""
    # In sorted order, a base lying under another follows it at once.
    ordered = sorted(_segments(base) for base in bases)
    return any(
        later[: len(earlier)] == earlier
        for earlier, later in itertools.pairwise(ordered)
    )


def _base_trie(bases: tuple[str, ...]) -> _BaseNode:
    """Build the trie of the bases' segments."""
    root = _Builder()
    for base in bases:
        node = root
        for segment in _segments(base):
            node = node.children.setdefault(segment, _Builder())
        node.length = _length(base)
    return root.freeze()


class _Builder:
    """A mutable node of the bases' trie, frozen into ``_BaseNode``."""

    __slots__ = ("children", "length")

    def __init__(self) -> None:
        self.length = -1
        self.children: dict[str, _Builder] = {}

    def freeze(self) -> _BaseNode:
        children = {key: child.freeze() for key, child in self.children.items()}
        return (self.length, children)


def _graft(trie: TrieNode, bases: tuple[str, ...]) -> _Node:
    """Build the grafted trie: a copy of ``trie`` under each base.

    Bases must not nest, so every node above a base is a plain step.
    """
    root: dict[str, _Node] = {}
    top: _Node | None = None
    for base in bases:
        copy = _copy(trie, _length(base))
        *above, last = _segments(base) or ("",)
        if not last:
            top = copy  # the base "/", alone as bases do not nest
            continue
        children = root
        for segment in above:
            children = children.setdefault(segment, (None, {}, -1))[1]
        children[last] = copy
    return top if top is not None else (None, root, -1)


def _copy(node: TrieNode, base_length: int) -> _Node:
    """Copy a scope trie, each endpoint noting the length of its base."""
    text, children = node
    return (
        None if text is None else (text, base_length),
        {key: _copy(child, base_length) for key, child in children.items()},
        base_length,
    )
