"""Routing a canonical path: its API base and its scope endpoint, in one walk.

A policy first strips the longest API base a path lies under (see
:class:`ApiBase`), then matches the rest against the scope's trie (see
:class:`ScopeMatcher`).  :class:`Router` gives the same answer from one
trie walk: it grafts a copy of the scope's trie under each base, and each
endpoint of a copy remembers the length of its base, so the relative path
costs one slice.

Grafting is exact only when no base lies under another: with ``/api`` and
``/api/v2`` the path ``/api/v2/x`` is judged under ``/api/v2`` alone, and a
trie cannot both stop at ``/api``'s endpoint ``/v2`` for ``/api/v2/z`` and
look past it for ``/api/v2/x``.  Nested bases therefore keep the two steps.
"""

from __future__ import annotations

import itertools
from typing import TypeAlias

from policy._api_base import ApiBase
from policy._scope import ScopeMatcher, TrieNode

__all__ = ["Router"]

# Where a path leads: the endpoint as typed, and the length of the API base
# in front of it (0 without bases).
Destination: TypeAlias = tuple[str, int]
_Node: TypeAlias = tuple[Destination | None, dict[str, "_Node"]]


class Router:
    """A scope mounted under API bases.

    Invariant: :meth:`route` answers exactly as :meth:`ApiBase.strip`
    followed by :meth:`ScopeMatcher.match` on the stripped path.
    """

    __slots__ = ("_base", "_case_sensitive", "_matcher", "_root")

    def __init__(
        self, matcher: ScopeMatcher, base: ApiBase | None, *, case_sensitive: bool
    ) -> None:
        """Mount ``matcher`` under every base of ``base`` (the root if None)."""
        self._matcher = matcher
        self._base = base
        self._case_sensitive = case_sensitive
        bases = ("",) if base is None else base.bases
        if not case_sensitive:
            bases = tuple(path.lower() for path in bases)
        self._root: _Node | None = None
        if not _nested(bases):
            self._root = _mount(matcher.trie(), bases)

    def route(self, path: str) -> Destination | None:
        """Return the endpoint allowing a canonical path, and its base's length.

        Returns:
            ``(endpoint, base_length)``; the path relative to its base is
            ``path[base_length:] or "/"``.  None when the path is under no
            base, or under one but no endpoint of the scope.
        """
        root = self._root
        if root is None:
            return self._route_in_two_steps(path)
        if not path.isascii():
            return None
        destination, children = root
        if destination is not None:
            return destination
        if not self._case_sensitive:
            path = path.lower()
        for segment in path[1:].split("/"):
            child = children.get(segment)
            if child is None:
                return None
            destination, children = child
            if destination is not None:
                return destination
        return None

    def _route_in_two_steps(self, path: str) -> Destination | None:
        relative: str | None = path
        if self._base is not None:
            relative = self._base.strip(path, case_sensitive=self._case_sensitive)
        if relative is None:
            return None
        endpoint = self._matcher.match(relative)
        if endpoint is None:
            return None
        # strip() answers "/" for the base itself, which ends no such path.
        if not path.endswith(relative):
            return endpoint, len(path)
        return endpoint, len(path) - len(relative)

    def __repr__(self) -> str:
        walk = "two steps" if self._root is None else "one walk"
        return f"<Router {self._matcher!r} under {self._base!r}, {walk}>"


def _nested(bases: tuple[str, ...]) -> bool:
    """True when a base equals another or lies under it on a segment boundary."""
    # In sorted order a base that lies under another follows it at once.
    segments = sorted(tuple(_segments(base)) for base in bases)
    return any(
        later[: len(earlier)] == earlier
        for earlier, later in itertools.pairwise(segments)
    )


def _segments(base: str) -> list[str]:
    return [segment for segment in base.split("/") if segment]


def _mount(trie: TrieNode, bases: tuple[str, ...]) -> _Node:
    """Build the grafted trie: a copy of ``trie`` under each base."""
    root: dict[str, _Node] = {}
    # The top of the trie when one base is the root itself.
    top: _Node | None = None
    for base in bases:
        segments = _segments(base)
        copy = _copy(trie, len(base.rstrip("/")))
        if not segments:
            top = copy
            continue
        children = root
        for segment in segments[:-1]:
            # Bases do not nest, so every node on the way is a plain step.
            children = children.setdefault(segment, (None, {}))[1]
        children[segments[-1]] = copy
    return top if top is not None else (None, root)


def _copy(node: TrieNode, base_length: int) -> _Node:
    """Copy a scope trie, each endpoint noting the length of its base."""
    text, children = node
    destination = None if text is None else (text, base_length)
    return (
        destination,
        {key: _copy(child, base_length) for key, child in children.items()},
    )
