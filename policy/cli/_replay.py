"""``policy replay``: decide every request of an access log and summarise."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Final

from policy._accesslog import LogRequest, read_requests
from policy._decision import Decision
from policy._policy import ADAPTER_CACHE_SIZE
from policy._redact import redact
from policy._replay import (
    FlipSummary,
    HeavyHitters,
    ReplaySummary,
    reasons_in_order,
    replay,
    replay_against,
)
from policy.cli._common import (
    EXIT_UNUSABLE,
    EXIT_YES,
    Subparsers,
    fail,
    load_or_fail,
)

__all__ = ["register"]

# Redraw the progress bar every this many lines: often enough to look alive,
# rarely enough to cost nothing measurable.
_PROGRESS_EVERY: Final = 50_000


def register(subparsers: Subparsers) -> None:
    """Add the ``replay`` subcommand."""
    parser = subparsers.add_parser(
        "replay",
        help="decide every request of an access log",
        description="Read a web server access log (Common or Combined Log "
        "Format, or JSON lines with ip, method, path), decide every request "
        "and print a summary. Malformed lines are counted, never fatal.",
    )
    parser.add_argument("--policy", required=True, type=Path, metavar="P.toml")
    parser.add_argument("log", type=Path, metavar="LOG", help="the log; - for stdin")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="NEW.toml",
        help="also decide every request by this policy and summarise which "
        "requests flip from allowed to denied and back",
    )
    parser.add_argument(
        "--decisions",
        type=Path,
        metavar="FILE",
        help="write one JSON decision per request to FILE",
    )
    parser.add_argument(
        "--top",
        type=_count,
        default=10,
        metavar="N",
        help="how many top denied paths and clients (default 10)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--no-progress", action="store_true", help="never draw a progress bar"
    )
    parser.set_defaults(run=run)


def _count(text: str) -> int:
    """A number of rows to show: 0 or more."""
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return count


def run(args: argparse.Namespace) -> int:
    """Replay the log; exit 0 when it was read, 2 when it could not be."""
    policy = load_or_fail(args.policy)
    if policy is None:
        return EXIT_UNUSABLE
    # A log is real traffic, which repeats clients and paths: remember them.
    policy = policy.with_cache(ADAPTER_CACHE_SIZE)
    candidate = None
    if args.against is not None:
        candidate = load_or_fail(args.against)
        if candidate is None:
            return EXIT_UNUSABLE
        candidate = candidate.with_cache(ADAPTER_CACHE_SIZE)

    flips: FlipSummary | None = None
    with ExitStack() as stack:
        try:
            log = _open_log(args.log, stack)
            sink = None
            if args.decisions is not None:
                sink = stack.enter_context(open(args.decisions, "w", encoding="utf-8"))
        except OSError as error:
            return fail(f"cannot open {redact(str(error.filename))}: {error.strerror}")
        lines = _lines(log, args.log, show=not args.no_progress and sys.stderr.isatty())
        writer = None if sink is None else _decision_writer(sink)
        requests = read_requests(lines)
        if candidate is None:
            summary = replay(policy, requests, on_decision=writer)
        else:
            summary, flips = replay_against(
                policy, candidate, requests, on_decision=writer
            )

    if args.format == "json":
        record = _as_json(summary, args.top)
        if flips is not None:
            record["flips"] = _flips_json(flips, args.top)
        print(json.dumps(record, indent=2))
    else:
        print(_as_text(summary, args.log, args.policy, args.top))
        if flips is not None:
            print(_flips_text(flips, args.against, args.top))
    return EXIT_YES


def _open_log(path: Path, stack: ExitStack) -> IO[str]:
    if str(path) == "-":
        return sys.stdin
    # Logs hold bytes from clients; a stray invalid byte must not stop the
    # replay, and the replacement character then fails path checks closed.
    return stack.enter_context(open(path, encoding="utf-8", errors="replace"))


def _lines(log: IO[str], path: Path, *, show: bool) -> Iterator[str]:
    """The log's lines, drawing a progress bar on stderr when asked."""
    if not show or str(path) == "-":
        yield from log
        return
    size = max(1, os.path.getsize(path))
    for number, line in enumerate(log, start=1):
        if number % _PROGRESS_EVERY == 0:
            done = min(1.0, log.buffer.tell() / size) if hasattr(log, "buffer") else 0
            filled = int(done * 30)
            print(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {number:,} lines",
                end="",
                file=sys.stderr,
                flush=True,
            )
        yield line
    print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


