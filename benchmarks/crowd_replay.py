"""The 2014 replay against the record: the Chen Yi Square stair's density and its crushes under the default plan.

For each seed, `bund_new_year_2014` under its own (as-it-happened) plan: the densest of the Chen Yi stair's
places (its two flights, its landing and its ends) at 23:00, 23:20, 23:25, 23:30, 23:35 and 23:40, every
`crush` event on the stair, whether one falls within 15 minutes of the fall at 23:35 (facts.md 3.2), and
whether one comes before 23:20 (the record has the stair jammed from 23:23, no crush before). A plain script,
not a test.

    python benchmarks/crowd_replay.py                      # the scenario's seed
    python benchmarks/crowd_replay.py --seeds 20           # and the 19 after it
    python benchmarks/crowd_replay.py --set full_areas_known=false
    python benchmarks/crowd_replay.py --seeds 20 --workers 2  # two processes
    python benchmarks/crowd_replay.py --scenario my_variant.yaml

Each run also prints the people inside the area (on the graph, past the holding areas) at 21:00, 22:00, 23:00
and 23:35, the times the investigation report counts (the scenario's header).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

from scenarios.loading import load_scenario
from simulation.crowd import CrowdModel

FALL_S = 12_900.0  # 23:35, seconds after the scenario's 20:00 start
EARLY_S = 12_000.0  # 23:20: a crush on the stair before this is earlier than the record's jam (23:23)
WINDOW_S = 900.0
TIMES = ("23:00", "23:20", "23:25", "23:30", "23:35", "23:40")
HOURS = ("21:00", "22:00", "23:00", "23:35")
Replay = tuple[int, dict[str, float], list[str], bool, bool, dict[str, int]]


def replay(seed: int | None, overrides: list[str], name: str = "bund_new_year_2014") -> Replay:
    """One run: its seed, the stair's densest place at `TIMES`, the times of crushes on the stair, whether one
    is within `WINDOW_S` of `FALL_S`, whether one comes before `EARLY_S`, and the people inside at `HOURS`."""
    scenario = load_scenario(name, overrides=overrides)
    model = CrowdModel(scenario, seed=seed)
    names = model.lay.place_names
    stair = [i for i, n in enumerate(names) if "chen_yi_stair" in n and "square" not in n]
    dens: dict[str, float] = {}
    inside: dict[str, int] = {}

    def each(m: CrowdModel) -> None:
        if m.step_no % 60:
            return
        label = scenario.clock.label(m.step_no * m.dt)
        if label in TIMES:
            dens[label] = round(max(float(m.watch.place_rho[i]) for i in stair), 2)
        if label in HOURS:
            inside[label] = round(m.people()["inside"])

    model.on_step = each
    result = model.run()
    crushes = [e for e in result.events if e.kind == "crush" and "chen_yi_stair" in str(e.data.get("place"))]
    hit = any(abs(e.t_s - FALL_S) <= WINDOW_S for e in crushes)
    early = any(e.t_s < EARLY_S for e in crushes)
    return model.seed, dens, [scenario.clock.label(e.t_s) for e in crushes], hit, early, inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scenario", default="bund_new_year_2014", help="a built-in's name or a YAML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args()
    base = load_scenario(args.scenario, overrides=args.overrides).seed
    seeds = [base + k for k in range(args.seeds)]
    hits = earlies = 0
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = pool.map(replay, seeds, [args.overrides] * len(seeds), [args.scenario] * len(seeds))
        for seed, dens, crushes, hit, early, inside in runs:
            hits += hit
            earlies += early
            print(f"seed {seed}: stair /m² {dens}; crushes on the stair at {', '.join(crushes) or 'none'}; "
                  f"within 15 min of 23:35: {'yes' if hit else 'no'}; inside {inside}", flush=True)  # fmt: skip
    print(f"{hits} of {args.seeds} seeds with a crush on the Chen Yi stair within 15 minutes of 23:35; "
          f"{earlies} with one before 23:20")


if __name__ == "__main__":
    main()
