"""Every size limit on untrusted input: it exists, it moves, it explains itself.

For each limit: input exactly at the limit is accepted, one more is refused
with a message naming the limit and what was got, and the limit can be set
by the caller where the API offers it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import policy._policyfile
from policy import (
    AccessPolicy,
    AllowlistError,
    Decision,
    IPAllowlist,
    PathError,
    PolicyFileError,
    PolicyTypeError,
    Reason,
    Scope,
    ScopeError,
    canonical_path,
    load_policy,
)
from policy._accesslog import MAX_LOG_LINE, LogRequest, Malformed, read_requests
from policy._allowlist import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_LINE_LENGTH
from policy._endpoints import parse_endpoints
from policy._forwarded import DEFAULT_MAX_HEADER_BYTES, TrustedProxies
from policy._http import MAX_CREDENTIAL, authorize, denial, read_token
from policy._paths import DEFAULT_MAX_PATH_LENGTH

# --- allowlist: line length


def test_allowlist_line_limit_default() -> None:
    assert DEFAULT_MAX_LINE_LENGTH == 1_000
    at_limit = "192.0.2.1".ljust(DEFAULT_MAX_LINE_LENGTH)
    assert len(IPAllowlist.parse(at_limit)) == 1
    with pytest.raises(AllowlistError) as refused:
        IPAllowlist.parse(at_limit + " ")
    (found,) = refused.value.diagnostics
    assert found.code == "line-too-long"
    assert found.message == (
        "an allowlist line must be at most 1000 characters, got 1001"
    )
    assert (found.line, found.column) == (1, 1)


def test_allowlist_line_limit_is_configurable() -> None:
    assert len(IPAllowlist.parse("192.0.2.1", max_line_length=9)) == 1
    with pytest.raises(AllowlistError, match="at most 8 characters, got 9"):
        IPAllowlist.parse("192.0.2.1", max_line_length=8)


def test_allowlist_line_limit_is_checked_before_parsing() -> None:
    # A megabyte of garbage is one diagnostic, its echo cut to 60 characters.
    with pytest.raises(AllowlistError) as refused:
        IPAllowlist.parse("x" * 1_000_000)
    (found,) = refused.value.diagnostics
    assert found.code == "line-too-long"
    assert found.text == "x" * 60 + "... (999940 more characters)"
    assert len(str(refused.value)) < 400


# --- allowlist: entries per list


def test_allowlist_entry_limit() -> None:
    assert DEFAULT_MAX_ENTRIES == 1_000_000
    lines = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert len(IPAllowlist.parse(lines, max_entries=3)) == 3
    with pytest.raises(AllowlistError) as refused:
        IPAllowlist.parse(lines, max_entries=2)
    (found,) = refused.value.diagnostics
    assert found.code == "too-many-entries"
    assert found.message == (
        "an allowlist must hold at most 2 entries, got more by line 3"
    )


def test_allowlist_entry_limit_counts_comma_separated_entries() -> None:
    with pytest.raises(AllowlistError, match="at most 2 entries, got more by line 1"):
        IPAllowlist.parse("192.0.2.1, 192.0.2.2, 192.0.2.3", max_entries=2)


def test_allowlist_entry_limit_stops_reading() -> None:
    # The list is read lazily: lines past the limit are never pulled.
    pulled = 0

    def lines() -> object:
        nonlocal pulled
        for number in range(10_000):
            pulled += 1
            yield f"10.0.{number // 256}.{number % 256}"

    with pytest.raises(AllowlistError):
        IPAllowlist.parse(lines(), max_entries=5)  # type: ignore[arg-type]
    assert pulled == 6


@pytest.mark.parametrize("option", ["max_line_length", "max_entries"])
@pytest.mark.parametrize("value", [0, -1, True, 2.5, "10"])
def test_allowlist_limit_options_are_checked(option: str, value: object) -> None:
    with pytest.raises(PolicyTypeError, match=f"{option} must be an int of at least 1"):
        IPAllowlist.parse("192.0.2.1", **{option: value})  # type: ignore[arg-type]


# --- path length


def test_path_limit_default() -> None:
    assert DEFAULT_MAX_PATH_LENGTH == 8192
    at_limit = "/" + "a" * (DEFAULT_MAX_PATH_LENGTH - 1)
    assert canonical_path(at_limit) == at_limit
    with pytest.raises(PathError) as refused:
        canonical_path(at_limit + "a")
    assert refused.value.code == "path-too-long"
    found = refused.value.diagnostics[0]
    assert found.column == DEFAULT_MAX_PATH_LENGTH + 1
    assert found.message.startswith(
        "path must be at most 8192 characters, got 8193 characters"
    )


def test_path_limit_counts_the_query() -> None:
    # The limit is on the target as received, before the query is cut.
    with pytest.raises(PathError, match="at most 10 characters, got 11"):
        canonical_path("/plan?x=123", max_length=10)
    assert canonical_path("/plan?x=12", max_length=10) == "/plan"


def test_path_limit_is_configurable() -> None:
    assert canonical_path("/abc", max_length=4) == "/abc"
    with pytest.raises(PathError) as refused:
        canonical_path("/abcd", max_length=4)
    assert refused.value.code == "path-too-long"


def test_check_denies_an_overlong_path_as_bad_path() -> None:
    policy = AccessPolicy(scope=Scope.all())
    decision = policy.check(ip="192.0.2.1", path="/" + "a" * DEFAULT_MAX_PATH_LENGTH)
    assert decision.reason is Reason.BAD_PATH
    assert decision.path is None
    assert decision.detail.startswith("path must be at most 8192 characters")
    assert len(decision.detail) < 200


def test_endpoint_line_length_is_limited_before_parsing() -> None:
    with pytest.raises(ScopeError) as refused:
        Scope.custom(["/" + "a" * DEFAULT_MAX_PATH_LENGTH])
    (found,) = refused.value.diagnostics
    assert found.code == "line-too-long"
    assert found.message == "an endpoint line must be at most 1000 characters, got 8193"


def test_endpoint_length_is_limited_like_a_path() -> None:
    with pytest.raises(ScopeError) as refused:
        parse_endpoints(["/" + "a" * DEFAULT_MAX_PATH_LENGTH], max_line_length=10_000)
    (found,) = refused.value.diagnostics
    assert found.code == "path-too-long"
    assert found.message == (
        "endpoint must be at most 8192 characters, got 8193 characters"
    )


def test_endpoint_count_is_limited() -> None:
    assert len(Scope.custom("/p\n" * 100_000).endpoints) == 100_000
    with pytest.raises(ScopeError) as refused:
        Scope.custom("/p\n" * 100_001)
    (found,) = refused.value.diagnostics
    assert (found.code, found.line) == ("too-many-endpoints", 100_001)


def test_method_length_is_limited() -> None:
    policy = AccessPolicy(scope=Scope.all())
    assert policy.check(ip="192.0.2.1", path="/", method="M" * 32).allowed
    decision = policy.check(ip="192.0.2.1", path="/", method="M" * 33)
    assert decision.reason is Reason.BAD_METHOD
    assert decision.detail == f"method '{'M' * 33}' is not a token"


# --- forwarding header size


def test_forwarding_header_limit() -> None:
    assert DEFAULT_MAX_HEADER_BYTES == 8192
    trusted = TrustedProxies("10.0.0.0/8", max_header_bytes=20)
    at_limit = [("X-Forwarded-For", "203.0.113.9,10.0.0.7")]
    over = [("X-Forwarded-For", "203.0.113.9, 10.0.0.7")]
    assert trusted.client_address("10.0.0.2", at_limit) == "203.0.113.9"
    assert trusted.client_address("10.0.0.2", over) is None


def test_forwarding_header_limit_counts_every_line() -> None:
    trusted = TrustedProxies("10.0.0.0/8", max_header_bytes=20)
    lines = [("X-Forwarded-For", "203.0.113.9"), ("x-forwarded-for", "10.0.0.7")]
    assert trusted.client_address("10.0.0.2", lines) == "203.0.113.9"
    lines.append(("X-FORWARDED-FOR", "10.0.0.8"))
    assert trusted.client_address("10.0.0.2", lines) is None


def test_forwarding_header_limit_is_ignored_for_untrusted_peers() -> None:
    # Headers from a peer nobody trusts are never read, however long.
    trusted = TrustedProxies("10.0.0.0/8", max_header_bytes=20)
    huge = [("X-Forwarded-For", "1.2.3.4, " * 10_000)]
    assert trusted.client_address("192.0.2.1", huge) == "192.0.2.1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "max_header_bytes must be at least 1, got 0"),
        (True, "max_header_bytes must be an int, got bool"),
        ("8k", "max_header_bytes must be an int, got str"),
    ],
)
def test_forwarding_header_limit_option_is_checked(value: object, message: str) -> None:
    with pytest.raises(PolicyTypeError) as refused:
        TrustedProxies("10.0.0.0/8", max_header_bytes=value)  # type: ignore[arg-type]
    assert str(refused.value) == message


def test_credential_header_over_its_limit_is_refused_not_cut() -> None:
    # A token is under 70 characters; a longer header is refused whole, so
    # no prefix of it is ever taken for a token.
    assert MAX_CREDENTIAL == 4096
    at_limit = "Bearer " + "a" * (MAX_CREDENTIAL - len("Bearer "))
    assert read_token([("Authorization", at_limit)]).token == at_limit[7:]
    read = read_token([("Authorization", at_limit + "a")])
    assert (read.token, read.too_long) == (None, True)
    huge = read_token([("Authorization", "Bearer " + "a" * 1_000_000)])
    assert (huge.token, huge.too_long) == (None, True)


def test_overlong_credential_is_an_unknown_token_naming_the_limit() -> None:
    asked: list[str | None] = []

    class Authorizer:
        def authorize(
            self,
            *,
            access_token: str | None,
            ip: object,
            path: str,
            method: str = "GET",
        ) -> Decision:
            asked.append(access_token)
            return Decision(allowed=True, reason=Reason.ALLOWED, detail="ok")

    read = read_token([("Authorization", "Bearer cvpat_" + "a" * 5000)])
    decision = authorize(
        Authorizer(), read=read, ip="192.0.2.1", path="/plan", method="GET"
    )
    assert asked == []
    assert (decision.allowed, decision.reason) == (False, Reason.UNKNOWN_TOKEN)
    assert decision.detail == (
        "a credential header must be at most 4096 characters, got more; it was not read"
    )
    assert denial(decision).body == b'{"reason": "unknown_token"}'


# --- access log line length


def test_access_log_line_limit() -> None:
    assert MAX_LOG_LINE == 64 * 1024
    head = '192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET /plan HTTP/1.1" 200 '
    at_limit = head + "1" * (MAX_LOG_LINE - len(head))
    records = list(read_requests([at_limit, at_limit + "1"]))
    assert records == [
        LogRequest(1, "192.0.2.1", "GET", "/plan"),
        Malformed(2, "line longer than 65536 characters"),
    ]


# --- policy file size


def test_policy_file_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy._policyfile, "MAX_POLICY_BYTES", 64)
    text = 'scope = "all"\n'
    small = tmp_path / "small.toml"
    small.write_text(text.ljust(64, "\n"))
    assert load_policy(small).scope == Scope.all()
    large = tmp_path / "large.toml"
    large.write_text(text.ljust(65, "\n"))
    with pytest.raises(PolicyFileError) as refused:
        load_policy(large)
    (found,) = refused.value.diagnostics
    assert found.message == "file must be at most 64 bytes, got 65"
