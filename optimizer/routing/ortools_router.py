"""OR-Tools routing backend, built to always return a feasible route set.

Model (all values integers in units of 10**-decimals):
- Arc cost: the distance matrix; the objective is total distance plus drop penalties.
- Capacity dimension: a vehicle's load, the sum of its customers' demands, is at most the capacity.
- Time dimension: cumul = service start; transit(i, j) = service(i) + travel(i, j); slack = waiting.
  Service at each customer starts within its window; vehicles leave and return within the depot's window.
- Disjunctions: every customer is visited once or dropped at a penalty larger than any complete plan, so
  the solver drops a visit only when no complete plan exists (too few vehicles, windows that clash) and the
  model always has a solution. Dropped visits are reported by `solve()`, never hidden.

Search: first-solution strategies are tried in turn (each with a share of the time) until one visits every
customer — a cheapest-arc start alone can find nothing on tight-window Solomon instances — then guided local
search improves the best start for the remaining time. OR-Tools' search has no seed and is deterministic for
a fixed amount of work, but a time limit makes the amount of work, hence the routes, vary from run to run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from optimizer.routing.backend import BackendRun, drop_penalty
from optimizer.routing.problem import RoutingProblem

FIRST_SOLUTION_STRATEGIES = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SAVINGS",
    "PATH_CHEAPEST_ARC",
    "ALL_UNPERFORMED",  # always succeeds with optional visits; guided local search then inserts them
)


class OrToolsRouter:
    """OR-Tools routing: capacity and time dimensions, optional visits as a safety net, GLS improvement."""

    name = "ortools"

    def __init__(
        self,
        *,
        strategies: Sequence[str] = FIRST_SOLUTION_STRATEGIES,
        metaheuristic: str = "GUIDED_LOCAL_SEARCH",
        start_share: float = 0.15,
    ) -> None:
        self.strategies = tuple(strategies)
        self.metaheuristic = metaheuristic
        self.start_share = start_share

    def solve(self, problem: RoutingProblem, *, time_limit_s: float, seed: int = 0) -> BackendRun:
        """Best route set found within `time_limit_s` (the seed is unused: OR-Tools routing has none)."""
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2

        deadline = time.perf_counter() + time_limit_s
        manager, routing = _build(problem, pywrapcp)
        strategies = routing_enums_pb2.FirstSolutionStrategy
        metaheuristics = routing_enums_pb2.LocalSearchMetaheuristic

        best: Any = None
        best_key: tuple[int, int] = (problem.size, 0)
        log: list[str] = []
        for name in self.strategies:
            remaining = deadline - time.perf_counter()
            if remaining <= 0.01 and best is not None:
                break
            params = pywrapcp.DefaultRoutingSearchParameters()
            params.first_solution_strategy = getattr(strategies, name)
            params.local_search_metaheuristic = metaheuristics.GREEDY_DESCENT
            _set_time_limit(params, max(0.02, min(remaining, self.start_share * time_limit_s)))
            found = routing.SolveWithParameters(params)
            if found is None:
                log.append(f"{name}: no solution")
                continue
            key = (_count_dropped(manager, routing, found), found.ObjectiveValue())
            log.append(f"{name}: {key[0]} dropped")
            if best is None or key < best_key:
                best, best_key = found, key
            if key[0] == 0:
                break

        remaining = deadline - time.perf_counter()
        if best is not None and remaining > 0.05:
            params = pywrapcp.DefaultRoutingSearchParameters()
            params.local_search_metaheuristic = getattr(metaheuristics, self.metaheuristic)
            _set_time_limit(params, remaining)
            improved = routing.SolveFromAssignmentWithParameters(best, params)
            if improved is not None:
                best = improved
                log.append(f"{self.metaheuristic}: {_count_dropped(manager, routing, best)} dropped")
        if best is None:
            return BackendRun(routes=(), detail="; ".join(log) or "no solution")
        return BackendRun(routes=_routes(manager, routing, best), detail="; ".join(log))


def _set_time_limit(params: Any, seconds: float) -> None:
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))


def _build(problem: RoutingProblem, pywrapcp: Any) -> tuple[Any, Any]:
    vehicles = problem.fleet_size()
    manager = pywrapcp.RoutingIndexManager(problem.size, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)

    # The objective is the total distance travelled.
    distance = routing.RegisterTransitMatrix(problem.int_distances().tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(distance)

    # A vehicle's load is at most its capacity.
    if problem.capacity is not None:
        demand = routing.RegisterUnaryTransitVector(problem.demands.tolist())
        routing.AddDimensionWithVehicleCapacity(demand, 0, [problem.capacity] * vehicles, True, "load")

    # Service starts within each customer's window; vehicles leave and return within the depot's window.
    windows = problem.int_time_windows()
    if windows is not None:
        transit = problem.int_travel_times() + problem.int_service_times()[:, None]
        horizon = int(windows[:, 1].max())
        time_cb = routing.RegisterTransitMatrix(transit.tolist())
        routing.AddDimension(time_cb, horizon, horizon, False, "time")
        time_dim = routing.GetDimensionOrDie("time")
        for node in problem.customers:
            time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(
                int(windows[node, 0]), int(windows[node, 1])
            )
        for v in range(vehicles):
            for index in (routing.Start(v), routing.End(v)):
                time_dim.CumulVar(index).SetRange(int(windows[0, 0]), int(windows[0, 1]))

    # Every customer is visited once, or dropped at a penalty no complete plan can reach.
    penalty = drop_penalty(problem)
    for node in problem.customers:
        routing.AddDisjunction([manager.NodeToIndex(node)], penalty)
    return manager, routing


def _count_dropped(manager: Any, routing: Any, solution: Any) -> int:
    dropped = 0
    for index in range(routing.Size()):
        if routing.IsStart(index) or routing.IsEnd(index):
            continue
        if solution.Value(routing.NextVar(index)) == index:
            dropped += 1
    return dropped


def _routes(manager: Any, routing: Any, solution: Any) -> tuple[tuple[int, ...], ...]:
    routes = []
    for v in range(routing.vehicles()):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(tuple(route))
    return tuple(routes)
