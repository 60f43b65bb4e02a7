"""The token cases of tests/data/handed.json (kinds token-* and refresh-*).

Each case gives the creation time, earlier renewals (``events``), the instant
of the request and the operation: ``access`` uses the latest access token,
``refresh`` renews the pair named by ``presented`` (R1 is the pair issued at
creation, R2 the next, ...; the latest when absent).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from policy import PolicyError
from policy._decision import Reason
from policy.tokens import (
    FakeClock,
    IssuedToken,
    MemoryStore,
    RenewalDenied,
    SQLiteStore,
    TokenService,
    TokenStore,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "handed.json"
CASES = [
    case
    for case in json.loads(DATA.read_text(encoding="utf-8"))
    if case["kind"].startswith(("token-", "refresh-"))
]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _pair(pairs: list[IssuedToken], name: str | None) -> IssuedToken:
    return pairs[-1] if name is None else pairs[int(name.removeprefix("R")) - 1]


def _renew(service: TokenService, pair: IssuedToken) -> IssuedToken:
    assert pair.refresh_token is not None
    return service.renew(
        access_token=pair.access_token, refresh_token=pair.refresh_token
    )


def run_case(case: dict[str, Any], store: TokenStore) -> tuple[str, Reason | None]:
    """Play a case; return the outcome and the decision's reason."""
    spec = case["token"]
    try:
        clock = FakeClock(_at(spec["created"]))
        clock.now()
        now = _at(spec["now"])
        FakeClock(now)
    except PolicyError:
        return "reject", None
    service = TokenService(store, clock=clock)
    pairs = [service.create(user="ana", name=case["id"], scope="all")]
    for event in spec.get("events", ()):
        clock.set(_at(event["at"]))
        pairs.append(_renew(service, _pair(pairs, event.get("presented"))))
    clock.set(now)
    presented = _pair(pairs, spec.get("presented"))
    if spec["op"] == "access":
        decision = service.authorize(
            access_token=presented.access_token, ip="192.0.2.1", path="/Client"
        )
        return ("allow" if decision.allowed else "deny"), decision.reason
    try:
        renewed = _renew(service, presented)
    except RenewalDenied as denied:
        return "deny", denied.decision.reason
    decision = service.authorize(
        access_token=renewed.access_token, ip="192.0.2.1", path="/Client"
    )
    return ("allow" if decision.allowed else "deny"), decision.reason


STORES: dict[str, Callable[[Path], TokenStore]] = {
    "memory": lambda _: MemoryStore(),
    "sqlite": lambda tmp: SQLiteStore(tmp / "tokens.db"),
}
# The reason each denial must carry: the kind of fault, not just "denied".
REASONS = {
    "B27": Reason.ACCESS_EXPIRED_RENEWABLE,
    "B28": Reason.ACCESS_EXPIRED_RENEWABLE,
    "B30": Reason.NOT_YET_VALID,
    "B31": Reason.ALLOWED,
    "B33": Reason.EXPIRED,
    "B34": Reason.REFRESH_REUSED_CHAIN_REVOKED,
}


def test_the_token_cases_are_all_here() -> None:
    assert sorted(case["id"] for case in CASES) == sorted([*REASONS, "B29"])


@pytest.mark.parametrize("store_kind", sorted(STORES))
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_handed_token_case(
    case: dict[str, Any], store_kind: str, tmp_path: Path
) -> None:
    outcome, reason = run_case(case, STORES[store_kind](tmp_path))
    assert outcome == case["expect"], case["why"]
    if outcome != "reject":
        assert reason is REASONS[case["id"]]


def test_b34_revokes_the_whole_chain_r2_included(tmp_path: Path) -> None:
    (case,) = [case for case in CASES if case["id"] == "B34"]
    store = SQLiteStore(tmp_path / "tokens.db")
    run_case(case, store)
    (token,) = store.tokens_of("ana")
    assert token.revoked_cause == "reuse"
    assert token.generation == 2
