"""The fluid model as a MIP (or its LP relaxation) at a trial makespan T, in one pywraplp model: `FluidModel`.

Variables: x[(wave, site, role)] testers sent, y[(zone, site)] visitor shares, b[(site, interval)] booths staffed,
cap[(site, breakpoint)] the visitors a site can swab from the start.

The model at a trial makespan T (each group a function below, its rule as the comment where it is added):
- `add_pool_counts`: each pool sends at most its testers of each role;
- `add_wave_sizes`: each wave carries at most `group_size` testers;
- `add_zone_routing`: every visitor is routed: a zone's shares add up to 1 (one site per zone on request);
- `add_booth_staffing`: a site staffs at most its booths, and each booth needs its testers of every role;
- `add_capacity_curve`: a site's capacity grows by its staffed booths over each interval;
- `add_service_by`: what reaches a site at or after u is swabbed in [u, T];
- `FluidModel.add_all_testers_sent` (second phase, by default): every tester who can reach a site is sent.

Objectives: the shortfall (the LP relaxation in the search, `elastic=True`), visitor walking and tester travel
(the second phase), or the testers sent (the diagnosis). Its variables never leave this module: a solve is
read back as an `Assignment` (only the direct formulation measured in benchmarks/staffing_formulations.py adds
rows of its own to them).
"""

from __future__ import annotations

import math
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ortools.linear_solver import linear_solver_pb2, pywraplp

from optimizer.result import SolveParams
from optimizer.solving import mip_status
from optimizer.staffing.problem import DEFAULT_PARAMS, Assignment, PoolSpec, StaffingOptions, StaffingProblem


def _row(solver: Any, variables: list, *, lb: float | None = None, ub: float | None = None) -> Any:
    """lb <= sum(variables) <= ub."""
    inf = solver.infinity()
    ct = solver.Constraint(-inf if lb is None else lb, inf if ub is None else ub)
    for v in variables:
        ct.SetCoefficient(v, 1.0)
    return ct


def _grouped(items: dict, key: Callable[[Any], Any]) -> dict[Any, list]:
    out: dict[Any, list] = defaultdict(list)
    for k, v in items.items():
        out[key(k)].append(v)
    return out


def _role_split(pool: PoolSpec, n: int) -> dict[str, int]:
    """`n` more testers split over the pool's roles in its own proportions."""
    roles = list(pool.roles)
    add = {r: (round(n * c / pool.count) if pool.count else 0) for r, c in roles}
    add[roles[0][0]] += n - sum(add.values())
    return add


def add_pool_counts(solver: Any, x: dict, problem: StaffingProblem) -> dict[tuple[int, str], Any]:
    """Each pool sends at most its testers of each role (the rows, for what-ifs)."""
    terms = _grouped(x, lambda k: (problem.waves[k[0]].pool, k[2]))
    return {(p, r): _row(solver, terms[(p, r)], ub=n)
            for p, pool in enumerate(problem.pools) for r, n in pool.roles if terms.get((p, r))}  # fmt: skip


def add_wave_sizes(solver: Any, x: dict, problem: StaffingProblem) -> dict[int, Any]:
    """Each wave carries at most group_size testers (the rows, for what-ifs)."""
    terms = _grouped(x, lambda k: k[0])
    return {g: _row(solver, vs, ub=problem.waves[g].size) for g, vs in sorted(terms.items())}


def add_zone_routing(solver: Any, y: dict, problem: StaffingProblem) -> None:
    """Every visitor is routed: a zone's shares add up to 1."""
    terms = _grouped(y, lambda k: k[0])
    for z in range(len(problem.zones)):
        if problem.mass[z] > 0:
            _row(solver, terms.get(z, []), lb=1.0, ub=1.0)


def add_booth_staffing(solver: Any, x: dict, b: dict, problem: StaffingProblem) -> None:
    """A site staffs at most its booths (the bound of b), and each booth needs its testers of every role.

    The testers of a role present in an interval are those of the interval before, plus the waves arriving,
    less those whose shift ends: a chain, so that every row stays short.
    """
    need = dict(problem.per_booth)
    inf = solver.infinity()
    for s, tl in enumerate(problem.timelines):
        for r in problem.roles:
            before: Any = None
            was: set[int] = set()
            for k, act in enumerate(tl.active):
                now = set(act)
                present = solver.NumVar(0, inf, f"p_{s}_{k}_{r}")
                chain = solver.Constraint(0, 0)  # present = before + arriving - leaving
                chain.SetCoefficient(present, 1)
                if before is not None:
                    chain.SetCoefficient(before, -1)
                for g, sign in [*((g, -1) for g in now - was), *((g, 1) for g in was - now)]:
                    if (g, s, r) in x:
                        chain.SetCoefficient(x[(g, s, r)], sign)
                if (s, k) in b:
                    staffed = solver.Constraint(-inf, 0)  # need * booths <= present
                    staffed.SetCoefficient(b[(s, k)], need[r])
                    staffed.SetCoefficient(present, -1)
                before, was = present, now


