"""``policy replay`` holds memory flat whatever the log's lines.

SECURITY.md promises access-log line length is bounded before parsing: a
line past the limit is reported once and skipped in bounded pieces, so a
log with a huge line, or a stream with no line ending at all, costs no more
memory than a line at the limit.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from policy.cli import main

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "examples" / "plan-automation.toml"
REQUEST = '{"ip": "203.0.113.17", "method": "GET", "path": "/webconsole/api/plan"}'
# Reading in line-sized pieces needs far less above a replay of one short
# line; holding one of the test's long lines whole needs far more.
FLAT_BYTES = 2_000_000
# Resident memory of a replay that reads an endless line: Python, the
# package and its policy take a few tens of megabytes.
FLAT_RSS_KB = 150_000


def _peak_bytes(log: Path) -> tuple[int, dict[str, object]]:
    """The traced peak of one JSON replay of ``log``, and its summary."""
    out = io.StringIO()
    args = ["replay", "--policy", str(PLAN), "--no-progress", "--format", "json"]
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(out):
            status = main([*args, str(log)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 0
    summary: dict[str, object] = json.loads(out.getvalue())
    return peak, summary


def test_a_huge_line_costs_no_more_than_a_line_at_the_limit(tmp_path: Path) -> None:
    short = tmp_path / "short.log"
    short.write_text(REQUEST + "\n", encoding="utf-8")
    log = tmp_path / "access.log"
    with open(log, "w", encoding="utf-8") as out:
        out.write(REQUEST + "\n")
        out.write("\0" * 12_000_000 + "\n")
        out.write("\0" * 8_000_000)  # torn: the log ends mid-line

    # Loading the policy has a peak of its own, the same for any log.
    baseline, _ = _peak_bytes(short)
    peak, summary = _peak_bytes(log)

    assert (summary["total"], summary["allowed"], summary["malformed"]) == (1, 1, 2)
    assert summary["malformed_samples"] == [
        {"line": 2, "why": "line longer than 65536 characters"},
        {"line": 3, "why": "line longer than 65536 characters"},
    ]
    assert peak - baseline < FLAT_BYTES


def _rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1])


@pytest.mark.skipif(
    not Path("/dev/zero").exists() or not Path("/proc/self/status").exists(),
    reason="needs /dev/zero and /proc (Linux)",
)
def test_an_endless_line_keeps_memory_flat() -> None:
    # /dev/zero is one line that never ends: the replay reads on for ever,
    # and must do so in the memory of one line at the limit.
    command = [sys.executable, "-m", "policy", "replay", "--policy", str(PLAN)]
    child = subprocess.Popen(
        [*command, "--no-progress", "/dev/zero"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    highest = 0
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and child.poll() is None:
            highest = max(highest, _rss_kb(child.pid))
            if highest > FLAT_RSS_KB:
                break
            time.sleep(0.05)
        still_reading = child.poll() is None
    finally:
        child.kill()
        _, err = child.communicate(timeout=30)

    assert highest <= FLAT_RSS_KB, f"resident memory grew to {highest} kB"
    assert still_reading, err.decode(errors="replace")
