"""Re-planning mid-incident: a plan made from the state at that moment against one made from the scenario's start
(both told the injects that have happened, both spliced into the plan in effect), and the plan in effect kept.

A built-in drill runs under the scenario's default plan up to `--at`; then the optimiser plans (a) from the
simulated state or what is in force then, as `command.loop` does, and (b) from the start, as the loop did before
it had states; for mass testing also (c) from the state but the buses from their depots, as before the buses
had a state of their own, and (d) from the state with the buses on a finer grid (`--fine-grid`, default 60 s;
the optimiser's is `optimizer.mass_testing.REPLAN_BUCKET_S`), its search started from the 5-minute plan. Each
spliced plan is simulated on the whole drill (the world, later injects included) with the scenario's seed, and
the scenario kind's headline KPIs are printed with the optimiser's wall time.

    python benchmarks/replan.py --scenario bund_new_year_2014 --drill bund_2014_metro_surge --at 3600 \
        [--set clock.horizon_s=10800] [--time-limit 10] [--fine-grid 60]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import optimizer.mass_testing
from command.drills import read_injects, score_kpis
from command.kinds import kind_of, optimise, simulate
from command.loop import _what_has_happened
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.loading import scenario_from_document
from scenarios.splice import splice

#: Shown beside the drill score's KPIs: how the buses did.
EXTRA_KPIS = ("last_departed_min", "stranded_visitors")


@contextmanager
def _replan_grid(seconds: float | None) -> Iterator[None]:
    """Re-plans' buses on a grid of `seconds` (None: as the optimiser has it) while inside."""
    kept = optimizer.mass_testing.REPLAN_BUCKET_S
    optimizer.mass_testing.REPLAN_BUCKET_S = kept if seconds is None else seconds
    try:
        yield
    finally:
        optimizer.mass_testing.REPLAN_BUCKET_S = kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--drill", required=True)
    parser.add_argument("--at", type=float, required=True, help="re-planning time, seconds after the start")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--fine-grid", type=float, default=60.0, help="mass testing: the finer grid of row (d), s")
    args = parser.parse_args()
    doc = load_scenario(args.scenario, overrides=args.overrides).model_dump(mode="json")
    doc["injects"] = read_injects(args.drill)
    world = scenario_from_document(doc, file=args.drill)
    seed = world.seed
    in_effect = default_plan(world)
    known, state = _what_has_happened(world, in_effect, seed, args.at)
    known_world = world.model_copy(update={"injects": known})
    params = SolveParams(time_limit_s=args.time_limit, seed=seed)
    kpis = score_kpis(world) + tuple(k for k in EXTRA_KPIS if kind_of(world).spec.kpi(k) is not None)
    print(f"{world.name} with {args.drill}, re-planned at {world.clock.label(args.at)} under the default plan; "
          f"known then: {', '.join(i.kind for i in known) or 'nothing'}")  # fmt: skip
    print()
    print("| plan after " + world.clock.label(args.at) + " | optimiser wall s | " + " | ".join(kpis) + " |")
    print("|---|---:|" + "---:|" * len(kpis))
    rows = [("the default plan kept", None, in_effect)]
    variants = [("re-planned from the state", state, False, None)] if state is not None else []
    if getattr(state, "buses", None) is not None:
        if args.fine_grid != optimizer.mass_testing.REPLAN_BUCKET_S:
            label = f"re-planned from the state, buses on a {args.fine_grid:g} s grid"
            variants.append((label, state, False, args.fine_grid))
        # as before the buses had a state: planned from the depots
        variants.append(("re-planned from the state, buses from the start", replace(state, buses=None), True, None))
    variants.append(("re-planned from the start", None, False, None))
    for label, from_state, unmarked, grid in variants:
        began = time.perf_counter()
        with _replan_grid(grid):
            solve = optimise(known_world, params, state=from_state)
        wall = time.perf_counter() - began
        if solve.plan is None:
            print(f"| {label} | {wall:.1f} | no plan: {solve.diagnosis or solve.status} |")
            continue
        plan = splice(in_effect, solve.plan, args.at, scenario=world)
        if unmarked:  # nor did a spliced plan say from when its dispatch orders govern the buses
            plan = plan.model_copy(update={"meta": plan.meta.model_copy(update={"dispatch_from_s": None})})
        rows.append((label, wall, plan))
    for label, wall, plan in rows:
        result = simulate(world, plan, seed=seed)
        cells = " | ".join(f"{result.kpis[k]:,.1f}" for k in kpis)
        print(f"| {label} | {'-' if wall is None else f'{wall:.1f}'} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
