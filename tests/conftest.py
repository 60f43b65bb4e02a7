"""Servers the gateway and hardening tests share: ``policy serve``, nginx.

Everything listens on 127.0.0.1 on a free port, writes only under pytest's
temporary directories, and is stopped at teardown.  The nginx fixtures skip
the test when the nginx binary is not installed, and only then.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

NGINX_TEMPLATE = Path(__file__).parent / "gateway" / "nginx" / "nginx.conf.template"
# How long a server may take to come up before the test fails with its log.
_START_SECONDS = 20


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def ports() -> Callable[[], int]:
    """Hands out free loopback ports."""
    return free_port


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started, then kill it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- policy serve


def serve_argv(*arguments: str) -> list[str]:
    """The command that runs ``policy serve`` with ``arguments``."""
    return [sys.executable, "-m", "policy", "serve", *arguments]


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` for at most 20 seconds; fail with the log if it never answers."""
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited early:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{url} did not come up in 20 s:\n{log.read_text()[-2000:]}")


class Launcher:
    """Starts ``policy serve`` on free loopback ports and stops them all."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, db: Path, *arguments: str) -> int:
        """Start ``policy serve --db DB ARGUMENTS``; return its port."""
        port = free_port()
        log = self.directory / f"serve-{port}.log"
        argv = serve_argv(
            "--db", str(db), "--host", "127.0.0.1", "--port", str(port), *arguments
        )
        with log.open("wb") as stream:
            process = subprocess.Popen(argv, stdout=stream, stderr=subprocess.STDOUT)
        self.started.append(process)
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, log)
        return port

    def stop_all(self) -> None:
        for process in self.started:
            stop(process)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Launcher]:
    """Start ``policy serve``; every process is stopped at teardown."""
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="module")
def serve_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """As ``serve``, for processes shared by the tests of one module."""
    launcher = Launcher(tmp_path_factory.mktemp("serve"))
    yield launcher
    launcher.stop_all()


# --- the app behind the gateway


class _Echo(BaseHTTPRequestHandler):
    """Answers 200 with the request target it received, and records it.

    ``self.path`` is the target exactly as it came on the request line,
    never decoded, so it shows what the proxy in front forwarded.
    """

    seen: list[str]

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
class Upstream:
    """The echo app: its port and every target it received, in order."""

    port: int
    seen: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    """An echo app on 127.0.0.1, shared by the tests of one module."""
    seen: list[str] = []
    handler = type("Echo", (_Echo,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Upstream(server.server_address[1], seen)
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


# --- nginx


def nginx_binary() -> str | None:
    """The nginx binary, also looked for in sbin directories off PATH."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_SECONDS
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


class NginxLauncher:
    """Starts nginx from the gateway template and stops every one started."""

    def __init__(self, directory: Path, binary: str) -> None:
        self.directory = directory
        self.binary = binary
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, *, auth_port: int, upstream_port: int, extra: str = "") -> int:
        """Start nginx in front of ``upstream_port``; return its port.

        ``extra`` is nginx configuration put in the server block before the
        catch-all location, such as another location to test.
        """
        port = free_port()
        prefix = self.directory / f"nginx-{port}"
        prefix.mkdir()
        config = (
            NGINX_TEMPLATE.read_text()
            .replace("# @EXTRA_LOCATIONS@", extra)
            .replace("@PREFIX@", str(prefix))
            .replace("@NGINX_PORT@", str(port))
            .replace("@AUTH_PORT@", str(auth_port))
            .replace("@UPSTREAM_PORT@", str(upstream_port))
        )
        conf = prefix / "nginx.conf"
        conf.write_text(config)
        log = prefix / "error.log"
        argv = [self.binary, "-p", str(prefix), "-c", str(conf), "-e", str(log)]
        check = subprocess.run(
            [*argv, "-t"], capture_output=True, text=True, timeout=30, check=False
        )
        if check.returncode != 0:
            pytest.fail(f"nginx refused the configuration:\n{check.stderr}")
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.started.append(process)
        _wait_for_port(port, process, log)
        return port

    def stop_all(self) -> None:
        for process in self.started:
            stop(process)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxLauncher]:
    """Start nginx (see :class:`NginxLauncher`); skipped when not installed."""
    binary = nginx_binary()
    if binary is None:
        pytest.skip("the nginx binary is not installed (apt-get install -y nginx)")
    launcher = NginxLauncher(tmp_path_factory.mktemp("nginx"), binary)
    yield launcher
    launcher.stop_all()
