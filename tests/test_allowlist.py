"""Tests for policy._allowlist: parsing whole lists, lookups, real data."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy._address import parse_client_address
from policy._allowlist import Entry, IPAllowlist
from policy._errors import AllowlistError, PolicyTypeError

DATA = Path(__file__).resolve().parents[1] / "data" / "ip-ranges"
CASES = Path("/work/shared/cases/handed.json")


def errors_of(text: str | list[str], **options: object) -> list[tuple[int, int, str]]:
    with pytest.raises(AllowlistError) as caught:
        IPAllowlist.parse(text, **options)  # type: ignore[arg-type]
    return [(d.line, d.column, d.code) for d in caught.value.errors]


def test_parse_reads_entries_with_positions() -> None:
    text = "\ufeff# office\r\n10.0.0.1\r\n\r\n  1.1.1.0/24, 2.2.2.0 – 2.2.2.9 # vpn\r\n"
    allowlist = IPAllowlist.parse(text, source="al.txt")
    assert allowlist.entries == (
        Entry("10.0.0.1", 2, 1, 4, 0x0A000001, 0x0A000001, "address", None),
        Entry("1.1.1.0/24", 4, 3, 4, 0x01010100, 0x010101FF, "cidr", 24),
        Entry("2.2.2.0 – 2.2.2.9", 4, 15, 4, 0x02020200, 0x02020209, "range", None),
    )
    assert len(allowlist) == 3
    assert allowlist.source == "al.txt"
    assert allowlist.warnings == ()
    assert (
        repr(allowlist)
        == "<IPAllowlist 'al.txt': 3 entries, v4: 3 ranges, v6: 0 ranges>"
    )
    assert [str(e) for e in allowlist.entries] == [
        "10.0.0.1",
        "1.1.1.0/24",
        "2.2.2.0 - 2.2.2.9",
    ]


def test_lines_may_be_an_iterable_with_line_breaks() -> None:
    allowlist = IPAllowlist.parse(iter(["10.0.0.1\r\n", "2001:db8::/32\n"]))
    assert [e.line for e in allowlist.entries] == [1, 2]
    assert allowlist.to_cidrs() == ["10.0.0.1/32", "2001:db8::/32"]


def test_all_errors_are_reported_at_once_with_first_line_offset() -> None:
    text = "10.0.0.1\n010.0.0.1\n# fine\n  10.0.0.5/24\nexample.com"
    with pytest.raises(AllowlistError) as caught:
        IPAllowlist.parse(text, source="policy.toml", first_line=10)
    error = caught.value
    assert [(d.line, d.column, d.code) for d in error.errors] == [
        (11, 1, "ipv4-leading-zero"),
        (13, 3, "host-bits-set"),
        (14, 1, "hostname"),
    ]
    first = str(error).splitlines()
    assert first[0] == "3 errors:"
    assert first[1].startswith("policy.toml:11:1: error ipv4-leading-zero ")
    host = error.errors[1]
    assert host.format() == (
        "policy.toml:13:3: error host-bits-set host bits set in '10.0.0.5/24':"
        " write the network 10.0.0.0/24 or the single address 10.0.0.5\n"
        "      10.0.0.5/24\n"
        "      ^^^^^^^^^^^"
    )


def test_lenient_mode_keeps_warnings() -> None:
    allowlist = IPAllowlist.parse("  10.0.0.5/24", lenient=True)
    assert allowlist.entries[0].first == 0x0A000000
    assert "10.0.0.77" in allowlist
    assert [(w.line, w.column, w.level, w.code) for w in allowlist.warnings] == [
        (1, 3, "warning", "host-bits-set")
    ]
    # Warnings found beside errors travel with the error.
    with pytest.raises(AllowlistError) as caught:
        IPAllowlist.parse("10.0.0.5/24\n192.0.2", lenient=True)
    assert [d.level for d in caught.value.diagnostics] == ["error", "warning"]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing\n   # here", "\ufeff", []])
def test_empty_allowlist_is_an_error(text: str | list[str]) -> None:
    with pytest.raises(AllowlistError) as caught:
        IPAllowlist.parse(text, source="al.txt")
    assert str(caught.value) == (
        "al.txt:1:1: error empty-allowlist an allowlist must hold at least one"
        " entry, got only blank lines or comments; leave the allowlist out to"
        " allow every address"
    )


def test_line_length_limit_is_checked_before_parsing() -> None:
    long_line = "10.0.0.1," * 200
    assert errors_of(["10.0.0.1", long_line], max_line_length=100) == [
        (2, 1, "line-too-long")
    ]
    with pytest.raises(AllowlistError, match="at most 100 characters, got 1800"):
        IPAllowlist.parse(long_line, max_line_length=100)
    assert len(IPAllowlist.parse(long_line, max_line_length=1800)) == 200


def test_entry_limit() -> None:
    lines = [f"10.0.0.{n}" for n in range(10)]
    assert errors_of(lines, max_entries=5) == [(6, 1, "too-many-entries")]
    assert len(IPAllowlist.parse(lines, max_entries=10)) == 10
    with pytest.raises(AllowlistError, match="at most 2 entries, got more by line 1"):
        IPAllowlist.parse("1.1.1.1, 1.1.1.2, 1.1.1.3", max_entries=2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lenient": 1}, "lenient must be bool, got int"),
        ({"first_line": 0}, "first_line must be an int of at least 1, got 0"),
        ({"max_entries": True}, "max_entries must be an int of at least 1, got True"),
        ({"source": None}, "source must be str, got NoneType"),
    ],
)
def test_options_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyTypeError, match="^" + message + "$"):
        IPAllowlist.parse("10.0.0.1", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [b"10.0.0.1", 42, [b"10.0.0.1"]])
def test_input_must_be_text(value: object) -> None:
    with pytest.raises(PolicyTypeError):
        IPAllowlist.parse(value)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample() -> IPAllowlist:
    return IPAllowlist.parse(
        [
            "192.0.2.0 - 192.0.2.100",
            "192.0.2.50 - 192.0.2.60",
            "2001:db8::/32",
            "::ffff:198.51.100.0/120",
            "64:ff9b::203.0.113.1",
        ]
    )


def test_membership_and_match(sample: IPAllowlist) -> None:
    assert "192.0.2.55" in sample
    assert sample.match("192.0.2.55") is sample.entries[0]
    assert sample.match("2001:db8:1::1") is sample.entries[2]
    assert sample.match("192.0.2.101") is None
    # The mapped IPv6 entry admits the unmapped IPv4 client.
    assert "198.51.100.7" in sample
    assert sample.match("198.51.100.7") is sample.entries[3]
    assert sample.contains(0xC6336407, version=4)
    assert sample.contains(0xFFFF_C633_6407, version=6)
    # NAT64 is not unmapped: the IPv4 client is not admitted by it.
    assert "203.0.113.1" not in sample
    assert "64:ff9b::203.0.113.1" in sample
    assert sample.contains(ipaddress.ip_address("2001:db8::5"))
    assert sample.match_value(4, 0xC6336407) is sample.entries[3]
    assert sample.match_value(6, 0xFFFF_C633_6407) is sample.entries[3]
    assert sample.match_value(4, 0xC0000265) is None


@pytest.mark.parametrize(
    "value",
    [
        "192.0.2.055",
        " 192.0.2.5",
        "192.0.2.5, 10.0.0.1",
        "192.0.2.0/24",
        3221225985,
        None,
        b"1",
    ],
)
def test_in_never_raises(sample: IPAllowlist, value: object) -> None:
    assert (value in sample) is False


def test_contains_refuses_misuse(sample: IPAllowlist) -> None:
    assert sample.contains("not an address") is False
    assert sample.match("not an address") is None
    with pytest.raises(PolicyTypeError, match="needs version=4 or version=6, got None"):
        sample.contains(3221225985)
    with pytest.raises(PolicyTypeError, match="only for int addresses"):
        sample.contains("192.0.2.1", version=4)
    with pytest.raises(
        PolicyTypeError, match="must be 0 to 4294967295, got 4294967296"
    ):
        sample.contains(2**32, version=4)
    with pytest.raises(PolicyTypeError, match="got bytes"):
        sample.contains(b"192.0.2.1")  # type: ignore[arg-type]
    with pytest.raises(PolicyTypeError, match="got bool"):
        sample.match(True, version=4)


# --- Cases from public bug reports -----------------------------------------------


def handed(case_id: str) -> dict[str, object]:
    cases = json.loads(CASES.read_text(encoding="utf-8"))
    return next(c for c in cases if c["id"] == case_id)


@pytest.mark.skipif(not CASES.exists(), reason="shared cases not present")
@pytest.mark.parametrize(
    ("case_id", "code"),
    [
        ("B01", "ipv4-leading-zero"),
        ("B02", "ipv4-short-form"),
        ("B04", "host-bits-set"),
        ("B15", "empty-allowlist"),
    ],
)
def test_handed_rejects(case_id: str, code: str) -> None:
    case = handed(case_id)
    assert case["expect"] == "reject"
    with pytest.raises(AllowlistError) as caught:
        IPAllowlist.parse(case["allowlist"])  # type: ignore[arg-type]
    assert [d.code for d in caught.value.errors] == [code]


@pytest.mark.skipif(not CASES.exists(), reason="shared cases not present")
@pytest.mark.parametrize("case_id", ["B06", "B07", "B11", "B13", "B14"])
def test_handed_lookups(case_id: str) -> None:
    case = handed(case_id)
    allowlist = IPAllowlist.parse(case["allowlist"])  # type: ignore[arg-type]
    assert (case["ip"] in allowlist) is (case["expect"] == "allow")


def test_b04_lenient_reading_and_both_readings_named() -> None:
    with pytest.raises(
        AllowlistError,
        match=r"write the network 192\.0\.2\.0/24 or the"
        r" single address 192\.0\.2\.77",
    ):
        IPAllowlist.parse(["192.0.2.77/24"])
    allowlist = IPAllowlist.parse(["192.0.2.77/24"], lenient=True)
    assert "192.0.2.200" in allowlist
    assert len(allowlist.warnings) == 1


# --- Real lists ----------------------------------------------------------------


def load_json_prefixes(name: str) -> list[str]:
    document = json.loads((DATA / name).read_text(encoding="utf-8"))
    if name.startswith("aws"):
        return [p["ip_prefix"] for p in document["prefixes"]] + [
            p["ipv6_prefix"] for p in document["ipv6_prefixes"]
        ]
    if name.startswith("microsoft"):
        return [
            p for v in document["values"] for p in v["properties"]["addressPrefixes"]
        ]
    if name.startswith("google"):
        return [p.get("ipv4Prefix") or p["ipv6Prefix"] for p in document["prefixes"]]
    skip = {
        "verifiable_password_authentication",
        "ssh_key_fingerprints",
        "ssh_keys",
        "domains",
    }
    return [p for key, value in document.items() if key not in skip for p in value]


@pytest.mark.skipif(not DATA.exists(), reason="data/ip-ranges not present")
@pytest.mark.parametrize(
    ("name", "entries", "v4", "v6"),
    [
        ("microsoft-azure-ip-ranges.json", 90_493, 793, 829),
        ("aws-ip-ranges.json", 13_344, None, None),
        ("google-cloud-ip-ranges.json", 782, None, None),
        ("github-ip-ranges.json", None, None, None),
    ],
)
def test_real_json_lists_merge_to_the_published_counts(
    name: str, entries: int | None, v4: int | None, v6: int | None
) -> None:
    merged = {"aws": 2_419, "microsoft": 1_622, "google": 144, "github": 2_001}
    prefixes = load_json_prefixes(name)
    allowlist = IPAllowlist.parse(prefixes, source=name)
    index = allowlist.index
    assert index.range_count(4) + index.range_count(6) == merged[name.split("-")[0]]
    if entries is not None:
        assert len(allowlist) == entries
    if v4 is not None:
        assert (index.range_count(4), index.range_count(6)) == (v4, v6)
    # Every prefix admits its own network address, and match names one.
    for prefix in prefixes[:: max(1, len(prefixes) // 500)]:
        network = ipaddress.ip_network(prefix)
        entry = allowlist.match(network.network_address)
        assert entry is not None
        assert entry.first <= int(network.network_address) <= entry.last


@pytest.mark.skipif(not DATA.exists(), reason="data/ip-ranges not present")
def test_cloudflare_text_lists_without_final_newline() -> None:
    text = (DATA / "cloudflare-v4-ip-ranges.txt").read_text(encoding="utf-8")
    text += "\n" + (DATA / "cloudflare-v6-ip-ranges.txt").read_text(encoding="utf-8")
    allowlist = IPAllowlist.parse(text)
    assert len(allowlist) == 22
    assert allowlist.index.range_count(4) + allowlist.index.range_count(6) == 21


# --- Properties against the standard library -----------------------------------------


def networks(version: int) -> st.SearchStrategy[str]:
    top = 32 if version == 4 else 128
    # A small base block keeps random entries close enough to overlap.
    base = "198.51.100.0" if version == 4 else "2001:db8::"
    offset = st.integers(0, 511)
    return st.tuples(offset, st.integers(top - 9, top)).map(
        lambda pair: str(
            ipaddress.ip_interface(
                f"{ipaddress.ip_address(base) + pair[0]}/{pair[1]}"
            ).network
        )
    )


def ranges(version: int) -> st.SearchStrategy[str]:
    base = ipaddress.ip_address("198.51.100.0" if version == 4 else "2001:db8::")
    return st.tuples(st.integers(0, 600), st.integers(0, 600)).map(
        lambda pair: f"{base + min(pair)} – {base + max(pair)}"
    )


entry_texts = st.one_of(
    networks(4),
    networks(6),
    ranges(4),
    ranges(6),
    st.just("::ffff:198.51.100.128/121"),
)
clients = st.one_of(
    st.integers(0, 700).map(lambda n: str(ipaddress.ip_address("198.51.100.0") + n)),
    st.integers(0, 700).map(lambda n: str(ipaddress.ip_address("2001:db8::") + n)),
    st.integers(0, 700).map(
        lambda n: f"::ffff:{ipaddress.ip_address('198.51.100.0') + n}"
    ),
    st.ip_addresses().map(str),
)


def oracle(texts: list[str], client: str) -> int | None:
    """Index of the first entry admitting ``client``, by ipaddress alone."""
    address = ipaddress.ip_address(client)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    candidates = [address]
    if address.version == 4:
        candidates.append(ipaddress.IPv6Address(f"::ffff:{address}"))
    for number, text in enumerate(texts):
        if " – " in text:
            low, high = (ipaddress.ip_address(t) for t in text.split(" – "))
            if any(c.version == low.version and low <= c <= high for c in candidates):  # type: ignore[operator]
                return number
        elif any(c in ipaddress.ip_network(text) for c in candidates):
            return number
    return None


@settings(max_examples=250)
@given(st.lists(entry_texts, min_size=1, max_size=8), st.lists(clients, max_size=10))
def test_allowlist_agrees_with_ipaddress_oracle(
    texts: list[str], found: list[str]
) -> None:
    allowlist = IPAllowlist.parse(texts)
    for client in found:
        expected = oracle(texts, client)
        assert (client in allowlist) is (expected is not None)
        match = allowlist.match(client)
        # One entry a line, so the entry's line names its input position.
        assert (None if match is None else match.line - 1) == expected


@settings(max_examples=200)
@given(st.lists(entry_texts, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_to_cidrs_round_trips_and_order_does_not_matter(
    texts: list[str], rnd: object
) -> None:
    allowlist = IPAllowlist.parse(texts)
    assert IPAllowlist.parse(allowlist.to_cidrs()).index == allowlist.index
    shuffled = list(texts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert IPAllowlist.parse(shuffled).index == allowlist.index


# --- Inlined membership and batch lookups ---------------------------------------


class _Spoof(str):
    """A str that hashes and compares like another: judged by its own text."""

    def __hash__(self) -> int:
        return hash("10.0.0.1")

    def __eq__(self, other: object) -> bool:
        return True


def test_str_subclasses_are_judged_by_their_text() -> None:
    allowlist = IPAllowlist.parse(["10.0.0.0/8"])
    assert "10.0.0.1" in allowlist
    assert _Spoof("192.0.2.1") not in allowlist
    assert not allowlist.contains(_Spoof("192.0.2.1"))
    assert allowlist.contains_many([_Spoof("192.0.2.1"), "10.0.0.1"]) == [False, True]


addresses_text = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v))),
    st.integers(0, 2**32 - 1).map(lambda v: f"::ffff:{ipaddress.IPv4Address(v)}"),
    # Blocks split by an entry: the first-level table defers to the search.
    st.integers(0, 255).map(lambda v: f"192.0.2.{v}"),
    st.integers(0, 255).map(lambda v: f"::ffff:1.2.3.{v}"),
    st.sampled_from(
        ["10.0.0.01", "10.0.0.1 ", "::1%lo", "10.0.0.0/8", "", "x", "10.0.0.1\x00"]
    ),
)


@settings(max_examples=250)
@given(st.lists(addresses_text, max_size=30))
def test_every_text_lookup_agrees_with_the_integer_lookup(texts: list[str]) -> None:
    allowlist = IPAllowlist.parse(
        [
            "10.0.0.0/8",
            "2001:db8::/32",
            "::ffff:1.2.3.0/120",
            "192.0.2.0/26",
            "192.0.2.200 - 192.0.2.210",
        ]
    )
    expected = [
        parsed is not None and allowlist.index.contains(*parsed)
        for parsed in map(parse_client_address, texts)
    ]
    assert [text in allowlist for text in texts] == expected
    assert [allowlist.contains(text) for text in texts] == expected
    assert allowlist.contains_many(texts) == expected
    assert [allowlist.index.contains_text(text) is True for text in texts] == expected


def test_contains_many_takes_address_objects_and_refuses_other_types() -> None:
    allowlist = IPAllowlist.parse(["192.0.2.0/24"])
    found = allowlist.contains_many(
        ["192.0.2.1", ipaddress.IPv4Address("192.0.2.2"), ipaddress.IPv6Address("::1")]
    )
    assert found == [True, True, False]
    with pytest.raises(PolicyTypeError, match="int address needs version"):
        allowlist.contains_many([3221225985])
    with pytest.raises(PolicyTypeError, match="got bytes"):
        allowlist.contains_many([b"192.0.2.1"])  # type: ignore[list-item]


# --- IPv6 entries and the IPv4-mapped block ---------------------------------------

MAPPED_BLOCK = ipaddress.IPv6Network("::ffff:0:0/96")


@pytest.mark.parametrize("entry", ["::/64", "::/1", "::/0"])
def test_an_entry_reaching_beyond_the_mapped_block_admits_no_ipv4(entry: str) -> None:
    allowlist = IPAllowlist.parse(["198.51.100.0/24", entry])
    edges = ("0.0.0.0", "255.255.255.255")  # noqa: S104 (addresses, not a bind)
    for client in ("8.8.8.8", "::ffff:8.8.8.8", *edges):
        assert client not in allowlist
        assert allowlist.match(client) is None
    assert allowlist.contains(0x08080808, version=4) is False
    assert allowlist.contains(0xFFFF_0808_0808, version=6) is False
    assert allowlist.match_value(6, 0xFFFF_0808_0808) is None
    assert allowlist.contains_many(["8.8.8.8", "::1"]) == [False, True]
    # The IPv4 entry still admits its own clients, mapped or not.
    assert allowlist.match("::ffff:198.51.100.7") is allowlist.entries[0]
    # The IPv6 entry admits IPv6 clients.
    assert allowlist.match("::1") is allowlist.entries[1]
    assert allowlist.index.ranges(4) == ((0xC6336400, 0xC63364FF),)


def _outside_mapped_block(network: str) -> list[str]:
    """The CIDRs of ``network`` less the IPv4-mapped block, in order."""
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    return [
        str(n) for n in sorted(ipaddress.ip_network(network).address_exclude(mapped))
    ]


def test_to_cidrs_of_an_entry_reaching_beyond_the_mapped_block() -> None:
    # The mapped block admits nobody on the IPv6 side (those clients are
    # judged as IPv4), so it is left out, and the CIDRs parse back exactly.
    for network in ("::/64", "::/1", "::/0"):
        cidrs = IPAllowlist.parse(network).to_cidrs()
        assert cidrs == _outside_mapped_block(network)
        assert IPAllowlist.parse(cidrs).index == IPAllowlist.parse(network).index
    assert IPAllowlist.parse("::/0\n192.0.2.0/24").to_cidrs() == [
        "192.0.2.0/24",
        *_outside_mapped_block("::/0"),
    ]


@pytest.mark.parametrize(
    ("entry", "inside", "outside"),
    [
        ("::ffff:192.0.2.1", ["192.0.2.1", "::ffff:192.0.2.1"], ["192.0.2.2"]),
        (
            "::ffff:192.0.2.0/120",
            ["192.0.2.0", "192.0.2.255", "::ffff:192.0.2.77"],
            ["192.0.3.0", "192.0.1.255"],
        ),
        (
            "::ffff:192.0.2.10 - ::ffff:192.0.2.20",
            ["192.0.2.10", "192.0.2.20", "::ffff:192.0.2.15"],
            ["192.0.2.9", "192.0.2.21"],
        ),
        (
            "::ffff:0:0/96",
            ["0.0.0.0", "8.8.8.8", "255.255.255.255"],  # noqa: S104 (not a bind)
            ["::1"],
        ),
    ],
)
def test_an_entry_inside_the_mapped_block_means_its_ipv4_equivalent(
    entry: str, inside: list[str], outside: list[str]
) -> None:
    allowlist = IPAllowlist.parse(entry)
    for client in inside:
        assert allowlist.match(client) is allowlist.entries[0], client
    for client in outside:
        assert client not in allowlist, client


def test_a_range_crossing_an_edge_of_the_mapped_block_admits_ipv6_only() -> None:
    below = IPAllowlist.parse("::fffe:ffff:ffff - ::ffff:1.2.3.4")
    assert "::fffe:ffff:ffff" in below
    assert "0.0.0.0" not in below  # noqa: S104 (an address, not a bind)
    assert "1.2.3.4" not in below
    # Only the part outside the mapped block, and never an IPv4 CIDR.
    assert below.to_cidrs() == ["::fffe:ffff:ffff/128"]
    above = IPAllowlist.parse("::ffff:255.255.255.255 - ::1:0:0:0")
    assert "::1:0:0:0" in above
    assert "255.255.255.255" not in above
    assert above.index.ranges(4) == ()
    assert above.to_cidrs() == ["::1:0:0:0/128"]


# Addresses at and around the edges of the mapped block, and inside it.
_EDGES = [
    0,
    1,
    int(MAPPED_BLOCK.network_address) - 1,
    int(MAPPED_BLOCK.network_address),
    int(MAPPED_BLOCK.network_address) + 0xC0000200,
    int(MAPPED_BLOCK.broadcast_address),
    int(MAPPED_BLOCK.broadcast_address) + 1,
    2**127,
    2**128 - 1,
]
_V6_VALUES = st.one_of(
    st.sampled_from(_EDGES),
    st.sampled_from(_EDGES).flatmap(
        lambda edge: st.integers(max(0, edge - 300), min(2**128 - 1, edge + 300))
    ),
    st.integers(0, 2**32 - 1).map(lambda v: int(MAPPED_BLOCK.network_address) + v),
    st.integers(0, 2**128 - 1),
)


def _v6_network(value: int, length: int) -> str:
    return str(ipaddress.IPv6Network((value, length), strict=False))


def _v6_range(pair: tuple[int, int]) -> str:
    low, high = sorted(pair)
    return f"{ipaddress.IPv6Address(low)} - {ipaddress.IPv6Address(high)}"


_MAPPED_ENTRIES = st.one_of(
    st.builds(_v6_network, _V6_VALUES, st.integers(0, 128)),
    st.tuples(_V6_VALUES, _V6_VALUES).map(_v6_range),
    st.builds(
        lambda value, length: str(ipaddress.IPv4Network((value, length), strict=False)),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    ),
)
_MAPPED_CLIENTS = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    st.integers(0, 2**32 - 1).map(lambda v: f"::ffff:{ipaddress.IPv4Address(v)}"),
    _V6_VALUES.map(lambda v: str(ipaddress.IPv6Address(v))),
)


def _judged_bounds(
    text: str,
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """An entry's bounds as clients are judged: the rule, by ipaddress alone.

    An IPv6 entry wholly inside ::ffff:0:0/96 stands for its IPv4
    equivalent; any other IPv6 entry stays IPv6 and so admits no IPv4
    client, whatever part of the block it covers.
    """
    if " - " in text:
        low, high = (ipaddress.ip_address(t) for t in text.split(" - "))
    else:
        network = ipaddress.ip_network(text)
        low, high = network.network_address, network.broadcast_address
    if (
        isinstance(low, ipaddress.IPv6Address)
        and isinstance(high, ipaddress.IPv6Address)
        and low in MAPPED_BLOCK
        and high in MAPPED_BLOCK
    ):
        assert low.ipv4_mapped is not None
        assert high.ipv4_mapped is not None
        return low.ipv4_mapped, high.ipv4_mapped
    return low, high


def _judged_oracle(texts: list[str], client: str) -> int | None:
    """Index of the first entry admitting ``client`` under the rule."""
    address = ipaddress.ip_address(client)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for number, text in enumerate(texts):
        low, high = _judged_bounds(text)
        if low.version == address.version and low <= address <= high:  # type: ignore[operator]
            return number
    return None


@settings(max_examples=300)
@given(
    st.lists(_MAPPED_ENTRIES, min_size=1, max_size=6),
    st.lists(_MAPPED_CLIENTS, max_size=12),
)
def test_ipv6_entries_admit_ipv4_clients_only_from_inside_the_mapped_block(
    texts: list[str], found: list[str]
) -> None:
    allowlist = IPAllowlist.parse(texts, lenient=True)
    for client in found:
        expected = _judged_oracle(texts, client)
        match = allowlist.match(client)
        assert (None if match is None else match.line - 1) == expected, client
        assert (client in allowlist) is (expected is not None)
        assert allowlist.contains(client) is (expected is not None)
    # The IPv4 space, as to_cidrs writes it, is exactly the rule's.
    fours = [_judged_bounds(text) for text in texts]
    networks = [
        network
        for low, high in fours
        if low.version == 4
        for network in ipaddress.summarize_address_range(low, high)  # type: ignore[type-var]
    ]
    expected_v4 = [str(n) for n in ipaddress.collapse_addresses(networks)]
    assert [c for c in allowlist.to_cidrs() if ":" not in c] == expected_v4
