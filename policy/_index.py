"""Interval index over IP addresses, and the table saying which entry matched.

An allowlist is a set of addresses; this module holds it as integer
intervals so that a lookup is one binary search, whatever the entries
looked like (single addresses, CIDRs, nested or overlapping ranges).
"""

from __future__ import annotations

import heapq
import socket
from bisect import bisect_right
from collections.abc import Iterable
from typing import Final

from policy._address import MAX_ADDRESS, Version, format_address

__all__ = [
    "BLOCK_IN",
    "BLOCK_OUT",
    "BLOCK_SEARCH",
    "MAPPED_PREFIX",
    "AttributionTable",
    "IntervalIndex",
    "PackedFamily",
]

_BITS: dict[int, int] = {4: 32, 6: 128}
_BYTES: Final[dict[int, int]] = {4: 4, 6: 16}

_pton = socket.inet_pton
_AF_INET: Final = socket.AF_INET
_AF_INET6: Final = socket.AF_INET6
# The first twelve bytes of an IPv4-mapped IPv6 address, ::ffff:0:0/96.
MAPPED_PREFIX: Final = bytes(10) + b"\xff\xff"

# Verdicts of the first-level table, one byte per 16-bit leading block.
BLOCK_OUT: Final = 0  # no interval touches the block
BLOCK_IN: Final = 1  # one interval covers the whole block
BLOCK_SEARCH: Final = 2  # the block is split: binary search decides


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping and adjacent inclusive intervals into sorted runs."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(intervals):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _cidr_cover(version: Version, first: int, last: int) -> Iterable[str]:
    """Yield the fewest CIDRs whose union is exactly ``[first, last]``."""
    bits = _BITS[version]
    while first <= last:
        # The largest aligned block starting at ``first`` that fits.
        size = first & -first if first else 1 << bits
        while size > last - first + 1:
            size >>= 1
        yield f"{format_address(version, first)}/{bits - size.bit_length() + 1}"
        first += size


class PackedFamily:
    """One family's intervals as packed bytes, with a first-level table.

    Lookups take the address as :func:`socket.inet_pton` returns it, so no
    integer is ever built: fixed-length big-endian bytes sort exactly like
    the integers they encode, and :func:`bisect.bisect_right` compares them
    with one ``memcmp``.  Before any search, ``table`` (one byte per block
    of the 65,536 blocks keyed by the address's leading 16 bits) settles
    the blocks that no interval touches or that one interval covers whole;
    on real provider lists that is over 99% of the blocks, so most lookups
    never search.  Invariants: ``starts`` and ``ends`` are the merged
    intervals of the family, sorted, as packed bytes of the family's width.
    """

    __slots__ = ("ends", "starts", "table")

    def __init__(self, version: Version, merged: list[tuple[int, int]]) -> None:
        """Pack the merged, sorted intervals of ``version``."""
        width = _BYTES[version]
        self.starts = [first.to_bytes(width) for first, _ in merged]
        self.ends = [last.to_bytes(width) for _, last in merged]
        self.table = _first_level(_BITS[version] - 16, merged)

    def contains(self, packed: bytes) -> bool:
        """Return True when the packed address lies in an interval."""
        verdict = self.table[packed[0] << 8 | packed[1]]
        if verdict != BLOCK_SEARCH:
            return verdict == BLOCK_IN
        i = bisect_right(self.starts, packed)
        return i > 0 and packed <= self.ends[i - 1]


def _first_level(shift: int, merged: list[tuple[int, int]]) -> bytes:
    """Return the verdict of each 16-bit leading block (see PackedFamily)."""
    table = bytearray(1 << 16)
    for first, last in merged:
        low, high = first >> shift, last >> shift
        # Blocks strictly inside the interval are covered whole.
        table[low] = table[high] = BLOCK_SEARCH
        if high - low > 1:
            table[low + 1 : high] = bytes([BLOCK_IN]) * (high - low - 1)
        # An end block is covered whole when the interval reaches its edge.
        # Intervals are disjoint, so no other interval touches such a block;
        # a block left at BLOCK_SEARCH is always correct, only slower.
        if first == low << shift and last >= ((low + 1) << shift) - 1:
            table[low] = BLOCK_IN
        if last == ((high + 1) << shift) - 1 and first <= high << shift:
            table[high] = BLOCK_IN
    return bytes(table)


