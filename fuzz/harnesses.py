"""One fuzz harness per parser: bytes in, nothing out, or a documented error.

Each harness takes the raw bytes a fuzzer (or a test) produced, turns them
into the parser's input, and calls it.  The only exceptions a harness lets
escape are the ones the parser documents:

* the :class:`~policy.PolicyError` family, for parsers that refuse bad input
  by raising (allowlist, endpoints, canonical path, policy file);
* nothing at all, for the functions documented never to raise for bad input
  (:meth:`AccessPolicy.check`, :func:`read_requests`, the forwarding header
  and credential readers): any exception there is a crash.

Beyond "does not crash", each harness checks a property that a wrong answer
would break (a canonical path is a fixed point, a decision that allows names
the rule that allowed it), raising :class:`HarnessFailure` when it does not
hold.  That class is not a :class:`~policy.PolicyError`, so a fuzzer reports
it as a crash.

Bytes become text with ``surrogateescape``: every byte string maps to a
distinct text, and invalid UTF-8 reaches the parser as lone surrogates,
which real decoders upstream can also hand over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from policy import (
    AccessPolicy,
    Decision,
    IPAllowlist,
    PolicyError,
    Reason,
    Scope,
    canonical_path,
    loads_policy,
)
from policy._accesslog import LogRequest, Malformed, read_requests
from policy._address import format_address, parse_client_address
from policy._endpoints import parse_endpoints
from policy._forwarded import TrustedProxies, client_address
from policy._http import read_token

__all__ = ["TARGETS", "Harness", "HarnessFailure"]

Harness = Callable[[bytes], None]

# Parts of one input are separated by this byte, which never occurs in UTF-8
# text, so a fuzzer can grow any part without disturbing the others.
_SEPARATOR: Final = b"\xff"


class HarnessFailure(AssertionError):
    """A property the harness checks did not hold: a bug, not bad input."""


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _parts(data: bytes, count: int) -> list[str]:
    """Split ``data`` into exactly ``count`` texts (missing ones empty)."""
    pieces = data.split(_SEPARATOR, count - 1)
    pieces += [b""] * (count - len(pieces))
    return [_text(piece) for piece in pieces]


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise HarnessFailure(what)


def fuzz_allowlist(data: bytes) -> None:
    """``IPAllowlist.parse``; a parsed list must survive its own CIDR cover."""
    lenient = data[:1] == b"L"
    try:
        allowlist = IPAllowlist.parse(_text(data), lenient=lenient)
    except PolicyError:
        return
    cidrs = allowlist.to_cidrs()
    again = IPAllowlist.parse(cidrs)
    _require(again.to_cidrs() == cidrs, "to_cidrs() is not a fixed point")
    for entry in allowlist.entries[:50]:
        address = format_address(entry.version, entry.first)
        _require(address in allowlist, f"entry {entry.text!r} admits not its first")


def fuzz_endpoints(data: bytes) -> None:
    """``parse_endpoints`` and ``Scope.custom``, as text and as a list."""
    text = _text(data)
    for given in (text, text.split("\n")):
        try:
            endpoints = parse_endpoints(given)
            scope = Scope.custom(given)
        except PolicyError:
            continue
        matcher = scope.matcher(case_sensitive=True)
        for endpoint in endpoints:
            _require(
                canonical_path(endpoint.path) == endpoint.path,
                f"endpoint path {endpoint.path!r} is not canonical",
            )
            _require(
                matcher.match(endpoint.path) is not None,
                f"scope does not allow its own endpoint {endpoint.path!r}",
            )


def fuzz_path(data: bytes) -> None:
    """``canonical_path``: the result is canonical, ASCII, and a fixed point."""
    raw = _text(data)
    try:
        path = canonical_path(raw)
    except PolicyError:
        return
    _require(path.startswith("/"), f"canonical path {path!r} is not absolute")
    _require(path.isascii(), f"canonical path {path!r} is not ASCII")
    _require("//" not in path, f"canonical path {path!r} has an empty segment")
    _require(canonical_path(path) == path, f"{path!r} is not a fixed point")


_PLAN_POLICY: Final = AccessPolicy(
    scope=Scope.custom(["/plan", "/ClientGroup/7"]),
    allowlist=IPAllowlist.parse("198.51.100.0/24\n2001:db8::/32\n::ffff:10.0.0.1"),
    api_base=["/commandcenter/api", "/webconsole/api"],
)
_OPEN_POLICY: Final = AccessPolicy(scope=Scope.all())


def fuzz_check(data: bytes) -> None:
    """``AccessPolicy.check`` never raises, and every decision is coherent."""
    ip, path, method = _parts(data, 3)
    for policy in (_PLAN_POLICY, _OPEN_POLICY):
        decision = policy.check(ip=ip, path=path, method=method or "GET")
        _check_decision(policy, decision, ip, path)


def _check_decision(
    policy: AccessPolicy, decision: Decision, ip: str, raw_path: str
) -> None:
    """An allowed request had an admitted address and a canonical path."""
    if not decision.allowed:
        _require(decision.reason is not Reason.ALLOWED, "denial says allowed")
        return
    parsed = parse_client_address(ip)
    _require(parsed is not None, f"allowed an invalid address {ip!r}")
    admitted = policy.allowlist is None or ip in policy.allowlist
    _require(admitted, f"allowed an address outside the allowlist {ip!r}")
    _require(decision.rule is not None, "an allowed decision names no rule")
    canonical = canonical_path(raw_path)
    _require(decision.path == canonical, "allowed path differs from its canonical")


def fuzz_policy_file(data: bytes) -> None:
    """``loads_policy`` from bytes and from text."""
    for given in (data, _text(data)):
        try:
            policy = loads_policy(given)
        except PolicyError:
            continue
        decision = policy.check(ip="192.0.2.1", path="/", method="GET")
        _require(isinstance(decision, Decision), "check returned no Decision")


def fuzz_access_log(data: bytes) -> None:
    """``read_requests`` never raises; every record is a request or malformed."""
    lines = _text(data).splitlines(keepends=True)
    previous = 0
    for record in read_requests(lines):
        _require(isinstance(record, LogRequest | Malformed), "unknown record")
        _require(record.line > previous, "line numbers do not increase")
        previous = record.line


_TRUSTED: Final = (
    TrustedProxies("10.0.0.0/8\nfd00::/8", header="either"),
    TrustedProxies("10.0.0.0/8", header="x-forwarded-for", max_header_bytes=256),
    TrustedProxies("10.0.0.0/8", header="forwarded"),
)


def fuzz_forwarded(data: bytes) -> None:
    """Forwarding headers and credentials of a forward-auth request."""
    peer, *lines = _parts(data, 6)
    headers = [_header(line) for line in lines]
    for peer_address in (peer, "10.0.0.2"):
        for trusted in _TRUSTED:
            found = client_address(peer_address, headers, trusted=trusted)
            _require(
                found is None or parse_client_address(found) is not None,
                f"client address {found!r} is not one address",
            )
    read = read_token(headers)
    _require(not (read.conflict and read.token is not None), "conflict and token")
    _require("***" in repr(read) or read.token is None, "token shown in repr")


def _header(line: str) -> tuple[str, str]:
    """``name: value``; a line without a colon is an X-Forwarded-For value."""
    name, colon, value = line.partition(":")
    if not colon:
        return "X-Forwarded-For", line
    return name, value.lstrip(" ")


TARGETS: Final[dict[str, Harness]] = {
    "allowlist": fuzz_allowlist,
    "endpoints": fuzz_endpoints,
    "path": fuzz_path,
    "check": fuzz_check,
    "policy_file": fuzz_policy_file,
    "access_log": fuzz_access_log,
    "forwarded": fuzz_forwarded,
}
