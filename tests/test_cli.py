"""The ``policy`` command: output and the 0 / 1 / 2 exit statuses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from policy import AccessPolicy
from policy._policy import ADAPTER_CACHE_SIZE
from policy.cli import main

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "plan-automation.toml"
AWS = ROOT / "examples" / "aws-feed-reader.toml"
LOG = ROOT / "data" / "access-logs" / "apache_logs"


def test_check_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "check",
            "--policy",
            str(PLAN),
            "--ip",
            "203.0.113.17",
            "--path",
            "/webconsole/api/plan/7",
        ]
    )
    assert status == 0
    assert capsys.readouterr().out.startswith("allowed (allowed): ")


def test_check_denied_json(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "check",
            "--policy",
            str(PLAN),
            "--ip",
            "192.0.2.1",
            "--path",
            "/webconsole/api/plan/7",
            "--format",
            "json",
        ]
    )
    assert status == 1
    record = json.loads(capsys.readouterr().out)
    assert record["allowed"] is False
    assert record["reason"] == "ip_not_allowed"


def test_check_unusable_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('scope = "all"\nip_allowlist = "10.0.0.5/24"\n', encoding="utf-8")
    status = main(["check", "--policy", str(bad), "--ip", "10.0.0.5", "--path", "/"])
    assert status == 2
    assert f"{bad}:2:" in capsys.readouterr().err


def test_bad_arguments_exit_2() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "--policy", str(PLAN)])
    assert caught.value.code == 2


def test_lint_clean_and_dirty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Warnings only (its '/plan' is no catalogue endpoint): still exit 0.
    assert main(["lint", str(PLAN)]) == 0
    assert " error " not in capsys.readouterr().out
    dirty = tmp_path / "allow.txt"
    dirty.write_text("10.0.0.1\n010.0.0.1\n", encoding="utf-8")
    assert main(["lint", str(dirty)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{dirty}:2:1: error ")


def test_replay_summary_on_the_shipped_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    decisions = tmp_path / "decisions.jsonl"
    status = main(
        [
            "replay",
            "--policy",
            str(AWS),
            str(LOG),
            "--format",
            "json",
            "--decisions",
            str(decisions),
        ]
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == 10_000
    assert summary["malformed"] == 0
    assert summary["allowed"] + summary["denied"] == 10_000
    assert sum(summary["denied_by_reason"].values()) == summary["denied"]
    assert summary["allowed"] > 0
    records = decisions.read_text(encoding="utf-8").splitlines()
    assert len(records) == 10_000
    assert sum(json.loads(r)["allowed"] for r in records) == summary["allowed"]


def test_replay_counts_malformed_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log"
    log.write_text(
        '{"ip": "203.0.113.17", "method": "GET", "path": "/webconsole/api/plan"}\n'
        "torn line\n",
        encoding="utf-8",
    )
    assert main(["replay", "--policy", str(PLAN), str(log)]) == 0
    out = capsys.readouterr().out
    assert "malformed lines    1" in out
    assert "line 2: not Common, Combined or JSON log format" in out


def test_python_dash_m_runs_the_same_command() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy",
            "check",
            "--policy",
            str(PLAN),
            "--ip",
            "203.0.113.17",
            "--path",
            "/webconsole/api/planet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 1
    assert completed.stdout.startswith("denied (out_of_scope): ")


def test_replay_against_prints_the_flips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "new.toml"
    new.write_text('scope = "custom"\nendpoints = ["/blog"]\n', encoding="utf-8")
    args = ["replay", "--policy", str(AWS), "--against", str(new), str(LOG)]
    assert main([*args, "--format", "json"]) == 0
    flips = json.loads(capsys.readouterr().out)["flips"]
    assert flips["total"] == 10_000
    pairs = sum(p["count"] for p in flips["by_reason_pair"])
    flipped = flips["allowed_to_denied"] + flips["denied_to_allowed"]
    assert pairs == flipped + flips["reason_changed"]
    assert flips["denied_to_allowed"] > 0
    assert main(args) == 0
    assert f"against {new}: " in capsys.readouterr().out


def test_replay_turns_the_cache_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sizes: list[int] = []
    original = AccessPolicy.with_cache

    def spy(self: AccessPolicy, cache_size: int) -> AccessPolicy:
        sizes.append(cache_size)
        return original(self, cache_size)

    monkeypatch.setattr(AccessPolicy, "with_cache", spy)
    args = ["replay", "--policy", str(PLAN), "--against", str(PLAN), str(LOG)]
    assert main([*args, "--no-progress"]) == 0
    assert sizes == [ADAPTER_CACHE_SIZE, ADAPTER_CACHE_SIZE]
    assert "requests" in capsys.readouterr().out


@pytest.mark.parametrize("top", ["-1", "many"])
def test_replay_top_must_be_a_count(
    top: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["replay", "--policy", str(PLAN), str(LOG), "--top", top])
    assert caught.value.code == 2
    assert f"must be 0 or more, got {top!r}" in capsys.readouterr().err


SECRET = "cvpat_" + "Q" * 43


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--policy", "{missing}", "--ip", "192.0.2.1", "--path", "/x"],
        ["explain", "--policy", "{missing}", "--ip", "192.0.2.1", "--path", "/x"],
        ["cidrs", "{missing}"],
        ["cidrs", "{bad}"],
        ["diff", "{missing}", "{plan}"],
        ["diff", "{bad}", "{bad}"],
        ["lint", "{missing}"],
        ["replay", "--policy", "{plan}", "{missing}"],
        ["replay", "--policy", "{plan}", "{log}", "--decisions", "{missing_dir}"],
    ],
)
def test_a_secret_in_a_file_path_is_not_echoed(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # A secret pasted where a file name goes: the file does not exist, or
    # exists and does not parse; either way the message names it redacted.
    secret_dir = tmp_path / SECRET
    secret_dir.mkdir()
    bad = secret_dir / "allow.txt"
    bad.write_text("10.0.0.010\n", encoding="utf-8")
    log = tmp_path / "access.log"
    log.write_text("", encoding="utf-8")
    names = {
        "missing": str(tmp_path / f"{SECRET}.toml"),
        "missing_dir": str(tmp_path / "nowhere" / SECRET),
        "bad": str(bad),
        "plan": str(PLAN),
        "log": str(log),
    }

    status = main([word.format(**names) for word in argv])

    captured = capsys.readouterr()
    assert status == 2
    assert "Q" * 8 not in captured.out + captured.err
    assert "cvpat_***" in captured.err


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail a test that blocks, instead of hanging the suite."""
    if not hasattr(signal, "SIGALRM"):
        pytest.skip("needs SIGALRM")

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("blocked reading a file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    "argv",
    [
        ["lint", "{path}"],
        ["cidrs", "{path}"],
        ["diff", "{path}", "{plan}"],
        ["explain", "--policy", "{path}", "--ip", "192.0.2.1", "--path", "/x"],
        ["check", "--policy", "{path}", "--ip", "192.0.2.1", "--path", "/x"],
    ],
)
@pytest.mark.parametrize("name", ["allow.txt", "p.toml"])
@pytest.mark.usefixtures("deadline")
def test_a_named_pipe_is_refused_unopened(
    argv: list[str], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Opening a FIFO for reading waits for a writer that never comes.
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    pipe = tmp_path / name
    os.mkfifo(pipe)

    status = main([word.format(path=pipe, plan=PLAN) for word in argv])

    assert status == 2
    assert (
        f"{pipe}:1:1: error not-a-file cannot read {pipe}: the path must name a"
        " regular file, got a named pipe"
    ) in capsys.readouterr().err


@pytest.mark.parametrize("command", ["lint", "cidrs"])
def test_a_directory_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "p.toml"
    folder.mkdir()
    assert main([command, str(folder)]) == 2
    assert "must name a regular file, got a directory" in capsys.readouterr().err


SECRET = "cvpat_" + "S" * 43 + "_AAAAAA"


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "renew", "--db", "t.db", "--token", SECRET],
        [SECRET],
        ["check", "--policy", "p.toml", "--ip", "1.2.3.4", "--path", "/", SECRET],
        ["replay", "--policy", "p.toml", "--format", SECRET, "log"],
        ["check", "--policy", "p.toml", "--ip", "1.2.3.4", "--path", "/", "\x1b]0;x"],
    ],
)
def test_a_usage_error_blanks_secrets_and_escapes_controls(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err
    assert "S" * 16 not in err
    assert "\x1b" not in err


def test_a_file_name_with_controls_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / f"miss\x1b[2J\u202e{SECRET}.toml"
    status = main(["check", "--policy", str(missing), "--ip", "1.1.1.1", "--path", "/"])
    assert status == 2
    err = capsys.readouterr().err
    assert "miss\\x1b[2J\\u202ecvpat_***.toml" in err
    assert "\x1b" not in err
    assert "\u202e" not in err
    assert "S" * 16 not in err
