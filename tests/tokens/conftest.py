"""Fixtures shared by the token tests: a fixed start instant and clock."""

from __future__ import annotations

import pytest
from _instants import T0

from policy.tokens import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)
