"""Decision records (_decision.py): the invariant, and no secret inside."""

from __future__ import annotations

import copy
import json
import pickle
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import AccessPolicy, Scope
from policy._decision import Decision, Reason, decided

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


# --- The record: construction, immutability, equality ------------------------

FIELDS = (
    "allowed",
    "reason",
    "detail",
    "rule",
    "ip",
    "path",
    "method",
    "token_id",
    "token_name",
)
FULL = Decision(
    False,
    Reason.IP_NOT_ALLOWED,
    "client address 192.0.2.9 matches no entry of the allowlist",
    "10.0.0.0/8",
    "192.0.2.9",
    "/plan/7",
    "GET",
    "tok-1",
    "backup job",
)
# Another value for every field that keeps the invariant (allowed and
# reason change together).
OTHER: dict[str, object] = {
    "detail": "another sentence",
    "rule": "/plan",
    "ip": "2001:db8::1",
    "path": "/Client",
    "method": "POST",
    "token_id": "tok-2",
    "token_name": "report job",
}


def test_positional_and_keyword_construction_agree_with_defaults() -> None:
    positional = Decision(True, Reason.ALLOWED, "ok")
    keyword = Decision(allowed=True, reason=Reason.ALLOWED, detail="ok")
    assert positional == keyword
    assert positional.to_dict(raw=True) == {
        "allowed": True,
        "reason": Reason.ALLOWED,
        "detail": "ok",
        "rule": None,
        "ip": None,
        "path": None,
        "method": None,
        "token_id": None,
        "token_name": None,
    }
    by_name = Decision(**FULL.to_dict(raw=True))
    assert by_name == FULL
    assert [getattr(FULL, name) for name in FIELDS] == [
        False,
        Reason.IP_NOT_ALLOWED,
        "client address 192.0.2.9 matches no entry of the allowlist",
        "10.0.0.0/8",
        "192.0.2.9",
        "/plan/7",
        "GET",
        "tok-1",
        "backup job",
    ]


