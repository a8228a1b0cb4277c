"""Default plan, open loop and closed loop on N seeds: is the optimised plan ever worse than the default?

For each scenario and seed (1..N): the default plan's run, the optimiser's plan made once at the start and
followed to the end (open loop), and the same plan re-planned every interval from the simulated state, each
re-plan told only what has happened by then (closed loop: `command.runs.closed_loop`, as `yiwang run
--replan-every`). Prints, per headline KPI of each scenario's kind, the mean of each and on how many seeds the
open and the closed loop are worse than the default plan (in the KPI's own direction). Results are kept per
(scenario, seed, interval, --set changes) in a JSON file, so that an interrupted run resumes. `--set field=value`
(repeatable) changes the scenarios as `yiwang run --set` does: `--set weights.trade_off=cars` runs the typhoon's
`cars` trade-off point.

    python benchmarks/closed_loop.py [--scenarios huangpu_typhoon,disney_mass_testing] [--seeds 20]
        [--every 1h] [--time-limit 10] [--workers 2] [--set field=value ...] [--out benchmarks/data/closed_loop.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BUILT_INS = ("disney_mass_testing", "huangpu_typhoon", "bund_new_year_2014", "bund_light_show")


def _every_s(text: str) -> float:
    from command.cli.runs import duration_s

    return duration_s(text, option="--every")


def one(job: tuple[str, int, float, float, tuple[str, ...]]) -> dict[str, Any]:
    """One scenario at one seed: the three runs' KPIs and the closed loop's re-plans."""
    from command.runs import closed_loop, run_loaded
    from optimizer.result import SolveParams
    from scenarios import load_scenario

    name, seed, every_s, limit_s, sets = job
    started = time.perf_counter()
    scenario = load_scenario(name, overrides=list(sets))
    params = SolveParams(time_limit_s=limit_s)
    outcome = run_loaded(scenario, seed=seed, params=params)
    assert outcome.solve is not None and outcome.planned is not None, f"{name} seed {seed}: no plan"
    loop = closed_loop(scenario, seed=seed, every_s=every_s, params=params, first=outcome.solve)
    return {
        "scenario": name, "seed": seed, "every_s": every_s, **({"set": list(sets)} if sets else {}),
        "default": dict(outcome.baseline.kpis), "open_loop": dict(outcome.planned.kpis),
        "closed_loop": dict(loop.result.kpis), "open_status": outcome.solve.status, "open_gap": outcome.solve.gap,
        "replans": [r.to_json() for r in loop.replans], "wall_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per scenario and headline KPI, the three means and the seeds on which each plan is worse."""
    from command.kinds import kind_of
    from scenarios import load_scenario

    out = ["| scenario | KPI | default | open loop | closed loop | open worse | closed worse | seeds |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name in dict.fromkeys(r["scenario"] for r in rows):
        mine = [r for r in rows if r["scenario"] == name]
        spec = kind_of(load_scenario(name)).spec
        sets = mine[0].get("set")
        label = f"{name} ({', '.join(sets)})" if sets else name
        for kpi in spec.headline:
            if not all(kpi.name in r["default"] for r in mine):
                continue
            means = [statistics.fmean(r[k][kpi.name] for r in mine) for k in ("default", "open_loop", "closed_loop")]
            worse = [sum(kpi.worse(r["default"][kpi.name], r[k][kpi.name], tolerance=1e-6) for r in mine)
                     for k in ("open_loop", "closed_loop")]  # fmt: skip
            out.append(f"| {label} | {kpi.name} ({kpi.unit}) | " + " | ".join(f"{m:,.2f}" for m in means)
                       + f" | {worse[0]} | {worse[1]} | {len(mine)} |")  # fmt: skip
    return "\n".join(out)


def run_kept(one: Any, jobs: list[Any], kept: list[dict[str, Any]], out: Path, workers: int,
             label: Any) -> None:  # fmt: skip
    """Run `one` over `jobs` in `workers` spawned processes, appending each row to `kept` and rewriting `out` after
    each, so that an interrupted run resumes where it stopped; `label(row)` names a row in the progress lines."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for i, row in enumerate(pool.imap_unordered(one, jobs), 1):
            kept.append(row)
            out.write_text(json.dumps(kept, indent=1))
            print(f"[{i}/{len(jobs)}] {label(row)}: {row['wall_s']} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=",".join(BUILT_INS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--every", default="1h", help="re-plan interval with its unit (30m, 1h)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="optimiser time limit per model, s")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a scenario change, as run --set")
    ap.add_argument("--out", type=Path, default=HERE / "data" / "closed_loop.json")
    args = ap.parse_args(argv)
    every_s = _every_s(args.every)
    kept: list[dict[str, Any]] = json.loads(args.out.read_text()) if args.out.exists() else []
    sets = tuple(args.set)
    done = {(r["scenario"], r["seed"], r["every_s"], tuple(r.get("set", ()))) for r in kept}
    jobs = [(name, seed, every_s, args.time_limit, sets) for name in args.scenarios.split(",")
            for seed in range(1, args.seeds + 1) if (name, seed, every_s, sets) not in done]  # fmt: skip
    print(f"{len(jobs)} runs to do, {len(kept)} kept in {args.out}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    run_kept(one, jobs, kept, args.out, args.workers, lambda row: f"{row['scenario']} seed {row['seed']}")
    wanted = set(args.scenarios.split(","))
    rows = sorted((r for r in kept if r["scenario"] in wanted and r["every_s"] == every_s and r["seed"] <= args.seeds
                   and tuple(r.get("set", ())) == sets), key=lambda r: (r["scenario"], r["seed"]))  # fmt: skip
    print(f"re-planned every {every_s / 60:g} min, optimiser limit {args.time_limit:g} s per model\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
