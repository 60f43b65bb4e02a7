"""Client addresses: exactly one IP address, strictly parsed, as an integer.

The engine judges one client address per request.  It arrives as text (from
a socket or a trusted proxy header) or as an :mod:`ipaddress` object, and is
turned into ``(version, integer)`` here.  Anything that is not exactly one
address returns None, and the caller denies with ``bad_ip``: a forwarded-for
list such as ``203.0.113.9, 192.0.2.10`` is not a client address, and
matching any of its elements would let a client spoof an allowed hop.

Parsing uses :func:`socket.inet_pton`, which on glibc accepts only the
strict forms: full dotted quads without leading zeros (``010.0.0.1`` is
octal to ``inet_aton`` and decimal elsewhere), no ``inet_aton`` short forms
(``192.0.2``), no surrounding whitespace, no IPv6 zone id (``fe80::1%eth0``).

An IPv4-mapped IPv6 address (``::ffff:203.0.113.9``, RFC 4291 section
2.5.5.2) is how a dual-stack socket reports an IPv4 client, so it is unmapped
to the IPv4 address and IPv4 rules apply to it.  No other embedding is
unmapped: a NAT64 address (``64:ff9b::/96``, RFC 6052), a 6to4 address
(``2002::/16``, RFC 3056) or a deprecated IPv4-compatible address
(``::a.b.c.d``) is a distinct IPv6 host, reached through a translator or a
tunnel that anyone on the path may operate; reading it as the embedded IPv4
address would let a client pick which IPv4 rule judges it.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address
from typing import Final, Literal

__all__ = [
    "MAPPED_V4_FIRST",
    "MAPPED_V4_LAST",
    "MAX_ADDRESS",
    "Version",
    "format_address",
    "parse_client_address",
    "straddles_mapped_block",
    "unmap",
    "unmap_interval",
]

Version = Literal[4, 6]

# The largest integer of each family.
MAX_ADDRESS: Final[dict[int, int]] = {4: 2**32 - 1, 6: 2**128 - 1}

# ::ffff:0.0.0.0 to ::ffff:255.255.255.255, the IPv4-mapped block.
MAPPED_V4_FIRST: Final = 0xFFFF_0000_0000
MAPPED_V4_LAST: Final = 0xFFFF_FFFF_FFFF

# The longest strict text of one address: a full IPv6 address with an
# embedded dotted quad, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
_MAX_TEXT: Final = 45


def unmap(version: Version, value: int) -> tuple[Version, int]:
    """Return an IPv4-mapped IPv6 address as IPv4, anything else unchanged."""
    if version == 6 and MAPPED_V4_FIRST <= value <= MAPPED_V4_LAST:
        return 4, value - MAPPED_V4_FIRST
    return version, value


def unmap_interval(version: Version, first: int, last: int) -> tuple[Version, int, int]:
    """Return an interval lying wholly in the IPv4-mapped block as IPv4.

    Any other interval, including an IPv6 one that only overlaps the block,
    is returned unchanged: such an entry admits IPv6 clients only (see
    :mod:`policy._allowlist`).
    """
    if version == 6 and first >= MAPPED_V4_FIRST and last <= MAPPED_V4_LAST:
        return 4, first - MAPPED_V4_FIRST, last - MAPPED_V4_FIRST
    return version, first, last


def straddles_mapped_block(version: Version, first: int, last: int) -> bool:
    """True when an IPv6 interval overlaps the IPv4-mapped block, not inside it."""
    if version != 6 or last < MAPPED_V4_FIRST or first > MAPPED_V4_LAST:
        return False
    return first < MAPPED_V4_FIRST or last > MAPPED_V4_LAST


def _parse_text(value: str) -> tuple[Version, int] | None:
    """Parse one strict address text, or return None."""
    if len(value) > _MAX_TEXT:
        return None
    try:
        if ":" in value:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, value))
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, value))
    except (OSError, ValueError):
        # OSError: not an address; ValueError: an embedded NUL character.
        return None


def parse_client_address(value: object) -> tuple[Version, int] | None:
    """Read the one client address of a request.

    Accepted: ``"203.0.113.9"``, ``"2001:db8::1"``, ``"::ffff:203.0.113.9"``
    (returned as IPv4), :class:`~ipaddress.IPv4Address` and
    :class:`~ipaddress.IPv6Address` objects without a zone id.  Subclasses
    of those are refused: :class:`~ipaddress.IPv4Interface` is one, and
    carries a network as well as an address.

    Args:
        value: The address as received.

    Returns:
        ``(4, n)`` or ``(6, n)``, or None when ``value`` is not exactly one
        strictly written address (whitespace, a list, a CIDR, a zone id, a
        host name, leading zeros, another type): the caller denies.
    """
    if issubclass(type(value), str):
        # A str subclass is read as the plain string it holds, never
        # through its own methods, which could say anything.  The type, not
        # isinstance(): an object may claim str through its __class__.
        parsed = _parse_text(value if type(value) is str else str.__str__(value))
        if parsed is None:
            return None
        return unmap(*parsed)
    if type(value) is IPv4Address:
        return 4, int(value)
    if type(value) is IPv6Address:
        # A zone id names an interface, not a host; refused like its text.
        if value.scope_id is not None:
            return None
        return unmap(6, int(value))
    return None


def format_address(version: Version, value: int) -> str:
    """Return the canonical text of an address (RFC 5952 for IPv6).

    Args:
        version: 4 or 6.
        value: The address as an integer of that family.

    Returns:
        Text such as ``"192.0.2.1"`` or ``"2001:db8::1"``.

    Raises:
        ValueError: ``version`` is not 4 or 6, or ``value`` is out of range.
    """
    if version not in (4, 6):
        raise ValueError(f"IP version must be 4 or 6, got {version!r}")
    if not 0 <= value <= MAX_ADDRESS[version]:
        raise ValueError(
            f"an IPv{version} address must be 0 to {MAX_ADDRESS[version]}, got {value}"
        )
    if version == 4:
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4))
    return str(IPv6Address(value))
