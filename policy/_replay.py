"""Replaying a request log against a policy, in bounded memory.

The summary keeps exact totals and exact counts per reason; the top denied
paths and clients are kept by a variant of the Space-Saving algorithm
(Metwally, Agrawal and El Abbadi, 2005), so memory and time per line stay
flat however long the log and however many distinct clients it holds.  Each
reported count is an upper bound whose error is at most the largest count
dropped when the table was full; the summary says when that happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from policy._accesslog import LogRequest, Malformed
from policy._decision import Decision, Reason
from policy._policy import AccessPolicy
from policy._redact import redact

__all__ = [
    "FlipSummary",
    "HeavyHitters",
    "ReplaySummary",
    "reasons_in_order",
    "replay",
    "replay_against",
]

# Enough to hold every distinct client of a typical day's log exactly while
# bounding memory at a few megabytes per table, keys being cut to
# _KEY_LENGTH characters (a path may be tens of kilobytes long).
_TRACKED: Final = 4096
_KEY_LENGTH: Final = 512
_MALFORMED_SAMPLES: Final = 10


class HeavyHitters:
    """The most frequent keys of a stream, in at most ``capacity`` counters.

    Invariant: every key held has a count at least its true frequency, and
    at most its true frequency plus :attr:`error_bound`.  Keys longer than
    ``_KEY_LENGTH`` characters are counted by their start, marked with "...".
    """

    __slots__ = ("_counts", "_floor", "capacity", "evicted")

    def __init__(self, capacity: int = _TRACKED) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._counts: dict[str, int] = {}
        self._floor = 0
        self.evicted = False

    def add(self, key: str) -> None:
        """Count one occurrence of ``key``."""
        if len(key) > _KEY_LENGTH:
            key = key[:_KEY_LENGTH] + "..."
        counts = self._counts
        if key in counts:
            counts[key] += 1
            return
        if len(counts) >= self.capacity:
            self._drop_lower_half()
        # Space-Saving: a new key may have been dropped before, so it starts
        # above every count dropped so far.
        counts[key] = self._floor + 1

    def _drop_lower_half(self) -> None:
        """Free half the counters at once: those at or below the median.

        Space-Saving frees the one smallest counter per new key, a scan of
        the table each time; freeing half in one sort costs the same per key
        whatever the stream, and keeps the bound: the floor becomes the
        largest count dropped.
        """
        counts = self._counts
        median = sorted(counts.values())[len(counts) // 2]
        for key in [key for key, count in counts.items() if count <= median]:
            del counts[key]
        self._floor = max(self._floor, median)
        self.evicted = True

    @property
    def error_bound(self) -> int:
        """How far any reported count may exceed the true one."""
        return self._floor if self.evicted else 0

    def top(self, n: int) -> list[tuple[str, int]]:
        """The ``n`` largest counts, largest first, ties by key."""
        ranked = sorted(self._counts.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:n]


@dataclass
class ReplaySummary:
    """What a replay found: totals, reasons, top denied paths and clients."""

    total: int = 0
    allowed: int = 0
    malformed: int = 0
    denied_by_reason: Counter[str] = field(default_factory=Counter)
    denied_paths: HeavyHitters = field(default_factory=HeavyHitters)
    denied_clients: HeavyHitters = field(default_factory=HeavyHitters)
    malformed_samples: list[Malformed] = field(default_factory=list)

    @property
    def denied(self) -> int:
        """Requests denied, for any reason."""
        return self.total - self.allowed

    def record(self, request: LogRequest, decision: Decision) -> None:
        """Count one decided request."""
        self.total += 1
        if decision.allowed:
            self.allowed += 1
            return
        self.denied_by_reason[decision.reason.value] += 1
        # The raw path and address are as a client sent them, secrets and
        # all; blanked here, every output of the tables agrees.  The
        # decision's path is blanked already, and an address it could read
        # holds none.
        path = decision.path
        self.denied_paths.add(redact(request.path) if path is None else path)
        ip = request.ip
        self.denied_clients.add(ip if decision.ip is not None else redact(ip))

    def record_malformed(self, line: Malformed) -> None:
        """Count one line that is not a request, keeping the first few."""
        self.malformed += 1
        if len(self.malformed_samples) < _MALFORMED_SAMPLES:
            self.malformed_samples.append(line)


def replay(
    policy: AccessPolicy,
    records: Iterable[LogRequest | Malformed],
    *,
    on_decision: Callable[[LogRequest, Decision], None] | None = None,
) -> ReplaySummary:
    """Decide every request of a log and summarise.

    Args:
        policy: The policy to judge by.
        records: Requests and malformed lines, as from
            :func:`policy._accesslog.read_requests`.
        on_decision: Called with each request and its decision, in order
            (to write a decision log, or a progress bar).

    Returns:
        The summary.  A malformed line is counted, never fatal.
    """
    summary = ReplaySummary()
    check = policy.check
    for record in records:
        if isinstance(record, Malformed):
            summary.record_malformed(record)
            continue
        decision = check(ip=record.ip, path=record.path, method=record.method)
        summary.record(record, decision)
        if on_decision is not None:
            on_decision(record, decision)
    return summary


def reasons_in_order(summary: ReplaySummary) -> list[tuple[str, int]]:
    """Denial reasons, most frequent first, in the order they are defined."""
    order = {reason.value: index for index, reason in enumerate(Reason)}
    return sorted(
        summary.denied_by_reason.items(),
        key=lambda item: (-item[1], order.get(item[0], len(order))),
    )


@dataclass
class FlipSummary:
    """How the decisions of a log change from one policy to another.

    Totals and reason pairs are exact; the top flipped paths and clients
    are heavy hitters (see :class:`HeavyHitters`), so memory stays flat in
    the log's length.

    Attributes:
        total: Requests decided by both policies.
        to_denied: Allowed by the old policy, denied by the new.
        to_allowed: Denied by the old policy, allowed by the new.
        reason_changed: Denied by both, for different reasons.
        pairs: Count per ``(old reason, new reason)`` of every flip and
            reason change.
        paths: Most frequent paths among flipped requests.
        clients: Most frequent clients among flipped requests.
    """

    total: int = 0
    to_denied: int = 0
    to_allowed: int = 0
    reason_changed: int = 0
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    paths: HeavyHitters = field(default_factory=HeavyHitters)
    clients: HeavyHitters = field(default_factory=HeavyHitters)

    @property
    def flipped(self) -> int:
        """Requests whose answer (allowed or denied) changed."""
        return self.to_denied + self.to_allowed

    def record(self, request: LogRequest, old: Decision, new: Decision) -> None:
        """Compare the two decisions of one request."""
        self.total += 1
        if old.reason is new.reason:
            return
        self.pairs[(old.reason.value, new.reason.value)] += 1
        if old.allowed == new.allowed:
            self.reason_changed += 1
            return
        if old.allowed:
            self.to_denied += 1
        else:
            self.to_allowed += 1
        # Blanked as in ReplaySummary.record: the raw values may hold secrets.
        self.paths.add(redact(new.path or old.path or request.path))
        self.clients.add(redact(request.ip))

    def pairs_in_order(self) -> list[tuple[tuple[str, str], int]]:
        """Reason pairs, most frequent first, ties by the pair."""
        return sorted(self.pairs.items(), key=lambda item: (-item[1], item[0]))


def replay_against(
    old: AccessPolicy,
    new: AccessPolicy,
    records: Iterable[LogRequest | Malformed],
    *,
    on_decision: Callable[[LogRequest, Decision], None] | None = None,
) -> tuple[ReplaySummary, FlipSummary]:
    """Decide every request by two policies; summarise the old and the flips.

    Args:
        old: The policy in force.
        new: The candidate.
        records: Requests and malformed lines, as for :func:`replay`.
        on_decision: Called with each request and its *old* decision.

    Returns:
        The summary of the old policy's decisions, and the flips.
    """
    summary = ReplaySummary()
    flips = FlipSummary()
    for record in records:
        if isinstance(record, Malformed):
            summary.record_malformed(record)
            continue
        before = old.check(ip=record.ip, path=record.path, method=record.method)
        after = new.check(ip=record.ip, path=record.path, method=record.method)
        summary.record(record, before)
        flips.record(record, before, after)
        if on_decision is not None:
            on_decision(record, before)
    return summary, flips
