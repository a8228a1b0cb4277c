"""Typhoon: which tunnel lanes to clear when, where the escort teams work, and where riders are sent.

A time-indexed CP-SAT model on a window of periods of `scenario.lanes.period_s` (15 min by default),
t_p = start_s + p * period_s, p = 0 .. P-1. By default the window runs from one period before the first ferry
suspension known at `start_s` to the end of the last one (`typhoon_problem`). Re-planning: pass `start_s` and
a `TyphoonState` (riders waiting per origin, vehicles queued per way, ways cleared at `start_s`; `read` takes
it from a simulation's series), and `hours` for a rolling window; the command loop does this when an incident
is re-planned, and `benchmarks/typhoon_rolling.py` rolls through a whole day.

Data (`TyphoonProblem`): the tunnel directions ("ways") some rider origin can reach within `max_ride_s` by
e-bike; the rider origins (bank areas: the flows from one area all cross the river the same way, so they share
one backlog); `arrivals[o, p]`, whole riders expected at origin o in period p while the ferries at the usual
piers of its flows are suspended (expected counts of the profiles, rounded cumulatively); escort throughput per
team and period `team_rate[w] = floor(B * period / cycle)`, cycle = set-up + tunnel length (TyphoonGeometry) /
speed + return, and `first_rate[w]` with `changeover_s` lost; motor demand per period, and capacity with all
lanes open or with one lane cleared ((lanes - 1) x lane capacity x merge factor).

Variables: `x[w, p]` one lane of way w cleared in period p; `s[w, p]` a clearing starts at p; `n[w, p]`
escort teams at w, `e[w, p, k]` exactly k of them; `y[o, w]` origin o's riders are sent to w; `c[o, w, p]`
riders of o carried through w, `ck[w, p, k]` the riders through w counted at level k; `b[o, p]` riders of o
waiting at the start of p; `g[o, p]` riders of o who give up in p; `q[w, p]` vehicles queued at w.

Constraints, each group a function:
- `add_one_way_per_origin`: each origin's riders are sent to one way within reach for the window, carried only
  there (so the plan can tell them where to go and they need not move);
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
      distribution, `_give_up_shares`)
  + vehicle_delay_per_h x vehicle-hours queued (trapezoid on q).
`fluid_cost` evaluates the same objective for a given schedule as a pure function (the brute-force tests use
it). Search: CP-SAT starts from a complete hint, the best "static" schedule (a set of up to `count` ways
cleared for the whole suspension, teams split by riders, each origin to its nearest way in the set,
`best_static_schedule`); if CP-SAT finds nothing better in time, that schedule is returned (status FEASIBLE,
said in the rationale). CP-SAT runs without its presolve (it found little and took 0.8 s of a 1 s budget on 24
periods). Bounds are CP-SAT's, or with `lp_bound_s` the LP relaxation's (GLOP, rounded down safely) when higher;
either holds for this fluid model on its grid, not for the simulation.

Trade-off: `optimise_typhoon` solves again at car-delay weights x `pareto_factors` and puts the points (rider-hours
waiting, riders stranded, vehicle-hours, lane-periods cleared; this plan's marked) in the plan's
`meta.trade_off`, so the console can show what one more cleared period costs.

Not modelled (the simulation has them): random arrivals and batch sizes, ferry capacity and service hours once
the ferries run, travel of teams between tunnels, riders re-choosing mid-wait.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from optimizer.result import PlanResult, SolveParams
from scenarios.loading import scenario_graph, scenario_hash
from scenarios.plan import ClearLane, DirectRiders, EscortBatch, Plan, PlanMeta, TradeOffPoint
from scenarios.schema import TyphoonScenario, TyphoonWeights
from scenarios.typhoon import (
    DIRECTIONS,
    TyphoonGeometry,
    TyphoonState,
    ferry_windows,
    hazard_timeline,
    team_names,
    union,
)

DEFAULT_PARAMS = SolveParams()
DEFAULT_WEIGHTS = TyphoonWeights()
SCALE = 1000  # the integer objective is in thousandths of a weighted unit
PER_MILLE = 1000  # the abandonment fraction is in thousandths
Way = tuple[str, str]


# ------------------------------------------------------------------------------------------ the problem


@dataclass(frozen=True)
class TyphoonOptions:
    """Model choices beyond `SolveParams`."""

    max_ride_s: float = 1500.0  # riders are sent only to crossing points this close by e-bike (riding is priced)
    pareto_factors: tuple[float, ...] = (0.25, 4.0)  # vehicle-delay weight multipliers for the trade-off
    extra_team: bool = True  # re-solve with one more escort team for the rationale
    side_share: float = 0.25  # share of the time limit for each extra solve
    lp_bound_s: float = 0.0  # seconds more for the LP relaxation's bound before the main solve (0: none)


@dataclass(frozen=True)
class PerRider:
    """Integer cost and expected outcome per rider carried: [way, teams there] (0 teams: 0) and [origin, way]."""

    batch_cost: np.ndarray  # the wait for the next batch and those who give up in it, objective units
    batch_wait_h: np.ndarray  # the wait for the next batch, hours
    batch_lost: np.ndarray  # the share who give up waiting for the batch
    ride_cost: np.ndarray  # [O, W] those whose patience runs out on the ride, objective units


@dataclass(frozen=True)
class TyphoonProblem:
    """The fluid model's data on one window (arrays indexed [origin or way, period])."""

    scenario: str
    start_s: float
    period_s: float
    ways: tuple[Way, ...]
    origins: tuple[str, ...]
    arrivals: np.ndarray  # [O, P] whole riders while suspended
    suspended: np.ndarray  # [O, P] bool: the origin's ferries are suspended in the period
    reach: np.ndarray  # [O, W] bool
    cycle_s: np.ndarray  # [W] one team's escort cycle
    give_up_riding: np.ndarray  # [O, W] share of carried riders whose patience runs out on the ride there
    give_up_batch: np.ndarray  # [W, K] further share who give up waiting for the next batch with k = 1 .. K teams
    team_rate: np.ndarray  # [W] riders a team carries in a period
    first_rate: np.ndarray  # [W] the same in the period a clearing starts (changeover lost)
    demand: np.ndarray  # [W, P] vehicles
    cap_open: np.ndarray  # [W, P] vehicles with all lanes open
    cap_cleared: np.ndarray  # [W, P] vehicles with one lane cleared
    teams: int
    min_clear: int  # periods
    abandon_per_mille: int
    waiting0: np.ndarray  # [O]
    queued0: np.ndarray  # [W]
    cleared0: np.ndarray  # [W] bool
    weights: TyphoonWeights = DEFAULT_WEIGHTS
    end_is_horizon: bool = False

    @property
    def n_periods(self) -> int:
        return int(self.arrivals.shape[1])

    def t(self, p: int) -> float:
        return self.start_s + p * self.period_s

    @property
    def coefficients(self) -> tuple[int, int, int]:
        """Integer objective coefficients: per rider-half-period waiting, rider stranded, vehicle-half-period."""
        half_h = self.period_s / 7200
        w = self.weights
        return (round(SCALE * w.rider_wait_per_h * half_h), round(SCALE * w.rider_stranded),
                round(SCALE * w.vehicle_delay_per_h * half_h))  # fmt: skip

    def batch_wait_coefficient(self, w: int, teams: int) -> int:
        """Integer cost per rider carried through way w with `teams` teams: the wait for the next batch, half the
        interval between batches (cycle / teams) when teams are staggered evenly, and those who give up in it."""
        if not teams:
            return 0
        wait_h = self.cycle_s[w] / (2 * teams) / 3600
        return round(SCALE * (self.weights.rider_wait_per_h * wait_h
                              + self.weights.rider_stranded * self.batch_give_up(w, teams)))  # fmt: skip

    def batch_give_up(self, w: int, teams: int) -> float:
        """Share of riders carried through way w with `teams` teams who give up waiting for the batch."""
        return float(self.give_up_batch[w, min(teams, self.give_up_batch.shape[1]) - 1])

    def ride_coefficient(self, o: int, w: int) -> int:
        """Integer cost per rider of origin o carried through way w: those whose patience runs out on the ride."""
        return round(SCALE * self.weights.rider_stranded * self.give_up_riding[o, w])

    @cached_property
    def per_rider(self) -> PerRider:
        """The per-rider costs as tables (computed once per problem: the pure objective runs in loops)."""
        W, levels = len(self.ways), range(self.give_up_batch.shape[1] + 1)
        return PerRider(
            batch_cost=np.array([[self.batch_wait_coefficient(w, k) for k in levels] for w in range(W)],
                                dtype=np.int64).reshape(W, len(levels)),
            batch_wait_h=np.array([[self.cycle_s[w] / (2 * k) / 3600 if k else 0.0 for k in levels]
                                   for w in range(W)]).reshape(W, len(levels)),
            batch_lost=np.array([[self.batch_give_up(w, k) if k else 0.0 for k in levels]
                                 for w in range(W)]).reshape(W, len(levels)),
            ride_cost=np.array([[self.ride_coefficient(o, w) for w in range(W)] for o in range(len(self.origins))],
                               dtype=np.int64).reshape(len(self.origins), W),
        )  # fmt: skip

    def with_teams(self, teams: int) -> TyphoonProblem:
        return replace(self, teams=teams)

    def with_weights(self, weights: TyphoonWeights) -> TyphoonProblem:
        return replace(self, weights=weights)


