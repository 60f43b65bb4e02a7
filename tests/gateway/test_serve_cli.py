"""``policy serve``: arguments checked before anything listens."""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from policy._errors import AllowlistError, PolicyError, ScopeError
from policy.cli import _serve
from policy.server import ForwardAuthApp
from policy.tokens import SQLiteStore


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="policy")
    _serve.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.db"
    SQLiteStore(path).close()
    return path


def test_defaults_listen_on_loopback(db: Path) -> None:
    args = parse("--db", str(db))
    assert (args.host, args.port, args.bad_request_status) == ("127.0.0.1", 8181, 400)
    app = _serve.build_app(args)
    assert isinstance(app, ForwardAuthApp)
    assert not app.trusted_proxies.trusts("127.0.0.1")


def test_options_reach_the_app(db: Path, tmp_path: Path) -> None:
    policy = tmp_path / "gateway.toml"
    policy.write_text('scope = "all"\n')
    args = parse(
        "--db",
        str(db),
        "--trusted-proxy",
        "10.0.0.0/8",
        "--trusted-proxy",
        "127.0.0.1",
        "--forwarded-header",
        "forwarded",
        "--policy",
        str(policy),
        "--bad-request-status",
        "403",
    )
    app = _serve.build_app(args)
    assert app.trusted_proxies.trusts("10.2.3.4")
    assert app.trusted_proxies.header == "forwarded"
    assert app.bad_request_status == 403
    assert app.policy is not None


@pytest.mark.parametrize(
    ("argv", "error", "message"),
    [
        (["--trusted-proxy", "10.0.0.0/33"], AllowlistError, "prefix"),
        (["--api-base", "commandcenter"], ScopeError, "must begin with '/'"),
        (["--policy", "/nonexistent/gateway.toml"], PolicyError, "cannot read"),
        (["--trusted-proxy", " "], PolicyError, "--trusted-proxy must name an"),
    ],
)
def test_bad_configuration_fails_before_serving(
    db: Path, argv: list[str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _serve.build_app(parse("--db", str(db), *argv))


@pytest.mark.parametrize(
    "port", ["0", "65536", "99999", "-1", "http", " 80", "\u0668\u0660\u0668\u0660"]
)
def test_port_out_of_range_is_a_usage_error(
    db: Path, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        parse("--db", str(db), "--port", port)
    assert caught.value.code == 2
    assert f"port must be 1 to 65535, got {port!r}" in capsys.readouterr().err


def test_an_address_in_use_is_a_clear_error_before_listening(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert _serve.run(parse("--db", str(db), "--port", str(port))) == 2
    err = capsys.readouterr().err
    assert f"policy: cannot listen on 127.0.0.1:{port}: " in err
    assert "listening on" not in err


def test_a_host_that_does_not_resolve_is_a_clear_error(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _serve.run(parse("--db", str(db), "--host", "999.1.1.1")) == 2
    assert "policy: cannot listen on 999.1.1.1:8181: " in capsys.readouterr().err


def test_a_file_that_is_not_a_token_store_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    foreign = tmp_path / "notes.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    connection.close()
    before = foreign.read_bytes()
    for store in (empty, foreign):
        assert _serve.run(parse("--db", str(store))) == 2
        assert "is not a token store" in capsys.readouterr().err
    assert empty.read_bytes() == b""
    assert foreign.read_bytes() == before


def test_missing_store_is_refused(tmp_path: Path, capsys: Any) -> None:
    args = parse("--db", str(tmp_path / "typo.db"))
    assert _serve.run(args) == 2
    assert "token store" in capsys.readouterr().err
    assert not (tmp_path / "typo.db").exists()


def test_without_uvicorn_says_which_extra(db: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['uvicorn'] = None\n"
        "import argparse\n"
        "from policy.cli import _serve\n"
        "parser = argparse.ArgumentParser()\n"
        "_serve.register(parser.add_subparsers())\n"
        f"args = parser.parse_args(['serve', '--db', {str(db)!r}])\n"
        "sys.exit(args.run(args))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "pip install 'access-policy[gateway]'" in result.stderr


def test_a_refused_reload_is_reported_on_stderr(tmp_path: Path, serve: Any) -> None:
    db = tmp_path / "tokens.db"
    SQLiteStore(db).close()
    gateway = tmp_path / "gw.toml"
    gateway.write_text('scope = "all"\nip_allowlist = "203.0.113.0/24"\n')
    port = serve(db, "--policy", str(gateway), "--log-level", "info")

    # A broken version, newer by its clock, then a request after the
    # reloader's interval has passed: the last good version stays.
    gateway.write_text('scope = "all"\nip_allowlist = ""\n')
    later = time.time() + 5
    os.utime(gateway, (later, later))
    time.sleep(1.2)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "GET",
        "/auth",
        headers={"X-Original-URI": "/Client", "X-Original-Method": "GET"},
    )
    connection.getresponse().read()
    connection.close()
    serve.stop_all()

    log = (tmp_path / f"serve-{port}.log").read_text()
    assert "policy serve: WARNING: policy file" in log
    assert "was not reloaded; the last good version stays in force" in log
    assert "empty-allowlist" in log


def test_serve_shows_file_names_and_requests_safely(tmp_path: Path, serve: Any) -> None:
    secret = "cvpat_" + "S" * 43 + "_AAAAAA"
    db = tmp_path / f"db_{secret}.db"
    SQLiteStore(db).close()
    port = serve(db, "--access-log", "--log-level", "info", "--api-base", "/")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "GET",
        f"/ext_authz/plan/{secret}",
        headers={"Authorization": f"Bearer {secret}"},
    )
    connection.getresponse().read()
    connection.close()
    serve.stop_all()

    log = (tmp_path / f"serve-{port}.log").read_text()
    assert "listening on" in log
    assert "db_cvpat_***" in log
    assert "/ext_authz/plan/cvpat_***" in log  # the access log's line
    assert "S" * 16 not in log


def test_the_access_log_filter_blanks_and_escapes_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s %s %d",
        ("1.2.3.4", "/p/cvpat_" + "S" * 43 + "\x1b[2J", 200), None,
    )  # fmt: skip
    assert _serve._shown_safely(record)
    assert record.getMessage() == "1.2.3.4 /p/cvpat_***\\x1b[2J 200"
