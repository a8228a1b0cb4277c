"""Sweep engines compared: N replications of each built-in scenario, serial vs 2 local processes vs a 2-worker
Dask LocalCluster, as ratios measured in one run; and Dask's per-task overhead on near-empty tasks.

    python benchmarks/sweeps.py [--replications 1000] [--scenarios disney_mass_testing ...] [--out DIR]
        [--engines local dask serial]

With `--out DIR` a run cut off (a session ending) keeps each engine it finished: an engine's wall time is
written beside its replications once it completes, and a rerun with the same DIR skips finished engines and
starts an unfinished one afresh (a resumed engine's wall time would mean nothing). The table says when its
engines ran in more than one go.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from command.sweeps import run_sweep
from scenarios import ScenarioError, load_scenario
from scenarios.defaults import default_plan
from scenarios.loading import builtin_scenario_names

ENGINES = ("serial", "local", "dask")


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
    parser.add_argument("--out", type=Path, help="keep the sweeps here, and skip engines finished in it")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                        help="the order to run the engines in (all three run: the table needs them)")  # fmt: skip
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="yiwang-sweeps-"))
    folder.mkdir(parents=True, exist_ok=True)
    print("| scenario | replications | serial s | 2 processes s | Dask 2 workers s | processes speed-up "
          "| Dask speed-up | identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in args.scenarios:
        try:
            default_plan(load_scenario(name))
        except ScenarioError as exc:
            print(f"| {name} | not runnable yet: {exc.problems[0].reason} | | | | | | |")
            continue
        walls, rows, earlier = {}, {}, []
        for engine in dict.fromkeys([*args.engines, *ENGINES]):
            out = folder / f"{name}-{engine}"
            timing = folder / f"{name}-{engine}.json"
            if timing.exists() and json.loads(timing.read_text())["replications"] == args.replications:
                done = json.loads(timing.read_text())
                earlier.append(engine)
            else:
                shutil.rmtree(out, ignore_errors=True)  # unfinished: a fresh start, so that the time is whole
                start, began = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M", time.gmtime())
                run_sweep(name, replications=args.replications, out=out, engine=engine, workers=2)
                done = {"replications": args.replications, "seconds": time.perf_counter() - start,
                        "began_utc": began, "ended_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}  # fmt: skip
                timing.write_text(json.dumps(done))
            walls[engine] = done["seconds"]
            rows[engine] = [json.loads(line) for line in (out / "replications.jsonl").read_text().splitlines()]
            rows[engine].sort(key=lambda r: (r["variant"], r["replication"]))
            print(f"<!-- {name}: {engine} took {walls[engine]:.1f} s, {done['began_utc']}–{done['ended_utc']} UTC -->",
                  flush=True)  # fmt: skip
        same = rows["serial"] == rows["local"] == rows["dask"]
        print(f"| {name} | {args.replications} | {walls['serial']:.1f} | {walls['local']:.1f} | {walls['dask']:.1f} "
              f"| {walls['serial'] / walls['local']:.2f}x | {walls['serial'] / walls['dask']:.2f}x | {same} |")
        if earlier:
            print(f"<!-- {name}: {', '.join(earlier)} timed in an earlier run (see the times above) -->")
    print(f"\nDask per-task overhead (2-worker LocalCluster, trivial tasks): {1e3 * overhead_per_task():.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
