"""A real nginx, with auth_request to ``policy serve``, in front of an app.

Every request below goes over loopback through nginx.  The upstream app
records what reached it, so each denial is also shown to have stopped the
request before the app.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from policy.tokens import FakeClock, IssuedToken, SQLiteStore, TokenService

_TEMPLATE = Path(__file__).parent / "nginx" / "nginx.conf.template"
_BASE = "/commandcenter/api"


def _nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


pytestmark = pytest.mark.skipif(
    _nginx_binary() is None,
    reason="the nginx binary is not installed (apt-get install -y nginx)",
)


class _Upstream(BaseHTTPRequestHandler):
    """The protected app: answers 200 and records every request it gets."""

    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.seen.append(self.path)
        body = json.dumps({"upstream": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@dataclass
class Gateway:
    port: int
    tokens: dict[str, IssuedToken]
    seen: list[str]


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _create_tokens(db: Path) -> dict[str, IssuedToken]:
    """Tokens created at several instants, so some are expired now."""
    now = datetime.now(UTC)

    def create(name: str, age: timedelta, **options: Any) -> IssuedToken:
        service = TokenService(SQLiteStore(db), clock=FakeClock(now - age))
        return service.create(user="ana", name=name, scope="custom", **options)

    reports = {"endpoints": ["/Client", "/plan"], "allowlist": "203.0.113.0/24"}
    return {
        "good": create("good", timedelta(0), **reports),
        "renewable": create("renewable", timedelta(hours=1), **reports),
        "expired": create("expired", timedelta(days=20), **reports),
        "renew-me": create("renew-me", timedelta(0), **reports),
    }


def _start_nginx(prefix: Path, port: int, auth_port: int, upstream: int) -> Any:
    config = (
        _TEMPLATE.read_text()
        .replace("@PREFIX@", str(prefix))
        .replace("@NGINX_PORT@", str(port))
        .replace("@AUTH_PORT@", str(auth_port))
        .replace("@UPSTREAM_PORT@", str(upstream))
    )
    conf = prefix / "nginx.conf"
    conf.write_text(config)
    binary = _nginx_binary()
    assert binary is not None
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run(
        [*argv, "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    assert check.returncode == 0, check.stderr
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_port(port: int, process: Any, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited:\n{log.read_text()[-2000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
        finally:
            connection.close()
    pytest.fail(f"nginx did not listen in 20 s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    serve_module: Any,
    upstream: int,
    ports: Callable[[], int],
) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("nginx")
    db = directory / "tokens.db"
    tokens = _create_tokens(db)
    auth_port = serve_module(
        db,
        "--trusted-proxy",
        "127.0.0.1",
        "--api-base",
        _BASE,
        "--bad-request-status",
        "403",
    )
    port = ports()
    nginx = _start_nginx(directory, port, auth_port, upstream)
    try:
        _wait_for_port(port, nginx, directory / "error.log")
        yield Gateway(port, tokens, _Upstream.seen)
    finally:
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=10)


@dataclass
class Answer:
    status: int
    reason: str | None
    challenge: str | None
    body: bytes


def send(
    gateway: Gateway,
    path: str,
    *,
    token: str | None = None,
    client: str | None = "203.0.113.9",
    method: str = "GET",
    body: bytes | None = None,
) -> Answer:
    """One request through nginx, the path sent exactly as given."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if client is not None:
        # As an upstream proxy in front of nginx would write it.
        headers["X-Forwarded-For"] = client
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(
            response.status,
            response.getheader("X-Policy-Reason"),
            response.getheader("WWW-Authenticate"),
            response.read(),
        )
    finally:
        connection.close()


def test_allowed_request_reaches_the_upstream(gateway: Gateway) -> None:
    answer = send(
        gateway, f"{_BASE}/Client/7?x=1", token=gateway.tokens["good"].access_token
    )
    assert (answer.status, answer.reason) == (200, "allowed")
    assert json.loads(answer.body) == {"upstream": f"{_BASE}/Client/7?x=1"}


@pytest.mark.parametrize(
    ("path", "client", "status", "reason"),
    [
        # The client address, through nginx as a trusted proxy.
        (f"{_BASE}/Client", "198.51.100.7", 403, "ip_not_allowed"),
        (f"{_BASE}/Client", None, 403, "ip_not_allowed"),  # nginx's own peer
        (f"{_BASE}/Client", "203.0.113.9, 127.0.0.1", 200, "allowed"),
        # Scope.
        (f"{_BASE}/Job", "203.0.113.9", 403, "out_of_scope"),
        ("/webconsole/api/Client", "203.0.113.9", 403, "out_of_scope"),
        # Path tricks: refused or judged as the backend routes them.
        (f"{_BASE}/plan%2F..%2FJob", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}/plan/../Job", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}/plan/%2e%2e/Job", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}/plan;x=1", "203.0.113.9", 403, "bad_path"),
        (f"{_BASE}//Client", "203.0.113.9", 200, "allowed"),
        (f"{_BASE}/CLIENT", "203.0.113.9", 200, "allowed"),
        (f"{_BASE}/%43lient", "203.0.113.9", 200, "allowed"),
    ],
)
def test_denials_and_path_tricks(
    gateway: Gateway, path: str, client: str | None, status: int, reason: str
) -> None:
    before = len(gateway.seen)
    answer = send(
        gateway, path, token=gateway.tokens["good"].access_token, client=client
    )
    assert (answer.status, answer.reason) == (status, reason)
    assert len(gateway.seen) == before + (1 if status == 200 else 0)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("renewable", "access_expired_renewable"),
        ("expired", "expired"),
        (None, "missing_token"),
    ],
)
def test_expired_or_missing_token_is_401_with_challenge(
    gateway: Gateway, name: str | None, reason: str
) -> None:
    token = None if name is None else gateway.tokens[name].access_token
    answer = send(gateway, f"{_BASE}/Client", token=token)
    assert (answer.status, answer.reason) == (401, reason)
    assert answer.challenge == 'Bearer error="invalid_token"'


def test_renewal_through_the_gateway(gateway: Gateway) -> None:
    issued = gateway.tokens["renew-me"]
    body = json.dumps(
        {"accessToken": issued.access_token, "refreshToken": issued.refresh_token}
    ).encode()
    answer = send(gateway, "/V4/AccessToken/Renew", method="POST", body=body)
    assert answer.status == 200
    renewed = json.loads(answer.body)["accessToken"]

    assert send(gateway, f"{_BASE}/plan", token=renewed).status == 200
    old = send(gateway, f"{_BASE}/plan", token=issued.access_token)
    assert (old.status, old.reason) == (401, "revoked")
