"""The typhoon simulation's cost per event against bare SimPy, measured in the same run: the built-in
`huangpu_typhoon` day under its default plan (and with `--drill`, the typhoon_upgraded inject script) is simulated
REPEATS times, interleaved with a plain SimPy run of as many timeouts as the simulation processed events; the
table gives the least time of each (least: the run least disturbed by other work on the machine) and their
ratio: wall seconds of the event loop alone (`RunStats.wall_s`) against bare SimPy's wall seconds, and CPU seconds
of this process for the whole `simulate` call (set-up and result too) against bare SimPy's CPU seconds (CPU time
moves less than wall time when the machine is shared).

Events are the model's: SimPy's events plus the riders' moments played off the riders' own calendar (appearing,
patience running out, a ride ending: `TyphoonModel.catch_up`), each of which was a SimPy event before; the table
gives both parts.

    python benchmarks/typhoon_simulation.py [--repeats 5] [--seed S]
"""

from __future__ import annotations

import argparse
import time

import simpy
import yaml

from scenarios import load_scenario
from scenarios.loading import scenario_from_document
from scenarios.typhoon import default_plan
from simulation.typhoon import TyphoonModel


def bare_simpy(events: int) -> tuple[float, float]:
    """Wall and CPU seconds for a plain SimPy run processing `events` timeouts."""
    env = simpy.Environment()

    def ticker(n: int):  # type: ignore[no-untyped-def]
        for _ in range(n):
            yield env.timeout(1)

    env.process(ticker(events))
    start, cpu = time.perf_counter(), time.process_time()
    env.run()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    scenario = load_scenario("huangpu_typhoon")
    doc = scenario.model_dump(mode="json")
    with open("scenarios/data/drills/typhoon_upgraded.yaml", encoding="utf-8") as f:
        doc["injects"] = yaml.safe_load(f)
    cases = [("default plan", scenario), ("default plan, drill typhoon_upgraded",
                                          scenario_from_document(doc, file="typhoon_upgraded"))]  # fmt: skip
    print("| run | events (SimPy + riders' moments) | event loop wall s | bare SimPy wall s | loop / bare (wall) "
          "| simulate CPU s | bare SimPy CPU s | simulate / bare (CPU) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in cases:
        plan = default_plan(s)
        seed = s.seed if args.seed is None else args.seed
        loop, whole, bare_wall, bare_cpu, events, moments = [], [], [], [], 0, 0
        for _ in range(args.repeats):
            cpu = time.process_time()
            model = TyphoonModel(s, plan, seed=seed)  # what `simulation.typhoon.simulate` does
            result = model.run()
            whole.append(time.process_time() - cpu)
            loop.append(result.stats.wall_s)
            events, moments = result.stats.events, model.moments
            wall, cpu_s = bare_simpy(events)
            bare_wall.append(wall)
            bare_cpu.append(cpu_s)
        print(f"| {name} | {events:,} ({events - moments:,} + {moments:,}) | {min(loop):.3f} "
              f"| {min(bare_wall):.3f} | {min(loop) / min(bare_wall):.1f}x | {min(whole):.3f} | {min(bare_cpu):.3f} "
              f"| {min(whole) / min(bare_cpu):.1f}x |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
