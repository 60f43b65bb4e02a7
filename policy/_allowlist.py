"""The IP allowlist of an access token: parsed entries and their index.

:meth:`IPAllowlist.parse` reads entries as people type them in a token
dialog, one a line (see :mod:`policy._entry_grammar` for the forms), reports
every problem of the list at once, and builds an :class:`IntervalIndex` for
O(log n) membership and an attribution table naming the entry that admitted
an address.

Client addresses in the IPv4-mapped block ``::ffff:0:0/96`` are unmapped
and judged as IPv4 (see :mod:`policy._address`).  So an IPv6 entry lying
wholly inside that block (``::ffff:192.0.2.1``, ``::ffff:192.0.2.0/120``)
means its IPv4 equivalent and admits those IPv4 clients; without this it
would silently never match.  An IPv6 entry that reaches beyond the block
(``::/64``, ``::/1``, ``::/0``, or a range crossing its edge) admits IPv6
clients only: its part inside the block admits nobody, as no client is
judged there.  Reading that part as IPv4 would make ``::/64`` admit every
IPv4 client, which nobody writing it means; the lint warns about such
entries (``mapped-block-overlap``).
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final

from policy._address import (
    MAPPED_V4_FIRST,
    MAPPED_V4_LAST,
    MAX_ADDRESS,
    Version,
    format_address,
    parse_client_address,
    unmap,
    unmap_interval,
)
from policy._entry_grammar import Item, Kind, Problem, fast_entry, read_line
from policy._errors import (
    AllowlistError,
    Diagnostic,
    PolicyTypeError,
    echo,
)
from policy._index import (
    BLOCK_IN,
    BLOCK_OUT,
    BLOCK_SEARCH,
    MAPPED_PREFIX,
    AttributionTable,
    IntervalIndex,
)
from policy._vector import contains_array

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_LINE_LENGTH",
    "Entry",
    "IPAllowlist",
]

# A line longer than this is not an allowlist line; it is refused before
# any parsing, so a hostile megabyte line costs one len().
DEFAULT_MAX_LINE_LENGTH: Final = 1_000
# Bounds memory and load time; the largest public cloud list (Azure) holds
# about 90,000 entries.
DEFAULT_MAX_ENTRIES: Final = 1_000_000
_pton = socket.inet_pton
_AF_INET: Final = socket.AF_INET
_AF_INET6: Final = socket.AF_INET6

Address = str | IPv4Address | IPv6Address | int


@dataclass(frozen=True, slots=True)
class Entry:
    """One allowlist entry, as typed and as an inclusive integer interval.

    Attributes:
        text: The entry as typed, without surrounding whitespace.
        line: 1-based line number in the source.
        column: 1-based column of the entry's first character.
        version: 4 or 6.
        first: The lowest address covered, as an integer.
        last: The highest address covered (inclusive).
        kind: ``"address"``, ``"cidr"`` or ``"range"``.
        prefix_length: The CIDR's prefix length, None for other kinds.
    """

    text: str
    line: int
    column: int
    version: Version
    first: int
    last: int
    kind: Kind
    prefix_length: int | None = None

    def intervals(self) -> Iterator[tuple[Version, int, int]]:
        """Yield the intervals clients are judged against, per family.

        Clients in the IPv4-mapped block are judged as IPv4, so that block
        is never looked up on the IPv6 side: an IPv6 entry lying wholly
        inside it yields its IPv4 equivalent only, and one reaching over it
        yields only its parts outside the block (it admits no IPv4 client).
        Either way the index holds only addresses a client can match, and
        its CIDRs parse back to the same index.
        """
        version, first, last = self.judged()
        if version == 4 or last < MAPPED_V4_FIRST or first > MAPPED_V4_LAST:
            yield version, first, last
            return
        if first < MAPPED_V4_FIRST:
            yield 6, first, MAPPED_V4_FIRST - 1
        if last > MAPPED_V4_LAST:
            yield 6, MAPPED_V4_LAST + 1, last

    def judged(self) -> tuple[Version, int, int]:
        """Return the interval as clients are judged against it.

        That is the IPv4 equivalent of an entry lying wholly inside the
        IPv4-mapped block, and the entry's own interval otherwise.
        """
        return unmap_interval(self.version, self.first, self.last)

    def __str__(self) -> str:
        first = format_address(self.version, self.first)
        if self.kind == "cidr":
            return f"{first}/{self.prefix_length}"
        if self.kind == "range":
            return f"{first} - {format_address(self.version, self.last)}"
        return first


def _split(text_or_lines: str | Iterable[str]) -> Iterator[str]:
    """Yield lines without their line breaks (LF or CRLF)."""
    if isinstance(text_or_lines, bytes | bytearray):
        raise PolicyTypeError("an allowlist must be text or lines of text, got bytes")
    if isinstance(text_or_lines, str):
        lines: Iterable[str] = text_or_lines.split("\n")
    elif isinstance(text_or_lines, Iterable):
        lines = text_or_lines
    else:
        raise PolicyTypeError(
            "an allowlist must be text or lines of text,"
            f" got {type(text_or_lines).__name__}"
        )
    for line in lines:
        if not isinstance(line, str):
            raise PolicyTypeError(
                f"allowlist lines must be str, got {type(line).__name__}"
            )
        if line.endswith("\n"):
            line = line[:-1]
        yield line[:-1] if line.endswith("\r") else line


class _Reader:
    """Collects the entries and diagnostics of one allowlist, line by line."""

    def __init__(
        self, source: str, *, lenient: bool, first_line: int, max_line_length: int
    ) -> None:
        self.source = source
        self.lenient = lenient
        self.first_line = first_line
        self.max_line_length = max_line_length
        self.entries: list[Entry] = []
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def diagnose(self, number: int, line: str, problem: Problem) -> None:
        found = Diagnostic(
            source=self.source,
            line=number,
            column=problem.offset + 1,
            text=problem.text,
            message=problem.message,
            code=problem.code,
            level=problem.level,
            line_text=line,
            length=problem.length,
        )
        (self.errors if problem.level == "error" else self.warnings).append(found)

    def feed(self, number: int, line: str) -> None:
        """Read one line; ``number`` is its 1-based number in the source."""
        # Guard: the length, before any parsing.
        if len(line) > self.max_line_length:
            message = (
                f"an allowlist line must be at most {self.max_line_length}"
                f" characters, got {len(line)}"
            )
            shown = echo(line)
            problem = Problem(0, len(shown), shown, "line-too-long", message)
            self.diagnose(number, line, problem)
            return

        # The dominant forms, a plain address or CIDR alone on its line.
        stripped = line.strip(" \t")
        value = fast_entry(stripped)
        if value is not None:
            column = len(line) - len(line.lstrip(" \t")) + 1
            self.entries.append(Entry(stripped, number, column, *value))
            return

        # Everything else, and every error, goes through the grammar.
        if not stripped:
            return
        items, problems = read_line(line, lenient=self.lenient)
        for item in items:
            self.entries.append(self._entry(number, item))
        for problem in problems:
            self.diagnose(number, line, problem)

    @staticmethod
    def _entry(number: int, item: Item) -> Entry:
        return Entry(item.text, number, item.offset + 1, *item.value)


class IPAllowlist:
    """An IP allowlist: the entries as typed, and the set they admit.

    Attributes:
        entries: Every entry, in input order (duplicates kept).
        warnings: Warnings found while parsing (lenient mode), in order.
        index: The admitted addresses, merged into intervals per family.
        source: The name the diagnostics use for the input.
    """

    __slots__ = (
        "_ends4",
        "_owner_entries4",
        "_owner_starts4",
        "_owners",
        "_packed6",
        "_starts4",
        "_table4",
        "entries",
        "index",
        "source",
        "warnings",
    )

    def __init__(
        self,
        entries: Iterable[Entry],
        *,
        source: str = "<allowlist>",
        warnings: Iterable[Diagnostic] = (),
    ) -> None:
        """Build from entries already read; most callers use :meth:`parse`."""
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.warnings: tuple[Diagnostic, ...] = tuple(warnings)
        self.source = source
        self.index = IntervalIndex(
            part for entry in self.entries for part in entry.intervals()
        )
        # The first entry of each distinct interval is the only one that
        # can own a segment, so duplicates are dropped before the sweep.
        firsts: dict[tuple[Version, int, int], int] = {}
        for number, entry in enumerate(self.entries):
            for part in entry.intervals():
                firsts.setdefault(part, number)
        self._owners = AttributionTable(
            (version, first, last, number)
            for (version, first, last), number in firsts.items()
        )
        # The packed IPv4 lookup's parts, one attribute away for
        # __contains__ (see there).
        packed4 = self.index.packed(4)
        self._table4 = packed4.table
        self._starts4 = packed4.starts
        self._ends4 = packed4.ends
        self._packed6 = self.index.packed(6)
        # The IPv4 attribution, segment by segment, for judge().
        starts4, owners4 = self._owners.segments(4)
        self._owner_starts4 = starts4
        self._owner_entries4 = [
            None if owner < 0 else self.entries[owner] for owner in owners4
        ]

    @classmethod
    def parse(
        cls,
        text_or_lines: str | Iterable[str],
        *,
        source: str = "<allowlist>",
        lenient: bool = False,
        first_line: int = 1,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> IPAllowlist:
        """Parse an allowlist, one entry a line (or several, comma-separated).

        Accepted entries: ``10.0.0.1``, ``2001:db8::1``, ``1.1.1.0/24``,
        ``1.1.1.0 – 1.1.1.25`` (or ``-``, ``—``, ``−``).  Blank lines and
        ``#`` comments are ignored; CRLF, a BOM, no-break and zero-width
        spaces are read as spaces.  An error reads, for example::

            allowlist.txt:2:1: error ipv4-leading-zero an IPv4 octet must
            have no leading zero (octal or decimal is ambiguous), got '010'
            in '010.0.0.1'

        Args:
            text_or_lines: The whole text, or its lines.
            source: The file name or label used in diagnostics.
            lenient: Accept a CIDR with host bits set as its network, with
                a warning in :attr:`warnings`, instead of refusing it.
            first_line: Number of the first line, when the list is embedded
                in a larger file.
            max_line_length: Longest line accepted, in characters.
            max_entries: Most entries accepted.

        Returns:
            The allowlist.

        Raises:
            AllowlistError: With every diagnostic, when any entry is invalid,
                a limit is exceeded, or the list holds no entry at all
                (``empty-allowlist``: pass None for "no allowlist" instead).
            PolicyTypeError: An argument has the wrong type or range.
        """
        _check_options(source, lenient, first_line, max_line_length, max_entries)
        reader = _Reader(
            source,
            lenient=lenient,
            first_line=first_line,
            max_line_length=max_line_length,
        )
        number = first_line
        for number, line in enumerate(_split(text_or_lines), start=first_line):
            reader.feed(number, line)
            if len(reader.entries) > max_entries:
                message = (
                    f"an allowlist must hold at most {max_entries} entries,"
                    f" got more by line {number}"
                )
                problem = Problem(0, 1, "", "too-many-entries", message)
                reader.diagnose(number, line, problem)
                break
        if not reader.entries and not reader.errors:
            message = (
                "an allowlist must hold at least one entry, got only blank lines"
                " or comments; leave the allowlist out to allow every address"
            )
            problem = Problem(0, 1, "", "empty-allowlist", message)
            reader.diagnose(first_line, "", problem)
        if reader.errors:
            raise AllowlistError.from_diagnostics(reader.errors + reader.warnings)
        return cls(reader.entries, source=source, warnings=reader.warnings)

    def _key(
        self, address: Address, version: Version | None
    ) -> tuple[Version, int] | None:
        """Return ``(version, value)`` of the address; None when not valid."""
        if isinstance(address, bool) or not isinstance(
            address, str | IPv4Address | IPv6Address | int
        ):
            raise PolicyTypeError(
                "an address must be str, IPv4Address, IPv6Address or int,"
                f" got {type(address).__name__}"
            )
        if not isinstance(address, int):
            if version is not None:
                raise PolicyTypeError("version= is only for int addresses")
            return parse_client_address(address)
        if version not in (4, 6):
            raise PolicyTypeError(
                f"an int address needs version=4 or version=6, got {version!r}"
            )
        if not 0 <= address <= MAX_ADDRESS[version]:
            raise PolicyTypeError(
                f"an IPv{version} address must be 0 to {MAX_ADDRESS[version]},"
                f" got {address}"
            )
        return unmap(version, address)

    def contains(self, address: Address, *, version: Version | None = None) -> bool:
        """Return True when ``address`` is admitted.

        Args:
            address: A str or :mod:`ipaddress` object (a text that is not
                exactly one strict address is not admitted), or an int with
                ``version``.
            version: 4 or 6, required with an int and refused otherwise.

        Returns:
            Whether an entry admits the address.

        Raises:
            PolicyTypeError: Another type, an int without ``version`` or out
                of range, or ``version`` with a non-int.
        """
        if type(address) is str and version is None:
            return self.index.contains_text(address) is True
        key = self._key(address, version)
        return key is not None and self.index.contains(*key)

    def contains_many(self, addresses: Iterable[Address]) -> list[bool]:
        """Return, for each address, whether it is admitted, in order.

        For audits of many addresses at once; the same rules and errors as
        :meth:`contains` without ``version`` (so no int addresses).  See
        :meth:`contains_array` for a vectorised path over parsed addresses.

        Raises:
            PolicyTypeError: An address is not a str or :mod:`ipaddress`
                object.
        """
        lookup = self.index.contains_text
        return [
            lookup(address) is True if type(address) is str else self.contains(address)
            for address in addresses
        ]

    def contains_array(self, values: Any, *, version: Version) -> Any:
        """Vectorised membership of parsed addresses, with numpy.

        Args:
            values: For ``version=4``, a ``uint32`` array (or integers
                ``0 <= v < 2**32``); for ``version=6``, an ``(n, 2)``
                ``uint64`` array of high and low halves.
            version: 4 or 6.

        Returns:
            A numpy ``bool`` array, in order.

        Raises:
            PolicyTypeError: Wrong version, shape, type or range.
            ModuleNotFoundError: numpy is not installed.
        """
        return contains_array(self.index, values, version=version)

    def match(
        self, address: Address, *, version: Version | None = None
    ) -> Entry | None:
        """Return the first entry, in input order, that admits ``address``.

        Accepts the same arguments, and raises the same errors, as
        :meth:`contains`; returns None when no entry admits the address.
        """
        key = self._key(address, version)
        number = None if key is None else self._owners.owner(*key)
        return None if number is None else self.entries[number]

    def match_value(self, version: Version, value: int) -> Entry | None:
        """Return the first entry admitting an address already parsed.

        For callers holding the result of :func:`parse_client_address`; same
        as ``match(value, version=version)``.

        Raises:
            PolicyTypeError: ``version`` is not 4 or 6, or ``value`` is not
                an int of that family's range.
        """
        # Valid input takes a direct path, as AccessPolicy.check calls this
        # on every request it does not cache; match() raises for the rest.
        if type(value) is not int or not 0 <= value <= MAX_ADDRESS.get(version, -1):
            return self.match(value, version=version)
        if version == 6:
            version, value = unmap(version, value)
        number = self._owners.owner(version, value)
        return None if number is None else self.entries[number]

    def judge(self, address: object) -> tuple[str, Entry | None] | None:
        """Return the client address as judged, and the entry admitting it.

        The per-request question of a policy: the same reading as ``in``
        (a mapped IPv4 address is judged as IPv4), and the first entry, in
        input order, that admits the address.  Never raises.

        Args:
            address: A str or :mod:`ipaddress` object.

        Returns:
            ``(text, entry)``: the address in canonical text, and the entry
            admitting it or None; or None when ``address`` is not exactly
            one strictly written address.
        """
        if type(address) is str and ":" not in address:
            # The common case, in one call: inet_pton accepts only the
            # canonical dotted quad, so the text is already canonical.
            try:
                packed = _pton(_AF_INET, address)
            except (OSError, ValueError):
                # OSError: not an address; ValueError: an embedded NUL.
                return None
            if self._table4[packed[0] << 8 | packed[1]] == BLOCK_OUT:
                return address, None
            i = bisect_right(self._owner_starts4, packed) - 1
            return address, self._owner_entries4[i]
        parsed = parse_client_address(address)
        if parsed is None:
            return None
        number = self._owners.owner(*parsed)
        entry = None if number is None else self.entries[number]
        return format_address(*parsed), entry

    def __contains__(self, address: object) -> bool:
        # Never raises: anything but one valid address is not admitted.
        if type(address) is not str:
            parsed = parse_client_address(address)
            return parsed is not None and self.index.contains(*parsed)
        # IntervalIndex.contains_text and PackedFamily.contains, inlined for
        # IPv4: this is the per-request path, and each Python call layer
        # costs as much as the table lookup itself (benchmarks/README.md).
        # inet_pton refuses any text longer than an address after one scan.
        try:
            if ":" in address:
                packed = _pton(_AF_INET6, address)
                if packed[:12] != MAPPED_PREFIX:
                    return self._packed6.contains(packed)
                packed = packed[12:]
            else:
                packed = _pton(_AF_INET, address)
        except (OSError, ValueError):
            # OSError: not an address; ValueError: an embedded NUL character.
            return False
        verdict = self._table4[packed[0] << 8 | packed[1]]
        if verdict != BLOCK_SEARCH:
            return verdict == BLOCK_IN
        i = bisect_right(self._starts4, packed)
        return i > 0 and packed <= self._ends4[i - 1]

    def to_cidrs(self) -> list[str]:
        """Return the minimal exact CIDR cover of the admitted set."""
        return self.index.to_cidrs()

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        ranges = repr(self.index).removeprefix("<IntervalIndex ").removesuffix(">")
        count = len(self.entries)
        return (
            f"<IPAllowlist {echo(self.source)!r}: {count}"
            f" entr{'y' if count == 1 else 'ies'}, {ranges}>"
        )


def _check_options(
    source: object,
    lenient: object,
    first_line: object,
    max_line_length: object,
    max_entries: object,
) -> None:
    """Refuse options of the wrong type or range, all before any parsing."""
    if not isinstance(source, str):
        raise PolicyTypeError(f"source must be str, got {type(source).__name__}")
    if not isinstance(lenient, bool):
        raise PolicyTypeError(f"lenient must be bool, got {type(lenient).__name__}")
    for name, value in (
        ("first_line", first_line),
        ("max_line_length", max_line_length),
        ("max_entries", max_entries),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PolicyTypeError(f"{name} must be an int of at least 1, got {value!r}")
