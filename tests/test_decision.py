"""Decision records (_decision.py): the invariant, and no secret inside."""

from __future__ import annotations

import pytest

from policy import AccessPolicy, Scope
from policy._decision import Decision, Reason

ACCESS = "cvpat_" + "Q" * 43
REFRESH = "cvprt_" + "R" * 43


def test_allowed_must_match_the_reason() -> None:
    with pytest.raises(ValueError, match="allowed=True contradicts reason 'expired'"):
        Decision(allowed=True, reason=Reason.EXPIRED, detail="x")


def test_secret_shapes_in_path_method_and_detail_are_redacted() -> None:
    decision = Decision(
        allowed=False,
        reason=Reason.OUT_OF_SCOPE,
        detail=f"'/plan/{REFRESH}' is outside the scope",
        path=f"/plan/{ACCESS}",
        method=ACCESS,
    )
    assert decision.path == "/plan/cvpat_***"
    assert decision.method == "cvpat_***"
    assert decision.detail == "'/plan/cvprt_***' is outside the scope"
    assert "Q" * 8 not in repr(decision)
    assert "R" * 8 not in str(decision.to_dict())


def test_ordinary_values_are_kept_as_given() -> None:
    path = "/cvp/plan/cvpat"  # holds the marker, but no secret shape
    decision = Decision(
        allowed=True,
        reason=Reason.ALLOWED,
        detail="'/' covers '/cvp/plan/cvpat'",
        path=path,
        method="GET",
    )
    assert decision.path is path
    assert (decision.method, decision.detail) == ("GET", "'/' covers '/cvp/plan/cvpat'")


def test_policy_decision_on_a_pasted_secret_does_not_carry_it() -> None:
    policy = AccessPolicy(scope=Scope.from_id("all"))
    # Methods are short: a secret's first characters make a valid one.
    method = ACCESS[:16]
    decision = policy.check(ip="192.0.2.1", path=f"/plan/{ACCESS}", method=method)
    assert decision.allowed
    assert decision.path == "/plan/cvpat_***"
    assert decision.method == "cvpat_***"
    assert "Q" * 8 not in repr(decision)
