"""What a routing solve returns, and the independent check every returned route set goes through.

Backends only propose routes; `evaluate` recomputes cost, loads and arrival times from the problem's own
matrices, so `RoutingResult.feasible` never takes a solver's word for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.routing.problem import RoutingProblem

Routes = tuple[tuple[int, ...], ...]

FEASIBLE = "FEASIBLE"  # every customer served, every constraint met
PARTIAL = "PARTIAL"  # every constraint met, but some customers dropped (listed in `dropped`)
INFEASIBLE = "INFEASIBLE"  # the best route set found breaks a constraint (listed in `violations`)
NO_SOLUTION = "NO_SOLUTION"  # the backend returned no route set at all


@dataclass(frozen=True)
class RouteCheck:
    """Cost and constraint violations of a route set, recomputed from the problem."""

    cost_scaled: int
    violations: tuple[str, ...]
    dropped: tuple[int, ...]


def evaluate(problem: RoutingProblem, routes: Sequence[Sequence[int]]) -> RouteCheck:
    """Recompute a route set's total distance and list every broken rule.

    Rules: each customer index is valid and visited at most once; a route's load is at most the capacity;
    service starts within each time window (arrival = departure + travel time, waiting allowed, departure =
    start + service time); every vehicle is back at the depot before it closes; at most `num_vehicles` routes.
    """
    dist = problem.int_distances()
    travel = problem.int_travel_times()
    service = problem.int_service_times()
    tw = problem.int_time_windows()
    fmt = problem.format_value
    violations: list[str] = []
    seen: set[int] = set()
    cost = 0
    used = [r for r in routes if len(r) > 0]
    if problem.num_vehicles is not None and len(used) > problem.num_vehicles:
        violations.append(f"{len(used)} routes but only {problem.num_vehicles} vehicles")
    for number, route in enumerate(used, start=1):
        for node in route:
            if not 1 <= node < problem.size:
                violations.append(f"route {number}: {node} is not a customer index (1..{problem.size - 1})")
            elif node in seen:
                violations.append(f"route {number}: customer {node} is visited more than once")
            seen.add(node)
        path = [0, *(n for n in route if 1 <= n < problem.size), 0]
        cost += int(sum(dist[a, b] for a, b in itertools.pairwise(path)))
        load = int(problem.demands[path].sum())
        if problem.capacity is not None and load > problem.capacity:
            violations.append(f"route {number}: load {load} exceeds capacity {problem.capacity}")
        if tw is None:
            continue
        t = int(tw[0, 0])
        for prev, node in itertools.pairwise(path):
            t += int(service[prev]) + int(travel[prev, node])
            if node == 0:
                if t > tw[0, 1]:
                    violations.append(
                        f"route {number}: back at the depot at {fmt(t)}, after it closes at {fmt(tw[0, 1])}"
                    )
                break
            t = max(t, int(tw[node, 0]))
            if t > tw[node, 1]:
                violations.append(
                    f"route {number}: service at customer {node} starts at {fmt(t)}, after its "
                    f"window closes at {fmt(tw[node, 1])}"
                )
    dropped = tuple(i for i in problem.customers if i not in seen)
    return RouteCheck(cost_scaled=cost, violations=tuple(violations), dropped=dropped)


@dataclass(frozen=True, kw_only=True)
class RoutingResult:
    """The outcome of one solve: routes (customer indices, depot omitted), cost and an honest status.

    `feasible` means the routes break no constraint (checked by `evaluate`, not by the solver); customers the
    plan does not visit are in `dropped` (status PARTIAL) with the reasons known in `notes`. `cost` is the
    total distance of the routes, in the instance's units (penalties for dropped customers are not included).
    """

    routes: Routes
    cost: float
    feasible: bool
    dropped: tuple[int, ...]
    backend: str
    status: str
    wall_s: float
    seed: int = 0
    time_limit_s: float = 0.0
    decimals: int = 0
    num_customers: int = 0
    instance: str = ""
    violations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Feasible and serving every customer."""
        return self.feasible and not self.dropped

    @property
    def num_routes(self) -> int:
        return len(self.routes)

    def cost_text(self) -> str:
        """The cost as the instance's convention prints it: '375' for nint, '776.1' for one decimal."""
        return f"{self.cost:.{self.decimals}f}"

    def summary(self) -> str:
        """A few lines for a console: status, cost, routes, customers served, time; then any problems."""
        served = self.num_customers - len(self.dropped)
        name = f"{self.instance}: " if self.instance else ""
        lines = [
            f"{name}{self.status} ({self.backend}, seed {self.seed}): cost {self.cost_text()}, "
            f"{self.num_routes} routes, {served}/{self.num_customers} customers served, "
            f"{self.wall_s:.2f} s of {self.time_limit_s:g} s"
        ]
        if self.dropped:
            lines.append("dropped: " + " ".join(map(str, self.dropped)))
        lines.extend(f"violation: {v}" for v in self.violations)
        lines.extend(f"- {n}" for n in self.notes)
        return "\n".join(lines)
