"""Policy files: keys, types, and every error located in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy import PolicyFileError, PolicyTypeError, load_policy
from policy._policyfile import loads_policy

ROOT = Path(__file__).resolve().parent.parent


def _errors(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(PolicyFileError) as caught:
        loads_policy(text, source="p.toml")
    return [(d.line, d.column, d.code) for d in caught.value.errors]


def test_minimal_policy_allows_everything_from_anywhere() -> None:
    policy = loads_policy('scope = "all"\n')
    assert policy.allowlist is None
    assert policy.check(ip="192.0.2.1", path="/anything").allowed


def test_full_policy() -> None:
    policy = loads_policy(
        'scope = "custom"\n'
        "endpoints = '''\n/plan\n/Client\n'''\n"
        "ip_allowlist = ['192.0.2.0/24', '2001:db8::/32']\n"
        'api_base = ["/webconsole/api"]\n'
        "case_sensitive = true\n"
    )
    assert policy.case_sensitive is True
    assert policy.api_base == ("/webconsole/api",)
    assert policy.check(ip="192.0.2.9", path="/webconsole/api/plan/1").allowed
    assert not policy.check(ip="192.0.2.9", path="/webconsole/api/client").allowed
    assert not policy.check(ip="198.51.100.1", path="/webconsole/api/plan").allowed


def test_unknown_key_is_an_error_on_its_line() -> None:
    assert _errors('scope = "all"\nip_allowlst = "10.0.0.1"\n') == [
        (2, 1, "unknown-key")
    ]


def test_scope_is_required() -> None:
    assert _errors("case_sensitive = true\n") == [(1, 1, "missing-scope")]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("scope = 3\n", 1),
        ('scope = "all"\ncase_sensitive = "no"\n', 2),
        ('scope = "all"\napi_base = "/webconsole/api"\n', 2),
        ('scope = "all"\nip_allowlist = [1, 2]\n', 2),
    ],
)
def test_wrong_types_are_errors_on_their_line(text: str, line: int) -> None:
    assert _errors(text) == [(line, _column(text, line), "bad-type")]


def _column(text: str, line: int) -> int:
    return (
        len(text.splitlines()[line - 1]) - len(text.splitlines()[line - 1].lstrip()) + 1
    )


def test_toml_syntax_error_has_its_position() -> None:
    errors = _errors('scope = "all"\nendpoints = [\n')
    assert errors[0][2] == "toml-syntax"
    assert errors[0][0] in (2, 3)


def test_allowlist_errors_point_into_the_multiline_string() -> None:
    text = (
        "scope = \"all\"\nip_allowlist = '''\n10.0.0.1\n  10.0.0.5/24\n010.0.0.1\n'''\n"
    )
    errors = _errors(text)
    assert [(line, column) for line, column, _ in errors] == [(4, 3), (5, 1)]


def test_allowlist_errors_point_into_a_list() -> None:
    text = 'scope = "all"\nip_allowlist = [\n  "10.0.0.1",\n  "300.0.0.1",\n]\n'
    errors = _errors(text)
    assert [(line, column) for line, column, _ in errors] == [(4, 4)]


def test_present_but_empty_allowlist_is_an_error() -> None:
    errors = _errors("scope = \"all\"\nip_allowlist = '''\n# nobody yet\n'''\n")
    assert len(errors) == 1


def test_custom_needs_endpoints_and_only_custom_has_them() -> None:
    assert _errors('scope = "custom"\n') == [(1, 1, "custom-without-endpoints")]
    assert _errors('scope = "all"\nendpoints = ["/plan"]\n') == [
        (2, 1, "endpoints-without-custom")
    ]


def test_errors_of_several_parts_are_reported_together() -> None:
    text = (
        'scope = "custom"\nendpoints = ["/plan", ""]\nip_allowlist = ["10.0.0.1/33"]\n'
    )
    lines = sorted(line for line, _, _ in _errors(text))
    assert lines == [2, 3]


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'scope = "all"\n# \xff\n')
    with pytest.raises(PolicyFileError, match="must be UTF-8, got byte 0xff") as caught:
        load_policy(bad)
    assert caught.value.diagnostics[0].line == 2


def test_error_message_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('scope = "all"\nbogus = 1\n', encoding="utf-8")
    with pytest.raises(PolicyFileError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:2:1: error unknown-key")


@pytest.mark.parametrize("name", ["aws-feed-reader.toml", "plan-automation.toml"])
def test_shipped_examples_load(name: str) -> None:
    policy = load_policy(ROOT / "examples" / name)
    assert policy.allowlist is not None


def test_load_policy_cache_size(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('scope = "all"\n', encoding="utf-8")
    assert load_policy(path).cache_size == 0
    cached = load_policy(path, cache_size=64)
    assert cached.cache_size == 64
    assert cached.check(ip="192.0.2.1", path="/x").allowed
    # Checked before the file is read: a missing file is not the complaint.
    with pytest.raises(PolicyTypeError) as caught:
        load_policy(tmp_path / "missing.toml", cache_size=-1)
    assert str(caught.value) == "cache_size must be an int of at least 0, got -1"


def test_an_api_base_error_points_at_the_base_itself() -> None:
    text = 'scope = "all"\napi_base = [\n "/api",\n    "/x/.."\n]\n'
    with pytest.raises(PolicyFileError) as caught:
        loads_policy(text)
    found = caught.value.diagnostics[0]
    assert (found.code, found.line, found.column) == ("dot-segment", 4, 9)
    assert found.line_text == '    "/x/.."'


@pytest.mark.parametrize(
    ("text", "line", "column", "at"),
    [
        ('scope = "all"\nip_allowlist = "10.0.0.1\\u0000"\n', 2, 25, "\\u0000"),
        ('scope = "all"\nip_allowlist = "\\u00e910.0.0.1"\n', 2, 17, "\\u00e9"),
        ('scope = "custom"\nendpoints = "/plan\\u0000"\n', 2, 19, "\\u0000"),
        ('scope = "custom"\nendpoints = ["/plan", "/x/\\u00e9"]\n', 2, 27, "\\u00e9"),
        # The item's text also appears in the key: found after the '='.
        ('scope = "custom"\nendpoints = "s"\n', 2, 14, 's"'),
    ],
)
def test_a_value_spelled_with_escapes_is_located_as_typed(
    text: str, line: int, column: int, at: str
) -> None:
    with pytest.raises(PolicyFileError) as caught:
        loads_policy(text)
    found = caught.value.diagnostics[0]
    assert (found.line, found.column) == (line, column)
    assert found.line_text[column - 1 :].startswith(at)
