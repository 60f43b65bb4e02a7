"""Hypothesis strategies for property tests of services guarded by a policy.

Install the extra: ``pip install access-policy[testing]``.  The strategies
draw allowlist entries of every form, whole allowlists, client addresses
inside and outside an allowlist, request paths inside and outside a scope
(the confusable ones included), and tokens at chosen points of their
lifecycle.  A middleware property test then reads::

    from hypothesis import given
    from policy import IPAllowlist, Scope
    from policy.testing import addresses_outside, paths_in

    ALLOW = IPAllowlist.parse("198.51.100.0/24\\n2001:db8::/48")
    SCOPE = Scope.custom(["/plan", "/V4/ServerGroup"])

    @given(ip=addresses_outside(ALLOW), path=paths_in(SCOPE,
           api_base="/commandcenter/api"))
    def test_strangers_are_refused(ip, path):
        response = client.get(path, headers={"X-Forwarded-For": ip})
        assert response.status_code == 403

Every strategy checks its own promise: an address drawn outside really is
outside, and a path drawn outside is denied by the same :class:`AccessPolicy`
the strategy was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from typing import Final, Literal

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "policy.testing needs Hypothesis: install the extra"
        " 'access-policy[testing]' (pip install 'access-policy[testing]')"
    ) from error

from policy._address import MAPPED_V4_FIRST, MAPPED_V4_LAST, MAX_ADDRESS, Version
from policy._address import format_address as _format
from policy._allowlist import IPAllowlist
from policy._decision import Reason
from policy._diff import subtract
from policy._entry_grammar import DASHES
from policy._policy import AccessPolicy
from policy._scope import Scope
from policy.tokens import FakeClock, IssuedToken, MemoryStore, TokenService

__all__ = [
    "STAGES",
    "Stage",
    "TokenAtStage",
    "addresses_in",
    "addresses_outside",
    "allowlist_entries",
    "allowlists",
    "invalid_allowlist_entries",
    "paths_in",
    "paths_outside",
    "tokens_at",
]

_BITS: Final = {4: 32, 6: 128}
_SEGMENT: Final = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
    min_size=1,
    max_size=8,
)


# --- Allowlist entries --------------------------------------------------------


def _v4() -> st.SearchStrategy[int]:
    return st.integers(0, MAX_ADDRESS[4])


def _v6() -> st.SearchStrategy[int]:
    return st.integers(0, MAX_ADDRESS[6])


def _v6_text(value: int) -> st.SearchStrategy[str]:
    """Every accepted spelling of an IPv6 address."""
    address = IPv6Address(value)
    forms = [address.compressed, address.exploded, address.exploded.upper()]
    head = address.exploded.rsplit(":", 2)[0]
    embedded = f"{head}:{IPv4Address(value & 0xFFFFFFFF)}"
    return st.sampled_from([*forms, embedded])


def _address(version: Version) -> st.SearchStrategy[str]:
    if version == 4:
        return _v4().map(lambda v: _format(4, v))
    return _v6().flatmap(_v6_text)


def _cidr(version: Version) -> st.SearchStrategy[str]:
    def build(value: int, length: int) -> str:
        size = 1 << (_BITS[version] - length)
        return f"{_format(version, value & ~(size - 1))}/{length}"

    ints = _v4() if version == 4 else _v6()
    return st.builds(build, ints, st.integers(0, _BITS[version]))


def _range(version: Version) -> st.SearchStrategy[str]:
    ints = _v4() if version == 4 else _v6()

    def build(pair: tuple[int, int], dash: str, spaced: bool) -> str:
        low, high = sorted(pair)
        gap = " " if spaced else ""
        return f"{_format(version, low)}{gap}{dash}{gap}{_format(version, high)}"

    return st.builds(
        build, st.tuples(ints, ints), st.sampled_from(DASHES), st.booleans()
    )


def _families(family: Version | None) -> list[Version]:
    if family not in (None, 4, 6):
        raise ValueError(f"family must be 4, 6 or None, got {family!r}")
    return [4, 6] if family is None else [family]


def allowlist_entries(
    *, valid: bool = True, family: Version | None = None
) -> st.SearchStrategy[str]:
    """One allowlist entry as people type it.

    Args:
        valid: Draw valid entries (addresses in every spelling, CIDRs,
            ranges with each dash, spaced or not), or invalid ones.
        family: 4 or 6 to draw one family only; None for both.

    Returns:
        A strategy of entry texts.
    """
    if not valid:
        return invalid_allowlist_entries().map(lambda pair: pair[0])
    forms = [
        form(version)
        for version in _families(family)
        for form in (_address, _cidr, _range)
    ]
    return st.one_of(forms)


# Each invalid form and the code the parser reports for it.
_INVALID: Final = (
    ("10.0.0.5/24", "host-bits-set"),
    ("010.0.0.1", "ipv4-leading-zero"),
    ("10.0.0.256", "ipv4-octet-range"),
    ("10.0.1", "ipv4-short-form"),
    ("1.2.3.4.5", "ipv4-too-many-octets"),
    ("10.0.0.0/33", "prefix-range"),
    ("10.0.0.0/024", "prefix-leading-zero"),
    ("2001:db8::/129", "prefix-range"),
    ("10.0.0.9 - 10.0.0.1", "range-reversed"),
    ("10.0.0.1 - 2001:db8::1", "range-family-mismatch"),
    ("fe80::1%eth0", "ipv6-zone-id"),
    ("2001:db8::1::2", "ipv6-invalid"),
    ("example.com", "hostname"),
    ("10.0.0.1 -", "range-incomplete"),
)


def invalid_allowlist_entries() -> st.SearchStrategy[tuple[str, str]]:
    """An invalid entry and the diagnostic code the parser reports for it."""
    fixed = st.sampled_from(_INVALID)

    def host_bits(value: int, length: int) -> tuple[str, str]:
        size = 1 << (32 - length)
        if value % size == 0:
            value += 1
        return f"{_format(4, value)}/{length}", "host-bits-set"

    def leading_zero(value: int, octet: int) -> tuple[str, str]:
        parts = _format(4, value).split(".")
        parts[octet] = "0" + parts[octet]
        return ".".join(parts), "ipv4-leading-zero"

    generated = st.one_of(
        st.builds(host_bits, st.integers(0, MAX_ADDRESS[4] - 1), st.integers(1, 31)),
        st.builds(leading_zero, _v4(), st.integers(0, 3)),
    )
    return st.one_of(fixed, generated)


def allowlists(
    *, family: Version | None = None, min_entries: int = 1, max_entries: int = 20
) -> st.SearchStrategy[str]:
    """The text of a whole valid allowlist, with comments and blank lines."""
    line = st.one_of(
        allowlist_entries(family=family),
        st.tuples(allowlist_entries(family=family), st.text("abc ", max_size=8)).map(
            lambda pair: f"{pair[0]}  # {pair[1]}"
        ),
    )
    entries = st.lists(line, min_size=min_entries, max_size=max_entries)
    extras = st.lists(st.sampled_from(["", "# comment"]), max_size=3)
    return st.builds(lambda es, xs: "\n".join([*xs, *es]), entries, extras)


# --- Client addresses ------------------------------------------------------------


def _in_ranges(
    version: Version, ranges: Sequence[tuple[int, int]]
) -> st.SearchStrategy[int]:
    return st.sampled_from(list(ranges)).flatmap(lambda r: st.integers(*r))


def _client(version: Version, value: int, mapped: bool) -> str:
    """The text of a client address; IPv4 optionally in its mapped form."""
    if version == 4 and mapped:
        return f"::ffff:{_format(4, value)}"
    return _format(version, value)


def _drawn(
    spaces: dict[Version, list[tuple[int, int]]],
) -> st.SearchStrategy[str]:
    versions: tuple[Version, ...] = (4, 6)
    families = [v for v in versions if spaces[v]]
    if not families:
        return st.nothing()
    options = [
        st.builds(_client, st.just(v), _in_ranges(v, spaces[v]), st.booleans())
        for v in families
    ]
    return st.one_of(options)


def addresses_in(allowlist: IPAllowlist) -> st.SearchStrategy[str]:
    """Client addresses the allowlist admits (IPv4 also as IPv4-mapped IPv6)."""
    spaces: dict[Version, list[tuple[int, int]]] = {
        4: list(allowlist.index.ranges(4)),
        6: list(allowlist.index.ranges(6)),
    }
    return _drawn(spaces).filter(lambda ip: ip in allowlist)


def addresses_outside(allowlist: IPAllowlist) -> st.SearchStrategy[str]:
    """Client addresses the allowlist does not admit, in both families.

    IPv6 addresses of the IPv4-mapped block are left out: clients there are
    judged as IPv4, and IPv4 addresses are drawn directly.
    """
    v4 = subtract([(0, MAX_ADDRESS[4])], allowlist.index.ranges(4))
    v6 = subtract(
        subtract([(0, MAX_ADDRESS[6])], [(MAPPED_V4_FIRST, MAPPED_V4_LAST)]),
        allowlist.index.ranges(6),
    )
    return _drawn({4: v4, 6: v6}).filter(lambda ip: ip not in allowlist)


# --- Request paths ------------------------------------------------------------


def _policy(scope: Scope, api_base: str, case_sensitive: bool) -> AccessPolicy:
    bases = [api_base] if api_base else []
    return AccessPolicy(scope=scope, api_base=bases, case_sensitive=case_sensitive)


def _allowed(policy: AccessPolicy, path: str) -> bool:
    return policy.check(ip="192.0.2.1", path=path).allowed


def _prefixes(scope: Scope) -> list[str]:
    if scope.kind == "all":
        return ["/"]
    return [endpoint.path for endpoint in scope.endpoints]


def _recase(text: str, flips: list[bool]) -> str:
    return "".join(
        c.swapcase() if flip else c
        for c, flip in zip(text, flips + [False] * len(text), strict=False)
    )


def paths_in(
    scope: Scope, *, api_base: str = "", case_sensitive: bool = False
) -> st.SearchStrategy[str]:
    """Request targets the scope allows: an endpoint, then more segments.

    Case variants are drawn when matching folds case, and a query string
    sometimes follows.  Each path is checked against the policy.
    """
    policy = _policy(scope, api_base, case_sensitive)

    def build(prefix: str, rest: list[str], flips: list[bool], query: str) -> str:
        if not case_sensitive:
            prefix = _recase(prefix, flips)
        path = prefix.rstrip("/") + "".join(f"/{s}" for s in rest)
        return f"{api_base}{path or '/'}{query}"

    return st.builds(
        build,
        st.sampled_from(_prefixes(scope)),
        st.lists(_SEGMENT, max_size=3),
        st.lists(st.booleans(), max_size=12),
        st.sampled_from(["", "?id=7", "?a=1&b=2"]),
    ).filter(lambda path: _allowed(policy, path))


def paths_outside(
    scope: Scope, *, api_base: str = "", case_sensitive: bool = False
) -> st.SearchStrategy[str]:
    """Request targets the scope must deny, the confusable forms first.

    Drawn: an endpoint with letters appended to its last segment
    (``/planet`` for ``/plan``), a case variant when matching is
    case-sensitive, an encoded slash (``/plan%2F..%2FClient``), a dot
    segment (``/plan/../Client``), a ``;`` parameter (``/plan;x/../Client``),
    and unrelated paths.  Each is checked to be denied by the policy.  No
    target holds a raw ``#``: HTTP clients cut it off as a fragment before
    sending, so the request would not be the one drawn.
    """
    policy = _policy(scope, api_base, case_sensitive)
    prefixes = _prefixes(scope)

    def confusable(prefix: str, kind: int, word: str) -> str:
        base = prefix.rstrip("/")
        forms = [
            f"{base}{word}",
            base.swapcase() if case_sensitive else f"{base}{word}",
            f"{base}%2F..%2F{word}",
            f"{base}/../{word}",
            f"{base};x/../{word}",
            f"{base}/%2e%2e/{word}",
        ]
        return f"{api_base}{forms[kind]}"

    unrelated = st.lists(_SEGMENT, min_size=1, max_size=3).map(
        lambda segments: api_base + "".join(f"/{s}" for s in segments)
    )
    drawn = st.one_of(
        st.builds(confusable, st.sampled_from(prefixes), st.integers(0, 5), _SEGMENT),
        unrelated,
    )
    return drawn.filter(lambda path: not _allowed(policy, path))


# --- Tokens ----------------------------------------------------------------------

Stage = Literal[
    "live",
    "not_yet_valid",
    "access_expired_renewable",
    "expired",
    "revoked",
    "superseded",
]
STAGES: Final[tuple[Stage, ...]] = (
    "live",
    "not_yet_valid",
    "access_expired_renewable",
    "expired",
    "revoked",
    "superseded",
)
_EXPECTED: Final[dict[str, Reason]] = {
    "live": Reason.ALLOWED,
    "not_yet_valid": Reason.NOT_YET_VALID,
    "access_expired_renewable": Reason.ACCESS_EXPIRED_RENEWABLE,
    "expired": Reason.EXPIRED,
    "revoked": Reason.REVOKED,
    "superseded": Reason.REVOKED,
}
_START: Final = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TokenAtStage:
    """A token brought to one point of its lifecycle, in its own service.

    Attributes:
        service: A :class:`TokenService` over a memory store.
        clock: The fake clock the service reads; move it to go on.
        token: The pair to present (for ``superseded``, the old one).
        stage: The stage drawn.
        expected: The reason ``authorize`` must give with ``token``.
    """

    service: TokenService
    clock: FakeClock
    token: IssuedToken
    stage: Stage
    expected: Reason


def _at_stage(stage: Stage, seconds: int) -> TokenAtStage:
    clock = FakeClock(_START)
    service = TokenService(MemoryStore(), clock=clock)
    token = service.create(user="test", name=f"at-{stage}", scope="all")
    rules = service.rules
    if stage == "live":
        clock.advance(timedelta(seconds=seconds % 1800))
    elif stage == "not_yet_valid":
        clock.set(_START - rules.clock_skew - timedelta(seconds=1 + seconds))
    elif stage == "access_expired_renewable":
        window = int(rules.renew_after_expiry.total_seconds())
        clock.advance(rules.access_lifetime + timedelta(seconds=seconds % window))
    elif stage == "expired":
        clock.advance(
            rules.access_lifetime
            + rules.renew_after_expiry
            + timedelta(seconds=seconds)
        )
    elif stage == "revoked":
        clock.advance(timedelta(seconds=seconds % 1800))
        service.revoke(token.token_id)
    else:
        clock.advance(timedelta(seconds=seconds % 1800))
        refresh = token.refresh_token or ""
        service.renew(access_token=token.access_token, refresh_token=refresh)
    return TokenAtStage(service, clock, token, stage, _EXPECTED[stage])


def tokens_at(stage: Stage | None = None) -> st.SearchStrategy[TokenAtStage]:
    """Tokens at one stage of their lifecycle, or at any stage.

    Args:
        stage: ``live``, ``not_yet_valid``, ``access_expired_renewable``,
            ``expired``, ``revoked`` or ``superseded`` (replaced by a
            renewal); None draws any of them.

    Returns:
        A strategy of :class:`TokenAtStage`; the instant inside the stage is
        drawn too.

    Raises:
        ValueError: ``stage`` is not one of those.
    """
    if stage is not None and stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    stages = st.sampled_from(STAGES) if stage is None else st.just(stage)
    return st.builds(_at_stage, stages, st.integers(0, 10**7))
