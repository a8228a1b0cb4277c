"""The typhoon window's time-indexed CP-SAT model (`TyphoonModel`): its variables, its constraint groups, one
function each, and its objective.

Variables: `x[w, p]` one lane of way w cleared in period p; `s[w, p]` a clearing starts at p; `n[w, p]`
escort teams at w, `e[w, p, k]` exactly k of them; `y[o, w]` origin o's riders are sent to w; `c[o, w, p]`
riders of o carried through w, `ck[w, p, k]` the riders through w counted at level k; `b[o, p]` riders of o
waiting at the start of p; `g[o, p]` riders of o who give up in p; `q[w, p]` vehicles queued at w.

Constraints, each group a function:
- `add_one_way_per_origin`: each origin's riders are sent to one way within reach for the window, carried only
  there (so the plan can tell them where to go and they need not move);
- `add_unreached_ways_open`: a way no origin can reach (in a routed window: is sent to) is never cleared;
- `add_team_levels`: n = sum k e[k], one level while cleared, none otherwise; riders through w counted by level;
- `add_clearing_starts`: a clearing starts where a way goes from open to cleared (s = x[p] and not x[p-1]);
- `add_min_clear`: a clearing lasts at least `min_clear_s` (whole periods), inside the window;
- `add_escort_teams`: teams work only at a cleared way, a lane is cleared only for at least one team, and no
  more than `escorts.count` teams work at once;
- `add_escort_capacity`: riders carried through a way are at most teams x batches per period x batch size,
  less the changeover at the start of a clearing;
- `add_rider_flow`: backlog balance b[p+1] = b[p] - g[p] + a[p] - c[p] while the ferries are suspended; the
  backlog crosses by ferry once they run;
- `add_abandonment`: g[p] = floor(alpha * b[p]) exactly (two linear inequalities), alpha = 1 - exp(-period /
  mean patience): the patience is approximated as exponential with the scenario's mean (a constant hazard), so
  a fixed fraction of the riders waiting at the start of a period give up in it;
- `add_motor_queue`: a deterministic fluid queue, q[p+1] >= q[p] + demand - capacity(x), q >= 0;
- `add_arrival_links`, `add_queue_runs`: valid inequalities that whole-number schedules satisfy anyway but that
  cut off the LP relaxation's favourite tricks (a lane cleared 3% of a period carrying riders at the four-team
  wait; a lane cleared 90% of a period with the open 10% absorbing the cars). On the 24-period windows of the
  rolling benchmark they raise the LP relaxation from about 48% to 86-94% of the best schedule known.

Objective (minimised, in integers: each coefficient is weight x SCALE = 1000, rounded):
  rider_wait_per_h x rider-hours waiting: the backlog (trapezoid, (b[p] + b[p+1]) / 2 x period) plus, per rider
      carried with k teams, the wait for the next batch, cycle / (2k) (teams staggered evenly)
  + rider_stranded x riders who give up: in the backlog, still waiting at the window's end while suspended, and
      the expected share of carried riders whose patience (counted from appearing, riding included) runs out
      on the ride to the crossing point or waiting for the batch (from a fixed sample of the patience
      distribution, `optimizer.typhoon.problem._give_up_shares`)
  + vehicle_delay_per_h x vehicle-hours queued (trapezoid on q).
`optimizer.typhoon.cost.fluid_cost` evaluates the same objective for a given schedule as a pure function;
`schedule_values` gives every variable's value under a schedule (a complete hint).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from optimizer.typhoon.bound import lp_relaxation_bound
from optimizer.typhoon.cost import clearing_starts
from optimizer.typhoon.problem import PER_MILLE, TyphoonProblem
from optimizer.typhoon.static import Schedule


@dataclass
class _Vars:
    x: dict[tuple[int, int], Any]
    s: dict[tuple[int, int], Any]
    n: dict[tuple[int, int], Any]
    c: dict[tuple[int, int, int], Any]
    b: dict[tuple[int, int], Any]
    g: dict[tuple[int, int], Any]
    q: dict[tuple[int, int], Any]
    y: dict[tuple[int, int], Any]
    e: dict[tuple[int, int, int], Any]  # e[w, p, k]: exactly k teams at w in p
    ck: dict[tuple[int, int, int], Any]  # riders carried through w in p while k teams are there
    ca: dict[tuple[int, int, int], Any]  # of c[o, w, p], riders who appeared in p (the rest were waiting)
    cka: dict[tuple[int, int, int], Any]  # of ck[w, p, k], riders who appeared in p


def add_one_way_per_origin(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """Each origin's riders are sent to one tunnel direction within reach for the whole window, and carried
    only there."""
    for o in range(len(problem.origins)):
        options = [y for (oo, _w), y in v.y.items() if oo == o]
        if options:
            m.add_exactly_one(options)
    for (o, w, _p), c in v.c.items():
        m.add(c <= int(problem.team_rate[w]) * problem.teams * v.y[(o, w)])


def add_unreached_ways_open(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """A way no origin is sent to or can reach stays open (clearing it would only delay cars and take a team; in a
    routed window, `optimizer.typhoon.routing.routed`, these are the ways the routing leaves out)."""
    for (w, _p), x in v.x.items():
        if not problem.reach[:, w].any():
            m.add(x == 0)


def add_clearing_starts(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """A clearing starts in period p exactly when the way is cleared in p and was not in p - 1."""
    for (w, p), x in v.x.items():
        before = v.x[(w, p - 1)] if p > 0 else int(problem.cleared0[w])
        m.add(v.s[(w, p)] >= x - before)
        m.add(v.s[(w, p)] <= x)
        m.add(v.s[(w, p)] <= 1 - before)


def add_team_levels(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """The number of teams at a way is one of 1 .. count while it is cleared, and the riders carried through it
    are counted at that level (so each pays the wait for the next batch at that many teams)."""
    through: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for (_o, w, p), c in v.c.items():
        through[(w, p)].append(c)
    for (w, p), x in v.x.items():
        levels = range(1, problem.teams + 1)
        m.add(sum(v.e[(w, p, k)] for k in levels) == x)
        m.add(v.n[(w, p)] == sum(k * v.e[(w, p, k)] for k in levels))
        m.add(sum(through[(w, p)]) == sum(v.ck[(w, p, k)] for k in levels))
        for k in levels:
            m.add(v.ck[(w, p, k)] <= int(problem.team_rate[w]) * k * v.e[(w, p, k)])


def add_min_clear(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """A clearing lasts at least `min_clear` periods, all inside the window."""
    n, k = problem.n_periods, problem.min_clear
    for (w, p), start in v.s.items():
        if p + k > n:
            m.add(start == 0)
            continue
        for j in range(p + 1, p + k):
            m.add(v.x[(w, j)] >= start)


def add_escort_teams(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """Teams work only where a lane is cleared, a lane is cleared only for a team, and no more teams work at once
    than there are."""
    for (w, p), n in v.n.items():
        m.add(n <= problem.teams * v.x[(w, p)])
        m.add(n >= v.x[(w, p)])
    for p in range(problem.n_periods):
        m.add(sum(v.n[(w, p)] for w in range(len(problem.ways))) <= problem.teams)


def add_escort_capacity(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """Riders carried through a way are at most teams x throughput per team, less the changeover when it starts."""
    through: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for (_o, w, p), c in v.c.items():
        through[(w, p)].append(c)
    for (w, p), n in v.n.items():
        carried = sum(through[(w, p)])
        rate, first = int(problem.team_rate[w]), int(problem.first_rate[w])
        m.add(carried <= rate * n)
        m.add(carried <= rate * problem.teams * (1 - v.s[(w, p)]) + first * n)


def add_rider_flow(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """Riders waiting next period = waiting - given up + arrived - carried while suspended; none once ferries run."""
    for o in range(len(problem.origins)):
        for p in range(problem.n_periods):
            carried = sum(v.c[(o, w, p)] for w in range(len(problem.ways)) if (o, w, p) in v.c)
            if problem.suspended[o, p]:
                m.add(v.b[(o, p + 1)] == v.b[(o, p)] - v.g[(o, p)] + int(problem.arrivals[o, p]) - carried)
            else:
                m.add(v.b[(o, p + 1)] == 0)
                m.add(v.g[(o, p)] == 0)


def add_abandonment(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """A fixed fraction (per mille, rounded down) of the riders waiting at a period's start give up in it."""
    a = problem.abandon_per_mille
    for (o, p), g in v.g.items():
        if problem.suspended[o, p]:
            m.add(PER_MILLE * g <= a * v.b[(o, p)])
            m.add(PER_MILLE * g >= a * v.b[(o, p)] - (PER_MILLE - 1))


