"""Clocks, and the one check every instant passes: aware, then UTC.

The pure lifetime rules take ``now`` as an argument; only the service reads a
clock, through the :class:`Clock` protocol, so tests and users can inject a
:class:`FakeClock` and walk a token through every boundary.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from policy._errors import PolicyTypeError

__all__ = ["Clock", "FakeClock", "SystemClock", "as_utc"]


def as_utc(value: object, *, name: str = "time") -> datetime:
    """Return ``value`` as an aware datetime in UTC.

    A naive datetime is refused rather than guessed: it could mean server-local
    time or UTC, and the two differ by hours.

    Args:
        value: The instant to check.
        name: The argument's name, for the error message.

    Returns:
        The same instant, with ``tzinfo`` set to UTC.

    Raises:
        PolicyTypeError: ``value`` is not a datetime, or is naive; for example
            ``created must be a timezone-aware datetime, got naive
            2024-05-01T12:00:00``.
    """
    if not isinstance(value, datetime):
        raise PolicyTypeError(
            f"{name} must be a timezone-aware datetime, got {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise PolicyTypeError(
            f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}"
        )
    return value.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current instant, timezone-aware."""

    def now(self) -> datetime:
        """Return the current instant (aware; it is normalised to UTC)."""
        ...


class SystemClock:
    """The system's wall clock, in UTC."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that moves only when told to; safe to share between threads.

    Args:
        start: The first instant it shows; must be timezone-aware.

    Raises:
        PolicyTypeError: ``start`` is naive or not a datetime.
    """

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start, name="start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the instant the clock is set to."""
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        """Move to ``instant``, forwards or backwards.

        Raises:
            PolicyTypeError: ``instant`` is naive or not a datetime.
        """
        checked = as_utc(instant, name="instant")
        with self._lock:
            self._now = checked

    def advance(self, delta: timedelta) -> datetime:
        """Move forwards (or backwards, if negative) by ``delta``; return now.

        Raises:
            PolicyTypeError: ``delta`` is not a timedelta.
        """
        if not isinstance(delta, timedelta):
            raise PolicyTypeError(
                f"delta must be a timedelta, got {type(delta).__name__}"
            )
        with self._lock:
            self._now += delta
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()})"
