"""Clocks and the aware-UTC check (policy/tokens/_clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from policy import PolicyTypeError
from policy.tokens import Clock, FakeClock, SystemClock, as_utc


def test_as_utc_normalises_an_offset() -> None:
    # 14:00 at +02:00 is 12:00Z: the offset is applied, never dropped.
    local = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert as_utc(local) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert as_utc(local).tzinfo is UTC


def test_as_utc_refuses_naive() -> None:
    with pytest.raises(PolicyTypeError) as caught:
        as_utc(datetime(2024, 5, 1, 12, 0), name="created")
    assert str(caught.value) == (
        "created must be a timezone-aware datetime, got naive 2024-05-01T12:00:00"
    )
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, ValueError)


def test_as_utc_refuses_non_datetime() -> None:
    with pytest.raises(PolicyTypeError, match="got str"):
        as_utc("2024-05-01T12:00:00Z")


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    assert clock.now() == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert clock.advance(timedelta(minutes=30)) == datetime(
        2024, 5, 1, 12, 30, tzinfo=UTC
    )
    clock.set(datetime(2024, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2024, 1, 1, tzinfo=UTC)
    assert repr(clock) == "FakeClock(2024-01-01T00:00:00+00:00)"


def test_fake_clock_refuses_naive_and_bad_delta() -> None:
    with pytest.raises(PolicyTypeError, match="start must be a timezone-aware"):
        FakeClock(datetime(2024, 5, 1))
    clock = FakeClock(datetime(2024, 5, 1, tzinfo=UTC))
    with pytest.raises(PolicyTypeError, match="instant must be"):
        clock.set(datetime(2024, 5, 2))
    with pytest.raises(PolicyTypeError, match="delta must be a timedelta, got int"):
        clock.advance(60)  # type: ignore[arg-type]


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert isinstance(SystemClock(), Clock)
    assert isinstance(FakeClock(now), Clock)
