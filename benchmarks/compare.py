"""Side-by-side comparison of the policy's hot paths with the usual peers.

Run ``python -m benchmarks.compare`` (add ``--quick`` for a short run).
Prints figures and ratios, writes ``benchmarks/results/compare.json`` and a
plot of lookup cost against list size, ``lookup_vs_size.png``.  Every ratio
compares figures measured in this one run; each figure is the median of
several repeats, because the machine is shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import _data
from benchmarks._peers import PEERS, Loop

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

Figures = dict[str, Any]


def per_item_ns(run: Callable[[], None], items: int, *, repeat: int) -> float:
    """Median over ``repeat`` runs of the cost of one item, in ns."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / items * 1e9


def sample_for(loop: Loop, traffic: Sequence[str], cap: int) -> Sequence[str]:
    """As much traffic as ``loop`` gets through in about a tenth of a second."""
    if cap >= len(traffic):
        # Fast structures take the whole traffic: a shorter sample would
        # fit in the table of recent clients and flatter the cached lookup.
        return traffic
    start = time.perf_counter()
    loop(traffic[:1])
    once = max(time.perf_counter() - start, 1e-7)
    return traffic[: max(1, min(cap, int(0.1 / once)))]


def measure_lookups(
    prefixes: Sequence[str], traffics: dict[str, Sequence[str]], *, repeat: int
) -> Figures:
    """Each structure's build time and per-lookup cost on each traffic."""
    out: Figures = {}
    for name, (build, largest, cap) in PEERS.items():
        if len(prefixes) > largest:
            continue
        try:
            start = time.perf_counter()
            loop = build(prefixes)
            built = time.perf_counter() - start
        except ImportError as error:
            print(f"  {name}: skipped ({error})", file=sys.stderr)
            continue
        row: Figures = {"build_s": round(built, 4)}
        for kind, traffic in traffics.items():
            sample = sample_for(loop, traffic, cap)
            # Warm once (and fill any table of recent clients, as a running
            # server has), then time; "fresh" traffic never repeats.
            if kind != "fresh":
                loop(sample)
            cost = per_item_ns(
                lambda s=sample, f=loop: f(s),  # type: ignore[misc]
                len(sample),
                repeat=repeat,
            )
            row[kind] = round(cost, 1)
        out[name] = row
    return out


def real_lists(*, repeat: int, fresh: int) -> Figures:
    traffics = {
        "log": _data.log_clients(),
        "pool": _data.random_pool(10_000),
        "fresh": _data.fresh_traffic(fresh),
    }
    out: Figures = {}
    for name in _data.LISTS:
        print(f"lookups on {name} ...", file=sys.stderr)
        out[name] = measure_lookups(_data.prefixes(name), traffics, repeat=repeat)
    return out


def synthetic(sizes: Sequence[int], *, repeat: int, fresh: int) -> Figures:
    traffics = {
        "pool": _data.random_pool(10_000, v6_share=0),
        "fresh": _data.fresh_traffic(fresh, v6_share=0),
    }
    out: Figures = {}
    for size in sizes:
        print(f"lookups on {size:,} synthetic prefixes ...", file=sys.stderr)
        prefixes = _data.synthetic_prefixes(size)
        out[str(size)] = measure_lookups(prefixes, traffics, repeat=repeat)
    return out


