"""The structures compared, each as a builder and a membership loop.

Every builder takes the prefixes as text and returns a function that runs
the membership question over a list of client address texts, the way a
user of that library would ask it.  Peers are imported lazily: a missing
one is reported and skipped, never fatal.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["PEERS", "Loop"]

Loop = Callable[[Sequence[str]], None]


def ours(prefixes: Sequence[str]) -> Loop:
    """``address in allowlist``: the library's default, no cache."""
    from policy import IPAllowlist

    allowlist = IPAllowlist.parse(prefixes)

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            address in allowlist  # noqa: B015 - the lookup is the work

    return run


def ours_cached(prefixes: Sequence[str]) -> Loop:
    """The same behind a table of recent clients, as the adapters run it.

    AccessPolicy(cache_size=ADAPTER_CACHE_SIZE) keeps such a table (of
    judged clients, not bare verdicts); this isolates what it costs and
    saves on the lookup alone.
    """
    from policy import IPAllowlist
    from policy._policy import ADAPTER_CACHE_SIZE

    allowlist = IPAllowlist.parse(prefixes)
    recent: dict[str, bool] = {}

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            verdict = recent.get(address)
            if verdict is None:
                verdict = address in allowlist
                if len(recent) >= ADAPTER_CACHE_SIZE:
                    recent.clear()
                recent[address] = verdict

    return run


def int_bisect(prefixes: Sequence[str]) -> Loop:
    """The plain design: inet_pton, int, bisect over merged intervals."""
    from policy import IPAllowlist

    index = IPAllowlist.parse(prefixes).index
    starts = {v: [f for f, _ in index.ranges(v)] for v in (4, 6)}
    ends = {v: [last for _, last in index.ranges(v)] for v in (4, 6)}
    pton, from_bytes = socket.inet_pton, int.from_bytes

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            v = 6 if ":" in address else 4
            n = from_bytes(pton(socket.AF_INET6 if v == 6 else socket.AF_INET, address))
            i = bisect_right(starts[v], n)
            i > 0 and n <= ends[v][i - 1]

    return run


def pytricia(prefixes: Sequence[str]) -> Loop:
    import pytricia as module

    v4, v6 = module.PyTricia(32), module.PyTricia(128)
    for prefix in prefixes:
        (v6 if ":" in prefix else v4)[prefix] = True

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            if ":" in address:
                address in v6  # noqa: B015
            else:
                address in v4  # noqa: B015

    return run


def py_radix(prefixes: Sequence[str]) -> Loop:
    import radix

    tree = radix.Radix()
    for prefix in prefixes:
        tree.add(prefix)
    search = tree.search_best

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            search(address)

    return run


def netaddr_ipset(prefixes: Sequence[str]) -> Loop:
    import netaddr

    found = netaddr.IPSet(prefixes)

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            address in found  # noqa: B015

    return run


def intervaltree(prefixes: Sequence[str]) -> Loop:
    import intervaltree as module

    trees = {4: module.IntervalTree(), 6: module.IntervalTree()}
    for prefix in set(prefixes):
        network = ipaddress.ip_network(prefix)
        first = int(network.network_address)
        trees[network.version].addi(first, first + network.num_addresses)
    pton, from_bytes = socket.inet_pton, int.from_bytes

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            v = 6 if ":" in address else 4
            n = from_bytes(pton(socket.AF_INET6 if v == 6 else socket.AF_INET, address))
            trees[v].overlaps(n)

    return run


def ipaddress_scan(prefixes: Sequence[str]) -> Loop:
    networks = [ipaddress.ip_network(p) for p in dict.fromkeys(prefixes)]

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            parsed: Any = ipaddress.ip_address(address)
            any(parsed in network for network in networks)

    return run


def casbin_ipmatch(prefixes: Sequence[str]) -> Loop:
    from casbin.util.builtin_operators import ip_match

    unique = list(dict.fromkeys(prefixes))

    def run(addresses: Sequence[str]) -> None:
        for address in addresses:
            family = ":" in address
            any(ip_match(address, p) for p in unique if (":" in p) == family)

    return run


# name -> (builder, the largest list it is measured on, relative cost class:
# how many addresses of the traffic it is given at most).
PEERS: dict[str, tuple[Callable[[Sequence[str]], Loop], int, int]] = {
    "policy": (ours, 10**7, 10**6),
    "policy, cached": (ours_cached, 10**7, 10**6),
    "int bisect": (int_bisect, 10**7, 10**6),
    "pytricia": (pytricia, 10**7, 10**6),
    "py-radix": (py_radix, 10**7, 10**6),
    "netaddr IPSet": (netaddr_ipset, 100_000, 2_000),
    "intervaltree": (intervaltree, 100_000, 5_000),
    "ipaddress scan": (ipaddress_scan, 100_000, 50),
    "casbin ipMatch": (casbin_ipmatch, 100_000, 10),
}
