"""Time to a proven 1% gap of the staffing model, for each formulation tried, at Disney scale.

Instances: synthetic parks of the Disney case's size (600 testers from 4 district pools, 40 sites, 8 zones,
33,863 visitors; one swabber and one registrar per booth; waves of 20 every 10 min; 4 h shifts), one per seed,
plus the built-in `disney_mass_testing` scenario when it is there. Formulations:

- bisection on the makespan (the LP relaxation for the bound, then MIP probes), probes by SCIP, CBC, HiGHS
  or CP-SAT (CP-SAT on a whole-second, whole-visitor copy of the model);
- direct: one MIP with the makespan a variable on a 60 s grid, by SCIP, CBC or HiGHS.

The bisection is the product's (`optimizer.staffing`); the CP-SAT probes and the direct MIP are measured only
here, from benchmarks/staffing_formulations.py.

Columns: phase 1 (the makespan, to a proven 1% gap: the goal is under 10 s on 2 cores), the gap reached, the
second phase (walking and travel with the makespan fixed), and the makespans of the default plan and the
optimised one in the same fluid model.

    python benchmarks/staffing.py [--seeds 3] [--time-limit 30] [--only bisection:CBC,direct:SCIP]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import networkx as nx
import numpy as np
from staffing_formulations import variant  # a sibling module: run as `python benchmarks/staffing.py`

from optimizer.result import SolveParams
from optimizer.staffing import fluid_makespan, plan_staffing, staffing_problem
from scenarios.mass_testing import MassTestingGeometry, default_plan
from scenarios.schema import MassTestingScenario

POOLS = (("pudong", 200, 1800), ("huangpu", 150, 2400), ("xuhui", 130, 3000), ("jingan", 120, 2700))
FORMULATIONS = ("bisection:SCIP", "bisection:CBC", "bisection:HIGHS", "bisection:CP_SAT",
                "direct:SCIP", "direct:CBC", "direct:HIGHS")  # fmt: skip


def synthetic_park(seed: int, *, sites: int = 40, zones: int = 8, visitors: int = 33_863) -> tuple[
        MassTestingScenario, MassTestingGeometry]:  # fmt: skip
    """A park of the Disney case's size on a plane: zones and sites joined on foot, district centres by road."""
    rng = np.random.default_rng(seed)
    pos: dict[str, tuple[float, float]] = {}
    graph = nx.DiGraph()

    def join(u: str, v: str, mode: str, factor: float) -> None:
        length = math.dist(pos[u], pos[v]) * factor + 1.0
        speed = 1.34 if mode == "walk" else 11.0
        graph.add_edge(u, v, mode=mode, length_m=length, free_speed_mps=speed)
        graph.add_edge(v, u, mode=mode, length_m=length, free_speed_mps=speed)

    zone_ids = [f"zone_{i}" for i in range(zones)]
    site_ids = [f"site_{i:02d}" for i in range(sites)]
    for z in zone_ids:
        pos[z] = tuple(rng.uniform([0, 0], [2500, 2000]))
    for s in site_ids:
        pos[s] = tuple(rng.uniform([-500, -500], [3000, 2500]))
        for z in zone_ids:
            join(z, s, "walk", 1.25)
    for i, (name, _, _) in enumerate(POOLS):
        angle, radius = 2 * math.pi * i / len(POOLS), rng.uniform(8000, 25000)
        pos[f"centre_{name}"] = (1250 + radius * math.cos(angle), 1000 + radius * math.sin(angle))
        for s in site_ids:
            join(f"centre_{name}", s, "road", 1.3)
    weights = rng.dirichlet(np.full(zones, 2.0))
    counts = np.floor(weights * visitors).astype(int)
    counts[0] += visitors - counts.sum()
    doc = {
        "name": f"synthetic_park_{seed}", "kind": "mass_testing", "title": "synthetic park", "graph": "none",
        "seed": seed, "clock": {"start": "2021-10-31T18:05:00", "horizon_s": 12 * 3600},
        "population": {"zones": [{"node": z, "visitors": int(n)} for z, n in zip(zone_ids, counts, strict=True)]},
        "testing": {"swab_time": {"dist": "exponential", "mean_s": 60}, "registrars_per_booth": 1,
                    "sites": [{"node": s, "booths": int(rng.integers(4, 11))} for s in site_ids]},
        "resources": {"testers": {name: {"centre": f"centre_{name}", "count": n, "registrar_share": 0.5,
                                         "callup_delay_s": delay, "group_size": 20, "group_interval_s": 600,
                                         "shift_s": 4 * 3600} for name, n, delay in POOLS}},
    }  # fmt: skip
    scenario = MassTestingScenario.model_validate(doc)
    return scenario, MassTestingGeometry(scenario, graph)


