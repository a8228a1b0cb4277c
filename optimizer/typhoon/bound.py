"""A proven lower bound for the typhoon model from its LP relaxation (GLOP), for when CP-SAT's own is weak.

The CP-SAT model is read back from its proto (its linear and exactly-one constraints, every variable's domain
relaxed to an interval) and solved as a linear programme; the optimum, rounded down safely, holds for the
fluid model on its grid (not for the simulation). `solve_typhoon(lp_bound_s=...)` hands it to CP-SAT.
"""

from __future__ import annotations

import math

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model


def lp_relaxation_bound(model: cp_model.CpModel, time_limit_s: float) -> int | None:
    """A lower bound on the objective (integer units) from the LP relaxation of this model, solved by GLOP; None
    if it is not solved in time. The LP optimum is rounded down with a margin of 1e-6 relative plus one unit
    for GLOP's floating-point tolerances, so the bound is safe."""
    proto = model.Proto()
    lp = pywraplp.Solver.CreateSolver("GLOP")
    inf = lp.infinity()
    cols = [lp.NumVar(float(v.domain[0]), float(v.domain[len(v.domain) - 1]), "") for v in proto.variables]
    for ct in proto.constraints:
        if ct.has_linear():
            lo, hi = ct.linear.domain[0], ct.linear.domain[len(ct.linear.domain) - 1]
            row = lp.RowConstraint(lo if lo > -(2**62) else -inf, hi if hi < 2**62 else inf, "")
            for ref, a in zip(ct.linear.vars, ct.linear.coeffs, strict=True):
                row.SetCoefficient(cols[ref], a)
        elif ct.has_exactly_one():
            row = lp.RowConstraint(1, 1, "")
            for ref in ct.exactly_one.literals:
                row.SetCoefficient(cols[ref], 1)
        else:  # pragma: no cover - the model has only linear and exactly-one constraints
            raise TypeError(f"constraint {ct} has no LP relaxation here")
    objective = lp.Objective()
    for ref, a in zip(proto.objective.vars, proto.objective.coeffs, strict=True):
        objective.SetCoefficient(cols[ref], a)
    objective.SetOffset(proto.objective.offset)
    objective.SetMinimization()
    lp.SetTimeLimit(max(1, round(1000 * time_limit_s)))
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    value = objective.Value()
    return max(0, math.floor(value - 1e-6 * abs(value) - 1))  # every term of the objective is >= 0
