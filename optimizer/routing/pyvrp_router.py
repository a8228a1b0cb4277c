"""PyVRP backend: iterated local search (PyVRP's hybrid of ILS and SREX-style neighbourhoods), time-limited.

Model (integers in units of 10**-decimals): one depot with the depot's window; one vehicle type with the
fleet size and capacity, available within the depot's window; one client per customer with its demand,
service time and window; distance and travel-time matrices. The objective is total distance.

Every client is required: that is how PyVRP searches best (making clients optional with a large prize,
measured on RC208 at 10 s, cost 0.4-0.9% more because each iteration is slower). With an unlimited fleet a
complete plan always exists once `solve()` has set aside customers no vehicle could serve. With a limited
fleet it may not, so the search first runs until its first feasible solution (at most a fifth of the time)
and then continues from it; if none was found, the rest of the time goes to the same model with optional
clients whose prize is larger than any complete plan can cost, which drops as few customers as it must
(the OR-Tools backend's safety net, in PyVRP's terms).

PyVRP is seeded: with the same seed and the same number of iterations it returns the same routes. A time
limit makes the number of iterations, hence the routes, depend on the machine's speed and load.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, cast

import numpy as np

from optimizer.routing.backend import BackendRun, drop_penalty
from optimizer.routing.problem import RoutingProblem


class PyVrpRouter:
    """PyVRP's solver with a runtime stopping criterion and an explicit seed."""

    name = "pyvrp"

    def __init__(self, *, max_iterations: int | None = None) -> None:
        self.max_iterations = max_iterations

    def solve(self, problem: RoutingProblem, *, time_limit_s: float, seed: int = 0) -> BackendRun:
        """Best route set PyVRP finds within `time_limit_s` (and `max_iterations`, when set)."""
        from pyvrp import solve as pyvrp_solve
        from pyvrp.exceptions import PenaltyBoundWarning
        from pyvrp.stop import FirstFeasible, MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

        deadline = time.perf_counter() + time_limit_s

        def stop(share: float = 1.0, *extra: StoppingCriterion) -> StoppingCriterion:
            remaining = max(0.01, share * (deadline - time.perf_counter()))
            criteria: list[StoppingCriterion] = [MaxRuntime(remaining), *extra]
            if self.max_iterations is not None:
                criteria.append(MaxIterations(self.max_iterations))
            return criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)

        data = build_problem_data(problem, optional=False)
        log: list[str] = []
        warm_start = None
        if problem.num_vehicles is not None and problem.num_vehicles < problem.size - 1:
            with warnings.catch_warnings():  # an infeasible start is expected here, and handled below
                warnings.simplefilter("ignore", PenaltyBoundWarning)
                first = pyvrp_solve(data, stop(0.2, FirstFeasible()), seed=seed, collect_stats=False)
            log.append(_describe("first feasible search", first))
            if first.is_feasible():
                # PyVRP's own start was feasible when no iteration was needed; it rebuilds the same one.
                warm_start = first.best if first.num_iterations > 0 else None
            else:
                data = build_problem_data(problem, optional=True)
                log.append("fleet too small for a complete plan so far: clients made optional")
        result = pyvrp_solve(data, stop(), seed=seed, collect_stats=False, initial_solution=warm_start)
        log.append(_describe("search", result))
        routes = tuple(
            tuple(activity.idx + 1 for activity in route if activity.is_client())
            for route in result.best.routes()
        )
        return BackendRun(routes=tuple(r for r in routes if r), detail="; ".join(log))


def _describe(stage: str, result: Any) -> str:
    state = "feasible" if result.is_feasible() else "infeasible"
    return f"{stage}: {state} after {result.num_iterations} iterations in {result.runtime:.2f} s"


def build_problem_data(problem: RoutingProblem, *, optional: bool = False) -> Any:
    """Translate a `RoutingProblem` into `pyvrp.ProblemData` (client k is customer k + 1).

    With `optional`, clients may be left out at a prize larger than any complete plan can cost.
    """
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    n = problem.size
    coords = problem.coordinates if problem.coordinates is not None else np.zeros((n, 2))
    locations = [Location(x=float(x), y=float(y)) for x, y in coords]
    windows = problem.int_time_windows()
    service = problem.int_service_times()
    capacity = [] if problem.capacity is None else [int(problem.capacity)]
    prize = drop_penalty(problem) if optional else 0
    if windows is None:
        windows = np.zeros((n, 2), dtype=np.int64)
        windows[:, 1] = np.iinfo(np.int64).max

    depots = [Depot(location=0, tw_early=int(windows[0, 0]), tw_late=int(windows[0, 1]))]
    clients = [
        Client(
            location=i,
            delivery=[int(problem.demands[i])] if capacity else [],
            service_duration=int(service[i]),
            tw_early=int(windows[i, 0]),
            tw_late=int(windows[i, 1]),
            required=not optional,
            prize=prize,
        )
        for i in problem.customers
    ]
    vehicles = [
        VehicleType(
            num_available=problem.fleet_size(),
            capacity=capacity,
            tw_early=int(windows[0, 0]),
            tw_late=int(windows[0, 1]),
        )
    ]
    # A service time at the depot is spent before leaving it, as in OR-Tools' transit and in `evaluate`.
    durations: Any = problem.int_travel_times().copy()
    durations[0, 1:] += int(service[0])
    return ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicles,
        distance_matrices=[cast(Any, problem.int_distances())],
        duration_matrices=[durations],
    )
