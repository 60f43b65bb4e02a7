"""Client addresses behind proxies: trusted hops only, read from the right."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._errors import AllowlistError, PolicyTypeError
from policy._forwarded import (
    ResolvedClient,
    TrustedProxies,
    client_address,
    resolve_client,
)

PROXIES = TrustedProxies("127.0.0.1\n10.0.0.0/8\n2001:db8:ffff::/48")


def xff(*values: str) -> list[tuple[str, str]]:
    return [("X-Forwarded-For", value) for value in values]


def fwd(*values: str) -> list[tuple[str, str]]:
    return [("Forwarded", value) for value in values]


def test_default_is_the_socket_peer() -> None:
    assert client_address("203.0.113.9", xff("198.51.100.1")) == "203.0.113.9"


def test_peer_is_canonicalised_and_unmapped() -> None:
    assert client_address("::ffff:192.0.2.1", []) == "192.0.2.1"
    assert client_address("2001:DB8:0:0::1", []) == "2001:db8::1"


@pytest.mark.parametrize("peer", [None, "", "localhost", "010.0.0.1", "10.0.0.1 "])
def test_a_peer_that_is_not_one_address_is_none(peer: object) -> None:
    assert client_address(peer, [], trusted=PROXIES) is None


def test_untrusted_peer_ignores_spoofed_headers() -> None:
    headers = xff("10.0.0.1") + fwd("for=10.0.0.1")
    assert PROXIES.client_address("192.0.2.1", headers) == "192.0.2.1"


def test_trusted_peer_without_header_is_the_client() -> None:
    assert PROXIES.client_address("10.0.0.2", []) == "10.0.0.2"


def test_xff_read_from_the_right_skipping_trusted_hops() -> None:
    headers = xff("198.51.100.1, 203.0.113.9, 10.0.0.7")
    assert PROXIES.client_address("10.0.0.2", headers) == "203.0.113.9"


def test_xff_lines_are_concatenated_in_order() -> None:
    headers = xff("198.51.100.1", "203.0.113.9,10.0.0.7")
    assert PROXIES.client_address("127.0.0.1", headers) == "203.0.113.9"
    headers = [*xff("203.0.113.9"), ("Accept", "*/*"), *xff("198.51.100.1")]
    assert PROXIES.client_address("127.0.0.1", headers) == "198.51.100.1"


def test_garbage_left_of_the_client_is_never_read() -> None:
    headers = xff("unknown, not-an-ip, 203.0.113.9")
    assert PROXIES.client_address("127.0.0.1", headers) == "203.0.113.9"


@pytest.mark.parametrize(
    "value",
    [
        "unknown",
        "",
        "203.0.113.9,",
        "203.0.113.9, , 10.0.0.1",
        "example.com",
        "010.0.0.1",
        "203.0.113.9/32",
        "fe80::1%eth0",
    ],
)
def test_xff_hop_that_must_be_read_and_is_not_an_address_is_none(
    value: str,
) -> None:
    assert PROXIES.client_address("127.0.0.1", xff(value)) is None


def test_xff_ports_and_brackets() -> None:
    assert PROXIES.client_address("127.0.0.1", xff("203.0.113.9:5678")) == (
        "203.0.113.9"
    )
    assert PROXIES.client_address("127.0.0.1", xff("[2001:db8::1]:443")) == (
        "2001:db8::1"
    )
    assert PROXIES.client_address("127.0.0.1", xff("2001:db8::1")) == "2001:db8::1"


def test_an_ipv6_proxy_entry_over_the_mapped_block_trusts_no_ipv4_peer() -> None:
    proxies = TrustedProxies("::/64")
    assert not proxies.trusts("10.0.0.1")
    assert not proxies.trusts("::ffff:10.0.0.1")
    assert proxies.trusts("::1")
    assert proxies.client_address("10.0.0.1", xff("203.0.113.9")) == "10.0.0.1"
    assert TrustedProxies("::ffff:10.0.0.0/104").trusts("10.0.0.1")


def test_all_hops_trusted_gives_the_leftmost() -> None:
    headers = xff("10.0.0.9, 10.0.0.8")
    assert PROXIES.client_address("127.0.0.1", headers) == "10.0.0.9"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("for=203.0.113.9", "203.0.113.9"),
        ('for="203.0.113.9:47011"', "203.0.113.9"),
        ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ('For=203.0.113.9;proto=https;by="[2001:db8:ffff::1]"', "203.0.113.9"),
        ("for=198.51.100.1, for=203.0.113.9, for=10.0.0.3", "203.0.113.9"),
        ('for=203.0.113.9;host="a,b;c", for=10.0.0.3', "203.0.113.9"),
        ('for="[2001:db8:ffff::2]", for=10.0.0.1', "2001:db8:ffff::2"),
        ('for="\\203.0.113.9"', "203.0.113.9"),
    ],
)
def test_forwarded_rfc7239(value: str, expected: str) -> None:
    assert PROXIES.client_address("10.0.0.2", fwd(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        "for=unknown",
        "for=_hidden",
        'for="_gazonk"',
        "proto=https",  # no for: the sender is unknown
        "for=203.0.113.9:80",  # a port needs quotes
        "for=[2001:db8::1]",  # so do brackets
        'for="2001:db8::1"',  # and IPv6 needs brackets
        "for=203.0.113.9;for=198.51.100.1",
        'for="203.0.113.9',
        "for=203.0.113.9,",
        "for=203.0.113.9 garbage",
        "for=",
        'for=""',
    ],
)
def test_forwarded_that_cannot_be_judged_is_none(value: str) -> None:
    assert PROXIES.client_address("10.0.0.2", fwd(value)) is None


def test_unknown_hop_left_of_the_client_is_not_read() -> None:
    headers = fwd("for=unknown, for=203.0.113.9")
    assert PROXIES.client_address("10.0.0.2", headers) == "203.0.113.9"


def test_both_headers_are_ambiguous_under_either() -> None:
    headers = xff("203.0.113.9") + fwd("for=203.0.113.9")
    assert PROXIES.client_address("10.0.0.2", headers) is None


def test_naming_the_header_ignores_the_other() -> None:
    only_xff = TrustedProxies("10.0.0.0/8", header="x-forwarded-for")
    headers = xff("203.0.113.9") + fwd("for=198.51.100.1")
    assert only_xff.client_address("10.0.0.2", headers) == "203.0.113.9"
    only_fwd = TrustedProxies("10.0.0.0/8", header="forwarded")
    assert only_fwd.client_address("10.0.0.2", headers) == "198.51.100.1"


def test_header_size_limit_counts_all_lines() -> None:
    small = TrustedProxies("10.0.0.0/8", max_header_bytes=20)
    assert small.client_address("10.0.0.2", xff("203.0.113.9")) == "203.0.113.9"
    assert small.client_address("10.0.0.2", xff("203.0.113.9", "203.0.113.10")) is (
        None
    )


def test_no_entries_trusts_nobody() -> None:
    nobody = TrustedProxies()
    assert not nobody.trusts("127.0.0.1")
    assert nobody.client_address("127.0.0.1", xff("203.0.113.9")) == "127.0.0.1"
    assert repr(nobody) == (
        "<TrustedProxies 'nobody' header='either' max_header_bytes=8192>"
    )


def test_repr_shows_the_trusted_set() -> None:
    assert repr(TrustedProxies(["10.0.0.1", "10.0.0.0/30"])) == (
        "<TrustedProxies ['10.0.0.0/30'] header='either' max_header_bytes=8192>"
    )


def test_bad_entries_fail_with_allowlist_diagnostics() -> None:
    with pytest.raises(AllowlistError) as raised:
        TrustedProxies(["10.0.0.0/33"])
    assert raised.value.diagnostics[0].source == "<trusted-proxies>"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"header": "x-real-ip"}, "header must be one of x-forwarded-for, "),
        ({"max_header_bytes": 0}, "max_header_bytes must be at least 1, got 0"),
        ({"max_header_bytes": True}, "max_header_bytes must be an int, got bool"),
    ],
)
def test_bad_options_fail_at_once(options: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyTypeError, match=message):
        TrustedProxies("10.0.0.1", **options)  # type: ignore[arg-type]


_v4 = st.ip_addresses(v=4).map(str)
_header_value = st.lists(
    st.one_of(_v4, st.sampled_from(["unknown", "", "10.0.0.1", "x"])), max_size=5
).map(", ".join)


@settings(max_examples=250)
@given(
    peer=_v4.filter(lambda address: not PROXIES.trusts(address)),
    values=st.lists(_header_value, max_size=3),
    names=st.sampled_from(["X-Forwarded-For", "Forwarded", "x-forwarded-for"]),
)
def test_untrusted_peer_is_always_the_client(
    peer: str, values: list[str], names: str
) -> None:
    headers = [(names, value) for value in values]
    assert PROXIES.client_address(peer, headers) == peer


@settings(max_examples=250)
@given(
    client=_v4.filter(lambda address: not PROXIES.trusts(address)),
    spoofed=st.lists(_header_value, max_size=3),
    trusted_hops=st.lists(st.sampled_from(["10.1.2.3", "127.0.0.1"]), max_size=3),
)
def test_client_supplied_prefix_never_matters(
    client: str, spoofed: list[str], trusted_hops: list[str]
) -> None:
    # Whatever the client wrote, the proxies appended the client's address
    # and their own; the answer is the client's address.
    headers = xff(*spoofed, ", ".join([client, *trusted_hops]))
    assert PROXIES.client_address("10.0.0.2", headers) == client


# --- why no address: the refusal a decision's detail carries


def test_resolve_names_the_size_limit() -> None:
    small = TrustedProxies("10.0.0.0/8", max_header_bytes=20)
    found = small.resolve("10.0.0.2", xff("203.0.113.9", "203.0.113.10"))
    assert found == ResolvedClient(
        None,
        "forwarding headers must be at most 20 characters in all, got at least "
        "23; the client address cannot be told",
    )


def test_resolve_tells_the_limit_from_a_malformed_header() -> None:
    malformed = PROXIES.resolve("10.0.0.2", xff("unknown"))
    assert malformed.address is None
    assert malformed.refusal == (
        "the X-Forwarded-For header must name the client by one IP address in "
        "each hop read, got a hop that does not (unknown, obfuscated or "
        "malformed); the client address cannot be told"
    )
    unparsed = PROXIES.resolve("10.0.0.2", fwd("for"))
    assert unparsed.refusal is not None
    assert unparsed.refusal.startswith("the Forwarded header must name")
    both = PROXIES.resolve("10.0.0.2", xff("203.0.113.9") + fwd("for=203.0.113.9"))
    assert both.refusal == (
        "X-Forwarded-For and Forwarded must not both be present when either may "
        "be read, got both; the client address cannot be told"
    )


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("10.0.0.2", [("X-Forwarded-For", "203.0.113.9")], "203.0.113.9"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("192.0.2.1", [("X-Forwarded-For", "unknown")], "192.0.2.1"),
        ("not an address", [], None),
        (None, [], None),
    ],
)
def test_resolve_has_no_refusal_when_the_headers_are_not_at_fault(
    peer: object, headers: list[tuple[str, str]], expected: str | None
) -> None:
    assert resolve_client(peer, headers, trusted=PROXIES) == ResolvedClient(expected)
    assert PROXIES.client_address(peer, headers) == expected