def add_capacity_curve(solver: Any, b: dict, cap: dict, problem: StaffingProblem) -> None:
    """A site's capacity (visitors it can swab from the start) grows by its staffed booths over each interval."""
    for s, tl in enumerate(problem.timelines):
        _row(solver, [cap[(s, 0)]], ub=0.0)
        for k in range(len(tl.times) - 1):
            grow = solver.Constraint(0, 0)  # cap[k+1] = cap[k] + b[k] * length / mean swab
            grow.SetCoefficient(cap[(s, k + 1)], 1)
            grow.SetCoefficient(cap[(s, k)], -1)
            if (s, k) in b:
                grow.SetCoefficient(b[(s, k)], -float(tl.times[k + 1] - tl.times[k]) / problem.mean_swab_s)


def add_service_by(solver: Any, y: dict, problem: StaffingProblem) -> list[tuple[int, float, Any]]:
    """What reaches a site at or after u is swabbed in [u, T] (the capacity terms are set for each trial T)."""
    rows = []
    for s, tl in enumerate(problem.timelines):
        for u in tl.u_points:
            ct = solver.Constraint(0.0, solver.infinity())
            for z in range(len(problem.zones)):
                if (z, s) in y and (m := problem.mass_from(z, float(problem.walk[z, s]), u)) > 0:
                    ct.SetCoefficient(y[(z, s)], -m)
            rows.append((s, u, ct))
    return rows


