"""The crowd flow LP's period against its time and the plan it makes: for a crowd scenario and each period asked
for, optimise at the scenario's seed (as `yiwang run` does) with that period, then simulate the plan at N seeds
and give the optimiser's CPU seconds (the LP's part of it, and its size), and per plan the mean and worst peak
density, person-minutes above 4 /m², crushes, visitors served and people told not to come. A coarser period makes
a smaller LP; the simulation says whether the plan it makes still holds.

    python benchmarks/crowd_period.py bund_light_show --periods 120 240 360 --seeds 4
    python benchmarks/crowd_period.py bund_light_show --seeds 20          # the optimiser's own period
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np

from optimizer.crowd import optimise_crowd
from optimizer.crowd.flow import lp_period_s
from optimizer.crowd.options import DEFAULT_OPTIONS
from optimizer.result import SolveParams
from scenarios.loading import load_scenario, scenario_graph
from scenarios.plan import Plan
from simulation.crowd import simulate

KPIS = ("peak_density_ppm2", "minutes_over_4ppm2", "crushes", "visitors_served", "turned_away_by_control",
        "entry_queue_end")  # fmt: skip


def _run(args: tuple[str, str, int]) -> dict[str, float]:
    name, plan_json, seed = args
    result = simulate(load_scenario(name), Plan.from_json(plan_json), seed=seed)
    return {k: float(result.kpis.get(k, float("nan"))) for k in KPIS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--periods", type=float, nargs="+", default=[None],
                        help="LP periods, seconds (default: the optimiser's own, `lp_period_s`)")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=3.0)
    args = parser.parse_args()
    scenario = load_scenario(args.name)
    rows = []
    for period in args.periods:
        options = replace(DEFAULT_OPTIONS, period_s=period)
        period = lp_period_s(scenario, scenario_graph(scenario), options=options)
        cpu = time.process_time()
        wall = time.perf_counter()
        result = optimise_crowd(scenario, SolveParams(time_limit_s=args.time_limit, seed=scenario.seed),
                                options=options)  # fmt: skip
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        assert result.plan is not None, result.diagnosis
        d = result.details
        seeds = [scenario.seed + k for k in range(args.seeds)]
        with ProcessPoolExecutor(args.workers) as pool:
            runs = list(pool.map(_run, [(args.name, result.plan.to_json(), s) for s in seeds]))
        kp = {k: np.array([r[k] for r in runs]) for k in KPIS}
        rows.append((period, d.get("periods", 0), d.get("lp_cpu_s", 0), cpu, wall, result.status, kp))
        print(f"period {period:g} s done: optimiser {cpu:.1f} CPU s", flush=True)
    print(f"\n{args.name}, {args.seeds} seeds from {scenario.seed}, staff limit {args.time_limit:g} s\n")
    print("| period | LP periods | LP CPU s | optimiser CPU s (wall) | status | peak /m² mean (worst) "
          "| min > 4 /m² mean (worst) | crushes | served mean | told not to come mean | queue at end mean |")
    print("|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|")
    for period, n, lp, cpu, wall, status, kp in rows:
        print(f"| {period:g} s | {n:.0f} | {lp:.1f} | {cpu:.1f} ({wall:.1f}) | {status} "
              f"| {kp['peak_density_ppm2'].mean():.2f} ({kp['peak_density_ppm2'].max():.2f}) "
              f"| {kp['minutes_over_4ppm2'].mean():.1f} ({kp['minutes_over_4ppm2'].max():.1f}) "
              f"| {kp['crushes'].sum():.0f} | {kp['visitors_served'].mean():,.0f} "
              f"| {kp['turned_away_by_control'].mean():,.0f} | {kp['entry_queue_end'].mean():,.0f} |")


if __name__ == "__main__":
    main()
