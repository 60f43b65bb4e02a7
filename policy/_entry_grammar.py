"""The grammar of allowlist lines, and the checks that give each entry its value.

One line holds entries separated by commas, then an optional ``#`` comment:

- a single address: ``10.0.0.1``, ``2001:db8::1``, ``::ffff:192.0.2.1``;
- a CIDR: ``1.1.1.0/24``, ``2001:db8:85a3::/64``;
- an inclusive range: ``1.1.1.0 – 1.1.1.25`` with an en dash, or a
  hyphen-minus, an em dash or a minus sign, spaces around it optional.

pyparsing reads the shape of a line and gives every position; the checks
here then give each entry its integer interval or a :class:`Problem` with a
stable code.  A user sees a problem as, for example::

    allowlist.txt:3:3: error host-bits-set host bits set in '10.0.0.5/24':
    write the network 10.0.0.0/24 or the single address 10.0.0.5

Most real lists are long runs of plain addresses and CIDRs, and pyparsing
costs tens of microseconds a line; :func:`fast_entry` reads those two forms
with :func:`socket.inet_pton` and returns None for everything else, so the
grammar stays the authority for every other form and for every error.
"""

from __future__ import annotations

import re
import socket
import unicodedata
from typing import Final, Literal, NamedTuple

import pyparsing as pp

from policy._address import Version, format_address
from policy._errors import Level, echo

__all__ = [
    "DASHES",
    "EntryValue",
    "Item",
    "Kind",
    "Problem",
    "fast_entry",
    "read_line",
]

Kind = Literal["address", "cidr", "range"]

# Hyphen-minus, en dash, em dash, minus sign: what people type or paste.
DASHES: Final = "-\u2013\u2014\u2212"
# The same set inside a regex character class, the hyphen escaped.
_DASH_CLASS: Final = r"\-\u2013\u2014\u2212"

# Read as a plain space, so positions in the line do not move: tab, the
# Unicode space separators (no-break, narrow no-break, figure space...) and
# the zero-width characters that copy-paste leaves behind (BOM included).
_SPACE_CHARS: Final = (
    "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff"
)
_SPACES: Final = str.maketrans(dict.fromkeys(_SPACE_CHARS, " "))

_MAX_PREFIX: Final[dict[int, int]] = {4: 32, 6: 128}
_BITS: Final[dict[int, int]] = {4: 32, 6: 128}


class EntryValue(NamedTuple):
    """The meaning of one entry: an inclusive interval of one family."""

    version: Version
    first: int
    last: int
    kind: Kind
    prefix_length: int | None


class Item(NamedTuple):
    """One entry read from a line: 0-based offset, text as typed, value."""

    offset: int
    text: str
    value: EntryValue


class Problem(NamedTuple):
    """One finding in a line: 0-based offset, span, text, code, message."""

    offset: int
    length: int
    text: str
    code: str
    message: str
    level: Level = "error"


