"""Bus dispatch for mass testing: how many buses leave each bay for each destination, and when.

The input is a forecast of riders reaching each bay for each destination per time bucket (`BayForecast`,
given as data, or built from a testing completion curve by `forecast_bay_demand`). The output is a plan of
`DispatchBus(at_s=t, origin=bay, to=destination, count=k)` actions: trips per destination over time.

One job a module, each depending only on those above it:
- `forecast`: the riders' forecast per bay (`BayForecast`, `forecast_bay_demand`);
- `problem`: the frozen problem on its time grid and how it is built (`BusOptions`, `BusProblem`, `bus_problem`,
  where the buses start: `bus_placement`, on the rule shared with the simulation,
  `scenarios.mass_testing.bus_start_bays`);
- `bounds`: schedules without a solver: scoring, greedy starts, regridding, lower bounds;
- `backends`: the solvers (CP-SAT, SCIP, CBC, HiGHS, GLOP), one class each behind `SolverBackend`, and the
  time `Budget`;
- `model`: the time-indexed model, one function per constraint group (`DispatchModel`);
- `search`: phase 1, the diagnosis, phase 2, the coarse-to-fine refinement (`solve_buses`, `min_fleet`);
- `report`: the outcome as a plan, its rationale and diagnosis (`plan_buses`, the door).
"""

from __future__ import annotations

from optimizer.buses.bounds import (
    BusScore,
    flow_bound,
    greedy_schedule,
    own_bound,
    regrid_schedule,
    score_schedule,
)
from optimizer.buses.forecast import BayForecast, forecast_bay_demand
from optimizer.buses.problem import BusOptions, BusProblem, bus_placement, bus_problem
from optimizer.buses.report import diagnosis, dispatch_actions, outcome_details, plan_buses, rationale
from optimizer.buses.search import BusOutcome, FleetNeed, min_fleet, solve_buses
from scenarios.mass_testing import BusState

__all__ = [
    "BayForecast",
    "BusOptions",
    "BusOutcome",
    "BusProblem",
    "BusScore",
    "BusState",
    "FleetNeed",
    "bus_placement",
    "bus_problem",
    "diagnosis",
    "dispatch_actions",
    "flow_bound",
    "forecast_bay_demand",
    "greedy_schedule",
    "min_fleet",
    "outcome_details",
    "own_bound",
    "plan_buses",
    "rationale",
    "regrid_schedule",
    "score_schedule",
    "solve_buses",
]
