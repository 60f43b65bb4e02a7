"""Shared pieces of the gateway tests: a recording authorizer.

The servers (``policy serve``, nginx, the echo app) are in tests/conftest.py,
shared with the hardening tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@pytest.fixture
def recorder() -> RecordingAuthorizer:
    return RecordingAuthorizer()


@pytest.fixture
def exploding() -> ExplodingAuthorizer:
    return ExplodingAuthorizer()
