"""`solve(problem, *, time_limit_s, backend, seed) -> RoutingResult`: one entry point over the backends.

Steps: set aside customers no vehicle could serve on its own (they are dropped, with the reason, whatever
the backend); let the backend route the rest within the time limit; map its routes back to the problem's
numbering; recompute cost and check every constraint independently (`evaluate`); report.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from optimizer.routing.backend import BackendRun, Router
from optimizer.routing.ortools_router import OrToolsRouter
from optimizer.routing.problem import RoutingProblem
from optimizer.routing.pyvrp_router import PyVrpRouter
from optimizer.routing.result import FEASIBLE, INFEASIBLE, NO_SOLUTION, PARTIAL, RoutingResult, evaluate

BACKENDS: dict[str, Callable[[], Router]] = {
    "ortools": OrToolsRouter,
    "pyvrp": PyVrpRouter,
}

# Chosen from the measurements in benchmarks/README.md (routing section).
DEFAULT_BACKEND = "pyvrp"
# What 'auto' falls back to when its choice returns no feasible route set: the model that always has one.
FALLBACK_BACKEND = "ortools"


def get_router(backend: str | Router) -> Router:
    """The router for a backend name ('auto', 'ortools', 'pyvrp') or a `Router` instance."""
    if not isinstance(backend, str):
        return backend
    name = DEFAULT_BACKEND if backend == "auto" else backend
    if name not in BACKENDS:
        raise ValueError(f"backend: {backend!r} is not one of auto, {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name]()


def solve(
    problem: RoutingProblem,
    *,
    time_limit_s: float,
    backend: str | Router = "auto",
    seed: int = 0,
) -> RoutingResult:
    """Route the problem's customers within `time_limit_s` seconds of wall time and report honestly.

    `backend` is 'auto' (the benchmarked default), 'ortools', 'pyvrp' or any `Router`. The result's routes
    are checked against every constraint by `evaluate`; customers not visited are listed in `dropped`.
    With 'auto', a route set that fails the check (not seen in the benchmarks) is replaced by OR-Tools'
    always-feasible model run for a further quarter of the time limit (at least 1 s), said in `notes`.
    Both backends are time-limited, so the routes for a given seed can differ between runs and machines
    (see each backend's docstring for what is deterministic).
    """
    if not time_limit_s > 0:
        raise ValueError(f"time_limit_s: {time_limit_s} must be positive")
    start = time.perf_counter()
    router = get_router(backend)
    result = _solve_with(router, problem, time_limit_s=time_limit_s, seed=seed, start=start)
    if backend == "auto" and not result.feasible and router.name != FALLBACK_BACKEND:
        extra = max(1.0, 0.25 * time_limit_s)
        fallback = _solve_with(
            get_router(FALLBACK_BACKEND), problem, time_limit_s=extra, seed=seed, start=start
        )
        if fallback.feasible:
            note = (
                f"auto: {router.name} returned {result.status}; {FALLBACK_BACKEND} ran {extra:g} s more "
                "for a feasible plan"
            )
            return dataclasses.replace(fallback, time_limit_s=time_limit_s, notes=(*fallback.notes, note))
    return result


def _solve_with(
    router: Router, problem: RoutingProblem, *, time_limit_s: float, seed: int, start: float
) -> RoutingResult:
    unservable = problem.unservable()
    notes = [f"customer {problem.label(i)} dropped: {reason}" for i, reason in sorted(unservable.items())]
    keep = [i for i in problem.customers if i not in unservable]
    if keep:
        sub = problem if len(keep) == problem.size - 1 else problem.restricted(keep)
        remaining = max(0.01, time_limit_s - (time.perf_counter() - start))
        run = router.solve(sub, time_limit_s=remaining, seed=seed)
        routes = tuple(tuple(keep[j - 1] for j in route) for route in run.routes if route)
    else:
        run = BackendRun(routes=(), detail="no customer can be served")
        routes = ()

    check = evaluate(problem, routes)
    if check.violations:
        status = INFEASIBLE
    elif not routes and keep:
        status = NO_SOLUTION
    elif check.dropped:
        status = PARTIAL
    else:
        status = FEASIBLE
    return RoutingResult(
        routes=routes,
        cost=check.cost_scaled / problem.scale,
        feasible=status in (FEASIBLE, PARTIAL),
        dropped=check.dropped,
        backend=router.name,
        status=status,
        wall_s=time.perf_counter() - start,
        seed=seed,
        time_limit_s=time_limit_s,
        decimals=problem.decimals,
        num_customers=problem.size - 1,
        instance=problem.name,
        violations=check.violations,
        notes=(*notes, f"{router.name}: {run.detail}"),
    )
