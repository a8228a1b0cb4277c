"""The Disney plan's buses against first come, first served in the simulation, at 220, 100 and 45 buses (issue 18).

For each fleet (split over the three depots as the 220 are), from the start and re-planned at 21:05 from the
default plan's state: the optimiser's own verdict (its candidates simulated on futures other than the scenario's
seed, with the same staffing: `optimizer.buses.judge`), which it chose, and the chosen plan against the same
staffing with first come, first served, simulated again here at the scenario's own seed. Results: benchmarks/README.md.

    python benchmarks/buses_fcfs.py [--time-limit 10] [--at 0 --at 10800] [--fleet 220 --fleet 100 --fleet 45]
"""

from __future__ import annotations

import argparse
import time

from command.kinds import optimise, simulate, state_at
from optimizer.mass_testing import BUS_KPIS
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.plan import DispatchBus, Plan
from scenarios.splice import splice


def disney_with(buses: int):  # type: ignore[no-untyped-def]
    split = [buses * c // 220 for c in (80, 70, 70)]
    split[0] += buses - sum(split)
    sets = [f"resources.buses.count={buses}"] + [f"resources.buses.depots[{i}].count={n}" for i, n in enumerate(split)]
    return load_scenario("disney_mass_testing", overrides=sets)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--at", type=float, action="append")
    ap.add_argument("--fleet", type=int, action="append")
    args = ap.parse_args()
    kpis = " | ".join(f"{k} plan / FCFS" for k in BUS_KPIS)
    print(f"| buses | planned at | chosen | {kpis} | status | wall s |")
    print("|---:|---|---|" + "---:|" * len(BUS_KPIS) + "---|---:|")
    for buses in args.fleet or [220, 100, 45]:
        for at in args.at or [0.0, 10800.0]:
            s = disney_with(buses)
            base = default_plan(s)
            state = state_at(s, base, seed=s.seed, at_s=at) if at > 0 else None
            started = time.perf_counter()
            result = optimise(s, SolveParams(time_limit_s=args.time_limit, seed=s.seed), state=state)
            wall = time.perf_counter() - started
            assert result.plan is not None
            plan = splice(base, result.plan, at, scenario=s) if at > 0 else result.plan
            served = Plan.build(plan.meta, [a for a in plan.actions if not isinstance(a, DispatchBus)])
            mine, fcfs = simulate(s, plan, seed=s.seed).kpis, simulate(s, served, seed=s.seed).kpis
            verdict = [line for line in result.rationale if "futures other than the run's own" in line]
            chosen = "dispatch plan" if result.plan.of_type(DispatchBus) else "first come, first served"
            cells = " | ".join(f"{mine[k]:.1f} / {fcfs[k]:.1f}" for k in BUS_KPIS)
            print(f"| {buses} | {s.clock.label(at)} | {chosen} | {cells} | {result.status} | {wall:.1f} |")
            print(f"<!-- {verdict[0] if verdict else 'no verdict'} -->")


if __name__ == "__main__":
    main()
