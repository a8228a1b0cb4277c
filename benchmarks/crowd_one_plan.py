"""One optimised crowd plan, many futures: the plan a commander signs, simulated at N seeds.

`closed_loop.py` makes each seed's plan at that seed (the flow LP's dwell sample follows it), so its open-loop
column mixes N plans. This makes one plan, at the optimiser's own seed (`SolveParams().seed`), and runs it at
seeds 1..N: where each run peaks, how dense, and whether anything crushes or is held off the graph.

    python benchmarks/crowd_one_plan.py bund_new_year_2014 [--seeds 20] [--time-limit 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from typing import Any

_PLAN: Any = None
_NAME = ""


def _start(name: str, plan_json: str) -> None:
    global _PLAN, _NAME
    from scenarios.plan import Plan

    _NAME, _PLAN = name, Plan.from_json(plan_json)


def one(seed: int) -> tuple[int, float, float, float, str]:
    """The plan at one seed: peak density, crushes, held off the graph, and the peak's place and time."""
    from scenarios import load_scenario
    from simulation.crowd.model import simulate

    result = simulate(load_scenario(_NAME), _PLAN, seed=seed)
    k = result.kpis
    where = [e.text for e in result.events if e.kind == "peak_density"]
    last = where[-1] if where else ""
    return seed, k["peak_density_ppm2"], k.get("crush_crossings", 0.0), k.get("held_off_graph", 0.0), last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from optimizer.crowd import optimise_crowd
    from optimizer.result import SolveParams
    from scenarios import load_scenario

    started = time.perf_counter()
    result = optimise_crowd(load_scenario(args.scenario), SolveParams(time_limit_s=args.time_limit))
    assert result.plan is not None, result.diagnosis
    holds = sum(a.type == "hold_area" for a in result.plan.actions)
    print(f"{args.scenario}: plan in {time.perf_counter() - started:.1f} s, {len(result.plan.actions)} actions "
          f"({holds} holds), digest {result.plan.digest()[:12]}")  # fmt: skip
    for line in result.rationale:
        if line.startswith(("held in place", "not possible")):
            print("  " + line)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.workers, initializer=_start, initargs=(args.scenario, result.plan.to_json())) as pool:
        rows = sorted(pool.map(one, range(1, args.seeds + 1)))
    print("\n| seed | peak /m² | crushes | held off the graph | where and when |\n|---:|---:|---:|---:|---|")
    for seed, peak, crushes, off, where in rows:
        print(f"| {seed} | {peak:.2f} | {crushes:g} | {off:g} | {where.removeprefix('peak density ')} |")
    peaks = [r[1] for r in rows]
    print(f"\npeak mean {statistics.mean(peaks):.2f}, worst {max(peaks):.2f}; seeds over 4 /m²: "
          f"{sum(p > 4 for p in peaks)} of {len(rows)}; crushes {sum(r[2] for r in rows):g}; "
          f"held off the graph at most {max(r[3] for r in rows):g}")  # fmt: skip


if __name__ == "__main__":
    main()
