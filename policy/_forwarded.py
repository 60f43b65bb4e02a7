"""The client address of a request behind proxies, trusted hop by hop.

By default the client is the socket peer.  ``X-Forwarded-For`` and RFC 7239
``Forwarded`` are read only when the peer is a *trusted proxy*: an address
in a list written in the IP allowlist grammar (addresses, ranges, CIDRs).
Each proxy appends the address it received the request from, so the list
is read from the right and trusted hops are skipped; the first untrusted
hop is the client.  Everything left of it was written by the client (or by
proxies nobody vouches for) and is never looked at.

With ``10.0.0.0/8`` trusted and the socket peer ``10.0.0.2``::

    X-Forwarded-For: 198.51.100.1, 203.0.113.9, 10.0.0.7
                     (spoofable)   client       trusted hop -> 203.0.113.9
    Forwarded: for=203.0.113.9, for="[2001:db8::17]:4711"
                                              -> 2001:db8::17
    X-Forwarded-For: 203.0.113.9 from peer 192.0.2.1 (not trusted)
                                              -> 192.0.2.1, header ignored

Fail closed: a hop that must be read and is not one address (``unknown``,
an obfuscated ``_hidden`` node, a host name, an empty element), a
``Forwarded`` header that does not parse, headers longer than the limit,
or both headers at once where either could be the client's, all give None,
and the engine denies with ``bad_ip``.  :func:`resolve_client` also says
why, for the decision's detail: an operator can tell headers over the size
limit from a malformed one, while the client still sees only the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from policy._address import format_address, parse_client_address
from policy._allowlist import IPAllowlist
from policy._errors import PolicyTypeError

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "ForwardedHeader",
    "ResolvedClient",
    "TrustedProxies",
    "client_address",
    "resolve_client",
]

# The forwarding headers of one request, all lines together, are refused
# beyond this: 8 KiB is the default header limit of nginx and Apache, so no
# real chain of proxies comes near it.
DEFAULT_MAX_HEADER_BYTES: Final = 8192

ForwardedHeader = Literal["x-forwarded-for", "forwarded", "either"]
_HEADER_CHOICES: Final = ("x-forwarded-for", "forwarded", "either")

# RFC 7239 section 4: forwarded-pair = token "=" value, value = token /
# quoted-string; elements are split by "," and pairs by ";".  The tokens
# are RFC 9110 tchars; quoted strings allow backslash escapes.
_PAIR: Final = re.compile(
    r"[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)="
    r"(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)|\"((?:[^\"\\]|\\.)*)\")[ \t]*"
)
# RFC 7239 section 6: node = nodename [ ":" node-port ].
_NODE_V6: Final = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}|_[\w.-]+))?")
_NODE_V4: Final = re.compile(r"([0-9.]+)(?::([0-9]{1,5}|_[\w.-]+))?")
_DISPLAY: Final = {"x-forwarded-for": "X-Forwarded-For", "forwarded": "Forwarded"}


@dataclass(frozen=True, slots=True)
class ResolvedClient:
    """The client address of a request, or why it cannot be told.

    Attributes:
        address: The canonical client address text, or None.
        refusal: When ``address`` is None because of the forwarding
            headers, one sentence saying why (the size limit, both headers,
            a hop that does not parse), for a decision's detail; None
            otherwise.  It quotes no header text.
    """

    address: str | None
    refusal: str | None = None


class TrustedProxies:
    """The proxies whose forwarding headers are believed.

    Invariant: with no entries, no peer is trusted and every request is
    judged by its socket peer.

    Args:
        entries: Proxy addresses in the allowlist grammar (``10.0.0.1``,
            ``10.0.0.0/8``, ``192.0.2.1-192.0.2.9``), as text or lines.
        header: Which header the proxies write.  ``"either"`` reads whichever
            one is present and refuses a request carrying both, because the
            proxy would have passed the other one on from the client; name
            the one your proxy writes to ignore the other.
        max_header_bytes: Longest forwarding header accepted, all lines
            together.

    Raises:
        AllowlistError: An entry does not parse (with its diagnostics).
        PolicyTypeError: ``header`` is not a choice or the limit not positive.
    """

    __slots__ = ("_allowlist", "header", "max_header_bytes")

    def __init__(
        self,
        entries: str | Iterable[str] = (),
        *,
        header: ForwardedHeader = "either",
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        if header not in _HEADER_CHOICES:
            raise PolicyTypeError(
                f"header must be one of {', '.join(_HEADER_CHOICES)}, got {header!r}"
            )
        if isinstance(max_header_bytes, bool) or not isinstance(max_header_bytes, int):
            raise PolicyTypeError(
                "max_header_bytes must be an int, "
                f"got {type(max_header_bytes).__name__}"
            )
        if max_header_bytes < 1:
            raise PolicyTypeError(
                f"max_header_bytes must be at least 1, got {max_header_bytes}"
            )
        lines = entries.splitlines() if isinstance(entries, str) else list(entries)
        has_entry = any(line.split("#", 1)[0].strip() for line in lines)
        self._allowlist = (
            IPAllowlist.parse(lines, source="<trusted-proxies>") if has_entry else None
        )
        self.header: ForwardedHeader = header
        self.max_header_bytes = max_header_bytes

    def __repr__(self) -> str:
        shown = "nobody" if self._allowlist is None else self._allowlist.to_cidrs()
        return (
            f"<TrustedProxies {shown!r} header={self.header!r} "
            f"max_header_bytes={self.max_header_bytes}>"
        )

    def trusts(self, address: str) -> bool:
        """Whether ``address`` (one strict address text) is a trusted proxy."""
        return self._allowlist is not None and address in self._allowlist

    def client_address(
        self, peer: object, headers: Iterable[tuple[str, str]]
    ) -> str | None:
        """The client address of a request; see :func:`client_address`."""
        return resolve_client(peer, headers, trusted=self).address

    def resolve(
        self, peer: object, headers: Iterable[tuple[str, str]]
    ) -> ResolvedClient:
        """The client address of a request, or why not; see :func:`resolve_client`."""
        return resolve_client(peer, headers, trusted=self)


def client_address(
    peer: object,
    headers: Iterable[tuple[str, str]],
    *,
    trusted: TrustedProxies | None = None,
) -> str | None:
    """Return the address of the client that made a request.

    Args:
        peer: The socket peer address, as text (or an ``ipaddress`` object);
            None when the server does not know it.
        headers: The request headers as ``(name, value)`` pairs, names in any
            case, repeated lines in the order received.
        trusted: The trusted proxies; None trusts nobody.

    Returns:
        The canonical client address text, or None when it cannot be told
        (no peer, a malformed peer, or a forwarding header that must be read
        and cannot be): the caller denies with ``bad_ip``.
    """
    return resolve_client(peer, headers, trusted=trusted).address


def resolve_client(
    peer: object,
    headers: Iterable[tuple[str, str]],
    *,
    trusted: TrustedProxies | None = None,
) -> ResolvedClient:
    """Return the client address of a request, or why it cannot be told.

    As :func:`client_address`, with the reason a forwarding header gave no
    address in :attr:`ResolvedClient.refusal`, such as::

        forwarding headers must be at most 8192 characters in all, got at
        least 8200; the client address cannot be told

    Args:
        peer: As for :func:`client_address`.
        headers: As for :func:`client_address`.
        trusted: As for :func:`client_address`.

    Returns:
        The address, or None with the refusal when the headers are at fault
        (a missing or malformed peer has no refusal: the engine's own
        ``bad_ip`` detail names it).
    """
    client = _canonical(peer)
    if client is None or trusted is None or not trusted.trusts(client):
        return ResolvedClient(client)

    chosen = _forwarding_lines(headers, trusted)
    if isinstance(chosen, str):
        return ResolvedClient(None, chosen)
    name, lines = chosen
    if not lines:
        return ResolvedClient(client)

    hops = _xff_hops(lines) if name == "x-forwarded-for" else _forwarded_hops(lines)
    address = None if hops is None else _first_untrusted(hops, trusted)
    if address is None:
        return ResolvedClient(
            None,
            f"the {_DISPLAY[name]} header must name the client by one IP address "
            "in each hop read, got a hop that does not (unknown, obfuscated or "
            "malformed); the client address cannot be told",
        )
    return ResolvedClient(address)


def _canonical(address: object) -> str | None:
    """The canonical text of one strict address, or None."""
    parsed = parse_client_address(address)
    return None if parsed is None else format_address(*parsed)


def _forwarding_lines(
    headers: Iterable[tuple[str, str]], trusted: TrustedProxies
) -> tuple[str, list[str]] | str:
    """The header to read and its lines, or why none can be read."""
    found: dict[str, list[str]] = {"x-forwarded-for": [], "forwarded": []}
    size = 0
    for name, value in headers:
        key = name.lower()
        if key not in found:
            continue
        size += len(value)
        if size > trusted.max_header_bytes:
            # Counting stops here, so the total is a lower bound.
            return (
                f"forwarding headers must be at most {trusted.max_header_bytes} "
                f"characters in all, got at least {size}; the client address "
                "cannot be told"
            )
        found[key].append(value)

    if trusted.header != "either":
        return trusted.header, found[trusted.header]
    if found["x-forwarded-for"] and found["forwarded"]:
        return (
            "X-Forwarded-For and Forwarded must not both be present when either "
            "may be read, got both; the client address cannot be told"
        )
    if found["forwarded"]:
        return "forwarded", found["forwarded"]
    return "x-forwarded-for", found["x-forwarded-for"]


def _first_untrusted(hops: list[str], trusted: TrustedProxies) -> str | None:
    """Walk from the right past trusted hops; the next hop is the client."""
    address = None
    for hop in reversed(hops):
        address = _node_address(hop)
        if address is None or not trusted.trusts(address):
            return address
    # Every hop is a trusted proxy: the request started at the leftmost.
    return address


def _xff_hops(lines: list[str]) -> list[str] | None:
    """Split X-Forwarded-For lines into hops, concatenated in order."""
    hops = [hop.strip(" \t") for line in lines for hop in line.split(",")]
    return hops or None


def _node_address(node: str) -> str | None:
    """The address of one hop: ``ip``, ``ip:port``, ``[v6]`` or ``[v6]:port``.

    ``unknown`` and obfuscated ``_name`` nodes (RFC 7239 section 6.2 and 6.3)
    give None: such a hop cannot be judged, so the request is denied.
    """
    bracketed = _NODE_V6.fullmatch(node)
    if bracketed is not None:
        return _canonical(bracketed.group(1))
    dotted = _NODE_V4.fullmatch(node)
    if dotted is not None:
        return _canonical(dotted.group(1))
    # A bare IPv6 address, as X-Forwarded-For writes it.
    return _canonical(node) if ":" in node else None


def _forwarded_hops(lines: list[str]) -> list[str] | None:
    """The ``for=`` node of each element of RFC 7239 ``Forwarded`` lines.

    An element without ``for`` has an unknown sender and yields ``unknown``;
    a pair that does not parse, or ``for`` twice in one element, fails the
    whole header (None).
    """
    hops: list[str] = []
    for line in lines:
        for element in _split_elements(line):
            node = _element_for(element)
            if node is None:
                return None
            # RFC 7239 section 6: an IPv6 node is always in brackets; a bare
            # one is a writer's mistake, judged like an unknown node.
            if (
                ":" in node
                and not node.startswith("[")
                and not _NODE_V4.fullmatch(node)
            ):
                node = "unknown"
            hops.append(node)
    return hops or None


def _split_elements(line: str) -> list[str]:
    """Split a header line on commas outside quoted strings."""
    elements: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            elements.append(line[start:index])
            start = index + 1
    elements.append(line[start:])
    return elements


def _element_for(element: str) -> str | None:
    """The ``for`` node of one element; ``unknown`` if none, None if bad."""
    node = "unknown"
    seen = set()
    position = 0
    while True:
        pair = _PAIR.match(element, position)
        if pair is None:
            return None
        name = pair.group(1).lower()
        if name in seen:
            return None
        seen.add(name)
        if name == "for":
            token, quoted = pair.group(2), pair.group(3)
            node = token if token is not None else re.sub(r"\\(.)", r"\1", quoted)
        position = pair.end()
        if position == len(element):
            return node
        if element[position] != ";":
            return None
        position += 1
