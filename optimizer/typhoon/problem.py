"""The typhoon model's data on one window: `TyphoonProblem`, its per-rider costs, and `typhoon_problem`.

A window of periods of `scenario.lanes.period_s` (15 min by default), t_p = start + p * period_s, p = 0 .. P-1,
starting at the state's time (`TyphoonState.at_s`; the scenario's start with no state). By default the window
runs from one period before the first ferry suspension known then to the end of the last one; with `hours`, it
is a rolling window of that length.

Data: the tunnel directions ("ways") some rider origin can reach within `max_ride_s` by e-bike; the rider
origins (bank areas: the flows from one area all cross the river the same way, so they share one backlog);
`arrivals[o, p]`, whole riders expected at origin o in period p while the ferries at the usual piers of its
flows are suspended (expected counts of the profiles, rounded cumulatively); escort throughput per team and
period `team_rate[w] = floor(B * period / cycle)`, cycle = set-up + tunnel length (TyphoonGeometry) / speed +
return, and `first_rate[w]` with `changeover_s` lost; motor demand per period, and capacity with all lanes
open or with one lane cleared ((lanes - 1) x lane capacity x merge factor); and from the state, the riders
waiting per origin, the vehicles queued per way, the ways cleared at the window's start and where each escort
team is in its cycle (for the plan's batch times, `optimizer.typhoon.report.plan_actions`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from scenarios.loading import scenario_graph
from scenarios.schema import TyphoonScenario, TyphoonWeights
from scenarios.typhoon import (
    DIRECTIONS,
    EscortAt,
    TyphoonGeometry,
    TyphoonState,
    ferry_windows,
    hazard_timeline,
    union,
)

DEFAULT_WEIGHTS = TyphoonWeights()
SCALE = 1000  # the integer objective is in thousandths of a weighted unit
PER_MILLE = 1000  # the abandonment fraction is in thousandths
Way = tuple[str, str]


@dataclass(frozen=True)
class TyphoonOptions:
    """Model choices beyond `SolveParams`."""

    max_ride_s: float = 1500.0  # riders are sent only to crossing points this close by e-bike (riding is priced)
    pareto_factors: tuple[float, ...] = (0.25, 4.0)  # vehicle-delay weight multipliers for the trade-off
    extra_team: bool = True  # re-solve with one more escort team for the rationale
    side_share: float = 0.25  # share of the time limit for each extra solve
    lp_bound_s: float = 0.0  # seconds more for the LP relaxation's bound before the main solve (0: none)
    deterministic: bool = True  # CP-SAT on deterministic time: the same plan however busy the machine (solving.py)
    routings: int = 3  # the riders' routing decided first, the best of this many candidates (routing.py); 0: full model


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
    escorts0: tuple[EscortAt, ...] = ()  # the teams' places in their cycles at the state's time (`TyphoonState`)

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


DEFAULT_OPTIONS = TyphoonOptions()


def _rounded(cum: np.ndarray) -> np.ndarray:
    """Whole units per period from a cumulative expected count (rounded cumulatively, so nothing is lost)."""
    return np.diff(np.floor(cum + 0.5 + 1e-9)).astype(np.int64)


def _overlap(windows: tuple[tuple[float, float], ...], a: float, b: float) -> list[tuple[float, float]]:
    return [(max(a, lo), min(b, hi)) for lo, hi in windows if min(b, hi) > max(a, lo)]


def typhoon_problem(scenario: TyphoonScenario, geometry: TyphoonGeometry | None = None, *,
                    state: TyphoonState | None = None, hours: float | None = None,
                    options: TyphoonOptions = DEFAULT_OPTIONS) -> TyphoonProblem:  # fmt: skip
    """The window's data under the forecast known at the state's time (`state.at_s`; 0 with no state); by default
    the window covers the suspensions."""
    s = scenario
    geo = geometry or TyphoonGeometry(s, scenario_graph(s))
    state = state or TyphoonState()
    start_s = state.at_s
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
    escorted: list[tuple[str | None, str | None]] = []
    for p in geo.points:
        if p.kind == "escort" and any(geo.ride_s[o][p.node] <= options.max_ride_s for o in origins):
            escorted.append((p.tunnel, p.direction))
    ways: list[Way] = [w for w in ((t, d) for t in s.tunnels for d in DIRECTIONS) if w in escorted]
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
        weights=s.weights, end_is_horizon=t1 >= horizon, escorts0=state.escorts,
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
