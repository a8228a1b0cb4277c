"""The solvers the dispatch model runs on: one small class per backend behind one `SolverBackend` protocol.

A backend holds one linear integer model and its variables (they never leave it but as opaque handles), solves
it within a share of the search's `Budget`, and reads the solution back. CP-SAT is the default (chosen by
measurement: benchmarks/README.md); SCIP, CBC and HiGHS through pywraplp are there for comparison, and GLOP
solves the LP relaxation (the same model with continuous variables) for bounds. What a backend can do beyond
solving is a flag, so that the search asks the backend and never its name:
- `restarts`: short runs with new seeds find first plans sooner than one long run (CP-SAT's heavy tail);
- a `NeighbourhoodBackend` (CP-SAT) can also narrow variable domains in place and solve the model again (large
  neighbourhoods); the search asks whether a backend is one, never which one it is.

The search's clock is `optimizer.solving.Budget`: wall seconds, or CP-SAT's deterministic time (about
`DET_PER_S` units a second on one worker), so that the same input gives the same plan every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from optimizer.result import SolveParams
from optimizer.solving import DET_PER_S, Budget, cp_sat_status, mip_status

Backend = Literal["CP_SAT", "SCIP", "HIGHS", "CBC", "GLOP"]
RELAXATION: Backend = "GLOP"  # the backend that solves the LP relaxation (for bounds)

SOLVE_OVERHEAD = 0.01  # deterministic time charged per solver call for the model building around it


class SolverBackend(Protocol):
    """One linear integer model in one solver; variables are opaque handles that stay with the model."""

    name: str
    status: str  # of the last solve: OPTIMAL, FEASIBLE, INFEASIBLE, MODEL_INVALID or UNKNOWN
    restarts: bool  # short runs with new seeds beat one long run

    def int_var(self, lb: int, ub: int, name: str) -> Any: ...

    def add(self, constraint: Any) -> None: ...

    def minimise(self, terms: list[tuple[int, Any]], offset: float = 0.0) -> None:
        """Minimise sum(c * v) + offset (the offset inside the solver, so that its relative gap is the true one)."""

    def hint(self, values: dict[Any, int]) -> None: ...

    def solve(self, amount: float, budget: Budget, params: SolveParams, *, gap: float) -> str:
        """Solve with at most `amount` of the budget's units (fewer if the budget has fewer left)."""

    def value(self, v: Any) -> int: ...

    def objective(self) -> tuple[float, float]:
        """(objective, best bound) of the last solve."""


@runtime_checkable
class NeighbourhoodBackend(SolverBackend, Protocol):
    """A backend whose variable domains can be narrowed in place and the model solved again (CP-SAT)."""

    def set_domain(self, v: Any, lo: int, hi: int) -> None:
        """Narrow or restore a variable's domain in place (for the neighbourhoods of the search)."""

    def domain_max(self, v: Any) -> int:
        """The largest value of a variable's domain as built."""


class CpSatBackend:
    """CP-SAT: seeded, on its deterministic clock (one worker) or the wall clock (`workers` in parallel)."""

    restarts = True

    def __init__(self, name: str = "CP_SAT"):
        self.name = name
        self.cp = cp_model.CpModel()
        self.cp_solver: cp_model.CpSolver | None = None
        self.status = "UNKNOWN"

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        return self.cp.new_int_var(int(lb), int(ub), name)

    def add(self, constraint: Any) -> None:
        self.cp.add(constraint)

    def minimise(self, terms: list[tuple[int, Any]], offset: float = 0.0) -> None:
        self.cp.minimize(sum(c * v for c, v in terms if c) + round(offset))

    def hint(self, values: dict[Any, int]) -> None:
        self.cp.clear_hints()
        for v, x in values.items():
            self.cp.add_hint(v, int(x))

    def set_domain(self, v: Any, lo: int, hi: int) -> None:
        domain = self.cp.proto.variables[v.index].domain
        domain.clear()
        domain.extend([int(lo), int(hi)])

    def domain_max(self, v: Any) -> int:
        return int(list(self.cp.proto.variables[v.index].domain)[-1])

    def solve(self, amount: float, budget: Budget, params: SolveParams, *, gap: float) -> str:
        amount = max(1e-3, min(amount, budget.left()))
        solver = self.cp_solver = cp_model.CpSolver()
        solver.parameters.random_seed = params.seed
        solver.parameters.relative_gap_limit = gap
        if budget.deterministic:
            solver.parameters.num_workers = 1
            solver.parameters.max_deterministic_time = amount
            solver.parameters.max_time_in_seconds = max(0.01, budget.wall_cap_s - budget.wall())
        else:
            solver.parameters.num_workers = max(1, params.workers)
            solver.parameters.max_time_in_seconds = amount
        code = solver.solve(self.cp)
        budget.det_used += solver.deterministic_time + SOLVE_OVERHEAD
        self.status = cp_sat_status(code)
        return self.status

    def value(self, v: Any) -> int:
        assert self.cp_solver is not None
        return int(self.cp_solver.value(v))

    def objective(self) -> tuple[float, float]:
        assert self.cp_solver is not None
        return self.cp_solver.objective_value, self.cp_solver.best_objective_bound