def test_construction_refuses_wrong_arguments_like_a_dataclass() -> None:
    with pytest.raises(TypeError, match="missing 1 required positional"):
        Decision(False, Reason.EXPIRED)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'detail'"):
        Decision(False, Reason.EXPIRED, "x", detail="y")  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        Decision(False, Reason.EXPIRED, "x", bogus=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("reason", [r for r in Reason if r is not Reason.ALLOWED])
def test_invariant_holds_in_both_directions(reason: Reason) -> None:
    with pytest.raises(
        ValueError, match=f"^allowed=True contradicts reason '{reason.value}'$"
    ):
        Decision(True, reason, "x")
    assert not Decision(False, reason, "x")
    with pytest.raises(
        ValueError, match=r"^allowed=False contradicts reason 'allowed'$"
    ):
        Decision(False, Reason.ALLOWED, "x")
    assert Decision(True, Reason.ALLOWED, "x")


@pytest.mark.parametrize("name", [*FIELDS, "_values", "extra"])
def test_assignment_and_deletion_raise(name: str) -> None:
    record = Decision(True, Reason.ALLOWED, "ok")
    with pytest.raises(
        AttributeError, match=f"^Decision is immutable, got an assignment to '{name}'$"
    ):
        setattr(record, name, "changed")
    with pytest.raises(
        AttributeError, match=f"^Decision is immutable, got a deletion of '{name}'$"
    ):
        delattr(record, name)
    assert record == Decision(True, Reason.ALLOWED, "ok")
    # Slots only: no instance dictionary to write around the guard.
    assert not hasattr(record, "__dict__")


def test_equal_records_are_equal_and_hash_alike() -> None:
    twin = Decision(**FULL.to_dict(raw=True))
    assert twin == FULL
    assert not twin != FULL  # noqa: SIM202 - __ne__ must agree with __eq__
    assert hash(twin) == hash(FULL)
    assert len({FULL, twin}) == 1


@pytest.mark.parametrize("name", sorted(OTHER))
def test_records_differing_in_one_field_are_unequal(name: str) -> None:
    changed = FULL.replace(**{name: OTHER[name]})
    assert changed != FULL
    assert getattr(changed, name) == OTHER[name]
    assert len({FULL, changed}) == 2


def test_records_differing_in_the_verdict_are_unequal() -> None:
    allowed = FULL.replace(allowed=True, reason=Reason.ALLOWED)
    other_denial = FULL.replace(reason=Reason.OUT_OF_SCOPE)
    assert len({FULL, allowed, other_denial}) == 3


@pytest.mark.parametrize(
    "other",
    [
        tuple(FULL.to_dict(raw=True).values()),
        FULL.to_dict(raw=True),
        FULL.to_dict(),
        False,
        None,
    ],
    ids=["tuple", "raw-dict", "dict", "bool", "none"],
)
def test_a_record_equals_no_other_type(other: object) -> None:
    decision = FULL
    # Both operand orders: the reflected comparison must refuse too.
    assert (decision == other) is False
    assert (other == decision) is False
    assert decision.__eq__(other) is NotImplemented


# --- replace, to_dict, repr ----------------------------------------------------


def test_replace_returns_a_changed_copy() -> None:
    changed = FULL.replace(token_id="tok-9", detail="new")
    assert (changed.token_id, changed.detail) == ("tok-9", "new")
    assert FULL.token_id == "tok-1"  # the original is untouched
    assert changed.to_dict() == {**FULL.to_dict(), "token_id": "tok-9", "detail": "new"}
    unchanged = FULL.replace()
    assert unchanged == FULL
    assert unchanged is not FULL


def test_replace_checks_the_invariant_again() -> None:
    with pytest.raises(ValueError, match="allowed=True contradicts reason"):
        FULL.replace(allowed=True)
    with pytest.raises(ValueError, match="allowed=False contradicts reason 'allowed'"):
        FULL.replace(reason=Reason.ALLOWED)


def test_replace_redacts_secrets() -> None:
    changed = FULL.replace(path=f"/plan/{ACCESS}", method=REFRESH, detail=ACCESS)
    assert (changed.path, changed.method, changed.detail) == (
        "/plan/cvpat_***",
        "cvprt_***",
        "cvpat_***",
    )


def test_replace_refuses_unknown_fields() -> None:
    with pytest.raises(TypeError, match=r"^Decision has no field 'bogus'$"):
        FULL.replace(bogus=1)
    # Several unknown names: the first in sorted order is named.
    with pytest.raises(TypeError, match=r"^Decision has no field 'aaa'$"):
        FULL.replace(zzz=1, aaa=2, detail="fine")
    with pytest.raises(TypeError, match="no field '_values'"):
        FULL.replace(_values=())


def test_to_dict_gives_the_reason_as_text_unless_raw() -> None:
    plain = FULL.to_dict()
    raw = FULL.to_dict(raw=True)
    assert list(plain) == list(FIELDS)
    assert type(plain["reason"]) is str
    assert plain["reason"] == "ip_not_allowed"
    assert raw["reason"] is Reason.IP_NOT_ALLOWED
    assert {k: v for k, v in plain.items() if k != "reason"} == {
        k: v for k, v in raw.items() if k != "reason"
    }
    json.dumps(plain)  # JSON-ready as promised
    # Each call hands out a new dict: changing it changes no record.
    plain["detail"] = "changed"
    assert FULL.detail != "changed"


def test_repr_lists_every_field_like_a_dataclass() -> None:
    assert repr(Decision(True, Reason.ALLOWED, "ok", path="/plan")) == (
        "Decision(allowed=True, reason=<Reason.ALLOWED: 'allowed'>, detail='ok', "
        "rule=None, ip=None, path='/plan', method=None, token_id=None, "
        "token_name=None)"
    )


# --- Copies, pickles and patterns -----------------------------------------------


@pytest.mark.parametrize(
    "clone",
    [
        lambda d: pickle.loads(pickle.dumps(d)),  # noqa: S301 - our own bytes
        lambda d: pickle.loads(pickle.dumps(d, protocol=0)),  # noqa: S301
        copy.copy,
        copy.deepcopy,
    ],
    ids=["pickle", "pickle-0", "copy", "deepcopy"],
)
def test_copies_round_trip(clone: Callable[[Decision], Decision]) -> None:
    for record in (FULL, Decision(True, Reason.ALLOWED, "ok", path="/cvpat_***")):
        copied = clone(record)
        assert type(copied) is Decision
        assert copied == record
        assert repr(copied) == repr(record)
        assert copied.reason is record.reason


def test_a_pickle_is_checked_again_when_loaded() -> None:
    # decided() trusts its caller; a record it was handed wrongly does not
    # survive a round trip, because loading goes through the constructor.
    broken = decided(True, Reason.EXPIRED, "x", None, None, None, None)
    data = pickle.dumps(broken)
    with pytest.raises(ValueError, match="allowed=True contradicts reason 'expired'"):
        pickle.loads(data)  # noqa: S301 - our own bytes


def describe(decision: Decision) -> str:
    match decision:
        case Decision(True, _, _, rule):
            return f"allowed by {rule}"
        case Decision(False, Reason.IP_NOT_ALLOWED, _, _, ip):
            return f"refused {ip}"
        case Decision(False, reason, _, _, _, path, method, token_id, token_name):
            return f"{reason.value} {method} {path} {token_id} {token_name}"
    pytest.fail(f"no pattern matched {decision!r}")


def test_match_takes_positional_patterns_in_field_order() -> None:
    assert Decision.__match_args__ == FIELDS
    assert describe(Decision(True, Reason.ALLOWED, "ok", "/plan")) == "allowed by /plan"
    assert describe(FULL) == "refused 192.0.2.9"
    expired = Decision(False, Reason.EXPIRED, "x", None, None, "/p", "GET", "t", "n")
    assert describe(expired) == "expired GET /p t n"


def test_match_takes_keyword_patterns() -> None:
    match FULL:
        case Decision(reason=Reason.IP_NOT_ALLOWED, ip=ip, token_name=name):
            assert (ip, name) == ("192.0.2.9", "backup job")
        case _:
            pytest.fail("keyword pattern did not match")


# --- decided(): the builder on the per-request path -----------------------------

# Fragments that assemble into secret shapes, near misses and plain text.
_FRAGMENTS = st.sampled_from(
    ["cvpat_", "cvprt_", "cvp", "cvpat", "Q", "r9", "-", "_", "*", "/", " ", "plan"]
)
_TEXT = st.lists(_FRAGMENTS, max_size=6).map("".join)
_SECRET_SHAPE = re.compile(r"cvp[ar]t_[A-Za-z0-9_-]")


@settings(max_examples=300)
@given(
    reason=st.sampled_from(Reason),
    detail=_TEXT,
    rule=st.none() | _TEXT,
    ip=st.none() | st.sampled_from(["192.0.2.1", "2001:db8::1"]),
    path=st.none() | _TEXT.map(lambda text: "/" + text),
    method=st.none() | _TEXT,
)
def test_decided_equals_the_public_constructor(
    reason: Reason,
    detail: str,
    rule: str | None,
    ip: str | None,
    path: str | None,
    method: str | None,
) -> None:
    allowed = reason is Reason.ALLOWED
    fast = decided(allowed, reason, detail, rule, ip, path, method)
    public = Decision(allowed, reason, detail, rule, ip, path, method)
    assert fast == public
    assert hash(fast) == hash(public)
    assert repr(fast) == repr(public)
    assert (fast.token_id, fast.token_name) == (None, None)
    for text in (fast.detail, fast.path, fast.method):
        assert text is None or not _SECRET_SHAPE.search(text)
    # Redaction is idempotent, so rebuilding a record changes nothing.
    assert Decision(**fast.to_dict(raw=True)) == fast


def test_decided_redacts_detail_path_and_method() -> None:
    record = decided(
        False,
        Reason.OUT_OF_SCOPE,
        f"'/plan/{REFRESH}' is outside the scope",
        None,
        "192.0.2.1",
        f"/plan/{ACCESS}/x",
        ACCESS[:16],
    )
    assert record.detail == "'/plan/cvprt_***' is outside the scope"
    assert record.path == "/plan/cvpat_***/x"
    assert record.method == "cvpat_***"
    assert "Q" * 8 not in repr(record)
    assert "R" * 8 not in repr(record)


def test_decided_keeps_ordinary_values_as_given() -> None:
    path = "/cvp/plan"
    record = decided(True, Reason.ALLOWED, "ok", "/", "192.0.2.1", path, "GET")
    assert record.path is path
    assert record == Decision(True, Reason.ALLOWED, "ok", "/", "192.0.2.1", path, "GET")


def test_a_second_init_cannot_change_a_record() -> None:
    decision = Decision(True, Reason.ALLOWED, "ok")
    before = hash(decision)
    with pytest.raises(AttributeError, match="second __init__"):
        decision.__init__(False, Reason.BAD_IP, "mutated")  # type: ignore[misc]
    assert decision.allowed
    assert decision.detail == "ok"
    assert hash(decision) == before
