"""Router (_router.py): API base and scope endpoint found together.

The router is held to its definition, the two steps it replaces:
:meth:`ApiBase.strip` gives the path relative to the longest base, then
:meth:`ScopeMatcher.match` finds the endpoint allowing that relative path.
``route()`` answers None when the path lies under no base, and otherwise
``(endpoint or None, base_length)`` with ``path[base_length:] or "/"`` the
relative path.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._api_base import DEFAULT_API_BASES, ApiBase
from policy._router import Router
from policy._scope import Scope

# What route() answers: None (under no base), or the endpoint allowing the
# path (None: none does) and the length of the base in front of it.
Routed = tuple[str | None, int] | None

COMMVAULT = ApiBase(DEFAULT_API_BASES)
SCOPE = Scope.custom(["/Client", "/plan", "/V4/ServerGroup"])


def router(
    scope: Scope, bases: list[str] | None, *, case_sensitive: bool = False
) -> Router:
    base = None if bases is None else ApiBase(bases)
    matcher = scope.matcher(case_sensitive=case_sensitive)
    return Router(matcher, base)


def two_steps(
    scope: Scope, base: ApiBase | None, path: str, *, case_sensitive: bool
) -> Routed:
    """The definition: strip the longest base, then match the rest."""
    relative = path if base is None else base.strip(path, case_sensitive=case_sensitive)
    if relative is None:
        return None
    endpoint = scope.matcher(case_sensitive=case_sensitive).match(relative)
    # strip() answers "/" for the base itself, which the path does not end
    # with; the base then spans the whole path.
    length = len(path) - len(relative) if path.endswith(relative) else len(path)
    return endpoint, length


def longest_base(bases: tuple[str, ...], path: str, *, case_sensitive: bool) -> int:
    """The length of the longest base holding ``path``, found by hand (-1: none)."""
    fold = (lambda text: text) if case_sensitive else str.lower
    holding = [
        0 if base == "/" else len(base)
        for base in bases
        if base == "/"
        or fold(path) == fold(base)
        or fold(path).startswith(fold(base) + "/")
    ]
    return max(holding, default=-1)


# --- Examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/commandcenter/api/Client", ("/Client", 18)),
        ("/commandcenter/api/Client/7/properties", ("/Client", 18)),
        ("/webconsole/api/plan/", ("/plan", 15)),
        ("/SearchSvc/CVWebService.svc/V4/ServerGroup/3", ("/V4/ServerGroup", 27)),
        # Case folded: bases and endpoints alike.
        ("/COMMANDCENTER/API/client", ("/Client", 18)),
        ("/searchsvc/cvwebservice.svc/v4/servergroup", ("/V4/ServerGroup", 27)),
        # Under a base, but no endpoint of the scope.
        ("/commandcenter/api", (None, 18)),
        ("/commandcenter/api/", (None, 18)),
        ("/commandcenter/api/ClientGroup/4", (None, 18)),
        ("/commandcenter/api/V4", (None, 18)),
        ("/webconsole/api/planet", (None, 15)),
        # Under no base: the endpoint alone, a base's prefix, a base's
        # sibling, the root.
        ("/Client", None),
        ("/commandcenter/Client", None),
        ("/commandcenter/apiClient", None),
        ("/commandcenter", None),
        ("/webconsole/api2/plan", None),
        ("/", None),
        # Never canonical: refused, not folded.
        ("/commandcenter/api/\u212alient", None),
    ],
)
def test_commvault_bases(path: str, expected: Routed) -> None:
    assert router(SCOPE, list(DEFAULT_API_BASES)).route(path) == expected
    assert two_steps(SCOPE, COMMVAULT, path, case_sensitive=False) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/commandcenter/api/Client", ("/Client", 18)),
        ("/commandcenter/api/client", (None, 18)),
        ("/CommandCenter/api/Client", None),
        ("/searchsvc/cvwebservice.svc/plan", None),
        ("/SearchSvc/CVWebService.svc/plan", ("/plan", 27)),
        ("/SearchSvc/CVWebService.svc/v4/ServerGroup", (None, 27)),
    ],
)
def test_commvault_bases_by_exact_case(path: str, expected: Routed) -> None:
    routed = router(SCOPE, list(DEFAULT_API_BASES), case_sensitive=True).route(path)
    assert routed == expected
    assert two_steps(SCOPE, COMMVAULT, path, case_sensitive=True) == expected


@pytest.mark.parametrize("case_sensitive", [False, True])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/commandcenter/api", ("/", 18)),
        ("/commandcenter/api/", ("/", 18)),
        ("/webconsole/api/anything/at/all", ("/", 15)),
        ("/webconsole", None),
        ("/", None),
    ],
)
def test_the_all_scope_allows_every_path_under_a_base(
    path: str, expected: Routed, case_sensitive: bool
) -> None:
    routing = router(
        Scope.all(), list(DEFAULT_API_BASES), case_sensitive=case_sensitive
    )
    assert routing.route(path) == expected


@pytest.mark.parametrize("case_sensitive", [False, True])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/plan", ("/plan", 0)),
        ("/plan/", ("/plan", 0)),
        ("/plan/7/schedule", ("/plan", 0)),
        ("/planet", (None, 0)),
        ("/", (None, 0)),
    ],
)
def test_without_bases_the_whole_path_is_matched(
    path: str, expected: Routed, case_sensitive: bool
) -> None:
    assert router(SCOPE, None, case_sensitive=case_sensitive).route(path) == expected
    # The base "/" means the same.
    assert router(SCOPE, ["/"], case_sensitive=case_sensitive).route(path) == expected


def test_without_bases_the_all_scope_allows_everything() -> None:
    routing = router(Scope.all(), None)
    assert routing.route("/") == ("/", 0)
    assert routing.route("/x/y/") == ("/", 0)
    # Even the All scope refuses what can never be canonical.
    assert routing.route("/\u017fx") is None


NESTED = ["/api", "/api/v2"]
NESTED_SCOPE = Scope.custom(["/v2", "/z"])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # Under /api/v2 only: /api's endpoint /v2 never decides there.
        ("/api/v2/x", (None, 7)),
        ("/api/v2/z", ("/z", 7)),
        ("/api/v2/z/1", ("/z", 7)),
        ("/api/v2", (None, 7)),
        ("/api/v2/", (None, 7)),
        ("/api/V2/Z", ("/z", 7)),
        # Under /api.
        ("/api/z", ("/z", 4)),
        ("/api/v2x", (None, 4)),
        ("/api/v3/z", (None, 4)),
        ("/api", (None, 4)),
        ("/v2/z", None),
    ],
)
def test_nested_bases_judge_under_the_longest(path: str, expected: Routed) -> None:
    assert router(NESTED_SCOPE, NESTED).route(path) == expected
    assert two_steps(NESTED_SCOPE, ApiBase(NESTED), path, case_sensitive=False) == (
        expected
    )


def test_nested_bases_by_exact_case() -> None:
    routing = router(NESTED_SCOPE, NESTED, case_sensitive=True)
    # /api/V2 is not the base /api/v2, so /V2/z is judged under /api.
    assert routing.route("/api/V2/z") == (None, 4)
    assert routing.route("/api/v2/z") == ("/z", 7)
    assert routing.route("/API/v2/z") is None


def test_an_endpoint_that_spans_a_nested_base() -> None:
    # /api/v2/x lies under /api/v2, where /v2/x is not an endpoint, even
    # though /api's endpoint /v2/x spells the same path.
    routing = router(Scope.custom(["/v2/x", "/x"]), NESTED)
    assert routing.route("/api/v2/x") == ("/x", 7)
    assert router(Scope.custom(["/v2/x"]), NESTED).route("/api/v2/x") == (None, 7)
    assert router(Scope.custom(["/v2/x"]), ["/api"]).route("/api/v2/x") == (
        "/v2/x",
        4,
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/x", ("/x", 4)),
        ("/api", (None, 4)),  # not the root's endpoint /api: /api is a base
        ("/api/api", ("/api", 4)),
        ("/x", ("/x", 0)),
        ("/apix", (None, 0)),
        ("/", (None, 0)),
    ],
)
def test_the_root_base_with_others(path: str, expected: Routed) -> None:
    scope = Scope.custom(["/api", "/x"])
    assert router(scope, ["/", "/api"]).route(path) == expected
    assert two_steps(scope, ApiBase(["/", "/api"]), path, case_sensitive=False) == (
        expected
    )


def test_bases_equal_after_case_folding() -> None:
    scope = Scope.custom(["/plan"])
    folded = router(scope, ["/API", "/api"])
    exact = router(scope, ["/API", "/api"], case_sensitive=True)
    assert folded.route("/Api/Plan") == ("/plan", 4)
    assert exact.route("/Api/plan") is None
    assert exact.route("/API/plan") == ("/plan", 4)
    assert exact.route("/api/plan") == ("/plan", 4)
    assert exact.route("/api/Plan") == (None, 4)


def test_an_endpoint_at_the_root_of_the_scope() -> None:
    routing = router(Scope.custom(["/", "/plan"]), ["/api"])
    assert routing.route("/api") == ("/", 4)
    assert routing.route("/api/anything") == ("/", 4)
    assert routing.route("/elsewhere") is None


@pytest.mark.parametrize(
    ("bases", "case_sensitive", "walk"),
    [
        (None, False, "one walk"),
        (["/"], False, "one walk"),
        (list(DEFAULT_API_BASES), False, "one walk"),
        (list(DEFAULT_API_BASES), True, "one walk"),
        (["/a/b", "/a/c", "/ab"], False, "one walk"),
        (NESTED, False, "two steps"),
        (["/api/v2", "/api/v2/admin"], True, "two steps"),
        (["/", "/api"], False, "two steps"),
        (["/API", "/api"], False, "two steps"),
        (["/API", "/api"], True, "one walk"),
        (["/a", "/b/c", "/b"], True, "two steps"),
    ],
)
def test_repr_says_how_paths_are_routed(
    bases: list[str] | None, case_sensitive: bool, walk: str
) -> None:
    text = repr(router(SCOPE, bases, case_sensitive=case_sensitive))
    mode = "case-sensitive" if case_sensitive else "case-insensitive"
    assert text.startswith(f"<Router <ScopeMatcher 3 endpoints, {mode}>")
    assert text.endswith(f", {walk}>")


# --- Property: route() is the two steps ----------------------------------------

# Few segments, some differing only by case, so that bases, endpoints and
# paths collide, nest and fold onto one another.
_SEGMENT = st.sampled_from(["a", "A", "b", "api", "Api", "v2"])


def _path(segments: list[str], trailing: bool = False) -> str:
    return "/" + "/".join(segments) + ("/" if trailing and segments else "")


_BASES = st.lists(st.lists(_SEGMENT, max_size=3).map(_path), min_size=1, max_size=4)
_ENDPOINTS = st.lists(st.lists(_SEGMENT, max_size=3).map(_path), min_size=1, max_size=5)
_PATHS = st.lists(
    st.builds(_path, st.lists(_SEGMENT, max_size=6), st.booleans()),
    min_size=1,
    max_size=10,
)


@settings(max_examples=600)
@given(
    bases=st.none() | _BASES,
    endpoints=st.none() | _ENDPOINTS,
    paths=_PATHS,
    case_sensitive=st.booleans(),
)
def test_route_is_strip_then_match(
    bases: list[str] | None,
    endpoints: list[str] | None,
    paths: list[str],
    case_sensitive: bool,
) -> None:
    scope = Scope.all() if endpoints is None else Scope.custom(endpoints)
    base = None if bases is None else ApiBase(bases)
    routing = router(scope, bases, case_sensitive=case_sensitive)
    for path in paths:
        expected = two_steps(scope, base, path, case_sensitive=case_sensitive)
        assert routing.route(path) == expected, (path, repr(routing))
        held = longest_base(
            ("/",) if base is None else base.bases, path, case_sensitive=case_sensitive
        )
        if expected is None:
            assert held == -1
            continue
        assert expected[1] == held
        # The relative path is one slice away, as documented.
        relative = (
            path if base is None else base.strip(path, case_sensitive=case_sensitive)
        )
        assert (path[expected[1] :] or "/") == relative