class IntervalIndex:
    """A set of IPv4 and IPv6 addresses held as integer intervals.

    Invariants, per family (4 and 6): intervals are inclusive ``(first,
    last)`` pairs with ``0 <= first <= last <= max``; they are sorted by
    ``first``; no two overlap or touch (overlapping and adjacent intervals
    are merged, so ``last + 1 < next first``).  The representation of a set
    is therefore unique, and equality is equality of the intervals.
    Membership is one binary search, O(log n).

    >>> IntervalIndex([(4, 10, 20), (4, 21, 30), (6, 1, 1)])
    <IntervalIndex v4: 1 range, v6: 1 range>
    """

    __slots__ = ("_ends", "_packed4", "_packed6", "_starts", "vectors")

    def __init__(self, intervals: Iterable[tuple[Version, int, int]] = ()) -> None:
        """Build the index from ``(version, first, last)`` inclusive triples.

        Raises:
            ValueError: A version is not 4 or 6, or an interval is empty or
                out of its family's range.
        """
        by_family: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for version, first, last in intervals:
            if version not in by_family:
                raise ValueError(f"IP version must be 4 or 6, got {version!r}")
            if not 0 <= first <= last <= MAX_ADDRESS[version]:
                raise ValueError(
                    f"an IPv{version} interval must satisfy 0 <= first <= last"
                    f" <= {MAX_ADDRESS[version]}, got ({first}, {last})"
                )
            by_family[version].append((first, last))
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        packed: dict[int, PackedFamily] = {}
        for family, found in by_family.items():
            merged = _merge(found)
            self._starts[family] = [first for first, _ in merged]
            self._ends[family] = [last for _, last in merged]
            packed[family] = PackedFamily(4 if family == 4 else 6, merged)
        self._packed4 = packed[4]
        self._packed6 = packed[6]
        # Arrays derived on demand by the vectorised lookups (numpy), kept
        # here so they are built once per index.
        self.vectors: dict[str, object] = {}

    def contains(self, version: Version, value: int) -> bool:
        """Return True when the address ``value`` of ``version`` is in the set."""
        starts = self._starts.get(version)
        if starts is None:
            return False
        i = bisect_right(starts, value) - 1
        return i >= 0 and value <= self._ends[version][i]

    def contains_text(self, text: str) -> bool | None:
        """Look up an address text; None when it is not exactly one address.

        The same strict reading as :func:`policy._address.parse_client_address`
        (``inet_pton``; an IPv4-mapped IPv6 address is judged as IPv4),
        without building an integer: this is the per-request hot path.
        """
        # No length guard is needed: inet_pton refuses any text longer than
        # the longest address, after one scan of it.
        try:
            if ":" in text:
                packed = _pton(_AF_INET6, text)
                if packed[:12] != MAPPED_PREFIX:
                    return self._packed6.contains(packed)
                packed = packed[12:]
            else:
                packed = _pton(_AF_INET, text)
        except (OSError, ValueError):
            # OSError: not an address; ValueError: an embedded NUL character.
            return None
        # PackedFamily.contains, inlined for IPv4: a call costs as much as
        # the table lookup.
        family = self._packed4
        verdict = family.table[packed[0] << 8 | packed[1]]
        if verdict != BLOCK_SEARCH:
            return verdict == BLOCK_IN
        i = bisect_right(family.starts, packed)
        return i > 0 and packed <= family.ends[i - 1]

    def packed(self, version: Version) -> PackedFamily:
        """Return the packed-bytes form of one family (see PackedFamily)."""
        return self._packed4 if version == 4 else self._packed6

    def first_level(self, version: Version) -> bytes:
        """Return the verdict of each 16-bit leading block of one family.

        One byte per block: 0, no address of the block is in the set; 1,
        all are; 2, some are (a search decides).
        """
        return (self._packed4 if version == 4 else self._packed6).table

    def ranges(self, version: Version) -> tuple[tuple[int, int], ...]:
        """Return the merged intervals of one family, sorted."""
        return tuple(zip(self._starts[version], self._ends[version], strict=True))

    def range_count(self, version: Version) -> int:
        """Return how many merged intervals one family holds."""
        return len(self._starts[version])

    def address_count(self, version: Version) -> int:
        """Return how many addresses of one family are in the set."""
        return sum(
            last - first + 1
            for first, last in zip(
                self._starts[version], self._ends[version], strict=True
            )
        )

    def to_cidrs(self) -> list[str]:
        """Return the minimal exact CIDR cover, IPv4 then IPv6, sorted."""
        cidrs: list[str] = []
        for version in (4, 6):
            for first, last in self.ranges(version):
                cidrs.extend(_cidr_cover(version, first, last))
        return cidrs

    def union(self, other: IntervalIndex) -> IntervalIndex:
        """Return the set of addresses in either index."""
        return IntervalIndex(
            (version, first, last)
            for index in (self, other)
            for version in (4, 6)
            for first, last in index.ranges(version)
        )

    def __or__(self, other: IntervalIndex) -> IntervalIndex:
        return self.union(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalIndex):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    def __hash__(self) -> int:
        return hash((self.ranges(4), self.ranges(6)))

    def __repr__(self) -> str:
        counts = []
        for version in (4, 6):
            count = self.range_count(version)
            counts.append(f"v{version}: {count} range{'' if count == 1 else 's'}")
        return f"<IntervalIndex {', '.join(counts)}>"


