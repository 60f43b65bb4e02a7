"""Build the seed corpus in ``fuzz/corpus/`` from the repository's test data.

Usage: ``python -m fuzz.make_corpus`` (rewrites every seed; idempotent).

Seeds are small on purpose: a fuzzer mutates short inputs far faster, and
the shapes that matter (an en dash range, a ``%2e%2E`` segment, a quoted
IPv6 ``Forwarded`` node) are all short.  Each file is named by the SHA-1 of
its content, as libFuzzer names the inputs it adds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from fuzz import TARGET_NAMES

__all__ = ["build", "seeds"]

_ROOT: Final = Path(__file__).resolve().parent.parent
_CORPUS: Final = Path(__file__).resolve().parent / "corpus"
_SEP: Final = "\udcff"  # encodes back to the separator byte 0xff

# Shapes each parser must refuse or read exactly; the test data adds more.
_PATHS: Final = (
    "/plan/7/schedule",
    "/plan?id=7#top",
    "//plan///x/",
    "/%41pi/%c3%a9",
    "/plan/%2e%2E/Client",
    "/plan/..;/Client",
    "/plan%2FClient",
    "/plan%252F",
    "/plan%0Ax",
    "/plan\\..\\x",
    "/%C0%AE%C0%AE/x",
    "http://h/plan",
    "/webconsole/api/plan/7",
    "/commandcenter/api/ClientGroup/7/x",
    "/plan#/../Client",
)
_ALLOWLISTS: Final = (
    "198.51.100.0/24            # office\n203.0.113.10 – 203.0.113.25\n",
    "2001:db8:4000::/48\n::ffff:192.0.2.1\n",
    "10.0.0.1, 10.0.0.2,\n10.0.0.5/24\n",
    "L10.0.0.5/24\n",
    "\ufeff192.0.2.0\u00a0—\u00a0192.0.2.9\r\n",
)
_ENDPOINTS: Final = (
    "# plans\n/plan\n/V4/ServerGroup/   # trailing slash\n/\n",
    "/plan?id=7\n/plan#x\n/pl*an\n/plan;x\n",
    "/Client%2FGroup\n plan\n/a b\n",
)
_FORWARDED: Final = (
    f"10.0.0.2{_SEP}X-Forwarded-For: 198.51.100.1, 203.0.113.9, 10.0.0.7",
    f'10.0.0.2{_SEP}Forwarded: for=203.0.113.9, for="[2001:db8::17]:4711"',
    f"10.0.0.2{_SEP}Forwarded: for=unknown;proto=https",
    f"10.0.0.2{_SEP}Forwarded: for=_hidden{_SEP}X-Forwarded-For: 1.2.3.4",
    f"192.0.2.1{_SEP}Authorization: Bearer cvat_abc{_SEP}Authtoken: cvat_def",
    f'::ffff:10.0.0.2{_SEP}Authtoken: QSDK abc{_SEP}Forwarded: for="a\\"b"',
)
_METHODS: Final = ("GET", "POST", "get", "G E T", "")


def _handed() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = json.loads(
        (_ROOT / "tests" / "data" / "handed.json").read_text(encoding="utf-8")
    )
    return cases


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _head(path: Path, count: int) -> list[str]:
    with path.open(encoding="utf-8", errors="replace") as stream:
        return [line for _, line in zip(range(count), stream, strict=False)]


def seeds(target: str) -> Iterator[str]:
    """Yield the seed texts of one target."""
    cases = _handed()
    if target == "allowlist":
        yield from _ALLOWLISTS
        for case in cases:
            if case.get("allowlist"):
                yield "\n".join(_strings(case["allowlist"]))
        yield "".join(_head(_ROOT / "data/ip-ranges/cloudflare-v4-ip-ranges.txt", 8))
        yield "".join(_head(_ROOT / "data/ip-ranges/cloudflare-v6-ip-ranges.txt", 4))
    elif target == "endpoints":
        yield from _ENDPOINTS
        for case in cases:
            if case.get("endpoints"):
                yield "\n".join(_strings(case["endpoints"]))
        yield "".join(_head(_ROOT / "data/commvault-endpoints.txt", 20))
    elif target == "path":
        yield from _PATHS
        for case in cases:
            yield from _strings(case.get("path"))
    elif target == "check":
        for case in cases:
            for path in _strings(case.get("path")) or ["/plan"]:
                for ip in _strings(case.get("ip")) or ["198.51.100.7"]:
                    yield f"{ip}{_SEP}{path}{_SEP}GET"
        for index, path in enumerate(_PATHS):
            yield f"198.51.100.7{_SEP}{path}{_SEP}{_METHODS[index % len(_METHODS)]}"
    elif target == "policy_file":
        for example in sorted((_ROOT / "examples").glob("*.toml")):
            text = example.read_text(encoding="utf-8")
            if len(text) < 4096:
                yield text
        yield 'scope = "all"\nip_allowlist = ["10.0.0.0/8"]\n'
        yield 'scope = "custom"\nendpoints = ["/plan", "/x?y"]\ncase_sensitive = 1\n'
    elif target == "access_log":
        yield "".join(_head(_ROOT / "data/access-logs/apache_logs", 6))
        yield '{"ip": "192.0.2.1", "method": "GET", "path": "/plan"}\n[1]\n{"ip": 1}\n'
    elif target == "forwarded":
        yield from _FORWARDED


def _write(directory: Path, texts: Iterable[str]) -> int:
    count = 0
    for text in texts:
        data = text.encode("utf-8", errors="surrogateescape")
        name = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        (directory / name).write_bytes(data)
        count += 1
    return count


def build() -> dict[str, int]:
    """Rewrite ``fuzz/corpus/<target>/`` for every target; return the counts."""
    counts = {}
    for target in TARGET_NAMES:
        directory = _CORPUS / target
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        counts[target] = _write(directory, seeds(target))
    return counts


if __name__ == "__main__":
    for name, count in build().items():
        print(f"{name}: {count} seeds")
