"""AccessPolicy.check: the order of checks and every reason."""

from __future__ import annotations

import copy
import ipaddress
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import AccessPolicy, IPAllowlist, PolicyTypeError, Reason, Scope
from policy._paths import DEFAULT_MAX_PATH_LENGTH

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
        "case_sensitive=False cache_size=0>"
    )
    assert repr(AccessPolicy(scope=Scope.all(), cache_size=16)).endswith(
        "cache_size=16>"
    )


@pytest.mark.parametrize("name", ["cache_size", "max_path_length"])
@pytest.mark.parametrize("value", [-1, True, 1.5, "8", None])
def test_counts_must_be_ints_in_range(name: str, value: object) -> None:
    least = 0 if name == "cache_size" else 1
    message = f"{name} must be an int of at least {least}, got {value!r}"
    with pytest.raises(PolicyTypeError) as caught:
        AccessPolicy(scope=Scope.all(), **{name: value})  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_max_path_length_zero_is_refused() -> None:
    with pytest.raises(PolicyTypeError) as caught:
        AccessPolicy(scope=Scope.all(), max_path_length=0)
    assert str(caught.value) == "max_path_length must be an int of at least 1, got 0"


# --- Path length limit ------------------------------------------------------------


def test_max_path_length_at_the_limit_and_one_past() -> None:
    policy = AccessPolicy(scope=Scope.all(), max_path_length=10)
    assert policy.max_path_length == 10
    at_limit = policy.check(ip="192.0.2.1", path="/" + "a" * 9)
    assert at_limit.allowed
    assert at_limit.path == "/aaaaaaaaa"
    past = policy.check(ip="192.0.2.1", path="/" + "a" * 10)
    assert past.reason is Reason.BAD_PATH
    assert past.path is None
    assert past.detail == "path must be at most 10 characters, got 11 characters"


def test_max_path_length_defaults_to_the_canonicaliser_limit() -> None:
    policy = AccessPolicy(scope=Scope.all())
    assert policy.max_path_length == DEFAULT_MAX_PATH_LENGTH
    assert policy.check(ip="192.0.2.1", path="/" + "a" * 8191).allowed
    refused = policy.check(ip="192.0.2.1", path="/" + "a" * 8192)
    assert refused.detail == (
        "path must be at most 8192 characters, got 8193 characters"
    )


# --- Immutability ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "scope",
        "allowlist",
        "api_base",
        "case_sensitive",
        "max_path_length",
        "cache_size",
        "_matcher",
        "_clients",
        "unknown",
    ],
)
def test_attributes_cannot_be_assigned_or_deleted(name: str) -> None:
    policy = AccessPolicy(
        scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST, cache_size=8
    )
    with pytest.raises(PolicyTypeError) as assigned:
        setattr(policy, name, None)
    assert str(assigned.value) == (
        f"AccessPolicy is immutable, got an assignment to {name!r};"
        " build a new policy instead"
    )
    with pytest.raises(PolicyTypeError) as deleted:
        delattr(policy, name)
    assert str(deleted.value) == (
        f"AccessPolicy is immutable, got a deletion of {name!r};"
        " build a new policy instead"
    )


def test_a_refused_assignment_changes_no_decision() -> None:
    policy = AccessPolicy(scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST)
    with pytest.raises(PolicyTypeError):
        policy.scope = Scope.all()  # type: ignore[misc]
    with pytest.raises(PolicyTypeError):
        policy.allowlist = None  # type: ignore[misc]
    assert policy.scope == Scope.custom(["/plan"])
    assert policy.allowlist is ALLOWLIST
    assert policy.check(ip="192.0.2.7", path="/Client").reason is Reason.OUT_OF_SCOPE
    denied = policy.check(ip="198.51.100.1", path="/plan")
    assert denied.reason is Reason.IP_NOT_ALLOWED


# --- Tables of recent clients and paths -----------------------------------------