class AttributionTable:
    """Which original entry admits each address: the first in input order.

    The address line of each family is split at every entry boundary into
    elementary segments; each segment is owned by the first entry (lowest
    number) covering it, or by none.  Invariants: ``starts`` is sorted and
    strictly increasing and begins at address 0, segment ``i`` runs from
    ``starts[i]`` to ``starts[i + 1] - 1`` (the last one to the family's
    maximum), neighbours have different owners, and owner -1 means no
    entry covers the segment.  Starts are packed bytes, as in
    :class:`PackedFamily`, so a client's ``inet_pton`` result is looked up
    as it is.  A lookup is one binary search, O(log n).
    """

    __slots__ = ("_owners", "_starts")

    def __init__(self, intervals: Iterable[tuple[Version, int, int, int]]) -> None:
        """Build from ``(version, first, last, entry_number)`` quadruples.

        Entry numbers are non-negative; a lower number wins where entries
        overlap.  Bounds are trusted: the caller validated them.
        """
        by_family: dict[int, list[tuple[int, int, int]]] = {4: [], 6: []}
        for version, first, last, number in intervals:
            by_family[version].append((first, last, number))
        self._starts: dict[int, list[bytes]] = {}
        self._owners: dict[int, list[int]] = {}
        for family, found in by_family.items():
            starts, owners = _sweep(found)
            if starts[-1] > MAX_ADDRESS[family]:
                # The unowned segment after an entry reaching the maximum
                # holds no address.
                del starts[-1], owners[-1]
            width = _BYTES[family]
            self._starts[family] = [start.to_bytes(width) for start in starts]
            self._owners[family] = owners

    def owner(self, version: Version, value: int) -> int | None:
        """Return the number of the entry admitting ``value``, or None."""
        return self.owner_packed(version, value.to_bytes(_BYTES[version]))

    def owner_packed(self, version: Version, packed: bytes) -> int | None:
        """Return the number of the entry admitting a packed address, or None.

        ``packed`` is as :func:`socket.inet_pton` returns it for the family.
        """
        owner = self._owners[version][bisect_right(self._starts[version], packed) - 1]
        return None if owner < 0 else owner

    def segments(self, version: Version) -> tuple[list[bytes], list[int]]:
        """Return one family's segment starts (packed) and owners (-1: none)."""
        return self._starts[version], self._owners[version]

    def __repr__(self) -> str:
        return (
            f"<AttributionTable v4: {len(self._starts[4])} segments, "
            f"v6: {len(self._starts[6])} segments>"
        )


def _sweep(intervals: list[tuple[int, int, int]]) -> tuple[list[int], list[int]]:
    """Compute segment starts and owners for one family by a sweep line."""
    # Events at each boundary: entries opening there; closings are lazy,
    # an entry is dropped from the heap once the sweep passes its end.
    opening: dict[int, list[tuple[int, int]]] = {}
    boundaries: set[int] = set()
    for first, last, number in intervals:
        opening.setdefault(first, []).append((number, last))
        boundaries.add(first)
        boundaries.add(last + 1)
    # The first segment starts at address 0, owned or not, so every lookup
    # lands in a segment.
    boundaries.add(0)
    starts: list[int] = []
    owners: list[int] = []
    active: list[tuple[int, int]] = []
    for point in sorted(boundaries):
        for item in opening.get(point, ()):
            heapq.heappush(active, item)
        while active and active[0][1] < point:
            heapq.heappop(active)
        owner = active[0][0] if active else -1
        if not owners or owners[-1] != owner:
            starts.append(point)
            owners.append(owner)
    return starts, owners
