"""Shared fixtures of the pytest-benchmark suites (run: pytest benchmarks/)."""

from __future__ import annotations

import pytest

from benchmarks import _data
from policy import IPAllowlist


@pytest.fixture(scope="session", params=_data.LISTS)
def real_allowlist(request: pytest.FixtureRequest) -> IPAllowlist:
    return IPAllowlist.parse(_data.prefixes(request.param))
