"""Values that fight back: the per-request API reads them without calling them.

A gateway passes whatever its framework hands it.  A str subclass may
override every method, an object's repr() may raise, an int may have more
digits than Python will print, and an ``ipaddress`` subclass may carry more
than an address.  ``AccessPolicy.check``, ``in`` and ``IPAllowlist.judge``
must neither raise nor let such a value decide differently from the plain
value it holds.
"""

from __future__ import annotations

import ipaddress
from typing import NoReturn

import pytest

from policy import AccessPolicy, IPAllowlist, Reason, Scope, canonical_path
from policy._decision import Decision

ALLOWLIST = IPAllowlist.parse("10.0.0.0/8\n2001:db8::/32")
POLICY = AccessPolicy(
    scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST, api_base=["/api"]
)


def _boom(*_: object) -> NoReturn:
    raise RuntimeError("a hostile method was called")


class HostileStr(str):
    """A string whose every overridable reading raises."""

    __contains__ = _boom
    __len__ = _boom
    __iter__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __eq__ = _boom  # type: ignore[assignment]
    __str__ = _boom  # type: ignore[assignment]
    __getitem__ = _boom  # type: ignore[assignment]
    lower = _boom  # type: ignore[assignment]
    split = _boom  # type: ignore[assignment]
    partition = _boom  # type: ignore[assignment]
    isascii = _boom  # type: ignore[assignment]
    encode = _boom  # type: ignore[assignment]


class HostileRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr was called")


@pytest.mark.parametrize(
    ("ip", "path", "method"),
    [
        ("10.0.0.1", "/api/plan/7", "GET"),
        ("2001:db8::1", "/api/plan/7", "POST"),
        ("192.0.2.1", "/api/plan/7", "GET"),
        ("10.0.0.1", "/api/Client", "GET"),
        ("10.0.0.1", "/api/plan/%2e%2e/x", "GET"),
        ("not an address", "/api/plan", "GET"),
        ("10.0.0.1", "/api/plan", "G ET"),
    ],
)
def test_a_str_subclass_decides_as_its_plain_value(
    ip: str, path: str, method: str
) -> None:
    plain = POLICY.check(ip=ip, path=path, method=method)
    hostile = POLICY.check(
        ip=HostileStr(ip), path=HostileStr(path), method=HostileStr(method)
    )
    assert hostile == plain
    assert all(
        type(value) is str
        for value in (hostile.detail, hostile.ip, hostile.path, hostile.method)
        if value is not None
    )


def test_membership_and_judge_read_a_str_subclass_as_plain() -> None:
    assert HostileStr("10.0.0.1") in ALLOWLIST
    assert HostileStr("192.0.2.1") not in ALLOWLIST
    assert ALLOWLIST.judge(HostileStr("10.0.0.1")) == ALLOWLIST.judge("10.0.0.1")
    assert canonical_path(HostileStr("/plan//7")) == "/plan/7"


@pytest.mark.parametrize(
    "value",
    [HostileRepr(), 10**5000, -(10**5000), b"10.0.0.1", 167772161, None, [1]],
    ids=["repr-raises", "huge-int", "huge-negative", "bytes", "int", "none", "list"],
)
def test_any_object_as_client_is_bad_ip_named_by_its_type(value: object) -> None:
    decision = POLICY.check(ip=value, path="/api/plan")
    assert decision.reason is Reason.BAD_IP
    assert f"<{type(value).__name__}>" in decision.detail
    assert value not in ALLOWLIST
    assert ALLOWLIST.judge(value) is None


def test_any_object_as_method_or_path_is_refused_without_repr() -> None:
    by_method = POLICY.check(ip="10.0.0.1", path="/api/plan", method=HostileRepr())  # type: ignore[arg-type]
    assert by_method.reason is Reason.BAD_METHOD
    assert by_method.detail == "method <HostileRepr> is not a token"
    by_path = POLICY.check(ip="10.0.0.1", path=HostileRepr())  # type: ignore[arg-type]
    assert by_path.reason is Reason.BAD_PATH


@pytest.mark.parametrize(
    "value",
    [
        ipaddress.IPv4Interface("10.1.2.3/8"),
        ipaddress.IPv6Interface("2001:db8::1/32"),
    ],
)
def test_an_interface_object_is_not_one_address(value: object) -> None:
    # Its text, "10.1.2.3/8", is refused; so is the object, which is an
    # IPv4Address by inheritance but carries a network as well.
    assert POLICY.check(ip=str(value), path="/api/plan").reason is Reason.BAD_IP
    assert POLICY.check(ip=value, path="/api/plan").reason is Reason.BAD_IP
    assert value not in ALLOWLIST
    assert ALLOWLIST.judge(value) is None


