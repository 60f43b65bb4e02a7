"""A bounded loopback load test of ``policy serve``: no errors under load.

N clients, each on its own keep-alive connection, send a fixed number of
forward-auth checks (three allowed for one denied).  The test asserts that
every answer is the expected one; throughput and latency percentiles are
printed (``pytest -s``) for the record, never asserted.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policy.tokens import FakeClock, SQLiteStore, TokenService

CLIENTS = 8
REQUESTS_PER_CLIENT = 150


def _client(port: int, token: str, latencies: list[float], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for number in range(REQUESTS_PER_CLIENT):
            denied = number % 4 == 3
            headers = {
                "Authorization": f"Bearer {token}",
                "X-Original-URI": f"/Client/{number}",
                "X-Original-Method": "GET",
                "X-Forwarded-For": "198.51.100.7" if denied else "203.0.113.9",
            }
            started = time.perf_counter()
            try:
                connection.request("GET", "/auth", headers=headers)
                response = connection.getresponse()
                response.read()
            except OSError as error:
                errors.append(type(error).__name__)
                connection.close()
                continue
            latencies.append(time.perf_counter() - started)
            if response.status != (403 if denied else 200):
                errors.append(f"HTTP {response.status}")
    finally:
        connection.close()


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_concurrent_clients_get_no_errors(tmp_path: Path, serve: Any) -> None:
    db = tmp_path / "tokens.db"
    issued = TokenService(SQLiteStore(db), clock=FakeClock(datetime.now(UTC))).create(
        user="ana",
        name="load",
        scope="custom",
        endpoints=["/Client"],
        allowlist="203.0.113.0/24",
    )
    port = serve(db, "--trusted-proxy", "127.0.0.1")
    latencies: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=_client, args=(port, issued.access_token, latencies, errors)
        )
        for _ in range(CLIENTS)
    ]

    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - started

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(latencies) == CLIENTS * REQUESTS_PER_CLIENT
    ordered = sorted(latencies)
    print(
        f"\nload: {CLIENTS} clients x {REQUESTS_PER_CLIENT} requests in "
        f"{elapsed:.2f} s = {len(ordered) / elapsed:.0f} req/s; latency ms "
        f"p50 {_percentile(ordered, 0.50) * 1000:.2f} "
        f"p95 {_percentile(ordered, 0.95) * 1000:.2f} "
        f"p99 {_percentile(ordered, 0.99) * 1000:.2f} "
        f"max {ordered[-1] * 1000:.2f} "
        f"mean {statistics.fmean(ordered) * 1000:.2f}"
    )
