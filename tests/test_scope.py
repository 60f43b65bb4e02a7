"""Tests for scopes, the segment trie, the catalogue and API bases."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._api_base import DEFAULT_API_BASES, ApiBase
from policy._endpoints import parse_endpoints
from policy._errors import PolicyTypeError, ScopeError
from policy._paths import canonical_path
from policy._scope import Scope, ScopeMatcher

HANDED = Path("/work/shared/cases/handed.json")


def _match(
    endpoints: list[str], raw: str, *, case_sensitive: bool = False
) -> str | None:
    matcher = Scope.custom(endpoints).matcher(case_sensitive=case_sensitive)
    return matcher.match(canonical_path(raw))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/plan", "/plan"),
        ("/plan/", "/plan"),
        ("/plan/7/schedule", "/plan"),
        ("/plan?x=1", "/plan"),
        ("//plan//7", "/plan"),
        ("/planet", None),
        ("/pla", None),
        ("/", None),
        ("/other/plan", None),
    ],
)
def test_segment_boundaries(raw: str, expected: str | None) -> None:
    assert _match(["/plan"], raw) == expected


def test_client_does_not_cover_client_group() -> None:
    assert _match(["/Client"], "/ClientGroup/4") is None
    assert _match(["/Client", "/ClientGroup"], "/ClientGroup/4") == "/ClientGroup"


@pytest.mark.parametrize(
    ("raw", "folded", "exact"),
    [
        ("/client/7", "/Client", None),
        ("/CLIENT", "/Client", None),
        ("/Client", "/Client", "/Client"),
        ("/v4/servergroup/1", "/V4/ServerGroup", None),
    ],
)
def test_case_modes(raw: str, folded: str | None, exact: str | None) -> None:
    endpoints = ["/Client", "/V4/ServerGroup"]
    assert _match(endpoints, raw) == folded
    assert _match(endpoints, raw, case_sensitive=True) == exact


def test_non_ascii_is_never_folded() -> None:
    matcher = Scope.custom(["/k"]).matcher(case_sensitive=False)
    # The Kelvin sign lower-cases to 'k'; it must not match.
    assert "\u212a".lower() == "k"
    assert matcher.match("/\u212a") is None
    assert matcher.match("/K") == "/k"


def test_deepest_endpoint_below_another_is_dropped() -> None:
    matcher = ScopeMatcher(
        parse_endpoints(["/plan/7", "/plan", "/plan/8/x", "/Client"]),
        case_sensitive=True,
    )
    assert len(matcher) == 2
    assert matcher.match("/plan/7/x") == "/plan"
    assert repr(matcher) == "<ScopeMatcher 2 endpoints, case-sensitive>"


def test_duplicates_in_other_case_keep_the_first() -> None:
    matcher = Scope.custom(["/Client", "/client"]).matcher(case_sensitive=False)
    assert len(matcher) == 1
    assert matcher.match("/CLIENT") == "/Client"
    exact = Scope.custom(["/Client", "/client"]).matcher(case_sensitive=True)
    assert len(exact) == 2
    assert exact.match("/client") == "/client"


def test_root_endpoint_and_all_scope_match_everything() -> None:
    assert _match(["/"], "/anything/at/all") == "/"
    every = Scope.all().matcher(case_sensitive=True)
    assert every.match("/") == "/"
    assert every.match("/x/y") == "/"
    assert Scope.all().endpoints == ()
    assert (Scope.all().name, Scope.all().kind, Scope.all().id) == ("All", "all", "all")


def test_matchers_are_cached_per_mode() -> None:
    scope = Scope.custom(["/plan"])
    assert scope.matcher(case_sensitive=True) is scope.matcher(case_sensitive=True)
    assert scope.matcher(case_sensitive=True) is not scope.matcher(case_sensitive=False)


@pytest.mark.parametrize(
    "case",
    [c for c in json.loads(HANDED.read_text()) if c["id"] in {"B16", "B17", "B25"}],
    ids=lambda case: str(case["id"]),
)
def test_handed_scope_cases(case: dict[str, object]) -> None:
    endpoints = case["endpoints"]
    assert isinstance(endpoints, list)
    found = _match(endpoints, str(case["path"]))
    assert (found is not None) == (case["expect"] == "allow")
    if "expect_case_sensitive" in case:
        exact = _match(endpoints, str(case["path"]), case_sensitive=True)
        assert (exact is not None) == (case["expect_case_sensitive"] == "allow")


def test_handed_b26_scope_refused() -> None:
    with pytest.raises(ScopeError):
        Scope.custom(["/plan", ""])


def test_custom_passes_its_limits_to_the_parser() -> None:
    many = "\n".join(f"/e{n}" for n in range(5))
    assert len(Scope.custom(many, max_endpoints=5).endpoints) == 5
    with pytest.raises(ScopeError) as caught:
        Scope.custom(many, source="s.txt", first_line=10, max_endpoints=4)
    (found,) = caught.value.errors
    assert (found.source, found.line, found.code) == ("s.txt", 14, "too-many-endpoints")
    assert found.message == "at most 4 endpoints are accepted, got more by line 14"

    assert Scope.custom(["/abcd"], max_line_length=5).endpoints[0].path == "/abcd"
    with pytest.raises(ScopeError) as caught:
        Scope.custom(["/plan", "/abcdef"], max_line_length=5)
    (found,) = caught.value.errors
    assert (found.line, found.code) == (2, "line-too-long")
    assert found.message == "an endpoint line must be at most 5 characters, got 7"


def test_custom_limits_can_be_raised_past_the_defaults() -> None:
    word = "/" + "a" * 1_500
    with pytest.raises(ScopeError, match="line-too-long"):
        Scope.custom([word])
    assert Scope.custom([word], max_line_length=2_000).endpoints[0].path == word
    many = [f"/e{n}" for n in range(100_001)]
    with pytest.raises(ScopeError, match="too-many-endpoints"):
        Scope.custom(many)
    assert len(Scope.custom(many, max_endpoints=100_001).endpoints) == 100_001


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_line_length", 0, "max_line_length must be an int of at least 1, got 0"),
        ("max_line_length", True, "max_line_length must be an int of at least 1"),
        ("max_endpoints", -1, "max_endpoints must be an int of at least 1, got -1"),
        ("max_endpoints", 2.5, "max_endpoints must be an int of at least 1"),
        ("max_endpoints", "10", "max_endpoints must be an int of at least 1"),
        ("first_line", 0, "first_line must be an int of at least 1, got 0"),
        ("source", None, "source must be str, got NoneType"),
    ],
)
def test_custom_options_are_checked_before_parsing(
    option: str, value: object, message: str
) -> None:
    # The endpoints are malformed too: the option is refused first.
    with pytest.raises(PolicyTypeError) as caught:
        Scope.custom(["plan"], **{option: value})  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


# Oracle: a naive segment-wise prefix comparison.
def _oracle(endpoints: list[str], path: str, *, case_sensitive: bool) -> bool:
    def segments(text: str) -> list[str]:
        folded = text if case_sensitive else text.lower()
        return [segment for segment in folded.split("/") if segment]

    wanted = segments(path)
    return any(
        wanted[: len(segments(endpoint))] == segments(endpoint)
        for endpoint in endpoints
    )


_SEGMENT = st.sampled_from(["a", "A", "b", "ab", "Ab", "c", "plan", "Plan", "7"])
_ENDPOINT = st.lists(_SEGMENT, min_size=0, max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
_PATH = st.tuples(st.lists(_SEGMENT, min_size=0, max_size=6), st.booleans()).map(
    lambda pair: "/" + "/".join(pair[0]) + ("/" if pair[1] and pair[0] else "")
)


@settings(max_examples=300)
@given(st.lists(_ENDPOINT, min_size=1, max_size=8), _PATH, st.booleans())
def test_trie_agrees_with_oracle(
    endpoints: list[str], path: str, case_sensitive: bool
) -> None:
    matcher = Scope.custom(endpoints).matcher(case_sensitive=case_sensitive)
    found = matcher.match(canonical_path(path))
    assert (found is not None) == _oracle(
        endpoints, path, case_sensitive=case_sensitive
    )
    if found is not None:
        assert found in endpoints
        assert _oracle([found], path, case_sensitive=case_sensitive)


# Catalogue


def test_one_touch_recovery_is_exactly_the_documented_set() -> None:
    scope = Scope.builtin("1-Touch recovery")
    assert [endpoint.path for endpoint in scope.endpoints] == [
        "/Client",
        "/MediaAgent",
        "/ClientGroup",
        "/V4/ServerGroup",
        "/FirewallSummary",
    ]
    assert (scope.kind, scope.id) == ("builtin", "1-touch-recovery")
    assert scope.notes


@pytest.mark.parametrize(
    ("name", "scope_id"),
    [
        ("1-Touch recovery", "1-touch-recovery"),
        ("1-touch-recovery", "1-touch-recovery"),
        ("Hyperscale", "hyperscale"),
        ("hyperscale", "hyperscale"),
        ("Microsoft SCIM", "microsoft-scim"),
        ("microsoft-scim", "microsoft-scim"),
    ],
)
def test_builtin_names_and_ids(name: str, scope_id: str) -> None:
    scope = Scope.builtin(name)
    assert scope.id == scope_id
    assert scope == Scope.from_id(scope_id)
    assert scope.endpoints


def test_builtin_sets_are_narrow() -> None:
    hyperscale = Scope.builtin("Hyperscale").matcher(case_sensitive=False)
    assert hyperscale.match("/V4/Storage/HyperScale/3/Nodes") is not None
    assert hyperscale.match("/StoragePool") is None
    assert hyperscale.match("/V4/Storage/Cloud") is None
    scim = Scope.builtin("Microsoft SCIM").matcher(case_sensitive=False)
    assert scim.match("/scim/v2/Users/42") == "/scim/v2/Users"
    assert scim.match("/scim/v2/Schemas") == "/scim/v2/Schemas"
    assert scim.match("/scim/v2/Bulk") is None
    assert scim.match("/Client") is None


def test_catalogue_file_shape() -> None:
    text = resources.files("policy").joinpath("data", "scopes.toml").read_text()
    data = tomllib.loads(text)
    for entry in data["scope"]:
        assert set(entry) == {"id", "name", "endpoints", "notes"}


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("hyperscal", "did you mean 'hyperscale'?"),
        ("Microsoft  SCIM", "did you mean 'Microsoft SCIM'?"),
        ("all", "use Scope.all() for the All scope"),
        ("Custom", "use Scope.custom() for the Custom scope"),
    ],
)
def test_unknown_builtin(name: str, hint: str) -> None:
    with pytest.raises(ScopeError) as caught:
        Scope.builtin(name)
    assert caught.value.errors[0].code == "unknown-scope"
    assert str(caught.value).endswith(hint)


def test_from_id() -> None:
    assert Scope.from_id("all") == Scope.all()
    custom = Scope.from_id("custom", "/plan\n/Client", source="p.toml", first_line=3)
    assert custom == Scope.custom(["/Client", "/plan/"])
    assert custom.endpoints[1].line == 4
    for bad_id, endpoints, code in [
        ("custom", None, "missing-endpoints"),
        ("hyperscale", ["/x"], "unexpected-endpoints"),
        ("all", "/x", "unexpected-endpoints"),
        ("Hyperscale", None, "unknown-scope"),
    ]:
        with pytest.raises(ScopeError) as caught:
            Scope.from_id(bad_id, endpoints)
        assert caught.value.errors[0].code == code
    with pytest.raises(PolicyTypeError):
        Scope.from_id(3)  # type: ignore[arg-type]
    with pytest.raises(PolicyTypeError):
        Scope.builtin(None)  # type: ignore[arg-type]


def test_equality_and_repr() -> None:
    assert Scope.custom(["/a", "/b"]) == Scope.custom("/b\n/a/\n/a")
    assert Scope.custom(["/a"]) != Scope.custom(["/b"])
    assert Scope.custom(["/a"]) != Scope.all()
    assert hash(Scope.custom(["/a"])) == hash(Scope.custom(["/a/"]))
    assert Scope.custom(["/a"]) != "/a"
    assert repr(Scope.all()) == "Scope.all()"
    assert repr(Scope.custom(["/a", "/b"])) == "<Scope Custom ['/a', '/b']>"
    many = Scope.custom([f"/e{index}" for index in range(7)])
    assert repr(many) == (
        "<Scope Custom ['/e0', '/e1', '/e2', '/e3', '/e4'] and 2 more>"
    )
    assert repr(Scope.builtin("hyperscale")) == (
        "<Scope 'Hyperscale' builtin ['/V4/Storage/HyperScale']>"
    )


# API bases


@pytest.mark.parametrize(
    ("path", "folded", "exact"),
    [
        ("/webconsole/api", "/", "/"),
        ("/webconsole/api/", "/", "/"),
        ("/webconsole/api/Client/7", "/Client/7", "/Client/7"),
        ("/WebConsole/API/Client", "/Client", None),
        ("/commandcenter/api/V4/ServerGroup", "/V4/ServerGroup", "/V4/ServerGroup"),
        ("/SearchSvc/CVWebService.svc/Client", "/Client", "/Client"),
        ("/webconsole/apix/Client", None, None),
        ("/webconsole", None, None),
        ("/Client", None, None),
        ("/\u212a", None, None),
    ],
)
def test_api_base_strip(path: str, folded: str | None, exact: str | None) -> None:
    api_base = ApiBase()
    assert api_base.strip(path, case_sensitive=False) == folded
    assert api_base.strip(path, case_sensitive=True) == exact


def test_longest_base_wins() -> None:
    api_base = ApiBase(["/api", "/api/v2/"])
    assert api_base.bases == ("/api/v2", "/api")
    # Paths go through variables: ruff's B005 reads a literal argument to any
    # .strip() as str.strip.
    under_v2, under_api = "/api/v2/Client", "/api/v3/Client"
    assert api_base.strip(under_v2, case_sensitive=True) == "/Client"
    assert api_base.strip(under_api, case_sensitive=True) == "/v3/Client"
    assert ApiBase("/").strip("/x", case_sensitive=True) == "/x"
    assert repr(ApiBase(["/a"])) == "ApiBase(['/a'])"
    assert len(DEFAULT_API_BASES) == 3


def test_api_base_errors() -> None:
    with pytest.raises(ScopeError) as caught:
        ApiBase(["/webconsole/api", "webconsole"], source="cfg")
    diagnostic = caught.value.errors[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == (
        "no-leading-slash",
        2,
        1,
    )
    assert diagnostic.message.startswith("API base must begin with '/'")
    with pytest.raises(ScopeError) as caught:
        ApiBase("# none")
    assert caught.value.errors[0].code == "no-api-base"
    with pytest.raises(ScopeError) as caught:
        ApiBase(["/api/../x"])
    assert caught.value.errors[0].code == "dot-segment"
    assert caught.value.errors[0].message.startswith("API base must not contain")
