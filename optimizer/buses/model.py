"""The time-indexed dispatch model: variables, constraint groups and objective terms, on any `SolverBackend`.

Variables, on the problem's grid t_j = start + j * bucket_s (`optimizer.buses.problem`):
- `n[b, d, j]`: buses dispatched from bay b to destination d at t_j;
- `C[b, d, j]`: riders carried by the dispatches up to t_j (cumulative);
- `idle[b, j]`: buses idle at b after the dispatches at t_j;
- `y[b]` (the diagnosis only): spare buses ready at b when the first bus of the fleet could reach it.

Constraints, each group a function:
- `add_riders_present` (variable bounds): nobody is carried before reaching the bay: C[b, d, j] <= A[b, d, j];
- `add_carry_order`: the carried count never falls: C[b, d, j] >= C[b, d, j-1];
- `add_capacity`: a dispatch carries at most capacity riders per bus: C[j] - C[j-1] <= capacity * n[j];
- `add_fleet`: buses idle at a bay = idle before + arrived + returned - dispatched, never negative (so never
  more buses away than have reached the bay, nor than the fleet);
- `add_clear_by` (the probes, phase 2, the diagnosis): everyone is carried by the model's last step;
- `DispatchModel.keep_at_most`: an objective found in an earlier phase stays at or below its value.

Objective terms (`optimizer.buses.search` chooses which to minimise in which phase): riders stranded (carried by
no dispatch within the grid), and `wait_weight` per rider-minute waited plus `km_weight` per bus-km, in
thousandths (`OBJECTIVE_SCALE`) so that the objective is an integer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optimizer.buses.backends import Backend, SolverBackend, make_backend
from optimizer.buses.bounds import score_schedule
from optimizer.buses.forecast import EPS
from optimizer.buses.problem import BusOptions, BusProblem

OBJECTIVE_SCALE = 1000  # phase 2's integer objective is in thousandths of a weighted rider-minute
Pair = tuple[int, int]  # (bay index, destination index)


def add_riders_present(m: SolverBackend, pairs: list[Pair], problem: BusProblem) -> dict:
    """Nobody is carried before reaching the bay: C[b, d, j] lies in [0, A[b, d, j]] (the variables' bounds)."""
    return {(i, k, j): m.int_var(0, int(problem.riders[i, k, j]), f"C_{i}_{k}_{j}")
            for i, k in pairs for j in range(problem.n_steps)}  # fmt: skip


def add_carry_order(m: SolverBackend, c: dict, pairs: list[Pair], problem: BusProblem) -> None:
    """The carried count never falls: C[b, d, j] >= C[b, d, j-1]."""
    for i, k in pairs:
        for j in range(1, problem.n_steps):
            m.add(c[(i, k, j)] >= c[(i, k, j - 1)])


def add_capacity(m: SolverBackend, n: dict, c: dict, pairs: list[Pair], problem: BusProblem) -> None:
    """A dispatch carries at most capacity riders per bus: C[j] - C[j-1] <= capacity * n[j]."""
    for i, k in pairs:
        for j in range(problem.n_steps):
            before = c[(i, k, j - 1)] if j else 0
            m.add(c[(i, k, j)] - before <= problem.capacity * n[(i, k, j)])


def add_fleet(m: SolverBackend, n: dict, idle: dict, pairs: list[Pair], problem: BusProblem,
              extra: dict | None = None) -> None:  # fmt: skip
    """Buses idle at a bay after t_j = idle before + arrived + returned - dispatched, never negative."""
    p = problem
    for i in sorted({i for i, _ in pairs}):
        dests = [k for ii, k in pairs if ii == i]
        for j in range(p.n_steps):
            back = [n[(i, k, j - int(p.cycle[i, k]))] for k in dests if j - p.cycle[i, k] >= 0]
            came = int(p.supply[i, j])
            new = [extra[i]] if extra is not None and i in extra and j == p.earliest[i] else []
            before = [idle[(i, j - 1)]] if j else []
            sent = [n[(i, k, j)] for k in dests]
            m.add(idle[(i, j)] == sum(before) + came + sum(new) + sum(back) - sum(sent))


def add_clear_by(m: SolverBackend, c: dict, pairs: list[Pair], problem: BusProblem) -> None:
    """Everyone is carried by the last dispatch moment of the model: C[b, d, G-1] = riders in all."""
    for i, k in pairs:
        m.add(c[(i, k, problem.n_steps - 1)] == int(problem.total[i, k]))


def _trips_for(problem: BusProblem, i: int) -> int:
    """Trips that carry every rider of bay i, one destination per trip."""
    return int(sum(math.ceil(int(t) / problem.capacity) for t in problem.total[i]))


class DispatchModel:
    """The time-indexed dispatch model in one solver backend; its variables never leave this module.

    `clear_by` (a step index): the model stops there and everyone must be carried by then. `extra_buses`
    adds the diagnosis's spare buses. Only pairs (bay, destination) with riders, a road between them and
    buses at the bay get variables; riders of any other pair are stranded whatever the plan.
    """

    def __init__(self, problem: BusProblem, *, backend: Backend = "CP_SAT", clear_by: int | None = None,
                 extra_buses: bool = False):  # fmt: skip
        self.full = problem
        p = self.problem = problem if clear_by is None else problem.truncated(clear_by + 1)
        m = self.m = make_backend(backend)
        g = p.n_steps
        self.extra: dict[int, Any] | None = None
        live = [(i, k) for i in range(len(p.bays)) for k in range(len(p.destinations))
                if p.total[i, k] > 0 and p.cycle[i, k] > 0]  # fmt: skip
        if extra_buses:
            # Enough spare buses at a bay to carry all its riders in one trip each.
            self.extra = {i: m.int_var(0, _trips_for(p, i), f"y_{i}")
                          for i in sorted({i for i, _ in live}) if p.earliest[i] < g}  # fmt: skip
        cap = {i: int(p.buses_at[i]) + (_trips_for(p, i) if self.extra and i in self.extra else 0)
               for i in range(len(p.bays))}  # fmt: skip
        self.pairs = [(i, k) for i, k in live if cap[i] > 0]
        self.n = {}
        for i, k in self.pairs:
            for j in range(g):
                ub = min(cap[i], math.ceil(int(p.riders[i, k, j]) / p.capacity))
                self.n[(i, k, j)] = m.int_var(0, ub, f"n_{i}_{k}_{j}")
        self.idle = {(i, j): m.int_var(0, cap[i], f"idle_{i}_{j}")
                     for i in sorted({i for i, _ in self.pairs}) for j in range(g)}  # fmt: skip

        self.c = add_riders_present(m, self.pairs, p)  # Nobody is carried before reaching the bay.
        add_carry_order(m, self.c, self.pairs, p)  # The carried count never falls.
        add_capacity(m, self.n, self.c, self.pairs, p)  # A dispatch carries at most capacity riders per bus.
        add_fleet(m, self.n, self.idle, self.pairs, p, self.extra)  # Idle = came + back - sent >= 0.
        if clear_by is not None:
            add_clear_by(m, self.c, self.pairs, p)  # Everyone is carried by the model's last moment.

    def stranded_terms(self) -> tuple[list[tuple[int, Any]], float]:
        """Riders not carried by the model's last moment, as (terms, constant)."""
        g = self.problem.n_steps
        return [(-1, self.c[(i, k, g - 1)]) for i, k in self.pairs], float(self.problem.riders_total)

    def wait_km_terms(self, options: BusOptions) -> tuple[list[tuple[int, Any]], float]:
        """Weighted rider-minutes waited and bus-km, in thousandths, as (terms, constant)."""
        p = self.problem
        per_bucket = round(OBJECTIVE_SCALE * options.wait_weight * p.bucket_s / 60)
        terms = [(-per_bucket, v) for v in self.c.values()]
        terms += [(round(OBJECTIVE_SCALE * options.km_weight * float(p.trip_km[i, k])), v)
                  for (i, k, _), v in self.n.items()]  # fmt: skip
        return terms, float(per_bucket * int(p.riders.sum()))

    def keep_at_most(self, terms: list[tuple[int, Any]], constant: float, value: float) -> None:
        """An objective found in an earlier phase stays at or below its value."""
        self.m.add(sum(c * v for c, v in terms if c) <= math.floor(value - constant + EPS))

    def schedule(self) -> np.ndarray:
        """The solution's dispatches on the full problem's grid."""
        out = np.zeros_like(self.full.riders)
        for (i, k, j), v in self.n.items():
            out[i, k, j] = self.m.value(v)
        return out

    def hint_schedule(self, dispatch: np.ndarray) -> None:
        """Hint a schedule (cut to the model's grid): its dispatches, carried riders and idle buses."""
        p = self.problem
        cut = dispatch[:, :, : p.n_steps]
        cum = np.cumsum(score_schedule(p, cut).carried, axis=2)
        values: dict[Any, int] = {}
        for (i, k, j), v in self.n.items():
            values[v] = int(cut[i, k, j])
            values[self.c[(i, k, j)]] = int(cum[i, k, j])
        idle = p.supply.cumsum(axis=1) - _busy(p, cut)
        for (i, j), v in self.idle.items():
            values[v] = int(idle[i, j])
        self.m.hint(values)


def _busy(problem: BusProblem, dispatch: np.ndarray) -> np.ndarray:
    """[bay, j]: buses of each bay away on trips just after the dispatches at t_j."""
    p = problem
    out = np.zeros((len(p.bays), p.n_steps), dtype=np.int64)
    for i, k, j in zip(*np.nonzero(dispatch), strict=True):
        out[i, j : j + int(p.cycle[i, k])] += int(dispatch[i, k, j])
    return out
