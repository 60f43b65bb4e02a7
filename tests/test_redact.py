"""Redaction (_redact.py): every spelling of a secret in text is blanked."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy import AccessPolicy, Decision, Reason, Scope, loads_policy
from policy._errors import PolicyFileError, ScopeError
from policy._redact import may_hold_secret, redact, secret_span
from policy.tokens._secrets import new_secret

ACCESS = new_secret("access")
REFRESH = new_secret("refresh")
BODY = ACCESS[len("cvpat_") :]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"/plan/{ACCESS}", "/plan/cvpat_***"),
        (f"/plan/{REFRESH}/7", "/plan/cvprt_***/7"),
        (f"/x/cvpat%5F{BODY}/%2e%2e", "/x/cvpat%5F***/%2e%2e"),
        (f"/x/cvpat%5f{BODY}", "/x/cvpat%5f***"),
        (f"/x/cvpat%255F{BODY}", "/x/cvpat%255F***"),
        (f"/x/%63%76%70%61%74%5F{BODY}", "/x/%63%76%70%61%74%5F***"),
        (f"a {ACCESS} b {REFRESH} c", "a cvpat_*** b cvprt_*** c"),
        ("/plan/%C3%A9/cvp", "/plan/%C3%A9/cvp"),
        ("cvpat_", "cvpat_"),
    ],
)
def test_secret_shapes_are_blanked_as_typed_or_encoded(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert (secret_span(text) is None) == (shown == text)
    assert may_hold_secret(text) or shown == text


@given(st.text(alphabet="cvpat_%5Fr2x/", max_size=60))
def test_redaction_is_idempotent_and_never_lengthens_a_clean_text(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
    if secret_span(text) is None:
        assert once == text


def test_redaction_stays_linear_on_hostile_text() -> None:
    started = time.perf_counter()
    redact("cvpat_" + "%41" * 200_000)
    redact("%" * 600_000)
    redact("cvp%" * 150_000)
    # Seconds, not minutes: a quadratic pattern would take far longer.
    assert time.perf_counter() - started < 5


def test_every_field_of_a_decision_is_redacted() -> None:
    decision = Decision(
        True,
        Reason.ALLOWED,
        f"d {ACCESS}",
        rule=f"/r/{ACCESS}",
        ip=ACCESS,
        path=f"/p/cvpat%5F{BODY}",
        method=ACCESS[:20],
        token_id=ACCESS,
        token_name=f"n {REFRESH}",
    )
    for value in decision.to_dict().values():
        assert BODY[:16] not in str(value)
    changed = decision.replace(rule=ACCESS, token_name=ACCESS)
    assert changed.rule == changed.token_name == "cvpat_***"


def test_an_encoded_secret_in_a_refused_path_is_not_echoed() -> None:
    policy = AccessPolicy(scope=Scope.all())
    decision = policy.check(ip="192.0.2.1", path=f"/x/cvpat%5F{BODY}/%2e%2e")
    assert decision.reason is Reason.BAD_PATH
    assert BODY[:16] not in repr(decision)


def test_endpoints_and_policy_files_refuse_a_secret_and_say_where() -> None:
    with pytest.raises(ScopeError) as caught:
        Scope.custom(["/plan", f"/plan/{ACCESS}"])
    found = caught.value.diagnostics[0]
    assert (found.code, found.line, found.column) == ("token-secret", 2, 7)
    assert BODY[:16] not in str(caught.value)

    text = f'scope = "custom"\nendpoints = ["/plan/cvpat%5F{BODY}"]\n'
    with pytest.raises(PolicyFileError) as caught:
        loads_policy(text)
    found = caught.value.diagnostics[0]
    assert (found.code, found.line, found.column) == ("token-secret", 2, 21)
    assert BODY[:16] not in str(caught.value)