def add_motor_queue(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """Vehicles queued next period >= queued + demand - capacity (less while a lane is cleared), and >= 0."""
    for (w, p), x in v.x.items():
        full, less = int(problem.cap_open[w, p]), int(problem.cap_cleared[w, p])
        m.add(v.q[(w, p + 1)] >= v.q[(w, p)] + int(problem.demand[w, p]) - full + (full - less) * x)


def add_arrival_links(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem) -> None:
    """Valid inequalities (implied by the rules for whole numbers, not by their LP relaxation): the riders carried
    are split into those who appeared in the period and those who were waiting (less those who gave up); the
    first are at most the period's arrivals times "the way is cleared" and times "the origin is sent there", and
    are counted at the team level the way has. Without them, the LP relaxation clears a lane a fraction of a
    period, puts all teams there a fraction of the time and carries every rider at the four-team wait."""
    arrivals_at: dict[tuple[int, int], int] = defaultdict(int)
    for (o, w, p), ca in v.ca.items():
        a = int(problem.arrivals[o, p])
        arrivals_at[(w, p)] += a
        m.add(ca <= v.c[(o, w, p)])
        m.add(ca <= a * v.x[(w, p)])
        m.add(ca <= a * v.y[(o, w)])
    for o in range(len(problem.origins)):
        for p in range(problem.n_periods):
            keys = [(o, w, p) for w in range(len(problem.ways)) if (o, w, p) in v.c]
            if keys:
                m.add(sum(v.c[k] - v.ca[k] for k in keys) <= v.b[(o, p)] - v.g[(o, p)])
    for (w, p), total in arrivals_at.items():
        levels = range(1, problem.teams + 1)
        m.add(sum(v.cka[(w, p, k)] for k in levels) == sum(v.ca[(o, w, p)] for o in range(len(problem.origins))
                                                           if (o, w, p) in v.ca))  # fmt: skip
        for k in levels:
            m.add(v.cka[(w, p, k)] <= total * v.e[(w, p, k)])
            m.add(v.cka[(w, p, k)] <= v.ck[(w, p, k)])


def add_queue_runs(m: cp_model.CpModel, v: _Vars, problem: TyphoonProblem, longest: int = 8) -> None:
    """Valid inequalities: a way cleared through periods j .. p, each with more demand than the cleared capacity,
    has at least that excess queued at the end of p (q[p+1] >= excess x (x[j] + .. + x[p] - (p - j))). The LP
    relaxation otherwise clears a lane 90% of a period for free, the open 10% absorbing the excess."""
    for w in range(len(problem.ways)):
        excess = problem.demand[w] - problem.cap_cleared[w]
        for p in range(problem.n_periods):
            for j in range(p, max(-1, p - longest), -1):
                if excess[j] <= 0:
                    break
                total = int(excess[j : p + 1].sum())
                m.add(v.q[(w, p + 1)] >= total * (sum(v.x[(w, i)] for i in range(j, p + 1)) - (p - j)))


class TyphoonModel:
    """The CP-SAT model of one window."""

    def __init__(self, problem: TyphoonProblem):
        self.problem = pr = problem
        self.m = m = cp_model.CpModel()
        W, NO, P = len(pr.ways), len(pr.origins), pr.n_periods
        riders = int(pr.waiting0.sum() + pr.arrivals.sum())
        most_q = int(pr.queued0.max(initial=0) + pr.demand.sum(axis=1).max(initial=0))
        x = {(w, p): m.new_bool_var(f"x{w}_{p}") for w in range(W) for p in range(P)}
        s = {(w, p): m.new_bool_var(f"s{w}_{p}") for w in range(W) for p in range(P)}
        n = {(w, p): m.new_int_var(0, pr.teams, f"n{w}_{p}") for w in range(W) for p in range(P)}
        c = {(o, w, p): m.new_int_var(0, min(riders, int(pr.team_rate[w]) * pr.teams), f"c{o}_{w}_{p}")
             for o in range(NO) for w in range(W) for p in range(P)
             if pr.reach[o, w] and pr.suspended[o, p]}  # fmt: skip
        b = {(o, p): m.new_int_var(0, riders, f"b{o}_{p}") for o in range(NO) for p in range(P + 1)}
        g = {(o, p): m.new_int_var(0, riders, f"g{o}_{p}") for o in range(NO) for p in range(P)}
        q = {(w, p): m.new_int_var(0, most_q, f"q{w}_{p}") for w in range(W) for p in range(P + 1)}
        for o in range(NO):
            m.add(b[(o, 0)] == int(pr.waiting0[o]))
        for w in range(W):
            m.add(q[(w, 0)] == int(pr.queued0[w]))
        y = {(o, w): m.new_bool_var(f"y{o}_{w}") for o in range(NO) for w in range(W) if pr.reach[o, w]}
        e = {(w, p, k): m.new_bool_var(f"e{w}_{p}_{k}") for w in range(W) for p in range(P)
             for k in range(1, pr.teams + 1)}  # fmt: skip
        ck = {(w, p, k): m.new_int_var(0, int(pr.team_rate[w]) * k, f"k{w}_{p}_{k}") for (w, p, k) in e}
        ca = {(o, w, p): m.new_int_var(0, int(pr.arrivals[o, p]), f"a{o}_{w}_{p}") for (o, w, p) in c}
        cka = {(w, p, k): m.new_int_var(0, int(pr.arrivals[:, p].sum()), f"ka{w}_{p}_{k}") for (w, p, k) in e}
        self.v = v = _Vars(x, s, n, c, b, g, q, y, e, ck, ca, cka)
        add_one_way_per_origin(m, v, pr)
        add_unreached_ways_open(m, v, pr)
        add_team_levels(m, v, pr)
        add_clearing_starts(m, v, pr)
        add_min_clear(m, v, pr)
        add_escort_teams(m, v, pr)
        add_escort_capacity(m, v, pr)
        add_rider_flow(m, v, pr)
        add_abandonment(m, v, pr)
        add_motor_queue(m, v, pr)
        add_arrival_links(m, v, pr)
        add_queue_runs(m, v, pr)
        wait_c, strand_c, veh_c = pr.coefficients
        wait = sum(b[(o, p)] + b[(o, p + 1)] for o in range(NO) for p in range(P))
        stranded = sum(g.values()) + sum(b[(o, P)] for o in range(NO))
        vehicles = sum(q[(w, p)] + q[(w, p + 1)] for w in range(W) for p in range(P))
        batch = sum(pr.batch_wait_coefficient(w, k) * ck for (w, _p, k), ck in v.ck.items())
        ride = sum(pr.ride_coefficient(o, w) * c for (o, w, _p), c in v.c.items())
        self.objective = wait_c * wait + strand_c * stranded + veh_c * vehicles + batch + ride
        m.minimize(self.objective)

    def lp_bound(self, time_limit_s: float) -> int | None:
        """A lower bound on the objective (integer units) from this model's LP relaxation (`lp_relaxation_bound`);
        None if it is not solved in time."""
        return lp_relaxation_bound(self.m, time_limit_s)

    def add_upper_bound(self, bound: int) -> None:
        """Ask only for schedules with an objective (integer units) of at most `bound` (a cut-off: a model that
        has none is proven to cost more)."""
        self.m.add(self.objective <= bound)

    def add_lower_bound(self, bound: int) -> None:
        """Tell CP-SAT a proven lower bound on the objective (it then starts its search from it)."""
        self.m.add(self.objective >= bound)

    def variables(self) -> list[Any]:
        v = self.v
        return [*v.x.values(), *v.s.values(), *v.n.values(), *v.c.values(), *v.b.values(), *v.g.values(),
                *v.q.values(), *v.y.values(), *v.e.values(), *v.ck.values(), *v.ca.values(),
                *v.cka.values()]  # fmt: skip

    def hint(self, values: dict[str, int]) -> None:
        """Start the search from these values (by variable name)."""
        for var in self.variables():
            if var.name in values:
                self.m.add_hint(var, values[var.name])


def schedule_values(problem: TyphoonProblem, schedule: Schedule) -> dict[str, int]:
    """Every model variable's value under a schedule, by name: a complete hint."""
    P, W, NO = problem.n_periods, len(problem.ways), len(problem.origins)
    cost, clear, teams = schedule.cost, schedule.clear, schedule.teams
    starts = clearing_starts(problem, clear)
    out: dict[str, int] = {}
    for w in range(W):
        for p in range(P):
            out[f"x{w}_{p}"], out[f"s{w}_{p}"], out[f"n{w}_{p}"] = int(clear[w, p]), int(starts[w, p]), int(teams[w, p])
            through = int(cost.carried[:, w, p].sum())
            for k in range(1, problem.teams + 1):
                out[f"e{w}_{p}_{k}"] = int(teams[w, p] == k)
                out[f"k{w}_{p}_{k}"] = through if teams[w, p] == k else 0
        for p in range(P + 1):
            out[f"q{w}_{p}"] = int(cost.queue[w, p])
    # Of the riders carried, those who appeared in the period: what the waiting (less those who gave up) can't cover.
    fresh = np.maximum(0, cost.carried - (cost.backlog[:, :P] - cost.gave_up)[:, None, :])
    for w in range(W):
        for p in range(P):
            for k in range(1, problem.teams + 1):
                out[f"ka{w}_{p}_{k}"] = int(fresh[:, w, p].sum()) if teams[w, p] == k else 0
    for o in range(NO):
        for w in range(W):
            for p in range(P):
                out[f"a{o}_{w}_{p}"] = int(fresh[o, w, p])
        for p in range(P + 1):
            out[f"b{o}_{p}"] = int(cost.backlog[o, p])
        for p in range(P):
            out[f"g{o}_{p}"] = int(cost.gave_up[o, p])
            for w in range(W):
                out[f"c{o}_{w}_{p}"] = int(cost.carried[o, w, p])
        # An origin the schedule carries nowhere is still sent somewhere (each origin has one way); none ride.
        way = schedule.sent.get(o, next((int(w) for w in np.flatnonzero(problem.reach[o])), None))
        for w in range(W):
            out[f"y{o}_{w}"] = int(way == w)
    return out