def test_the_cache_is_off_by_default() -> None:
    policy = AccessPolicy(scope=Scope.all())
    assert policy.cache_size == 0
    policy.check(ip="192.0.2.7", path="/plan")
    assert policy._clients is None
    assert policy._routes is None


def test_with_cache_shares_the_rules_and_keeps_the_original() -> None:
    policy = AccessPolicy(
        scope=Scope.custom(["/plan"]),
        allowlist=ALLOWLIST,
        api_base=["/api"],
        case_sensitive=True,
        max_path_length=64,
    )
    cached = policy.with_cache(32)
    assert cached is not policy
    assert (policy.cache_size, cached.cache_size) == (0, 32)
    assert cached.scope is policy.scope
    assert cached.allowlist is policy.allowlist
    assert cached.api_base == ("/api",)
    assert cached.case_sensitive is True
    assert cached.max_path_length == 64
    assert cached.check(ip="192.0.2.7", path="/api/plan").allowed
    assert cached.check(ip="192.0.2.7", path="/api/PLAN").reason is Reason.OUT_OF_SCOPE
    assert policy._clients is None
    assert cached.with_cache(0)._clients is None
    with pytest.raises(PolicyTypeError) as caught:
        policy.with_cache(-1)
    assert str(caught.value) == "cache_size must be an int of at least 0, got -1"


def test_cache_tables_are_bounded() -> None:
    policy = AccessPolicy(scope=Scope.all(), allowlist=ALLOWLIST, cache_size=3)
    for n in range(10):
        assert policy.check(ip=f"192.0.2.{n}", path=f"/p{n}").allowed
    assert policy._clients is not None
    assert policy._routes is not None
    # Emptied when full: after 10 inserts into a table of 3, one is left.
    assert list(policy._clients) == ["192.0.2.9"]
    assert list(policy._routes) == ["/p9"]


class _Spoof(str):
    """A str that hashes and compares like another: must not read a table."""

    def __hash__(self) -> int:
        return hash("192.0.2.7")

    def __eq__(self, other: object) -> bool:
        return True


def test_str_subclasses_bypass_the_tables() -> None:
    policy = AccessPolicy(scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST)
    policy = policy.with_cache(8)
    assert policy.check(ip="192.0.2.7", path="/plan").allowed
    spoofed = policy.check(ip=_Spoof("198.51.100.1"), path=_Spoof("/Client"))
    assert spoofed.reason is Reason.IP_NOT_ALLOWED
    assert spoofed.ip == "198.51.100.1"
    assert policy.check(ip="192.0.2.7", path=_Spoof("/Client")).reason is (
        Reason.OUT_OF_SCOPE
    )


_IPS = st.one_of(
    st.sampled_from(
        [
            "192.0.2.7",
            "192.0.2.255",
            "198.51.100.1",
            "2001:db8::1",
            "2001:DB8::1",
            "::ffff:192.0.2.7",
            "::ffff:198.51.100.1",
            "192.0.2.07",
            "192.0.2.7 ",
            "",
            "x",
        ]
    ),
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1)),
)
_PATHS = st.one_of(
    st.sampled_from(
        [
            "/api/plan",
            "/api/plan/7?x=1",
            "/API/Plan/7",
            "/api/planet",
            "/api/Client",
            "/api/plan/../Client",
            "/api/plan%2FClient",
            "/api/plan/...",
            "//api//plan//",
            "/elsewhere",
            "plan",
            "",
        ]
    ),
    st.text(alphabet="/ap%2e.lnC;?", max_size=12),
)


@settings(max_examples=250)
@given(
    requests=st.lists(
        st.tuples(_IPS, _PATHS, st.sampled_from(["GET", "POST", "get", "B AD"])),
        max_size=40,
    ),
    size=st.integers(1, 5),
)
def test_cached_decisions_equal_uncached(
    requests: list[tuple[object, str, str]], size: int
) -> None:
    uncached = AccessPolicy(
        scope=Scope.custom(["/plan"]), allowlist=ALLOWLIST, api_base=["/api"]
    )
    cached = uncached.with_cache(size)
    # Twice over: the second pass reads what the first one remembered (as
    # far as the small tables kept it).
    for _ in range(2):
        for ip, path, method in requests:
            expected = uncached.check(ip=ip, path=path, method=method)
            assert cached.check(ip=ip, path=path, method=method) == expected


# --- The usual request's plain form against the general path ------------------
#
# Without tables, check() decides the usual request (an address text, a path
# already canonical, a usual method) through a function built per policy
# (_plain_check), and hands anything else to the general _check().  Both
# must give the same decision for every policy and request.

_SEGMENTS = ["api", "API", "v2", "plan", "Plan", "Client", "a"]
_policies = st.builds(
    lambda scope, allowlist, bases, case_sensitive: AccessPolicy(
        scope=scope,
        allowlist=allowlist,
        api_base=bases,
        case_sensitive=case_sensitive,
    ),
    scope=st.one_of(
        st.just(Scope.all()),
        st.lists(
            st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=3).map(
                lambda parts: "/" + "/".join(parts)
            ),
            min_size=1,
            max_size=4,
        ).map(Scope.custom),
    ),
    allowlist=st.sampled_from(
        [
            None,
            ALLOWLIST,
            IPAllowlist.parse(["192.0.2.0 - 192.0.2.9", "::ffff:198.51.100.0/120"]),
            IPAllowlist.parse(["0.0.0.0/0"]),
        ]
    ),
    bases=st.lists(
        st.lists(st.sampled_from(_SEGMENTS), min_size=0, max_size=2).map(
            lambda parts: "/" + "/".join(parts)
        ),
        max_size=3,
    ),
    case_sensitive=st.booleans(),
)
_PLAIN_PATHS = st.one_of(
    _PATHS,
    st.lists(st.sampled_from([*_SEGMENTS, "", ".", "x;y", "%41"]), max_size=5).map(
        lambda parts: "/" + "/".join(parts)
    ),
)


@settings(max_examples=400)
@given(
    policy=_policies,
    requests=st.lists(
        st.tuples(
            _IPS,
            _PLAIN_PATHS,
            st.sampled_from(["GET", "POST", "DELETE", "get", "B AD", "PROPFIND"]),
        ),
        max_size=20,
    ),
)
def test_the_plain_form_decides_as_the_general_path(
    policy: AccessPolicy, requests: list[tuple[object, str, str]]
) -> None:
    # The plain form is in use (a policy without tables).
    assert policy._decide != policy._check
    for ip, path, method in requests:
        general = policy._check(ip, path, method)
        assert policy.check(ip=ip, path=path, method=method) == general
        assert policy.with_cache(8).check(ip=ip, path=path, method=method) == general


def test_the_plain_form_is_rebuilt_for_a_twin_without_tables() -> None:
    cached = POLICY.with_cache(16)
    assert cached._decide == cached._check
    twin = cached.with_cache(0)
    assert twin._decide != twin._check
    decision = twin.check(ip="192.0.2.7", path="/webconsole/api/plan/7")
    assert decision == POLICY.check(ip="192.0.2.7", path="/webconsole/api/plan/7")
    assert decision.allowed


def test_a_policy_copies_as_itself_and_pickles_as_its_rules() -> None:
    cached = POLICY.with_cache(16)
    assert copy.copy(POLICY) is POLICY
    assert copy.deepcopy(cached) is cached
    for policy in (POLICY, cached):
        again = pickle.loads(pickle.dumps(policy))  # noqa: S301 - our own bytes
        assert repr(again) == repr(policy)
        for ip, path in (
            ("192.0.2.7", "/webconsole/api/plan/7"),
            ("198.51.100.1", "/webconsole/api/plan/7"),
            ("192.0.2.7", "/webconsole/api/planet"),
        ):
            assert again.check(ip=ip, path=path) == policy.check(ip=ip, path=path)
