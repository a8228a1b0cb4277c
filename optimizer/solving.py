"""What every optimisation model shares about solving: the status names and what each means, one time budget,
and how solver options are named.

Statuses. Every model reports one of these words (`PlanResult.status`), whatever solver it ran on:
- `OPTIMAL`: the plan is proven best within the relative gap asked for (`SolveParams.relative_gap`);
- `FEASIBLE`: a plan that meets every constraint, not proven best: the gap says how far from the bound it may be;
- `INFEASIBLE`: no plan meets the constraints; the result's diagnosis says which resource or rule binds;
- `MODEL_INVALID`: the model itself is wrong (a bug, reported as such);
- `UNKNOWN`: the time ran out before any plan was found (or the solver stopped for another reason).
`cp_sat_status` and `mip_status` translate the solvers' own codes; nothing else maps a solver code.

Time. A `Budget` is a model's whole solving time, spent by its phases and side solves: wall seconds, or CP-SAT's
deterministic time (a count of work units, so that the same input gives the same plan however busy the machine
is), with a wall-clock cap that a deterministic run stops at anyway.

Options. The tunables every model reads are `SolveParams` (`time_limit_s`, `workers`, `relative_gap`, `seed`); a
model's own choices are a frozen `<Model>Options` dataclass beside it (`TyphoonOptions`, `CrowdOptions`,
`BusOptions`, `StaffingOptions`), with durations in `_s`, shares of the time limit in `_share`, and counts as
plain nouns.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ortools.linear_solver import linear_solver_pb2, pywraplp
from ortools.sat.python import cp_model

#: The status words and what each means for the commander reading a plan.
STATUS_MEANING: dict[str, str] = {
    "OPTIMAL": "proven best within the gap asked for",
    "FEASIBLE": "meets every constraint; not proven best (see the gap to the bound)",
    "INFEASIBLE": "no plan meets the constraints (see the diagnosis)",
    "MODEL_INVALID": "the model is wrong: please report it",
    "UNKNOWN": "no plan found within the time limit",
}

#: The statuses that come with a plan.
WITH_PLAN = frozenset({"OPTIMAL", "FEASIBLE"})

DET_PER_S = 0.5  # CP-SAT deterministic time per wall second, one worker (measured 0.47-0.65 on the Disney case)
# A deterministic run stops anyway at this multiple of its time limit plus a second (then it is not reproducible,
# and says so). 10 x, as the staffing, bus and typhoon searches' own caps: at 3 x the crowd's staff model (a 4 s
# limit) was cut at 13.1 s on a machine at a load average of 12, and two runs of the same inputs gave two plans.
WALL_CAP = 10.0


#: A floor under every deterministic solve's wall-clock safety cap, while inside `safety_cap` (None: none).
_CAP_FLOOR_S: ContextVar[float | None] = ContextVar("yiwang_wall_cap_floor_s", default=None)


@contextmanager
def safety_cap(seconds: float) -> Iterator[None]:
    """Inside, no deterministic solve is stopped by the wall clock before `seconds` have passed, whatever its own
    limit: a pipeline on a time budget (`command.budget`) gives its solves the pipeline's cap, so that a short
    limit on a busy machine still does all its deterministic work (and gives the plan a quiet machine gives)."""
    token = _CAP_FLOOR_S.set(seconds)
    try:
        yield
    finally:
        _CAP_FLOOR_S.reset(token)


def wall_cap_s(time_limit_s: float, factor: float = WALL_CAP) -> float:
    """A deterministic solve's wall-clock safety cap: `factor` x its limit plus a second, or the floor
    `safety_cap` sets, whichever is later."""
    floor = _CAP_FLOOR_S.get()
    own = factor * time_limit_s + 1.0
    return own if floor is None else max(own, floor)


def cp_sat_status(code: cp_model.CpSolverStatus) -> str:
    """A CP-SAT status code as a status word."""
    return {cp_model.OPTIMAL: "OPTIMAL", cp_model.FEASIBLE: "FEASIBLE", cp_model.INFEASIBLE: "INFEASIBLE",
            cp_model.MODEL_INVALID: "MODEL_INVALID"}.get(code, "UNKNOWN")  # fmt: skip


def mip_status(code: int) -> str:
    """A pywraplp (linear solver: GLOP, SCIP, CBC, HiGHS) result code as a status word."""
    return {pywraplp.Solver.OPTIMAL: "OPTIMAL", pywraplp.Solver.FEASIBLE: "FEASIBLE",
            pywraplp.Solver.INFEASIBLE: "INFEASIBLE",
            pywraplp.Solver.MODEL_INVALID: "MODEL_INVALID"}.get(code, "UNKNOWN")  # fmt: skip


def lp_response_status(code: int) -> str:
    """An `MPSolutionResponse` status (a linear solver solved through a proto: `pywraplp.Solver.SolveWithProto`)
    as a status word."""
    pb = linear_solver_pb2
    return {pb.MPSOLVER_OPTIMAL: "OPTIMAL", pb.MPSOLVER_FEASIBLE: "FEASIBLE", pb.MPSOLVER_INFEASIBLE: "INFEASIBLE",
            pb.MPSOLVER_MODEL_INVALID: "MODEL_INVALID"}.get(code, "UNKNOWN")  # fmt: skip


def cp_sat_limits(parameters: Any, time_limit_s: float, *, workers: int, deterministic: bool) -> None:
    """CP-SAT's stopping rule. Deterministic: one worker and `time_limit_s x DET_PER_S` units of deterministic
    time, the same work every run, so the same input gives the same answer however busy the machine is; the wall
    clock only a safety cap (`WALL_CAP`; `capped` says when it was hit). Otherwise `workers` workers for
    `time_limit_s` wall seconds."""
    if deterministic:
        parameters.num_workers = 1
        parameters.max_deterministic_time = max(0.01, time_limit_s * DET_PER_S)
        parameters.max_time_in_seconds = wall_cap_s(time_limit_s)
    else:
        parameters.num_workers = max(1, workers)
        parameters.max_time_in_seconds = max(0.01, time_limit_s)


def capped(wall_s: float, time_limit_s: float, *, deterministic: bool) -> bool:
    """Whether a deterministic CP-SAT run was stopped by its wall-clock safety cap (then not reproducible)."""
    return deterministic and wall_s >= 0.99 * wall_cap_s(time_limit_s)


def has_plan(status: str) -> bool:
    return status in WITH_PLAN


@dataclass
class Budget:
    """Solver time: wall seconds, or CP-SAT's deterministic time (the same work, so the same answer, every run)."""

    limit_s: float
    deterministic: bool = False
    det_used: float = 0.0
    t0: float = field(default_factory=time.perf_counter)
    cap_hit: bool = False  # a deterministic budget ran into its wall-clock safety cap (then not reproducible)
    cap_factor: float = WALL_CAP  # the safety cap, as a multiple of the limit (plus a second)

    @property
    def total(self) -> float:
        return self.limit_s * (DET_PER_S if self.deterministic else 1.0)

    def wall(self) -> float:
        return time.perf_counter() - self.t0

    def used(self) -> float:
        return self.det_used if self.deterministic else self.wall()

    @property
    def wall_cap_s(self) -> float:
        return wall_cap_s(self.limit_s, self.cap_factor) if self.deterministic else self.limit_s

    def left(self, until: float | None = None) -> float:
        """Units left before `until` (a mark) or the end; none once the wall cap is reached."""
        if self.wall() >= self.wall_cap_s:
            self.cap_hit = self.cap_hit or self.deterministic
            return 0.0
        end = self.total if until is None else min(until, self.total)
        return max(0.0, end - self.used())

    def charge(self, units: float) -> None:
        """Count work done off CP-SAT's clock in deterministic units (a MIP probe or an LP, each at a fixed rate
        that does not depend on how long it took; a wall budget counts its seconds itself)."""
        if self.deterministic:
            self.det_used += units

    def mark(self, share: float) -> float:
        """The point `share` of the way from now to the end: where a phase must stop."""
        return self.used() + share * self.left()

    def seconds_left(self) -> float:
        """Wall seconds left (what a solver without deterministic time is given)."""
        return max(0.0, self.wall_cap_s - self.wall()) if self.deterministic else self.left()

    def cap_note(self) -> str | None:
        """A rationale line when a deterministic budget was stopped by its wall-clock cap, else None."""
        if not self.cap_hit:
            return None
        return (f"stopped by the wall-clock safety cap ({self.wall_cap_s:.0f} s) before its deterministic work "
                "was done: this plan may differ from a run on a less busy machine")


__all__ = ["DET_PER_S", "STATUS_MEANING", "WALL_CAP", "WITH_PLAN", "Budget", "capped", "cp_sat_limits",
           "cp_sat_status", "has_plan", "mip_status", "safety_cap", "wall_cap_s"]  # fmt: skip
