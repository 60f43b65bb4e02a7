"""The access policy: one token's scope, IP allowlist and API bases, decided.

:meth:`AccessPolicy.check` is the question every gateway asks: may this
client address reach this path?  It is pure (no I/O, no clock) and
fail-closed: a client address that is not exactly one address, or a path
that servers could route differently from how it reads, is denied with its
own reason before any rule is consulted.

A policy is immutable once built.  By default it remembers nothing between
calls, so every decision costs the same; ``cache_size`` (or
:meth:`AccessPolicy.with_cache`) adds bounded tables of recent clients and
paths, which the adapters judging real traffic (``policy replay``, the
forward-auth server) turn on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from policy._address import format_address, parse_client_address
from policy._allowlist import Entry, IPAllowlist
from policy._api_base import ApiBase
from policy._decision import Decision, Reason, decided
from policy._errors import MAX_ECHO, PolicyTypeError, echo
from policy._paths import (
    DEFAULT_MAX_PATH_LENGTH,
    PathError,
    canonical_path,
    is_plain,
)
from policy._redact import may_hold_secret
from policy._router import Router
from policy._scope import ALL_RULE, Scope

__all__ = ["ADAPTER_CACHE_SIZE", "AccessPolicy"]

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

# The tables of recent clients and paths (``cache_size``) are off by
# default: they pay on real traffic, which repeats both (a public server's
# log: 1,753 clients and 1,498 paths in 10,000 requests), and cost a lookup
# and an insertion per request on traffic that never repeats.  Adapters
# that judge real traffic turn them on with this size.
ADAPTER_CACHE_SIZE: Final = 4096

# The slots that with_cache() shares between twin policies.
_SHARED: Final = (
    "_scope",
    "_allowlist",
    "_api_base",
    "_case_sensitive",
    "_max_path_length",
    "_covers",
    "_judge",
    "_no_base",
    "_no_endpoint",
    "_router",
)

# What the allowlist says of one client: the address as judged, and the
# entry admitting it (None when none does, or when there is no allowlist).
_Client = tuple[str, Entry | None]
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
        max_path_length: Longer request targets are denied (``bad_path``)
            before any parsing.
        cache_size: How many recent client addresses, and as many recent
            paths, to remember the verdicts of; 0 (the default) remembers
            none.  Pays when traffic repeats, as real traffic does, and
            costs a little when it does not; each table is emptied when
            full, so memory and the cost of thrashing stay bounded.  Cached
            and uncached decisions are equal.

    The policy is immutable: assigning an attribute raises
    :class:`PolicyTypeError`, because the compiled matcher and the caches
    are derived from the rules.  Build a new policy instead, or use
    :meth:`with_cache` for another cache size.

    Raises:
        PolicyTypeError: an argument has the wrong type or range.
        ScopeError: an API base path is malformed.
    """

    __slots__ = (
        "_allowlist",
        "_api_base",
        "_cache_size",
        "_case_sensitive",
        "_clients",
        "_covers",
        "_decide",
        "_judge",
        "_max_path_length",
        "_no_base",
        "_no_endpoint",
        "_router",
        "_routes",
        "_scope",
    )

    _scope: Scope
    _allowlist: IPAllowlist | None
    _api_base: tuple[str, ...]
    _case_sensitive: bool
    _max_path_length: int
    _cache_size: int
    _router: Router
    # The allowlist's judge(), or one admitting every address.
    _judge: Callable[[object], _Client | None]
    # What check() calls: _check(), or without tables its plain form.
    _decide: Callable[[object, object, object], Decision]
    # The parts of the sentences saying where a path leads, written once:
    # "endpoint '/plan' of scope 'Custom' covers the path" per endpoint as
    # typed, and the ends of the two sentences refusing a path.
    _covers: dict[str, str]
    _no_base: str
    _no_endpoint: str
    # None when the cache is off: a miss would cost a lookup for nothing.
    _clients: dict[str, _Client] | None
    _routes: dict[str, _Route] | None

    def __init__(
        self,
        *,
        scope: Scope,
        allowlist: IPAllowlist | None = None,
        api_base: Iterable[str] = (),
        case_sensitive: bool = False,
        max_path_length: int = DEFAULT_MAX_PATH_LENGTH,
        cache_size: int = 0,
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
        _check_count("max_path_length", max_path_length, least=1)
        _check_count("cache_size", cache_size, least=0)

        bases = tuple(api_base)
        base = ApiBase(bases) if bases else None
        case_sensitive = bool(case_sensitive)
        _set = object.__setattr__
        _set(self, "_scope", scope)
        _set(self, "_allowlist", allowlist)
        _set(self, "_case_sensitive", case_sensitive)
        _set(self, "_api_base", () if base is None else base.bases)
        _set(self, "_max_path_length", max_path_length)
        _set(self, "_cache_size", cache_size)
        matcher = scope.matcher(case_sensitive=case_sensitive)
        _set(self, "_router", Router(matcher, base))
        _set(self, "_judge", _any_address if allowlist is None else allowlist.judge)
        rules = [ALL_RULE] if scope.kind == "all" else [e.text for e in scope.endpoints]
        _set(
            self,
            "_covers",
            {
                rule: f"endpoint {rule!r} of scope {scope.name!r} covers the path"
                for rule in rules
            },
        )
        _set(
            self,
            "_no_base",
            f" is under none of the API bases {list(self._api_base)!r}",
        )
        _set(self, "_no_endpoint", f" is under no endpoint of scope {scope.name!r}")
        _set(self, "_clients", {} if cache_size else None)
        _set(self, "_routes", {} if cache_size else None)
        _set(self, "_decide", self._check if cache_size else _plain_check(self))

    @property
    def scope(self) -> Scope:
        """The endpoints the token may call."""
        return self._scope

    @property
    def allowlist(self) -> IPAllowlist | None:
        """Client addresses the token may be used from; None: any address."""
        return self._allowlist

    @property
    def api_base(self) -> tuple[str, ...]:
        """The canonical API bases, longest first; empty: the root."""
        return self._api_base

    @property
    def case_sensitive(self) -> bool:
        """Whether endpoints and bases are matched by exact case."""
        return self._case_sensitive

    @property
    def max_path_length(self) -> int:
        """The longest request target judged; longer ones are ``bad_path``."""
        return self._max_path_length

    @property
    def cache_size(self) -> int:
        """How many recent clients and paths are remembered; 0: none."""
        return self._cache_size

    def __setattr__(self, name: str, value: object) -> None:
        raise PolicyTypeError(
            f"AccessPolicy is immutable, got an assignment to {name!r};"
            " build a new policy instead"
        )

    def __delattr__(self, name: str) -> None:
        raise PolicyTypeError(
            f"AccessPolicy is immutable, got a deletion of {name!r};"
            " build a new policy instead"
        )

    def with_cache(self, cache_size: int) -> AccessPolicy:
        """Return the same rules with tables of ``cache_size`` recent verdicts.

        Args:
            cache_size: As for the constructor; 0 turns the cache off.

        Returns:
            A new policy deciding exactly as this one does.

        Raises:
            PolicyTypeError: ``cache_size`` is not an int of at least 0.
        """
        _check_count("cache_size", cache_size, least=0)
        # The rules and their compiled forms are immutable, so they are
        # shared; only the tables are new.
        twin = object.__new__(AccessPolicy)
        _set = object.__setattr__
        for name in _SHARED:
            _set(twin, name, getattr(self, name))
        _set(twin, "_cache_size", cache_size)
        _set(twin, "_clients", {} if cache_size else None)
        _set(twin, "_routes", {} if cache_size else None)
        _set(twin, "_decide", twin._check if cache_size else _plain_check(twin))
        return twin

    def __copy__(self) -> AccessPolicy:
        # Immutable: a copy may as well be the policy itself, as for a tuple.
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> AccessPolicy:
        return self

    def __reduce__(self) -> tuple[Callable[..., AccessPolicy], tuple[object, ...]]:
        # Pickled as its rules and options, rebuilt (and checked) by the
        # constructor; the compiled parts and the tables are not carried.
        return _rebuild, (
            self._scope,
            self._allowlist,
            self._api_base,
            self._case_sensitive,
            self._max_path_length,
            self._cache_size,
        )

    def __repr__(self) -> str:
        allowlist = "any address" if self._allowlist is None else repr(self._allowlist)
        return (
            f"<AccessPolicy scope={self._scope.name!r} allowlist={allowlist} "
            f"api_base={list(self._api_base)!r} case_sensitive={self._case_sensitive} "
            f"cache_size={self._cache_size}>"
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
        return self._decide(ip, path, method)

    def _check(self, ip: object, path: object, method: object) -> Decision:
        """Decide any request: :meth:`check` for every case it may meet.

        The steps run in the order the reasons are documented: method,
        client, path, then the allowlist, the API base and the scope.
        """
        if type(method) is not str or method not in _COMMON_METHODS:
            if not _is_method(method):
                return _deny(
                    Reason.BAD_METHOD, f"method {_show(method)} is not a token"
                )
            # A str subclass is read as the plain string it holds, never
            # through its own methods (as for the client and the path).
            method = str.__str__(method)

        # The client: from the table of recent clients, or judged now.  Only
        # exact str keys are cached: a str subclass may redefine hashing and
        # equality, and so read another client's verdict.
        clients = self._clients
        if clients is None or type(ip) is not str:
            client = self._judge(ip)
        else:
            client = clients.get(ip)
            if client is None:
                client = self._judge(ip)
                if client is not None:
                    _remember(clients, ip, client, self._cache_size)
        if client is None:
            return _deny(
                Reason.BAD_IP,
                f"client address {_show(ip)} is not exactly one IP address",
                method=method,
            )
        shown_ip, entry = client
        admitted = entry is not None or self._allowlist is None

        # The path: likewise, from the table of recent paths or routed now.
        routes = self._routes
        route = None
        if routes is not None and type(path) is str:
            route = routes.get(path)
        if route is None:
            # The type as well: an object may claim str through __class__.
            if not (isinstance(path, str) and issubclass(type(path), str)):
                return _deny(
                    Reason.BAD_PATH,
                    f"path must be a string, got {type(path).__name__}",
                    ip=shown_ip,
                    method=method,
                )
            try:
                canonical = canonical_path(path, max_length=self._max_path_length)
            except PathError as error:
                return _deny(
                    Reason.BAD_PATH,
                    error.diagnostics[0].message,
                    ip=shown_ip,
                    method=method,
                )
            if not admitted:
                # Refused whatever the route: none is worked out.
                return _refuse_client(shown_ip, canonical, method)
            route = self._route(canonical)
            if routes is not None and type(path) is str:
                _remember(routes, path, route, self._cache_size)
        canonical, endpoint, sentence = route

        # The allowlist, then the API base and the scope.
        if not admitted:
            return _refuse_client(shown_ip, canonical, method)
        if endpoint is None:
            return _deny(
                Reason.OUT_OF_SCOPE,
                sentence,
                ip=shown_ip,
                path=canonical,
                method=method,
            )
        if entry is None:
            detail = f"any address admits {shown_ip}; {sentence}"
        else:
            detail = f"allowlist entry {entry.text!r} admits {shown_ip}; {sentence}"
        return decided(
            True, Reason.ALLOWED, detail, endpoint, shown_ip, canonical, method
        )

    def _route(self, path: str) -> _Route:
        """Find the endpoint allowing a canonical path, or say why none does.

        The sentences a decision on this path will carry are written here,
        once per path, not once per request.
        """
        return self._routed(path, self._router.route(path))

    def _routed(self, path: str, routed: tuple[str | None, int] | None) -> _Route:
        """The route of a canonical path, from the router's answer for it."""
        if routed is None:
            return path, None, f"path {_show(path)}{self._no_base}"
        endpoint, base_length = routed
        if endpoint is None:
            relative = path[base_length:] or "/"
            return path, None, f"path {_show(relative)}{self._no_endpoint}"
        return path, endpoint, self._covers[endpoint]


def _rebuild(
    scope: Scope,
    allowlist: IPAllowlist | None,
    api_base: tuple[str, ...],
    case_sensitive: bool,
    max_path_length: int,
    cache_size: int,
) -> AccessPolicy:
    """Build a policy from what :meth:`AccessPolicy.__reduce__` keeps."""
    return AccessPolicy(
        scope=scope,
        allowlist=allowlist,
        api_base=api_base,
        case_sensitive=case_sensitive,
        max_path_length=max_path_length,
        cache_size=cache_size,
    )


def _plain_check(policy: AccessPolicy) -> Callable[[object, object, object], Decision]:
    """Build the decision of the usual request, for a policy without tables.

    Most requests are alike: an address text, a path already canonical, a
    usual method.  For them the function returned takes the steps of
    :meth:`AccessPolicy._check` in the same order, through the same parts
    (the allowlist's judge(), the router, decided()), bound once as local
    names instead of looked up on every call.  Any other request goes to
    ``_check`` itself, as does a client that is not an address.
    """
    judge = policy._judge
    route = policy._router.route
    covers = policy._covers
    any_address = policy._allowlist is None
    max_length = policy._max_path_length
    routed_to = policy._routed
    general = policy._check
    allowed, out_of_scope = Reason.ALLOWED, Reason.OUT_OF_SCOPE

    def decide(ip: object, path: object, method: object) -> Decision:
        if not (
            type(ip) is str
            and type(path) is str
            and type(method) is str
            and method in _COMMON_METHODS
            and len(path) <= max_length
            and is_plain(path)
        ):
            return general(ip, path, method)
        # The path is canonical as it stands, so no bad_path can come.
        client = judge(ip)
        if client is None:
            return general(ip, path, method)
        shown_ip, entry = client
        if entry is None and not any_address:
            return _refuse_client(shown_ip, path, method)
        routed = route(path)
        if routed is None or routed[0] is None:
            _, _, sentence = routed_to(path, routed)
            return _deny(out_of_scope, sentence, ip=shown_ip, path=path, method=method)
        endpoint = routed[0]
        if entry is None:
            detail = f"any address admits {shown_ip}; {covers[endpoint]}"
        else:
            detail = (
                f"allowlist entry {entry.text!r} admits {shown_ip}; {covers[endpoint]}"
            )
        return decided(True, allowed, detail, endpoint, shown_ip, path, method)

    return decide


def _remember(table: dict[str, _T], key: str, value: _T, size: int) -> None:
    """Keep ``value`` for ``key``, emptying the table first when it is full."""
    if len(table) >= size:
        table.clear()
    table[key] = value


def _check_count(name: str, value: object, *, least: int) -> None:
    """Refuse an option that is not an int of at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise PolicyTypeError(
            f"{name} must be an int of at least {least}, got {value!r}"
        )


def _is_method(method: object) -> bool:
    """True when ``method`` is an RFC 9110 token of a sensible length."""
    if not issubclass(type(method), str):
        return False
    text = str.__str__(method)
    return 0 < len(text) <= _MAX_METHOD_LENGTH and _TCHARS.issuperset(text)


def _show(value: object) -> str:
    """Quote untrusted input for a detail message, cut to a safe length.

    Anything but a string is named by its type: its own repr() could raise
    (or, for an int of many thousand digits, be refused by Python).
    """
    if not issubclass(type(value), str):
        return f"<{type(value).__name__}>"
    text = value if type(value) is str else str.__str__(value)
    if len(text) <= MAX_ECHO and not may_hold_secret(text):
        # What echo() would return unchanged, without the call.
        return repr(text)
    return repr(echo(text))


def _any_address(ip: object) -> _Client | None:
    """Judge a client when there is no allowlist: any one address passes."""
    parsed = parse_client_address(ip)
    if parsed is None:
        return None
    # inet_pton accepts only the canonical dotted quad, so an IPv4 text
    # (not an unmapped IPv6 one) is already as format_address writes it.
    if parsed[0] == 4 and type(ip) is str and ":" not in ip:
        return ip, None
    return format_address(*parsed), None


def _refuse_client(ip: str, path: str, method: str) -> Decision:
    return _deny(
        Reason.IP_NOT_ALLOWED,
        f"client address {ip} matches no entry of the allowlist",
        ip=ip,
        path=path,
        method=method,
    )


def _deny(
    reason: Reason,
    detail: str,
    *,
    ip: str | None = None,
    path: str | None = None,
    method: str | None = None,
) -> Decision:
    return decided(False, reason, detail, None, ip, path, method)
