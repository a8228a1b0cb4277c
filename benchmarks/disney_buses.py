"""Disney buses against first come, first served, open and closed loop, at 220, 100 and 45 buses (issue 18).

For each fleet (the 220 buses' depot split kept in proportion, by `-o` overrides of the scenario) and seed 1..N:
- `default`: the scenario's default plan (its staffing, buses first come, first served);
- `fcfs`: the optimiser's staffing with the buses first come, first served;
- `model`: the optimiser's staffing with the bus model's dispatch orders, whatever the simulation says of them;
- `open`: the plan the optimiser proposes (the orders kept only when the simulation shows them no worse than
  first come, first served on futures other than the run's own: `optimizer.buses.judge`);
- `closed`: that plan re-planned every interval from the simulated state (`command.runs.closed_loop`);
- `closed_fcfs`: the closed loop's plan with every dispatch order taken out (its staffing, buses first come,
  first served).
`fcfs` and `model` are the two plans the optimiser's judge simulates at the start (on other seeds), simulated here
at the run's own seed. Prints, per fleet
and bus KPI, the means and on how many seeds each plan is worse than first come, first served (`model` and
`open` against `fcfs`, `closed` against `closed_fcfs`) and the closed loop worse than the open loop (the plan
in effect at the start carried on to the end), and how often the orders were kept. Results are kept
per (fleet, seed, interval) in a JSON file, so that an interrupted run resumes.

    python benchmarks/disney_buses.py [--fleets 220,100,45] [--seeds 20] [--every 3h] [--time-limit 10]
        [--workers 2] [--out benchmarks/data/disney_buses.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from closed_loop import run_kept

HERE = Path(__file__).resolve().parent
KPIS = ("stranded_visitors", "last_departed_min", "swab_to_bus_min", "last_tested_min", "mean_wait_min")
WORSE_ON = ("stranded_visitors", "last_departed_min", "swab_to_bus_min")


def overrides(buses: int) -> list[str]:
    """`-o` overrides giving the Disney scenario `buses` buses, split over its depots as the 220 are (80/70/70)."""
    split = [buses * c // 220 for c in (80, 70, 70)]
    split[0] += buses - sum(split)
    return [f"resources.buses.count={buses}"] + [f"resources.buses.depots[{i}].count={n}" for i, n in enumerate(split)]


def one(job: tuple[int, int, float, float]) -> dict[str, Any]:
    """One fleet at one seed: the six runs' KPIs, whether the orders were kept, and the re-plans."""
    from command.runs import closed_loop
    from optimizer.mass_testing import optimise_mass_testing
    from optimizer.result import SolveParams
    from scenarios import load_scenario
    from scenarios.defaults import default_plan
    from scenarios.plan import DispatchBus, Plan
    from simulation.mass_testing import Future, simulate

    buses, seed, every_s, limit_s = job
    started = time.perf_counter()
    scenario = load_scenario("disney_mass_testing", overrides=overrides(buses))
    params = SolveParams(time_limit_s=limit_s, seed=seed)
    judged: dict[str, Plan] = {}  # the candidates the judge simulated at the start, by digest

    def judge(plan: Plan, *, future: int, from_s: float) -> dict[str, float]:
        judged.setdefault(plan.digest(), plan)
        return dict(simulate(scenario, plan, seed=seed, future=Future(future, from_s)).kpis)

    solve = optimise_mass_testing(scenario, params=params, judge=judge)
    assert solve.plan is not None, f"{buses} buses, seed {seed}: no plan"
    kept = bool(solve.plan.of_type(DispatchBus))
    # The model's orders and first come, first served at the run's own seed, which the judge never saw.
    candidates = list(judged.values())
    with_orders = next((p for p in candidates if p.of_type(DispatchBus)), solve.plan)
    without = next((p for p in candidates if not p.of_type(DispatchBus)), solve.plan)
    model, fcfs = (simulate(scenario, p, seed=seed).kpis for p in (with_orders, without))
    opened = simulate(scenario, solve.plan, seed=seed).kpis
    loop = closed_loop(scenario, seed=seed, every_s=every_s, params=params, first=solve)
    plan = loop.plan
    served = Plan.build(plan.meta.model_copy(update={"dispatch_from_s": None}),
                        [a for a in plan.actions if not isinstance(a, DispatchBus)])  # fmt: skip
    pick = lambda kpis: {k: float(kpis[k]) for k in KPIS}  # noqa: E731
    return {
        "buses": buses, "seed": seed, "every_s": every_s, "limit_s": limit_s,
        "default": pick(simulate(scenario, default_plan(scenario), seed=seed).kpis),
        "fcfs": pick(fcfs), "model": pick(model), "open": pick(opened), "kept": kept,
        "closed": pick(loop.result.kpis), "closed_fcfs": pick(simulate(scenario, served, seed=seed).kpis),
        "closed_orders": len(plan.of_type(DispatchBus)),
        "replans": [r.to_json() for r in loop.replans], "wall_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per fleet and KPI, the means of each plan and the seeds on which each is worse than FCFS."""
    out = ["| buses | KPI | default | FCFS | model | open | closed FCFS | closed | model worse | open worse "
           "| closed worse | closed worse than open | seeds |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for buses in dict.fromkeys(r["buses"] for r in rows):
        mine = [r for r in rows if r["buses"] == buses]
        for kpi in KPIS:
            means = [statistics.fmean(r[k][kpi] for r in mine)
                     for k in ("default", "fcfs", "model", "open", "closed_fcfs", "closed")]  # fmt: skip
            worse = [sum(r[k][kpi] > r[ref][kpi] + 1e-6 for r in mine)
                     for k, ref in (("model", "fcfs"), ("open", "fcfs"), ("closed", "closed_fcfs"),
                                    ("closed", "open"))]  # fmt: skip
            cells = " | ".join(f"{m:,.2f}" for m in means)
            counts = " | ".join(str(w) if kpi in WORSE_ON else "–" for w in worse)
            out.append(f"| {buses} | {kpi} | {cells} | {counts} | {len(mine)} |")
    kept = "; ".join(f"{b} buses: orders kept on {sum(r['kept'] for r in rows if r['buses'] == b)} of "
                     f"{sum(r['buses'] == b for r in rows)} seeds at the start"
                     for b in dict.fromkeys(r["buses"] for r in rows))  # fmt: skip
    return "\n".join(out) + "\n\n" + kept


def main(argv: list[str] | None = None) -> int:
    from command.cli.runs import duration_s

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleets", default="220,100,45")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--every", default="3h", help="re-plan interval with its unit (30m, 1h)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="optimiser time limit per model, s")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "data" / "disney_buses.json")
    args = ap.parse_args(argv)
    every_s = duration_s(args.every, option="--every")
    fleets = [int(f) for f in args.fleets.split(",")]
    kept: list[dict[str, Any]] = json.loads(args.out.read_text()) if args.out.exists() else []
    key = lambda r: (r["buses"], r["seed"], r["every_s"], r["limit_s"])  # noqa: E731
    done = {key(r) for r in kept}
    jobs = [(b, seed, every_s, args.time_limit) for seed in range(1, args.seeds + 1) for b in fleets
            if (b, seed, every_s, args.time_limit) not in done]  # fmt: skip
    print(f"{len(jobs)} runs to do, {len(kept)} kept in {args.out}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    run_kept(one, jobs, kept, args.out, args.workers, lambda row: f"{row['buses']} buses seed {row['seed']}")
    rows = sorted((r for r in kept if r["buses"] in fleets and r["every_s"] == every_s
                   and r["limit_s"] == args.time_limit and r["seed"] <= args.seeds),
                  key=lambda r: (-r["buses"], r["seed"]))  # fmt: skip
    print(f"re-planned every {every_s / 60:g} min, optimiser limit {args.time_limit:g} s per model\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
