"""Bus dispatch at Disney scale: how close the time-indexed model gets to a proven 1% gap in 10 s and 30 s.

The case: scenarios/data/scenarios/disney_mass_testing.yaml when it exists (Shanghai Disney, 31 Oct 2021: 220
buses of 50 from three depots at 20:15, eight West-hub bays, eight metro hubs and drop-off points 10-40 min away),
otherwise a synthetic copy of it on the built-in `disney` graph. The forecast comes from the testing completion
curve of one simulated baseline run (tested per site per bucket, bus and late-metro riders walked to the nearest
bay, about 24,500 riders), or from a 4-hour trapezoid when the simulation cannot run. Every site's nearest bay
is bay 5, so the real case has one bay; the "3 bays" variant splits the same riders 50/25/25 over bays 5, 4, 6.

Variants: the whole fleet; 100 buses (the fleet binds); 5- and 2-min grids; CP-SAT with two parallel workers
("parallel") or one worker on deterministic time ("deterministic", the default: the same plan every run); SCIP
through pywraplp for comparison. For each: the last departure found and its proven bound (phase 1), when it was
proven, phase 2's objective (weighted rider-minutes + bus-km), its bound and gap, and wall seconds.

    /work/venv/bin/python benchmarks/buses.py            # the tables (about 10 min)
    /work/venv/bin/python benchmarks/buses.py --quick    # 10 s rows only

A second table replays the plans in the simulation (simulation/mass_testing.py) against first come first served.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from optimizer.buses import BayForecast, BusOptions, bus_problem, forecast_bay_demand, plan_buses, solve_buses
from optimizer.result import SolveParams, relative_gap
from scenarios.graphs import load_graph
from scenarios.mass_testing import MassTestingGeometry, default_plan
from scenarios.plan import Plan
from scenarios.schema import MassTestingScenario

BUILTIN = Path(__file__).resolve().parent.parent / "scenarios" / "data" / "scenarios" / "disney_mass_testing.yaml"
THREE_BAYS = ("bay_west_hub_5", "bay_west_hub_4", "bay_west_hub_6")


def base_scenario() -> MassTestingScenario:
    """The built-in Disney scenario, or a synthetic stand-in with its numbers."""
    if BUILTIN.is_file():
        from scenarios.loading import load_scenario

        return load_scenario(BUILTIN)  # type: ignore[return-value]
    doc = {
        "name": "disney_buses_bench", "kind": "mass_testing", "title": "Disney buses (synthetic)",
        "clock": {"start": "2021-10-31T18:05:00", "horizon_s": 43_200}, "graph": "disney", "seed": 20211031,
        "population": {"zones": [{"node": "zone_fantasyland", "visitors": 33_863}],
                       "home_modes": {"metro": 0.45, "bus": 0.35, "car": 0.15, "walk": 0.05},
                       "parking": ["parking_car_coach"]},
        "testing": {"swab_time": {"dist": "lognormal", "mean_s": 36, "sd_s": 12}, "walk_speed_mps": 1.1,
                    "sites": [{"node": f"site_exit_plaza_{i}", "booths": 12} for i in range(1, 9)]},
        "resources": {
            "testers": {"pudong": {"centre": "centre_pudong", "count": 300}},
            "buses": {"count": 220, "capacity": 50, "load_time_s": 240, "unload_time_s": 120,
                      "depots": [{"node": "depot_chuansha", "count": 80, "ready_at_s": 7800},
                                 {"node": "depot_zhangjiang", "count": 70, "ready_at_s": 7800},
                                 {"node": "depot_kangqiao", "count": 70, "ready_at_s": 7800}],
                      "bays": [f"bay_west_hub_{i}" for i in range(1, 9)],
                      "destinations": {"hub_kangxin_highway": 0.30, "hub_longyang_road": 0.20,
                                       "dest_peoples_square": 0.12, "dest_xujiahui": 0.08,
                                       "hub_shanghai_railway": 0.08, "hub_hongqiao": 0.08,
                                       "dest_jingan_temple": 0.07, "hub_shanghai_south": 0.07}},
        },
        "metro": {"station": "disney_station", "closes_at_s": 7800, "capacity_per_h": 15000},
    }  # fmt: skip
    return MassTestingScenario.model_validate(doc)


def with_fleet(scenario: MassTestingScenario, buses: int) -> MassTestingScenario:
    """The same scenario with `buses` buses, split over its depots in the same proportions."""
    doc = scenario.model_dump()
    fleet = doc["resources"]["buses"]
    counts = [d["count"] for d in fleet["depots"]]
    new = [buses * c // sum(counts) for c in counts]
    new[0] += buses - sum(new)
    fleet["count"] = buses
    fleet["depots"] = [dict(d, count=n) for d, n in zip(fleet["depots"], new, strict=True)]
    return MassTestingScenario.model_validate(doc)


def completion_curve(scenario: MassTestingScenario, geo: MassTestingGeometry, bucket_s: float):
    """Tested per site per bucket from one simulated baseline run (or a 4-h trapezoid), and the baseline."""
    try:
        from simulation.mass_testing import simulate

        base = simulate(scenario, geometry=geo)
    except Exception as exc:  # the simulation is optional here
        print(f"(simulation unavailable: {exc}; using a trapezoid curve)")
        n = round(4 * 3600 / bucket_s)
        ramp = max(1, round(1800 / bucket_s))
        shape = np.minimum(1.0, np.minimum(np.arange(1, n + 1) / ramp, np.arange(n, 0, -1) / ramp))
        start = np.zeros(round(1800 / bucket_s))
        return np.concatenate([start, scenario.initial_visitors * shape / shape.sum()]), None
    sites = [s.node for s in scenario.testing.sites]
    end = base.records["swab_end_s"]
    n = int(np.nanmax(end) // bucket_s) + 1
    tested = {s: np.zeros(n) for s in sites}
    for site, t in zip(base.records["site"], end, strict=True):
        if np.isfinite(t):
            tested[sites[site]][int(t // bucket_s)] += 1
    return tested, base


def three_bays(fc: BayForecast) -> BayForecast:
    """The same riders split 50/25/25 over three bays."""
    arrivals = {}
    for (_, dest), row in fc.arrivals.items():
        for bay, share in zip(THREE_BAYS, (0.5, 0.25, 0.25), strict=True):
            arrivals[(bay, dest)] = tuple(share * v for v in row)
    return BayForecast(bucket_s=fc.bucket_s, arrivals=arrivals, start_s=fc.start_s)


def bus_wait_min(result) -> float:
    """Mean minutes from swab to departure of the simulation's bus riders."""
    rec = result.records
    bus = rec["mode"] == 3
    return float(np.nanmean(rec["departed_s"][bus] - rec["swab_end_s"][bus]) / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s rows only")
    args = parser.parse_args()
    scenario = base_scenario()
    geo = MassTestingGeometry(scenario, load_graph(scenario.graph))
    limits = (10.0,) if args.quick else (10.0, 30.0)
    curves: dict[float, tuple] = {}

    def case(buses: int, bucket_s: float, bays: int):
        sc = with_fleet(scenario, buses)
        g = MassTestingGeometry(sc, geo.graph)
        if bucket_s not in curves:
            curves[bucket_s] = completion_curve(scenario, geo, bucket_s)
        fc = forecast_bay_demand(sc, curves[bucket_s][0], g, bucket_s=bucket_s)
        return sc, g, three_bays(fc) if bays == 3 else fc

    rows = [  # (buses, bucket, bays, mode, backend)
        (220, 300.0, 1, "parallel", "CP_SAT"), (220, 300.0, 1, "deterministic", "CP_SAT"),
        (220, 300.0, 3, "parallel", "CP_SAT"), (220, 120.0, 1, "parallel", "CP_SAT"),
        (100, 300.0, 1, "parallel", "CP_SAT"), (100, 300.0, 1, "deterministic", "CP_SAT"),
        (100, 300.0, 3, "parallel", "CP_SAT"), (100, 120.0, 1, "parallel", "CP_SAT"),
        (100, 300.0, 1, "parallel", "SCIP"),
    ]  # fmt: skip
    if args.quick:
        rows = [r for r in rows if r[3] == "parallel" and r[4] == "CP_SAT"]
    head = (f"{'buses':>5} {'grid':>5} {'bays':>4} {'mode':<13} {'solver':<6} {'limit':>5} | {'riders':>6} "
            f"{'last dep.':>9} {'bound':>7} {'proven@':>7} | {'phase 2':>9} {'bound':>9} {'gap':>6} "
            f"| {'wall':>5}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for buses, bucket_s, bays, mode, backend in rows:
        sc, g, fc = case(buses, bucket_s, bays)
        problem = bus_problem(sc, fc, g)
        for limit in limits:
            opts = BusOptions(deterministic=mode == "deterministic", backend=backend)  # type: ignore[arg-type]
            started = time.perf_counter()
            out = solve_buses(problem, params=SolveParams(time_limit_s=limit, workers=2), options=opts)
            wall = time.perf_counter() - started
            proven = f"{out.phase1_s:.1f}s" if out.phase_status[0] == "OPTIMAL" else "-"
            gap = relative_gap(out.wait_value, out.wait_bound)
            print(f"{buses:>5} {bucket_s / 60:>4g}m {bays:>4} {mode:<13} {backend:<6} {limit:>4g}s | "
                  f"{problem.riders_total:>6} {out.minutes(out.last_value):>8.0f}m "
                  f"{out.minutes(out.last_bound):>6.0f}m "
                  f"{proven:>7} | {out.wait_value:>9.0f} {out.wait_bound or float('nan'):>9.0f} "
                  f"{'n/a' if gap is None else f'{100 * gap:.1f}%':>6} | {wall:>5.1f}")  # fmt: skip

    print()
    print("In the simulation (one run, the baseline's seed): plans from a 10 s solve vs first come first served")
    head = (f"{'buses':>5} {'grid':>5} {'plan':<13} | {'last departed':>13} {'stranded':>8} {'swab->bus':>9} "
            f"{'bus-km':>8}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for buses, bucket_s in ((220, 300.0), (220, 120.0), (100, 300.0), (100, 120.0)):
        sc, g, fc = case(buses, bucket_s, 1)
        try:
            from simulation.mass_testing import simulate
        except ImportError:
            print("(no simulation)")
            break
        staff = default_plan(sc, g.graph)
        runs = [("FCFS", staff)]
        res = plan_buses(sc, fc, g, params=SolveParams(time_limit_s=10.0, workers=2),
                         options=BusOptions(deterministic=False))  # fmt: skip
        runs.append(("optimised", Plan.build(staff.meta, [*staff.actions, *res.plan.actions])))
        for name, plan in runs:
            r = simulate(sc, plan, geometry=g)
            k = r.kpis
            print(f"{buses:>5} {bucket_s / 60:>4g}m {name:<13} | {k['last_departed_min']:>12.1f}m "
                  f"{k['stranded_visitors']:>8.0f} {bus_wait_min(r):>8.1f}m {k['bus_km']:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
