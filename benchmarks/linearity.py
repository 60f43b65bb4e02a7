"""Time to parse or match, by input size: it must grow linearly.

Usage: ``python benchmarks/linearity.py [--max-bytes N]`` prints, for each
parser and each adversarial input shape, the time at 1 KB, 10 KB, 100 KB,
1 MB and 10 MB, and the time per byte.  Linear code keeps the time per byte
flat; a quadratic one multiplies it by ten at each step.

The shapes are the worst ones known for each parser: a long word that fails
at its last character (where a regular expression with two stars over one
class backtracks), long runs of escapes and separators, many short lines.
Limits that would refuse the input first (line length, path length,
endpoint count, log line length) are raised for the measurement, so the
parsing itself is measured, not a limit refusing it; each ``run`` catches
the library's documented errors only.  The policy-file case is the one
exception: :func:`loads_policy` takes no limits, so past about 300 KB its
endpoint list stops at the default 100,000 endpoints (the TOML is still
read whole).

``tests/hardening/test_linearity.py`` runs the same cases at two small sizes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from policy import IPAllowlist, PolicyError, Scope, canonical_path, loads_policy
from policy._accesslog import read_requests
from policy._forwarded import TrustedProxies
from policy._http import read_token

__all__ = ["CASES", "SIZES", "Case", "measure"]

SIZES: Final = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
_UNLIMITED: Final = 1 << 40
_TRUSTED: Final = TrustedProxies("10.0.0.0/8", max_header_bytes=_UNLIMITED)


@dataclass(frozen=True)
class Case:
    """One parser and one input shape, built at a given size in bytes."""

    name: str
    make: Callable[[int], object]
    run: Callable[[object], object]


def _repeat(unit: str, size: int, tail: str = "") -> str:
    return unit * max(1, size // len(unit)) + tail


def _allowlist(text: object) -> object:
    try:
        return IPAllowlist.parse(str(text), max_line_length=_UNLIMITED)
    except PolicyError:
        return None


def _endpoints(text: object) -> object:
    try:
        return Scope.custom(
            str(text), max_line_length=_UNLIMITED, max_endpoints=_UNLIMITED
        )
    except PolicyError:
        return None


def _path(text: object) -> object:
    try:
        return canonical_path(str(text), max_length=_UNLIMITED)
    except PolicyError:
        return None


def _policy_file(text: object) -> object:
    try:
        return loads_policy(str(text))
    except PolicyError:
        return None


def _access_log(text: object) -> object:
    lines = str(text).splitlines()
    return sum(1 for _ in read_requests(lines, max_line_length=_UNLIMITED))


def _forwarded(headers: object) -> object:
    assert isinstance(headers, list)
    return _TRUSTED.client_address("10.0.0.2", headers)


def _credential(headers: object) -> object:
    assert isinstance(headers, list)
    return read_token(headers)


CASES: Final = (
    Case("allowlist: host-name word", lambda n: _repeat("a", n, "!"), _allowlist),
    Case("allowlist: digits and dots", lambda n: _repeat("1.", n, "x"), _allowlist),
    Case("allowlist: commas", lambda n: _repeat("10.0.0.1,", n, "x"), _allowlist),
    Case("allowlist: lines", lambda n: _repeat("10.0.0.1\n", n), _allowlist),
    Case("allowlist: ipv6 colons", lambda n: _repeat("1:", n, "g"), _allowlist),
    Case("endpoints: long word", lambda n: _repeat("/a", n, "*"), _endpoints),
    Case("endpoints: lines", lambda n: _repeat("/plan/a\n", n), _endpoints),
    Case("path: segments", lambda n: _repeat("/a", n), _path),
    Case("path: escapes", lambda n: _repeat("/%41", n, "%"), _path),
    Case("path: double slashes", lambda n: _repeat("//", n, "a"), _path),
    Case("path: utf-8 run", lambda n: _repeat("%C3%A9", n, "%C3"), _path),
    Case("path: %25 escapes", lambda n: _repeat("/%25", n, "41"), _path),
    Case(
        "policy file: endpoints",
        lambda n: 'scope = "custom"\nendpoints = """\n' + _repeat("/p\n", n) + '"""',
        _policy_file,
    ),
    Case(
        "access log: one long line",
        lambda n: '1.2.3.4 - - [x] "GET ' + _repeat("/a", n, ' "'),
        _access_log,
    ),
    Case(
        "access log: lines",
        lambda n: _repeat('1.2.3.4 - - [x] "GET /a HTTP/1.1" 200 1\n', n),
        _access_log,
    ),
    Case(
        "forwarded: for= elements",
        lambda n: [("Forwarded", _repeat("for=10.0.0.9, ", n, "for=1.2.3.4"))],
        _forwarded,
    ),
    Case(
        "forwarded: quoted escapes",
        lambda n: [("Forwarded", 'for="' + _repeat("\\a", n, "x"))],
        _forwarded,
    ),
    Case(
        "x-forwarded-for: hops",
        lambda n: [("X-Forwarded-For", _repeat("10.0.0.9,", n, "1.2.3.4"))],
        _forwarded,
    ),
    Case(
        "credential: long header",
        lambda n: [("Authorization", "Bearer " + _repeat("a ", n))],
        _credential,
    ),
)


def measure(case: Case, size: int, *, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``case`` at ``size``, in seconds."""
    value = case.make(size)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        case.run(value)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-bytes", type=int, default=SIZES[-1])
    args = parser.parse_args()
    sizes = [size for size in SIZES if size <= args.max_bytes]
    head = "".join(f"{size:>12,}" for size in sizes)
    print(f"{'case':32}{head}   ns/byte at largest")
    for case in CASES:
        times = [
            measure(case, size, repeat=1 if size > 100_000 else 3) for size in sizes
        ]
        row = "".join(f"{seconds:>11.4f}s" for seconds in times)
        per_byte = times[-1] / sizes[-1] * 1e9
        print(f"{case.name:32}{row}   {per_byte:8.1f}", flush=True)


if __name__ == "__main__":
    main()
