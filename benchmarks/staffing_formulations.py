"""The staffing formulations measured against the product's bisection, and not used by it.

- `Direct`: one MIP with the makespan a variable on a time grid (`grid_step_s`, 60 s), by SCIP, CBC or HiGHS;
- `CP_SAT_PROBES`: the bisection with its probes by CP-SAT on a whole-second, whole-visitor copy of the model.

Both plug into `optimizer.staffing.plan_staffing(..., formulation=...)`; `variant("direct", "SCIP")` gives the
options and formulation that benchmarks/staffing.py names "direct:SCIP". Results: benchmarks/README.md.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

from optimizer.result import SolveParams
from optimizer.solving import Budget
from optimizer.staffing.model import FluidModel, _grouped, _normalise_shares
from optimizer.staffing.problem import Assignment, StaffingOptions, StaffingProblem
from optimizer.staffing.search import BISECTION, Bisection, Formulation, Search


@dataclass(frozen=True)
class Direct:
    """The direct formulation (`search_direct`) as the first phase of `plan_staffing`; it cannot re-plan."""

    grid_step_s: float = 60.0
    name: str = "direct"

    def search(self, problem: StaffingProblem, *, params: SolveParams, options: StaffingOptions, budget: Budget,
               incumbent: Assignment | None) -> Search:  # fmt: skip
        if incumbent is not None or problem.fixed_shares is not None:
            raise ValueError("the direct formulation cannot re-plan from a state; use the bisection")
        return search_direct(problem, params=params, options=options, budget=budget, grid_step_s=self.grid_step_s)


def search_direct(problem: StaffingProblem, *, params: SolveParams, options: StaffingOptions, budget: Budget,
                  grid_step_s: float = 60.0) -> Search:  # fmt: skip
    """One MIP with the makespan a variable on a time grid (`grid_step_s`) over the LP relaxation's rough range.

    Binary o_j says the plan runs into grid segment j (o_j >= o_j+1); a site's capacity in segment j counts only
    when o_j is set. The MIP's bound holds on the grid: the makespan itself is at least that bound less one step.
    """
    out = Search()
    if not out.start(problem, tol=0.01, budget=budget) or not math.isfinite(out.lp_s):
        return out
    started = time.perf_counter()
    model = FluidModel(problem, integer=True, backend=options.backend, split_zones=options.split_zones, params=params)
    solver, step, low = model.solver, grid_step_s, out.lp_bracket[0]  # type: ignore[index]
    grid = [low + j * step for j in range(math.ceil((out.lp_s * 1.05 - low) / step) + 1)]
    used = [solver.BoolVar(f"o_{j}") for j in range(1, len(grid))]  # used[j - 1]: T reaches grid[j]
    for a, b in itertools.pairwise(used):
        solver.Add(b <= a)  # Segments are used in order.
    segments: dict[tuple[int, int], Any] = {}

    def segment(s: int, j: int) -> Any:
        """The capacity of site s in grid segment j that counts: all of it if the segment is used, else none."""
        if (s, j) not in segments:
            w = segments[(s, j)] = solver.NumVar(0, solver.infinity(), f"w_{s}_{j}")
            _at_most_capacity(model, s, grid[j - 1], grid[j], w)
            solver.Add(w <= problem.booths[s] / problem.mean_swab_s * (grid[j] - grid[j - 1]) * used[j - 1])
        return segments[(s, j)]

    for s, u, ct in model.service:  # What reaches a site at or after u is swabbed in [u, T].
        if u >= grid[-1]:
            continue
        if u < grid[0]:  # [u, grid[0]] always counts
            for v, c in model.capacity_at(s, grid[0]).items():
                ct.SetCoefficient(v, ct.GetCoefficient(v) + c)
            for v, c in model.capacity_at(s, u).items():
                ct.SetCoefficient(v, ct.GetCoefficient(v) - c)
            first = 1
        else:  # the part of u's segment after u counts when the segment is used
            j0 = bisect.bisect_right(grid, u)
            part = solver.NumVar(0, solver.infinity(), "")
            _at_most_capacity(model, s, u, grid[j0], part)
            solver.Add(part <= problem.booths[s] / problem.mean_swab_s * (grid[j0] - u) * used[j0 - 1])
            ct.SetCoefficient(part, 1.0)
            first = j0 + 1
        for j in range(first, len(grid)):
            ct.SetCoefficient(segment(s, j), 1.0)
    obj = solver.Objective()
    for j, o in enumerate(used, start=1):
        obj.SetCoefficient(o, grid[j] - grid[j - 1])
    obj.SetMinimization()
    status = model.solve(budget.left(), relative_gap=params.relative_gap / 2)
    out.probes.append((grid[-1], status, time.perf_counter() - started))
    if status in ("OPTIMAL", "FEASIBLE"):
        out.offer(problem, model.assignment())
        if (on_grid := grid[0] + model.objective()[1] - step) > out.lower_s:
            out.lower_s, out.lower_source = on_grid, "the direct MIP's bound on its time grid, less one step"
    out.model = FluidModel(problem, integer=True, backend=options.backend, split_zones=options.split_zones,
                           params=params)  # fmt: skip
    out.close(params.relative_gap)
    return out


def _at_most_capacity(model: FluidModel, s: int, a: float, b: float, var: Any) -> None:
    """var <= the site's capacity in [a, b]."""
    ct = model.solver.Constraint(-model.solver.infinity(), 0.0)
    ct.SetCoefficient(var, 1.0)
    for v, c in model.capacity_at(s, b).items():
        ct.SetCoefficient(v, ct.GetCoefficient(v) - c)
    for v, c in model.capacity_at(s, a).items():
        ct.SetCoefficient(v, ct.GetCoefficient(v) + c)


