"""Lint: every finding, its code, place and wording; the CLI's statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy._catalogue import Catalogue
from policy._endpoints import parse_prefixes
from policy._errors import Diagnostic, PolicyTypeError, ScopeError
from policy._lint import lint_allowlist, lint_policy, lint_scope
from policy._lint_findings import Findings, ordered
from policy.cli import main


def codes(text: str, **options: object) -> list[tuple[int, int, str, str]]:
    return [
        (d.line, d.column, d.level, d.code)
        for d in lint_allowlist(text, **options)  # type: ignore[arg-type]
    ]


def test_clean_list_has_no_findings() -> None:
    assert lint_allowlist("198.51.100.0/24\n2001:db8::/48\n") == []


def test_every_allowlist_finding_at_once() -> None:
    text = "\n".join(
        [
            "10.0.0.0/24",  # 1
            "10.0.0.0/24",  # 2 duplicate
            "10.0.0.5/24",  # 3 host bits (error), duplicate once read
            "10.0.0.7",  # 4 inside line 1
            "192.0.2.0 - 192.0.2.255",  # 5 exactly a CIDR
            "198.51.100.0/25, 198.51.100.128/25",  # 6 mergeable
            "203.0.113.0 - 203.0.113.200, 203.0.113.100-203.0.113.250",  # 7
            "::ffff:10.0.0.7",  # 8 mapped duplicate
            "192.0.2.9-192.0.2.3",  # 9 reversed (error)
            "8.0.0.0/8",  # 10 huge
            "1.1.1.1 - 1.1.1.1",  # 11 single address
        ]
    )
    assert codes(text) == [
        (2, 1, "warning", "duplicate-entry"),
        (3, 1, "warning", "duplicate-entry"),
        (3, 1, "error", "host-bits-set"),
        (4, 1, "warning", "entry-inside"),
        (5, 1, "warning", "range-is-cidr"),
        (6, 18, "warning", "mergeable-entries"),
        (7, 30, "warning", "overlapping-entries"),
        (8, 1, "warning", "mapped-duplicate"),
        (9, 1, "error", "range-reversed"),
        (10, 1, "warning", "huge-entry"),
        (11, 1, "warning", "range-single-address"),
    ]


def test_whole_family_is_huge() -> None:
    found = lint_allowlist("::/0")
    assert [d.code for d in found] == ["huge-entry", "mapped-block-overlap"]
    # Nothing about IPv4: '::/0' admits no IPv4 client.
    assert found[0].message == "entry '::/0' admits every IPv6 address; narrow it"
    found = lint_allowlist("0.0.0.0/0")
    assert found[0].message == (
        "entry '0.0.0.0/0' admits every IPv4 address; leave the allowlist out to"
        " allow every address, or narrow it"
    )


@pytest.mark.parametrize(
    ("entry", "ipv4"),
    [
        ("::/64", "0.0.0.0/0"),
        ("::/1", "0.0.0.0/0"),
        ("::fffe:ffff:ffff - ::ffff:1.2.3.4", "0.0.0.0 - 1.2.3.4"),
        ("::ffff:255.255.255.0 - ::1:0:0:0", "255.255.255.0/24"),
    ],
)
def test_an_ipv6_entry_over_the_mapped_block_is_flagged(entry: str, ipv4: str) -> None:
    found = [d for d in lint_allowlist(entry) if d.code == "mapped-block-overlap"]
    assert [(d.line, d.column, d.level) for d in found] == [(1, 1, "warning")]
    assert found[0].message == (
        f"entry {entry!r} overlaps the IPv4-mapped block ::ffff:0:0/96 without"
        " lying inside it, so it admits IPv6 clients only: IPv4 clients are not"
        f" admitted by it; if the IPv4 addresses {ipv4} were meant, add them as"
        " an IPv4 entry"
    )


@pytest.mark.parametrize(
    "entry", ["::ffff:192.0.2.1", "::ffff:192.0.2.0/120", "::fffe:0:0/96", "::1:0:0:0"]
)
def test_an_ipv6_entry_clear_of_or_inside_the_mapped_block_is_not_flagged(
    entry: str,
) -> None:
    assert codes(entry) == []


def test_an_entry_inside_the_mapped_block_is_judged_as_ipv4() -> None:
    found = lint_allowlist("::ffff:10.0.0.0/104\n::ffff:0:0/96\n", internet=True)
    assert [(d.line, d.code) for d in found] == [
        (1, "entry-inside"),
        (1, "huge-entry"),
        (1, "non-public-entry"),
        (2, "huge-entry"),
    ]
    assert found[1].message == (
        "an entry should admit fewer than 2**24 addresses (a /8), got"
        " '::ffff:10.0.0.0/104' with 2**24 or more; narrow it"
    )
    assert "covers 10.0.0.0/8, private (RFC 1918)" in found[2].message
    assert found[3].message.startswith(
        "entry '::ffff:0:0/96' admits every IPv4 address;"
    )
    # A small mapped entry of public space is fine; of private space it is not.
    assert codes("::ffff:203.0.113.0/120", internet=True) == []
    assert codes("::ffff:192.168.1.1", internet=True) == [
        (1, 1, "warning", "non-public-entry")
    ]


def test_messages_name_the_other_entry_and_the_fix() -> None:
    found = lint_allowlist("10.0.0.0/25\n10.0.0.128/25\n10.0.0.0/24\n")
    assert [d.code for d in found] == ["entry-inside", "entry-inside"]
    assert found[0].message == (
        "entry '10.0.0.0/25' lies inside '10.0.0.0/24' at line 3, which already"
        " admits every address of it; remove it"
    )
    overlap = lint_allowlist("10.0.0.0 - 10.0.0.200\n10.0.0.100 - 10.0.0.255\n")
    assert overlap[0].message == (
        "entry '10.0.0.100 - 10.0.0.255' overlaps '10.0.0.0 - 10.0.0.200' at"
        " line 1; together they are 10.0.0.0/24, one entry"
    )
    cidr = lint_allowlist("192.0.2.0 – 192.0.2.127")
    assert cidr[0].message.endswith("write 192.0.2.0/25")


def test_non_public_space_only_for_internet_lists() -> None:
    text = "10.1.0.0/16\n127.0.0.1\nfe80::1\n203.0.113.1\n"
    assert codes(text) == []
    found = lint_allowlist(text, internet=True)
    assert [(d.line, d.code) for d in found] == [
        (1, "non-public-entry"),
        (2, "non-public-entry"),
        (3, "non-public-entry"),
    ]
    assert "10.0.0.0/8, private (RFC 1918)" in found[0].message


def test_self_lockout_is_an_error() -> None:
    found = lint_allowlist("198.51.100.0/24", my_ip="192.0.2.1")
    assert [(d.level, d.code) for d in found] == [("error", "self-lockout")]
    assert found[0].message == (
        "the allowlist must admit your own address 192.0.2.1, or saving it locks"
        " you out; got no entry that admits it"
    )
    assert lint_allowlist("198.51.100.0/24", my_ip="::ffff:198.51.100.9") == []
    with pytest.raises(PolicyTypeError, match="my_ip must be exactly one IP"):
        lint_allowlist("198.51.100.0/24", my_ip="nope")


def test_empty_list_is_an_error() -> None:
    assert codes("# only a comment\n") == [(1, 1, "error", "empty-allowlist")]


def test_scope_findings() -> None:
    found = lint_scope("/plan\n/Client\n/client\n/Client/7\nClient\n/V4\n")
    assert [(d.line, d.level, d.code) for d in found] == [
        (1, "warning", "unknown-endpoint"),
        (3, "warning", "duplicate-endpoint"),
        (4, "warning", "shadowed-endpoint"),
        (5, "error", "no-leading-slash"),
        (6, "warning", "broad-endpoint"),
    ]
    assert found[0].message.endswith("did you mean /V2/Plan, /v4/Plan, /V4/DCPlan?")
    assert "far more than its name suggests" in found[4].message


def test_scope_case_sensitive_and_no_catalogue() -> None:
    found = lint_scope(["/Client", "/client"], case_sensitive=True, catalogue=None)
    assert found == []


def test_policy_file_findings_are_at_file_lines() -> None:
    text = (
        'scope = "custom"\n'
        "endpoints = ['/Client', '/Client/7']\n"
        "ip_allowlist = '''\n"
        "10.0.0.0/24\n"
        "10.0.0.5/24\n"
        "'''\n"
    )
    found = lint_policy(text, source="p.toml")
    assert [(d.line, d.column, d.level, d.code) for d in found] == [
        (2, 26, "warning", "shadowed-endpoint"),
        (5, 1, "warning", "duplicate-entry"),
        (5, 1, "error", "host-bits-set"),
    ]
    assert found[2].format(caret=False).startswith("p.toml:5:1: error host-bits-set")


def test_policy_structure_errors_pass_through() -> None:
    found = lint_policy('scope = "all"\nip_allowlst = "1.2.3.4"\n', source="p")
    assert [(d.line, d.code) for d in found] == [(2, "unknown-key")]


def test_cli_json_strict_and_my_ip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "allow.txt"
    listed.write_text("10.0.0.0/24\n10.0.0.7\n", encoding="utf-8")
    assert main(["lint", str(listed)]) == 0
    assert capsys.readouterr().out == (
        f"{listed}:2:1: warning entry-inside entry '10.0.0.7' lies inside"
        " '10.0.0.0/24' at line 1, which already admits every address of it;"
        " remove it\n"
    )
    assert main(["lint", "--strict", "--format", "json", str(listed)]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record[0]["level"] == "error"
    assert record[0]["code"] == "entry-inside"
    assert main(["lint", "--my-ip", "192.0.2.1", str(listed)]) == 1
    assert "self-lockout" in capsys.readouterr().out
    assert main(["lint", "--my-ip", "bad", str(listed)]) == 2
    assert main(["lint", str(tmp_path / "missing.txt")]) == 2


def test_lint_is_deterministic_on_the_shipped_policy() -> None:
    path = Path(__file__).resolve().parent.parent / "examples" / "aws-feed-reader.toml"
    text = path.read_text(encoding="utf-8")
    first = lint_policy(text, source="aws")
    assert first == lint_policy(text, source="aws")
    assert all(d.level == "warning" for d in first)


def _parses(endpoint: str) -> bool:
    try:
        parse_prefixes([endpoint], source="<t>", first_line=1, noun="endpoint")
    except ScopeError:
        return False
    return True


@pytest.mark.parametrize(
    ("endpoint", "suggested"),
    [
        # The templates here are '/V4/RequestManager/Request/%s/Projects'
        # and '/Job/%s': the grammar refuses '%s', so each is cut before it.
        ("/Projects", ["/V4/RequestManager/Request"]),
        ("/V4/RequestManager/Request/Projects", ["/V4/RequestManager/Request"]),
        ("/Job/:id", ["/Job", "/Jobs", "/Jobs/active"]),
    ],
)
def test_suggestions_are_endpoints_that_parse(
    endpoint: str, suggested: list[str]
) -> None:
    assert Catalogue.commvault().suggest(endpoint) == suggested


def test_no_suggestion_holds_a_placeholder() -> None:
    catalogue = Catalogue.commvault()
    asked = {f"/{s}" for t in catalogue.templates for s in t.segments if s != "%s"}
    offered = {text for word in sorted(asked) for text in catalogue.suggest(word)}
    assert offered
    assert not [text for text in offered if not _parses(text)]


def test_a_template_with_braces_or_a_leading_parameter_is_cut_or_dropped() -> None:
    catalogue = Catalogue(["/Job/{jobId}/Details", "/%s/Tasks", "/Alert/:id"])
    assert catalogue.suggest("/Details") == ["/Job"]
    assert catalogue.suggest("/Tasks") == []
    assert catalogue.suggest("/Alerts") == ["/Alert"]


def test_a_placeholder_segment_is_a_warning() -> None:
    found = lint_scope("/Job/:id\n/:tenant/Jobs\n/a:b\n", catalogue=None)
    assert [(d.line, d.level, d.code) for d in found] == [
        (1, "warning", "placeholder-segment"),
        (2, "warning", "placeholder-segment"),
    ]
    assert found[0].message == (
        "an endpoint is a literal path prefix, so a placeholder segment matches"
        " only itself, got ':id' in '/Job/:id'; write '/Job' to allow every path"
        " below it"
    )
    assert found[1].message.endswith("; list the literal paths it stands for")


def test_an_upper_case_toml_suffix_is_a_policy_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "PLAN.TOML"
    policy.write_text('scope = "all"\nip_allowlist = "10.0.0.0/24"\n', "utf-8")
    assert main(["lint", str(policy)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name", ["allow.txt", "p.toml"])
def test_a_file_that_is_not_utf8_exits_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / name
    bad.write_bytes(b"# \xff\n")
    assert main(["lint", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{bad}:1:3: error encoding file must be UTF-8, got byte 0xff" in (
        captured.err
    )


def test_an_oversized_file_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("policy._lint.MAX_POLICY_BYTES", 16)
    big = tmp_path / "p.toml"
    big.write_text('scope = "all"\n# padding\n', encoding="utf-8")
    assert main(["lint", str(big)]) == 2
    assert "too-large file must be at most 16 bytes, got 24" in capsys.readouterr().err


def test_findings_have_secrets_blanked() -> None:
    secret = "cvpat_" + "Q" * 43
    findings = Findings("s")
    findings.add(1, 1, f"/x/{secret}", "some-code", f"endpoint '/x/{secret}' bad")

    (found,) = ordered(findings.found)

    assert (found.message, found.text) == (
        "endpoint '/x/cvpat_***' bad",
        "/x/cvpat_***",
    )


@pytest.mark.parametrize("form", ["text", "json"])
def test_cli_blanks_secrets_in_every_field(
    form: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Whatever a finding carries, the printing path blanks it again.
    secret = "cvpat_" + "Q" * 43
    leaky = Diagnostic(
        source="p.toml",
        line=1,
        column=1,
        text=secret,
        message=f"endpoint '/x/{secret}' is odd",
        code="some-code",
        level="warning",
    )
    monkeypatch.setattr("policy.cli._lint.lint_policy_file", lambda *a, **k: [leaky])
    policy = tmp_path / "p.toml"
    policy.write_text('scope = "all"\n', encoding="utf-8")
    assert main(["lint", "--format", form, str(policy)]) == 0
    out = capsys.readouterr().out
    assert "Q" * 8 not in out
    assert "cvpat_***" in out
