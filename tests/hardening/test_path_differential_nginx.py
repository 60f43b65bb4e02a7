"""Our canonical path against the path a real nginx forwards upstream.

nginx asks ``policy serve`` about each request (``auth_request``) and, when
it is allowed, proxies it to an app that echoes the request target it
received.  Targets are sent raw over a socket on 127.0.0.1, so nothing
between us and nginx rewrites them.  For every target nginx forwards, our
decision must be an allow and the forwarded path must be the path we
judged; a forwarded request we would deny, or one forwarded elsewhere, is a
bypass and fails the test.

Two nginx locations are exercised: ``location /`` passes the target through
as received (``proxy_pass`` without a URI), and ``location /n/`` forwards
nginx's own normalised path with the ``/n`` prefix cut (``proxy_pass`` with
a URI), as deployments mounting the API under a sub-path do.  The second
is where nginx decodes, merges slashes and resolves dot segments itself.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tricky_paths import PIECES

from policy import AccessPolicy, Decision, Reason, Scope
from policy.tokens import FakeClock, SQLiteStore, TokenService

BASES = ["/commandcenter/api", "/n"]
POLICY = AccessPolicy(scope=Scope.custom(["/plan"]), api_base=BASES)

# A sub-path mount: nginx matches the normalised path and forwards it with
# the location's prefix replaced by '/'.
_SUB_PATH = """
        location /n/ {
            auth_request /_policy_auth;
            auth_request_set $policy_reason $upstream_http_x_policy_reason;
            add_header X-Policy-Reason $policy_reason always;
            proxy_pass http://127.0.0.1:@UPSTREAM_PORT@/;
        }
"""

# Every target starts at one of the bases, spelled as sent or disguised.
HEADS = ["/commandcenter/api", "/n", "/N", "/%6E", "/n/", "/commandcenter//api"]
TARGETS = st.builds(
    lambda head, segments, slash, query: (
        head + "/" + "/".join(segments) + ("/" if slash else "") + query
    ),
    st.sampled_from(HEADS),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=3),
    st.booleans(),
    st.sampled_from(["", "?a=1", "?x=/../admin", "?a#frag"]),
)
CURATED = [
    "/commandcenter/api/plan",
    "/commandcenter/api/plan/7?x=1",
    "/commandcenter/api//plan",
    "/commandcenter/api/PLAN",
    "/commandcenter/api/%70lan",
    "/commandcenter/api/plan/../Job",
    "/commandcenter/api/plan/%2e%2e/Job",
    "/commandcenter/api/plan%2F..%2FJob",
    "/commandcenter/api/plan/..;/Job",
    "/commandcenter/api/plan\\..\\Job",
    "/commandcenter/api/planet",
    "/n/plan",
    "/n//plan/7",
    "/n/./plan",
    "/n/x/../plan",
    "/n/plan/../../Job",
    "/n/plan/%2e%2e/Job",
    "/n/plan%2F..%2FJob",
    "/%6E/plan",
    "/N/plan",
    "/n/%70lan/%C3%A9",
    "/n/plan%00",
    "/n/plan?x=/../Job",
    "/n/plan?x#/../Job",
    "/n/plan#/../Job",
]
# A raw '#' in the path is forwarded by nginx's "location /" exactly as
# received; a backend that kept it and resolved dot segments would route
# "/plan#/../Job" to /Job.  A client never sends a fragment (RFC 9112
# section 3.2), so canonical_path refuses the '#' and nginx forwards
# nothing.
FRAGMENTS = [
    "/commandcenter/api/plan#frag",
    "/commandcenter/api/plan#/../Job",
]


def segments(path: str) -> list[str]:
    """The non-empty segments of a decoded path, as a router matches them.

    XXX: nginx passes "/plan//x" through as is where the canonical path
    merges it, so the comparison is on non-empty segments; a merged empty
    segment never changes which endpoint prefix a path is under.
    """
    return [segment for segment in path.split("/") if segment]


def request(port: int, target: str, token: str) -> tuple[int, bytes]:
    """Send ``target`` on a raw request line; return the status and body."""
    message = (
        f"GET {target} HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(message.encode("latin-1"))
        chunks = []
        # Bounded: nginx closes after one answer, and each answer is small.
        for _ in range(1_000):
            chunk = connection.recv(65_536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def forwarded_where_judged(forwarded: str, decision: Decision) -> bool:
    """Whether nginx forwarded the path ``decision`` judged.

    Through ``location /n/`` nginx cuts the ``/n`` prefix; through
    ``location /`` the path keeps its base.
    """
    assert decision.path is not None
    judged = segments(unquote(decision.path))
    sent = segments(unquote(forwarded.partition("?")[0]))
    return sent == judged or (judged[:1] == ["n"] and sent == judged[1:])


@pytest.fixture(scope="module")
def gate(
    tmp_path_factory: pytest.TempPathFactory,
    serve_module: Any,
    upstream: Any,
    nginx: Any,
) -> tuple[int, str]:
    """nginx in front of the echo app; its port and a token for /plan."""
    db: Path = tmp_path_factory.mktemp("differential") / "tokens.db"
    service = TokenService(SQLiteStore(db), clock=FakeClock(datetime.now(UTC)))
    issued = service.create(user="ana", name="d", scope="custom", endpoints=["/plan"])
    bases = [argument for base in BASES for argument in ("--api-base", base)]
    # nginx's auth_request turns any answer but 2xx, 401 and 403 into a 500.
    auth_port = serve_module(
        db, "--trusted-proxy", "127.0.0.1", "--bad-request-status", "403", *bases
    )
    port = nginx(auth_port=auth_port, upstream_port=upstream.port, extra=_SUB_PATH)
    return port, issued.access_token


def check(gate: tuple[int, str], target: str) -> None:
    """Fail when nginx forwards ``target`` where we did not judge it."""
    port, token = gate
    decision = POLICY.check(ip="127.0.0.1", path=target)
    status, body = request(port, target, token)
    if status != 200:
        return
    assert decision.allowed, (target, decision.reason, body)
    forwarded = json.loads(body)["upstream"]
    assert forwarded_where_judged(forwarded, decision), (
        target,
        decision.path,
        forwarded,
    )


def test_the_gate_forwards_and_refuses(gate: tuple[int, str]) -> None:
    # Both locations forward an allowed request, and refuse others, so the
    # differential below compares real forwards.
    port, token = gate
    assert request(port, "/commandcenter/api/plan/7", token)[0] == 200
    status, body = request(port, "/n//plan/7", token)
    assert (status, json.loads(body)) == (200, {"upstream": "/plan/7"})
    assert request(port, "/n/Job", token)[0] == 403
    assert request(port, "/n/plan/../Job", token)[0] == 403


@pytest.mark.parametrize("target", CURATED)
def test_curated_targets_forward_where_we_judged(
    gate: tuple[int, str], target: str
) -> None:
    check(gate, target)


@pytest.mark.parametrize("target", FRAGMENTS)
def test_a_raw_fragment_is_refused_and_never_forwarded(
    gate: tuple[int, str], target: str
) -> None:
    port, token = gate
    assert POLICY.check(ip="127.0.0.1", path=target).reason == Reason.BAD_PATH
    assert request(port, target, token)[0] == 403
    check(gate, target)


def test_generated_targets_forward_where_we_judged(gate: tuple[int, str]) -> None:
    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(target=TARGETS)
    def run(target: str) -> None:
        check(gate, target)

    run()
