"""The access policy: one token's scope, IP allowlist and API bases, decided.

:meth:`AccessPolicy.check` is the question every gateway asks: may this
client address reach this path?  It is pure (no I/O, no clock) and
fail-closed: a client address that is not exactly one address, or a path
that servers could route differently from how it reads, is denied with its
own reason before any rule is consulted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, TypeVar

from policy._address import format_address, parse_client_address
from policy._allowlist import IPAllowlist
from policy._api_base import ApiBase
from policy._decision import Decision, Reason
from policy._errors import PolicyTypeError, echo
from policy._paths import PathError, canonical_path
from policy._scope import Scope

__all__ = ["AccessPolicy"]

_T = TypeVar("_T")

# RFC 9110 section 5.6.2: a method is a token of these characters.  Anything
# else is not a method any server dispatches on, so it is refused, not guessed.
_TCHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_MAX_METHOD_LENGTH: Final = 32
# Methods known to be tokens, so the common case skips the character check.
_COMMON_METHODS: Final = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
)

# Bounds of the tables of recent clients and recent paths.  Real traffic
# repeats both (a public server's log: 1,753 clients and 1,498 paths in
# 10,000 requests); a hit skips parsing, formatting, the allowlist and the
# scope.  Each table is emptied when full, so memory stays bounded (a few
# hundred kilobytes each) whatever the traffic.
_RECENT: Final = 4096

# What the allowlist says of one client: the address as judged, and the
# entry that admits it (None: no allowlist) or False (no entry admits it).
_Client = tuple[str, str | Literal[False] | None]
# Where one raw path leads: the canonical path, the endpoint allowing it
# (None: out of scope), and the sentence saying which endpoint covers it or
# why none does.
_Route = tuple[str, str | None, str]


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
        "_clients",
        "_matcher",
        "_routes",
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

    _clients: dict[str, _Client]
    _routes: dict[str, _Route]

    def __setattr__(self, name: str, value: object) -> None:
        # The tables of recent clients and paths hold verdicts of the
        # current rules: any change of a rule empties them.
        object.__setattr__(self, name, value)
        if not name.startswith("_"):
            object.__setattr__(self, "_clients", {})
            object.__setattr__(self, "_routes", {})

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
        common = type(method) is str and method in _COMMON_METHODS
        if not common and not _is_method(method):
            return _deny(Reason.BAD_METHOD, f"method {_show(method)} is not a token")

        client = self._clients.get(ip) if type(ip) is str else None
        if client is None:
            address = parse_client_address(ip)
            if address is None:
                return _deny(
                    Reason.BAD_IP,
                    f"client address {_show(ip)} is not exactly one IP address",
                    method=method,
                )
            client = self._client(*address)
            if type(ip) is str:
                _remember(self._clients, ip, client)
        shown_ip, ip_rule = client

        route = self._routes.get(path) if type(path) is str else None
        if route is None:
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
            route = self._route(canonical)
            if type(path) is str:
                _remember(self._routes, path, route)

        return self._judge(shown_ip, ip_rule, route, method)

    def _client(self, version: Literal[4, 6], value: int) -> _Client:
        """Judge one parsed client address by the allowlist."""
        shown_ip = format_address(version, value)
        if self.allowlist is None:
            return shown_ip, None
        entry = self.allowlist.match_value(version, value)
        return shown_ip, False if entry is None else entry.text

    def _route(self, path: str) -> _Route:
        """Strip the API base from a canonical path and match the scope.

        The sentences a decision on this path will carry are written here,
        once per path, not once per request.
        """
        relative: str | None = path
        if self._base is not None:
            relative = self._base.strip(path, case_sensitive=self.case_sensitive)
        if relative is None:
            detail = (
                f"path {_show(path)} is under none of the API bases "
                f"{list(self.api_base)!r}"
            )
            return path, None, detail
        endpoint = self._matcher.match(relative)
        if endpoint is None:
            detail = (
                f"path {_show(relative)} is under no endpoint of scope "
                f"{self.scope.name!r}"
            )
            return path, None, detail
        covers = f"{endpoint!r} of scope {self.scope.name!r} covers {_show(relative)}"
        return path, endpoint, covers

    def _judge(
        self, ip: str, ip_rule: str | Literal[False] | None, route: _Route, method: str
    ) -> Decision:
        """Apply the allowlist, then the API base and the scope."""
        path, endpoint, detail = route
        if ip_rule is False:
            return _deny(
                Reason.IP_NOT_ALLOWED,
                f"client address {ip} matches no entry of the allowlist",
                ip=ip,
                path=path,
                method=method,
            )
        if endpoint is None:
            return _deny(Reason.OUT_OF_SCOPE, detail, ip=ip, path=path, method=method)

        where = "any address" if ip_rule is None else f"allowlist entry {ip_rule!r}"
        return Decision(
            True,
            Reason.ALLOWED,
            f"{where} admits {ip}; {detail}",
            endpoint,
            ip,
            path,
            method,
        )


def _remember(table: dict[str, _T], key: str, value: _T) -> None:
    """Keep ``value`` for ``key``, emptying the table first when it is full."""
    if len(table) >= _RECENT:
        table.clear()
    table[key] = value


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
    # Positional: a frozen dataclass is built measurably faster so.
    return Decision(False, reason, detail, None, ip, path, method)
