"""Explain one decision: which rule said yes, or which rules came closest.

:func:`explain` decides a request with :meth:`AccessPolicy.check`, which
stays the only authority, then adds what a person needs to understand the
answer: the path as received, as canonicalised and as matched (relative to
the API base); the allowlist entry that admitted the client, or the nearest
entries below and above it by numeric distance; the endpoint that allowed
the path, or the endpoints closest to it.  It is pure: no I/O, no clock.

Paths, entries and endpoints are kept with anything shaped like a token
secret blanked (a secret pasted into a request path is the usual way one
leaks), and printed with controls and bidi formatting as escapes.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from policy._address import parse_client_address
from policy._allowlist import Entry, IPAllowlist
from policy._api_base import ApiBase
from policy._decision import Decision
from policy._errors import shown
from policy._files import read_source
from policy._paths import PathError, canonical_path
from policy._policy import AccessPolicy
from policy._policyfile import (
    MAX_POLICY_BYTES,
    loads_policy,
    locate_items,
    read_document,
)
from policy._redact import redact

__all__ = ["EndpointRef", "EntryRef", "Explanation", "explain", "explain_file"]

Side = Literal["match", "below", "above"]
# Maps a 1-based line of the allowlist or endpoint text to a file line and
# a column offset.
LineMap = Callable[[int], tuple[int, int]]

_NEAREST_ENDPOINTS = 3


@dataclass(frozen=True, slots=True)
class EntryRef:
    """An allowlist entry named in an explanation.

    Attributes:
        text: The entry as typed.
        line: Its line in the file (or the allowlist text).
        column: Its column.
        side: ``match`` (it admits the client), ``below`` or ``above`` it.
        distance: Numeric distance from the client address to the nearest
            end of the entry (0 for a match).
    """

    text: str
    line: int
    column: int
    side: Side
    distance: int


@dataclass(frozen=True, slots=True)
class EndpointRef:
    """An endpoint named in an explanation, with its place."""

    text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """A decision and the evidence behind it.

    Attributes:
        decision: The decision, exactly as :meth:`AccessPolicy.check` gave.
        raw_path: The request target as given, secrets blanked (as are the
            other paths and the texts of entries and endpoints).
        canonical_path: Its canonical form; None when it was refused.
        relative_path: The canonical path relative to the API base it lies
            under (the path the scope is matched against); None when it is
            under no base or was refused.
        api_base: The base stripped, None when there is none.
        has_allowlist: False when the policy admits every address.
        admitted_by: The entry that admitted the client, if one did.
        nearest_entries: Otherwise the nearest entries below and above.
        endpoint: The endpoint that allowed the path, if one did.
        nearest_endpoints: Otherwise the endpoints closest to the path.
    """

    decision: Decision
    raw_path: str
    canonical_path: str | None
    relative_path: str | None
    api_base: str | None
    has_allowlist: bool
    admitted_by: EntryRef | None
    nearest_entries: tuple[EntryRef, ...]
    endpoint: EndpointRef | None
    nearest_endpoints: tuple[EndpointRef, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping, every string with secrets blanked."""
        record = asdict(self)
        # The decision is blanked where it is made; blanking it again here
        # keeps this output safe whatever a decision carries.
        record["decision"] = _redacted(self.decision.to_dict())
        return record

    def lines(self) -> list[str]:
        """The explanation as text, one fact a line."""
        decision = self.decision
        verdict = "allowed" if decision.allowed else "denied"
        detail = shown(decision.detail)
        out = [f"{verdict} ({decision.reason.value}): {detail}"]
        out.append(f"  path as sent:     {_quoted(self.raw_path)}")
        out.append(f"  canonical path:   {_shown(self.canonical_path)}")
        base = f" (under {shown(self.api_base)})" if self.api_base else ""
        out.append(f"  matched path:     {_shown(self.relative_path)}{base}")
        out += self._address_lines()
        out += self._endpoint_lines()
        return out

    def _address_lines(self) -> list[str]:
        if not self.has_allowlist:
            return ["  client address:   any address (no allowlist)"]
        if self.admitted_by is not None:
            entry = self.admitted_by
            return [f"  admitted by:      {_quoted(entry.text)} at line {entry.line}"]
        if self.decision.ip is None:
            return []
        out = ["  admitted by:      no entry; nearest:"]
        out += [
            f"    {e.side:<6} {_quoted(e.text)} at line {e.line}, {e.distance:,}"
            f" address{'' if e.distance == 1 else 'es'} away"
            for e in self.nearest_entries
        ]
        return out

    def _endpoint_lines(self) -> list[str]:
        if self.endpoint is not None:
            found = self.endpoint
            return [f"  allowed by:       {_quoted(found.text)} at line {found.line}"]
        if self.relative_path is None:
            return []
        if not self.nearest_endpoints:
            return ["  allowed by:       no endpoint"]
        out = ["  allowed by:       no endpoint; nearest:"]
        out += [
            f"    {_quoted(e.text)} at line {e.line}" for e in self.nearest_endpoints
        ]
        return out


def _quoted(text: str) -> str:
    # repr() writes every character str.isprintable() refuses as an escape,
    # which covers what printable() escapes (controls, bidi formatting), and
    # keeps the quoting unambiguous.
    return repr(redact(text))


def _shown(path: str | None) -> str:
    return "(refused)" if path is None else _quoted(path)


