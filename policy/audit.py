"""The audit log: one JSON line per decision, for the operator.

The core returns :class:`~policy.Decision` records and logs nothing; this
adapter turns each decision into one line of JSON and writes it to a text
stream or hands it to a :mod:`logging` logger.  A line reads (wrapped here)::

    {"time": "2024-05-01T12:00:00.000000Z", "decision": "deny",
     "reason": "out_of_scope", "rule": null, "token_id": "tok_4f2a",
     "token_name": "ci", "ip": "203.0.113.17", "method": "GET",
     "path": "/webconsole/api/planet", "detail": "path '/planet' is under
     no endpoint of scope 'Custom'"}

Fields, always all present, in this order:

* ``time``: when the decision was recorded, RFC 3339 in UTC with
  microseconds and a ``Z``, from the injected clock.
* ``decision``: ``"allow"`` or ``"deny"``.
* ``reason``: the stable :class:`~policy.Reason` value.
* ``rule``: the allowlist entry or endpoint that decided, or null.
* ``token_id``, ``token_name``: the token, when one was presented and
  known; never its secret.
* ``ip``: the client address as judged, or null when it was not one.
* ``method``, ``path``: the method and the *canonical* path, or null when
  the request was refused before they were read.
* ``detail``: the one-sentence explanation of the decision.

No secret reaches a line: decisions never hold one, and as a second guard
any text shaped like an access or refresh token (``cvpat_...``,
``cvprt_...``) in a field, such as a token a client pasted into a path, is
replaced by its prefix and ``***``.  Lines are ASCII (``json.dumps``
escapes the rest), so a path holding a line break cannot forge a record.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TextIO

from policy._decision import Decision
from policy._errors import PolicyTypeError
from policy._http import Authorizer
from policy._redact import redact

__all__ = ["FIELDS", "AuditLog", "AuditedAuthorizer", "audit_line", "audit_record"]

# The keys of every record, in the order they are written.
FIELDS: Final = (
    "time",
    "decision",
    "reason",
    "rule",
    "token_id",
    "token_name",
    "ip",
    "method",
    "path",
    "detail",
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _rfc3339(at: datetime) -> str:
    """``2024-05-01T12:00:00.000000Z``: UTC, fixed width, so lines sort."""
    if not isinstance(at, datetime):
        raise PolicyTypeError(f"time must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise PolicyTypeError(f"time must be timezone-aware, got naive {at!r}")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _redact(value: str | None) -> str | None:
    if value is None:
        return None
    return redact(value)


def audit_record(decision: Decision, *, at: datetime) -> dict[str, Any]:
    """Return the audit record of ``decision`` as a mapping, keys in order.

    Args:
        decision: The decision to record.
        at: When it was made; timezone-aware.

    Returns:
        A JSON-ready dict with exactly the keys of :data:`FIELDS`.

    Raises:
        PolicyTypeError: ``decision`` is not a Decision, or ``at`` is not an
            aware datetime.
    """
    if not isinstance(decision, Decision):
        raise PolicyTypeError(
            f"decision must be a Decision, got {type(decision).__name__}"
        )
    return {
        "time": _rfc3339(at),
        "decision": "allow" if decision.allowed else "deny",
        "reason": decision.reason.value,
        "rule": _redact(decision.rule),
        "token_id": _redact(decision.token_id),
        "token_name": _redact(decision.token_name),
        "ip": decision.ip,
        "method": _redact(decision.method),
        "path": _redact(decision.path),
        "detail": _redact(decision.detail),
    }


def audit_line(decision: Decision, *, at: datetime) -> str:
    """Return the audit line of ``decision``: one line of ASCII JSON, no newline.

    Raises:
        PolicyTypeError: as :func:`audit_record`.
    """
    record = audit_record(decision, at=at)
    return json.dumps(record, ensure_ascii=True, separators=(", ", ": "))


class AuditLog:
    """Writes the audit line of each decision to a stream or a logger.

    Args:
        sink: A text stream (each line is written with a newline and
            flushed) or a :class:`logging.Logger` (each line is the message
            of one record, with the mapping under the record's ``audit``
            attribute for structured handlers).
        clock: Returns the current time, timezone-aware; UTC by default.
            Inject a fixed clock in tests.
        level: The logging level of the records, for a logger sink.

    Raises:
        PolicyTypeError: ``sink`` is neither a stream nor a logger, or
            ``clock`` is not callable.
    """

    __slots__ = ("_clock", "_level", "_lock", "_sink")

    def __init__(
        self,
        sink: TextIO | logging.Logger,
        *,
        clock: Callable[[], datetime] = _utc_now,
        level: int = logging.INFO,
    ) -> None:
        if not isinstance(sink, logging.Logger) and not callable(
            getattr(sink, "write", None)
        ):
            raise PolicyTypeError(
                f"sink must be a text stream or a logging.Logger, "
                f"got {type(sink).__name__}"
            )
        if not callable(clock):
            raise PolicyTypeError(f"clock must be callable, got {type(clock).__name__}")
        self._sink = sink
        self._clock = clock
        self._level = level
        # Lines from concurrent requests must not interleave in a stream.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<AuditLog to {self._sink!r}>"

    def record(self, decision: Decision) -> str:
        """Write the audit line of ``decision`` and return it.

        Raises:
            PolicyTypeError: ``decision`` is not a Decision, or the clock
                returned something other than an aware datetime.
            OSError: The stream could not be written; a caller that must
                not answer unaudited treats this as a denial.
        """
        record = audit_record(decision, at=self._clock())
        line = json.dumps(record, ensure_ascii=True, separators=(", ", ": "))
        if isinstance(self._sink, logging.Logger):
            self._sink.log(self._level, "%s", line, extra={"audit": record})
            return line
        with self._lock:
            self._sink.write(line + "\n")
            self._sink.flush()
        return line


class _Recorder(Protocol):
    def record(self, decision: Decision) -> str: ...


class AuditedAuthorizer:
    """An authorizer that writes the audit line of every decision it makes.

    Wraps anything with the ``authorize`` method the HTTP adapters call
    (a :class:`~policy.tokens.TokenService`, for one), so it plugs into
    the ASGI and WSGI middleware and the forward-auth server unchanged.
    When the inner authorizer raises, nothing is recorded here and the
    exception goes on to the adapter, which denies and logs it.

    Args:
        authorizer: The authorizer to wrap.
        audit: Where the lines go.
    """

    __slots__ = ("_audit", "_authorizer")

    def __init__(self, authorizer: Authorizer, audit: _Recorder) -> None:
        if not callable(getattr(authorizer, "authorize", None)):
            raise PolicyTypeError(
                f"authorizer must have an authorize method, "
                f"got {type(authorizer).__name__}"
            )
        self._authorizer = authorizer
        self._audit = audit

    def authorize(
        self, *, access_token: str | None, ip: object, path: str, method: str = "GET"
    ) -> Decision:
        """Decide with the wrapped authorizer, then record the decision."""
        decision = self._authorizer.authorize(
            access_token=access_token, ip=ip, path=path, method=method
        )
        self._audit.record(decision)
        return decision
