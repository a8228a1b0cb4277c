"""Sweep engines compared: N replications of each built-in scenario, serial vs 2 local processes vs a 2-worker
Dask LocalCluster, as ratios measured in one run; and Dask's per-task overhead on near-empty tasks.

    python benchmarks/sweeps.py [--replications 1000] [--scenarios disney_mass_testing ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from command.sweeps import run_sweep
from scenarios import ScenarioError, load_scenario
from scenarios.defaults import default_plan
from scenarios.loading import builtin_scenario_names


def overhead_per_task(n: int = 400) -> float:
    """Seconds per task that Dask adds, from tasks that do (almost) nothing."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, host="127.0.0.1") as cluster, \
            Client(cluster) as client:  # fmt: skip
        client.gather(client.map(abs, range(50), pure=False))  # warm up
        start = time.perf_counter()
        client.gather(client.map(abs, range(n), pure=False))
        return (time.perf_counter() - start) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--scenarios", nargs="*", default=builtin_scenario_names())
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="yiwang-sweeps-"))
    print("| scenario | replications | serial s | 2 processes s | Dask 2 workers s | processes speed-up "
          "| Dask speed-up | identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in args.scenarios:
        try:
            default_plan(load_scenario(name))
        except ScenarioError as exc:
            print(f"| {name} | not runnable yet: {exc.problems[0].reason} | | | | | | |")
            continue
        walls, reports = {}, {}
        for engine in ("serial", "local", "dask"):
            start = time.perf_counter()
            reports[engine] = run_sweep(name, replications=args.replications, out=folder / f"{name}-{engine}",
                                        engine=engine, workers=2)  # fmt: skip
            walls[engine] = time.perf_counter() - start
            print(f"<!-- {name}: {engine} took {walls[engine]:.1f} s -->", flush=True)
        same = reports["serial"].rows == reports["local"].rows == reports["dask"].rows
        print(f"| {name} | {args.replications} | {walls['serial']:.1f} | {walls['local']:.1f} | {walls['dask']:.1f} "
              f"| {walls['serial'] / walls['local']:.2f}x | {walls['serial'] / walls['dask']:.2f}x | {same} |")
    print(f"\nDask per-task overhead (2-worker LocalCluster, trivial tasks): {1e3 * overhead_per_task():.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
