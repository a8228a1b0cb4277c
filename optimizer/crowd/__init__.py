"""Crowds: metering rates and stair one-ways from a linear programme, staff posts from CP-SAT.

Two stages, each a model of its own: the flows, a linear programme on a time-expanded network of walking routes
(`flow_problem`, `solve_flows`), and the staff posts, CP-SAT over periods of 15 minutes (`staff_problem`,
`solve_staff`): a control is in force only where staff hold a post within reach. One job per module:
- `options`: the tunables (`CrowdOptions`, `CrowdWeights`);
- `flow`: the flow LP's data from the scenario or a `scenarios.crowd.CrowdState` (`flow_problem`), routes,
  capacities, stairs made one-way, the injects the planner is given;
- `lp`: the flow LP, one method per constraint group (listed in its docstring), and `solve_flows`;
- `staff`: the staff posts model, one function per constraint group, `solve_staff`, and the needs it covers;
- `report`: the plan's actions (metering, staff posts) and the rationale;
- `optimise`: the entry point, `optimise_crowd`.

Not modelled here (the simulation has them): congestion slowing people down (routes are at free speed and
walkways are limited to a share of their capacity instead), route choice by current walking times (the
routes' loads are a system optimum, not what people choose), random arrivals, closing roads, and exits
closed by the plan itself (a closure the planner is told of is modelled: a route out takes nobody who would
reach a closed node on it while it is closed).
"""

from __future__ import annotations

from optimizer.crowd.flow import FlowProblem, Route, flow_problem, walking_graph
from optimizer.crowd.lp import FlowSolution, solve_flows
from optimizer.crowd.optimise import optimise_crowd
from optimizer.crowd.options import CrowdOptions, CrowdWeights
from optimizer.crowd.report import _meter_actions, _staff_actions
from optimizer.crowd.staff import StaffProblem, StaffSolution, solve_staff, staff_problem

__all__ = [
    "CrowdOptions", "CrowdWeights", "FlowProblem", "FlowSolution", "Route", "StaffProblem", "StaffSolution",
    "_meter_actions", "_staff_actions", "flow_problem", "optimise_crowd", "solve_flows", "solve_staff",
    "staff_problem", "walking_graph",
]  # fmt: skip
