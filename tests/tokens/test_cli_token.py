"""``policy token ...`` and ``policy authorize`` (policy/cli/_token.py)."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from policy.cli import _token, main
from policy.tokens import SQLiteStore


def cli(argv: Sequence[str]) -> int:
    return main(list(argv))


def out(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "tokens.db"
    monkeypatch.setenv("POLICY_TOKENS_DB", str(path))
    monkeypatch.delenv("POLICY_TOKEN", raising=False)
    monkeypatch.delenv("POLICY_REFRESH_TOKEN", raising=False)
    # An existing store: only `token create` may start a new one.
    SQLiteStore(path).close()
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "list", "--user", "ana"],
        ["token", "show", "tok_x"],
        ["token", "clock", "tok_x"],
        ["token", "revoke", "tok_x"],
        ["authorize", "--ip", "192.0.2.1", "--path", "/x"],
    ],
)
def test_commands_other_than_create_need_an_existing_store(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo" / "tokens.db"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for store in (missing, empty):
        assert cli([*argv, "--db", str(store)]) == 2
        assert f"no token store at {store}" in capsys.readouterr().err
    assert not missing.parent.exists()
    assert empty.read_bytes() == b""


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "list", "--user", "ana"],
        ["token", "show", "tok_x"],
        ["token", "clock", "tok_x"],
        ["token", "revoke", "tok_x"],
        ["token", "renew", "--access-token", "a", "--refresh-token", "r"],
        ["authorize", "--ip", "192.0.2.1", "--path", "/x", "--token", "t"],
    ],
)
def test_commands_other_than_create_leave_a_foreign_database_untouched(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    before = foreign.read_bytes()

    assert cli([*argv, "--db", str(foreign)]) == 2

    assert capsys.readouterr().err == (
        f"policy: {foreign} is not a token store: it has no schema_version table\n"
    )
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_create_still_starts_a_new_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "tokens.db"
    argv = ["token", "create", "--user", "ana", "--name", "n", "--scope", "all"]
    assert cli([*argv, "--db", str(path)]) == 0
    token_id = out(capsys)[0]["token_id"]
    assert cli(["token", "list", "--user", "ana", "--db", str(path)]) == 0
    assert [row["token_id"] for row in out(capsys)] == [token_id]


def test_secret_given_as_a_token_id_or_name_is_not_echoed(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli(["token", "create", "--user", "ana", "--name", "n", "--scope", "all"]) == 0
    )
    secret = out(capsys)[0]["access_token"]
    for argv in (
        ["token", "show", secret],
        ["token", "revoke", secret],
        ["token", "create", "--user", "ana", "--name", secret, "--scope", "all"],
    ):
        assert cli(argv) == 2
        captured = capsys.readouterr()
        assert secret[6:22] not in captured.out + captured.err
        assert "cvpat_***" in captured.err


def test_allowlist_file_errors_name_the_file(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"198.51.100.1 # caf\xe9\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("198.51.100.1\n010.0.0.1\n", encoding="utf-8")
    create = ["token", "create", "--user", "a", "--name", "n", "--scope", "all"]
    assert cli([*create, "--allowlist", str(latin1)]) == 2
    assert f"{latin1}:1:19: error encoding file must be UTF-8, got byte 0xe9" in (
        capsys.readouterr().err
    )
    assert cli([*create, "--allowlist", str(bad)]) == 2
    assert f"{bad}:2:1: error ipv4-leading-zero" in capsys.readouterr().err
    assert cli([*create, "--allowlist", str(tmp_path)]) == 2
    assert f"cannot read {tmp_path}" in capsys.readouterr().err


def test_default_db_follows_env_then_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_TOKENS_DB", "/x/t.db")
    assert _token.default_db() == Path("/x/t.db")
    monkeypatch.delenv("POLICY_TOKENS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert _token.default_db() == Path("/data/policy/tokens.db")


def test_create_authorize_renew_revoke(
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("10.0.0.0/8\n", encoding="utf-8")
    assert (
        cli(
            [
                "token",
                "create",
                "--user",
                "ana",
                "--name",
                "ci",
                "--scope",
                "custom",
                "--endpoint",
                "/plan",
                "--endpoint",
                "/Client",
                "--allowlist",
                str(allow),
            ]
        )
        == 0
    )
    (issued,) = out(capsys)
    assert issued["access_token"].startswith("cvpat_")
    token_id = issued["token_id"]

    assert (
        cli(
            [
                "authorize",
                "--token",
                issued["access_token"],
                "--ip",
                "10.1.1.1",
                "--path",
                "/plan/3",
            ]
        )
        == 0
    )
    (decision,) = out(capsys)
    assert (decision["reason"], decision["token_id"]) == ("allowed", token_id)
    assert (
        cli(
            [
                "authorize",
                "--token",
                issued["access_token"],
                "--ip",
                "192.0.2.1",
                "--path",
                "/plan/3",
            ]
        )
        == 1
    )
    assert out(capsys)[0]["reason"] == "ip_not_allowed"

    # The secrets come through the environment, not the command line.
    monkeypatch.setenv("POLICY_TOKEN", issued["access_token"])
    monkeypatch.setenv("POLICY_REFRESH_TOKEN", issued["refresh_token"])
    assert cli(["token", "renew"]) == 0
    (renewed,) = out(capsys)
    assert renewed["generation"] == 2
    assert cli(["token", "renew"]) == 1
    assert out(capsys)[0]["reason"] == "refresh_reused_chain_revoked"

    assert cli(["token", "list", "--user", "ana"]) == 0
    (listed,) = out(capsys)
    assert listed["revoked_cause"] == "reuse"
    assert "access_token" not in listed
    assert cli(["token", "revoke", token_id]) == 0
    assert out(capsys) == [{"revoked": []}]


def test_renew_with_ip_is_judged_by_the_allowlist(
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("10.0.0.0/8\n", encoding="utf-8")
    create = ["token", "create", "--user", "ana", "--name", "ci", "--scope", "all"]
    assert cli([*create, "--allowlist", str(allow)]) == 0
    (issued,) = out(capsys)
    monkeypatch.setenv("POLICY_TOKEN", issued["access_token"])
    monkeypatch.setenv("POLICY_REFRESH_TOKEN", issued["refresh_token"])

    assert cli(["token", "renew", "--ip", "192.0.2.1"]) == 1
    (refused,) = out(capsys)
    assert (refused["reason"], refused["ip"]) == ("ip_not_allowed", "192.0.2.1")
    assert cli(["token", "renew", "--ip", "not an address"]) == 1
    assert out(capsys)[0]["reason"] == "bad_ip"
    # Neither refusal rotated or revoked the pair.
    assert cli(["token", "renew", "--ip", "10.1.2.3"]) == 0
    assert out(capsys)[0]["generation"] == 2


def test_token_from_stdin(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        cli(["token", "create", "--user", "ana", "--name", "n", "--scope", "all"]) == 0
    )
    (issued,) = out(capsys)
    monkeypatch.setattr(sys, "stdin", io.StringIO(issued["access_token"] + "\n"))
    assert (
        cli(["authorize", "--token", "-", "--ip", "192.0.2.1", "--path", "/Client"])
        == 0
    )
    assert out(capsys)[0]["allowed"] is True


def test_show_clock_revoke_all(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli(
            [
                "token",
                "create",
                "--user",
                "ana",
                "--name",
                "scim",
                "--scope",
                "microsoft-scim",
                "--expires-at",
                "2099-01-01T00:00:00Z",
            ]
        )
        != 0
    )
    capsys.readouterr()
    assert (
        cli(
            [
                "token",
                "create",
                "--user",
                "ana",
                "--name",
                "n",
                "--scope",
                "all",
                "--renewable-until",
                "forever",
            ]
        )
        == 0
    )
    token_id = out(capsys)[0]["token_id"]
    assert cli(["token", "show", token_id]) == 0
    assert out(capsys)[0]["renewable_until"] is None
    assert cli(["token", "clock", token_id]) == 0
    seen = out(capsys)[0]
    assert (seen["state"], seen["ends_first"]) == ("valid", "access_expires_at")
    assert cli(["token", "revoke", "--all-of", "ana"]) == 0
    assert out(capsys) == [{"revoked": [token_id]}]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "show", "tok_nope"], "no token has id 'tok_nope'"),
        (
            [
                "token",
                "create",
                "--user",
                "a",
                "--name",
                "n",
                "--scope",
                "all",
                "--renewable-until",
                "2024-06-01T00:00:00",
            ],
            "--renewable-until must be a timezone-aware datetime",
        ),
        (
            [
                "token",
                "create",
                "--user",
                "a",
                "--name",
                "n",
                "--scope",
                "all",
                "--renewable-until",
                "soon",
            ],
            "--renewable-until must be an ISO 8601",
        ),
        (
            ["token", "create", "--user", "a", "--name", "n", "--scope", "custom"],
            "a Custom scope needs its endpoints",
        ),
    ],
)
def test_unusable_input_exits_2(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_token_is_denied(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["authorize", "--ip", "192.0.2.1", "--path", "/x"]) == 1
    assert out(capsys)[0]["reason"] == "missing_token"


def test_subprocess_secret_printed_once_and_only_digests_stored(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "POLICY_TOKENS_DB": str(tmp_path / "t.db")}
    env.pop("POLICY_TOKEN", None)
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy",
            "token",
            "create",
            "--user",
            "ana",
            "--name",
            "n",
            "--scope",
            "all",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    secret = json.loads(created.stdout)["access_token"]
    authorized = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy",
            "authorize",
            "--token",
            "-",
            "--ip",
            "192.0.2.1",
            "--path",
            "/Client",
        ],
        input=secret + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert authorized.returncode == 0
    assert json.loads(authorized.stdout)["reason"] == "allowed"
    assert secret not in authorized.stdout + authorized.stderr
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret[6:22].encode() not in raw


def test_renew_without_both_secrets_is_unusable(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["token", "renew"]) == 2
    assert "renew needs both secrets" in capsys.readouterr().err
    assert cli(["token", "renew", "--access-token", "cvpat_x"]) == 2
    assert "renew needs both secrets" in capsys.readouterr().err
