"""Records the service builds: denials, not-found errors, first pairs."""

from __future__ import annotations

from datetime import datetime

from policy._address import format_address, parse_client_address
from policy._allowlist import IPAllowlist
from policy._decision import Decision, Reason
from policy._errors import echo
from policy.tokens._errors import TokenNotFoundError, token_error
from policy.tokens._model import PairRecord, TokenRecord
from policy.tokens._secrets import digest

__all__ = [
    "address_refused",
    "deny",
    "first_pair",
    "iso",
    "not_found",
    "not_yet_valid",
    "renewal_closed",
    "revoked_decision",
    "unloadable",
]


def first_pair(
    token_id: str,
    generation: int,
    access: str,
    refresh: str | None,
    now: datetime,
    token: TokenRecord,
) -> PairRecord:
    return PairRecord(
        token_id=token_id,
        generation=generation,
        access_digest=digest(access),
        refresh_digest=None if refresh is None else digest(refresh),
        issued_at=now,
        access_expires_at=token.access_expires_at,
    )


def deny(reason: Reason, detail: str, *, token: TokenRecord | None = None) -> Decision:
    return Decision(
        allowed=False,
        reason=reason,
        detail=detail,
        token_id=None if token is None else token.token_id,
        token_name=None if token is None else token.name,
    )


def revoked_decision(token: TokenRecord) -> Decision:
    if token.revoked_cause == "reuse":
        return deny(
            Reason.REFRESH_REUSED_CHAIN_REVOKED,
            f"the token's chain was revoked at {iso(token.revoked_at)} because a "
            "superseded pair was presented",
            token=token,
        )
    return deny(
        Reason.REVOKED,
        f"the token was revoked at {iso(token.revoked_at)}",
        token=token,
    )


def not_yet_valid(token: TokenRecord, pair: PairRecord) -> Decision:
    return deny(
        Reason.NOT_YET_VALID,
        f"the token was issued at {pair.issued_at.isoformat()}, later than now "
        "beyond the allowed clock skew",
        token=token,
    )


def renewal_closed(token: TokenRecord, deadline: datetime) -> Decision:
    limit = token.renewable_until
    why = (
        "its renewable-until limit"
        if limit is not None and deadline == limit
        else "the renew window after its access token expired"
    )
    return deny(
        Reason.EXPIRED,
        f"the token could be renewed only until {deadline.isoformat()} ({why}); "
        "create a new token",
        token=token,
    )


def address_refused(
    token: TokenRecord, ip: object, *, allowlist: IPAllowlist | None
) -> Decision | None:
    """The denial of a renewal from ``ip``, or None when it may renew.

    Args:
        token: The token being renewed.
        ip: The client address, as :meth:`AccessPolicy.check` takes it.
        allowlist: The token's parsed allowlist; None when it has none.
    """
    address = parse_client_address(ip)
    if address is None:
        return deny(
            Reason.BAD_IP,
            f"client address {echo(repr(ip))} is not exactly one IP address",
            token=token,
        )
    if token.allowlist is None:
        return None
    shown = format_address(*address)
    # A token that has an allowlist and none parsed admits nobody.
    if allowlist is None or allowlist.match_value(*address) is None:
        refused = deny(
            Reason.IP_NOT_ALLOWED,
            f"client address {shown} matches no entry of the token's allowlist, "
            "so it may not renew the token",
            token=token,
        )
        return refused.replace(ip=shown)
    return None


def unloadable(token: TokenRecord) -> Decision:
    return deny(
        Reason.UNAVAILABLE,
        "the token's stored scope or allowlist no longer loads",
        token=token,
    )


def not_found(token_id: str) -> TokenNotFoundError:
    return token_error(
        TokenNotFoundError,
        code="unknown-token-id",
        message=f"no token has id {echo(repr(token_id))}",
        source="token_id",
        text=token_id,
    )


def iso(value: datetime | None) -> str:
    return "forever" if value is None else value.isoformat()