class CpSatProbe:
    """The fluid model at a trial makespan in CP-SAT: whole visitors and whole seconds, rounded to the safe side
    (capacity down, demand up), so that every plan it finds meets T; its infeasibility proves nothing."""

    def __init__(self, problem: StaffingProblem, *, split_zones: bool, params: SolveParams):
        if problem.fixed_shares is not None:
            raise ValueError("the CP_SAT backend cannot re-plan from a state; use HIGHS, SCIP or CBC")
        self.problem, self.split_zones, self.params = problem, split_zones, params
        self.makespan_s = 0.0
        self._solution: Assignment | None = None

    def set_makespan(self, t_s: float) -> None:
        self.makespan_s = t_s

    def solve(self, time_limit_s: float, *, relative_gap: float = 0.0) -> str:
        from ortools.sat.python import cp_model

        p, t, m = self.problem, self.makespan_s, cp_model.CpModel()
        x = {}
        for g, wave in enumerate(p.waves):
            for s in range(len(p.sites)):
                for r, n in p.pools[wave.pool].roles:
                    if math.isfinite(p.travel[wave.pool, s]) and min(n, wave.size) > 0:
                        x[(g, s, r)] = m.new_int_var(0, min(n, wave.size), "")
        for (q, r), vs in _grouped(x, lambda k: (p.waves[k[0]].pool, k[2])).items():
            m.add(sum(vs) <= dict(p.pools[q].roles)[r])  # Each pool sends at most its testers of each role.
        for g, vs in _grouped(x, lambda k: k[0]).items():
            m.add(sum(vs) <= p.waves[g].size)  # Each wave carries at most group_size testers.
        whole = {z: math.ceil(p.mass[z] - 1e-9) for z in range(len(p.zones))}
        sent: dict[tuple[int, int], Any] = {}
        for z in (z for z in range(len(p.zones)) if whole[z] > 0):
            reach = [s for s in range(len(p.sites)) if math.isfinite(p.walk[z, s])]
            for s in reach:
                one = m.new_int_var(0, whole[z], "") if self.split_zones else m.new_bool_var("") * whole[z]
                sent[(z, s)] = one
            m.add(sum(sent[(z, s)] for s in reach) == whole[z])  # Every visitor is routed.
        b = {}
        need = dict(p.per_booth)
        for s, tl in enumerate(p.timelines):
            for k, act in enumerate(tl.active):
                if act and tl.times[k] < t:
                    b[(s, k)] = m.new_int_var(0, p.booths[s], "")
                    for r in p.roles:  # A site staffs at most its booths; each needs its testers of every role.
                        m.add(need[r] * b[(s, k)] <= sum(x[(g, s, r)] for g in act if (g, s, r) in x))
            for u in tl.u_points:  # What reaches s at or after u is swabbed in [u, T] (milli-swab-seconds).
                cap = sum(b[(s, k)] * 1000 * math.floor(max(0.0, min(tl.times[k + 1], t) - max(tl.times[k], u)))
                          for k in range(len(tl.active)) if (s, k) in b)  # fmt: skip
                share = {z: p.mass_from(z, float(p.walk[z, s]), u) / p.mass[z] for z in range(len(p.zones))
                         if (z, s) in sent}  # fmt: skip
                demand = sum(sent[(z, s)] * math.ceil(1000 * p.mean_swab_s * f) for z, f in share.items())
                if not isinstance(demand, int):
                    m.add(cap >= demand)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
        solver.parameters.num_workers = max(1, self.params.workers)
        solver.parameters.random_seed = self.params.seed
        if solver.solve(m) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            xs = {k: int(solver.value(v)) for k, v in x.items() if solver.value(v) > 0}
            ys = {k: solver.value(v) / whole[k[0]] for k, v in sent.items() if solver.value(v) > 0}
            self._solution = Assignment(xs, _normalise_shares(ys))
            return "FEASIBLE"
        self._solution = None
        return "UNKNOWN"  # infeasible in the rounded model proves nothing about the fluid one

    def assignment(self) -> Assignment:
        assert self._solution is not None, "no solution"
        return self._solution


CP_SAT_PROBES = Bisection(name="bisection, CP-SAT probes", probe_by=CpSatProbe)


def variant(formulation: str, backend: str, **options: Any) -> tuple[StaffingOptions, Formulation]:
    """The options and first phase of "formulation:backend" as benchmarks/staffing.py names them (`options` are
    more `StaffingOptions`); the MIPs besides the probes (second phase, diagnosis) are HiGHS's with CP-SAT probes."""
    if backend == "CP_SAT":
        if formulation != "bisection":
            raise ValueError(f"{formulation}:CP_SAT: CP-SAT only probes the bisection")
        return StaffingOptions(backend="HIGHS", **options), CP_SAT_PROBES
    if formulation not in ("bisection", "direct"):
        raise ValueError(f"{formulation}:{backend}: the formulations are bisection and direct")
    params = StaffingOptions(backend=backend, **options)  # type: ignore[arg-type]
    return params, Direct() if formulation == "direct" else BISECTION
