"""The audit log (policy/audit.py): one JSON line per decision, no secret."""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from policy import AccessPolicy, Decision, IPAllowlist, PolicyTypeError, Reason, Scope
from policy.audit import FIELDS, AuditedAuthorizer, AuditLog, audit_line, audit_record
from policy.tokens import FakeClock, MemoryStore, TokenService

AT = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
POLICY = AccessPolicy(
    scope=Scope.custom(["/plan"]),
    allowlist=IPAllowlist.parse("198.51.100.0/24"),
    api_base=["/webconsole/api"],
)


def test_a_denial_as_one_line() -> None:
    decision = POLICY.check(ip="198.51.100.7", path="/webconsole/api/planet")
    line = audit_line(decision, at=AT)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2024-05-01T12:00:00.123456Z",
        "decision": "deny",
        "reason": "out_of_scope",
        "rule": None,
        "token_id": None,
        "token_name": None,
        "ip": "198.51.100.7",
        "method": "GET",
        "path": "/webconsole/api/planet",
        "detail": "path '/planet' is under no endpoint of scope 'Custom'",
    }
    assert list(json.loads(line)) == list(FIELDS)


def test_an_allowed_request_names_its_rule_and_canonical_path() -> None:
    decision = POLICY.check(ip="198.51.100.7", path="/webconsole/api//%70lan/7?x=1")
    record = audit_record(decision, at=AT)
    assert record["decision"] == "allow"
    assert record["reason"] == "allowed"
    assert record["rule"] == "/plan"
    assert record["path"] == "/webconsole/api/plan/7"


def test_time_is_rfc3339_utc_from_any_zone() -> None:
    east = AT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    record = audit_record(POLICY.check(ip="192.0.2.1", path="/"), at=east)
    assert record["time"] == "2024-05-01T12:00:00.123456Z"


def test_naive_time_is_refused() -> None:
    with pytest.raises(PolicyTypeError, match="time must be timezone-aware"):
        audit_line(POLICY.check(ip="192.0.2.1", path="/"), at=datetime(2024, 5, 1))


def test_not_a_decision_is_refused() -> None:
    with pytest.raises(PolicyTypeError, match="decision must be a Decision, got dict"):
        audit_line({"allowed": True}, at=AT)  # type: ignore[arg-type]


def test_token_shaped_text_is_redacted() -> None:
    secret = "cvpat_" + "A" * 43 + "_abcdef"
    decision = Decision(
        allowed=False,
        reason=Reason.OUT_OF_SCOPE,
        detail=f"path '/x/{secret}' is under no endpoint",
        path=f"/x/{secret}",
        token_name=f"named cvprt_{'b' * 20}",
    )
    line = audit_line(decision, at=AT)
    assert "A" * 16 not in line
    assert "b" * 16 not in line
    record = json.loads(line)
    assert record["path"] == "/x/cvpat_***"
    assert record["detail"] == "path '/x/cvpat_***' is under no endpoint"
    assert record["token_name"] == "named cvprt_***"


def test_a_line_break_in_a_field_cannot_forge_a_record() -> None:
    decision = Decision(
        allowed=False,
        reason=Reason.BAD_METHOD,
        detail='x\n{"decision": "allow"}\u2028\udcff',
    )
    line = audit_line(decision, at=AT)
    assert line.isascii()
    assert "\n" not in line
    assert "\u2028" not in line
    assert json.loads(line)["detail"] == 'x\n{"decision": "allow"}\u2028\udcff'


def test_stream_sink_writes_lines_with_the_injected_clock() -> None:
    stream = io.StringIO()
    clock = FakeClock(AT)
    log = AuditLog(stream, clock=clock.now)
    log.record(POLICY.check(ip="198.51.100.7", path="/webconsole/api/plan"))
    clock.advance(timedelta(seconds=1))
    returned = log.record(POLICY.check(ip="192.0.2.1", path="/webconsole/api/plan"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1] == returned
    first, second = (json.loads(line) for line in lines)
    assert (first["time"], first["decision"]) == (
        "2024-05-01T12:00:00.123456Z",
        "allow",
    )
    assert (second["time"], second["reason"]) == (
        "2024-05-01T12:00:01.123456Z",
        "ip_not_allowed",
    )


def test_logger_sink_emits_one_record_per_decision(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.audit")
    caplog.set_level(logging.INFO, logger="test.audit")
    log = AuditLog(logger, clock=lambda: AT)
    line = log.record(POLICY.check(ip="192.0.2.1", path="/webconsole/api/plan"))
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == line
    assert record.audit["reason"] == "ip_not_allowed"  # type: ignore[attr-defined]


def test_concurrent_lines_do_not_interleave() -> None:
    stream = io.StringIO()
    log = AuditLog(stream, clock=lambda: AT)
    decision = POLICY.check(ip="198.51.100.7", path="/webconsole/api/plan/" + "7" * 500)

    def write() -> None:
        for _ in range(200):
            log.record(decision)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 800
    assert all(json.loads(line)["decision"] == "allow" for line in lines)


@pytest.mark.parametrize(
    ("sink", "clock", "message"),
    [
        (42, None, "sink must be a text stream or a logging.Logger, got int"),
        (io.StringIO(), "now", "clock must be callable, got str"),
    ],
)
def test_configuration_is_checked(sink: object, clock: object, message: str) -> None:
    options = {} if clock is None else {"clock": clock}
    with pytest.raises(PolicyTypeError) as refused:
        AuditLog(sink, **options)  # type: ignore[arg-type]
    assert str(refused.value) == message


def test_audited_authorizer_records_token_decisions() -> None:
    clock = FakeClock(AT)
    service = TokenService(MemoryStore(), clock=clock)
    issued = service.create(user="ana", name="ci", scope="all")
    stream = io.StringIO()
    audited = AuditedAuthorizer(service, AuditLog(stream, clock=clock.now))
    decision = audited.authorize(
        access_token=issued.access_token, ip="192.0.2.1", path="/plan", method="POST"
    )
    assert decision.allowed
    record = json.loads(stream.getvalue())
    assert record["token_id"] == issued.token_id
    assert record["token_name"] == "ci"
    assert (record["method"], record["path"]) == ("POST", "/plan")
    assert issued.access_token[10:30] not in stream.getvalue()


def test_audited_authorizer_records_nothing_when_the_inner_one_raises() -> None:
    class Broken:
        def authorize(self, **_: object) -> Decision:
            raise RuntimeError("down")

    stream = io.StringIO()
    audited = AuditedAuthorizer(Broken(), AuditLog(stream))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        audited.authorize(access_token=None, ip="192.0.2.1", path="/")
    assert stream.getvalue() == ""


def test_audited_authorizer_needs_an_authorizer() -> None:
    with pytest.raises(PolicyTypeError, match="must have an authorize method, got"):
        AuditedAuthorizer(object(), AuditLog(io.StringIO()))  # type: ignore[arg-type]
