"""A small fourth scenario kind, `shelter`, registered from outside the product: proof that the kind contract is open.

People arrive at a shelter's intake desk (Poisson, piecewise-constant rate) and are registered one at a time by
clerks (exponential service): an M/M/c queue. The default plan posts every clerk from the start; the optimiser
posts the fewest clerks whose Erlang C mean wait meets the scenario's target (brute force over the count, which
is exact for a queue this small). Nothing outside this module knows the kind: it registers itself with
`command.kinds.register` when imported, and a process that should know it names this module in `YIWANG_KINDS`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import simpy
from pydantic import Field

from command.kinds import Kind, register
from optimizer.result import PlanResult, SolveParams
from scenarios.kinds import KindSpec, Kpi, SpliceRules, WhatIfField
from scenarios.plan import AssignStaff, Plan, PlanMeta
from scenarios.schema import ArrivalProfile, Count, Ident, Model, ScenarioBase, node_of, scenario_hash
from simulation.core import Breach, CountingEnvironment, Recorder, RunStats, SimResult, WallClock, poisson_times
from simulation.core import streams as seeded_streams
from simulation.theory import mmc_mean_wait

KIND = "shelter"
SAMPLE_EVERY_S = 60.0


class ClerkPool(Model):
    count: Count


class ShelterScenario(ScenarioBase):
    """People registered at a shelter's intake desk by clerks."""

    kind: Literal["shelter"]
    desk: node_of("test_site", "plaza")  # type: ignore[valid-type]
    arrivals: ArrivalProfile
    service_mean_s: float = Field(gt=0, le=3600)
    clerks: dict[Ident, ClerkPool] = Field(min_length=1)
    target_wait_s: float = Field(default=300.0, gt=0)


@dataclass(frozen=True)
class ShelterState:
    """People waiting at the desk at `at_s`, and the injects fired by then (`scenarios.state.ReplanState`)."""

    at_s: float
    waiting: int
    fired: frozenset[int] = frozenset()


def default_plan(scenario: ShelterScenario, graph: Any = None) -> Plan:
    """Every clerk at the desk from the start."""
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by="default")
    return Plan.build(meta, [AssignStaff(at_s=0.0, pool=name, to=scenario.desk, count=pool.count)
                             for name, pool in scenario.clerks.items() if pool.count > 0])  # fmt: skip


def _run(scenario: ShelterScenario, plan: Plan | None, seed: int | None,
         until_s: float | None) -> tuple[SimResult, int]:  # fmt: skip
    plan = plan if plan is not None else default_plan(scenario)
    seed = scenario.seed if seed is None else seed
    rng = seeded_streams(seed, ("arrivals", "service"))
    end = scenario.clock.horizon_s
    horizon = end if until_s is None else min(until_s, end)
    starts = [p.from_s for p in scenario.arrivals.periods]
    # The whole horizon's arrivals are drawn whatever the run's end: a run stopped early is the same run, cut.
    pieces = [(a, b, p.rate_per_h) for a, b, p in zip(starts, [*starts[1:], end], scenario.arrivals.periods,
                                                      strict=True)]  # fmt: skip
    arrivals = poisson_times(rng["arrivals"], iter(pieces))
    services = rng["service"].exponential(scenario.service_mean_s, arrivals.size)
    clerks = sum(a.count for a in plan.of_type(AssignStaff))
    env, rec = CountingEnvironment(), Recorder()
    desk = simpy.Resource(env, capacity=max(clerks, 1))
    waits: list[float] = []

    def person(i: int) -> Any:
        yield env.timeout(float(arrivals[i]))
        with desk.request() as turn:
            yield turn
            waits.append(env.now - float(arrivals[i]))
            yield env.timeout(float(services[i]))

    def sampler() -> Any:
        while True:
            rec.sample("queue", env.now, len(desk.queue))
            rec.sample(f"queue:{scenario.desk}", env.now, len(desk.queue))
            yield env.timeout(SAMPLE_EVERY_S)

    for index, inj in enumerate(scenario.injects):
        env.timeout(inj.at_s).callbacks.append(
            lambda _e, i=index, x=inj: rec.event(x.at_s, "inject", f"inject {x.kind}: {x.note}", index=i))
    if clerks > 0:
        for i in range(arrivals.size):
            env.process(person(i))
    env.process(sampler())
    with WallClock() as clock:
        env.run(until=horizon)
    served = np.asarray(waits)
    arrived = int(np.count_nonzero(arrivals < horizon))
    kpis = {"mean_wait_min": float(served.mean() / 60) if served.size else 0.0,
            "registered": float(served.size), "waiting_end": float(arrived - served.size)}  # fmt: skip
    stats = RunStats(events=env.events_processed, sim_s=float(env.now), wall_s=clock.elapsed)
    result = SimResult(scenario=scenario.name, kind=KIND, seed=seed, kpis=kpis, series=rec.series(),
                       events=tuple(sorted(rec.events, key=lambda e: e.t_s)), stats=stats)  # fmt: skip
    return result, len(desk.queue)


