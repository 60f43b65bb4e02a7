"""``policy replay``: decide every request of an access log and summarise."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Final

from policy._accesslog import LogRequest, Malformed, read_requests
from policy._decision import Decision
from policy._errors import echo, shown
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
# A path or client in a top table is shown this far, then the elision noted:
# a table row stays one line even for a path at the log's line limit.
_SHOWN: Final = 100


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
    clash = _overwritten_input(args)
    if clash is not None:
        return fail(clash)

    flips: FlipSummary | None = None
    with ExitStack() as stack:
        try:
            log = _open_log(args.log, stack)
            sink = None
            if args.decisions is not None:
                sink = stack.enter_context(open(args.decisions, "w", encoding="utf-8"))
        except OSError as error:
            return fail(f"cannot open {redact(str(error.filename))}: {error.strerror}")
        writer = None if sink is None else _decision_writer(sink)
        # The open file itself, not its lines: read_requests then reads it
        # in pieces bounded by the line limit.
        requests = read_requests(log)
        # Standard input has no size to show progress against.
        if not args.no_progress and sys.stderr.isatty() and str(args.log) != "-":
            requests = _with_progress(requests, log, args.log)
        if candidate is None:
            summary = replay(policy, requests, on_decision=writer)
        else:
            summary, flips = replay_against(
                policy, candidate, requests, on_decision=writer
            )

    _print_summary(args, summary, flips)
    return EXIT_YES


def _print_summary(
    args: argparse.Namespace, summary: ReplaySummary, flips: FlipSummary | None
) -> None:
    if args.format == "json":
        record = _as_json(summary, args.top)
        if flips is not None:
            record["flips"] = _flips_json(flips, args.top)
        print(json.dumps(record, indent=2))
    else:
        print(_as_text(summary, args.log, args.policy, args.top))
        if flips is not None:
            print(_flips_text(flips, args.against, args.top))


def _overwritten_input(args: argparse.Namespace) -> str | None:
    """Why ``--decisions`` would overwrite an input, or None when it would not.

    Opening the decision file truncates it, so this runs before anything is
    opened for writing.  A file that does not exist yet is no input.
    """
    decisions: Path | None = args.decisions
    if decisions is None:
        return None
    inputs = {"--policy": args.policy, "--against": args.against}
    if str(args.log) != "-":
        inputs["the log"] = args.log
    for name, path in inputs.items():
        if path is not None and _same_file(decisions, path):
            return (
                "--decisions must name a file other than the inputs, got "
                f"{shown(str(decisions))}, the same file as {name} {shown(str(path))}"
            )
    if str(args.log) == "-" and _is_stdin(decisions):
        return (
            "--decisions must name a file other than the inputs, got "
            f"{shown(str(decisions))}, the same file as standard input"
        )
    return None


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        # Missing, so no input; or not to be looked at, and then opening it
        # fails next and that error says why.
        return False


def _is_stdin(path: Path) -> bool:
    """Whether standard input is redirected from the file at ``path``."""
    try:
        return os.path.samestat(os.fstat(sys.stdin.fileno()), os.stat(path))
    except (OSError, ValueError, AttributeError):
        # Standard input is no file (a pipe, or replaced in a test).
        return False


def _open_log(path: Path, stack: ExitStack) -> IO[str]:
    """The log as text, decoded the same way from a file or standard input."""
    if str(path) != "-":
        return stack.enter_context(_decoded(open(path, "rb")))
    binary = getattr(sys.stdin, "buffer", None)
    if binary is None:
        # Standard input replaced by a text stream (a test, an embedding
        # program): there are no bytes left to decode.
        return sys.stdin
    # sys.stdin decodes as the locale and PYTHONIOENCODING say: strictly,
    # so one bad byte stops the replay, or with surrogateescape, which puts
    # the byte back raw in the output.  Read its bytes as a file's instead,
    # and detach when done, so that dropping the wrapper leaves it open.
    log = _decoded(binary)
    stack.callback(log.detach)
    return log


def _decoded(binary: IO[bytes]) -> io.TextIOWrapper:
    """A log's bytes as text lines.

    Logs hold bytes from clients: a stray invalid byte must not stop the
    replay, and the replacement character then fails path checks closed.
    Lines end only at a line feed, as ``grep -n`` counts them: a lone
    carriage return is part of its line, and one before a line feed is left
    for :func:`read_requests` to drop.
    """
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="\n")


def _with_progress(
    records: Iterator[LogRequest | Malformed], log: IO[str], path: Path
) -> Iterator[LogRequest | Malformed]:
    """The records, drawing a progress bar on stderr as lines go by."""
    size = max(1, os.path.getsize(path))
    next_draw = _PROGRESS_EVERY
    for record in records:
        if record.line >= next_draw:
            next_draw = record.line + _PROGRESS_EVERY
            _draw_progress(record.line, log, size)
        yield record
    print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


def _draw_progress(lines: int, log: IO[str], size: int) -> None:
    done = min(1.0, log.buffer.tell() / size) if hasattr(log, "buffer") else 0
    filled = int(done * 30)
    print(
        f"\r[{'#' * filled}{'.' * (30 - filled)}] {lines:,} lines",
        end="",
        file=sys.stderr,
        flush=True,
    )


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
        f"replayed {summary.total:,} requests from {shown(str(log))} "
        f"against {shown(str(policy))}",
        f"  allowed   {summary.allowed:>10,}  {100 * summary.allowed / total:5.1f}%",
        f"  denied    {summary.denied:>10,}  {100 * summary.denied / total:5.1f}%",
    ]
    out += [
        f"    {reason:<28}{count:>10,}" for reason, count in reasons_in_order(summary)
    ]
    out.append(f"  malformed lines {summary.malformed:>4,}")
    out += [f"    line {m.line}: {m.why}" for m in summary.malformed_samples]
    out += _top("top denied paths", summary.denied_paths, top)
    out += _top("top denied clients", summary.denied_clients, top)
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
        f"against {shown(str(against))}: "
        f"{flips.flipped:,} of {flips.total:,} requests flip",
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
    """A table's rows; keys come from the log, so controls are escaped."""
    rows = table.top(top)
    if not rows:
        return []
    bound = table.error_bound
    note = f" (counts may be high by at most {bound})" if bound else ""
    shown = [f"  {count:>8,}  {echo(key, _SHOWN)}" for key, count in rows]
    return [f"{title}{note}:", *shown]
