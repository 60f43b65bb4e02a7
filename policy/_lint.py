"""Lint: every problem of an allowlist, a scope or a policy file, at once.

Loading refuses the first kind of problem and stops; lint reads leniently,
keeps going, and also reports what loads but is probably a mistake.  Each
finding is a :class:`Diagnostic` with a stable code, a level, and the line
and column of the entry at fault.  Errors (level ``error``) are what
loading would refuse, plus ``self-lockout``; the rest are warnings.

Allowlist codes: every parse error of the grammar (``host-bits-set``,
``range-reversed``, ``ipv4-leading-zero``, ...), and

- ``duplicate-entry``: the same addresses as an earlier entry;
- ``entry-inside``: every address is already admitted by one other entry;
- ``overlapping-entries``: two entries overlap, and could be one;
- ``mergeable-entries``: two adjacent entries are together exactly a CIDR;
- ``mapped-duplicate``: an IPv4-mapped IPv6 entry (``::ffff:192.0.2.1``)
  repeats addresses IPv4 entries already admit;
- ``mapped-block-overlap``: an IPv6 entry overlaps the IPv4-mapped block
  ``::ffff:0:0/96`` without lying inside it (``::/64``), so it admits no
  IPv4 client;
- ``range-single-address``: a range whose two ends are one address;
- ``range-is-cidr``: a range that is exactly a CIDR;
- ``huge-entry``: an IPv4 entry of 2**24 addresses or more (a /8), an IPv6
  entry of 2**96 or more (a /32), or a whole family (``0.0.0.0/0``);
- ``non-public-entry``: with ``internet=True``, private, shared, loopback,
  link-local or unique-local space, which no client on the internet has;
  these two judge an entry inside the IPv4-mapped block as the IPv4 space
  it stands for (``::ffff:10.0.0.0/104`` as ``10.0.0.0/8``);
- ``self-lockout`` (error): ``my_ip`` is not admitted; Commvault refuses
  to save such a list.

Scope codes: the endpoint grammar's errors (``no-leading-slash``, ...), and
``duplicate-endpoint``, ``shadowed-endpoint`` (below a shorter endpoint),
``unknown-endpoint`` (a prefix of no catalogue template; close ones are
suggested, each one an endpoint that parses), ``broad-endpoint`` (covers at
least a tenth of the catalogue) and ``placeholder-segment`` (a route
parameter such as ``/Job/:id``, which matches only a segment spelled
``:id``: endpoints are literal prefixes).  Findings come sorted by line,
column and code, with anything shaped like a token secret blanked in their
messages and texts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeGuard

from policy._catalogue import Catalogue
from policy._errors import Diagnostic, PolicyError
from policy._files import read_source
from policy._lint_allowlist import lint_allowlist_items
from policy._lint_findings import Findings, check_options, ordered, text_items
from policy._lint_scope import CatalogueChoice, lint_scope_items
from policy._policyfile import (
    MAX_POLICY_BYTES,
    loads_policy,
    locate_items,
    read_document,
)
from policy._redact import redact

__all__ = [
    "Catalogue",
    "CatalogueChoice",
    "lint_allowlist",
    "lint_allowlist_file",
    "lint_policy",
    "lint_policy_file",
    "lint_scope",
]


def lint_allowlist(
    text_or_lines: str | Iterable[str],
    *,
    source: str = "<allowlist>",
    first_line: int = 1,
    my_ip: str | None = None,
    internet: bool = False,
) -> list[Diagnostic]:
    """Report every problem of an allowlist, errors and warnings.

    Args:
        text_or_lines: The whole text, or its lines.
        source: The file name or label used in diagnostics.
        first_line: Number of the first line.
        my_ip: The address of whoever saves the list; an error when no entry
            admits it.
        internet: The list is meant for clients on the internet: warn about
            private, loopback and link-local space.

    Returns:
        The findings, sorted by line and column; empty when clean.

    Raises:
        PolicyTypeError: An argument has the wrong type, or ``my_ip`` is not
            exactly one IP address.
    """
    check_options(my_ip, internet)
    items = text_items(text_or_lines, "an allowlist")
    findings = Findings(source)
    for index, item in enumerate(items):
        findings.line_texts[first_line + index] = item
    lint_allowlist_items(
        items,
        lambda index: (first_line + index, 0),
        findings,
        my_ip=my_ip,
        internet=internet,
    )
    return ordered(findings.found)


def lint_scope(
    endpoints: str | Iterable[str],
    *,
    source: str = "<endpoints>",
    first_line: int = 1,
    case_sensitive: bool = False,
    catalogue: CatalogueChoice = "commvault",
) -> list[Diagnostic]:
    """Report every problem of a Custom scope's endpoints.

    Args:
        endpoints: One endpoint a line, or a list of endpoints.
        source: The file name or label used in diagnostics.
        first_line: Number of the first line.
        case_sensitive: Endpoints differing only by case are distinct.
        catalogue: Known endpoints to check against: ``"commvault"`` (the
            shipped catalogue), another :class:`Catalogue`, or None.

    Returns:
        The findings, sorted by line and column; empty when clean.

    Raises:
        PolicyTypeError: An argument has the wrong type.
    """
    from_list = not isinstance(endpoints, str)
    items = text_items(endpoints, "endpoints")
    findings = Findings(source)
    for index, item in enumerate(items):
        findings.line_texts[first_line + index] = item
    lint_scope_items(
        items,
        lambda index: (first_line + index, 0),
        findings,
        from_list=from_list,
        case_sensitive=case_sensitive,
        catalogue=catalogue,
    )
    return ordered(findings.found)


def lint_policy(
    text: str,
    *,
    source: str = "<policy>",
    my_ip: str | None = None,
    internet: bool = False,
    catalogue: CatalogueChoice = "commvault",
) -> list[Diagnostic]:
    """Report every problem of a policy file given as text.

    Everything loading refuses is reported (as errors), then the lint
    findings of its allowlist and endpoints, at their lines in the file.

    Args:
        text: The TOML text.
        source: The file name used in diagnostics.
        my_ip, internet: As for :func:`lint_allowlist`.
        catalogue: As for :func:`lint_scope`.

    Returns:
        The findings, sorted by line and column; empty when clean.

    Raises:
        PolicyTypeError: An argument has the wrong type, or ``my_ip`` is not
            exactly one IP address.
    """
    check_options(my_ip, internet)
    found: list[Diagnostic] = []
    try:
        loads_policy(text, source=source)
    except PolicyError as error:
        found += error.diagnostics
    try:
        document, lines = read_document(text, source=source)
    except PolicyError:
        return ordered(found)
    findings = Findings(source, dict(enumerate(lines, start=1)))

    allowlist = document.get("ip_allowlist")
    if _is_text_ortext_items(allowlist):
        items, locate = locate_items(allowlist, lines, "ip_allowlist")
        lint_allowlist_items(items, locate, findings, my_ip=my_ip, internet=internet)
    endpoints = document.get("endpoints")
    if document.get("scope") == "custom" and _is_text_ortext_items(endpoints):
        items, locate = locate_items(endpoints, lines, "endpoints")
        case = document.get("case_sensitive", False)
        lint_scope_items(
            items,
            locate,
            findings,
            from_list=isinstance(endpoints, list),
            case_sensitive=case if isinstance(case, bool) else False,
            catalogue=catalogue,
        )
    # Loading reports the same parse errors; each is kept once.
    mine = {(d.line, d.column, d.code) for d in findings.found}
    found = [d for d in found if (d.line, d.column, d.code) not in mine]
    return ordered(found + findings.found)


def _is_text_ortext_items(value: object) -> TypeGuard[str | list[str]]:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def lint_policy_file(
    path: str | Path,
    *,
    my_ip: str | None = None,
    internet: bool = False,
    catalogue: CatalogueChoice = "commvault",
) -> list[Diagnostic]:
    """Report every problem of a policy file; see :func:`lint_policy`.

    A file that cannot be used at all is no finding about its content: it
    raises, as loading does, so the caller can tell the two apart.

    Raises:
        PolicyFileError: The file cannot be read, is no regular file, is too
            large or is not UTF-8 (as :func:`policy._files.read_source`).
        PolicyTypeError: As :func:`lint_policy`.
    """
    text = read_source(path, max_bytes=MAX_POLICY_BYTES)
    return lint_policy(
        text,
        source=redact(str(path)),
        my_ip=my_ip,
        internet=internet,
        catalogue=catalogue,
    )


def lint_allowlist_file(
    path: str | Path, *, my_ip: str | None = None, internet: bool = False
) -> list[Diagnostic]:
    """Report every problem of a bare allowlist file; see :func:`lint_allowlist`.

    Raises:
        PolicyFileError: As :func:`lint_policy_file`.
        PolicyTypeError: As :func:`lint_allowlist`.
    """
    text = read_source(path)
    return lint_allowlist(
        text, source=redact(str(path)), my_ip=my_ip, internet=internet
    )
