"""Our canonical path against the path real routers dispatch on.

For generated tricky targets, a request our policy allows must reach the
server's router as the same path we judged: the decoded form of our
canonical path.  A disagreement on an allowed request is a bypass; on a
denied one it is harmless.  Starlette and Werkzeug are driven through
their test clients, in-process, with no socket.  The nginx leg, through a
real nginx on 127.0.0.1, is test_path_differential_nginx.py.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tricky_paths import PIECES

from policy import AccessPolicy, Scope

starlette = pytest.importorskip("starlette")
werkzeug = pytest.importorskip("werkzeug")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from werkzeug.test import Client  # noqa: E402
from werkzeug.wrappers import Response  # noqa: E402

POLICY = AccessPolicy(scope=Scope.custom(["/plan"]), case_sensitive=True)

# The first segment is never empty: every HTTP client reads "//x" as a
# network-path reference to host x, so no server sees such a target.
TARGETS = st.builds(
    lambda first, segments, slash, query: (
        "/" + "/".join([first, *segments]) + ("/" if slash else "") + query
    ),
    st.sampled_from([piece for piece in PIECES if piece]),
    st.lists(st.sampled_from(PIECES), max_size=3),
    st.booleans(),
    st.sampled_from(["", "?a=1", "?x=/../admin", "#frag"]),
)


async def starlette_echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.scope["path"])


STARLETTE = TestClient(
    Starlette(routes=[Route("/{rest:path}", starlette_echo)]),
    base_url="http://127.0.0.1",
)


def werkzeug_echo(environ: dict[str, object], start_response: object) -> object:
    response = Response(str(environ["PATH_INFO"]).encode("latin-1"))
    return response(environ, start_response)  # type: ignore[arg-type]


WERKZEUG = Client(werkzeug_echo)


def dispatched_by_starlette(target: str) -> str | None:
    response = STARLETTE.get(target)
    return response.text if response.status_code == 200 else None


def dispatched_by_werkzeug(target: str) -> str | None:
    response = WERKZEUG.get(target)
    text = response.get_data().decode("latin-1")
    return text.encode("latin-1").decode("utf-8", "replace")


def segments(path: str) -> list[str]:
    """The non-empty segments a router matches, in order.

    XXX: routers do not merge repeated slashes ("/plan//x" reaches
    Starlette and Werkzeug as is) while the canonical path does, so the
    comparison is on non-empty segments; a merged empty segment never
    changes which endpoint prefix a path is under.
    """
    return [segment for segment in path.split("/") if segment]


@pytest.mark.parametrize(
    "dispatch",
    [dispatched_by_starlette, dispatched_by_werkzeug],
    ids=["starlette", "werkzeug"],
)
def test_allowed_requests_route_where_we_judged(dispatch: object) -> None:
    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(target=TARGETS)
    def check(target: str) -> None:
        decision = POLICY.check(ip="192.0.2.1", path=target)
        if not decision.allowed:
            return
        assert decision.path is not None
        routed = dispatch(target)  # type: ignore[operator]
        assert routed is not None, target
        assert segments(routed) == segments(unquote(decision.path)), (
            target,
            decision.path,
            routed,
        )

    check()