def disney() -> tuple[MassTestingScenario, MassTestingGeometry] | None:
    """The built-in Disney scenario with its city graph, if it is installed."""
    from scenarios import builtin_scenario_names, load_scenario
    from scenarios.loading import scenario_graph

    if "disney_mass_testing" not in builtin_scenario_names():
        return None
    scenario = load_scenario("disney_mass_testing")
    assert isinstance(scenario, MassTestingScenario)
    return scenario, MassTestingGeometry(scenario, scenario_graph(scenario))


def run(name: str, scenario: MassTestingScenario, geometry: MassTestingGeometry, formulation: str,
        time_limit_s: float) -> dict[str, object]:  # fmt: skip
    """One solve (without the marginal analysis): phase times, gap, makespans."""
    form, backend = formulation.split(":")
    params = SolveParams(time_limit_s=time_limit_s, workers=2, relative_gap=0.01)
    options, first_phase = variant(form, backend, marginal=False)
    started = time.perf_counter()
    result = plan_staffing(scenario, geometry, params=params, options=options, formulation=first_phase)
    wall = time.perf_counter() - started
    problem = staffing_problem(scenario, geometry)
    default = fluid_makespan(problem, default_plan(scenario, geometry.graph)).makespan_s
    return {
        "instance": name, "formulation": formulation, "status": result.status,
        "phase1_s": result.details.get("phase1_s", math.nan), "gap": result.gap,
        "phase2_s": result.details.get("phase2_s", math.nan), "total_s": wall,
        "makespan_min": (result.objective or math.nan) / 60, "bound_min": (result.bound or math.nan) / 60,
        "default_min": default / 60,
    }  # fmt: skip


def table(rows: list[dict[str, object]]) -> str:
    head = ("instance", "formulation", "status", "phase1_s", "gap", "phase2_s", "total_s", "makespan_min",
            "bound_min", "default_min")  # fmt: skip
    widths = {"instance": 18, "formulation": 17, "status": 9}

    def cell(key: str, value: object) -> str:
        if isinstance(value, float):
            text = "n/a" if math.isnan(value) else (f"{100 * value:.2f}%" if key == "gap" else f"{value:.2f}")
        else:
            text = "n/a" if value is None else str(value)
        return text.ljust(widths[key]) if key in widths else text.rjust(12)

    lines = ["".join(cell(k, k) if k in widths else k.rjust(12) for k in head)]
    lines += ["".join(cell(k, row[k]) for k in head) for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--only", default=",".join(FORMULATIONS), help="comma-separated formulation:backend")
    args = parser.parse_args()
    instances = [(f"synthetic_{seed}", *synthetic_park(seed)) for seed in range(args.seeds)]
    if (found := disney()) is not None:
        instances.append(("disney", *found))
    rows = []
    for formulation in args.only.split(","):
        for name, scenario, geometry in instances:
            rows.append(run(name, scenario, geometry, formulation, args.time_limit))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(f"# {Path(__file__).name}: time limit {args.time_limit:g} s, 1% gap, 2 workers")
    print(table(rows))


if __name__ == "__main__":
    main()
