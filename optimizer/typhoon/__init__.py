"""Typhoon: which tunnel lanes to clear when, where the escort teams work, and where riders are sent.

A time-indexed CP-SAT model on a window of periods of `scenario.lanes.period_s` (15 min by default). By default
the window runs from one period before the first ferry suspension known at its start to the end of the last
one. Re-planning: pass a `scenarios.typhoon.TyphoonState` (its time `at_s` is the window's start; riders waiting
per origin, vehicles queued per way, ways cleared then, each escort team's place in its cycle; `read` takes it from
a simulation's series; `simulation.typhoon.state_at` reads it off a run), and
`hours` for a rolling window; the command loop does this when an incident is re-planned, and
`benchmarks/typhoon_rolling.py` rolls through a whole day.

One job per module:
- `problem`: the window's data (`TyphoonProblem`, its per-rider costs, `typhoon_problem`) and `TyphoonOptions`;
- `cost`: the model's objective for a given schedule as a pure function (`fluid_cost`; the brute-force tests
  use it) and the rules a schedule keeps (`schedule_feasible`);
- `static`: the search's first schedules (`best_static_schedule`);
- `model`: the CP-SAT model (`TyphoonModel`), its variables, one function per constraint group (listed in its
  docstring), its objective, and the hint from a schedule (`schedule_values`);
- `bound`: a lower bound from the model's LP relaxation (GLOP);
- `routing`: the riders' routing decided before the lanes (candidate routings, the window with one fixed);
- `search`: solving a window (`solve_typhoon`; with `TyphoonOptions.routings`, the default, in two stages, routing
  first: `solve_routed`), and the side solves (one more team; the trade-off's weights);
- `report`: the plan's actions (a re-plan's teams kept at their ways and in their cycles: a team out at the
  window's start leads its next batch when it is next free, as the plan in effect had it), the rationale and the
  trade-off points;
- `optimise`: the entry point, `optimise_typhoon`.

Trade-off: `optimise_typhoon` solves the window at the scenario's weights, then again at car-delay weights x
`pareto_factors` (named points: `scenarios.schema.TRADE_OFF_FACTORS`, riders x 0.25, balanced x 1, cars x 4), each
point taking the best schedule any solve found at its weight; it offers the points none of the others dominates
(rider-hours waiting, riders stranded, vehicle-hours, lane-periods cleared) in the plan's `meta.trade_off`, and the
plan carries out the one the commander picked (`weights.trade_off`). Every pick solves the same points, so the
point picked is the point offered; the plan's warnings declare the trade-off (`command.consequences`).

Not modelled (the simulation has them): random arrivals and batch sizes, ferry capacity and service hours once
the ferries run, travel of teams between tunnels, riders re-choosing mid-wait.
"""

from __future__ import annotations

from optimizer.typhoon.bound import lp_relaxation_bound
from optimizer.typhoon.cost import FluidCost, even_teams, fluid_cost, schedule_feasible
from optimizer.typhoon.model import TyphoonModel, schedule_values
from optimizer.typhoon.optimise import optimise_typhoon
from optimizer.typhoon.problem import SCALE, PerRider, TyphoonOptions, TyphoonProblem, typhoon_problem
from optimizer.typhoon.report import plan_actions
from optimizer.typhoon.search import TyphoonSolution, as_schedule, rescore, solve_typhoon
from optimizer.typhoon.static import Schedule, best_static_schedule, static_schedule

__all__ = [
    "SCALE", "FluidCost", "PerRider", "Schedule", "TyphoonModel", "TyphoonOptions", "TyphoonProblem",
    "TyphoonSolution", "as_schedule", "best_static_schedule", "even_teams", "fluid_cost", "lp_relaxation_bound",
    "optimise_typhoon", "plan_actions", "rescore", "schedule_feasible", "schedule_values", "solve_typhoon",
    "static_schedule", "typhoon_problem",
]  # fmt: skip
