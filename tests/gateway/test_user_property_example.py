"""The README's example of a user's property test, run as written.

A Flask service guarded by the WSGI middleware; Hypothesis draws clients
outside the token's allowlist and paths inside and outside its scope from
``policy.testing``.  If this file changes, change the README with it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from policy import IPAllowlist, Scope
from policy.testing import addresses_in, addresses_outside, paths_in, paths_outside
from policy.tokens import MemoryStore, TokenService
from policy.wsgi import PolicyMiddleware, TrustedProxies

flask = pytest.importorskip("flask")

ALLOW = IPAllowlist.parse("198.51.100.0/24\n2001:db8::/48")
SCOPE = Scope.custom(["/plan", "/V4/ServerGroup"])

service = TokenService(MemoryStore(), api_base=["/commandcenter/api"])
TOKEN = service.create(
    user="ana", name="plan-sync", scope=SCOPE, allowlist=ALLOW
).access_token

app = flask.Flask(__name__)


@app.route("/<path:anything>")
def upstream(anything: str) -> str:
    return "reached"


# The test client connects from 127.0.0.1, standing in for the load
# balancer: only that peer may say who the client is.
app.wsgi_app = PolicyMiddleware(  # type: ignore[method-assign]
    app.wsgi_app, authorizer=service, trusted_proxies=TrustedProxies("127.0.0.1")
)
client = app.test_client()
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.filter_too_much])


@FAST
@given(ip=addresses_outside(ALLOW), path=paths_in(SCOPE, api_base="/commandcenter/api"))
def test_strangers_are_refused(ip: str, path: str) -> None:
    response = client.get(path, headers={**HEADERS, "X-Forwarded-For": ip})
    assert response.status_code == 403
    assert response.get_json() == {"reason": "ip_not_allowed"}


@FAST
@given(ip=addresses_in(ALLOW), path=paths_in(SCOPE, api_base="/commandcenter/api"))
def test_allowed_clients_reach_the_scope(ip: str, path: str) -> None:
    response = client.get(path, headers={**HEADERS, "X-Forwarded-For": ip})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "reached"


@FAST
@given(
    ip=addresses_in(ALLOW),
    path=paths_outside(SCOPE, api_base="/commandcenter/api"),
)
def test_nothing_outside_the_scope_reaches_the_app(ip: str, path: str) -> None:
    response = client.get(path, headers={**HEADERS, "X-Forwarded-For": ip})
    assert response.status_code in (400, 403)
    assert response.get_json()["reason"] in ("out_of_scope", "bad_path")
