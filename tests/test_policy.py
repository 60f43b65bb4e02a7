"""AccessPolicy.check: the order of checks and every reason."""

from __future__ import annotations

import ipaddress

import pytest

from policy import AccessPolicy, IPAllowlist, PolicyTypeError, Reason, Scope

ALLOWLIST = IPAllowlist.parse(["192.0.2.0/24", "2001:db8::/32"])
POLICY = AccessPolicy(
    scope=Scope.custom(["/plan", "/Client"]),
    allowlist=ALLOWLIST,
    api_base=["/commandcenter/api", "/webconsole/api"],
)


def test_allowed_names_both_rules() -> None:
    decision = POLICY.check(ip="192.0.2.7", path="/webconsole/api/plan/7?x=1")
    assert decision.allowed
    assert decision.reason is Reason.ALLOWED
    assert decision.rule == "/plan"
    assert decision.ip == "192.0.2.7"
    assert decision.path == "/webconsole/api/plan/7"
    assert "'192.0.2.0/24'" in decision.detail


@pytest.mark.parametrize(
    ("ip", "path", "method", "reason"),
    [
        ("192.0.2.7", "/webconsole/api/planet", "GET", Reason.OUT_OF_SCOPE),
        ("192.0.2.7", "/plan", "GET", Reason.OUT_OF_SCOPE),
        ("192.0.2.7", "/webconsole/apix/plan", "GET", Reason.OUT_OF_SCOPE),
        ("198.51.100.1", "/webconsole/api/plan", "GET", Reason.IP_NOT_ALLOWED),
        ("192.0.2.7, 198.51.100.1", "/webconsole/api/plan", "GET", Reason.BAD_IP),
        ("192.0.2.0/24", "/webconsole/api/plan", "GET", Reason.BAD_IP),
        ("localhost", "/webconsole/api/plan", "GET", Reason.BAD_IP),
        ("", "/webconsole/api/plan", "GET", Reason.BAD_IP),
        ("192.0.2.7", "/webconsole/api/plan/%2e%2e/Client", "GET", Reason.BAD_PATH),
        ("192.0.2.7", "/webconsole/api/plan", "G ET", Reason.BAD_METHOD),
        ("192.0.2.7", "/webconsole/api/plan", "", Reason.BAD_METHOD),
    ],
)
def test_denials(ip: str, path: str, method: str, reason: Reason) -> None:
    decision = POLICY.check(ip=ip, path=path, method=method)
    assert not decision.allowed
    assert decision.reason is reason


def test_bad_ip_is_judged_before_the_path() -> None:
    decision = POLICY.check(ip="nope", path="/../etc")
    assert decision.reason is Reason.BAD_IP


@pytest.mark.parametrize(
    "ip", [None, 3232235777, b"\xc0\x00\x02\x07", ["192.0.2.7"], object()]
)
def test_non_address_objects_are_bad_ip_never_an_exception(ip: object) -> None:
    assert POLICY.check(ip=ip, path="/webconsole/api/plan").reason is Reason.BAD_IP


def test_non_string_path_is_bad_path() -> None:
    decision = POLICY.check(ip="192.0.2.7", path=b"/plan")  # type: ignore[arg-type]
    assert decision.reason is Reason.BAD_PATH


def test_ipaddress_objects_and_mapped_addresses() -> None:
    assert POLICY.check(
        ip=ipaddress.ip_address("192.0.2.7"), path="/webconsole/api/plan"
    ).allowed
    mapped = POLICY.check(ip="::ffff:192.0.2.7", path="/webconsole/api/plan")
    assert mapped.allowed
    assert mapped.ip == "192.0.2.7"
    assert POLICY.check(ip="2001:db8::5", path="/commandcenter/api/client/1").allowed


def test_no_allowlist_means_any_address() -> None:
    policy = AccessPolicy(scope=Scope.all())
    decision = policy.check(ip="203.0.113.9", path="/anything/at/all")
    assert decision.allowed
    assert "any address" in decision.detail


def test_case_sensitive_mode_applies_to_bases_and_endpoints() -> None:
    policy = AccessPolicy(
        scope=Scope.custom(["/Client"]),
        api_base=["/webconsole/api"],
        case_sensitive=True,
    )
    assert policy.check(ip="192.0.2.1", path="/webconsole/api/Client").allowed
    assert not policy.check(ip="192.0.2.1", path="/webconsole/api/client").allowed
    assert not policy.check(ip="192.0.2.1", path="/WebConsole/api/Client").allowed


def test_detail_echoes_at_most_a_bounded_amount_of_input() -> None:
    long_path = "/x" * 3000
    decision = POLICY.check(ip="192.0.2.7", path="/webconsole/api" + long_path)
    assert decision.reason is Reason.OUT_OF_SCOPE
    assert len(decision.detail) < 300


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "all"}, "scope must be a Scope, got str"),
        (
            {"scope": Scope.all(), "allowlist": ["10.0.0.1"]},
            "allowlist must be an IPAllowlist or None, got list",
        ),
        (
            {"scope": Scope.all(), "api_base": "/webconsole/api"},
            "api_base must be a list of paths, got one string",
        ),
    ],
)
def test_misuse_is_a_type_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyTypeError, match=message):
        AccessPolicy(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AccessPolicy(**kwargs)  # type: ignore[arg-type]


def test_repr_names_the_parts() -> None:
    assert repr(AccessPolicy(scope=Scope.all())) == (
        "<AccessPolicy scope='All' allowlist=any address api_base=[] "
        "case_sensitive=False>"
    )


# --- Tables of recent clients and paths -----------------------------------------


def test_repeated_checks_give_equal_decisions() -> None:
    policy = AccessPolicy(
        scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST, api_base=["/api"]
    )
    requests = [
        ("192.0.2.7", "/api/plan/7"),
        ("192.0.2.7", "/api/Client"),
        ("198.51.100.1", "/api/plan"),
        ("192.0.2.7", "/elsewhere"),
        ("2001:db8::1", "/api/plan?x=1"),
    ]
    first = [policy.check(ip=ip, path=path) for ip, path in requests]
    fresh = [
        AccessPolicy(
            scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST, api_base=["/api"]
        ).check(ip=ip, path=path)
        for ip, path in requests
    ]
    again = [policy.check(ip=ip, path=path) for ip, path in requests]
    assert first == fresh == again
    assert [d.reason for d in again] == [
        Reason.ALLOWED,
        Reason.OUT_OF_SCOPE,
        Reason.IP_NOT_ALLOWED,
        Reason.OUT_OF_SCOPE,
        Reason.ALLOWED,
    ]


def test_changing_a_rule_forgets_recent_verdicts() -> None:
    policy = AccessPolicy(scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST)
    assert policy.check(ip="203.0.113.5", path="/plan").reason is Reason.IP_NOT_ALLOWED
    policy.allowlist = IPAllowlist.parse(["203.0.113.0/24"])
    assert policy.check(ip="203.0.113.5", path="/plan").allowed
    policy.allowlist = None
    assert policy.check(ip="198.51.100.1", path="/plan").allowed
