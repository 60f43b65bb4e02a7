"""No sequence of create/renew/revoke/reuse/clock moves breaks the lifecycle.

The machine keeps its own record of every pair ever issued and checks, after
each step, that a revoked, superseded or expired access token is never
authorized, that nothing renews after revocation, and that no pair ever has
two different successors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from _instants import T0
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from policy._decision import Reason
from policy.tokens import (
    FakeClock,
    IssuedToken,
    LifetimeRules,
    MemoryStore,
    RenewalDenied,
    TokenService,
)

STEPS = [
    timedelta(microseconds=1),
    timedelta(seconds=20),
    timedelta(minutes=29, seconds=59, microseconds=999999),
    timedelta(minutes=30),
    timedelta(days=1),
    timedelta(days=14),
    timedelta(days=40),
]


@dataclass
class Model:
    issued: list[IssuedToken] = field(default_factory=list)
    latest: dict[str, int] = field(default_factory=dict)  # token id -> generation
    revoked: set[str] = field(default_factory=set)
    successors: dict[tuple[str, int], set[str]] = field(default_factory=dict)


class Lifecycle(RuleBasedStateMachine):
    grace = timedelta(0)

    @initialize()
    def start(self) -> None:
        self.clock = FakeClock(T0)
        rules = LifetimeRules(reuse_grace=self.grace)
        self.service = TokenService(MemoryStore(), clock=self.clock, rules=rules)
        self.model = Model()

    @rule(
        scope=st.sampled_from(["all", "hyperscale", "microsoft-scim"]),
        days=st.sampled_from([None, 1, 30]),
    )
    def create(self, scope: str, days: int | None) -> None:
        until = None if days is None else self.clock.now() + timedelta(days=days)
        issued = self.service.create(
            user="ana",
            name="n",
            scope=scope,
            renewable_until=until if scope != "microsoft-scim" else None,
        )
        self.model.issued.append(issued)
        self.model.latest[issued.token_id] = 1

    @precondition(lambda self: self.model.issued)
    @rule(data=st.data())
    def renew(self, data: st.DataObject) -> None:
        pair = data.draw(st.sampled_from(self.model.issued))
        if pair.refresh_token is None:
            return
        try:
            new = self.service.renew(
                access_token=pair.access_token, refresh_token=pair.refresh_token
            )
        except RenewalDenied as denied:
            if denied.decision.reason is Reason.REFRESH_REUSED_CHAIN_REVOKED:
                self.model.revoked.add(pair.token_id)
            return
        assert pair.token_id not in self.model.revoked
        assert new.generation == pair.generation + 1
        assert new.generation >= self.model.latest[pair.token_id]
        key = (pair.token_id, pair.generation)
        self.model.successors.setdefault(key, set()).add(new.access_token)
        if new.generation > self.model.latest[pair.token_id]:
            self.model.latest[pair.token_id] = new.generation
            self.model.issued.append(new)

    @precondition(lambda self: self.model.issued)
    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        pair = data.draw(st.sampled_from(self.model.issued))
        self.service.revoke(pair.token_id)
        self.model.revoked.add(pair.token_id)

    @rule(step=st.sampled_from(STEPS))
    def advance(self, step: timedelta) -> None:
        self.clock.advance(step)

    @invariant()
    def never_authorizes_a_dead_token(self) -> None:
        if not hasattr(self, "model"):
            return
        now = self.clock.now()
        for pair in self.model.issued:
            decision = self.service.authorize(
                access_token=pair.access_token, ip="192.0.2.1", path="/Client"
            )
            if decision.allowed:
                assert pair.token_id not in self.model.revoked
                assert pair.generation == self.model.latest[pair.token_id]
                assert now < pair.access_expires_at
                assert decision.token_id == pair.token_id

    @invariant()
    def at_most_one_successor_per_pair(self) -> None:
        if not hasattr(self, "model"):
            return
        assert all(len(found) == 1 for found in self.model.successors.values())


Lifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=25)
TestLifecycle = Lifecycle.TestCase


class LifecycleWithGrace(Lifecycle):
    grace = timedelta(seconds=30)


LifecycleWithGrace.TestCase.settings = settings(max_examples=40, stateful_step_count=25)
TestLifecycleWithGrace = LifecycleWithGrace.TestCase