def scope(*, repeat: int) -> Figures:
    """Scope match at depth 4 against 1 to 10,000 endpoints."""
    from casbin.util.builtin_operators import key_match

    from policy import Scope

    real = _data.endpoints()
    out: Figures = {}
    for count in (1, 10, 100, 1_000, 10_000):
        paths = real[:count] + [f"/Synthetic{n}/item" for n in range(count - len(real))]
        matcher = Scope.custom(paths).matcher(case_sensitive=False)
        probes = [f"{paths[n % len(paths)]}/7/a/b".lower() for n in range(2_000)]
        probes = ["/" + "/".join(p.split("/")[1:5]) for p in probes]  # depth 4 exactly
        starts = tuple(p.lower() for p in paths)
        match = matcher.match

        def ours(
            match: Callable[[str], str | None] = match, probes: list[str] = probes
        ) -> None:
            for p in probes:
                match(p)

        def prefix(
            starts: tuple[str, ...] = starts, probes: list[str] = probes
        ) -> None:
            for p in probes:
                p.startswith(starts)

        sample = probes[: max(1, 20_000 // count)]

        def casbin(sample: list[str] = sample, paths: list[str] = paths) -> None:
            for p in sample:
                any(key_match(p, e + "*") for e in paths)

        out[str(count)] = {
            "policy": round(per_item_ns(ours, len(probes), repeat=repeat), 1),
            "startswith tuple": round(
                per_item_ns(prefix, len(probes), repeat=repeat), 1
            ),
            "casbin keyMatch": round(per_item_ns(casbin, len(sample), repeat=3), 1),
        }
    return out


CASBIN_MODEL = """
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.act == p.act && ipMatch(r.sub, p.sub) && keyMatch(r.obj, p.obj)
"""


def check(*, repeat: int) -> Figures:
    """AccessPolicy.check against the same decision expressed in casbin."""
    import casbin

    from policy import load_policy
    from policy._policy import ADAPTER_CACHE_SIZE

    policy = load_policy(ROOT / "examples" / "plan-automation.toml")
    assert policy.allowlist is not None
    cidrs = policy.allowlist.to_cidrs()
    endpoints = [e.path for e in policy.scope.endpoints]
    ips = [f"198.51.100.{n}" for n in range(0, 256, 5)] + [
        f"203.0.113.{n}" for n in range(0, 40)
    ]
    paths = [
        f"{base}{endpoint}/{n}"
        for base in policy.api_base
        for endpoint in [*endpoints, "/Client"]
        for n in range(4)
    ]
    requests = [(ips[n % len(ips)], paths[n * 7 % len(paths)]) for n in range(5_000)]
    fresh = [
        (f"198.51.{n >> 8 & 255}.{n & 255}", f"/webconsole/api/plan/{n}")
        for n in range(20_000)
    ]

    with tempfile.TemporaryDirectory() as folder:
        model, rules = Path(folder, "model.conf"), Path(folder, "policy.csv")
        model.write_text(CASBIN_MODEL, encoding="utf-8")
        lines = [
            f"p, {cidr}, {base}{endpoint}*, {method}"
            for cidr in cidrs
            for base in policy.api_base
            for endpoint in endpoints
            for method in ("GET", "POST")
        ]
        rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
        enforcer = casbin.Enforcer(str(model), str(rules))

    cached = policy.with_cache(ADAPTER_CACHE_SIZE)

    def ours(decide: Callable[..., object], batch: list[tuple[str, str]]) -> None:
        for ip, path in batch:
            decide(ip=ip, path=path, method="GET")

    casbin_sample = requests[:200]

    def theirs() -> None:
        for ip, path in casbin_sample:
            enforcer.enforce(ip, path, "GET")

    agree = sum(
        policy.check(ip=ip, path=path).allowed == enforcer.enforce(ip, path, "GET")
        for ip, path in casbin_sample
    )
    # What timing one call costs by itself: two clock reads, nothing between.
    clock = time.perf_counter_ns
    timer = statistics.median(-clock() + clock() for _ in range(20_000))
    out: Figures = {"timer_ns": timer}
    for label, subject in (("default", policy), ("cached", cached)):
        decide = subject.check
        ours(decide, requests)
        # Median of single decisions too, as the target is stated, with
        # the clock's own cost taken out; and of the allowed ones alone.
        singles = []
        allowed = []
        for ip, path in requests[:4_000] * 3:
            start = clock()
            decision = decide(ip=ip, path=path, method="GET")
            spent = clock() - start
            singles.append(spent)
            if decision.allowed:
                allowed.append(spent)
        out[label] = {
            "repeating_ns": round(
                per_item_ns(
                    lambda d=decide: ours(d, requests),  # type: ignore[misc]
                    len(requests),
                    repeat=repeat,
                ),
                1,
            ),
            "fresh_ns": round(
                per_item_ns(
                    lambda d=decide: ours(d, fresh),  # type: ignore[misc]
                    len(fresh),
                    repeat=repeat,
                ),
                1,
            ),
            "single_median_ns": statistics.median(singles) - timer,
            "single_median_allowed_ns": statistics.median(allowed) - timer,
        }
    out["casbin_ns"] = round(per_item_ns(theirs, len(casbin_sample), repeat=3), 1)
    out["casbin_rules"] = len(lines)
    out["casbin_agrees"] = f"{agree}/{len(casbin_sample)}"
    return out


def loading(*, repeat: int) -> Figures:
    """Parse, validate and index the Azure list; memory of the index."""
    from policy import IPAllowlist
    from policy._index import IntervalIndex

    azure = _data.prefixes("azure")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        allowlist = IPAllowlist.parse(azure)
        times.append(time.perf_counter() - start)
    intervals = [
        (v, first, last) for v in (4, 6) for first, last in allowlist.index.ranges(v)
    ]
    tracemalloc.start()
    index = IntervalIndex(intervals)  # type: ignore[arg-type]
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    tracemalloc.start()
    whole = IPAllowlist.parse(azure)
    whole_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index, whole
    return {
        "entries": len(azure),
        "parse_index_s": round(statistics.median(times), 3),
        "index_bytes": index_bytes,
        "allowlist_with_entries_bytes": whole_bytes,
    }


def batch(*, repeat: int) -> Figures:
    """contains_many over text, contains_array over parsed arrays."""
    import numpy as np

    from policy import IPAllowlist

    allowlist = IPAllowlist.parse(_data.prefixes("azure"))
    texts = _data.fresh_traffic(100_000)
    many = per_item_ns(
        lambda: allowlist.contains_many(texts), len(texts), repeat=repeat
    )
    rng = np.random.default_rng(1)
    v4 = rng.integers(0, 2**32, size=2_000_000, dtype=np.uint32)
    v6 = rng.integers(0, 2**64, size=(1_000_000, 2), dtype=np.uint64)
    v6[:, 0] = (v6[:, 0] >> np.uint64(3)) | np.uint64(0x2000 << 48)
    a4 = per_item_ns(
        lambda: allowlist.contains_array(v4, version=4), len(v4), repeat=repeat
    )
    a6 = per_item_ns(
        lambda: allowlist.contains_array(v6, version=6), len(v6), repeat=repeat
    )
    return {
        "contains_many_per_s": round(1e9 / many),
        "contains_array_v4_per_s": round(1e9 / a4),
        "contains_array_v6_per_s": round(1e9 / a6),
    }


REPLAY_POLICY = """
scope = "custom"
endpoints = '''
/presentations
/images
/articles
/blog
'''
ip_allowlist = '''
83.149.9.0/24
66.249.64.0/19
0.0.0.0/1
2001:db8::/32
'''
"""


def replay_cli(copies: int, policy: Path) -> tuple[float, int | None]:
    """Seconds and max RSS (KiB) of ``policy replay`` over the log, repeated."""
    log = _data.LOG.read_bytes()
    command = [
        sys.executable,
        "-m",
        "policy",
        "replay",
        "--policy",
        str(policy),
        "--no-progress",
        "-",
    ]
    timer = shutil.which("time") or "/usr/bin/time"
    use_time = os.path.exists(timer)
    if use_time:
        command = [timer, "-f", "%M", *command]
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert child.stdin is not None
    for _ in range(copies):
        child.stdin.write(log)
    child.stdin.close()
    err = child.stderr.read() if child.stderr is not None else b""
    child.wait()
    seconds = time.perf_counter() - start
    rss = None
    if use_time:
        last = err.decode().strip().splitlines()[-1:]
        rss = int(last[0]) if last and last[0].isdigit() else None
    return seconds, rss


def replay(*, copies: int) -> Figures:
    lines = len(_data.log_requests())
    with tempfile.TemporaryDirectory() as folder:
        policy = Path(folder, "replay.toml")
        policy.write_text(REPLAY_POLICY, encoding="utf-8")
        seconds, _ = replay_cli(copies, policy)
        _, rss_1 = replay_cli(1, policy)
        _, rss_10 = replay_cli(10, policy)
    return {
        "lines": lines * copies,
        "seconds": round(seconds, 2),
        "lines_per_s": round(lines * copies / seconds),
        "max_rss_kib_1x": rss_1,
        "max_rss_kib_10x": rss_10,
    }


def plot(figures: Figures, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(figures, key=int)
    fig, ax = plt.subplots(figsize=(8, 5))
    names = dict.fromkeys(n for s in sizes for n in figures[s])
    for name in names:
        xs = [int(s) for s in sizes if name in figures[s]]
        ys = [figures[s][name]["pool"] for s in sizes if name in figures[s]]
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("prefixes in the list (synthetic IPv4)")
    ax.set_ylabel("ns per membership test (10,000 random clients)")
    ax.set_title("Membership cost against list size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def ratios(results: Figures) -> list[str]:
    """The closing lines: each target, its figure, met or not."""
    out = []
    for name, row in results["real_lists"].items():
        for label in ("policy", "policy, cached"):
            for kind in ("log", "pool", "fresh"):
                ours, trie = row[label][kind], row["pytricia"][kind]
                met = "met" if ours <= trie else "NOT met"
                out.append(
                    f"{name:13} {label:15} {kind:5}: {ours:7.1f} ns,"
                    f" pytricia {trie:7.1f} ns, {trie / ours:4.2f}x  {met}"
                )
        ipset = row.get("netaddr IPSet", {}).get("pool")
        if ipset:
            ratio = ipset / row["policy"]["pool"]
            out.append(
                f"{name:13} IPSet/policy {ratio:,.0f}x"
                f" ({'met' if ratio >= 50 else 'NOT met'}, target 50x)"
            )
    check = results.get("check")
    if check:
        for label in ("default", "cached"):
            figures = check[label]
            median = figures["single_median_ns"]
            out.append(
                f"check {label:8}: median {median:,.0f} ns"
                f" ({'met' if median <= 2_000 else 'NOT met'}, target 2,000 ns;"
                f" allowed alone {figures['single_median_allowed_ns']:,.0f} ns;"
                f" clock {check['timer_ns']:,.0f} ns taken out),"
                f" repeating {figures['repeating_ns']:,.0f} ns,"
                f" fresh {figures['fresh_ns']:,.0f} ns,"
                f" casbin/ours {check['casbin_ns'] / figures['repeating_ns']:,.0f}x"
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 7
    sizes = (
        [10, 100, 1_000, 10_000]
        if args.quick
        else [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    )
    fresh = 20_000 if args.quick else 100_000
    started = time.perf_counter()
    results: Figures = {
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "command": "python -m benchmarks.compare" + (" --quick" if args.quick else ""),
    }
    results["real_lists"] = real_lists(repeat=repeat, fresh=fresh)
    results["synthetic"] = synthetic(sizes, repeat=repeat, fresh=fresh)
    print("scope, check, loading, batch ...", file=sys.stderr)
    results["scope"] = scope(repeat=repeat)
    results["check"] = check(repeat=repeat)
    results["loading"] = loading(repeat=3)
    results["batch"] = batch(repeat=repeat)
    print("replay ...", file=sys.stderr)
    results["replay"] = replay(copies=30 if args.quick else 200)
    results["seconds"] = round(time.perf_counter() - started, 1)

    RESULTS.mkdir(exist_ok=True)
    stem = "compare-quick" if args.quick else "compare"
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(
        results["synthetic"],
        RESULTS / f"{stem.replace('compare', 'lookup_vs_size')}.png",
    )
    print(json.dumps({k: v for k, v in results.items() if k != "synthetic"}, indent=1))
    print("\n".join(ratios(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
