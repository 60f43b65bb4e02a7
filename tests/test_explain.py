"""Explain: the decision and the rules behind it, at their file lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy import AccessPolicy, IPAllowlist, Scope
from policy._endpoints import Endpoint
from policy._explain import explain, explain_file
from policy.cli import main
from policy.tokens._secrets import new_secret

PLAN = Path(__file__).resolve().parent.parent / "examples" / "plan-automation.toml"


def test_allowed_names_the_entry_and_endpoint_by_file_line() -> None:
    found = explain_file(PLAN, ip="203.0.113.17", path="/webconsole/api/plan/7")
    assert found.decision.allowed
    assert found.canonical_path == "/webconsole/api/plan/7"
    assert found.relative_path == "/plan/7"
    assert found.api_base == "/webconsole/api"
    assert found.admitted_by is not None
    assert (found.admitted_by.text, found.admitted_by.line) == (
        "203.0.113.10 – 203.0.113.25",
        15,
    )
    assert found.endpoint is not None
    assert (found.endpoint.text, found.endpoint.line) == ("/plan", 7)


def test_denied_shows_the_nearest_entries_on_both_sides() -> None:
    allowlist = IPAllowlist.parse("10.0.0.0/24\n10.0.2.0/24\n10.0.9.9\n")
    policy = AccessPolicy(scope=Scope.custom(["/plan"]), allowlist=allowlist)
    found = explain(policy, ip="10.0.1.10", path="/plan")
    assert not found.decision.allowed
    assert [(e.side, e.text, e.line, e.distance) for e in found.nearest_entries] == [
        ("below", "10.0.0.0/24", 1, 11),
        ("above", "10.0.2.0/24", 2, 246),
    ]
    text = "\n".join(found.lines())
    assert "below  '10.0.0.0/24' at line 1, 11 addresses away" in text


def test_unmatched_path_shows_the_nearest_endpoints() -> None:
    policy = AccessPolicy(scope=Scope.custom(["/plan", "/V4/Plan", "/Client"]))
    found = explain(policy, ip="192.0.2.1", path="/planet")
    assert found.endpoint is None
    assert found.nearest_endpoints[0].text == "/plan"
    refused = explain(policy, ip="192.0.2.1", path="/plan/%2e%2e/Client")
    assert refused.canonical_path is None
    assert refused.decision.reason.value == "bad_path"


def test_cli_statuses_and_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["explain", "--policy", str(PLAN), "--ip", "192.0.2.1", "--path", "/x"]
    assert main(args) == 1
    assert capsys.readouterr().out.startswith("denied (ip_not_allowed): ")
    assert (
        main(
            [
                *args[:4],
                "203.0.113.17",
                "--path",
                "/webconsole/api/plan",
                "--format",
                "json",
            ]
        )
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["decision"]["allowed"] is True
    assert record["endpoint"]["line"] == 7
    bad = tmp_path / "bad.toml"
    bad.write_text('scope = "nope"\n', encoding="utf-8")
    assert (
        main(["explain", "--policy", str(bad), "--ip", "1.2.3.4", "--path", "/"]) == 2
    )


def _secret() -> str:
    return new_secret("access")


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_secret_in_the_path_is_blanked_in_every_path_shown(
    form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = _secret()
    path = f"/webconsole/api/plan/{secret}"
    args = ["explain", "--policy", str(PLAN), "--ip", "203.0.113.17"]
    assert main([*args, "--path", path, "--format", form]) == 0
    out = capsys.readouterr().out
    assert secret.removeprefix("cvpat_")[:12] not in out
    if form == "text":
        assert "path as sent:     '/webconsole/api/plan/cvpat_***'" in out
        assert "matched path:     '/plan/cvpat_***'" in out
    else:
        record = json.loads(out)
        assert record["raw_path"] == "/webconsole/api/plan/cvpat_***"
        assert record["canonical_path"] == "/webconsole/api/plan/cvpat_***"
        assert record["relative_path"] == "/plan/cvpat_***"


def test_the_explanation_itself_holds_no_secret() -> None:
    # Loading refuses a secret in an endpoint; one built around the grammar
    # (or missed by it) is still blanked in what explain keeps and prints.
    secret = _secret()
    typed = f"/plan/{secret}"
    scope = Scope(
        name="Custom",
        kind="custom",
        id="custom",
        endpoints=(Endpoint(text=typed, path=typed, line=1, column=1),),
    )
    found = explain(AccessPolicy(scope=scope), ip="192.0.2.1", path=f"/x/{secret}")
    body = secret.removeprefix("cvpat_")[:12]
    assert body not in repr(found)
    assert body not in json.dumps(found.to_dict())
    assert body not in "\n".join(found.lines())
    assert found.nearest_endpoints[0].text == "/plan/cvpat_***"


def test_controls_in_the_path_are_written_as_escapes() -> None:
    policy = AccessPolicy(scope=Scope.custom(["/plan"]))
    found = explain(policy, ip="192.0.2.1", path="/plan/\u202ex\x1b[31m")
    text = "\n".join(found.lines())
    assert "\u202e" not in text
    assert "\x1b" not in text
    assert "\\u202e" in text
