"""Bus dispatch at Disney scale: how fast the time-indexed model reaches a proven gap.

The case (synthetic until scenarios/data/scenarios/disney_mass_testing.yaml exists; used when it does):
Shanghai Disney, 31 Oct 2021 from 20:15, the built-in `disney` graph (the Disney West bus hub and eight
metro hubs and district drop-off points 10-40 min away by road), 220 buses of 50 seats from three depots,
about 20,000 bus riders tested over 4 h. Variants: the whole fleet (everyone leaves shortly after the
last swab), a short fleet (the fleet binds), one bay or three, 5- and 2-min grids, CP-SAT or a MIP solver.

    /work/venv/bin/python benchmarks/buses.py            # the table
    /work/venv/bin/python benchmarks/buses.py --quick    # fewer rows (a smoke run)

For each case: wall seconds until phase 1 (the last departure) is proven and until the whole plan is within
1% (phase 2: waiting and km), or how far each got with 10 s and 30 s.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from optimizer.buses import (
    BayForecast,
    BusParams,
    bus_problem,
    forecast_bay_demand,
    greedy_schedule,
    score_schedule,
    solve_buses,
)
from optimizer.result import SolveParams, relative_gap
from scenarios.graphs import load_graph
from scenarios.mass_testing import MassTestingGeometry
from scenarios.schema import MassTestingScenario

BUILTIN = Path(__file__).resolve().parent.parent / "scenarios" / "data" / "scenarios" / "disney_mass_testing.yaml"
BAYS = ("bay_west_hub_5", "bay_west_hub_4", "bay_west_hub_6")
DESTINATIONS = {  # share of bus riders (synthetic, weighted towards the metro hubs)
    "hub_kangxin_highway": 0.10,
    "hub_longyang_road": 0.22,
    "dest_peoples_square": 0.14,
    "dest_xujiahui": 0.12,
    "dest_jingan_temple": 0.08,
    "hub_hongqiao": 0.12,
    "hub_shanghai_south": 0.10,
    "hub_shanghai_railway": 0.12,
}
SITES = ("site_exit_plaza_1", "site_exit_plaza_3", "site_station_forecourt_1", "site_west_hub_1", "site_west_hub_3")


def synthetic_scenario(*, buses: int = 220, bays: tuple[str, ...] = BAYS) -> MassTestingScenario:
    """Disney on 31 Oct 2021 from 20:15: 33,000 visitors, 60% home by bus, `buses` buses of 50 seats."""
    depots = [("depot_chuansha", 0.0), ("depot_zhangjiang", 600.0), ("depot_kangqiao", 1200.0)]
    counts = [buses // 3 + (1 if i < buses % 3 else 0) for i in range(3)]
    doc = {
        "name": "disney_buses_bench",
        "kind": "mass_testing",
        "title": "Disney bus benchmark (synthetic)",
        "clock": {"start": "2021-10-31T20:15:00", "horizon_s": 8 * 3600},
        "graph": "disney",
        "seed": 0,
        "population": {
            "zones": [{"node": "zone_mickey_avenue", "visitors": 33_000}],
            "home_modes": {"bus": 0.6, "car": 0.1, "walk": 0.3},
            "parking": ["parking_car_coach"],
        },
        "testing": {"swab_time": {"dist": "deterministic", "value_s": 30},
                    "sites": [{"node": s, "booths": 20} for s in SITES]},
        "resources": {
            "testers": {"pudong": {"centre": "centre_pudong", "count": 100}},
            "buses": {
                "count": buses, "capacity": 50, "load_time_s": 300, "unload_time_s": 180,
                "depots": [{"node": n, "count": c, "ready_at_s": r} for (n, r), c in zip(depots, counts, strict=True)],
                "bays": list(bays), "destinations": DESTINATIONS,
            },
        },
    }  # fmt: skip
    return MassTestingScenario.model_validate(doc)


def tested_curve(total: float = 33_000, hours: float = 4.0, bucket_s: float = 300.0) -> np.ndarray:
    """Visitors swabbed per bucket: a 30-min ramp up, a plateau, a 30-min ramp down (a trapezoid)."""
    n = round(hours * 3600 / bucket_s)
    ramp = max(1, round(1800 / bucket_s))
    shape = np.minimum(1.0, np.minimum(np.arange(1, n + 1) / ramp, np.arange(n, 0, -1) / ramp))
    return total * shape / shape.sum()


def case(*, buses: int = 220, three_bays: bool = True, bucket_s: float = 300.0):
    """(scenario, geometry, forecast) for one benchmark case."""
    if BUILTIN.is_file():
        from scenarios.loading import load_scenario, scenario_graph

        scenario = load_scenario(BUILTIN)
        if buses != scenario.resources.buses.count:  # type: ignore[union-attr]
            raise SystemExit("the built-in Disney scenario fixes its own fleet; edit the case list")
        geo = MassTestingGeometry(scenario, scenario_graph(scenario))
    else:
        scenario = synthetic_scenario(buses=buses)
        geo = MassTestingGeometry(scenario, load_graph("disney"))
    forecast = forecast_bay_demand(scenario, tested_curve(bucket_s=bucket_s), geo, bucket_s=bucket_s)
    if three_bays:  # every site's nearest bay is bay 5 on this graph: split its riders 50/25/25 over three bays
        bays = scenario.resources.buses.bays  # type: ignore[union-attr]
        split = dict(zip(bays, (0.5, 0.25, 0.25), strict=False))
        arrivals = {}
        for (_, dest), row in forecast.arrivals.items():
            for bay, share in split.items():
                arrivals[(bay, dest)] = tuple(share * v for v in row)
        forecast = BayForecast(bucket_s=forecast.bucket_s, arrivals=arrivals, start_s=forecast.start_s)
    return scenario, geo, forecast