class FluidModel:
    """The fluid model at a trial makespan, in one pywraplp model; its variables never leave this module."""

    def __init__(self, problem: StaffingProblem, *, integer: bool, backend: str = "HIGHS",
                 split_zones: bool = True, elastic: bool = False, params: SolveParams = DEFAULT_PARAMS):  # fmt: skip
        self.problem, self.integer, self.backend, self.seed = problem, integer, backend, params.seed
        self.node_limit: int | None = None  # a MIP's deterministic work limit (see `solve`)
        solver = self.solver = pywraplp.Solver.CreateSolver(backend if integer else "GLOP")
        if solver is None:
            raise ValueError(f"OR-Tools has no {backend!r} solver in this build")
        self._value: Callable[[Any], float] | None = None
        self._objective: tuple[float, float] | None = None
        self.makespan_s: float | None = None
        whole_booths = integer and any(n > 1 for _, n in problem.per_booth)
        self.x: dict[tuple[int, int, str], Any] = {}
        for g, wave in enumerate(problem.waves):
            for s in range(len(problem.sites)):
                if math.isfinite(problem.travel[wave.pool, s]):
                    for r, n in problem.pools[wave.pool].roles:
                        ub = wave.size if problem.unlimited_waves else min(n, wave.size)
                        if g in problem.fixed_waves:  # sent already, as it was sent
                            sent = problem.fixed_x.get((g, s, r), 0)
                            self.x[(g, s, r)] = solver.Var(sent, sent, integer, f"x_{g}_{s}_{r}")
                        elif ub > 0:
                            self.x[(g, s, r)] = solver.Var(0, ub, integer, f"x_{g}_{s}_{r}")
        self.y: dict[tuple[int, int], Any] = {}
        fixed = problem.fixed_shares
        for z in range(len(problem.zones)):
            for s in range(len(problem.sites)):
                if problem.mass[z] > 0 and math.isfinite(problem.walk[z, s]):
                    if fixed is not None:  # visitors already sent keep their sites
                        share = fixed.get((z, s), 0.0)
                        self.y[(z, s)] = solver.NumVar(share, share, f"y_{z}_{s}")
                    else:
                        self.y[(z, s)] = solver.Var(0, 1, integer and not split_zones, f"y_{z}_{s}")
        self.b: dict[tuple[int, int], Any] = {}
        self.cap: dict[tuple[int, int], Any] = {}
        for s, tl in enumerate(problem.timelines):
            for k, act in enumerate(tl.active):
                if act:
                    self.b[(s, k)] = solver.Var(0, problem.booths[s], whole_booths, f"b_{s}_{k}")
            most = problem.booths[s] * float(tl.times[-1]) / problem.mean_swab_s
            for k in range(len(tl.times)):
                self.cap[(s, k)] = solver.NumVar(0, most, f"c_{s}_{k}")

        # Each pool sends at most its testers of each role (no such limit in the diagnosis's variant).
        self.pool_rows = {} if problem.unlimited_waves else add_pool_counts(solver, self.x, problem)
        # Each wave carries at most group_size testers.
        self.wave_rows = add_wave_sizes(solver, self.x, problem)
        # Every visitor is routed: a zone's shares add up to 1.
        add_zone_routing(solver, self.y, problem)
        # A site staffs at most its booths, and each booth needs its testers of every role.
        add_booth_staffing(solver, self.x, self.b, problem)
        # A site's capacity grows by its staffed booths over each interval.
        add_capacity_curve(solver, self.b, self.cap, problem)
        # What reaches a site at or after u is swabbed in [u, T] (T is set by `set_makespan`).
        self.service = add_service_by(solver, self.y, problem)
        self._terms: list[list[Any]] = [[] for _ in self.service]
        if elastic:  # a site may fall short (visitors not swabbed in time); the shortfall is minimised
            short = [solver.NumVar(0, solver.infinity(), f"short_{s}") for s in range(len(problem.sites))]
            for s, _, ct in self.service:
                ct.SetCoefficient(short[s], 1.0)
            for v in short:
                solver.Objective().SetCoefficient(v, 1.0)
            solver.Objective().SetMinimization()

    def capacity_at(self, s: int, t: float) -> dict[Any, float]:
        """The site's capacity up to `t` as terms of the model's variables."""
        tl = self.problem.timelines[s]
        k = tl.index(t)
        if k >= len(tl.times) - 1:
            return {self.cap[(s, len(tl.times) - 1)]: 1.0}
        out = {self.cap[(s, k)]: 1.0}
        if (s, k) in self.b and t > tl.times[k]:
            out[self.b[(s, k)]] = float(t - tl.times[k]) / self.problem.mean_swab_s
        return out

    def set_makespan(self, t_s: float) -> None:
        """Ask for every site to be done by `t_s`."""
        for i, (s, u, ct) in enumerate(self.service):
            for v in self._terms[i]:
                ct.SetCoefficient(v, 0.0)
            terms: dict[Any, float] = {}
            if u < t_s:
                terms = self.capacity_at(s, t_s)
                for v, c in self.capacity_at(s, u).items():
                    terms[v] = terms.get(v, 0.0) - c
            for v, c in terms.items():
                ct.SetCoefficient(v, c)
            self._terms[i] = list(terms)
        self.makespan_s = t_s

    def what_if(self, *, pool: int | None = None, testers: int = 0, site: int | None = None, booths: int = 0) -> None:
        """Give a pool more testers (in its last wave, which grows if it is full) or a site more booths;
        `what_if()` restores the scenario's own numbers."""
        p = self.problem
        extra = _role_split(p.pools[pool], testers) if pool is not None else {}
        for (q, r), row in self.pool_rows.items():
            row.SetUb(dict(p.pools[q].roles)[r] + (extra[r] if q == pool else 0))
        last = {w.pool: g for g, w in enumerate(p.waves)}
        size = {g: w.size for g, w in enumerate(p.waves)}
        if pool is not None and pool in last:
            g = last[pool]
            room = size[g] * p.pools[pool].n_waves - p.pools[pool].count
            size[g] += max(0, testers - room)
        for g, row in self.wave_rows.items():
            row.SetUb(size[g])
        for (g, _, r), v in self.x.items():
            if g in p.fixed_waves:  # sent already: as it was sent, whatever the what-if
                continue
            q = p.waves[g].pool
            have = dict(p.pools[q].roles)[r] + (extra[r] if q == pool else 0)
            v.SetUb(size[g] if p.unlimited_waves else min(have, size[g]))
        for (s, _), v in self.b.items():
            v.SetUb(p.booths[s] + (booths if s == site else 0))

    def minimise_walk_and_travel(self, options: StaffingOptions) -> None:
        """The second phase's objective: visitor-seconds walked and tester-seconds travelled, weighted."""
        obj = self.solver.Objective()
        obj.Clear()
        p = self.problem
        for (z, s), v in self.y.items():
            obj.SetCoefficient(v, options.walk_weight * float(p.mass[z] * p.walk[z, s]))
        for (g, s, _), v in self.x.items():
            obj.SetCoefficient(v, options.travel_weight * float(p.travel[p.waves[g].pool, s]))
        obj.SetMinimization()

    def minimise_testers(self) -> None:
        """The diagnosis's objective: as few testers as possible."""
        obj = self.solver.Objective()
        obj.Clear()
        for v in self.x.values():
            obj.SetCoefficient(v, 1.0)
        obj.SetMinimization()

    def add_all_testers_sent(self) -> None:
        """Every tester who can reach a site is sent (the pool rows become equalities)."""
        for (q, r), row in self.pool_rows.items():
            row.SetLb(dict(self.problem.pools[q].roles)[r])

    def solve(self, time_limit_s: float, *, relative_gap: float = 0.0) -> str:
        """Solve the model as it stands: OPTIMAL, FEASIBLE, INFEASIBLE or UNKNOWN.

        With `node_limit` set (a deterministic search), a MIP stops after that many branch-and-bound nodes, the
        same work on any machine, and `time_limit_s` is only the safety cap; a MIP stopped by the node limit
        reports UNKNOWN (OR-Tools passes on no incumbent then), which the search treats as undecided.

        An LP is re-solved in place (GLOP starts from the last basis). A MIP is solved by a fresh solver
        loaded from the model's proto: SCIP does not re-solve a modified model reliably through pywraplp.
        """
        mp = pywraplp.MPSolverParameters()
        if not self.integer:
            self.solver.SetTimeLimit(max(1, int(1000 * time_limit_s)))
            status = mip_status(self.solver.Solve(mp))
            ok = status == "OPTIMAL"
            self._value = (lambda v: v.solution_value()) if ok else None
            self._objective = (self.solver.Objective().Value(),) * 2 if ok else None
            return status
        proto = linear_solver_pb2.MPModelProto()
        self.solver.ExportModelToProto(proto)
        fresh = pywraplp.Solver.CreateSolver(self.backend)
        fresh.LoadModelFromProto(proto)
        fresh.SetTimeLimit(max(1, int(1000 * time_limit_s)))
        nodes = self.node_limit
        if self.backend == "SCIP":
            fresh.SetSolverSpecificParametersAsString(f"randomization/randomseedshift = {self.seed}\n"
                                                      + (f"limits/totalnodes = {nodes}\n" if nodes else ""))
        elif self.backend == "HIGHS":  # no banner on stdout (it would spoil `--json`), and our seed
            fresh.SetSolverSpecificParametersAsString(f"output_flag=false\nrandom_seed={self.seed}\n"
                                                      + (f"threads=1\nmip_max_nodes={nodes}\n" if nodes else ""))
        mp.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, max(relative_gap, 1e-9))
        with _stdout_silenced():  # HiGHS 1.12 prints a debug line on stdout from its MIP code (it would spoil --json)
            status = mip_status(fresh.Solve(mp))
        if status in ("OPTIMAL", "FEASIBLE"):
            values = [v.solution_value() for v in fresh.variables()]
            self._value = lambda v: values[v.index()]
            self._objective = (fresh.Objective().Value(), fresh.Objective().BestBound())
        else:
            self._value, self._objective = None, None
        return status

    def objective(self) -> tuple[float, float]:
        """The last solve's objective value and best bound."""
        assert self._objective is not None, "no solution"
        return self._objective

    def assignment(self) -> Assignment:
        """The last solve's testers and shares, as numbers."""
        value = self._value
        assert value is not None, "no solution"
        x = {key: round(value(v)) for key, v in self.x.items() if value(v) > 0.5}
        y = {key: value(v) for key, v in self.y.items() if value(v) > 1e-9}
        return Assignment(x, _normalise_shares(y))


@contextmanager
def _stdout_silenced() -> Iterator[None]:
    """The process's standard output (file descriptor 1, where a solver's C++ code writes) sent to the null device
    while inside; Python's own `sys.stdout` is flushed first so that nothing of it is lost."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _normalise_shares(y: dict[tuple[int, int], float]) -> dict[tuple[int, int], float]:
    """Shares rounded to 1e-9 that add up to exactly 1 per zone (the largest absorbs the rounding)."""
    by_zone: dict[int, dict[int, float]] = defaultdict(dict)
    for (z, s), v in y.items():
        if v > 1e-7:
            by_zone[z][s] = min(1.0, v)
    out = {}
    for z, row in by_zone.items():
        total = sum(row.values())
        row = {s: round(v / total, 9) for s, v in row.items()}
        top = max(row, key=lambda s: (row[s], -s))
        row[top] = round(1.0 - sum(v for s, v in row.items() if s != top), 9)
        out.update({(z, s): v for s, v in row.items() if v > 0})
    return out
