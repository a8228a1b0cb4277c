"""Routing benchmark: each backend on standard CVRP and Solomon VRPTW instances, against best-known costs.

Run from the repository root (takes about 10 minutes with the defaults; one solver at a time):

    /work/venv/bin/python benchmarks/routing.py                       # 10 s and 30 s, seed 0
    /work/venv/bin/python benchmarks/routing.py --time-limits 5 --backends pyvrp --instances RC208

Prints a Markdown table: cost, gap to best known, feasibility, routes, customers served and wall time per
backend, instance and time limit, then the mean gap per backend and time limit. Best-known values and their
sources are in benchmarks/data/vrp/SOURCE.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from optimizer.routing import BACKENDS, read_instance, solve

DATA = Path(__file__).resolve().parent / "data" / "vrp"

# Best-known total distances in each instance's own convention (nint for CVRP, one-decimal truncation for
# Solomon, distance-only objective); see data/vrp/SOURCE.md.
BEST_KNOWN: dict[str, float] = {
    "E-n22-k4": 375,
    "A-n32-k5": 784,
    "C101": 827.3,
    "R101": 1637.7,
    "RC101": 1619.8,
    "R201": 1143.2,
    "RC208": 776.1,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limits", type=float, nargs="+", default=[10.0, 30.0], metavar="S")
    parser.add_argument("--backends", nargs="+", default=sorted(BACKENDS), choices=sorted(BACKENDS))
    parser.add_argument("--instances", nargs="+", default=list(BEST_KNOWN), metavar="NAME")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)

    columns = ["instance", "backend", "limit s", "seed", "cost", "best known", "gap %", "feasible", "routes",
               "served", "wall s"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    gaps: dict[tuple[str, float], list[float]] = defaultdict(list)
    for name in args.instances:
        problem = read_instance(DATA / f"{name}.vrp")
        best = BEST_KNOWN[name]
        for limit in args.time_limits:
            for backend in args.backends:
                for seed in args.seeds:
                    result = solve(problem, time_limit_s=limit, backend=backend, seed=seed)
                    gap = 100 * (result.cost - best) / best if result.complete else float("nan")
                    gaps[(backend, limit)].append(gap)
                    served = f"{result.num_customers - len(result.dropped)}/{result.num_customers}"
                    feasible = "yes" if result.feasible else "NO"
                    row = [name, backend, f"{limit:g}", seed, result.cost_text(), f"{best:g}", f"{gap:.2f}",
                           feasible, result.num_routes, served, f"{result.wall_s:.1f}"]  # fmt: skip
                    print("| " + " | ".join(map(str, row)) + " |", flush=True)
    print()
    print("| backend | limit s | runs | mean gap % | worst gap % |")
    print("|---|---:|---:|---:|---:|")
    for (backend, limit), values in sorted(gaps.items()):
        print(
            f"| {backend} | {limit:g} | {len(values)} | {statistics.fmean(values):.2f} | {max(values):.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
