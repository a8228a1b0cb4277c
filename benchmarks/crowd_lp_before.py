"""The crowd flow LP as it was built before (commit 4d9b892): one `SetCoefficient` at a time through pywraplp,
its answer read one variable at a time. Kept only as `benchmarks/crowd_lp.py`'s baseline, measured in the same run
as the LP built from arrays (`optimizer.crowd.lp`); `solve_flows` here also returns the CPU seconds of its build,
GLOP's solve and the read-out."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp

from optimizer.crowd.flow import FlowProblem
from optimizer.crowd.lp import FlowSolution
from optimizer.solving import mip_status


class _Flows:
    """The LP's variables and constraint groups (kept together so that each group is a small function)."""

    def __init__(self, p: FlowProblem, solver: str = "GLOP"):
        self.p = p
        self.solver = pywraplp.Solver.CreateSolver(solver)
        if self.solver is None:
            raise RuntimeError(f"OR-Tools has no {solver} solver here")
        s, T = self.solver, p.n_periods
        inf = s.infinity()
        no, nd = len(p.origins), len(p.destinations)
        self.g = [[s.NumVar(0, inf, "") for _ in range(T)] for _ in range(no)]
        self.Q = [[s.NumVar(0, inf, "") for _ in range(T + 1)] for _ in range(no)]
        self.f = {key: [[s.NumVar(0, inf, "") for _ in range(T)] for _ in routes]
                  for key, routes in p.routes_in.items()}  # fmt: skip
        self.S = [[s.NumVar(0, inf, "") for _ in range(T)] for _ in range(nd)]
        self.D = [[s.NumVar(0, inf, "") for _ in range(T + 1)] for _ in range(nd)]
        self.H = [[s.NumVar(0, inf, "") for _ in range(T + 1)] for _ in range(nd)]
        self.R = [[s.NumVar(0, inf, "") for _ in range(T)] for _ in range(nd)]
        self.h = {d: [[s.NumVar(0, inf, "") for _ in range(T)] for _ in routes] for d, routes in p.routes_out.items()}
        self.over_target = [[s.NumVar(0, inf, "") for _ in range(T)] for _ in range(nd)]
        self.over_critical = [[s.NumVar(0, inf, "") for _ in range(T)] for _ in range(nd)]
        # those told not to come (an announcement), and people waiting beyond the target and critical densities
        # of an origin's holding area
        self.A = [[s.NumVar(0, float(p.arrivals[o, t]), "") for t in range(T)] for o in range(no)]
        self.over_hold_target = [[s.NumVar(0, inf, "") for _ in range(T)] for _ in range(no)]
        self.over_hold_critical = [[s.NumVar(0, inf, "") for _ in range(T)] for _ in range(no)]
        self.over_capacity: dict[tuple[int, int], Any] = {}
        self.capacity_rows: dict[tuple[int, int], Any] = {}
        # arrivals at a station whose trains skip it (a `close_station`): sent on to its neighbours
        self.X = {(o, t): s.NumVar(0, float(p.arrivals[o, t]), "") for o in p.stations for t in range(T)}

    def add_queues(self) -> None:
        # Q[o, t+1] = Q[o, t] + arrivals[o, t] - A[o, t] - g[o, t] - moved out + moved in (A: told not to come);
        # nobody waits outside at the
        # start; an origin that cannot be metered in period t keeps nobody waiting; a closed origin lets nobody
        # in and its queue moves to the nearest open origin (`move_to`), if there is one.
        p, s, T = self.p, self.solver, self.p.n_periods
        inf = s.infinity()
        closed = p.closed if p.closed is not None else np.zeros((len(p.origins), T), dtype=bool)
        move_to = p.move_to if p.move_to is not None else np.full((len(p.origins), T), -1)
        moved = {(o, t): s.NumVar(0, inf, "") for o, t in zip(*np.nonzero(closed & (move_to >= 0)), strict=True)}
        into: dict[tuple[int, int], list[Any]] = defaultdict(list)
        for (o, t), var in moved.items():
            into[int(move_to[o, t]), t].append(var)
        # Trains skip station o in t for X[o, t] of its arrivals: they come to its neighbours (the rule's
        # shares) instead, or ride on beyond the area; never more than come there, less those told not to come.
        skipped_in: dict[tuple[int, int], list[tuple[Any, float]]] = defaultdict(list)
        for (o, t), var in self.X.items():
            s.Add(var + self.A[o][t] <= float(p.arrivals[o, t]))
            assert p.skip_to is not None
            for j in np.flatnonzero(p.skip_to[o] > 0):
                skipped_in[int(j), t].append((var, float(p.skip_to[o, j])))
        for o in range(len(p.origins)):
            s.Add(self.Q[o][0] == (float(p.outside0[o]) if p.outside0 is not None else 0.0))
            reaches = p.split[o].sum() > 0
            for t in range(T):
                ct = s.Constraint(float(p.arrivals[o, t]), float(p.arrivals[o, t]))  # Q' - Q + g + out - in = a
                ct.SetCoefficient(self.Q[o][t + 1], 1.0)
                ct.SetCoefficient(self.Q[o][t], -1.0)
                ct.SetCoefficient(self.g[o][t], 1.0)
                ct.SetCoefficient(self.A[o][t], 1.0)
                if (o, t) in moved:
                    ct.SetCoefficient(moved[o, t], 1.0)
                    s.Add(self.Q[o][t + 1] == 0)
                for var in into[o, t]:
                    ct.SetCoefficient(var, -1.0)
                if (o, t) in self.X:
                    ct.SetCoefficient(self.X[o, t], 1.0)
                for var, share in skipped_in[o, t]:
                    ct.SetCoefficient(var, -share)
                ub = max(float(p.entrance[o]), float(p.arrivals[o, t])) if reaches and not closed[o, t] else 0.0
                if not p.meterable[o, t] and reaches and not closed[o, t]:
                    # An entrance nobody can meter lets everybody in: those waiting (from a metered spell, the
                    # start, or sent from a closed entrance) too.
                    ub = inf
                    s.Add(self.Q[o][t + 1] == 0)
                self.g[o][t].SetUb(ub)

    def add_routes_in(self) -> None:
        # The people let in at o for d (g times d's share) take o's routes to d.
        p, s = self.p, self.solver
        for (o, d), routes in p.routes_in.items():
            for t in range(p.n_periods):
                ct = s.Constraint(0, 0)
                ct.SetCoefficient(self.g[o][t], -float(p.split[o, d]))
                for r in range(len(routes)):
                    ct.SetCoefficient(self.f[o, d][r][t], 1.0)

    def add_dwell(self) -> None:
        # S[d, t] is what the routes deliver at t; people due (S convolved with the dwell distribution) are
        # released, or held while a show holds them; D[d, t+1] = D[d, t] + S[d, t] - R[d, t].
        p, s, T = self.p, self.solver, self.p.n_periods
        kernel = p.kernel
        for d in range(len(p.destinations)):
            arriving: dict[int, list[Any]] = defaultdict(list)
            for (o, dd), routes in p.routes_in.items():
                if dd != d:
                    continue
                for r, route in enumerate(routes):
                    for t in range(T):
                        if t + route.lag < T:
                            arriving[t + route.lag].append(self.f[o, d][r][t])
            s.Add(self.D[d][0] == (float(p.present0[d]) if p.present0 is not None else 0.0))
            s.Add(self.H[d][0] == 0)
            for t in range(T):
                walking = float(p.heading0[d, t]) if p.heading0 is not None else 0.0
                ct = s.Constraint(walking, walking)  # S = what the routes deliver (+ those on their way at the start)
                ct.SetCoefficient(self.S[d][t], 1.0)
                for var in arriving[t]:
                    ct.SetCoefficient(var, -1.0)
                already = float(p.due0[d, t]) if p.due0 is not None else 0.0  # those present at the start
                due = s.Constraint(-already, -already)  # due(t) + H(t) - R(t) - H(t+1) = 0
                for j in range(min(t + 1, kernel.size)):
                    if kernel[j] > 0:
                        due.SetCoefficient(self.S[d][t - j], float(kernel[j]))
                due.SetCoefficient(self.H[d][t], 1.0)
                due.SetCoefficient(self.R[d][t], -1.0)
                due.SetCoefficient(self.H[d][t + 1], -1.0)
                shut = d in p.out_open and not p.out_open[d][:, t].any()
                if p.hold[t] or shut:  # a show holds them, or no exit route is open: they stay
                    s.Add(self.R[d][t] == 0)
                else:
                    s.Add(self.H[d][t + 1] == 0)
                s.Add(self.D[d][t + 1] == self.D[d][t] + self.S[d][t] - self.R[d][t])

    def add_routes_out(self) -> None:
        # Released people take the routes from d to the exits.
        p, s = self.p, self.solver
        for d, routes in p.routes_out.items():
            for t in range(p.n_periods):
                ct = s.Constraint(0, 0)
                ct.SetCoefficient(self.R[d][t], -1.0)
                for r in range(len(routes)):
                    ct.SetCoefficient(self.h[d][r][t], 1.0)
                    if d in p.out_open and not p.out_open[d][r, t]:
                        self.h[d][r][t].SetUb(0.0)  # a closed exit takes nobody

    def add_area_limits(self) -> None:
        # People at a viewing area: at most the target density times its area, and at most the critical
        # density times its area, each beyond that by a slack.
        p, s = self.p, self.solver
        for d in range(len(p.destinations)):
            for t in range(p.n_periods):
                s.Add(self.D[d][t + 1] <= p.target_ppm2 * float(p.area[d]) + self.over_target[d][t])
                s.Add(self.D[d][t + 1] <= p.critical_ppm2 * float(p.area[d]) + self.over_critical[d][t])

    def add_holding_limits(self) -> None:
        # People waiting before an origin stand in its holding area: at most the target density times its area,
        # and at most the critical density times it, each beyond that by a slack; never more than the jam
        # density fills (the simulation turns the rest away).
        p, s = self.p, self.solver
        if p.holding_area is None:
            return
        for o in range(len(p.origins)):
            area = float(p.holding_area[o])
            for t in range(p.n_periods):
                s.Add(self.Q[o][t + 1] <= p.target_ppm2 * area + self.over_hold_target[o][t])
                s.Add(self.Q[o][t + 1] <= p.critical_ppm2 * area + self.over_hold_critical[o][t])
                cap = float(p.station_cap[o]) if p.station_cap is not None else np.inf
                self.Q[o][t + 1].SetUb(min(p.jam_ppm2 * area, cap))  # a station: no more than it holds

    def add_walkway_capacity(self) -> None:
        # The people crossing a walkway in a period, both ways, every route, at most its capacity (utilisation
        # included), beyond that by a slack.
        p, s, T = self.p, self.solver, self.p.n_periods
        load: dict[tuple[int, int], list[Any]] = defaultdict(list)
        for key, routes in p.routes_in.items():
            for r, route in enumerate(routes):
                for way, off in zip(route.walkways, route.offsets, strict=True):
                    for t in range(T - off):
                        load[way, t + off].append(self.f[key][r][t])
        for d, routes in p.routes_out.items():
            for r, route in enumerate(routes):
                for way, off in zip(route.walkways, route.offsets, strict=True):
                    for t in range(T - off):
                        load[way, t + off].append(self.h[d][r][t])
        inf = s.infinity()
        for (way, t), vars_ in load.items():
            slack = s.NumVar(0, inf, "")
            self.over_capacity[way, t] = slack
            ct = s.Constraint(-inf, float(p.capacity[way]))
            for var in vars_:
                ct.SetCoefficient(var, 1.0)
            ct.SetCoefficient(slack, -1.0)
            self.capacity_rows[way, t] = ct

    def set_objective(self) -> None:
        p, s, T = self.p, self.solver, self.p.n_periods
        w, minutes = p.weights, p.period_s / 60
        obj = s.Objective()
        for d in range(len(p.destinations)):
            for t in range(T):
                obj.SetCoefficient(self.over_critical[d][t], w.over_critical * minutes)
                obj.SetCoefficient(self.over_target[d][t], w.over_target * minutes)
        for slack in self.over_capacity.values():
            obj.SetCoefficient(slack, w.over_critical * minutes)
        for o in range(len(p.origins)):
            for t in range(T):
                obj.SetCoefficient(self.over_hold_critical[o][t], w.over_critical * minutes)
                obj.SetCoefficient(self.over_hold_target[o][t], w.over_target * minutes)
                obj.SetCoefficient(self.A[o][t], w.announce)
                if (o, t) in self.X:
                    obj.SetCoefficient(self.X[o, t], w.skip_station)
            for t in range(1, T):
                obj.SetCoefficient(self.Q[o][t], w.queue * minutes)
            obj.SetCoefficient(self.Q[o][T], w.queue * (minutes + w.leftover_min))
        for key, routes in p.routes_in.items():
            for r, route in enumerate(routes):
                for t in range(T):
                    obj.SetCoefficient(self.f[key][r][t], w.walk * route.free_s / 60)
        for d, routes in p.routes_out.items():
            for r, route in enumerate(routes):
                for t in range(T):
                    obj.SetCoefficient(self.h[d][r][t], w.walk * route.free_s / 60)
        obj.SetMinimization()


