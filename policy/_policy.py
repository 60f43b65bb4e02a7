"""The access policy: one token's scope, IP allowlist and API bases, decided.

:meth:`AccessPolicy.check` is the question every gateway asks: may this
client address reach this path?  It is pure (no I/O, no clock) and
fail-closed: a client address that is not exactly one address, or a path
that servers could route differently from how it reads, is denied with its
own reason before any rule is consulted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from policy._address import format_address, parse_client_address
from policy._allowlist import IPAllowlist
from policy._decision import Decision, Reason
from policy._errors import PolicyTypeError, echo
from policy._paths import PathError, canonical_path
from policy._api_base import ApiBase
from policy._scope import Scope

__all__ = ["AccessPolicy"]

# RFC 9110 section 5.6.2: a method is a token of these characters.  Anything
# else is not a method any server dispatches on, so it is refused, not guessed.
_TCHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_MAX_METHOD_LENGTH: Final = 32


class AccessPolicy:
    """What one token may reach: a scope, an optional allowlist, API bases.

    Args:
        scope: The endpoints the token may call.
        allowlist: Client addresses the token may be used from; None means
            no IP restriction (as in the Commvault dialog), never "nobody".
        api_base: Base paths the API is served under (for Commvault,
            ``/commandcenter/api``, ``/webconsole/api`` and
            ``/SearchSvc/CVWebService.svc``).  Endpoints are matched relative
            to the longest base that prefixes the path; a path under no base
            is out of scope.  Empty: endpoints are matched from the root.
        case_sensitive: Match endpoints and bases by exact case.  Off by
            default, because Commvault's REST API routes ``/Client`` and
            ``/client`` alike; turn it on for backends that route by case.

    Raises:
        PolicyTypeError: an argument has the wrong type.
        ScopeError: an API base path is malformed.
    """

    __slots__ = (
        "_base",
        "_matcher",
        "allowlist",
        "api_base",
        "case_sensitive",
        "scope",
    )

    def __init__(
        self,
        *,
        scope: Scope,
        allowlist: IPAllowlist | None = None,
        api_base: Iterable[str] = (),
        case_sensitive: bool = False,
    ) -> None:
        if not isinstance(scope, Scope):
            raise PolicyTypeError(f"scope must be a Scope, got {type(scope).__name__}")
        if allowlist is not None and not isinstance(allowlist, IPAllowlist):
            raise PolicyTypeError(
                "allowlist must be an IPAllowlist or None, "
                f"got {type(allowlist).__name__}"
            )
        if isinstance(api_base, str):
            raise PolicyTypeError("api_base must be a list of paths, got one string")

        self.scope = scope
        self.allowlist = allowlist
        self.case_sensitive = bool(case_sensitive)
        bases = tuple(api_base)
        self._base = ApiBase(bases) if bases else None
        self.api_base: tuple[str, ...] = () if self._base is None else self._base.bases
        self._matcher = scope.matcher(case_sensitive=self.case_sensitive)

    def __repr__(self) -> str:
        allowlist = "any address" if self.allowlist is None else repr(self.allowlist)
        return (
            f"<AccessPolicy scope={self.scope.name!r} allowlist={allowlist} "
            f"api_base={list(self.api_base)!r} case_sensitive={self.case_sensitive}>"
        )

    def check(self, *, ip: object, path: str, method: str = "GET") -> Decision:
        """Decide whether a request from ``ip`` to ``path`` may go through.

        Args:
            ip: The client address: exactly one IPv4 or IPv6 address, as a
                string or an ``ipaddress`` object.  IPv4-mapped IPv6
                (``::ffff:192.0.2.1``) is judged as the IPv4 address.
            path: The request target as received, still percent-encoded.
            method: The request method.

        Returns:
            The decision; ``decision.allowed`` is the answer.  Never raises
            for bad input: a malformed address, path or method is a denial
            with its own reason.
        """
        if not _is_method(method):
            return _deny(Reason.BAD_METHOD, f"method {_show(method)} is not a token")

        address = parse_client_address(ip)
        if address is None:
            return _deny(
                Reason.BAD_IP,
                f"client address {_show(ip)} is not exactly one IP address",
                method=method,
            )
        version, value = address
        shown_ip = format_address(version, value)

        try:
            canonical = canonical_path(path) if isinstance(path, str) else None
        except PathError as error:
            return _deny(
                Reason.BAD_PATH,
                error.diagnostics[0].message,
                ip=shown_ip,
                method=method,
            )
        if canonical is None:
            return _deny(
                Reason.BAD_PATH,
                f"path must be a string, got {type(path).__name__}",
                ip=shown_ip,
                method=method,
            )

        return self._judge(version, value, shown_ip, canonical, method)

    def _judge(
        self, version: Literal[4, 6], value: int, ip: str, path: str, method: str
    ) -> Decision:
        """Apply the allowlist, then the API base, then the scope."""
        ip_rule = None
        if self.allowlist is not None:
            entry = self.allowlist.match_value(version, value)
            if entry is None:
                return _deny(
                    Reason.IP_NOT_ALLOWED,
                    f"client address {ip} matches no entry of the allowlist",
                    ip=ip,
                    path=path,
                    method=method,
                )
            ip_rule = entry.text

        relative: str | None = path
        if self._base is not None:
            relative = self._base.strip(path, case_sensitive=self.case_sensitive)
        if relative is None:
            return _deny(
                Reason.OUT_OF_SCOPE,
                f"path {_show(path)} is under none of the API bases "
                f"{list(self.api_base)!r}",
                ip=ip,
                path=path,
                method=method,
            )

        endpoint = self._matcher.match(relative)
        if endpoint is None:
            return _deny(
                Reason.OUT_OF_SCOPE,
                f"path {_show(relative)} is under no endpoint of scope "
                f"{self.scope.name!r}",
                ip=ip,
                path=path,
                method=method,
            )

        where = "any address" if ip_rule is None else f"allowlist entry {ip_rule!r}"
        return Decision(
            allowed=True,
            reason=Reason.ALLOWED,
            detail=f"{where} admits {ip}; {endpoint!r} of scope "
            f"{self.scope.name!r} covers {_show(relative)}",
            rule=endpoint,
            ip=ip,
            path=path,
            method=method,
        )


def _is_method(method: object) -> bool:
    """True when ``method`` is an RFC 9110 token of a sensible length."""
    return (
        isinstance(method, str)
        and 0 < len(method) <= _MAX_METHOD_LENGTH
        and _TCHARS.issuperset(method)
    )


def _show(value: object) -> str:
    """Quote untrusted input for a detail message, cut to a safe length."""
    text = value if isinstance(value, str) else repr(value)
    return repr(echo(text))


def _deny(
    reason: Reason,
    detail: str,
    *,
    ip: str | None = None,
    path: str | None = None,
    method: str | None = None,
) -> Decision:
    return Decision(
        allowed=False, reason=reason, detail=detail, ip=ip, path=path, method=method
    )
