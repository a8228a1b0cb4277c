"""The crowd flow LP on the time-expanded network of `FlowProblem`: its variables, its constraint groups (one
function each), its objective, and `solve_flows`, which builds and solves it.

The LP is assembled from numpy index arrays (`_Matrix`): each variable group is a block of columns, each
constraint group a block of rows, and a group's coefficients are (row, column, value) arrays built at once for
every origin, destination, route and period, never one coefficient at a time. A rule on one variable alone (a
queue that must stay empty, a release that a show forbids) is a bound on that variable, not a row. The whole
is handed to GLOP as one `MPModelProto` (`pywraplp.Solver.SolveWithProto`); GLOP is single-threaded and its
simplex deterministic, so the same problem gives the same solution bit for bit however busy the machine is.
The wall clock is only a safety cap (`time_limit_s`): a solve it stops has no usable answer and says so
(`FlowSolution.capped`). GLOP is 3 x faster than any other solver at hand on Bund 2014, within a third of
HiGHS' interior point on the light show, and the only one whose duals come back through the proto (measured in
benchmarks/README.md, "The crowd flow LP built from arrays").

Variables: `g[o, t]` people let in at origin o in period t; `Q[o, t]` people waiting outside o (held back by
metering) at the start of t; `f[p, t]` people entering inbound route p in t; `S[d, t]` arrivals at viewing
area d; `D[d, t]` people at d at the start of t; `H[d, t]` dwellers whose time is up but who stay for a show;
`R[d, t]` dwellers released in t; `h[q, t]` people entering outbound route q; and slacks: `over_target[d,
t]`, `over_critical[d, t]` and `over_capacity[e, t]`.

Constraints, each group a function:
- `add_queues`: Q[o, t+1] = Q[o, t] + arrivals[o, t] - g[o, t] (the forecast: the demand's expected rate);
  an origin that cannot be metered (no staff can be posted there, second pass) lets everybody in at once; an
  origin from which no viewing area can be reached lets nobody in;
  an entrance lets in no more than its walkways out carry;
- `add_routes_in`: the people let in at o for d (g times d's share) take o's routes to d;
- `add_dwell`: S is what the routes deliver; people due to leave (S convolved with the dwell distribution)
  are released, or held while a show holds them, or where the plan may hold them in place (`holdable`: a
  `HoldArea`, in the half hour after a show's hold ends) as many as it chooses; D[d, t+1] = D[d, t] + S - R;
- `add_routes_out`: released people take the routes from d to the exits;
- `add_area_limits`: D at most the target density (`target_ppm2`, below the warning level) times the area,
  and at most the critical density times the area, each beyond that by a slack;
- `add_holding_limits`: the same for those waiting (Q) in each origin's holding area, and never past its jam
  density (a metro station: nor past its capacity); `A[o, t]` (people told not to come: an announcement) takes
  arrivals off before they come; `X[o, t]` (arrivals whose trains skip station o: a `close_station`) moves them
  to its neighbours by the scenario's rule (`add_queues`);
- `add_walkway_capacity`: the people crossing a walkway in a period (both directions, every route) at most
  `utilisation` x capacity x width x period, beyond that by a slack; capacity is the lesser of the
  fundamental diagram's maximum flow and the door's specific flow, scaled on stairs. Where the problem charges
  counter-flow (`FlowProblem.counterflow`), everyone crossing counts 1 + κ times (κ: the simulation's
  `COUNTERFLOW_FRICTION`): with a and b crossing each way the simulation's cells carry (1 - 2κ·min(a, b)/(a +
  b)) of the capacity, a + b + 2κ·min(a, b) at most the capacity where it binds. The min is not linear, and
  2·min(a, b) is at most a + b, so (1 + κ)(a + b) at most the capacity is a cut, never an over-estimate of what
  the walkway carries. It goes where a solution crossed both ways with no room for the friction
  (`counterflow_cuts`), and the LP is solved again (`optimizer.crowd.optimise`). Charging only the lesser way
  (1 + 2κ on it) is tighter, but it pays the LP to take turns, all one way then all the other, and a gate whose
  queue it let in at full width in one period while leavers came out packed to 4.8 /m² in the simulation.

Objective (minimised): `weights.over_critical` per person-minute above the critical density (areas) or above
a walkway's capacity, then `weights.over_target` per person-minute above the target density, then
`weights.hold` per person-minute held in place past their time by the plan (not a show),
`weights.announce` per person told not to come, `weights.skip_station` per person whose train skips their
station, `weights.queue` per person-minute held back (and everyone still
held back at the end, for an hour), then
`weights.walk` per person-minute walked. These are fluid proxies for the simulation's KPIs: the model counts
people beyond a density, not everybody in a dense place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp

from optimizer.crowd.flow import FlowProblem, Route
from optimizer.solving import lp_response_status

INF = float("inf")


@dataclass(frozen=True)
class FlowSolution:
    status: str
    objective: float | None
    wall_s: float
    entry: np.ndarray | None = None  # g (origins, periods)
    queue: np.ndarray | None = None  # Q (origins, periods + 1)
    told: np.ndarray | None = None  # A (origins, periods): told not to come
    skipped: np.ndarray | None = None  # X (origins, periods): arrivals whose trains skip their station
    dwellers: np.ndarray | None = None  # D (destinations, periods + 1)
    # (destinations, periods): of those due to leave, held in place by the plan over each period (a `HoldArea`;
    # not those a show holds, whatever the plan does)
    held: np.ndarray | None = None
    released: np.ndarray | None = None  # R (destinations, periods): let go
    over_capacity: dict[tuple[int, int], float] = field(default_factory=dict)
    over_area: dict[tuple[int, int], float] = field(default_factory=dict)
    binding: tuple[tuple[int, int, float], ...] = ()  # (walkway, period, dual) of the most valuable capacities
    terms: dict[str, float] = field(default_factory=dict)
    leaving: dict[int, np.ndarray] = field(default_factory=dict)  # destination -> (routes out, periods) people
    # (2, walkways, periods): people crossing each walkway from its first node to its second [0], the other way [1]
    way_loads: np.ndarray | None = None
    capped: bool = False  # the wall-clock safety cap stopped the solve (then no answer is used)
    build_s: float = 0.0  # of `wall_s`: assembling the LP (the rest: GLOP and reading its answer)
    cpu_s: float = 0.0  # this process's CPU seconds for it all (GLOP runs in one thread: a busy machine's honest cost)


class _Matrix:
    """A linear programme assembled from arrays: columns with bounds and costs, rows with bounds, and the
    matrix's nonzeros as (row, column, value) triplets."""

    def __init__(self) -> None:
        self.col_lb: list[np.ndarray] = []
        self.col_ub: list[np.ndarray] = []
        self.n_cols = 0
        self.row_lb: list[np.ndarray] = []
        self.row_ub: list[np.ndarray] = []
        self.n_rows = 0
        self.entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def columns(self, shape: int | tuple[int, ...], *, ub: float | np.ndarray = INF) -> np.ndarray:
        """A block of new columns (at least 0, at most `ub`), their indices in `shape`."""
        idx = self.n_cols + np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        self.n_cols += idx.size
        self.col_lb.append(np.zeros(idx.size))
        self.col_ub.append(np.broadcast_to(np.asarray(ub, dtype=float), idx.shape).ravel().copy())
        return idx

    def rows(self, shape: int | tuple[int, ...], lb: float | np.ndarray, ub: float | np.ndarray) -> np.ndarray:
        """A block of new rows, lb <= row <= ub, their indices in `shape`."""
        idx = self.n_rows + np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        self.n_rows += idx.size
        self.row_lb.append(np.broadcast_to(np.asarray(lb, dtype=float), idx.shape).ravel().copy())
        self.row_ub.append(np.broadcast_to(np.asarray(ub, dtype=float), idx.shape).ravel().copy())
        return idx

    def add(self, rows: np.ndarray, cols: np.ndarray, values: float | np.ndarray = 1.0) -> None:
        """Coefficients `values` of columns `cols` in rows `rows` (broadcast together)."""
        r, c, v = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                                      np.asarray(values, dtype=float))  # fmt: skip
        self.entries.append((r.ravel(), c.ravel(), v.ravel()))


