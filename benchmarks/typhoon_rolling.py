"""The typhoon day with rolling re-planning: every STEP hours, the state is read off the simulation of the plan
so far, the next LOOKAHEAD hours are optimised from it (1 s per window, 2 workers), and the first STEP hours of
that plan are kept. Reports each window's solver status, proven gap, wall time and CPU time (this process's, all
threads: less disturbed by a busy machine than the wall clock), the day's KPIs and weighted
objective against the default plan, and the simulations' cost against a plain SimPy run with the same number
of events. With --lp-bound-s, each window first solves the model's LP relaxation (up to that many seconds more)
for a stronger proven bound.

With --trade-off, each window's plan carries out that trade-off point (`weights.trade_off`: riders, balanced, cars).

The riders' routing is decided first (`TyphoonOptions.routings` candidates, 3 by default; `--routings 0`: the full
model, as before issue 18's "routing first"); the gap is then over the candidate routings. With --full-check S,
each window's full model (every routing) is also solved with S seconds (deterministic time, one worker, gap 0), and
the table gives its objective and bound and how far the plan's objective is above the full model's bound.

    python benchmarks/typhoon_rolling.py [--step-h 3] [--lookahead-h 6] [--time-limit 1] [--lp-bound-s 0] [--seed S]
                                         [--trade-off balanced] [--routings 3] [--full-check 0]
"""

from __future__ import annotations

import argparse
import time

import simpy

from command.kinds import simulate
from optimizer.result import SolveParams
from optimizer.typhoon import TyphoonOptions, optimise_typhoon, solve_typhoon, typhoon_problem
from scenarios import Plan, PlanMeta, load_scenario
from scenarios.defaults import default_plan
from scenarios.plan import ClearLane, DirectRiders
from scenarios.typhoon import TyphoonState


def weighted(scenario, kpis: dict[str, float]) -> float:  # type: ignore[no-untyped-def]
    w = scenario.weights
    rider_h = kpis["rider_mean_wait_min"] * kpis["riders"] / 60
    return w.rider_wait_per_h * rider_h + w.rider_stranded * kpis["riders_stranded"] + \
        w.vehicle_delay_per_h * kpis["vehicle_delay_h"]  # fmt: skip


def kept_clearings(kept: list, scenario) -> list:  # type: ignore[no-untyped-def]
    """The kept actions with each way's lane clearings as the plan in effect has them: a clearing cut at a window's
    end still lasts its minimum (as the loop's splice keeps it), and clearings of one way that touch or overlap
    are one (so that a clearing carried on by the next window is one clearing, and never two lanes)."""
    least = scenario.lanes.min_clear_s
    spans: dict[tuple[str, str], list[list[float]]] = {}
    for a in sorted((a for a in kept if isinstance(a, ClearLane)), key=lambda a: a.at_s):
        lo, hi = a.at_s, min(scenario.clock.horizon_s, max(a.until_s, a.at_s + least))
        way = spans.setdefault((a.tunnel, a.direction), [])
        if way and lo <= way[-1][1]:
            way[-1][1] = max(way[-1][1], hi)
        else:
            way.append([lo, hi])
    lanes = [ClearLane(at_s=lo, tunnel=t, direction=d, lanes=1, until_s=hi)
             for (t, d), way in spans.items() for lo, hi in way]  # fmt: skip
    return [a for a in kept if not isinstance(a, ClearLane)] + lanes


