"""The fixed instant the token tests start from.

A module of its own, not ``conftest``: another test folder has a conftest
too, and only one module of that name can be imported in one run.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["T0"]

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
