"""Lint checks of an allowlist: read leniently, then judge the entries.

See :mod:`policy._lint` for the codes.  Everything here is pure: text in,
diagnostics out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Final

from policy._address import (
    MAPPED_V4_FIRST,
    MAPPED_V4_LAST,
    MAX_ADDRESS,
    Version,
    format_address,
    parse_client_address,
    straddles_mapped_block,
)
from policy._allowlist import DEFAULT_MAX_LINE_LENGTH, Entry
from policy._entry_grammar import Problem, fast_entry, read_line
from policy._errors import PolicyTypeError, echo
from policy._index import IntervalIndex
from policy._lint_findings import Findings, Locator

__all__ = ["lint_allowlist_items"]

_BITS: Final[dict[int, int]] = {4: 32, 6: 128}
# An entry at least this large is almost never meant: a /8 for IPv4, a /32
# (a whole regional registry allocation) for IPv6.
_HUGE_PREFIX: Final[dict[int, int]] = {4: 8, 6: 32}

# Space no client on the internet has (RFC 6890 and the RFCs named).
_NON_PUBLIC: Final = (
    (4, "0.0.0.0/8", "'this network' (RFC 791)"),
    (4, "10.0.0.0/8", "private (RFC 1918)"),
    (4, "100.64.0.0/10", "shared carrier-grade NAT (RFC 6598)"),
    (4, "127.0.0.0/8", "loopback (RFC 1122)"),
    (4, "169.254.0.0/16", "link-local (RFC 3927)"),
    (4, "172.16.0.0/12", "private (RFC 1918)"),
    (4, "192.168.0.0/16", "private (RFC 1918)"),
    (6, "::1/128", "loopback (RFC 4291)"),
    (6, "fc00::/7", "unique-local (RFC 4193)"),
    (6, "fe80::/10", "link-local (RFC 4291)"),
)


def _block(version: int, cidr: str) -> tuple[int, int]:
    """The inclusive interval of one CIDR of the table above."""
    address, length = cidr.split("/")
    value = parse_client_address(address)
    if value is None:
        raise ValueError(f"not an address: {address}")
    size = 1 << (_BITS[version] - int(length))
    return value[1], value[1] + size - 1


_NON_PUBLIC_BLOCKS: Final = tuple(
    (version, *_block(version, cidr), cidr, label)
    for version, cidr, label in _NON_PUBLIC
)


def _problem(findings: Findings, line: int, offset: int, problem: Problem) -> None:
    findings.add(
        line,
        problem.offset + offset + 1,
        problem.text,
        problem.code,
        problem.message,
        problem.level,
    )


def _read_entries(
    items: Sequence[str], locate: Locator, findings: Findings
) -> list[Entry]:
    """Read every entry that can be read; report the others."""
    entries: list[Entry] = []
    for index, item in enumerate(items):
        line, offset = locate(index)
        if len(item) > DEFAULT_MAX_LINE_LENGTH:
            message = (
                f"an allowlist line must be at most {DEFAULT_MAX_LINE_LENGTH}"
                f" characters, got {len(item)}"
            )
            findings.add(line, 1 + offset, item, "line-too-long", message, "error")
            continue
        stripped = item.strip(" \t")
        value = fast_entry(stripped)
        if value is not None:
            column = len(item) - len(item.lstrip(" \t")) + 1 + offset
            entries.append(Entry(stripped, line, column, *value))
            continue
        if not stripped:
            continue
        # Lenient, so an entry with host bits still takes part in the other
        # checks; the finding itself is an error, as loading refuses it.
        read, problems = read_line(item, lenient=True)
        strict = {p.offset: p for p in read_line(item)[1]} if problems else {}
        for problem in problems:
            _problem(findings, line, offset, strict.get(problem.offset, problem))
        entries += [Entry(r.text, line, r.offset + 1 + offset, *r.value) for r in read]
    if not entries and not findings.found:
        line, offset = locate(0)
        message = (
            "an allowlist must hold at least one entry, got only blank lines"
            " or comments; leave the allowlist out to allow every address"
        )
        findings.add(line, 1 + offset, "", "empty-allowlist", message, "error")
    return entries


def _span(version: Version, first: int, last: int) -> str:
    """The text of an interval: one CIDR when it is exactly one, else a range."""
    cidrs = IntervalIndex([(version, first, last)]).to_cidrs()
    if len(cidrs) == 1:
        return cidrs[0]
    return f"{format_address(version, first)} - {format_address(version, last)}"


def _exact_cidr(entry: Entry) -> str | None:
    cidrs = IntervalIndex([(entry.version, entry.first, entry.last)]).to_cidrs()
    return cidrs[0] if len(cidrs) == 1 else None


def _check_forms(entries: Sequence[Entry], findings: Findings) -> None:
    """Ranges that are one address or exactly a CIDR."""
    for entry in entries:
        if entry.kind != "range":
            continue
        if entry.first == entry.last:
            shown = format_address(entry.version, entry.first)
            findings.at(
                entry,
                "range-single-address",
                f"a range should span more than one address, got {entry.text!r};"
                f" write the address {shown}",
            )
            continue
        cidr = _exact_cidr(entry)
        if cidr is not None:
            findings.at(
                entry,
                "range-is-cidr",
                f"a range that is exactly a CIDR reads better as the CIDR, got"
                f" {entry.text!r}; write {cidr}",
            )


def _check_overlaps(entries: Sequence[Entry], findings: Findings) -> None:
    """Duplicates, entries inside another, overlapping and mergeable pairs."""
    seen: dict[tuple[int, int, int], Entry] = {}
    distinct: list[Entry] = []
    for entry in entries:
        key = (entry.version, entry.first, entry.last)
        earlier = seen.setdefault(key, entry)
        if earlier is entry:
            distinct.append(entry)
            continue
        findings.at(
            entry,
            "duplicate-entry",
            f"entry {entry.text!r} admits the same addresses as {earlier.text!r}"
            f" at line {earlier.line}; remove one",
        )
    # Sweep each family by start, widest first, keeping the entry that
    # reaches furthest: anything ending before it lies inside it.
    ordered = sorted(distinct, key=lambda e: (e.version, e.first, -e.last, e.line))
    cover: Entry | None = None
    for entry in ordered:
        if cover is None or cover.version != entry.version:
            cover = entry
            continue
        _pair(cover, entry, findings)
        if entry.last > cover.last:
            cover = entry


def _pair(cover: Entry, entry: Entry, findings: Findings) -> None:
    """Judge one entry against the furthest-reaching entry before it."""
    where = f"{cover.text!r} at line {cover.line}"
    if entry.last <= cover.last:
        findings.at(
            entry,
            "entry-inside",
            f"entry {entry.text!r} lies inside {where}, which already admits"
            " every address of it; remove it",
        )
    elif entry.first <= cover.last:
        merged = _span(entry.version, cover.first, entry.last)
        findings.at(
            entry,
            "overlapping-entries",
            f"entry {entry.text!r} overlaps {where}; together they are"
            f" {merged}, one entry",
        )
    elif entry.first == cover.last + 1:
        merged = _span(entry.version, cover.first, entry.last)
        if "/" in merged and " " not in merged:
            findings.at(
                entry,
                "mergeable-entries",
                f"entry {entry.text!r} continues {where}; together they are"
                f" exactly {merged}, one entry",
            )


def _check_mapped(entries: Sequence[Entry], findings: Findings) -> None:
    """IPv4-mapped IPv6 entries that repeat what IPv4 entries admit."""
    fours = [e for e in entries if e.version == 4]
    index = IntervalIndex((4, e.first, e.last) for e in fours)
    for entry in entries:
        family, low, high = entry.judged()
        if entry.version != 6 or family != 4:
            continue
        if not _covered(index, low, high):
            continue
        same = next((f for f in fours if f.first == low and f.last == high), None)
        by = (
            f"the IPv4 entry {same.text!r} at line {same.line}"
            if same is not None
            else "IPv4 entries"
        )
        findings.at(
            entry,
            "mapped-duplicate",
            f"entry {entry.text!r} is the IPv4-mapped form of addresses already"
            f" admitted by {by}; clients are matched as IPv4, so remove it",
        )


def _check_straddling(entries: Sequence[Entry], findings: Findings) -> None:
    """IPv6 entries reaching beyond the IPv4-mapped block: no IPv4 client."""
    for entry in entries:
        if not straddles_mapped_block(entry.version, entry.first, entry.last):
            continue
        low = max(entry.first, MAPPED_V4_FIRST) - MAPPED_V4_FIRST
        high = min(entry.last, MAPPED_V4_LAST) - MAPPED_V4_FIRST
        findings.at(
            entry,
            "mapped-block-overlap",
            f"entry {entry.text!r} overlaps the IPv4-mapped block ::ffff:0:0/96"
            " without lying inside it, so it admits IPv6 clients only: IPv4"
            " clients are not admitted by it; if the IPv4 addresses"
            f" {_span(4, low, high)} were meant, add them as an IPv4 entry",
        )


def _covered(index: IntervalIndex, low: int, high: int) -> bool:
    """True when one merged IPv4 range of ``index`` holds all of low..high."""
    ranges = index.ranges(4)
    i = bisect_right(ranges, (low, MAX_ADDRESS[4])) - 1
    return i >= 0 and ranges[i][0] <= low and high <= ranges[i][1]


def _check_space(
    entries: Sequence[Entry], findings: Findings, *, internet: bool
) -> None:
    """Entries covering a huge space, or space no internet client has."""
    for entry in entries:
        # An entry inside the IPv4-mapped block is judged as its IPv4
        # equivalent, so it is as large, and as public, as that.
        version, first, last = entry.judged()
        bits = _BITS[version]
        size = last - first + 1
        if size == 1 << bits:
            findings.at(entry, "huge-entry", _whole_family(entry, version))
            continue
        limit = _HUGE_PREFIX[version]
        if size >= 1 << (bits - limit):
            findings.at(
                entry,
                "huge-entry",
                f"an entry should admit fewer than 2**{bits - limit} addresses"
                f" (a /{limit}), got {entry.text!r} with 2**{size.bit_length() - 1}"
                " or more; narrow it",
            )
        if internet:
            _check_public(entry, (version, first, last), findings)


def _whole_family(entry: Entry, version: Version) -> str:
    """The message of an entry admitting a whole family."""
    if version == 6:
        # Not "every address": an IPv6 entry this wide admits no IPv4 client.
        return f"entry {entry.text!r} admits every IPv6 address; narrow it"
    return (
        f"entry {entry.text!r} admits every IPv4 address; leave the allowlist"
        " out to allow every address, or narrow it"
    )


def _check_public(
    entry: Entry, judged: tuple[Version, int, int], findings: Findings
) -> None:
    family, low, high = judged
    for version, first, last, cidr, label in _NON_PUBLIC_BLOCKS:
        if version == family and low <= last and first <= high:
            findings.at(
                entry,
                "non-public-entry",
                f"entry {entry.text!r} covers {cidr}, {label} space, which no"
                " client on the internet has",
            )
            return


def _check_lockout(
    entries: Sequence[Entry], findings: Findings, my_ip: str, where: tuple[int, int]
) -> None:
    """The guard Commvault applies on save: the editor must stay admitted."""
    parsed = parse_client_address(my_ip)
    if parsed is None:
        raise PolicyTypeError(
            f"my_ip must be exactly one IP address, got {echo(my_ip)!r}"
        )
    index = IntervalIndex(part for entry in entries for part in entry.intervals())
    if index.contains(*parsed):
        return
    shown = format_address(*parsed)
    line, offset = where
    findings.add(
        line,
        1 + offset,
        "",
        "self-lockout",
        f"the allowlist must admit your own address {shown}, or saving it locks"
        " you out; got no entry that admits it",
        "error",
    )


def lint_allowlist_items(
    items: Sequence[str],
    locate: Locator,
    findings: Findings,
    *,
    my_ip: str | None,
    internet: bool,
) -> None:
    """Read the items of one allowlist and add every finding to ``findings``.

    Raises:
        PolicyTypeError: ``my_ip`` is not exactly one IP address.
    """
    entries = _read_entries(items, locate, findings)
    _check_forms(entries, findings)
    _check_overlaps(entries, findings)
    _check_mapped(entries, findings)
    _check_straddling(entries, findings)
    _check_space(entries, findings, internet=internet)
    if my_ip is not None:
        _check_lockout(entries, findings, my_ip, locate(0))
