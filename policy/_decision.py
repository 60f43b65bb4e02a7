"""Decision records: the answer to one request, and why.

A :class:`Decision` is a plain, immutable record.  The core returns it and
never logs it; adapters (CLI, middleware, audit log) decide what to do with
it.  It never holds a secret: a token is named by its id and name only, and
text shaped like a token secret in the path, method or detail is redacted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from policy._redact import redact

__all__ = ["Decision", "Reason"]


class Reason(StrEnum):
    """Machine-readable reason of a decision; stable across releases."""

    ALLOWED = "allowed"
    # Request shape
    BAD_IP = "bad_ip"
    BAD_PATH = "bad_path"
    BAD_METHOD = "bad_method"
    # Policy
    IP_NOT_ALLOWED = "ip_not_allowed"
    OUT_OF_SCOPE = "out_of_scope"
    # Token lifecycle
    # Reason names, not credentials (ruff's S105 reads "TOKEN" as a secret).
    MISSING_TOKEN = "missing_token"  # noqa: S105
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105
    NOT_YET_VALID = "not_yet_valid"
    ACCESS_EXPIRED_RENEWABLE = "access_expired_renewable"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REFRESH_REUSED_CHAIN_REVOKED = "refresh_reused_chain_revoked"
    # The engine could not decide (store unavailable, policy not loaded):
    # always a denial.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one request may go through, and the rule that said so.

    Invariant: ``allowed`` is true exactly when ``reason`` is
    :attr:`Reason.ALLOWED`.

    Attributes:
        allowed: True when the request may go through.
        reason: Why, as a stable machine-readable value.
        detail: One human-readable sentence naming the rule that decided.
        rule: The allowlist entry or endpoint that decided, when one did.
        ip: The client address as judged (unmapped from IPv4-mapped IPv6),
            or None when it could not be parsed.
        path: The canonical path as matched, or None when it was refused;
            text shaped like a token secret is redacted (``cvpat_***``).
        method: The request method, upper-cased; redacted likewise.
        token_id: The token's id, when a token was presented and known.
        token_name: The token's name, likewise.
    """

    allowed: bool
    reason: Reason
    detail: str
    rule: str | None = None
    ip: str | None = None
    path: str | None = None
    method: str | None = None
    token_id: str | None = None
    token_name: str | None = None

    def __post_init__(self) -> None:
        if self.allowed != (self.reason is Reason.ALLOWED):
            raise ValueError(
                f"allowed={self.allowed} contradicts reason {self.reason.value!r}"
            )
        # A client may paste a token secret into its request (a path, even a
        # method), and the record must not carry it on.  Every decision
        # passes here: the substring test, shared by both secret prefixes,
        # keeps an ordinary value to one scan without the regex.
        path, method, detail = self.path, self.method, self.detail
        if path is not None and "cvp" in path:
            object.__setattr__(self, "path", redact(path))
        if method is not None and "cvp" in method:
            object.__setattr__(self, "method", redact(method))
        if "cvp" in detail:
            object.__setattr__(self, "detail", redact(detail))

    def __bool__(self) -> bool:
        return self.allowed

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping of every field."""
        record = asdict(self)
        record["reason"] = self.reason.value
        return record