def _rounded(cum: np.ndarray) -> np.ndarray:
    """Whole units per period from a cumulative expected count (rounded cumulatively, so nothing is lost)."""
    return np.diff(np.floor(cum + 0.5 + 1e-9)).astype(np.int64)


def _overlap(windows: tuple[tuple[float, float], ...], a: float, b: float) -> list[tuple[float, float]]:
    return [(max(a, lo), min(b, hi)) for lo, hi in windows if min(b, hi) > max(a, lo)]


def typhoon_problem(scenario: TyphoonScenario, geometry: TyphoonGeometry | None = None, *, start_s: float = 0.0,
                    hours: float | None = None, state: TyphoonState | None = None,
                    options: TyphoonOptions = TyphoonOptions()) -> TyphoonProblem:  # fmt: skip
    """The window's data under the forecast known at `start_s`; by default the window covers the suspensions."""
    s = scenario
    geo = geometry or TyphoonGeometry(s, scenario_graph(s))
    state = state or TyphoonState()
    period, horizon = s.lanes.period_s, s.clock.horizon_s
    windows = ferry_windows(s, hazard_timeline(s, known_at_s=start_s))
    # Origins and their ferry suspensions (lines at the usual pier of each of their flows).
    lines_of: dict[str, set[str]] = defaultdict(set)
    flows_of: dict[str, list[int]] = defaultdict(list)
    for k, f in enumerate(s.riders.flows):
        flows_of[f.origin].append(k)
        piers = [i for i in geo.flow_points[k] if geo.points[i].kind == "pier"]
        if piers:
            lines_of[f.origin] |= {line for line, _ in geo.pier_lines[geo.points[piers[0]].node]}
    origins = tuple(flows_of)
    stopped = {o: union(w for line in lines_of[o] for w in windows[line]) for o in origins}
    # The window.
    future = [w for o in origins for w in stopped[o] if w[1] > start_s]
    if hours is not None:
        t0, t1 = start_s, min(horizon, start_s + hours * 3600)
    elif future:
        first = min(a for a, _ in future)
        t0 = max(start_s, math.floor(first / period) * period - period)
        t1 = min(horizon, max(b for _, b in future))
    else:
        t0, t1 = start_s, start_s
    n = max(0, math.ceil((t1 - t0) / period - 1e-9))
    edges = t0 + period * np.arange(n + 1)
    # Ways within reach of each origin.
    ways = []
    for p in geo.points:
        if p.kind == "escort" and any(geo.ride_s[o][p.node] <= options.max_ride_s for o in origins):
            ways.append((p.tunnel, p.direction))
    ways = [w for w in ((t, d) for t in s.tunnels for d in DIRECTIONS) if w in ways]
    reach = np.array([[geo.ride_s[o][geo.points[geo.point_index[f"escort:{t}:{d}"]].node] <= options.max_ride_s
                       and geo.point_index[f"escort:{t}:{d}"] in geo.flow_points[flows_of[o][0]]
                       for t, d in ways] for o in origins], dtype=bool).reshape(len(origins), len(ways))  # fmt: skip
    # Riders expected while suspended.
    arrivals = np.zeros((len(origins), n), dtype=np.int64)
    suspended = np.zeros((len(origins), n), dtype=bool)
    for i, o in enumerate(origins):
        cum = np.zeros(n + 1)
        for j in range(n):
            parts = _overlap(stopped[o], edges[j], edges[j + 1])
            suspended[i, j] = bool(parts)
            cum[j + 1] = cum[j] + sum(s.riders.flows[k].arrivals.expected_count(b, a)
                                      for a, b in parts for k in flows_of[o])  # fmt: skip
        arrivals[i] = _rounded(cum)
    # Escorts and motor traffic.
    e = s.escorts
    cycles = np.array([geo.cycle_s(*w) for w in ways])
    team_rate = np.floor(e.batch_size * period / cycles + 1e-9).astype(np.int64)
    first_rate = np.floor(e.batch_size * max(0.0, period - s.lanes.changeover_s) / cycles + 1e-9).astype(np.int64)
    demand = np.zeros((len(ways), n), dtype=np.int64)
    cap_open = np.zeros((len(ways), n), dtype=np.int64)
    cap_cleared = np.zeros((len(ways), n), dtype=np.int64)
    for i, (t, d) in enumerate(ways):
        tunnel = s.tunnels[t]
        profile = tunnel.demand_ab if d == "ab" else tunnel.demand_ba
        demand[i] = _rounded(np.array([profile.expected_count(x) for x in edges]))
        full = tunnel.lanes_per_direction * tunnel.lane_capacity_vph * period / 3600
        less = (tunnel.lanes_per_direction - 1) * tunnel.lane_capacity_vph * tunnel.merge_factor * period / 3600
        cap_open[i], cap_cleared[i] = math.floor(full + 1e-9), math.floor(less + 1e-9)
    alpha = 1 - math.exp(-period / s.riders.patience.mean_s) if s.riders.patience.mean_s > 0 else 1.0
    riding, batch = _give_up_shares(s, geo, origins, ways, cycles, e.count + 1)  # one more for the what-if
    return TyphoonProblem(
        scenario=s.name, start_s=float(t0), period_s=period, ways=tuple(ways), origins=origins,
        arrivals=arrivals, suspended=suspended, reach=reach, cycle_s=cycles, give_up_riding=riding,
        give_up_batch=batch, team_rate=team_rate, first_rate=first_rate,
        demand=demand, cap_open=cap_open, cap_cleared=cap_cleared, teams=e.count,
        min_clear=math.ceil(s.lanes.min_clear_s / period - 1e-9), abandon_per_mille=round(PER_MILLE * alpha),
        waiting0=np.array([state.waiting.get(o, 0) for o in origins], dtype=np.int64),
        queued0=np.array([state.queued.get(w, 0) for w in ways], dtype=np.int64),
        cleared0=np.array([w in state.cleared for w in ways], dtype=bool),
        weights=s.weights, end_is_horizon=t1 >= horizon,
    )  # fmt: skip


