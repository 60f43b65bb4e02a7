"""Shared pieces of the gateway tests: a recording authorizer, free ports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policy._decision import Decision, Reason


@dataclass
class Call:
    access_token: str | None
    ip: object
    path: str
    method: str


@dataclass
class RecordingAuthorizer:
    """Answers with ``reason`` and remembers every question it was asked."""

    reason: Reason = Reason.ALLOWED
    calls: list[Call] = field(default_factory=list)

    def authorize(
        self, *, access_token: str | None, ip: object, path: str, method: str = "GET"
    ) -> Decision:
        self.calls.append(Call(access_token, ip, path, method))
        return Decision(
            allowed=self.reason is Reason.ALLOWED,
            reason=self.reason,
            detail=f"recorded {self.reason.value}",
            ip=ip if isinstance(ip, str) else None,
            path=path,
            method=method,
            token_id="tok_test",
        )


class ExplodingAuthorizer:
    """Fails the way a broken backend would, with a secret in the message."""

    def authorize(
        self, *, access_token: str | None, ip: object, path: str, method: str = "GET"
    ) -> Decision:
        raise RuntimeError(f"backend down while checking {access_token}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def recorder() -> RecordingAuthorizer:
    return RecordingAuthorizer()


@pytest.fixture
def exploding() -> ExplodingAuthorizer:
    return ExplodingAuthorizer()


@pytest.fixture(scope="session")
def ports() -> Callable[[], int]:
    """Hands out free loopback ports."""
    return free_port


def serve_argv(*arguments: str) -> list[str]:
    """The command that runs ``policy serve`` with ``arguments``."""
    return [sys.executable, "-m", "policy", "serve", *arguments]


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` for at most 20 seconds; fail with the log if it never answers."""
    deadline = time.monotonic() + 20
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


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started, then kill it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
