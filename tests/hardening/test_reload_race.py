"""Hot reload under load: every decision comes from exactly one policy.

Two policies disagree on every probe, and a mix of them (the allowlist of
one with the scope of the other) would allow requests that neither allows.
Threads decide the probes while another thread swaps the file back and
forth by rename; every decision must equal what policy A or policy B alone
answers, field for field.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from policy import Decision, loads_policy
from policy._reload import PolicyReloader

POLICY_A = """
scope = "custom"
endpoints = ["/plan"]
ip_allowlist = ["198.51.100.0/24"]
"""
POLICY_B = """
scope = "custom"
endpoints = ["/Client"]
ip_allowlist = ["203.0.113.0/24"]
"""
PROBES = [
    ("198.51.100.7", "/plan/7"),
    ("203.0.113.7", "/Client/7"),
    ("198.51.100.7", "/Client/7"),  # a mix would allow this
    ("203.0.113.7", "/plan/7"),  # and this
]
DECIDERS = 4
# Each decider runs until the swaps are done, but never past this bound.
MAX_ROUNDS = 50_000
SWAPS = 150


def answers(text: str) -> list[Decision]:
    policy = loads_policy(text)
    return [policy.check(ip=ip, path=path) for ip, path in PROBES]


def swap(path: Path, text: str, number: int) -> None:
    staged = path.with_name(f"staged-{number}.toml")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)


def test_probes_tell_the_policies_and_a_mix_apart() -> None:
    a, b = answers(POLICY_A), answers(POLICY_B)
    assert [d.allowed for d in a] == [True, False, False, False]
    assert [d.allowed for d in b] == [False, True, False, False]
    assert all(x != y for x, y in zip(a, b, strict=True))
    mix = loads_policy('scope = "custom"\nendpoints = ["/plan", "/Client"]\n')
    assert all(mix.check(ip=ip, path=path).allowed for ip, path in PROBES)


def test_no_decision_mixes_old_and_new_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    swap(path, POLICY_A, 0)
    reloader = PolicyReloader(path, check_interval_seconds=0)
    expected = {"A": answers(POLICY_A), "B": answers(POLICY_B)}
    seen = {"A": 0, "B": 0}
    mixed: list[tuple[int, Decision]] = []
    lock = threading.Lock()
    start = threading.Barrier(DECIDERS + 1)
    done = threading.Event()
    rounds = [0] * DECIDERS

    def decide(decider: int) -> None:
        start.wait()
        for round_number in range(MAX_ROUNDS):
            if done.is_set() and round_number >= len(PROBES):
                break
            rounds[decider] += 1
            index = round_number % len(PROBES)
            ip, target = PROBES[index]
            decision = reloader.check(ip=ip, path=target)
            with lock:
                for name, decisions in expected.items():
                    if decision == decisions[index]:
                        seen[name] += 1
                        break
                else:
                    mixed.append((index, decision))

    def swapper() -> None:
        start.wait()
        for number in range(1, SWAPS + 1):
            swap(path, POLICY_B if number % 2 else POLICY_A, number)
            reloader.reload()
        done.set()

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(DECIDERS)]
    threads.append(threading.Thread(target=swapper))
    interval = sys.getswitchinterval()
    # Switch threads often, so checks and swaps interleave finely.
    sys.setswitchinterval(1e-5)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads)

    assert mixed == []
    assert seen["A"] + seen["B"] == sum(rounds)
    # Both policies judged requests, so the swaps really raced the checks.
    assert seen["A"] > 0
    assert seen["B"] > 0


def test_a_bad_version_mid_race_keeps_the_last_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    swap(path, POLICY_A, 0)
    reloader = PolicyReloader(path, check_interval_seconds=0)
    swap(path, 'scope = "custom"\nendpoints = ["/plan?x"]\n', 1)
    assert reloader.reload() is False
    assert [reloader.check(ip=ip, path=p) for ip, p in PROBES] == answers(POLICY_A)