def _decision_writer(sink: IO[str]) -> Callable[[LogRequest, Decision], None]:
    def write(request: LogRequest, decision: Decision) -> None:
        record = decision.to_dict()
        record["line"] = request.line
        sink.write(json.dumps(record, sort_keys=True) + "\n")

    return write


def _as_json(summary: ReplaySummary, top: int) -> dict[str, object]:
    return {
        "total": summary.total,
        "allowed": summary.allowed,
        "denied": summary.denied,
        "denied_by_reason": dict(reasons_in_order(summary)),
        "malformed": summary.malformed,
        "malformed_samples": [
            {"line": m.line, "why": m.why} for m in summary.malformed_samples
        ],
        "top_denied_paths": summary.denied_paths.top(top),
        "top_denied_clients": summary.denied_clients.top(top),
        "count_error_bound": max(
            summary.denied_paths.error_bound, summary.denied_clients.error_bound
        ),
    }


def _as_text(summary: ReplaySummary, log: Path, policy: Path, top: int) -> str:
    total = max(1, summary.total)
    out = [
        f"replayed {summary.total:,} requests from {log} against {policy}",
        f"  allowed   {summary.allowed:>10,}  {100 * summary.allowed / total:5.1f}%",
        f"  denied    {summary.denied:>10,}  {100 * summary.denied / total:5.1f}%",
    ]
    out += [
        f"    {reason:<28}{count:>10,}" for reason, count in reasons_in_order(summary)
    ]
    out.append(f"  malformed lines {summary.malformed:>4,}")
    out += [f"    line {m.line}: {m.why}" for m in summary.malformed_samples]
    for title, table in (
        ("top denied paths", summary.denied_paths),
        ("top denied clients", summary.denied_clients),
    ):
        rows = table.top(top)
        if rows:
            bound = (
                f" (counts may be high by at most {table.error_bound})"
                if (table.error_bound)
                else ""
            )
            out.append(f"{title}{bound}:")
            out += [f"  {count:>8,}  {key[:100]}" for key, count in rows]
    return "\n".join(out)


def _flips_json(flips: FlipSummary, top: int) -> dict[str, object]:
    return {
        "total": flips.total,
        "allowed_to_denied": flips.to_denied,
        "denied_to_allowed": flips.to_allowed,
        "reason_changed": flips.reason_changed,
        "by_reason_pair": [
            {"old": old, "new": new, "count": count}
            for (old, new), count in flips.pairs_in_order()
        ],
        "top_flipped_paths": flips.paths.top(top),
        "top_flipped_clients": flips.clients.top(top),
        "count_error_bound": max(flips.paths.error_bound, flips.clients.error_bound),
    }


def _flips_text(flips: FlipSummary, against: Path, top: int) -> str:
    out = [
        f"against {against}: {flips.flipped:,} of {flips.total:,} requests flip",
        f"  allowed -> denied  {flips.to_denied:>10,}",
        f"  denied -> allowed  {flips.to_allowed:>10,}",
        f"  denied, new reason {flips.reason_changed:>10,}",
    ]
    out += [
        f"    {old} -> {new:<28}{count:>10,}"
        for (old, new), count in flips.pairs_in_order()
    ]
    out += _top("top flipped paths", flips.paths, top)
    out += _top("top flipped clients", flips.clients, top)
    return "\n".join(out)


def _top(title: str, table: HeavyHitters, top: int) -> list[str]:
    rows = table.top(top)
    if not rows:
        return []
    bound = table.error_bound
    note = f" (counts may be high by at most {bound})" if bound else ""
    return [f"{title}{note}:"] + [f"  {count:>8,}  {key[:100]}" for key, count in rows]
