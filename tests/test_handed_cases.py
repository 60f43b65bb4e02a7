"""The IP and path cases drawn from public bug reports and CVEs.

Each case in ``data/handed.json`` (see ``data/handed-README.md``) names an
input, the expected outcome (allow, deny or reject) and the fault it stands
for.  The token cases are exercised in ``tests/tokens``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy import AccessPolicy, AllowlistError, IPAllowlist, Reason, Scope, ScopeError

CASES = json.loads(
    (Path(__file__).parent / "data" / "handed.json").read_text(encoding="utf-8")
)
POLICY_CASES = [c for c in CASES if "token" not in c]


def _policy(case: dict[str, Any], *, case_sensitive: bool = False) -> AccessPolicy:
    allowlist = None
    if "allowlist" in case:
        allowlist = IPAllowlist.parse(case["allowlist"], source=case["id"])
    scope = Scope.custom(case["endpoints"]) if "endpoints" in case else Scope.all()
    return AccessPolicy(scope=scope, allowlist=allowlist, case_sensitive=case_sensitive)


def _outcome(case: dict[str, Any], *, case_sensitive: bool = False) -> str:
    try:
        policy = _policy(case, case_sensitive=case_sensitive)
    except (AllowlistError, ScopeError) as error:
        refused: AllowlistError | ScopeError | None = error
    else:
        refused = None
    if refused is not None:
        # A refused definition must say what and where.
        assert refused.diagnostics
        assert all(d.line >= 1 and d.column >= 1 for d in refused.diagnostics)
        return "reject"
    decision = policy.check(
        ip=case.get("ip", "192.0.2.1"), path=case.get("path", "/"), method="GET"
    )
    if decision.allowed:
        return "allow"
    if decision.reason in (Reason.BAD_PATH, Reason.BAD_IP):
        return "reject"
    return "deny"


def test_every_policy_case_is_exercised() -> None:
    assert len(POLICY_CASES) == 16
    assert len(CASES) - len(POLICY_CASES) == 7


@pytest.mark.parametrize("case", POLICY_CASES, ids=[c["id"] for c in POLICY_CASES])
def test_case(case: dict[str, Any]) -> None:
    outcome = _outcome(case)
    if case["expect"] == "deny":
        # Refusing the input outright is also safe for a "deny" case.
        assert outcome in ("deny", "reject"), case["why"]
    else:
        assert outcome == case["expect"], case["why"]


@pytest.mark.parametrize(
    "case",
    [c for c in POLICY_CASES if "expect_case_sensitive" in c],
    ids=lambda c: c["id"],
)
def test_case_sensitive_variant(case: dict[str, Any]) -> None:
    outcome = _outcome(case, case_sensitive=True)
    assert outcome == case["expect_case_sensitive"], case["why"]
