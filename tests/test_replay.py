"""Replay summaries: exact totals and bounded heavy hitters."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._replay import HeavyHitters
from policy.cli import _replay as cli_replay
from policy.cli import main


def test_heavy_hitters_exact_below_capacity() -> None:
    table = HeavyHitters(capacity=10)
    for key in "abracadabra":
        table.add(key)
    assert table.top(3) == [("a", 5), ("b", 2), ("r", 2)]
    assert table.error_bound == 0


def test_heavy_hitters_count_a_long_key_by_its_start() -> None:
    # A hostile log's paths may be 64 KiB each; 4,096 of them would hold
    # 256 MiB, so keys are cut.
    table = HeavyHitters(capacity=4)
    for tail in "ab":
        table.add("/p" + "x" * 10_000 + tail)
    ((key, count),) = table.top(5)
    assert count == 2
    assert len(key) == 512 + len("...")
    assert key.endswith("x...")


def test_heavy_hitters_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        HeavyHitters(capacity=0)


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from("abcdefghijklmnop"), max_size=300),
    st.integers(min_value=1, max_value=8),
)
def test_heavy_hitters_bounds_hold(stream: list[str], capacity: int) -> None:
    table = HeavyHitters(capacity=capacity)
    for key in stream:
        table.add(key)
    truth = Counter(stream)
    held = dict(table.top(capacity))

    assert len(held) <= capacity
    for key, count in held.items():
        # Space-Saving never undercounts, and overcounts by at most the bound.
        assert truth[key] <= count <= truth[key] + table.error_bound
    # Any key more frequent than the bound is guaranteed to be held.
    for key, count in truth.items():
        if count > table.error_bound:
            assert key in held


def test_flip_summary_counts_each_direction_and_pair() -> None:
    from policy import AccessPolicy, IPAllowlist, Scope
    from policy._accesslog import read_requests
    from policy._replay import replay_against

    old = AccessPolicy(scope=Scope.custom(["/plan"]))
    new = AccessPolicy(
        scope=Scope.custom(["/plan", "/Client"]),
        allowlist=IPAllowlist.parse("192.0.2.0/24"),
    )
    log = [
        '{"ip": "192.0.2.1", "method": "GET", "path": "/plan"}',  # same
        '{"ip": "198.51.100.1", "method": "GET", "path": "/plan"}',  # to denied
        '{"ip": "192.0.2.1", "method": "GET", "path": "/Client"}',  # to allowed
        '{"ip": "198.51.100.1", "method": "GET", "path": "/x"}',  # new reason
        "torn",
    ]
    summary, flips = replay_against(old, new, read_requests(log))

    assert (summary.total, summary.allowed, summary.malformed) == (4, 2, 1)
    assert (flips.total, flips.to_denied, flips.to_allowed) == (4, 1, 1)
    assert flips.reason_changed == 1
    assert flips.pairs_in_order() == [
        (("allowed", "ip_not_allowed"), 1),
        (("out_of_scope", "allowed"), 1),
        (("out_of_scope", "ip_not_allowed"), 1),
    ]
    assert flips.paths.top(5) == [("/Client", 1), ("/plan", 1)]
    assert flips.clients.top(5) == [("192.0.2.1", 1), ("198.51.100.1", 1)]


# --- untrusted values in the top tables

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "plan-automation.toml"
LOG = ROOT / "data" / "access-logs" / "apache_logs"
SECRET = "cvpat_" + "Q" * 43 + "_" + "R" * 6
# A secret in a path that does not canonicalise (the decision holds no
# path, so the raw one is counted), one in the client field, and a path
# carrying terminal commands: colour, window title, bell.
HOSTILE_LOG = (
    f'192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET /webconsole/api/plan/'
    f'{SECRET}/%2e%2e HTTP/1.1" 200 1\n'
    f'{{"ip": "{SECRET}", "method": "GET", "path": "/y"}}\n'
    '{"ip": "198.51.100.7", "method": "GET", '
    '"path": "/x\\u001b[31mRED\\u001b]0;pwned\\u0007"}\n'
)
TERMINAL = ("\x1b", "\x07")


def _hostile_log(tmp_path: Path) -> Path:
    log = tmp_path / "access.log"
    log.write_text(HOSTILE_LOG, encoding="utf-8")
    return log


def test_secrets_are_blanked_where_denials_are_counted() -> None:
    from policy import AccessPolicy, Scope
    from policy._accesslog import read_requests
    from policy._replay import replay

    plan = AccessPolicy(scope=Scope.custom(["/plan"]))
    summary = replay(plan, read_requests(HOSTILE_LOG.splitlines()))

    paths = dict(summary.denied_paths.top(10))
    clients = dict(summary.denied_clients.top(10))
    assert not [key for key in [*paths, *clients] if "Q" * 8 in key]
    assert paths["/webconsole/api/plan/cvpat_***/%2e%2e"] == 1
    assert clients["cvpat_***"] == 1


def test_secrets_are_blanked_where_flips_are_counted() -> None:
    from policy._accesslog import LogRequest
    from policy._decision import Decision, Reason
    from policy._replay import FlipSummary

    # Records as a policy could give them with no path to fall back on.
    request = LogRequest(1, SECRET, "GET", f"/plan/{SECRET}/%2e%2e")
    allowed = Decision(True, Reason.ALLOWED, "allowed")
    denied = Decision(False, Reason("ip_not_allowed"), "denied")
    flips = FlipSummary()
    flips.record(request, allowed, denied)
    flips.record(request, denied, allowed)

    assert flips.paths.top(5) == [("/plan/cvpat_***/%2e%2e", 2)]
    assert flips.clients.top(5) == [("cvpat_***", 2)]


@pytest.mark.parametrize("output", ["text", "json"])
def test_replay_output_holds_no_secret_and_no_terminal_command(
    tmp_path: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _hostile_log(tmp_path)
    new = tmp_path / "new.toml"
    new.write_text('scope = "custom"\nendpoints = ["/z"]\n', encoding="utf-8")
    args = ["replay", "--policy", str(new), "--against", str(PLAN), str(log)]

    assert main([*args, "--no-progress", "--format", output]) == 0

    out = capsys.readouterr().out
    assert "Q" * 8 not in out
    assert "cvpat_***" in out
    assert not [c for c in TERMINAL if c in out]
    if output == "text":
        assert "/x\\x1b[31mRED\\x1b]0;pwned\\x07" in out
    else:
        record = json.loads(out)
        paths = dict(record["top_denied_paths"])
        assert paths["/x\x1b[31mRED\x1b]0;pwned\x07"] == 1


def test_a_raw_escape_byte_in_a_common_log_line_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(
        b'192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET /a\x1b[2J\xe2\x80\xaeb '
        b'HTTP/1.1" 200 1\n'
    )

    assert main(["replay", "--policy", str(PLAN), "--no-progress", str(log)]) == 0

    out = capsys.readouterr().out
    assert "/a\\x1b[2J\\u202eb" in out
    assert "\x1b" not in out
    assert "\u202e" not in out


def test_a_long_key_is_cut_and_the_cut_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        '{"ip": "192.0.2.1", "method": "GET", "path": "/' + "a" * 149 + '"}\n',
        encoding="utf-8",
    )

    assert main(["replay", "--policy", str(PLAN), "--no-progress", str(log)]) == 0

    out = capsys.readouterr().out
    assert f"  /{'a' * 99}... (50 more characters)\n" in out


# --- the log read from a file or standard input


def test_an_overlong_line_is_reported_once_and_the_next_line_numbered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    request = '{"ip": "203.0.113.17", "method": "GET", "path": "/webconsole/api/plan"}'
    log.write_text("x" * 300_000 + "\n" + request + "\n", encoding="utf-8")

    args = ["replay", "--policy", str(PLAN), "--no-progress", "--format", "json"]
    assert main([*args, str(log)]) == 0

    record = json.loads(capsys.readouterr().out)
    assert (record["total"], record["allowed"], record["malformed"]) == (1, 1, 1)
    assert record["malformed_samples"] == [
        {"line": 1, "why": "line longer than 65536 characters"}
    ]


def test_standard_input_is_read_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request = '{"ip": "203.0.113.17", "method": "GET", "path": "/webconsole/api/plan"}'
    text = request + "\n" + "y" * 70_000 + "\n\n" + request
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    # An older decision file is replaced as before: it is no input.
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text("old\n", encoding="utf-8")

    args = ["replay", "--policy", str(PLAN), "--format", "json"]
    assert main([*args, "--decisions", str(decisions), "-"]) == 0

    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert (record["total"], record["allowed"], record["malformed"]) == (2, 2, 1)
    assert record["malformed_samples"][0]["line"] == 2
    assert [
        json.loads(line)["line"] for line in decisions.read_text().splitlines()
    ] == [1, 4]
    assert captured.err == ""


def test_progress_is_drawn_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_replay, "_PROGRESS_EVERY", 4_000)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    assert main(["replay", "--policy", str(PLAN), str(LOG)]) == 0

    err = capsys.readouterr().err
    assert "] 4,000 lines" in err
    assert "] 8,000 lines" in err
    assert err.endswith("\r" + " " * 60 + "\r")


# --- the decision file never overwrites an input


@pytest.mark.parametrize("target", ["policy", "against", "log", "log_link"])
def test_decisions_over_an_input_are_refused_before_writing(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.toml"
    policy.write_bytes(PLAN.read_bytes())
    against = tmp_path / "new.toml"
    against.write_text('scope = "all"\n', encoding="utf-8")
    log = _hostile_log(tmp_path)
    (tmp_path / "log_link").symlink_to(log)
    files = {"policy": policy, "against": against, "log": log}
    named = {"policy": "--policy", "against": "--against", "log": "the log"}
    before = {path: path.read_bytes() for path in files.values()}
    decisions = tmp_path / target if target == "log_link" else files[target]

    status = main(
        [
            "replay",
            "--policy",
            str(policy),
            "--against",
            str(against),
            "--decisions",
            str(decisions),
            str(log),
        ]
    )

    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    what = named[target.removesuffix("_link")]
    shown = files[target.removesuffix("_link")]
    assert captured.err == (
        "policy: --decisions must name a file other than the inputs, got "
        f"{decisions}, the same file as {what} {shown}\n"
    )
    assert {path: path.read_bytes() for path in files.values()} == before


def test_decisions_over_a_log_on_standard_input_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _hostile_log(tmp_path)
    with open(log, encoding="utf-8") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        args = ["replay", "--policy", str(PLAN), "--decisions", str(log), "-"]
        assert main(args) == 2

    assert log.read_text(encoding="utf-8") == HOSTILE_LOG
    assert capsys.readouterr().err.endswith(
        f"got {log}, the same file as standard input\n"
    )


def test_decisions_name_shown_without_secret_or_controls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / f"{SECRET}\x1b[2J.toml"
    policy.write_bytes(PLAN.read_bytes())
    log = _hostile_log(tmp_path)

    args = ["replay", "--policy", str(policy), "--decisions", str(policy), str(log)]
    assert main(args) == 2

    err = capsys.readouterr().err
    assert "Q" * 8 not in err
    assert "cvpat_***\\x1b[2J.toml" in err
    assert "\x1b" not in err


def test_a_new_decision_file_is_still_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _hostile_log(tmp_path)
    decisions = tmp_path / "decisions.jsonl"

    args = ["replay", "--policy", str(PLAN), "--decisions", str(decisions), str(log)]
    assert main([*args, "--no-progress"]) == 0
    assert main([*args, "--no-progress"]) == 0

    capsys.readouterr()
    assert len(decisions.read_text(encoding="utf-8").splitlines()) == 3


def test_flip_tables_show_keys_escaped_and_blanked() -> None:
    from policy._accesslog import LogRequest
    from policy._decision import Decision, Reason
    from policy._replay import FlipSummary

    request = LogRequest(1, f"\x1b]0;{SECRET}\x07", "GET", "/a\x1b[2J\u202eb")
    allowed = Decision(True, Reason.ALLOWED, "allowed")
    denied = Decision(False, Reason("ip_not_allowed"), "denied")
    flips = FlipSummary()
    flips.record(request, allowed, denied)

    text = cli_replay._flips_text(flips, Path("new.toml"), 10)
    shown = json.dumps(cli_replay._flips_json(flips, 10))

    assert "  1  /a\\x1b[2J\\u202eb\n" in text
    assert text.endswith("  1  \\x1b]0;cvpat_***\\x07")
    for out in (text, shown):
        assert "Q" * 8 not in out
        assert not [c for c in (*TERMINAL, "\u202e") if c in out]


# --- standard input is read exactly as a file is

# A client's byte 0x9b, invalid UTF-8 and, passed on raw, the 8-bit CSI that
# opens a terminal command.
INVALID_UTF8_LOG = b'192.0.2.1 - - [x] "GET /a\x9b31mb HTTP/1.1" 200 1\n'
CRLF_PAD = '192.0.2.1 - - [x] "GET /{} HTTP/1.1" 200 1'
# Lines end only at LF, as grep -n counts them: a lone CR is part of its line
# (a path, a torn record), a CR before LF is dropped with it and counts as
# one character towards the limit, as a LF does; the last line is torn.
LONE_CR_LOG = b"\n".join(
    [
        b'192.0.2.1 - - [x] "GET /a HTTP/1.1" 200 1',
        b'192.0.2.2 - - [x] "GET /a\rb HTTP/1.1" 200 1',
        b"junk\rjunk",
        CRLF_PAD.format("a" * (65_535 - len(CRLF_PAD) + 2)).encode() + b"\r",
        CRLF_PAD.format("a" * (65_536 - len(CRLF_PAD) + 2)).encode() + b"\r",
        b"bad",
        b'192.0.2.7 - - [x] "GET /c HTTP/1.1" 200 1\r',
    ]
)


def _replay_json(
    log: bytes,
    how: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[Any, list[int]]:
    """The JSON summary and the decided line numbers, the log given ``how``."""
    decisions = tmp_path / "decisions.jsonl"
    args = ["replay", "--policy", str(PLAN), "--no-progress", "--format", "json"]
    args += ["--decisions", str(decisions)]
    if how == "file":
        path = tmp_path / "access.log"
        path.write_bytes(log)
        args.append(str(path))
    else:
        # A standard input whose own decoding suits no log: strict ASCII,
        # universal newlines.  Its bytes must be read as a file's are.
        stdin = io.TextIOWrapper(io.BytesIO(log), encoding="ascii", newline=None)
        monkeypatch.setattr(sys, "stdin", stdin)
        args.append("-")

    assert main(args) == 0

    if how == "stdin":
        # Read through, but left open for whoever reads it next.
        assert not stdin.closed
    lines = decisions.read_text(encoding="utf-8").splitlines()
    return json.loads(capsys.readouterr().out), [json.loads(x)["line"] for x in lines]


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_an_invalid_byte_is_replaced_from_a_file_and_standard_input(
    how: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record, lines = _replay_json(INVALID_UTF8_LOG, how, tmp_path, monkeypatch, capsys)

    assert (record["total"], record["malformed"], lines) == (1, 0, [1])
    assert record["top_denied_paths"] == [["/a\ufffd31mb", 1]]


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_lines_end_only_at_a_line_feed_in_a_file_and_standard_input(
    how: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record, lines = _replay_json(LONE_CR_LOG, how, tmp_path, monkeypatch, capsys)

    assert len(LONE_CR_LOG.split(b"\n")) == 7
    assert lines == [1, 2, 4, 7]
    assert record["malformed_samples"] == [
        {"line": 3, "why": "not Common, Combined or JSON log format"},
        {"line": 5, "why": "line longer than 65536 characters"},
        {"line": 6, "why": "not Common, Combined or JSON log format"},
    ]
    assert dict(record["top_denied_paths"])["/a\rb"] == 1


@pytest.mark.parametrize(
    "encoding",
    [
        # Strict, as under most UTF-8 locales: the byte would stop the replay.
        "utf-8",
        # As under the C and C.UTF-8 locales: the byte would be printed raw.
        "utf-8:surrogateescape",
    ],
)
def test_standard_input_is_decoded_whatever_python_would_use(
    encoding: str, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(INVALID_UTF8_LOG)
    env = {**os.environ, "PYTHONIOENCODING": encoding}

    def replay(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-m", "policy", "replay", "--policy", str(PLAN)]
        return subprocess.run(
            [*command, *args],
            input=stdin,
            capture_output=True,
            env=env,
            cwd=ROOT,
            check=False,
            timeout=60,
        )

    shown = replay("-", stdin=INVALID_UTF8_LOG)
    from_file = replay("--format", "json", str(log))
    from_stdin = replay("--format", "json", "-", stdin=INVALID_UTF8_LOG)

    assert (shown.returncode, shown.stderr) == (0, b"")
    assert b"\x9b" not in shown.stdout
    assert "  /a\ufffd31mb\n".encode() in shown.stdout
    assert from_stdin.returncode == from_file.returncode == 0
    assert from_stdin.stdout == from_file.stdout


def test_a_summary_prints_on_a_terminal_that_cannot_encode_it(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b'1.2.3.4 - - [x] "GET /a\x9b31mb HTTP/1.1" 200 1\n')
    policy = tmp_path / "p.toml"
    policy.write_text('scope = "custom"\nendpoints = ["/plan"]\n')
    env = {**os.environ, "LC_ALL": "C", "PYTHONIOENCODING": "latin-1"}
    done = subprocess.run(
        [sys.executable, "-m", "policy", "replay", "--policy", str(policy), str(log)],
        capture_output=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"/a\\ufffd31mb" in done.stdout