def _redacted(value: Any) -> Any:
    """``value`` with every string in it, however nested, blanked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def explain(
    policy: AccessPolicy,
    *,
    ip: object,
    path: str,
    method: str = "GET",
    entry_lines: LineMap | None = None,
    endpoint_lines: LineMap | None = None,
) -> Explanation:
    """Decide a request and gather the evidence behind the decision.

    Args:
        policy: The policy.
        ip: The client address, as for :meth:`AccessPolicy.check`.
        path: The request target, as sent.
        method: The request method.
        entry_lines: Maps an entry's line to its line and column offset in
            a file, when the allowlist came from one.
        endpoint_lines: The same for endpoints.

    Returns:
        The explanation; its ``decision`` is exactly what ``check`` says.
    """
    decision = policy.check(ip=ip, path=path, method=method)
    canonical = _canonical(path)
    relative, base = _relative(policy, canonical)
    admitted, nearest = _entries(policy.allowlist, ip, entry_lines)
    endpoint, close = _endpoints(policy, relative, endpoint_lines)
    return Explanation(
        decision=decision,
        raw_path=redact(path if isinstance(path, str) else repr(path)),
        canonical_path=_blanked(canonical),
        relative_path=_blanked(relative),
        api_base=_blanked(base),
        has_allowlist=policy.allowlist is not None,
        admitted_by=admitted,
        nearest_entries=nearest,
        endpoint=endpoint,
        nearest_endpoints=close,
    )


def _blanked(text: str | None) -> str | None:
    return None if text is None else redact(text)


def _canonical(path: object) -> str | None:
    if not isinstance(path, str):
        return None
    try:
        return canonical_path(path)
    except PathError:
        return None


def _relative(policy: AccessPolicy, path: str | None) -> tuple[str | None, str | None]:
    """The path relative to its API base, and that base."""
    if path is None or not policy.api_base:
        return path, None
    relative = ApiBase(policy.api_base).strip(
        path, case_sensitive=policy.case_sensitive
    )
    if relative is None:
        return None, None
    if relative == "/" and not path.endswith("/"):
        return relative, path  # the path is the base itself
    return relative, path[: len(path) - len(relative)] or None


def _place(line: int, column: int, lines: LineMap | None) -> tuple[int, int]:
    if lines is None:
        return line, column
    at, offset = lines(line)
    return at, column + offset


def _ref(entry: Entry, side: Side, distance: int, lines: LineMap | None) -> EntryRef:
    line, column = _place(entry.line, entry.column, lines)
    return EntryRef(redact(entry.text), line, column, side, distance)


def _entries(
    allowlist: IPAllowlist | None, ip: object, lines: LineMap | None
) -> tuple[EntryRef | None, tuple[EntryRef, ...]]:
    """The entry admitting ``ip``, or the nearest one on each side."""
    parsed = parse_client_address(ip)
    if allowlist is None or parsed is None:
        return None, ()
    version, value = parsed
    match = allowlist.match_value(version, value)
    if match is not None:
        return _ref(match, "match", 0, lines), ()

    below: tuple[int, Entry] | None = None
    above: tuple[int, Entry] | None = None
    for entry in allowlist.entries:
        for family, first, last in entry.intervals():
            if family != version:
                continue
            if last < value and (below is None or value - last < below[0]):
                below = (value - last, entry)
            if first > value and (above is None or first - value < above[0]):
                above = (first - value, entry)
    nearest = []
    if below is not None:
        nearest.append(_ref(below[1], "below", below[0], lines))
    if above is not None:
        nearest.append(_ref(above[1], "above", above[0], lines))
    return None, tuple(nearest)


def _endpoints(
    policy: AccessPolicy, relative: str | None, lines: LineMap | None
) -> tuple[EndpointRef | None, tuple[EndpointRef, ...]]:
    """The endpoint allowing ``relative``, or the closest ones."""
    scope = policy.scope
    if relative is None or not scope.endpoints:
        return None, ()
    matched = scope.matcher(case_sensitive=policy.case_sensitive).match(relative)
    refs: dict[str, EndpointRef] = {}
    for endpoint in scope.endpoints:
        line, column = _place(endpoint.line, endpoint.column, lines)
        shown = EndpointRef(redact(endpoint.text), line, column)
        refs.setdefault(endpoint.text, shown)
    if matched is not None:
        return refs[matched], ()

    def closeness(text: str) -> tuple[int, float]:
        wanted = relative.lower().split("/")
        path = text.lower().rstrip("/").split("/")
        shared = 0
        for a, b in zip(wanted, path, strict=False):
            if a != b:
                break
            shared += 1
        ratio = difflib.SequenceMatcher(None, relative.lower(), text.lower()).ratio()
        return shared, ratio

    ranked = sorted(refs, key=lambda text: closeness(text), reverse=True)
    return None, tuple(refs[text] for text in ranked[:_NEAREST_ENDPOINTS])


def explain_file(
    policy_path: str | Path, *, ip: object, path: str, method: str = "GET"
) -> Explanation:
    """Explain a request against a policy file, naming rules by file line.

    Raises:
        PolicyFileError: The file cannot be read or does not load.
    """
    # Read once: the policy and the lines that locate its rules must come
    # from the same bytes, and a second read could block or fail raw.
    source = redact(str(policy_path))
    text = read_source(policy_path, max_bytes=MAX_POLICY_BYTES)
    policy = loads_policy(text, source=source)
    document, lines = read_document(text, source=source)
    maps: dict[str, LineMap | None] = {}
    for key in ("ip_allowlist", "endpoints"):
        value = document.get(key)
        maps[key] = None
        if isinstance(value, str | list):
            _, locate = locate_items(value, lines, key)
            maps[key] = _shift(locate)
    return explain(
        policy,
        ip=ip,
        path=path,
        method=method,
        entry_lines=maps["ip_allowlist"],
        endpoint_lines=maps["endpoints"],
    )


def _shift(locate: Callable[[int], tuple[int, int]]) -> LineMap:
    """Adapt an item locator (0-based index) to 1-based item lines."""
    return lambda line: locate(line - 1)