class _Bad(Exception):
    """A check failed; carries the problem up to the entry's caller."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# --- The grammar -----------------------------------------------------------

# Address tokens are lexed loosely and judged by the checks below, so that a
# bad octet gets its own message instead of a bare "expected address".
_IPV6 = pp.Regex(
    r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[^\s,#/" + _DASH_CLASS + r"]*)?"
).set_name("IPv6 address")
_IPV4 = pp.Regex(r"[0-9]+(?:\.[0-9]+)*").set_name("IPv4 address")
_ADDRESS = pp.Located(_IPV6 | _IPV4).set_name("address")
# No space between an address and its prefix: "10.0.0.0 /24" is refused.
_PREFIX = pp.Located(pp.Regex(r"/[^\s,#]*").leave_whitespace()).set_name(
    "prefix length"
)
_DASH = pp.Regex(f"[{_DASH_CLASS}]").set_name("range dash")
_ENTRY = pp.Group(
    pp.Located(
        pp.Group(
            _ADDRESS("first")
            + pp.Optional(_PREFIX("prefix") | _DASH + _ADDRESS("last"))
        )
    )
).set_name("entry")
_COMMENT = pp.Regex(r"#.*").set_name("comment")
LINE: Final = (
    pp.Optional(pp.DelimitedList(_ENTRY, ",", allow_trailing_delim=True))
    + pp.Optional(_COMMENT).suppress()
    + pp.StringEnd()
)

# A first label holding a letter or '_', then more labels.  The letter is
# required by a lookahead, not by "[..]*[A-Za-z_][..]*": two stars over the
# same class backtrack quadratically on a long word that fails at its end.
_HOSTNAME = re.compile(
    r"(?=[A-Za-z0-9_-]*[A-Za-z_])[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?"
)
_WORD = re.compile(r"[^ ,#]*")


# --- Checks on one address, prefix and entry ----------------------------------


def _bad(offset: int, text: str, code: str, message: str) -> _Bad:
    return _Bad(Problem(offset, max(1, len(text)), text, code, message))


def _check_ipv4(text: str, offset: int) -> int:
    """Return the value of a dotted quad, or raise :class:`_Bad`."""
    octets = text.split(".")
    if len(octets) != 4:
        code = "ipv4-short-form" if len(octets) < 4 else "ipv4-too-many-octets"
        raise _bad(
            offset,
            text,
            code,
            f"an IPv4 address must have exactly 4 octets, got {len(octets)}"
            f" in {echo(text)!r}",
        )
    value = 0
    for octet in octets:
        if not (octet.isascii() and octet.isdigit()):
            raise _bad(
                offset,
                octet,
                "ipv4-octet-digits",
                f"an IPv4 octet must be 1 to 3 decimal digits, got"
                f" {echo(octet)!r} in {echo(text)!r}",
            )
        if len(octet) > 1 and octet[0] == "0":
            raise _bad(
                offset,
                octet,
                "ipv4-leading-zero",
                f"an IPv4 octet must have no leading zero (octal or decimal"
                f" is ambiguous), got {echo(octet)!r} in {echo(text)!r}",
            )
        if len(octet) > 3 or int(octet) > 255:
            raise _bad(
                offset,
                octet,
                "ipv4-octet-range",
                f"an IPv4 octet must be 0 to 255, got {echo(octet)} in {echo(text)!r}",
            )
        value = value << 8 | int(octet)
        offset += len(octet) + 1
    return value


def _ipv6_reason(text: str) -> str:
    """Say why inet_pton refused an IPv6 text, as well as cheaply known."""
    if text.count("::") > 1:
        return "'::' may appear only once"
    groups = text.split(":")
    if any(len(group) > 4 for group in groups[:-1]) or len(groups[-1]) > 4:
        return "each group must have 1 to 4 hex digits"
    return "it must have 8 groups, or fewer with one '::'"


def _check_ipv6(text: str, offset: int) -> int:
    """Return the value of an IPv6 text, or raise :class:`_Bad`."""
    zone = text.find("%")
    if zone >= 0:
        raise _bad(
            offset + zone,
            text[zone:],
            "ipv6-zone-id",
            f"an allowlist entry must have no IPv6 zone id, got"
            f" {echo(text[zone:])!r} in {echo(text)!r}",
        )
    head, _, tail = text.rpartition(":")
    if "." in tail:
        # The embedded dotted quad obeys the IPv4 rules (no leading zero).
        _check_ipv4(tail, offset + len(head) + 1)
    if "." in head:
        raise _bad(
            offset,
            text,
            "ipv6-invalid",
            "an IPv6 address may hold a dotted quad only in its last 32 bits,"
            f" got {echo(text)!r}",
        )
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text))
    except OSError:
        raise _bad(
            offset,
            text,
            "ipv6-invalid",
            f"not a valid IPv6 address ({_ipv6_reason(text)}), got {echo(text)!r}",
        ) from None


def _check_address(text: str, offset: int) -> tuple[Version, int]:
    if ":" in text:
        return 6, _check_ipv6(text, offset)
    return 4, _check_ipv4(text, offset)


def _check_prefix(text: str, offset: int, version: Version, entry: str) -> int:
    """Return the prefix length written after '/', or raise :class:`_Bad`."""
    digits = text[1:]
    limit = _MAX_PREFIX[version]
    if not digits.isascii() or not digits.isdigit():
        raise _bad(
            offset,
            text,
            "prefix-invalid",
            f"a prefix length must be a number 0 to {limit} after '/', got"
            f" {echo(digits)!r} in {echo(entry)!r}",
        )
    if len(digits) > 1 and digits[0] == "0":
        raise _bad(
            offset + 1,
            digits,
            "prefix-leading-zero",
            f"a prefix length must have no leading zero, got {echo(digits)!r}"
            f" in {echo(entry)!r}",
        )
    if len(digits) > 3 or int(digits) > limit:
        raise _bad(
            offset + 1,
            digits,
            "prefix-range",
            f"an IPv{version} prefix length must be 0 to {limit}, got"
            f" {echo(digits)} in {echo(entry)!r}",
        )
    return int(digits)


def _host_bits(
    entry: Item, network: int, *, lenient: bool
) -> tuple[Item | None, Problem]:
    """Refuse, or in lenient mode accept with a warning, a CIDR with host bits."""
    value = entry.value
    cidr = f"{format_address(value.version, network)}/{value.prefix_length}"
    single = format_address(value.version, value.first)
    shown = echo(entry.text)
    if not lenient:
        message = (
            f"host bits set in {shown!r}: write the network {cidr}"
            f" or the single address {single}"
        )
        return None, Problem(
            entry.offset, len(entry.text), entry.text, "host-bits-set", message
        )
    message = (
        f"host bits set in {shown!r}: read as the network {cidr}; write that,"
        f" or the single address {single}"
    )
    problem = Problem(
        entry.offset, len(entry.text), entry.text, "host-bits-set", message, "warning"
    )
    size = 1 << (_BITS[value.version] - (value.prefix_length or 0))
    fixed = value._replace(first=network, last=network + size - 1)
    return entry._replace(value=fixed), problem


def _cidr(version: Version, value: int, length: int) -> tuple[int, int]:
    """Return the network and broadcast integers of ``value/length``."""
    size = 1 << (_BITS[version] - length)
    network = value & ~(size - 1)
    return network, network + size - 1


def _check_range(
    first: tuple[Version, int], last: tuple[Version, int], offset: int, text: str
) -> EntryValue:
    (version, low), (other, high) = first, last
    if version != other:
        raise _bad(
            offset,
            text,
            "range-family-mismatch",
            f"both ends of a range must be the same IP version, got IPv{version}"
            f" and IPv{other} in {echo(text)!r}",
        )
    if low > high:
        fixed = f"{format_address(version, high)} - {format_address(version, low)}"
        raise _bad(
            offset,
            text,
            "range-reversed",
            f"a range must start at or below its end, got {echo(text)!r};"
            f" did you mean {fixed}?",
        )
    return EntryValue(version, low, high, "range", None)


def _check_entry(
    tokens: pp.ParseResults, line: str, *, lenient: bool
) -> tuple[Item | None, Problem | None]:
    """Give one parsed entry its value; return it and any problem found."""
    start, (group,), end = tokens
    text = line[start:end]
    first_at, (first_text,), _ = group["first"]
    try:
        version, value = _check_address(first_text, first_at)
        if "prefix" in group:
            prefix_at, (prefix_text,), _ = group["prefix"]
            length = _check_prefix(prefix_text, prefix_at, version, text)
            network, broadcast = _cidr(version, value, length)
            item = Item(
                start, text, EntryValue(version, value, broadcast, "cidr", length)
            )
            if network != value:
                return _host_bits(item, network, lenient=lenient)
            return item, None
        if "last" in group:
            last_at, (last_text,), _ = group["last"]
            last = _check_address(last_text, last_at)
            return Item(
                start, text, _check_range((version, value), last, start, text)
            ), None
        return Item(
            start, text, EntryValue(version, value, value, "address", None)
        ), None
    except _Bad as bad:
        return None, bad.problem


# --- Whole lines ---------------------------------------------------------------


def _control_character(line: str) -> Problem | None:
    """Find a control or invisible format character not read as a space."""
    for offset, char in enumerate(line):
        if char in _SPACE_CHARS or (" " <= char <= "~"):
            continue
        if unicodedata.category(char) in ("Cc", "Cf"):
            name = f"U+{ord(char):04X}"
            return Problem(
                offset,
                1,
                char,
                "control-character",
                f"an allowlist line must hold no control or invisible"
                f" character, got {name} at column {offset + 1}",
            )
    return None


def _syntax_problem(line: str, loc: int) -> Problem:
    """Explain where pyparsing stopped, in the words of the grammar."""
    while loc < len(line) and line[loc] == " ":
        loc += 1
    if loc < len(line) and line[loc] in DASHES:
        # A range whose second address is missing or unreadable.
        loc += 1
        while loc < len(line) and line[loc] == " ":
            loc += 1
    before = line[:loc].rstrip()
    word = _WORD.match(line, loc)
    got = word.group() if word and word.group() else line[loc : loc + 1]
    shown = repr(echo(got)) if got else "end of line"
    if not before or before.endswith(","):
        entry = line[loc:].split("#", 1)[0].split(",", 1)[0].strip()
        if _HOSTNAME.fullmatch(entry):
            return Problem(
                loc,
                len(entry),
                entry,
                "hostname",
                "an allowlist entry must be an address, CIDR or range,"
                f" not a host name, got {echo(entry)!r}",
            )
        return Problem(
            loc,
            max(1, len(got)),
            got,
            "not-an-address",
            f"expected an IPv4 or IPv6 address, CIDR or range, got {shown}",
        )
    if before[-1] in DASHES:
        return Problem(
            loc,
            max(1, len(got)),
            got,
            "range-incomplete",
            f"expected an address after the range dash, got {shown}",
        )
    return Problem(
        loc,
        max(1, len(got)),
        got,
        "syntax",
        f"expected ',' between entries or '#' before a comment, got {shown}",
    )


def read_line(line: str, *, lenient: bool = False) -> tuple[list[Item], list[Problem]]:
    """Read every entry of one line with the grammar of record.

    Args:
        line: One line, without its line break.
        lenient: Accept a CIDR with host bits set as its network, with a
            warning, instead of refusing it.

    Returns:
        The entries read, with their 0-based offsets in ``line``, and the
        problems found (errors and warnings).  When the line cannot be read
        at all, the one problem says where it stopped.
    """
    control = _control_character(line)
    if control is not None:
        return [], [control]
    spaced = line.translate(_SPACES)
    try:
        parsed = LINE.parse_string(spaced, parse_all=True)
    except pp.ParseException as error:
        problem = _syntax_problem(spaced, error.loc)
        return [], [problem._replace(text=line[problem.offset :][: problem.length])]
    items: list[Item] = []
    problems: list[Problem] = []
    for tokens in parsed:
        item, found = _check_entry(tokens, line, lenient=lenient)
        if item is not None:
            items.append(item)
        if found is not None:
            problems.append(found)
    return items, problems


# --- The fast path ---------------------------------------------------------------

_FAST: Final = re.compile(r"([0-9A-Fa-f:.]+)(?:/([1-9][0-9]{0,2}|0))?")


def fast_entry(text: str) -> EntryValue | None:
    """Read a plain address or CIDR quickly; None means "ask the grammar".

    Only well-formed, unambiguous text is read here: an address glibc's
    strict :func:`socket.inet_pton` accepts, optionally with a prefix length
    in range and without leading zero, and no host bits set.  Anything else,
    valid or not, returns None and goes to :func:`read_line`, which the
    property tests hold to the same answers.
    """
    match = _FAST.fullmatch(text)
    if match is None:
        return None
    address, digits = match.groups()
    try:
        if ":" in address:
            if "." in address:
                # Embedded dotted quads are left to the grammar's checks.
                return None
            version: Version = 6
            value = int.from_bytes(socket.inet_pton(socket.AF_INET6, address))
        else:
            version = 4
            value = int.from_bytes(socket.inet_pton(socket.AF_INET, address))
    except OSError:
        return None
    if digits is None:
        return EntryValue(version, value, value, "address", None)
    length = int(digits)
    if length > _MAX_PREFIX[version]:
        return None
    size = 1 << (_BITS[version] - length)
    if value & (size - 1):
        return None
    return EntryValue(version, value, value + size - 1, "cidr", length)
