"""What an edit to a policy changes: address space, endpoints, settings.

Address space is compared as sets, not as text: reordering entries, writing
a range as a CIDR or splitting a CIDR in two changes nothing.  What changed
is given per family as the minimal CIDR list and the address count of the
space gained and lost.  No allowlist means every address, so removing an
allowlist gains the whole rest of both families.

Endpoints are compared by canonical path (ASCII-folded unless both policies
match case-sensitively); the All scope counts as the endpoint ``/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from policy._address import MAX_ADDRESS, Version
from policy._allowlist import IPAllowlist
from policy._errors import shown
from policy._files import is_policy_path, read_allowlist_file
from policy._index import IntervalIndex
from policy._policy import AccessPolicy
from policy._policyfile import load_policy
from policy._redact import redact
from policy._scope import ALL_RULE, Scope

__all__ = [
    "PolicyDiff",
    "SpaceChange",
    "diff_allowlists",
    "diff_files",
    "diff_policies",
    "subtract",
]

Ranges = Sequence[tuple[int, int]]


def subtract(left: Ranges, right: Ranges) -> list[tuple[int, int]]:
    """The addresses of ``left`` not in ``right``.

    Both are sorted, merged, inclusive intervals (as
    :meth:`IntervalIndex.ranges` returns them); so is the result.
    """
    result: list[tuple[int, int]] = []
    j = 0
    for first, last in left:
        # Skip the right intervals wholly before this one.
        while j < len(right) and right[j][1] < first:
            j += 1
        k = j
        while k < len(right) and right[k][0] <= last:
            low, high = right[k]
            if low > first:
                result.append((first, low - 1))
            first = high + 1
            if first > last:
                break
            k += 1
        if first <= last:
            result.append((first, last))
    return result


@dataclass(frozen=True, slots=True)
class SpaceChange:
    """Address space gained and lost in one family.

    Attributes:
        version: 4 or 6.
        gained: Minimal CIDRs of the addresses newly admitted.
        gained_count: How many addresses that is.
        lost: Minimal CIDRs of the addresses no longer admitted.
        lost_count: How many addresses that is.
    """

    version: Version
    gained: tuple[str, ...]
    gained_count: int
    lost: tuple[str, ...]
    lost_count: int


def _cidrs(version: Version, ranges: Ranges) -> tuple[str, ...]:
    return tuple(IntervalIndex((version, a, b) for a, b in ranges).to_cidrs())


def _space(allowlist: IPAllowlist | None, version: Version) -> Ranges:
    if allowlist is None:
        return [(0, MAX_ADDRESS[version])]
    return allowlist.index.ranges(version)


def diff_allowlists(
    old: IPAllowlist | None, new: IPAllowlist | None
) -> tuple[SpaceChange, SpaceChange]:
    """Compare the address space of two allowlists (None: every address).

    Returns:
        The change in IPv4, then in IPv6.
    """
    changes = []
    for version in (4, 6):
        family: Version = 4 if version == 4 else 6
        before, after = _space(old, family), _space(new, family)
        gained = subtract(after, before)
        lost = subtract(before, after)
        changes.append(
            SpaceChange(
                version=family,
                gained=_cidrs(family, gained),
                gained_count=sum(b - a + 1 for a, b in gained),
                lost=_cidrs(family, lost),
                lost_count=sum(b - a + 1 for a, b in lost),
            )
        )
    return changes[0], changes[1]


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """Everything an edit changes.

    Attributes:
        space: The address space change in IPv4 and IPv6.
        endpoints_gained: Endpoints the new policy has and the old lacks.
        endpoints_lost: Endpoints the old policy has and the new lacks.
        settings: One sentence per other change (scope, API bases, case).

    Endpoints and settings have anything shaped like a token secret blanked.
    """

    space: tuple[SpaceChange, SpaceChange]
    endpoints_gained: tuple[str, ...] = ()
    endpoints_lost: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()

    @property
    def different(self) -> bool:
        """True when the two sides differ in any way reported."""
        return bool(
            self.endpoints_gained
            or self.endpoints_lost
            or self.settings
            or any(c.gained or c.lost for c in self.space)
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        record = asdict(self)
        record["different"] = self.different
        return record

    def lines(self) -> list[str]:
        """The difference as text; one line saying so when there is none."""
        if not self.different:
            return ["no difference"]
        out = [f"~ {shown(setting)}" for setting in self.settings]
        for change in self.space:
            for sign, cidrs, count in (
                ("+", change.gained, change.gained_count),
                ("-", change.lost, change.lost_count),
            ):
                if cidrs:
                    word = "gained" if sign == "+" else "lost"
                    out.append(
                        f"IPv{change.version} {word}: {count:,} address"
                        f"{'' if count == 1 else 'es'} in {len(cidrs)} CIDR"
                        f"{'' if len(cidrs) == 1 else 's'}"
                    )
                    out += [f"  {sign} {cidr}" for cidr in cidrs]
        if self.endpoints_gained:
            out.append("endpoints gained:")
            out += [f"  + {shown(e)}" for e in self.endpoints_gained]
        if self.endpoints_lost:
            out.append("endpoints lost:")
            out += [f"  - {shown(e)}" for e in self.endpoints_lost]
        return out


def _endpoint_paths(scope: Scope, *, fold: bool) -> dict[str, str]:
    """Compared key to shown path, for each endpoint of a scope.

    The shown path has anything shaped like a token secret blanked: a diff
    is printed, and pasted into reviews.
    """
    paths = [ALL_RULE] if scope.kind == "all" else [e.path for e in scope.endpoints]
    shown: dict[str, str] = {}
    for path in paths:
        shown.setdefault(path.lower() if fold else path, redact(path))
    return shown


def _settings(old: AccessPolicy, new: AccessPolicy) -> list[str]:
    """One sentence per change of scope, API bases or case sensitivity."""
    out: list[str] = []
    if old.scope.id != new.scope.id:
        out.append(f"scope: {old.scope.name} -> {new.scope.name}")
    if old.api_base != new.api_base:
        added = sorted(set(new.api_base) - set(old.api_base))
        removed = sorted(set(old.api_base) - set(new.api_base))
        parts = [f"+{b}" for b in added] + [f"-{b}" for b in removed]
        out.append(redact(f"api_base: {' '.join(parts) or 'reordered'}"))
    if old.case_sensitive != new.case_sensitive:
        out.append(f"case_sensitive: {old.case_sensitive} -> {new.case_sensitive}")
    return out


def diff_policies(old: AccessPolicy, new: AccessPolicy) -> PolicyDiff:
    """Compare two policies."""
    fold = not (old.case_sensitive and new.case_sensitive)
    before = _endpoint_paths(old.scope, fold=fold)
    after = _endpoint_paths(new.scope, fold=fold)
    return PolicyDiff(
        space=diff_allowlists(old.allowlist, new.allowlist),
        endpoints_gained=_sorted(after[k] for k in after.keys() - before.keys()),
        endpoints_lost=_sorted(before[k] for k in before.keys() - after.keys()),
        settings=tuple(_settings(old, new)),
    )


def _sorted(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(paths, key=lambda path: (path.lower(), path)))


def _read_allowlist(path: Path) -> IPAllowlist | None:
    if is_policy_path(path):
        return load_policy(path).allowlist
    return read_allowlist_file(path)


def diff_files(old: str | Path, new: str | Path) -> PolicyDiff:
    """Compare two policy files (``.toml``, any case), or two bare allowlists.

    When only one side is a policy file, its allowlist is compared with the
    other side's.

    Raises:
        PolicyError: A file cannot be read or does not load (its
            diagnostics say where).
    """
    old_path, new_path = Path(old), Path(new)
    if is_policy_path(old_path) and is_policy_path(new_path):
        return diff_policies(load_policy(old_path), load_policy(new_path))
    space = diff_allowlists(_read_allowlist(old_path), _read_allowlist(new_path))
    return PolicyDiff(space=space)
