"""Inputs shared by the benchmark suites and the comparison: lists, traffic.

Real lists come from ``data/ip-ranges`` (see its README), real traffic from
``data/access-logs/apache_logs``; synthetic inputs are drawn from a seeded
generator so that every run measures the same work.
"""

from __future__ import annotations

import json
import random
import socket
from functools import cache
from pathlib import Path
from typing import Final

__all__ = [
    "DATA",
    "LISTS",
    "endpoints",
    "fresh_traffic",
    "log_clients",
    "log_requests",
    "prefixes",
    "random_pool",
    "synthetic_prefixes",
]

DATA: Final = Path(__file__).resolve().parents[1] / "data"
RANGES: Final = DATA / "ip-ranges"
LOG: Final = DATA / "access-logs" / "apache_logs"

# The real lists, by the names the figures use.
LISTS: Final = ("aws", "azure", "github", "google-cloud", "cloudflare")

_GITHUB_SKIP: Final = frozenset(
    (
        "verifiable_password_authentication",
        "ssh_key_fingerprints",
        "ssh_keys",
        "domains",
    )
)


@cache
def prefixes(name: str) -> tuple[str, ...]:
    """Every prefix of a real list, duplicates kept, in file order."""
    if name == "cloudflare":
        text = (RANGES / "cloudflare-v4-ip-ranges.txt").read_text(encoding="utf-8")
        text += "\n" + (RANGES / "cloudflare-v6-ip-ranges.txt").read_text("utf-8")
        return tuple(text.split())
    files = {
        "aws": "aws-ip-ranges.json",
        "azure": "microsoft-azure-ip-ranges.json",
        "github": "github-ip-ranges.json",
        "google-cloud": "google-cloud-ip-ranges.json",
    }
    document = json.loads((RANGES / files[name]).read_text(encoding="utf-8"))
    if name == "aws":
        return tuple(
            [p["ip_prefix"] for p in document["prefixes"]]
            + [p["ipv6_prefix"] for p in document["ipv6_prefixes"]]
        )
    if name == "azure":
        return tuple(
            p for v in document["values"] for p in v["properties"]["addressPrefixes"]
        )
    if name == "google-cloud":
        return tuple(
            p.get("ipv4Prefix") or p["ipv6Prefix"] for p in document["prefixes"]
        )
    return tuple(
        p for key, value in document.items() if key not in _GITHUB_SKIP for p in value
    )


def _v4(rng: random.Random) -> str:
    return socket.inet_ntop(socket.AF_INET, rng.getrandbits(32).to_bytes(4))


def _v6(rng: random.Random) -> str:
    # Mostly inside 2000::/3, where provider lists and real clients live.
    value = (0x2 << 125) | rng.getrandbits(125)
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16))


def random_pool(size: int = 10_000, *, v6_share: float = 0.25) -> list[str]:
    """``size`` random client addresses, IPv4 and IPv6 mixed (seeded)."""
    rng = random.Random(5)
    return [_v6(rng) if rng.random() < v6_share else _v4(rng) for _ in range(size)]


def fresh_traffic(size: int = 100_000, *, v6_share: float = 0.25) -> list[str]:
    """Distinct random addresses, more than any recent-client table holds."""
    rng = random.Random(6)
    seen: dict[str, None] = {}
    while len(seen) < size:
        seen[_v6(rng) if rng.random() < v6_share else _v4(rng)] = None
    return list(seen)


@cache
def log_requests() -> tuple[tuple[str, str, str], ...]:
    """(client, method, path) of each request of the real access log."""
    from policy._accesslog import LogRequest, read_requests

    with LOG.open(encoding="utf-8", errors="replace") as lines:
        return tuple(
            (r.ip, r.method, r.path)
            for r in read_requests(lines)
            if isinstance(r, LogRequest)
        )


def log_clients() -> list[str]:
    """The client address of each request of the real log, in order."""
    return [ip for ip, _, _ in log_requests()]


def endpoints(count: int | None = None) -> list[str]:
    """Commvault endpoint paths without parameters or queries, unique."""
    found: dict[str, None] = {}
    text = (DATA / "commvault-endpoints.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("/"):
            path = line.split("?")[0].split("%s")[0].rstrip("/")
            if path and "{" not in path and " " not in path:
                found[path] = None
    paths = list(found)
    return paths if count is None else paths[:count]


def synthetic_prefixes(count: int, *, seed: int = 7) -> list[str]:
    """``count`` random IPv4 prefixes, /16 to /32, overlapping at random."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        length = rng.choice((16, 20, 22, 24, 24, 24, 26, 28, 32, 32))
        value = rng.getrandbits(32) >> (32 - length) << (32 - length)
        address = socket.inet_ntop(socket.AF_INET, value.to_bytes(4))
        out.append(f"{address}/{length}")
    return out
