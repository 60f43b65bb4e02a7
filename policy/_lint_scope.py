"""Lint checks of a Custom scope's endpoints, against a catalogue.

See :mod:`policy._lint` for the codes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Final, Literal

from policy._catalogue import BROAD_SHARE, Catalogue
from policy._endpoints import Endpoint, parse_prefixes
from policy._errors import PolicyTypeError, ScopeError
from policy._lint_findings import Findings, Locator

__all__ = ["CatalogueChoice", "lint_scope_items"]

# "commvault": the shipped catalogue; None: no catalogue checks.
CatalogueChoice = Catalogue | Literal["commvault"] | None

# A route parameter as web frameworks and API docs write it (Express,
# Rails, OpenAPI tooling): ':id' stands for any id there, but an endpoint
# is a literal prefix and matches only a segment spelled ':id'.  The other
# spellings ('{id}', '%s', '<id>') are refused by the endpoint grammar.
_PLACEHOLDER: Final = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


def _read_endpoints(
    items: Sequence[str], locate: Locator, findings: Findings, *, from_list: bool
) -> list[Endpoint]:
    """Parse each endpoint on its own, so one bad line hides no other."""
    endpoints: list[Endpoint] = []
    for index, item in enumerate(items):
        line, offset = locate(index)
        try:
            found = parse_prefixes(
                [item] if from_list else item,
                source=findings.source,
                first_line=line,
                noun="endpoint",
            )
        except ScopeError as error:
            for d in error.diagnostics:
                findings.add(
                    line, d.column + offset, d.text, d.code, d.message, d.level
                )
            continue
        endpoints += [dataclasses.replace(e, column=e.column + offset) for e in found]
    if not endpoints and not findings.found:
        line, offset = locate(0)
        message = (
            "a Custom scope must list at least one endpoint: one that allows"
            " nothing is almost certainly a mistake, got none"
        )
        findings.add(line, 1 + offset, "", "empty-scope", message, "error")
    return endpoints


def _at(findings: Findings, endpoint: Endpoint, code: str, message: str) -> None:
    findings.add(endpoint.line, endpoint.column, endpoint.text, code, message)


def _check_endpoints(
    endpoints: Sequence[Endpoint],
    findings: Findings,
    *,
    case_sensitive: bool,
    catalogue: Catalogue | None,
) -> None:
    def key(path: str) -> str:
        return path if case_sensitive else path.lower()

    first: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        earlier = first.setdefault(key(endpoint.path), endpoint)
        if earlier is not endpoint:
            _at(
                findings,
                endpoint,
                "duplicate-endpoint",
                f"endpoint {endpoint.text!r} repeats {earlier.text!r} at line"
                f" {earlier.line}; remove one",
            )
    for path, endpoint in first.items():
        shorter = _shorter(path, first)
        if shorter is not None:
            _at(
                findings,
                endpoint,
                "shadowed-endpoint",
                f"endpoint {endpoint.text!r} is already allowed by"
                f" {shorter.text!r} at line {shorter.line}, which covers every"
                " path below it; remove it",
            )
        elif catalogue is not None:
            _check_known(endpoint, findings, catalogue)


def _check_placeholders(endpoints: Sequence[Endpoint], findings: Findings) -> None:
    """Endpoints holding a route parameter, which matches only itself."""
    for endpoint in endpoints:
        segments = endpoint.path.split("/")
        at = next(
            (i for i, s in enumerate(segments) if _PLACEHOLDER.fullmatch(s)), None
        )
        if at is None:
            continue
        before = "/".join(segments[:at])
        # Cutting before a first segment would leave '/', which allows all.
        fix = (
            f"write {before!r} to allow every path below it"
            if before
            else "list the literal paths it stands for"
        )
        _at(
            findings,
            endpoint,
            "placeholder-segment",
            f"an endpoint is a literal path prefix, so a placeholder segment"
            f" matches only itself, got {segments[at]!r} in {endpoint.text!r};"
            f" {fix}",
        )


def _shorter(path: str, endpoints: dict[str, Endpoint]) -> Endpoint | None:
    """The shortest endpoint above ``path`` on segment boundaries, if any."""
    if "/" in endpoints and path != "/":
        return endpoints["/"]
    segments = path.split("/")
    for size in range(2, len(segments)):
        found = endpoints.get("/".join(segments[:size]))
        if found is not None:
            return found
    return None


def _check_known(endpoint: Endpoint, findings: Findings, catalogue: Catalogue) -> None:
    """Endpoints that match no known API, or far more than their name says."""
    total = len(catalogue)
    covered = len(catalogue.covered(endpoint.path))
    if covered == 0:
        close = catalogue.suggest(endpoint.path)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        _at(
            findings,
            endpoint,
            "unknown-endpoint",
            f"endpoint {endpoint.text!r} is a prefix of none of the {total} known"
            f" API paths{hint}",
        )
    elif total and covered / total >= BROAD_SHARE:
        _at(
            findings,
            endpoint,
            "broad-endpoint",
            f"endpoint {endpoint.text!r} allows {covered} of the {total} known API"
            f" paths ({100 * covered // total}%), far more than its name"
            " suggests; list the resources it is meant for",
        )


def lint_scope_items(
    items: Sequence[str],
    locate: Locator,
    findings: Findings,
    *,
    from_list: bool,
    case_sensitive: bool,
    catalogue: CatalogueChoice,
) -> None:
    chosen = Catalogue.commvault() if catalogue == "commvault" else catalogue
    if chosen is not None and not isinstance(chosen, Catalogue):
        raise PolicyTypeError(
            "catalogue must be a Catalogue, 'commvault' or None, got"
            f" {type(catalogue).__name__}"
        )
    endpoints = _read_endpoints(items, locate, findings, from_list=from_list)
    _check_placeholders(endpoints, findings)
    _check_endpoints(
        endpoints, findings, case_sensitive=case_sensitive, catalogue=chosen
    )