def test_plain_address_objects_are_still_read() -> None:
    assert POLICY.check(ip=ipaddress.IPv4Address("10.0.0.1"), path="/api/plan")
    assert POLICY.check(ip=ipaddress.IPv6Address("2001:db8::1"), path="/api/plan")


def test_a_decision_record_is_closed_to_subclasses_and_wrong_types() -> None:
    with pytest.raises(TypeError, match="closed record type"):
        type("Mine", (Decision,), {})
    with pytest.raises(TypeError, match="allowed must be a bool, got int"):
        Decision(1, Reason.ALLOWED, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="detail must be a str, got bytes"):
        Decision(False, Reason.BAD_IP, b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be a str or None, got int"):
        Decision(False, Reason.BAD_IP, "x", path=7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'nope' is not a valid Reason"):
        Decision(False, "nope", "x")  # type: ignore[arg-type]
    # A reason given as its plain value is read as the reason.
    assert Decision(False, "bad_ip", "x").reason is Reason.BAD_IP  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="contradicts reason 'allowed'"):
        Decision(False, "allowed", "x")  # type: ignore[arg-type]


def test_echoed_input_cannot_drive_a_terminal() -> None:
    from policy._errors import Diagnostic, echo, printable

    hostile = "10.0.0.1\x1b[31mRED\x1b]0;title\x07\u202eevil\x9b"
    assert printable(hostile) == (
        "10.0.0.1\\x1b[31mRED\\x1b]0;title\\x07\\u202eevil\\x9b"
    )
    assert printable("plain text é") == "plain text é"
    assert "\x1b" not in echo(hostile)
    # The caret stays under the span as shown, after the escapes.
    found = Diagnostic(
        source="a.txt",
        line=1,
        column=10,
        text="[31m",
        message="bad",
        code="x",
        line_text=hostile,
        length=4,
    ).format()
    shown, marker = found.splitlines()[1:]
    assert "\x1b" not in found
    assert shown[marker.index("^") :].startswith("[31m")
    assert marker.count("^") == 4


class ClaimsStr:
    """Passes isinstance(x, str) through __class__, and holds no string."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return str


def test_an_object_claiming_str_is_refused_not_raised() -> None:
    from policy.tokens import MemoryStore, TokenService

    claims = ClaimsStr()
    assert isinstance(claims, str)
    for policy in (POLICY, POLICY.with_cache(8)):
        assert policy.check(ip=claims, path="/api/plan").reason is Reason.BAD_IP
        by_path = policy.check(ip="10.0.0.1", path=claims)  # type: ignore[arg-type]
        assert by_path.reason is Reason.BAD_PATH
        by_method = policy.check(ip="10.0.0.1", path="/api/plan", method=claims)  # type: ignore[arg-type]
        assert by_method.reason is Reason.BAD_METHOD
    assert claims not in ALLOWLIST
    assert ALLOWLIST.judge(claims) is None
    service = TokenService(MemoryStore())
    decision = service.authorize(access_token=claims, ip="10.0.0.1", path="/plan")  # type: ignore[arg-type]
    assert decision.reason is Reason.UNKNOWN_TOKEN


def test_diagnostics_blank_secrets_in_repr_and_carets() -> None:
    from policy import IPAllowlist
    from policy._errors import PolicyError

    secret = "cvpat_" + "S" * 43 + "_AAAAAA"
    with pytest.raises(PolicyError) as caught:
        Scope.custom(f"/plan/{secret}/more")
    found = caught.value.diagnostics[0]
    assert "S" * 16 not in repr(found)
    shown, marker = found.format().splitlines()[1:]
    # The caret covers the secret as shown, not as typed.
    assert shown[marker.index("^") :].startswith("cvpat_***/")
    assert marker.count("^") == len("cvpat_***")

    # A fault past the cut of a long line gets no caret under the note.
    with pytest.raises(PolicyError) as caught:
        IPAllowlist.parse("10.0.0.1" + " " * 130 + "10.0.0.5/24")
    assert "^" not in caught.value.diagnostics[0].format()