@dataclass(frozen=True)
class _Columns:
    """Each variable group's column indices (arrays shaped by origin or destination or route, and period)."""

    g: np.ndarray  # (origins, T)
    Q: np.ndarray  # (origins, T + 1)
    f: np.ndarray  # (routes in, T)
    S: np.ndarray  # (destinations, T)
    D: np.ndarray  # (destinations, T + 1)
    H: np.ndarray  # (destinations, T + 1)
    R: np.ndarray  # (destinations, T)
    h: np.ndarray  # (routes out, T)
    over_target: np.ndarray  # (destinations, T)
    over_critical: np.ndarray  # (destinations, T)
    A: np.ndarray  # (origins, T)
    over_hold_target: np.ndarray  # (origins, T)
    over_hold_critical: np.ndarray  # (origins, T)
    X: np.ndarray  # (stations, T)


@dataclass(frozen=True)
class _Routes:
    """Routes in (and out) stacked in the problem's order: each route's origin (-1 out), destination, lag and
    free walking seconds, and its walkways as flat (route, walkway, offset) arrays."""

    origin: np.ndarray
    destination: np.ndarray
    lag: np.ndarray
    free_s: np.ndarray
    way_route: np.ndarray
    way: np.ndarray
    way_offset: np.ndarray
    way_dir: np.ndarray  # +1 from the walkway's first node to its second, -1 the other way


