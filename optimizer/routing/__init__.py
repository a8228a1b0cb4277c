"""Vehicle routing (CVRP and VRPTW) behind one interface: problem data -> solve -> checked result.

    problem = read_instance("RC208.vrp")            # or RoutingProblem.from_matrices(travel_s, ...)
    result = solve(problem, time_limit_s=30, seed=0)  # backend="auto" | "ortools" | "pyvrp"
    print(result.summary())
    print(format_vrplib_solution(result))

Constraints every backend honours, and `evaluate` re-checks on every result:
- Every route starts and ends at the depot (node 0); each customer is visited at most once.
- A route's load (sum of its customers' demands) is at most the vehicle capacity.
- Service starts within each customer's time window (waiting allowed); service takes the service time;
  vehicles leave no earlier than the depot opens and are back before it closes.
- At most `num_vehicles` routes (unlimited when None).
Objective: total distance. Customers that cannot be served are dropped and reported, never hidden.
"""

from optimizer.routing.backend import BackendRun, Router
from optimizer.routing.instances import InstanceError, format_vrplib_solution, read_instance
from optimizer.routing.problem import DistanceConvention, RoutingProblem
from optimizer.routing.result import RouteCheck, RoutingResult, evaluate
from optimizer.routing.solving import BACKENDS, DEFAULT_BACKEND, get_router, solve

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "BackendRun",
    "DistanceConvention",
    "InstanceError",
    "RouteCheck",
    "Router",
    "RoutingProblem",
    "RoutingResult",
    "evaluate",
    "format_vrplib_solution",
    "get_router",
    "read_instance",
    "solve",
]
