"""Crowd simulation speed against a baseline commit, measured in the same run: both crowd built-ins, full scale.

The baseline (`--baseline`, a git commit) and the candidate (`--candidate`, HEAD by default) are exported with
`git archive` into fresh folders, so that each starts with no Numba cache. Then, for each of `bund_light_show` and
`bund_new_year_2014` at the scenario's seed and step (dt = 1 s), under the default plan and under the optimised
plan recorded in `benchmarks/data/kpi_snapshot.json`, one full run is timed in a fresh process of each tree, the
two trees taking turns for `--rounds` rounds (a warm-up run of one simulated minute first in each process, so that
neither compiling nor loading the compiled code is timed). The table gives the median CPU and wall seconds of a
run, the real-time factor (simulated seconds over CPU seconds, one core), the candidate's speed-up over the
baseline (CPU seconds, the same run) and whether the two trees gave the same results (a digest of the KPIs, the
series and the event log, to the last bit).

Before the runs, the first run in each fresh folder is timed apart: one simulated minute in the first process
(Numba compiles and writes its cache into the folder's `__pycache__`) and in a second one (loads it).

    python benchmarks/crowd_speed.py --baseline 4d9b892 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIOS = ("bund_light_show", "bund_new_year_2014")

# One timed run in a fresh process of a tree (argv: scenario, "default" or the plan's JSON file).
RUN = """
import hashlib, json, sys, time
from scenarios import Plan, load_scenario
from simulation.crowd import CrowdModel
name, plan_file = sys.argv[1], sys.argv[2]
s = load_scenario(name)
plan = None if plan_file == "default" else Plan.from_json(open(plan_file, encoding="utf-8").read())
CrowdModel(load_scenario(name, overrides=["clock.horizon_s=60"]), plan).run()  # compiled code loaded
model = CrowdModel(s, plan, seed=s.seed)
wall, cpu = time.perf_counter(), time.process_time()
r = model.run()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
body = json.dumps([r.kpis, r.series, [(e.t_s, e.kind, e.text, sorted(e.data.items())) for e in r.events]],
                  sort_keys=True, default=str)
print(json.dumps({"wall": wall, "cpu": cpu, "sim": r.stats.sim_s, "digest": hashlib.sha256(body.encode()).hexdigest()}))
"""

FIRST = """
import time
t0, c0 = time.perf_counter(), time.process_time()
from scenarios import load_scenario
from simulation.crowd import simulate
simulate(load_scenario("bund_light_show", overrides=["clock.horizon_s=60"]))
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def export(ref: str, into: Path) -> Path:
    """The tree of commit `ref`, as a fresh clone has it (no compiled cache)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def python(tree: Path, code: str, *args: str) -> str:
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=env, check=True, capture_output=True,
                         text=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare with (e.g. the one before a change)")
    parser.add_argument("--candidate", default="HEAD")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crowd_speed_") as tmp:
        trees = {"baseline": export(args.baseline, Path(tmp) / "baseline"),
                 "candidate": export(args.candidate, Path(tmp) / "candidate")}  # fmt: skip
        print("| tree | first run in a fresh folder (compiling), wall / CPU s | second run (cache), wall / CPU s |")
        print("|---|---:|---:|")
        for label, tree in trees.items():
            first = [float(x) for x in python(tree, FIRST).split()]
            again = [float(x) for x in python(tree, FIRST).split()]
            print(f"| {label} | {first[0]:.1f} / {first[1]:.1f} | {again[0]:.1f} / {again[1]:.1f} |", flush=True)
        snapshot = json.loads((trees["candidate"] / "benchmarks/data/kpi_snapshot.json").read_text(encoding="utf-8"))
        print("\n| scenario | plan | tree | CPU s | wall s | x real time (CPU) | speed-up (CPU) | same results |")
        print("|---|---|---|---:|---:|---:|---:|---|")
        for name in SCENARIOS:
            for which in ("default", "optimised"):
                plan_arg = "default"
                if which == "optimised":
                    plan_file = Path(tmp) / f"{name}_plan.json"
                    plan_file.write_text(json.dumps(snapshot[name]["plan"]), encoding="utf-8")
                    plan_arg = str(plan_file)
                runs: dict[str, list[dict[str, float | str]]] = {"baseline": [], "candidate": []}
                for _ in range(args.rounds):
                    for label, tree in trees.items():
                        runs[label].append(json.loads(python(tree, RUN, name, plan_arg)))
                cpu = {k: statistics.median(float(r["cpu"]) for r in v) for k, v in runs.items()}
                same = len({str(r["digest"]) for v in runs.values() for r in v}) == 1
                for label in trees:
                    rs = runs[label]
                    wall = statistics.median(float(r["wall"]) for r in rs)
                    sim = float(rs[0]["sim"])
                    ratio = f"{cpu['baseline'] / cpu[label]:.2f}x"
                    print(f"| {name} | {which} | {label} | {cpu[label]:.2f} | {wall:.2f} | {sim / cpu[label]:,.0f}x | "
                          f"{ratio} | {'yes' if same else 'NO'} |", flush=True)  # fmt: skip
    print(f"\n(measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; {args.rounds} rounds, medians)")


if __name__ == "__main__":
    main()
