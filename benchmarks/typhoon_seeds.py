"""The typhoon plans over many seeds: the built-in `huangpu_typhoon` day under its default plan (the record's
escorts) and under the optimiser's plan made once from the start (open loop) at each trade-off point, simulated at
seeds 0 .. N-1 (common random numbers: the same riders and vehicles under every plan). Prints, per plan, the mean
of each headline KPI over the seeds and on how many seeds it is worse than the default plan's.

    python benchmarks/typhoon_seeds.py [--seeds 20] [--time-limit 10]
"""

from __future__ import annotations

import argparse

import numpy as np

from command.kinds import optimise, simulate
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan

HEADLINE = ("rider_mean_wait_min", "riders_stranded", "vehicle_delay_h")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    scenario = load_scenario("huangpu_typhoon")
    plans = {"default plan": default_plan(scenario)}
    for pick in ("riders", "balanced", "cars"):
        picked = scenario.model_copy(update={"weights": scenario.weights.model_copy(update={"trade_off": pick})})
        result = optimise(picked, SolveParams(time_limit_s=args.time_limit, seed=scenario.seed))
        assert result.plan is not None
        plans[f"optimised, open loop, point '{pick}'"] = result.plan
    seeds = range(args.seeds)
    kpis = {name: [simulate(scenario, plan, seed=s).kpis for s in seeds] for name, plan in plans.items()}
    base = kpis["default plan"]
    print("| plan | " + " | ".join(HEADLINE) + " |")
    print("|---|" + "---:|" * len(HEADLINE))
    for name, runs in kpis.items():
        cells = []
        for k in HEADLINE:
            values = np.array([r[k] for r in runs])
            worse = sum(r[k] > b[k] + 1e-9 for r, b in zip(runs, base, strict=True))
            tail = "" if name == "default plan" else f" (worse on {worse}/{len(runs)})"
            cells.append(f"{values.mean():,.2f}{tail}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