class MipBackend:
    """A MIP solver through pywraplp, on the wall clock (charged to a deterministic budget at `DET_PER_S`)."""

    restarts = False
    takes_hints: ClassVar[bool] = False

    def __init__(self, name: str):
        self.name = name
        self.mip = pywraplp.Solver.CreateSolver(name)
        if self.mip is None:
            raise ValueError(f"OR-Tools has no {name!r} solver in this build")
        self.status = "UNKNOWN"

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        return self.mip.IntVar(int(lb), int(ub), name)

    def add(self, constraint: Any) -> None:
        self.mip.Add(constraint)

    def minimise(self, terms: list[tuple[int, Any]], offset: float = 0.0) -> None:
        obj = self.mip.Objective()
        obj.Clear()
        for c, v in terms:
            if c:
                obj.SetCoefficient(v, obj.GetCoefficient(v) + c)
        obj.SetOffset(float(offset))
        obj.SetMinimization()

    def hint(self, values: dict[Any, int]) -> None:
        if self.takes_hints:
            self.mip.SetHint(list(values), [float(x) for x in values.values()])

    def solve(self, amount: float, budget: Budget, params: SolveParams, *, gap: float) -> str:
        amount = max(1e-3, min(amount, budget.left()))
        started = time.perf_counter()
        self.mip.SetTimeLimit(max(1, int(1000 * amount / (DET_PER_S if budget.deterministic else 1.0))))
        self._set_threads(params)
        mp = pywraplp.MPSolverParameters()
        self._set_gap(mp, gap)
        code = self.mip.Solve(mp)
        self._charge(budget, started)
        self.status = mip_status(code)
        return self.status

    def _set_threads(self, params: SolveParams) -> None:
        self.mip.SetNumThreads(max(1, params.workers))

    def _set_gap(self, mp: pywraplp.MPSolverParameters, gap: float) -> None:
        mp.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, max(gap, 1e-9))

    def _charge(self, budget: Budget, started: float) -> None:
        """MIP solvers have no deterministic clock here: charge their wall time."""
        if budget.deterministic:
            budget.det_used += DET_PER_S * (time.perf_counter() - started)

    def value(self, v: Any) -> int:
        return round(v.solution_value())

    def objective(self) -> tuple[float, float]:
        obj = self.mip.Objective()
        return obj.Value(), obj.BestBound()


class ScipBackend(MipBackend):
    """SCIP through pywraplp, with hints."""

    takes_hints = True

    def __init__(self, name: str = "SCIP"):
        super().__init__(name)


class CbcBackend(MipBackend):
    """CBC through pywraplp, with hints."""

    takes_hints = True

    def __init__(self, name: str = "CBC"):
        super().__init__(name)


class HighsBackend(MipBackend):
    """HiGHS through pywraplp, without hints (they crash it in OR-Tools 9.15)."""

    def __init__(self, name: str = "HIGHS"):
        super().__init__(name)


class GlopBackend(MipBackend):
    """GLOP: the LP relaxation (continuous variables), for bounds; its bound is its objective, its time is free."""

    def __init__(self, name: str = "GLOP"):
        super().__init__(name)

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        return self.mip.NumVar(int(lb), int(ub), name)

    def _set_threads(self, params: SolveParams) -> None:
        pass

    def _set_gap(self, mp: pywraplp.MPSolverParameters, gap: float) -> None:
        pass

    def _charge(self, budget: Budget, started: float) -> None:
        pass

    def objective(self) -> tuple[float, float]:
        value = self.mip.Objective().Value()
        return value, value


BACKENDS: dict[str, Callable[[str], SolverBackend]] = {
    "CP_SAT": CpSatBackend,
    "SCIP": ScipBackend,
    "CBC": CbcBackend,
    "HIGHS": HighsBackend,
    "GLOP": GlopBackend,
}


def make_backend(name: str) -> SolverBackend:
    """A new empty model on the backend `name` (another pywraplp solver by its name: a MIP without hints)."""
    cls = BACKENDS.get(name)
    return cls(name) if cls is not None else MipBackend(name)