def solve_flows(problem: FlowProblem, *, time_limit_s: float = 30.0) -> tuple[FlowSolution, dict[str, float]]:
    """Build and solve the flow LP; the entry plan per origin and period, queues, and what binds; and the seconds
    (CPU) of the build, GLOP's solve and the read-out."""
    started = time.perf_counter()
    clock = [time.process_time()]
    m = _Flows(problem)
    m.add_queues()
    m.add_routes_in()
    m.add_dwell()
    m.add_routes_out()
    m.add_area_limits()
    m.add_holding_limits()
    m.add_walkway_capacity()
    m.set_objective()
    clock.append(time.process_time())
    m.solver.SetTimeLimit(int(time_limit_s * 1000))
    code = m.solver.Solve()
    clock.append(time.process_time())
    status = mip_status(code)
    wall = time.perf_counter() - started
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return FlowSolution(status, None, wall), {}
    T = problem.n_periods
    val = np.vectorize(lambda v: v.solution_value(), otypes=[float])
    entry = val(np.array(m.g, dtype=object)) if m.g else np.zeros((0, T))
    queue = val(np.array(m.Q, dtype=object)) if m.Q else np.zeros((0, T + 1))
    told = val(np.array(m.A, dtype=object)) if m.A else np.zeros((0, T))
    skipped = np.zeros((len(problem.origins), T))
    for (o, t), var in m.X.items():
        skipped[o, t] = var.solution_value()
    held_over = sum(m.over_hold_target[o][t].solution_value() for o in range(len(problem.origins)) for t in range(T))
    held_crit = sum(m.over_hold_critical[o][t].solution_value() for o in range(len(problem.origins))
                    for t in range(T))  # fmt: skip
    dwellers = val(np.array(m.D, dtype=object))
    over_capacity = {k: v.solution_value() for k, v in m.over_capacity.items() if v.solution_value() > 1e-6}
    over_area = {}
    for d in range(len(problem.destinations)):
        for t in range(T):
            x = m.over_target[d][t].solution_value()
            if x > 1e-6:
                over_area[d, t] = x
    duals = sorted(((way, t, -ct.dual_value()) for (way, t), ct in m.capacity_rows.items()
                    if abs(ct.dual_value()) > 1e-9), key=lambda x: -x[2])  # fmt: skip
    minutes = problem.period_s / 60
    terms = {
        "over_critical_person_min": minutes * (sum(over_capacity.values()) + held_crit + sum(
            m.over_critical[d][t].solution_value() for d in range(len(problem.destinations)) for t in range(T))),
        "over_target_person_min": minutes * (sum(over_area.values()) + held_over),
        "told_not_to_come": float(told.sum()),
        "station_skipped": float(skipped.sum()),
        "queue_person_min": minutes * float(queue[:, 1:].sum()),
        "held_at_end": float(queue[:, -1].sum()),
        "let_in": float(entry.sum()),
    }  # fmt: skip
    leaving = {d: val(np.array(rows, dtype=object)).reshape(len(rows), T) for d, rows in m.h.items()}
    clock.append(time.process_time())
    split = {"build": clock[1] - clock[0], "solve": clock[2] - clock[1], "read": clock[3] - clock[2]}
    return FlowSolution(status, m.solver.Objective().Value(), time.perf_counter() - started, entry=entry,
                        queue=queue, told=told, skipped=skipped, dwellers=dwellers, over_capacity=over_capacity,
                        over_area=over_area, binding=tuple(duals[:10]), terms=terms,
                        leaving=leaving), split  # fmt: skip