def bare_simpy(events: int) -> float:
    """Wall seconds for a plain SimPy run processing `events` timeouts."""
    env = simpy.Environment()

    def ticker(n: int):  # type: ignore[no-untyped-def]
        for _ in range(n):
            yield env.timeout(1)

    env.process(ticker(events))
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def full_check(scenario, state, hours: float, limit_s: float, seed: int, objective: float | None) -> str:  # type: ignore[no-untyped-def]
    """The window's full model (every routing) solved with a long limit: its status, objective, bound, how far
    `objective` (the plan's) is above that bound, and the wall time, as table cells."""
    problem = typhoon_problem(scenario, state=state, hours=hours)
    if problem.n_periods == 0 or not problem.ways:
        return " - | - | - | - | - |"
    full = solve_typhoon(problem, params=SolveParams(time_limit_s=limit_s, workers=1, relative_gap=0.0, seed=seed))
    above = "n/a" if objective is None or not full.bound else f"{100 * (objective - full.bound) / objective:.2f}%"
    return (f" {full.status} | {full.objective or 0:,.1f} | {full.bound or 0:,.1f} | {above} "
            f"| {full.wall_s:.1f} |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-h", type=float, default=3.0)
    parser.add_argument("--lookahead-h", type=float, default=6.0)
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--lp-bound-s", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--trade-off", default="balanced", choices=["riders", "balanced", "cars"])
    parser.add_argument("--routings", type=int, default=TyphoonOptions().routings)
    parser.add_argument("--full-check", type=float, default=0.0, help="seconds for the full model per window")
    args = parser.parse_args()
    scenario = load_scenario("huangpu_typhoon", overrides=[f"weights.trade_off={args.trade_off}"])
    seed = scenario.seed if args.seed is None else args.seed
    horizon, step = scenario.clock.horizon_s, args.step_h * 3600
    meta = PlanMeta(scenario=scenario.name, produced_by="optimizer:typhoon:rolling", seed=seed)
    kept: list = []
    continuing: set[tuple[str, str]] = set()
    events = 0
    sim_wall = 0.0
    opt_wall = 0.0
    check = args.full_check > 0
    print("| window | from | periods | status | objective | bound | gap | LP bound | wall s | CPU s |"
          + (" full model: status | objective | bound | plan above bound | wall s |" if check else ""))
    print("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|" + ("---|---:|---:|---:|---:|" if check else ""))
    t, k = 0.0, 0
    start_all = time.perf_counter()
    while t < horizon - 1e-9:
        so_far = simulate(scenario, Plan.build(meta, kept_clearings(kept, scenario)), seed=seed)
        events += so_far.stats.events
        sim_wall += so_far.stats.wall_s
        state = TyphoonState.read(so_far.series, t, continuing)
        params = SolveParams(time_limit_s=args.time_limit, workers=2, seed=seed)
        cpu = time.process_time()
        result = optimise_typhoon(scenario, params, state=state, hours=args.lookahead_h,
                                  options=TyphoonOptions(extra_team=False, pareto_factors=(), routings=args.routings,
                                                         lp_bound_s=args.lp_bound_s))  # fmt: skip
        opt_wall += result.wall_s
        cpu = time.process_time() - cpu
        gap = "n/a" if result.gap is None else f"{100 * result.gap:.1f}%"
        objective = "n/a" if result.objective is None else f"{result.objective:,.1f}"
        bound = "n/a" if result.bound is None else f"{result.bound:,.1f}"
        lp = f"{result.details['lp_bound']:,.1f}" if "lp_bound" in result.details else "-"
        periods = int(result.details.get("periods", 0))
        line = (f"| {k} | {scenario.clock.label(t)} | {periods} | {result.status} | {objective} | {bound} | {gap} "
                f"| {lp} | {result.wall_s:.2f} | {cpu:.2f} |")  # fmt: skip
        if check:
            line += full_check(scenario, state, args.lookahead_h, args.full_check, seed, result.objective)
        print(line, flush=True)
        end = t + step
        continuing = set()
        if result.plan is not None:
            for a in result.plan.actions:
                if not t <= a.at_s < end:
                    continue
                if isinstance(a, ClearLane | DirectRiders) and a.until_s is not None and a.until_s > end:
                    if isinstance(a, ClearLane):
                        continuing.add((a.tunnel, a.direction))
                    a = a.model_copy(update={"until_s": end})
                kept.append(a)
        t, k = end, k + 1
    final = simulate(scenario, Plan.build(meta, kept_clearings(kept, scenario)), seed=seed)
    base = simulate(scenario, default_plan(scenario), seed=seed)
    events += final.stats.events
    sim_wall += final.stats.wall_s
    total = time.perf_counter() - start_all
    print()
    print(f"day of {horizon / 3600:g} h, re-planned every {args.step_h:g} h looking {args.lookahead_h:g} h "
          f"ahead, seed {seed}: total wall {total:.1f} s (optimisation {opt_wall:.1f} s, "
          f"simulation {sim_wall:.1f} s)")  # fmt: skip
    bare = bare_simpy(events)
    print(f"simulation: {events:,} events in {sim_wall:.2f} s; plain SimPy, same events: {bare:.2f} s; "
          f"ratio {sim_wall / bare:.2f}x")  # fmt: skip
    print(f"weighted objective: rolling plan {weighted(scenario, final.kpis):,.1f}, "
          f"default plan {weighted(scenario, base.kpis):,.1f}")  # fmt: skip
    for name in ("rider_mean_wait_min", "riders_stranded", "vehicle_delay_h"):
        print(f"  {name}: rolling {final.kpis[name]:,.2f}, default {base.kpis[name]:,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