def _give_up_shares(s: TyphoonScenario, geo: TyphoonGeometry, origins: tuple[str, ...], ways: list[Way],
                    cycles: np.ndarray, teams: int, samples: int = 20_000,
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Shares of carried riders who give up on the way (patience counts from appearing, riding included):
    P(patience < ride) per origin and way, and the further P(patience < ride + U * cycle / k) - P(patience < ride)
    per way and team count (U uniform: the wait for the next batch), at the mean ride of the origins in reach.
    Estimated from a fixed sample of the patience distribution, so the same scenario gives the same model."""
    rng = np.random.default_rng(0)
    patience = np.sort(np.asarray(s.riders.patience.sample(rng, samples), dtype=float))
    u = rng.uniform(size=samples)
    node = {w: geo.points[geo.point_index[f"escort:{w[0]}:{w[1]}"]].node for w in ways}
    ride = np.array([[geo.ride_s[o][node[w]] for w in ways] for o in origins]).reshape(len(origins), len(ways))

    def below(t: np.ndarray | float) -> float:
        return float(np.searchsorted(patience, t, side="right").mean() / samples) if samples else 0.0

    riding = np.vectorize(below)(ride) if ride.size else ride
    batch = np.zeros((len(ways), max(teams, 1)))
    for w in range(len(ways)):
        finite = ride[:, w][np.isfinite(ride[:, w])]
        r = float(finite.mean()) if finite.size else 0.0
        for k in range(1, teams + 1):
            batch[w, k - 1] = max(0.0, below(r + u * cycles[w] / k) - below(r))
    return riding, batch


# ------------------------------------------------------------------------------------------ the pure objective


@dataclass(frozen=True)
class FluidCost:
    """The fluid model's outcome for one schedule."""

    objective_int: int
    rider_wait_h: float  # in the backlog and waiting for the next batch
    stranded: float  # gave up in the backlog, or (expected) on the way to a batch
    vehicle_h: float
    carried: np.ndarray  # [O, W, P]
    backlog: np.ndarray  # [O, P + 1]
    gave_up: np.ndarray  # [O, P]
    queue: np.ndarray  # [W, P + 1]

    @property
    def objective(self) -> float:
        return self.objective_int / SCALE


def schedule_feasible(problem: TyphoonProblem, clear: np.ndarray) -> bool:
    """Whether a lane schedule `clear[w, p]` keeps the minimum clearing time inside the window and clears no more
    lanes at once than there are teams."""
    n, m = problem.n_periods, problem.min_clear
    for w in range(len(problem.ways)):
        before = bool(problem.cleared0[w])
        for p in range(n):
            if clear[w, p] and not before and (p + m > n or not all(clear[w, p : p + m])):
                return False
            before = bool(clear[w, p])
    return bool((clear.sum(axis=0) <= problem.teams).all())  # each cleared lane needs a team


def _starts(problem: TyphoonProblem, clear: np.ndarray) -> np.ndarray:
    before = np.concatenate([problem.cleared0[:, None], clear[:, :-1]], axis=1) if clear.size else clear
    return clear & ~before


def even_teams(problem: TyphoonProblem, clear: np.ndarray) -> np.ndarray:
    """Teams split as evenly as possible over the ways cleared in each period (earlier ways get the remainder)."""
    teams = np.zeros(clear.shape, dtype=np.int64)
    for p in range(problem.n_periods):
        on = np.flatnonzero(clear[:, p])
        for j, w in enumerate(on):
            teams[w, p] = problem.teams // len(on) + (1 if j < problem.teams % len(on) else 0)
    return teams


def fluid_cost(problem: TyphoonProblem, clear: np.ndarray, teams: np.ndarray | None = None,
               carried: np.ndarray | None = None, sent: dict[int, int] | None = None) -> FluidCost:  # fmt: skip
    """The model's objective for a schedule, as a pure function.

    `teams` defaults to `even_teams`; `sent` (origin index -> way index) to each origin's first way within
    reach; `carried[o, w, p]` defaults to carrying as many as possible, origins in order. That greedy carrying
    is the model's optimum for the schedule when one origin uses one way with a constant team count and the
    window ends while the ferries are still suspended (carrying now then never costs more than later); otherwise
    it is a feasible, possibly dearer, choice.
    Raises ValueError if the schedule breaks the model's rules.
    """
    P, W, NO = problem.n_periods, len(problem.ways), len(problem.origins)
    clear = np.asarray(clear, dtype=bool).reshape(W, P)
    if not schedule_feasible(problem, clear):
        raise ValueError("clear: a clearing is shorter than the minimum or runs past the window")
    teams = even_teams(problem, clear) if teams is None else np.asarray(teams, dtype=np.int64)
    if (teams[~clear] > 0).any() or (teams[clear] < 1).any() or (teams.sum(axis=0) > problem.teams).any():
        raise ValueError("teams: teams at an open way or more teams than there are")
    starts = _starts(problem, clear)
    room = np.where(starts, problem.first_rate[:, None] * teams, problem.team_rate[:, None] * teams)
    wait_c, strand_c, veh_c = problem.coefficients
    if sent is None:
        sent = {o: int(np.flatnonzero(problem.reach[o])[0]) for o in range(NO) if problem.reach[o].any()}
    # Where each origin's riders may be carried, in the order they are tried (plain ints: this runs in loops).
    where = [[w for w in range(W) if problem.reach[o, w] and w == sent.get(o, w)] for o in range(NO)]
    suspended, arrivals, rooms = problem.suspended.tolist(), problem.arrivals.tolist(), room.T.tolist()
    given = carried.tolist() if carried is not None else None
    rate = problem.abandon_per_mille
    out = np.zeros((NO, W, P), dtype=np.int64)
    backlog, gave_up = np.zeros((NO, P + 1), dtype=np.int64), np.zeros((NO, P), dtype=np.int64)
    b = [int(v) for v in problem.waiting0]
    backlog[:, 0] = b
    wait_units, stranded = 0, 0
    for p in range(P):
        left = rooms[p]
        nxt = [0] * NO
        for o in range(NO):
            if not suspended[o][p]:
                continue  # the ferries run: the backlog crosses by ferry
            give_up = (rate * b[o]) // PER_MILLE
            gave_up[o, p] = give_up
            stranded += give_up
            avail = b[o] - give_up + arrivals[o][p]
            for w in where[o]:
                take = given[o][w][p] if given is not None else min(avail, left[w])
                if take > left[w] or take > avail or take < 0:
                    raise ValueError(f"carried[{o}, {w}, {p}]: {take} is more than the room or the riders")
                out[o, w, p] = take
                left[w] -= take
                avail -= take
            nxt[o] = avail
        wait_units += sum(b) + sum(nxt)
        b = nxt
        backlog[:, p + 1] = b
    stranded += sum(b)  # still waiting at the window's end, the ferries still suspended
    queue = np.zeros((W, P + 1), dtype=np.int64)
    q = queue[:, 0] = problem.queued0.astype(np.int64).copy()
    veh_units = 0
    for p in range(P):
        cap = np.where(clear[:, p], problem.cap_cleared[:, p], problem.cap_open[:, p])
        nq = np.maximum(0, q + problem.demand[:, p] - cap)
        veh_units += int(q.sum() + nq.sum())
        q = queue[:, p + 1] = nq
    through, per_way, ways = out.sum(axis=0), out.sum(axis=2), np.arange(W)[:, None]
    t = problem.per_rider
    batch = int((t.batch_cost[ways, teams] * through).sum())
    batch_h = float((t.batch_wait_h[ways, teams] * through).sum())
    ride = int((t.ride_cost * per_way).sum())
    lost = float((problem.give_up_riding * per_way).sum()) + float((t.batch_lost[ways, teams] * through).sum())
    objective = wait_c * wait_units + strand_c * stranded + veh_c * veh_units + batch + ride
    half_h = problem.period_s / 7200
    return FluidCost(objective_int=int(objective), rider_wait_h=float(wait_units * half_h + batch_h),
                     stranded=float(stranded + lost),
                     vehicle_h=veh_units * half_h, carried=out, backlog=backlog, gave_up=gave_up,
                     queue=queue)  # fmt: skip


# ------------------------------------------------------------------------------------------ a first schedule


@dataclass(frozen=True)
class Schedule:
    """A schedule in the model's terms: lanes, teams and each origin's way (indexes)."""

    clear: np.ndarray
    teams: np.ndarray
    sent: dict[int, int]
    cost: FluidCost


def static_schedule(problem: TyphoonProblem, ways: tuple[int, ...]) -> Schedule | None:
    """Clear these ways from a period before the first suspension to the end of the last, each origin sent to
    the nearest of them within reach (fewest giving up on the ride), teams split by the riders expected; None if
    no suspension, or if one of the ways would get no riders (the same set without it is the better start)."""
    P, W = problem.n_periods, len(problem.ways)
    if not ways or len(ways) > problem.teams:
        return None
    sent = {o: min((w for w in ways if problem.reach[o, w]), key=lambda w: problem.give_up_riding[o, w])
            for o in range(len(problem.origins)) if any(problem.reach[o, w] for w in ways)}  # fmt: skip
    if not sent or set(sent.values()) != set(ways):  # a way no one is sent to only costs a team and car delay
        return None
    busy = np.flatnonzero(problem.suspended.any(axis=0))
    if busy.size == 0:  # no suspension in this window (a rolling window before or after the storm)
        return None
    a, b = max(0, int(busy[0]) - 1), int(busy[-1]) + 1
    if b - a < problem.min_clear:
        a = max(0, b - problem.min_clear)
        if b - a < problem.min_clear:
            return None
    clear = np.zeros((W, P), dtype=bool)
    clear[list(ways), a:b] = True
    load = {w: 1 + sum(int(problem.arrivals[o].sum()) for o, ww in sent.items() if ww == w) for w in ways}
    split = _largest_remainder(problem.teams, load)
    teams = np.zeros((W, P), dtype=np.int64)
    for w in ways:
        teams[w, a:b] = split[w]
    return Schedule(clear, teams, sent, fluid_cost(problem, clear, teams, sent=sent))


def schedule_values(problem: TyphoonProblem, schedule: Schedule) -> dict[str, int]:
    """Every model variable's value under a schedule, by name: a complete hint."""
    P, W, NO = problem.n_periods, len(problem.ways), len(problem.origins)
    cost, clear, teams = schedule.cost, schedule.clear, schedule.teams
    starts = _starts(problem, clear)
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


def _largest_remainder(count: int, weights: dict[int, int]) -> dict[int, int]:
    """`count` whole teams in proportion to the weights, each key at least one (count >= keys)."""
    keys = list(weights)
    out = dict.fromkeys(keys, 1)
    rest, total = count - len(keys), sum(weights.values())
    raw = {k: rest * weights[k] / total for k in keys}
    for k in keys:
        out[k] += math.floor(raw[k])
    for k in sorted(keys, key=lambda k: math.floor(raw[k]) - raw[k])[: count - sum(out.values())]:
        out[k] += 1
    return out


def best_static_schedule(problem: TyphoonProblem) -> Schedule | None:
    """The best `static_schedule` over every set of up to `teams` ways (the search's first schedule)."""
    best = None
    for size in range(1, min(problem.teams, len(problem.ways)) + 1):
        for ways in itertools.combinations(range(len(problem.ways)), size):
            found = static_schedule(problem, ways)
            if found is not None and (best is None or found.cost.objective_int < best.cost.objective_int):
                best = found
    return best


# ------------------------------------------------------------------------------------------ the model


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
        """A lower bound on the objective (integer units) from the LP relaxation of this model, solved by GLOP; None
        if it is not solved in time. The LP optimum is rounded down with a margin of 1e-6 relative plus one unit
        for GLOP's floating-point tolerances, so the bound is safe."""
        proto = self.m.Proto()
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

    def solve(self, time_limit_s: float, params: SolveParams) -> TyphoonSolution:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
        solver.parameters.num_workers = max(1, params.workers)
        solver.parameters.random_seed = params.seed
        solver.parameters.relative_gap_limit = params.relative_gap
        # CP-SAT's presolve finds little here and took 0.8 s of a 1 s budget on a 24-period window.
        solver.parameters.cp_model_presolve = False
        started = time.perf_counter()
        status = solver.solve(self.m)
        wall = time.perf_counter() - started
        name = solver.status_name(status)
        pr, v = self.problem, self.v
        bound = solver.best_objective_bound / SCALE if math.isfinite(solver.best_objective_bound) else None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return TyphoonSolution(pr, name, None, bound, wall)
        W, NO, P = len(pr.ways), len(pr.origins), pr.n_periods
        clear = np.array([[solver.value(v.x[(w, p)]) for p in range(P)] for w in range(W)], dtype=bool).reshape(W, P)
        teams = np.array([[solver.value(v.n[(w, p)]) for p in range(P)] for w in range(W)],
                         dtype=np.int64).reshape(W, P)  # fmt: skip
        carried = np.zeros((NO, W, P), dtype=np.int64)
        for key, var in v.c.items():
            carried[key] = solver.value(var)
        sent = {o: w for (o, w), y in v.y.items() if solver.value(y)}
        cost = fluid_cost(pr, clear, teams, carried, sent)
        return TyphoonSolution(pr, name, solver.objective_value / SCALE, bound, wall,
                               clear=clear, teams=teams, cost=cost,
                               sent={pr.origins[o]: pr.ways[w] for o, w in sent.items()})  # fmt: skip


@dataclass(frozen=True)
class TyphoonSolution:
    """One solve of one window: the solver's numbers and the schedule (no solver object)."""

    problem: TyphoonProblem
    status: str
    objective: float | None
    bound: float | None
    wall_s: float
    clear: np.ndarray | None = None
    teams: np.ndarray | None = None
    cost: FluidCost | None = None
    sent: dict[str, Way] = field(default_factory=dict)  # the way each origin's riders are sent to
    source: str = "CP-SAT"  # or `first schedule` when CP-SAT found nothing better in time
    lp_bound: float | None = None  # the LP relaxation's bound, when one was asked for and solved in time


def solve_typhoon(problem: TyphoonProblem, *, params: SolveParams = DEFAULT_PARAMS, time_limit_s: float | None = None,
                  starts: tuple[Schedule, ...] | None = None, lp_bound_s: float = 0.0) -> TyphoonSolution:  # fmt: skip
    """Solve one window with CP-SAT from the best of the given schedules (by default the best static one); if
    CP-SAT finds nothing better in time, that schedule is the answer. With `lp_bound_s`, the LP relaxation is
    solved first (in up to that many seconds more) and its bound handed to CP-SAT."""
    limit = params.time_limit_s if time_limit_s is None else time_limit_s
    started = time.perf_counter()
    model = TyphoonModel(problem)
    lp_bound = None
    if lp_bound_s > 0 and problem.n_periods:
        lp_bound = model.lp_bound(lp_bound_s)
        limit += time.perf_counter() - started  # the LP's time is on top of CP-SAT's
        if lp_bound is not None:
            model.add_lower_bound(lp_bound)
    if starts is None:
        static = best_static_schedule(problem)
        starts = () if static is None else (static,)
    first = min((rescore(problem, x) for x in starts), key=lambda x: x.cost.objective_int, default=None)
    if first is not None:
        model.hint(schedule_values(problem, first))
    out = model.solve(max(0.01, limit - (time.perf_counter() - started)), params)
    if lp_bound is not None:
        out = replace(out, lp_bound=lp_bound / SCALE, bound=max(out.bound or 0.0, lp_bound / SCALE))
    if first is not None and (out.cost is None or out.cost.objective_int > first.cost.objective_int):
        sent = {problem.origins[o]: problem.ways[w] for o, w in first.sent.items()}
        out = replace(out, status="FEASIBLE", objective=first.cost.objective, clear=first.clear, teams=first.teams,
                      cost=first.cost, sent=sent, source="first schedule")  # fmt: skip
    return replace(out, wall_s=time.perf_counter() - started)


def rescore(problem: TyphoonProblem, schedule: Schedule) -> Schedule:
    """The same schedule costed under this problem (other weights, more teams)."""
    return replace(schedule, cost=fluid_cost(problem, schedule.clear, schedule.teams, sent=schedule.sent))


def _starts_for(problem: TyphoonProblem, solution: TyphoonSolution) -> tuple[Schedule, ...]:
    """A what-if solve starts from the main solution or this problem's best static schedule."""
    static = best_static_schedule(problem)
    return (as_schedule(solution), *(() if static is None else (static,)))


def as_schedule(solution: TyphoonSolution) -> Schedule:
    """A solution's schedule, to start another solve from."""
    pr = solution.problem
    assert solution.clear is not None and solution.teams is not None and solution.cost is not None
    sent = {pr.origins.index(o): pr.ways.index(w) for o, w in solution.sent.items()}
    return Schedule(solution.clear, solution.teams, sent, solution.cost)


# ------------------------------------------------------------------------------------------ the plan


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs `[a, b)` of True in a row."""
    out, start = [], None
    for p, on in enumerate([*row.tolist(), False]):
        if on and start is None:
            start = p
        elif not on and start is not None:
            out.append((start, p))
            start = None
    return out


def _team_intervals(teams: np.ndarray, names: list[str]) -> list[tuple[str, int, int, int]]:
    """`(team, way, first period, end period)`: teams kept where they are as long as the count there allows."""
    W, P = teams.shape
    at: dict[str, int | None] = dict.fromkeys(names)
    since: dict[str, int] = dict.fromkeys(names, 0)
    out = []
    for p in range(P + 1):
        want = teams[:, p] if p < P else np.zeros(W, dtype=np.int64)
        here = {w: [t for t in names if at[t] == w] for w in range(W)}
        for w in range(W):
            for t in here[w][int(want[w]) :]:  # too many here: release the last ones
                out.append((t, w, since[t], p))
                at[t] = None
        free = iter([t for t in names if at[t] is None])
        for w in range(W):
            for _ in range(int(want[w]) - min(len(here[w]), int(want[w]))):
                t = next(free)
                at[t], since[t] = w, p
    return out


def plan_actions(problem: TyphoonProblem, scenario: TyphoonScenario, geo: TyphoonGeometry, *, clear: np.ndarray,
                 teams: np.ndarray, sent: dict[str, Way]) -> list[Any]:  # fmt: skip
    """Clear-lane, escort-batch and direct-riders actions that carry out a schedule."""
    pr, e = problem, scenario.escorts
    actions: list[Any] = []
    clear_runs: dict[int, list[tuple[float, float]]] = {}
    for w, (tunnel, d) in enumerate(pr.ways):
        clear_runs[w] = [(pr.t(a), pr.t(b)) for a, b in _runs(clear[w])]
        for a, b in clear_runs[w]:
            actions.append(ClearLane(at_s=a, tunnel=tunnel, direction=d, lanes=1, until_s=b))
    # Each team leads batches back to back while it is assigned to a cleared way; teams that join a way at the
    # same moment are staggered evenly over a cycle.
    groups: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for team, w, a, b in _team_intervals(teams, team_names(scenario)):
        groups[(w, a)].append((team, b))
    changeover = scenario.lanes.changeover_s
    for (w, a), members in sorted(groups.items()):
        tunnel, d = pr.ways[w]
        transit, cycle = geo.transit_s(tunnel, d), geo.cycle_s(tunnel, d)
        for j, (team, b) in enumerate(members):
            lane_a, lane_b = next((lo, hi) for lo, hi in clear_runs[w] if lo <= pr.t(a) < hi)
            at = max(pr.t(a), lane_a + changeover - e.setup_s) + j * cycle / len(members)
            while at + e.setup_s + transit <= min(pr.t(b), lane_b) + 1e-9:
                actions.append(EscortBatch(at_s=round(at, 3), tunnel=tunnel, direction=d, team=team,
                                           max_riders=e.batch_size))  # fmt: skip
                at += cycle
    # Riders of each origin are sent to the way the model chose for them for each of their suspensions in the
    # window in which it is cleared at all; they wait there for the next batch (as the fluid backlog does).
    for o, origin in enumerate(pr.origins):
        way = sent.get(origin)
        if way is None:
            continue
        w = pr.ways.index(way)
        node = geo.points[geo.point_index[f"escort:{way[0]}:{way[1]}"]].node
        for a, b in _runs(pr.suspended[o]):
            if clear[w, a:b].any():
                actions.append(DirectRiders(at_s=pr.t(a), origin=origin, to=node, share=1.0, until_s=pr.t(b)))
    return actions


# ------------------------------------------------------------------------------------------ the result


def _way(w: Way) -> str:
    return f"{w[0]} {w[1]}"


def _describe(problem: TyphoonProblem, scenario: TyphoonScenario, sol: TyphoonSolution) -> list[str]:
    """What the schedule does and what binds."""
    assert sol.clear is not None and sol.teams is not None and sol.cost is not None
    lines = []
    for w, way in enumerate(problem.ways):
        runs = _runs(sol.clear[w])
        if not runs:
            continue
        when = ", ".join(f"{scenario.clock.label(problem.t(a))}-{scenario.clock.label(problem.t(b))}"
                         for a, b in runs)  # fmt: skip
        room = problem.team_rate[w] * sol.teams[w]
        used = sol.cost.carried[:, w, :].sum(axis=0)
        full = int(((room > 0) & (used >= room)).sum())
        lines.append(f"clear one lane of {_way(way)} {when}, {sol.teams[w].max()} team(s) at most; escort capacity "
                     f"full in {full} of {int(sol.clear[w].sum())} periods")  # fmt: skip
    if not lines:
        lines.append("clear nothing: the weighted car delay outweighs the riders' waiting")
    return lines


def optimise_typhoon(scenario: TyphoonScenario, *, params: SolveParams = DEFAULT_PARAMS,
                     options: TyphoonOptions = TyphoonOptions(), start_s: float = 0.0,
                     state: TyphoonState | None = None, hours: float | None = None) -> PlanResult:  # fmt: skip
    """Plan one window (by default the ferry suspensions known at `start_s`): lanes, escorts, riders' orders."""
    start_s = state.at_s if state is not None else start_s
    started = time.perf_counter()
    geo = TyphoonGeometry(scenario, scenario_graph(scenario))
    problem = typhoon_problem(scenario, geo, start_s=start_s, hours=hours, state=state, options=options)
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by="optimizer:typhoon",
                    state_time_s=start_s, seed=params.seed,
                    objective_terms=scenario.weights.model_dump())  # fmt: skip
    if problem.n_periods == 0 or not problem.ways:
        plan = Plan(meta=meta.model_copy(update={"note": "no ferry suspension ahead: nothing to clear"}))
        return PlanResult(plan, "OPTIMAL", 0.0, 0.0, time.perf_counter() - started, params.seed,
                          ("no ferry suspension in the window, or no tunnel within reach of the riders",))  # fmt: skip
    side = params.time_limit_s * options.side_share
    sol = solve_typhoon(problem, params=params, lp_bound_s=options.lp_bound_s)
    if sol.clear is None or sol.teams is None or sol.cost is None:
        return PlanResult(None, sol.status, None, sol.bound, time.perf_counter() - started, params.seed,
                          diagnosis=f"no schedule in {params.time_limit_s:g} s ({sol.status})")  # fmt: skip
    actions = plan_actions(problem, scenario, geo, clear=sol.clear, teams=sol.teams, sent=sol.sent)
    rationale = _describe(problem, scenario, sol)
    cost = sol.cost
    if sol.source != "CP-SAT":
        rationale.append(f"CP-SAT found nothing better than the first schedule (the best static one) in "
                         f"{params.time_limit_s:g} s; the bound is CP-SAT's")  # fmt: skip
    rationale.append(f"fluid model: {cost.rider_wait_h:.0f} rider-hours waiting, {cost.stranded:.0f} riders stranded, "
                     f"{cost.vehicle_h:.0f} vehicle-hours of delay over {problem.n_periods} periods of "
                     f"{problem.period_s / 60:g} min from {scenario.clock.label(problem.start_s)}")  # fmt: skip
    details: dict[str, float] = {
        "periods": float(problem.n_periods), "window_start_s": problem.start_s,
        "rider_wait_h": cost.rider_wait_h, "riders_stranded": float(cost.stranded), "vehicle_h": cost.vehicle_h,
    }  # fmt: skip
    if sol.lp_bound is not None:
        details["lp_bound"] = sol.lp_bound
        rationale.append(f"bound {sol.bound:.1f}: the LP relaxation gave {sol.lp_bound:.1f}")
    if options.extra_team:
        bigger = problem.with_teams(problem.teams + 1)
        more = solve_typhoon(bigger, params=params, time_limit_s=side, starts=_starts_for(bigger, sol))
        if more.objective is not None and sol.objective is not None:
            gain = sol.objective - more.objective
            details["extra_team_objective"] = more.objective
            rationale.append(f"one more escort team ({problem.teams + 1}) would lower the objective by {gain:.1f} "
                             f"to {more.objective:.1f} ({more.status}, {side:g} s)")  # fmt: skip
    w = scenario.weights
    trade_off: list[TradeOffPoint] = []
    for i, factor in enumerate((*sorted(f for f in options.pareto_factors if f < 1), 1.0,
                                *sorted(f for f in options.pareto_factors if f > 1))):  # fmt: skip
        if factor == 1.0:
            point, clear = cost, sol.clear
        else:
            weights = w.model_copy(update={"vehicle_delay_per_h": w.vehicle_delay_per_h * factor})
            other_problem = problem.with_weights(weights)
            other = solve_typhoon(other_problem, params=params, time_limit_s=side,
                                  starts=_starts_for(other_problem, sol))  # fmt: skip
            if other.cost is None or other.clear is None:
                continue
            point, clear = other.cost, other.clear
        cleared = int(clear.sum())
        cleared_ways = tuple(_way(way) for w, way in enumerate(problem.ways) if clear[w].any())
        details.update({f"pareto_{i}_vehicle_weight": w.vehicle_delay_per_h * factor,
                        f"pareto_{i}_rider_wait_h": point.rider_wait_h,
                        f"pareto_{i}_riders_stranded": float(point.stranded),
                        f"pareto_{i}_vehicle_h": point.vehicle_h,
                        f"pareto_{i}_cleared_periods": float(cleared)})  # fmt: skip
        trade_off.append(TradeOffPoint(vehicle_weight=w.vehicle_delay_per_h * factor, rider_wait_h=point.rider_wait_h,
                                       riders_stranded=float(point.stranded), vehicle_h=point.vehicle_h,
                                       cleared_periods=cleared, cleared_ways=cleared_ways, period_s=problem.period_s,
                                       chosen=factor == 1.0))  # fmt: skip
        rationale.append(f"trade-off at car-delay weight {w.vehicle_delay_per_h * factor:g}/h: "
                         f"{point.rider_wait_h:.0f} rider-hours waiting, {point.stranded:.0f} stranded, "
                         f"{point.vehicle_h:.0f} vehicle-hours, {cleared} lane-periods cleared")  # fmt: skip
    note = (f"weights: {w.rider_wait_per_h:g} per rider-hour waiting, {w.rider_stranded:g} per rider stranded, "
            f"{w.vehicle_delay_per_h:g} per vehicle-hour; " + "; ".join(rationale[:1]))  # fmt: skip
    result = PlanResult(None, sol.status, sol.objective, sol.bound, time.perf_counter() - started, params.seed,
                        tuple(rationale), details=details)  # fmt: skip
    plan = Plan.build(meta.model_copy(update={"note": note, "solver": result.stats(), "trade_off": tuple(trade_off)}),
                      actions)  # fmt: skip
    return replace(result, plan=plan)
