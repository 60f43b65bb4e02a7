"""The WSGI middleware, under Flask with Flask's own test client."""

from __future__ import annotations

from typing import Any

import pytest

flask = pytest.importorskip("flask")

from flask import Flask, jsonify, request  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from policy._decision import Decision, Reason  # noqa: E402
from policy._errors import PolicyTypeError  # noqa: E402
from policy.wsgi import (  # noqa: E402
    PolicyMiddleware,
    TrustedProxies,
    wsgi_headers,
    wsgi_target,
)

PEER = {"REMOTE_ADDR": "203.0.113.9"}


def make_client(authorizer: Any, **options: Any) -> FlaskClient:
    app = Flask("protected")

    @app.route("/<path:rest>", methods=["GET", "POST"])
    def echo(rest: str) -> Any:
        decision: Decision = request.environ["policy.decision"]
        return jsonify(reason=decision.reason.value, token_id=decision.token_id)

    app.wsgi_app = PolicyMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, authorizer=authorizer, **options
    )
    return app.test_client()


def test_allowed_request_reaches_the_app_with_its_decision(recorder: Any) -> None:
    client = make_client(recorder)
    response = client.get(
        "/Client/5?x=1",
        headers={"Authtoken": "Bearer abc"},
        environ_base=PEER,
    )
    assert response.status_code == 200
    assert response.json == {"reason": "allowed", "token_id": "tok_test"}
    call = recorder.calls[0]
    assert (call.access_token, call.ip, call.method) == ("abc", "203.0.113.9", "GET")
    assert call.path in ("/Client/5", "/Client/5?x=1")


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (Reason.MISSING_TOKEN, 401),
        (Reason.EXPIRED, 401),
        (Reason.IP_NOT_ALLOWED, 403),
        (Reason.OUT_OF_SCOPE, 403),
        (Reason.BAD_PATH, 400),
        (Reason.UNAVAILABLE, 503),
    ],
)
def test_denials_answer_status_and_reason_only(
    recorder: Any, reason: Reason, status: int
) -> None:
    recorder.reason = reason
    response = make_client(recorder).post("/Client", environ_base=PEER)
    assert response.status_code == status
    assert response.json == {"reason": reason.value}
    challenge = response.headers.get("WWW-Authenticate")
    assert challenge == ('Bearer error="invalid_token"' if status == 401 else None)


def test_status_line_has_its_phrase(recorder: Any) -> None:
    recorder.reason = Reason.UNAVAILABLE
    response = make_client(recorder).get("/x", environ_base=PEER)
    assert response.status == "503 Service Unavailable"


def test_a_crashing_authorizer_denies(exploding: Any) -> None:
    response = make_client(exploding).get(
        "/x", headers={"Authorization": "Bearer s3cret"}, environ_base=PEER
    )
    assert response.status_code == 503
    assert b"s3cret" not in response.data


def test_trusted_proxy_header(recorder: Any) -> None:
    client = make_client(recorder, trusted_proxies=TrustedProxies("127.0.0.1"))
    client.get("/x", headers={"X-Forwarded-For": "198.51.100.7"})
    client.get("/x", headers={"X-Forwarded-For": "198.51.100.7"}, environ_base=PEER)
    assert [call.ip for call in recorder.calls] == ["198.51.100.7", "203.0.113.9"]


def test_target_prefers_the_raw_uri() -> None:
    environ = {"RAW_URI": "/a%2Fb", "REQUEST_URI": "/c", "PATH_INFO": "/a/b"}
    assert wsgi_target(environ) == "/a%2Fb"
    assert wsgi_target({"REQUEST_URI": "/c%2F"}) == "/c%2F"
    assert wsgi_target({"SCRIPT_NAME": "/api", "PATH_INFO": "/a b;c"}) == (
        "/api/a%20b%3Bc"
    )


def test_headers_from_the_environ() -> None:
    environ = {
        "HTTP_X_FORWARDED_FOR": "a, b",
        "CONTENT_TYPE": "text/plain",
        "REQUEST_METHOD": "GET",
    }
    assert sorted(wsgi_headers(environ)) == [
        ("content-type", "text/plain"),
        ("x-forwarded-for", "a, b"),
    ]


def test_configuration_is_checked_at_once(recorder: Any) -> None:
    with pytest.raises(PolicyTypeError, match="app must be a WSGI app, got str"):
        PolicyMiddleware("app", authorizer=recorder)  # type: ignore[arg-type]
    with pytest.raises(PolicyTypeError, match="authorizer must have an authorize"):
        PolicyMiddleware(make_client, authorizer=None)  # type: ignore[arg-type]
    with pytest.raises(PolicyTypeError, match="trusted_proxies must be"):
        PolicyMiddleware(
            make_client,  # type: ignore[arg-type]
            authorizer=recorder,
            trusted_proxies="127.0.0.1",  # type: ignore[arg-type]
        )