def simulate(scenario: ShelterScenario, plan: Plan | None = None, *, seed: int | None = None,
             until_s: float | None = None) -> SimResult:  # fmt: skip
    return _run(scenario, plan, seed, until_s)[0]


def state_at(scenario: ShelterScenario, plan: Plan, *, seed: int, at_s: float) -> ShelterState:
    result, waiting = _run(scenario, plan, seed, at_s)
    fired = frozenset(int(e.data["index"]) for e in result.events if e.kind == "inject" and e.t_s <= at_s)
    return ShelterState(at_s=at_s, waiting=waiting, fired=fired)


def optimise(scenario: ShelterScenario, *, params: SolveParams, state: ShelterState | None = None) -> PlanResult:
    """The fewest clerks whose Erlang C mean wait at the peak rate meets the target (all of them if none does)."""
    started = time.perf_counter()
    rate = max(p.rate_per_h for p in scenario.arrivals.periods) / 3600
    available = sum(p.count for p in scenario.clerks.values())
    need = next((c for c in range(1, available + 1)
                 if rate * scenario.service_mean_s < c
                 and mmc_mean_wait(c, rate, 1 / scenario.service_mean_s) <= scenario.target_wait_s), None)  # fmt: skip
    count = need if need is not None else available
    at_s = state.at_s if state is not None else 0.0
    actions, left = [], count
    for name, pool in scenario.clerks.items():
        n = min(left, pool.count)
        if n > 0:
            actions.append(AssignStaff(at_s=at_s, pool=name, to=scenario.desk, count=n))
        left -= n
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by="optimizer:shelter",
                    state_time_s=at_s, seed=params.seed)  # fmt: skip
    status = "OPTIMAL" if need is not None else "FEASIBLE"
    why = (f"{count} clerks meet the {scenario.target_wait_s / 60:g} min target" if need is not None
           else f"even all {available} clerks miss the target")  # fmt: skip
    return PlanResult(plan=Plan.build(meta, actions), status=status, objective=float(count),
                      bound=float(count) if need is not None else None, wall_s=time.perf_counter() - started,
                      seed=params.seed, rationale=(why,))  # fmt: skip


def breaches(scenario: ShelterScenario, result: SimResult) -> list[Breach]:
    if result.kpis.get("mean_wait_min", 0.0) * 60 > scenario.target_wait_s:
        return [Breach(scenario.clock.horizon_s, "wait", "the mean wait misses the target")]
    return []


def whatif(scenario: ShelterScenario) -> list[WhatIfField]:
    return [WhatIfField(key=f"clerks_{n}", path=f"clerks.{n}.count", en=f"clerks · {n}", zh=f"登记员 · {n}",
                        value=p.count, minimum=0) for n, p in scenario.clerks.items()]  # fmt: skip


SPEC = KindSpec(
    name=KIND, title_en="Shelter intake", title_zh="安置点登记", schema=ShelterScenario, default_plan=default_plan,
    state=ShelterState,
    splice=SpliceRules(controls=(AssignStaff,)),  # a clerk's post is held for a time: a re-plan carries it on
    kpis=(Kpi(name="mean_wait_min", unit="min", better="lower", headline=True, en="Mean wait", zh="平均等待"),
          Kpi(name="registered", unit="people", better="higher", en="Registered", zh="已登记"),
          Kpi(name="waiting_end", unit="people", better="lower", en="Waiting at the end", zh="结束时等待")),
    breach_checks={"misses_target": lambda s, k: k["mean_wait_min"] * 60 > s.target_wait_s},
    whatif=whatif, roster_teams=lambda s: list(s.clerks), map_layers=("queue",), chart_series=("queue",),
)  # fmt: skip

KIND_ENTRY = register(Kind(spec=SPEC, simulate=simulate, state_at=state_at, optimise=optimise, breaches=breaches,
                           demo={"jurisdiction": "pudong", "commander": "pudong_commander"}), replace=True)  # fmt: skip
