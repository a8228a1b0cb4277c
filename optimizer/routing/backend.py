"""The one thing a routing backend does: propose routes for a problem within a time limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from optimizer.routing.problem import RoutingProblem
from optimizer.routing.result import Routes


@dataclass(frozen=True)
class BackendRun:
    """Routes a backend proposes (customer indices, depot omitted) and its own account of the search."""

    routes: Routes
    detail: str


class Router(Protocol):
    """A routing backend. `solve()` checks whatever it returns; a backend need not be trusted."""

    name: str

    def solve(self, problem: RoutingProblem, *, time_limit_s: float, seed: int) -> BackendRun: ...


def drop_penalty(problem: RoutingProblem) -> int:
    """A cost per unvisited customer larger than any complete plan can cost (so dropping is a last resort).

    Any plan's distance is at most (customers + routes) arcs, i.e. below 2 * n * longest arc.
    """
    longest = int(max(1, problem.int_distances().max()))
    return 2 * problem.size * longest + 1