def _stack(items: list[tuple[int, int, Route]]) -> _Routes:
    def ints(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    way_route = [k for k, (_, _, route) in enumerate(items) for _ in route.walkways]
    return _Routes(origin=ints([o for o, _, _ in items]), destination=ints([d for _, d, _ in items]),
                   lag=ints([r.lag for *_, r in items]), free_s=np.array([r.free_s for *_, r in items], dtype=float),
                   way_route=ints(way_route), way=ints([w for *_, r in items for w in r.walkways]),
                   way_offset=ints([x for *_, r in items for x in r.offsets]),
                   way_dir=ints([d for *_, r in items for d in r.directions]))  # fmt: skip


class _FlowLP:
    """The LP's variables and constraint groups (kept together so that each group is a small method)."""

    def __init__(self, p: FlowProblem):
        self.p = p
        m = self.m = _Matrix()
        T, no, nd = p.n_periods, len(p.origins), len(p.destinations)
        self.routes_in = _stack([(o, d, r) for (o, d), routes in p.routes_in.items() for r in routes])
        self.routes_out = _stack([(-1, d, r) for d, routes in p.routes_out.items() for r in routes])
        stations = np.array(p.stations, dtype=np.int64)
        # Those told not to come (an announcement), and arrivals at a station whose trains skip it (a
        # `close_station`, sent on to its neighbours): never more than come.
        self.v = _Columns(
            g=m.columns((no, T)), Q=m.columns((no, T + 1)), f=m.columns((len(self.routes_in.lag), T)),
            S=m.columns((nd, T)), D=m.columns((nd, T + 1)), H=m.columns((nd, T + 1)), R=m.columns((nd, T)),
            h=m.columns((len(self.routes_out.lag), T)), over_target=m.columns((nd, T)),
            over_critical=m.columns((nd, T)), A=m.columns((no, T), ub=p.arrivals),
            over_hold_target=m.columns((no, T)), over_hold_critical=m.columns((no, T)),
            X=m.columns((len(stations), T), ub=p.arrivals[stations].reshape(len(stations), T)),
        )  # fmt: skip
        self.stations = stations
        self.capacity_rows = np.zeros(0, dtype=np.int64)
        self.capacity_keys = np.zeros((0, 2), dtype=np.int64)  # (walkway, period) of each capacity row
        self.over_capacity = np.zeros(0, dtype=np.int64)
        # Every route's flow on a walkway: its walkway, period, column and direction (`add_walkway_capacity`)
        empty = np.zeros(0, dtype=np.int64)
        self.load_way, self.load_period, self.load_col, self.load_dir = empty, empty, empty, empty
        # Bounds on single variables, applied after every group (`fix`: lb = ub; `cap`: ub at most).
        self.fixed: list[tuple[np.ndarray, np.ndarray]] = []
        self.capped: list[tuple[np.ndarray, np.ndarray]] = []
        self.moved = np.zeros(0, dtype=np.int64)
        self.stay = np.zeros((nd, T), dtype=bool)  # (destinations, T): a show (or no way out) holds the dwellers

    def fix(self, cols: np.ndarray, value: float | np.ndarray = 0.0) -> None:
        cols = np.asarray(cols, dtype=np.int64)
        self.fixed.append((cols.ravel(), np.broadcast_to(np.asarray(value, dtype=float), cols.shape).ravel()))

    def cap(self, cols: np.ndarray, ub: float | np.ndarray) -> None:
        cols = np.asarray(cols, dtype=np.int64)
        self.capped.append((cols.ravel(), np.broadcast_to(np.asarray(ub, dtype=float), cols.shape).ravel()))

    def add_queues(self) -> None:
        # Q[o, t+1] = Q[o, t] + arrivals[o, t] - A[o, t] - g[o, t] - moved out + moved in (A: told not to come);
        # nobody waits outside at the start (or those waiting at a re-plan's state); an origin that cannot be
        # metered in period t keeps nobody waiting; a closed origin lets nobody in and its queue moves to the
        # nearest open origin (`move_to`), if there is one.
        p, m, v, T = self.p, self.m, self.v, self.p.n_periods
        no = len(p.origins)
        closed = p.closed if p.closed is not None else np.zeros((no, T), dtype=bool)
        move_to = p.move_to if p.move_to is not None else np.full((no, T), -1)
        rows = m.rows((no, T), p.arrivals, p.arrivals)  # Q' - Q + g + A + out - in + skipped - skipped in = a
        m.add(rows, v.Q[:, 1:], 1.0)
        m.add(rows, v.Q[:, :-1], -1.0)
        m.add(rows, v.g, 1.0)
        m.add(rows, v.A, 1.0)
        mo, mt = np.nonzero(closed & (move_to >= 0))
        self.moved = moved = m.columns(len(mo))
        m.add(rows[mo, mt], moved, 1.0)
        m.add(rows[move_to[mo, mt], mt], moved, -1.0)
        self.fix(v.Q[mo, mt + 1])
        # Trains skip station o in t for X[o, t] of its arrivals: they come to its neighbours (the rule's
        # shares) instead, or ride on beyond the area; never more than come there, less those told not to come.
        if len(self.stations):
            assert p.skip_to is not None
            m.add(rows[self.stations], v.X, 1.0)
            k, j = np.nonzero(p.skip_to[self.stations] > 0)
            m.add(rows[j], v.X[k], -p.skip_to[self.stations[k], j][:, None])
            limit = m.rows(v.X.shape, -INF, p.arrivals[self.stations])
            m.add(limit, v.X, 1.0)
            m.add(limit, v.A[self.stations], 1.0)
        self.fix(v.Q[:, 0], p.outside0 if p.outside0 is not None else 0.0)
        reaches = (p.split.sum(axis=1) > 0)[:, None]
        open_ = reaches & ~closed
        ub = np.where(open_, np.maximum(p.entrance[:, None], p.arrivals), 0.0)
        # An entrance nobody can meter lets everybody in: those waiting (from a metered spell, the start, or sent
        # from a closed entrance) too.
        free = open_ & ~p.meterable
        self.cap(v.g, np.where(free, INF, ub))
        self.fix(v.Q[:, 1:][free])

    def add_routes_in(self) -> None:
        # The people let in at o for d (g times d's share) take o's routes to d.
        p, m, v, T = self.p, self.m, self.v, self.p.n_periods
        keys = list(p.routes_in)
        rows = m.rows((len(keys), T), 0.0, 0.0)
        o = np.array([k[0] for k in keys], dtype=np.int64)
        d = np.array([k[1] for k in keys], dtype=np.int64)
        share = p.split[o, d] if keys else np.zeros(0)
        m.add(rows, v.g[o], -share[:, None])
        key_of = {k: i for i, k in enumerate(keys)}
        r = self.routes_in
        m.add(rows[[key_of[int(a), int(b)] for a, b in zip(r.origin, r.destination, strict=True)]], v.f, 1.0)

    def add_dwell(self) -> None:
        # S[d, t] is what the routes deliver at t; people due (S convolved with the dwell distribution) are
        # released, or held while a show holds them; D[d, t+1] = D[d, t] + S[d, t] - R[d, t].
        p, m, v, T = self.p, self.m, self.v, self.p.n_periods
        nd = len(p.destinations)
        walking = p.heading0 if p.heading0 is not None else np.zeros((nd, T))
        arrive = m.rows((nd, T), walking, walking)  # S = what the routes deliver (+ those on their way at the start)
        m.add(arrive, v.S, 1.0)
        r = self.routes_in
        t = np.arange(T)[None, :]
        lands = t + r.lag[:, None]  # (routes, T): the period each period's starters arrive in
        k, s = np.nonzero(lands < T)
        m.add(arrive[r.destination[k], lands[k, s]], v.f[k, s], -1.0)
        already = p.due0 if p.due0 is not None else np.zeros((nd, T))  # those present at the start
        due = m.rows((nd, T), -already, -already)  # due(t) + H(t) - R(t) - H(t+1) = 0
        lags = np.flatnonzero(p.kernel[: min(T, p.kernel.size)] > 0)
        tt, jj = np.nonzero(lags[None, :] <= np.arange(T)[:, None])  # period t, the j-th lag at most t
        jj = lags[jj]
        m.add(due[:, tt], v.S[:, tt - jj], p.kernel[jj][None, :])
        m.add(due, v.H[:, :-1], 1.0)
        m.add(due, v.R, -1.0)
        m.add(due, v.H[:, 1:], -1.0)
        # A show holds them, or no exit route is open: they stay; otherwise nobody is held past their time, but
        # where the plan may hold them in place (`holdable`: a `HoldArea`, staffed), as few or as many as it likes.
        shut = np.zeros((nd, T), dtype=bool)
        for d, open_ in p.out_open.items():
            shut[d] = ~open_.any(axis=0)
        stay = p.hold[None, :].astype(bool) | shut
        self.stay = stay
        holdable = p.holdable if p.holdable is not None else np.zeros((nd, T), dtype=bool)
        self.fix(v.R[stay])
        self.fix(v.H[:, 1:][~stay & ~holdable])
        self.fix(v.D[:, 0], p.present0 if p.present0 is not None else 0.0)
        self.fix(v.H[:, 0])
        balance = m.rows((nd, T), 0.0, 0.0)  # D' - D - S + R = 0
        m.add(balance, v.D[:, 1:], 1.0)
        m.add(balance, v.D[:, :-1], -1.0)
        m.add(balance, v.S, -1.0)
        m.add(balance, v.R, 1.0)

    def add_routes_out(self) -> None:
        # Released people take the routes from d to the exits; a closed exit takes nobody.
        p, m, v, T = self.p, self.m, self.v, self.p.n_periods
        keys = list(p.routes_out)
        rows = m.rows((len(keys), T), 0.0, 0.0)
        m.add(rows, v.R[np.array(keys, dtype=np.int64)], -1.0)
        key_of = {d: i for i, d in enumerate(keys)}
        m.add(rows[[key_of[int(d)] for d in self.routes_out.destination]], v.h, 1.0)
        start = 0
        for d, routes in p.routes_out.items():
            if d in p.out_open:
                self.fix(v.h[start:start + len(routes)][~p.out_open[d]])
            start += len(routes)

    def add_area_limits(self) -> None:
        # People at a viewing area: at most the target density times its area, and at most the critical
        # density times its area, each beyond that by a slack.
        p, m, v, T = self.p, self.m, self.v, self.p.n_periods
        for density, slack in ((p.target_ppm2, v.over_target), (p.critical_ppm2, v.over_critical)):
            rows = m.rows(slack.shape, -INF, np.repeat(density * p.area[:, None], T, axis=1))
            m.add(rows, v.D[:, 1:], 1.0)
            m.add(rows, slack, -1.0)

    def add_holding_limits(self) -> None:
        # People waiting before an origin stand in its holding area: at most the target density times its area,
        # and at most the critical density times it, each beyond that by a slack; never more than the jam
        # density fills (the simulation turns the rest away), nor, at a station, more than it holds.
        p, m, v, T = self.p, self.m, self.v, self.p.n_periods
        if p.holding_area is None:
            return
        area = p.holding_area.astype(float)
        for density, slack in ((p.target_ppm2, v.over_hold_target), (p.critical_ppm2, v.over_hold_critical)):
            rows = m.rows(slack.shape, -INF, np.repeat(density * area[:, None], T, axis=1))
            m.add(rows, v.Q[:, 1:], 1.0)
            m.add(rows, slack, -1.0)
        station_cap = p.station_cap if p.station_cap is not None else np.full(len(area), INF)
        self.cap(v.Q[:, 1:], np.minimum(p.jam_ppm2 * area, station_cap)[:, None])

    def add_walkway_capacity(self) -> None:
        # The people crossing a walkway in a period, both ways, every route, at most its capacity (utilisation
        # included), beyond that by a slack. Where the problem charges counter-flow (`FlowProblem.counterflow`),
        # everyone crossing counts 1 + κ times: with a and b crossing each way, the simulation's cells carry at
        # most (1 − 2κ·min(a, b)/(a + b)) of the capacity, that is a + b + 2κ·min(a, b) at most the capacity
        # where it binds, and 2·min(a, b) is at most a + b.
        p, m, v, T = self.p, self.m, self.v, self.p.n_periods
        loads = []  # (walkway, period, column, direction) of every route's flow on a walkway
        for r, cols in ((self.routes_in, v.f), (self.routes_out, v.h)):
            t = np.arange(T)[None, :]
            k, s = np.nonzero(t < T - r.way_offset[:, None])  # k: the k-th (route, walkway) pair
            loads.append((r.way[k], s + r.way_offset[k], cols[r.way_route[k], s], r.way_dir[k]))
        way, period, col, direction = (np.concatenate(x) for x in zip(*loads, strict=True))
        self.load_way, self.load_period, self.load_col, self.load_dir = way, period, col, direction
        keys, which = np.unique(way * T + period, return_inverse=True)
        self.capacity_keys = np.stack([keys // T, keys % T], axis=1)
        rows = m.rows(len(keys), -INF, p.capacity[self.capacity_keys[:, 0]])
        self.over_capacity = m.columns(len(keys))
        coef = np.ones(len(col))
        if p.counterflow is not None:
            coef += p.friction * p.counterflow[way, period]
        m.add(rows[which], col, coef)
        m.add(rows, self.over_capacity, -1.0)
        self.capacity_rows = rows

    def set_objective(self) -> np.ndarray:
        """Each column's cost (minimised)."""
        p, v, T = self.p, self.v, self.p.n_periods
        w, minutes = p.weights, p.period_s / 60
        cost = np.zeros(self.m.n_cols)
        cost[v.over_critical] = w.over_critical * minutes
        cost[v.over_target] = w.over_target * minutes
        cost[self.over_capacity] = w.over_critical * minutes
        cost[v.over_hold_critical] = w.over_critical * minutes
        cost[v.over_hold_target] = w.over_target * minutes
        cost[v.A] = w.announce
        cost[v.X] = w.skip_station
        cost[v.Q[:, 1:T]] = w.queue * minutes
        cost[v.Q[:, T]] = w.queue * (minutes + w.leftover_min)
        # Held in place past their time by the plan (not by a show, which holds them whatever the plan does).
        chosen = ~self.stay
        cost[v.H[:, 1:][chosen]] = w.hold * minutes
        cost[v.H[:, T][chosen[:, -1]]] += w.hold * w.leftover_min
        cost[v.f] = (w.walk * self.routes_in.free_s / 60)[:, None]
        cost[v.h] = (w.walk * self.routes_out.free_s / 60)[:, None]
        return cost

    def build(self) -> linear_solver_pb2.MPModelProto:
        """Every group, the objective, and the model as one proto (rows in order, each row's columns sorted, a
        column met twice in a row once with the sum of its coefficients)."""
        for group in (self.add_queues, self.add_routes_in, self.add_dwell, self.add_routes_out,
                      self.add_area_limits, self.add_holding_limits, self.add_walkway_capacity):  # fmt: skip
            group()
        m = self.m
        cost = self.set_objective()
        lb, ub = np.concatenate(m.col_lb), np.concatenate(m.col_ub)
        for cols, value in self.capped:
            ub[cols] = np.minimum(ub[cols], value)
        for cols, value in self.fixed:
            lb[cols] = value
            ub[cols] = np.minimum(ub[cols], value)
        rows, cols, values = (np.concatenate(x) for x in zip(*m.entries, strict=True))
        # One coefficient per (row, column), the sum of its terms, in row order and column order within a row.
        cells, which = np.unique(rows * m.n_cols + cols, return_inverse=True)
        values = np.bincount(which, weights=values, minlength=len(cells))
        keep = values != 0
        rows, cols, values = cells[keep] // m.n_cols, cells[keep] % m.n_cols, values[keep]
        starts = np.searchsorted(rows, np.arange(m.n_rows + 1)).tolist()
        model = linear_solver_pb2.MPModelProto()
        add_var = model.variable.add
        for a, b, c in zip(lb.tolist(), ub.tolist(), cost.tolist(), strict=True):
            add_var(lower_bound=a, upper_bound=b, objective_coefficient=c)
        index, coef = cols.tolist(), values.tolist()
        add_row = model.constraint.add
        for i, (a, b) in enumerate(zip(np.concatenate(m.row_lb).tolist(), np.concatenate(m.row_ub).tolist(),
                                       strict=True)):  # fmt: skip
            add_row(lower_bound=a, upper_bound=b, var_index=index[starts[i]:starts[i + 1]],
                    coefficient=coef[starts[i]:starts[i + 1]])  # fmt: skip
        return model


def solve_flows(problem: FlowProblem, *, time_limit_s: float = 30.0) -> FlowSolution:
    """Build and solve the flow LP; the entry plan per origin and period, queues, and what binds. `time_limit_s`
    is a wall-clock safety cap only: GLOP's answer does not depend on it unless it stops the solve."""
    started, cpu0 = time.perf_counter(), time.process_time()
    lp = _FlowLP(problem)
    model = lp.build()
    build_s = time.perf_counter() - started
    request = linear_solver_pb2.MPModelRequest(
        model=model, solver_type=linear_solver_pb2.MPModelRequest.GLOP_LINEAR_PROGRAMMING,
        solver_time_limit_seconds=time_limit_s)  # fmt: skip
    response = linear_solver_pb2.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(request, response)
    status = lp_response_status(response.status)
    wall = time.perf_counter() - started
    if status != "OPTIMAL":  # GLOP stops short of the optimum only when the safety cap stops it: not reproducible
        capped = status in ("UNKNOWN", "FEASIBLE") and wall >= 0.99 * time_limit_s
        return FlowSolution(status, None, wall, capped=capped, build_s=build_s, cpu_s=time.process_time() - cpu0)
    return replace(_read(problem, lp, response, started, build_s), cpu_s=time.process_time() - cpu0)


def _read(problem: FlowProblem, lp: _FlowLP, response: linear_solver_pb2.MPSolutionResponse, started: float,
          build_s: float) -> FlowSolution:  # fmt: skip
    """The solution's arrays, what binds, and the objective's terms."""
    x = np.array(response.variable_value)
    v, T = lp.v, problem.n_periods
    entry, queue, told, dwellers, released = x[v.g], x[v.Q], x[v.A], x[v.D], x[v.R]
    held = np.where(lp.stay, 0.0, x[v.H[:, 1:]])
    skipped = np.zeros((len(problem.origins), T))
    skipped[lp.stations] = x[v.X]
    over_cap = x[lp.over_capacity]
    over_capacity = {(int(w), int(t)): float(y) for (w, t), y in zip(lp.capacity_keys, over_cap, strict=True)
                     if y > 1e-6}  # fmt: skip
    over_target = x[v.over_target]
    over_area = {(int(d), int(t)): float(over_target[d, t]) for d, t in zip(*np.nonzero(over_target > 1e-6),
                                                                             strict=True)}  # fmt: skip
    # The capacities worth most (their duals, as a gain per person), the first walkway and period first on a tie.
    dual = -np.array(response.dual_value)[lp.capacity_rows] if len(response.dual_value) else np.zeros(0)
    top = [k for k in np.argsort(-dual, kind="stable") if abs(dual[k]) > 1e-9][:10]
    binding = tuple((int(lp.capacity_keys[k, 0]), int(lp.capacity_keys[k, 1]), float(dual[k])) for k in top)
    minutes = problem.period_s / 60
    terms = {
        "over_critical_person_min": minutes * (sum(over_capacity.values()) + float(x[v.over_hold_critical].sum())
                                               + float(x[v.over_critical].sum())),
        "over_target_person_min": minutes * (sum(over_area.values()) + float(x[v.over_hold_target].sum())),
        "told_not_to_come": float(told.sum()),
        "station_skipped": float(skipped.sum()),
        "queue_person_min": minutes * float(queue[:, 1:].sum()),
        "held_at_end": float(queue[:, -1].sum()),
        "held_in_place_person_min": minutes * float(held.sum()),
        "let_in": float(entry.sum()),
    }  # fmt: skip
    way_loads = np.zeros((2, len(problem.walkways), T))
    np.add.at(way_loads, ((lp.load_dir < 0).astype(np.int64), lp.load_way, lp.load_period), x[lp.load_col])
    leaving, start = {}, 0
    for d, routes in problem.routes_out.items():
        leaving[d] = x[v.h[start:start + len(routes)]].reshape(len(routes), T)
        start += len(routes)
    return FlowSolution(lp_response_status(response.status), float(response.objective_value),
                        time.perf_counter() - started, entry=entry, queue=queue, told=told, skipped=skipped,
                        dwellers=dwellers, held=held, released=released, over_capacity=over_capacity,
                        over_area=over_area, binding=binding, terms=terms, leaving=leaving,
                        way_loads=way_loads, build_s=build_s)  # fmt: skip


def counterflow_cuts(problem: FlowProblem, sol: FlowSolution, *, tol: float = 1e-6) -> np.ndarray | None:
    """The problem's counter-flow charges (`FlowProblem.counterflow`) and, where `sol` crosses a walkway both ways
    in a period beyond what the friction leaves of its capacity (a + b + 2κ·min(a, b) above it, its slack
    included), a charge in that period and the periods either side (a charged LP tends to move the same crossing
    by a period); None if there is no such walkway and period."""
    if sol.way_loads is None:
        return None
    a, b = sol.way_loads
    over = np.zeros_like(a)
    for (w, t), y in sol.over_capacity.items():
        over[w, t] = y
    cap = problem.capacity[:, None]
    known = problem.counterflow if problem.counterflow is not None else np.zeros(a.shape, dtype=bool)
    new = ~known & (np.minimum(a, b) > tol) & (a + b + 2 * problem.friction * np.minimum(a, b)
                                               > cap + over + tol * np.maximum(cap, 1.0))  # fmt: skip
    if not new.any():
        return None
    near = new.copy()
    near[:, 1:] |= new[:, :-1]
    near[:, :-1] |= new[:, 1:]
    return known | near
