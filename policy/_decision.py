"""Decision records: the answer to one request, and why.

A :class:`Decision` is a plain, immutable record.  The core returns it and
never logs it; adapters (CLI, middleware, audit log) decide what to do with
it.  It never holds a secret: a token is named by its id and name only, and
text shaped like a token secret in any field is redacted (``cvpat_***``),
as typed or percent-encoded.

One is built for every request a gateway judges, so the record is a single
slot holding a tuple: building it is one tuple and one slot store, where a
frozen dataclass of nine fields pays a guarded ``object.__setattr__`` per
field (about 1 µs against 0.2 µs on the benchmark machine).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final, NoReturn

from policy._errors import PolicyTypeError
from policy._redact import redact

__all__ = ["Decision", "Reason", "decided"]


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


_FIELDS: Final = (
    "allowed",
    "reason",
    "detail",
    "rule",
    "ip",
    "path",
    "method",
    "token_id",
    "token_name",
)


class Decision:
    """Whether one request may go through, and the rule that said so.

    Invariant: ``allowed`` is true exactly when ``reason`` is
    :attr:`Reason.ALLOWED`.  Records are immutable and compare equal when
    every field is equal; :meth:`replace` returns a changed copy.

    Attributes:
        allowed: True when the request may go through.
        reason: Why, as a stable machine-readable value.
        detail: One human-readable sentence naming the rule that decided.
        rule: The allowlist entry or endpoint that decided, when one did.
        ip: The client address as judged (unmapped from IPv4-mapped IPv6),
            or None when it could not be parsed.
        path: The canonical path as matched, or None when it was refused;
            text shaped like a token secret is redacted (``cvpat_***``), as
            in every field.
        method: The request method, as received (methods are
            case-sensitive, RFC 9110 section 9.1).
        token_id: The token's id, when a token was presented and known.
        token_name: The token's name, likewise.

    Raises:
        ValueError: ``reason`` is not a reason, or ``allowed`` contradicts
            it.
        PolicyTypeError: A field has the wrong type.
    """

    __slots__ = ("_values",)
    __match_args__ = _FIELDS

    _values: tuple[
        bool, Reason, str, str | None, str | None, str | None, str | None,
        str | None, str | None,
    ]  # fmt: skip

    def __init_subclass__(cls, **kwargs: Any) -> NoReturn:
        # Records compare, copy and pickle as exactly this type.
        raise TypeError("Decision is a closed record type; it cannot be subclassed")

    def __init__(
        self,
        allowed: bool,
        reason: Reason,
        detail: str,
        rule: str | None = None,
        ip: str | None = None,
        path: str | None = None,
        method: str | None = None,
        token_id: str | None = None,
        token_name: str | None = None,
    ) -> None:
        if _filled(self):
            # Records are immutable: __init__ called again on one is an
            # assignment in disguise.
            raise AttributeError("Decision is immutable, got a second __init__")
        if type(allowed) is not bool:
            raise PolicyTypeError(
                f"allowed must be a bool, got {type(allowed).__name__}"
            )
        reason = Reason(reason)
        if allowed != (reason is Reason.ALLOWED):
            raise ValueError(f"allowed={allowed} contradicts reason {reason.value!r}")
        if type(detail) is not str:
            raise PolicyTypeError(f"detail must be a str, got {type(detail).__name__}")
        for name, value in zip(
            _FIELDS[3:], (rule, ip, path, method, token_id, token_name), strict=True
        ):
            if value is not None and type(value) is not str:
                raise PolicyTypeError(
                    f"{name} must be a str or None, got {type(value).__name__}"
                )
        texts = (detail, rule, ip, path, method, token_id, token_name)
        _store(self, (allowed, reason, *map(_clean, texts)))

    @property
    def allowed(self) -> bool:
        return self._values[0]

    @property
    def reason(self) -> Reason:
        return self._values[1]

    @property
    def detail(self) -> str:
        return self._values[2]

    @property
    def rule(self) -> str | None:
        return self._values[3]

    @property
    def ip(self) -> str | None:
        return self._values[4]

    @property
    def path(self) -> str | None:
        return self._values[5]

    @property
    def method(self) -> str | None:
        return self._values[6]

    @property
    def token_id(self) -> str | None:
        return self._values[7]

    @property
    def token_name(self) -> str | None:
        return self._values[8]

    def __bool__(self) -> bool:
        return self._values[0]

    def replace(self, **changes: Any) -> Decision:
        """Return a copy with some fields changed, checked like a new record.

        Raises:
            TypeError: A name is not a field.
            ValueError: The result would break the invariant.
        """
        unknown = changes.keys() - set(_FIELDS)
        if unknown:
            raise TypeError(f"Decision has no field {sorted(unknown)[0]!r}")
        return Decision(**{**self.to_dict(raw=True), **changes})

    def to_dict(self, *, raw: bool = False) -> dict[str, Any]:
        """Return a mapping of every field, JSON-ready unless ``raw``.

        JSON-ready means ``reason`` is given as its plain string value.
        """
        record = dict(zip(_FIELDS, self._values, strict=True))
        if not raw:
            record["reason"] = self._values[1].value
        return record

    def __eq__(self, other: object) -> bool:
        if type(other) is not Decision:
            return NotImplemented
        return self._values == other._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(_FIELDS, self._values, strict=True)
        )
        return f"Decision({shown})"

    def __reduce__(self) -> tuple[type[Decision], tuple[Any, ...]]:
        # Rebuilt through the constructor, so a pickle is checked again.
        return Decision, self._values

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Decision is immutable, got an assignment to {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Decision is immutable, got a deletion of {name!r}")


# The slot's own setter, which the immutable __setattr__ does not guard.
_store: Final[Callable[[Decision, tuple[Any, ...]], None]] = vars(Decision)[
    "_values"
].__set__
_new: Final = object.__new__


def _clean(text: str | None) -> str | None:
    """``text`` with secret shapes blanked (see :func:`policy._redact.redact`)."""
    return None if text is None else redact(text)


def _filled(record: Decision) -> bool:
    """True when the record's slot already holds its values."""
    try:
        record._values  # noqa: B018 (the read is the test)
    except AttributeError:
        return False
    return True


def decided(
    allowed: bool,
    reason: Reason,
    detail: str,
    rule: str | None,
    ip: str | None,
    path: str | None,
    method: str | None,
) -> Decision:
    """Build a decision on the per-request path, without the invariant check.

    For :class:`policy.AccessPolicy`, whose every call passes ``allowed``
    and ``reason`` consistently; secrets are still redacted here, so the
    record never depends on its caller for that.
    """
    record: Decision = _new(Decision)
    # The substring tests keep an ordinary value to a scan or two without a
    # call; they are redact()'s own (see may_hold_secret).  The address was
    # parsed, so it holds no secret.
    if "cvp" in detail or "%" in detail:
        detail = redact(detail)
    if rule is not None and ("cvp" in rule or "%" in rule):
        rule = redact(rule)
    if path is not None and ("cvp" in path or "%" in path):
        path = redact(path)
    if method is not None and ("cvp" in method or "%" in method):
        method = redact(method)
    _store(record, (allowed, reason, detail, rule, ip, path, method, None, None))
    return record
