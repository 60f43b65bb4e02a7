"""Fixtures shared by the token tests: a fixed start instant and clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policy.tokens import FakeClock

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)
