"""Crowd plans over many seeds: the optimised plan against the scenario's default plan (issue 4's acceptance).

For each crowd scenario: optimise once (at the scenario's seed, as `yiwang run` does), then simulate the
default plan and the optimised plan at seeds seed, seed+1, ..., seed+N-1 (each seed drives the random
arrivals and dwell times) at the scenario's own step. The table gives, per plan, the mean and worst of the
KPIs the issue names, and on how many seeds the optimised plan is better on both person-minutes above the
critical density and peak density. This is a plain script, not a test: it takes minutes.

    python benchmarks/crowd_plans.py                       # both crowd scenarios, 20 seeds
    python benchmarks/crowd_plans.py --seeds 5 --dt 2      # a quicker look
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from optimizer.crowd import optimise_crowd
from optimizer.result import SolveParams
from scenarios.loading import load_scenario
from scenarios.plan import Plan
from simulation.crowd import simulate

NAMES = ("bund_new_year_2014", "bund_light_show")
KPIS = ("peak_density_ppm2", "minutes_over_5ppm2", "minutes_over_4ppm2", "visitors_served", "max_metering_queue",
        "entry_queue_end", "held_peak", "held_p95_wait_min", "held_off_graph", "turned_away_by_control", "crushes",
        "chen_yi_crush_2335", "on_site_peak", "peak_on_site", "visitors")  # fmt: skip
FALL_S = 12_900.0  # 23:35 on 31 Dec 2014, seconds after the 2014 scenario's 20:00 start (facts.md 3.2)
WINDOW_S = 900.0  # the issue's ±15 minutes


def _run(args: tuple[str, str | None, int, float | None]) -> dict[str, Any]:
    """One run's KPIs, whether it has a crush on the Chen Yi Square stair within 15 minutes of 23:35 (the
    2014 scenario's record: 1 or 0), and where and when its peak density was (`peak_at`)."""
    name, plan_json, seed, dt = args
    scenario = load_scenario(name)
    plan = Plan.from_json(plan_json) if plan_json is not None else None
    result = simulate(scenario, plan, seed=seed, dt=dt)
    hit = any(e.kind == "crush" and "chen_yi_stair" in str(e.data.get("place")) and abs(e.t_s - FALL_S) <= WINDOW_S
              for e in result.events)  # fmt: skip
    on_site = max(result.series["on_site"][1], default=0.0)  # the most on the graph at once, not waiting to come in
    peak = next((e for e in result.events if e.kind == "peak_density"), None)
    peak_at = f"{peak.data.get('place')} at {scenario.clock.label(peak.t_s)}" if peak is not None else ""
    return {**result.kpis, "chen_yi_crush_2335": float(hit and name == "bund_new_year_2014"), "on_site_peak": on_site,
            "peak_at": peak_at}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--dt", type=float, default=None, help="step (default: the scenario's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("names", nargs="*", default=list(NAMES))
    args = parser.parse_args()
    rows = []
    for name in args.names:
        scenario = load_scenario(name)
        started = time.perf_counter()
        result = optimise_crowd(scenario, params=SolveParams(seed=scenario.seed))
        solve_s = time.perf_counter() - started
        assert result.plan is not None, result.summary()
        plan_json = result.plan.to_json()
        seeds = [scenario.seed + k for k in range(args.seeds)]
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            default = list(pool.map(_run, [(name, None, s, args.dt) for s in seeds]))
            planned = list(pool.map(_run, [(name, plan_json, s, args.dt) for s in seeds]))
        sim_s = time.perf_counter() - started
        better = sum(1 for d, p in zip(default, planned, strict=True)
                     if p["minutes_over_5ppm2"] < d["minutes_over_5ppm2"]
                     and p["peak_density_ppm2"] < d["peak_density_ppm2"])  # fmt: skip
        rows.append((name, solve_s, sim_s, default, planned, better))
        print(f"{name}: optimised in {solve_s:.1f} s ({result.status}, gap {result.gap or 0:.2%}); "
              f"{2 * len(seeds)} runs in {sim_s:.0f} s", flush=True)  # fmt: skip
    print()
    print("| scenario | plan | " + " | ".join(KPIS) + " | better on both |")
    print("|---|---|" + "---:|" * len(KPIS) + "---:|")
    for name, _solve, _sim, default, planned, better in rows:
        for label, runs in (("default", default), ("optimised", planned)):
            cells = []
            for k in KPIS:
                values = np.array([r[k] for r in runs])
                worst = values.min() if k == "visitors_served" else values.max()
                cells.append(f"{values.mean():,.1f} ({worst:,.1f})")
            tail = f"{better} of {len(runs)}" if label == "optimised" else ""
            print(f"| {name} | {label} | " + " | ".join(cells) + f" | {tail} |")
    print()
    for name, _solve, _sim, default, planned, _better in rows:
        for label, runs in (("default", default), ("optimised", planned)):
            worst = max(range(len(runs)), key=lambda i: runs[i]["peak_density_ppm2"])
            print(f"{name} {label}: highest peak {runs[worst]['peak_density_ppm2']:.2f} /m² at "
                  f"{runs[worst]['peak_at']} (seed {load_scenario(name).seed + worst})")  # fmt: skip


if __name__ == "__main__":
    main()
