"""The shared HTTP pieces: token reading, status mapping, denial bodies."""

from __future__ import annotations

import subprocess
import sys

import pytest

from policy._decision import Decision, Reason
from policy._http import STATUS_BY_REASON, TokenRead, denial, read_token


def test_every_reason_has_a_status() -> None:
    assert set(STATUS_BY_REASON) == set(Reason)
    assert sorted({STATUS_BY_REASON[r] for r in Reason if r is not Reason.ALLOWED}) == [
        400,
        401,
        403,
        503,
    ]


def test_denial_body_names_only_the_reason() -> None:
    decision = Decision(
        allowed=False,
        reason=Reason.IP_NOT_ALLOWED,
        detail="client address 198.51.100.7 matches no entry of the allowlist",
        ip="198.51.100.7",
    )
    answer = denial(decision)
    assert answer.status == 403
    assert answer.body == b'{"reason": "ip_not_allowed"}'
    assert dict(answer.headers) == {
        "content-type": "application/json",
        "content-length": "28",
        "cache-control": "no-store",
    }


def test_denial_of_a_token_carries_the_challenge() -> None:
    decision = Decision(allowed=False, reason=Reason.REVOKED, detail="revoked")
    assert ("www-authenticate", 'Bearer error="invalid_token"') in denial(
        decision
    ).headers
    assert denial(decision, status=403).status == 403


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("Authorization", "Bearer cvpat_x")], TokenRead("cvpat_x")),
        ([("AUTHORIZATION", "BEARER cvpat_x")], TokenRead("cvpat_x")),
        ([("authtoken", "cvpat_x")], TokenRead("cvpat_x")),
        ([("authtoken", "QSDK cvpat_x")], TokenRead("cvpat_x")),
        ([("Authtoken", "qsdk  cvpat_x ")], TokenRead("cvpat_x")),
        ([("Authorization", "QSDK cvpat_x")], TokenRead(None)),  # not its scheme
        ([("Authtoken", "QSDK")], TokenRead(None)),  # the scheme without a token
        ([("Authorization", "cvpat_x")], TokenRead(None)),  # no scheme
        (
            [("Authorization", "Bearer a"), ("Authorization", "Bearer a")],
            TokenRead("a"),
        ),
        (
            [("Authorization", "Bearer a"), ("Authtoken", "Bearer b")],
            TokenRead(None, True),
        ),
        ([("Authorization", "Bearer " + "a" * 4089)], TokenRead("a" * 4089)),
        ([("Authorization", "Bearer " + "a" * 4090)], TokenRead(None, too_long=True)),
        ([("Authtoken", "a" * 4097)], TokenRead(None, too_long=True)),
        (
            [("Authorization", "Bearer a"), ("Authtoken", "b" * 4097)],
            TokenRead(None, too_long=True),
        ),
        ([("Cookie", "token=cvpat_x")], TokenRead(None)),
    ],
)
def test_read_token(headers: list[tuple[str, str]], expected: TokenRead) -> None:
    assert read_token(headers) == expected


def test_token_read_repr_hides_the_token() -> None:
    assert repr(TokenRead("cvpat_secret")) == (
        "TokenRead(token='***', conflict=False, too_long=False)"
    )
    assert repr(TokenRead(None)) == (
        "TokenRead(token=None, conflict=False, too_long=False)"
    )


def test_adapters_import_without_web_frameworks() -> None:
    # Starlette, Flask and uvicorn are optional: blocking them must not
    # break the middleware, the server or the client.
    code = (
        "import sys\n"
        "for name in ('starlette', 'flask', 'werkzeug', 'uvicorn', 'httpx'):\n"
        "    sys.modules[name] = None\n"
        "import policy.asgi, policy.wsgi, policy.server, policy.client\n"
        "import policy.cli._serve\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr
