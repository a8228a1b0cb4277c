"""Typhoon: ferries stop for the storm; riders cross in escorted batches through a cleared tunnel lane.

The actors, each a small SimPy process (one-off moments are callbacks), and the riders:
- riders: delivery riders appear at their bank area, flow by flow (Poisson or evenly spaced by the flow's
  profile, from the flow's own random streams: arrival times, patience and a uniform number that decides whether
  a `direct_riders` order with a share below 1 applies to them). A rider's own moments (appearing, patience
  running out, a ride to a crossing point ending) are not SimPy events: they sit on the riders' calendar, which
  every SimPy event that reads or moves riders plays up to its own time first (`catch_up`), so each moment still
  happens at its own time and in time order, at a fraction of a SimPy event's cost;
- `ferry`: one per line and direction, leaving every `headway_s` within the service hours unless the line is
  suspended, with up to `riders_per_trip` riders from its pier's queue;
- `escort_team`: one per team, working through its `escort_batch` orders in time order: set-up at the
  gathering point, then the batch (up to `max_riders`, at most the batch size) boards and rides through the
  tunnel at the slower of escort and e-bike speed, then the team returns. A batch goes only if it boards while
  the lane is usable (cleared, and the `changeover_s` sweep done) and leaves the tunnel before the lane reopens;
  a batch with nobody waiting does not go;
- changes, scheduled as callbacks: at every moment the world changes (hazard, ferry suspended or resumed,
  service hours, lane cleared or restored, an order to riders starts or ends) the change is logged and waiting
  riders choose again;
- injects, at their times and before any other change due then: each fires if its condition holds on the
  state (`readings()`, the sampler's series names); a `forecast` inject revises the timeline in force from
  then on, and the ferry suspensions and weather changes still to come are rescheduled from it; a `delay`
  inject holds back the batches of team `target` (or `escorts`, all teams) not yet started;
- `traffic`: motor vehicles, a discrete-time queue per tunnel direction in steps of `TRAFFIC_STEP_S`, advanced
  for all directions at once a sample interval at a time: whole vehicles arrive (Poisson or evenly spaced by
  the hourly demand, from each direction's own stream) and whole vehicles leave as the capacity allows, the
  capacity being open lanes x lane capacity (x merge factor while a lane is cleared), integrated exactly over
  time and rounded down cumulatively (so no fraction is lost); a block of steps is Lindley's recursion in
  closed form (`queue_steps`). Delay is the area under the queue (trapezoid per step); vehicles are conserved
  exactly (arrived = through + queued).
- `sampler`: every minute (by default), the series for charts and the map: `readings()`.

A waiting rider goes where an order in force for their origin sends them; otherwise to the quickest open
crossing (a pier with a line running, or a tunnel direction with a lane cleared); otherwise to their usual
(quickest) pier to wait for the ferries. They ride between places by e-bike on their own bank, and give up
`patience` after appearing. Their waiting time is the time spent waiting at a place, riding excluded.

KPIs: `rider_mean_wait_min` and `rider_p95_wait_min` over every rider who appeared (waiting until they
crossed, gave up, or the run ended); `riders_crossed` (boarded a ferry or a batch); `riders_stranded` (gave up
or still waiting at the end); `vehicle_delay_h` (vehicle-hours queued at tunnel entrances); `max_vehicle_queue`
(most vehicles queued at one tunnel direction); `escort_utilisation` (team time busy over team time while any
lane is cleared); `ferry_suspended_h` (hours in which at least one ferry line is suspended); and, for context,
`riders` (appeared) and `riders_escorted`.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from scenarios.defaults import default_plan as scenario_default_plan
from scenarios.errors import ScenarioError
from scenarios.injects import delay_of, parse_condition
from scenarios.plan import ClearLane, DirectRiders, EscortBatch, Plan
from scenarios.schema import ArrivalProfile, Inject, TyphoonScenario
from scenarios.splice import in_force
from scenarios.typhoon import (
    DIRECTIONS,
    FORECAST_INJECT,
    EscortAt,
    TyphoonGeometry,
    TyphoonState,
    check_plan,
    clear_intervals,
    conditions_at,
    ferry_windows,
    hazard_timeline,
    inside,
    team_names,
    union,
)
from simulation.core import (
    CountingEnvironment,
    Recorder,
    RunStats,
    SimResult,
    WallClock,
    even_times,
    poisson_times,
    streams,
)

SAMPLE_EVERY_S = 60.0
TRAFFIC_STEP_S = 10.0
PLAN_TIME_S = 1e-3  # plans' times are rounded to the millisecond (`optimizer.typhoon.report.plan_actions`)
UNSEEN, WAITING, CROSSED, GAVE_UP = 0, 1, 2, 3
NOWHERE = -1  # a rider with no crossing point at all waits at their origin


@dataclass
class PointQueue:
    """Riders waiting at a crossing point, first come first served; entries of riders who left are skipped."""

    entries: deque[tuple[int, int]] = field(default_factory=deque)  # (rider, ticket)
    count: int = 0


class TyphoonModel:
    """One run of a typhoon scenario under a plan."""

    def __init__(self, scenario: TyphoonScenario, plan: Plan | None = None, *, seed: int | None = None,
                 geometry: TyphoonGeometry | None = None, sample_every_s: float = SAMPLE_EVERY_S):  # fmt: skip
        from scenarios.loading import scenario_graph

        self.s = scenario
        self.geo = geometry or TyphoonGeometry(scenario, scenario_graph(scenario))
        self.plan = plan if plan is not None else scenario_default_plan(scenario, self.geo.graph)
        problems = check_plan(self.plan, scenario, self.geo)
        if problems:
            raise ScenarioError(problems)
        self.seed = scenario.seed if seed is None else seed
        self.horizon = scenario.clock.horizon_s
        self.sample_every_s = sample_every_s
        self.env = CountingEnvironment()
        self.rec = Recorder()
        self.fired: set[int] = set()  # indexes of the injects that fired
        self.timeline = hazard_timeline(scenario, known_at_s=-1.0)  # forecasts revise it as their injects fire
        self.suspended = ferry_windows(scenario, self.timeline)
        self.weather_gen = 0
        self.delays: list[tuple[float, str, float]] = []  # (fired at, team or `escorts`, seconds)
        self.ways = [(t, d) for t in scenario.tunnels for d in DIRECTIONS]
        self.cleared = {w: clear_intervals(self.plan, *w) for w in self.ways}
        changeover = scenario.lanes.changeover_s
        self.usable = {w: tuple((a + changeover, b) for a, b in iv if b > a + changeover)
                       for w, iv in self.cleared.items()}  # fmt: skip
        self.orders: dict[str, list[DirectRiders]] = {}
        for act in self.plan.of_type(DirectRiders):
            self.orders.setdefault(act.origin, []).append(act)
        parts = ("arrivals", "patience", "choice")  # one stream each per flow: common random numbers across plans
        names = [f"flow{k}:{part}" for k in range(len(scenario.riders.flows)) for part in parts]
        names += [f"vehicles:{t}:{d}" for t, d in self.ways]
        self.rng = streams(self.seed, tuple(names))
        self.queues = [PointQueue() for _ in self.geo.points]
        self._there: dict[tuple[int, str], list[int]] = {}
        self._make_riders()
        self.batches: list[tuple[str, str, str, float, float, int]] = []  # (team, tunnel, dir, board, free, riders)
        self.started: list[tuple[str, str, str, float, float]] = []  # (team, tunnel, dir, order's at_s, set-up start)
        self.trips: list[tuple[str, int, float, int]] = []  # (line, direction index, departure, riders)

    # ---------------------------------------------------------------------------------- riders

    def _make_riders(self) -> None:
        s, rng = self.s, self.rng
        appear, flow, patience, choice = [], [], [], []
        for k, f in enumerate(s.riders.flows):
            times = profile_times(f.arrivals, self.horizon, rng[f"flow{k}:arrivals"])
            appear.append(times)
            flow.append(np.full(times.size, k, dtype=np.int32))
            patience.append(np.asarray(s.riders.patience.sample(rng[f"flow{k}:patience"], times.size), dtype=float))
            choice.append(rng[f"flow{k}:choice"].uniform(size=times.size))
        order = np.argsort(np.concatenate(appear), kind="stable")
        self.appear = np.concatenate(appear)[order]
        self.flow = np.concatenate(flow)[order]
        self.patience = np.concatenate(patience)[order].reshape(-1)
        self.choice = np.concatenate(choice)[order]
        n = self.n = self.appear.size
        # Per rider, as plain lists while the run goes (a rider's step touches a few of them; numpy's element
        # access costs more than the step itself); `_result` turns them into arrays.
        self.flow_of: list[int] = self.flow.tolist()
        self.choice_of: list[float] = self.choice.tolist()
        self.state: list[int] = [UNSEEN] * n
        self.point: list[int] = [NOWHERE] * n
        self.where = [s.riders.flows[k].origin for k in self.flow_of]  # node the rider is at (or riding to)
        self.riding: list[bool] = [False] * n
        self.ticket: list[int] = [0] * n
        self.joined: list[float] = [math.nan] * n
        self.waited: list[float] = [0.0] * n
        self.ride_s: list[float] = [0.0] * n
        self.start: list[float] = [math.nan] * n  # boarded a ferry or a batch
        self.done: list[float] = [math.nan] * n  # reached the destination area
        self.gave_up: list[float] = [math.nan] * n
        self.via: list[int] = [NOWHERE] * n  # crossing point used
        self.cross_count: list[int] = [0] * n
        self.counts = {"arrived": 0, "crossed": 0, "waiting": 0, "gave_up": 0}
        self.waiting_at_origin = {f.origin: 0 for f in s.riders.flows}
        self.waiting: set[int] = set()  # the riders waiting (or riding to a crossing point) now
        # The riders' calendar (`catch_up`): appearances in time order, patience running out in time order (the
        # riders by deadline, appearance + patience), and a heap of (time, order, rider, ticket, ride seconds, the
        # open table's row when the ride began) for rides ending; `now` is the time of the moment played.
        self._appear_of: list[float] = self.appear.tolist()
        deadline = self.appear + self.patience
        by_deadline = np.argsort(deadline, kind="stable")
        self._deadline_of: list[float] = deadline[by_deadline].tolist()
        self._by_deadline: list[int] = by_deadline.tolist()
        self._calendar: list[tuple[float, int, int, int, float, int]] = []
        self._row = 0  # the open table's rows moved to so far (`_advance`)
        self._seq = 0
        self._next_rider = 0
        self._next_deadline = 0
        self.moments = 0  # riders' moments played (events of the model that needed no SimPy event)
        self.now = 0.0
        self._node_of = [p.node for p in self.geo.points]
        self._origin_of = [f.origin for f in s.riders.flows]

    def _arrive(self, r: int) -> None:
        """Rider `r` appears at their bank area (a moment of the riders' calendar): they start waiting, their
        patience starts running, and they head for where they should wait."""
        self.state[r] = WAITING
        self.waiting.add(r)
        c = self.counts
        c["arrived"] += 1
        c["waiting"] += 1
        self.waiting_at_origin[self.where[r]] += 1
        now = self.now
        # `send` for a rider who has just appeared, not yet anywhere: waits at the origin, or heads for point i.
        i = self.choose(r)
        if i == NOWHERE:
            self.joined[r] = now
            return
        self.ticket[r] = 1
        self.point[r] = i
        target = self._node_of[i]
        ride = self.geo.ride_s[self.where[r]][target]
        self.where[r] = target
        if ride <= 0:
            self._join(r, i)
            return
        self.riding[r] = True
        self._seq += 1
        heapq.heappush(self._calendar, (now + ride, self._seq, r, 1, ride, self._row))

    def catch_up(self) -> None:
        """Play the riders' calendar up to the SimPy clock: their appearances (in time order), patience running
        out and rides ending, each at its own time, in time order (appearances first on a tie).

        Riders' moments change nothing but the riders' own state until a SimPy event reads or moves them (a
        ferry or a batch boarding, a change of the world, an inject, the sampler), so every such event plays the
        calendar up to its own time first; between two of them, the moments need no SimPy event each."""
        end = float(self.env.now)  # a plain float (the clock may hold a numpy one): riders' times are lists
        appear, deadline, by_deadline = self._appear_of, self._deadline_of, self._by_deadline
        n, cal, state = self.n, self._calendar, self.state
        i, j, moments = self._next_rider, self._next_deadline, 0
        pop, give_up, reach, arrive, inf = heapq.heappop, self.give_up, self.reach, self._arrive, math.inf
        while True:
            ta = appear[i] if i < n else inf
            tp = deadline[j] if j < n else inf
            th = cal[0][0] if cal else inf
            if tp < ta and tp <= th:
                if tp > end:
                    break
                r = by_deadline[j]
                if state[r] == WAITING:
                    self.now = tp
                    give_up(r)
                j += 1
                moments += 1
            elif th < ta:
                if th > end:
                    break
                t, _, r, ticket, ride, row = pop(cal)
                self.now = t
                reach(r, ticket, ride, row)
                moments += 1
            else:
                if ta > end:
                    break
                # Appearances up to the next other moment (a ride an appearance starts may end sooner).
                limit = min(tp, th, end)
                while True:
                    self.now = ta
                    arrive(i)
                    i += 1
                    moments += 1
                    if cal and cal[0][0] < limit:
                        limit = cal[0][0]
                    if i >= n:
                        break
                    ta = appear[i]
                    if ta > limit:
                        break
        self._next_rider, self._next_deadline = i, j
        self.moments += moments
        self.now = end

    def is_open(self, i: int) -> bool:
        """Whether a crossing point is taking riders now: a line runs from the pier, or the lane is cleared."""
        if self.now >= self._next_cut:
            self._advance()
        return self._open_now[i]

    def open_at(self, i: int, t: float) -> bool:
        """Whether a crossing point takes riders at `t` (searching the windows; `is_open` reads a table of it)."""
        p = self.geo.points[i]
        if p.kind == "escort":
            return inside(self.cleared[(p.tunnel, p.direction)], t)  # type: ignore[index]
        return any(self.ferry_runs(line, t) for line, _ in self.geo.pier_lines[p.node])

    def _open_table(self) -> None:
        """Which crossing points are open, how many lines suspended and ways cleared, and the wind force, from each
        moment any of these changes (every edge of a lane clearing, a suspension, service hours or the wind) to the
        next: constant in between,
        so `is_open` and the sampler read them off the table instead of searching windows for every rider.
        Rebuilt when a forecast revises the suspensions."""
        cuts = {0.0}
        for windows in (*self.cleared.values(), *self.suspended.values()):
            for a, b in windows:
                cuts |= {a, b}
        for f in self.s.ferries.values():
            cuts |= {f.service_from_s, f.service_until_s}
        for acts in self.orders.values():
            for act in acts:
                cuts |= {act.at_s, *(() if act.until_s is None else (act.until_s,))}
        cuts |= {p.at_s for p in self.timeline}  # the wind force read off the row
        self._cuts = sorted(c for c in cuts if c >= 0)
        points = range(len(self.geo.points))
        self._open_rows = [[self.open_at(i, t) for i in points] for t in self._cuts]
        self._counts_rows = [(sum(inside(w, t) for w in self.suspended.values()),
                              sum(inside(self.cleared[w], t) for w in self.ways)) for t in self._cuts]  # fmt: skip
        self._next_cut = -math.inf  # read the row in force at the next look

    def _advance(self) -> None:
        """Move to the table's row in force now: the points open, the counts, the orders' shares per flow (the
        running sums of the shares of the orders in force for its origin), and no choice made yet."""
        now = self.now
        k = bisect.bisect_right(self._cuts, now) - 1
        self._row += 1  # a new row: choices made in the last one no longer hold
        self._open_now = self._open_rows[k]
        self._counts_now = self._counts_rows[k]
        self._wind_now = conditions_at(self.timeline, now).wind_force
        self._next_cut = self._cuts[k + 1] if k + 1 < len(self._cuts) else math.inf
        self._shares_now: dict[int, list[float]] = {}
        for flow, f in enumerate(self.s.riders.flows):
            share, sums = 0.0, []
            for act in self.orders.get(f.origin, ()):
                if act.at_s <= now and (act.until_s is None or now < act.until_s):
                    share += act.share
                    sums.append(share)
            if sums:
                self._shares_now[flow] = sums
        self._chosen_now: dict[int | tuple[int, int], int] = {}

    def ferry_runs(self, line: str, t: float) -> bool:
        f = self.s.ferries[line]
        return f.service_from_s <= t < f.service_until_s and not inside(self.suspended[line], t)

    def choose(self, r: int) -> int:
        """Where rider `r` should wait now: as ordered, else the quickest open point, else their usual pier.

        The answer depends only on the rider's flow, the orders in force, the points open (both constant between
        two rows of the open table) and which order's share the rider's uniform number falls in; it is kept for
        the rest of the row."""
        if self.now >= self._next_cut:
            self._advance()
        k = self.flow_of[r]
        shares = self._shares_now.get(k)
        key: int | tuple[int, int] = k if shares is None else (k, bisect.bisect_right(shares, self.choice_of[r]))
        found = self._chosen_now.get(key)
        if found is None:
            found = self._chosen_now[key] = self._choose(r)
        return found

    def _choose(self, r: int) -> int:
        """`choose`, worked out."""
        k, now = self.flow_of[r], self.now
        options = self.geo.flow_points[k]
        share = 0.0
        for act in self.orders.get(self.s.riders.flows[k].origin, ()):
            if act.at_s <= now and (act.until_s is None or now < act.until_s):
                share += act.share
                if self.choice_of[r] < share:
                    there = self.points_there(k, act.to)
                    if there:
                        return next((i for i in there if self.is_open(i)), there[0])
                    break
        for i in options:
            if self.is_open(i):
                return i
        piers = [i for i in options if self.geo.points[i].kind == "pier"]
        return piers[0] if piers else (options[0] if options else NOWHERE)

    def points_there(self, k: int, node: str) -> list[int]:
        """The crossing points at `node` through which flow `k` can cross, quickest first."""
        key = (k, node)
        if key not in self._there:
            self._there[key] = [i for i in self.geo.flow_points[k] if i in self.geo.points_at[node]]
        return self._there[key]

    def send(self, r: int, i: int) -> None:
        """Rider `r` (not riding) heads for point `i`: waits there, or rides there first."""
        if i == self.point[r] and not self.riding[r]:
            if i != NOWHERE and math.isnan(self.joined[r]):
                self._join(r, i)
            return
        self._leave(r)
        self.point[r] = i
        target = self.where[r] if i == NOWHERE else self.geo.points[i].node
        ride = self.geo.ride_s[self.where[r]][target]
        if ride <= 0:
            self.where[r] = target
            self._join(r, i)
            return
        self.riding[r] = True
        self.where[r] = target
        ticket = self.ticket[r]
        self._seq += 1
        heapq.heappush(self._calendar, (self.now + ride, self._seq, r, ticket, ride, self._row))

    def reach(self, r: int, ticket: int, ride: float, row: int = -1) -> None:
        """Rider `r` reaches the point they rode to; they choose again on arrival (while the open table is still on
        `row`, the row they set off in, the choice is the one they made then: where they rode to)."""
        if self.state[r] != WAITING or self.ticket[r] != ticket:
            return
        self.riding[r] = False
        self.ride_s[r] += ride
        self.joined[r] = math.nan
        if row == self._row and self.now < self._next_cut:
            self._join(r, self.point[r])  # `send` to where they are: they wait there
        else:
            self.send(r, self.choose(r))

    def _join(self, r: int, i: int) -> None:
        self.joined[r] = self.now
        if i != NOWHERE:
            q = self.queues[i]
            q.entries.append((r, self.ticket[r]))
            q.count += 1

    def _leave(self, r: int) -> None:
        """Rider `r` stops waiting where they are (to ride on, board, or give up)."""
        if not math.isnan(self.joined[r]):
            self.waited[r] += self.now - self.joined[r]
            self.joined[r] = math.nan
            if self.point[r] != NOWHERE:
                self.queues[self.point[r]].count -= 1
        self.ticket[r] += 1

    def give_up(self, r: int) -> None:
        """Rider `r`'s patience runs out before they board."""
        if self.state[r] != WAITING:
            return
        self._leave(r)
        self.riding[r] = False
        self.state[r] = GAVE_UP
        self.gave_up[r] = self.now
        self._stop_waiting(r, "gave_up")

    def _stop_waiting(self, r: int, outcome: str) -> None:
        self.waiting.discard(r)
        self.counts["waiting"] -= 1
        self.counts[outcome] += 1
        self.waiting_at_origin[self._origin_of[self.flow_of[r]]] -= 1

    def destination(self, r: int) -> str:
        return self.s.riders.flows[self.flow_of[r]].destination

    def board(self, i: int, room: int) -> list[int]:
        """Up to `room` riders waiting at point `i` board, first come first served."""
        self.catch_up()
        q, now = self.queues[i], self.now
        state, tickets, riding, joined, waited = self.state, self.ticket, self.riding, self.joined, self.waited
        by_origin, origin_of, flow_of = self.waiting_at_origin, self._origin_of, self.flow_of
        out: list[int] = []
        while q.entries and len(out) < room:
            r, ticket = q.entries.popleft()
            if state[r] == WAITING and tickets[r] == ticket and not riding[r]:
                # The rider stops waiting at i (`_leave`; an entry with the rider's ticket is where they wait).
                waited[r] += now - joined[r]
                joined[r] = math.nan
                q.count -= 1
                tickets[r] += 1
                state[r] = CROSSED
                self.start[r] = now
                self.via[r] = i
                self.cross_count[r] += 1
                self.waiting.discard(r)  # `_stop_waiting`, the counts for all at the end
                by_origin[origin_of[flow_of[r]]] -= 1
                out.append(r)
        self.counts["waiting"] -= len(out)
        self.counts["crossed"] += len(out)
        return out

    # ---------------------------------------------------------------------------------- processes

    def ferry(self, line: str, direction: int) -> Generator[simpy.Event, Any, None]:
        """A line's departures from one pier: every headway in service hours, unless suspended."""
        env, f = self.env, self.s.ferries[line]
        here, far = f.piers if direction == 0 else f.piers[::-1]
        point = self.geo.point_index[f"pier:{here}"]
        t = f.service_from_s
        while t < min(f.service_until_s, self.horizon):
            yield env.timeout(t - env.now)
            t += f.headway_s
            if inside(self.suspended[line], env.now):
                continue
            riders = self.board(point, f.riders_per_trip)
            for r in riders:
                self.done[r] = env.now + f.crossing_s + self.geo.ride_s[far][self.destination(r)]
            self.trips.append((line, direction, env.now, len(riders)))

    def escort_team(self, team: str, orders: list[EscortBatch]) -> Generator[simpy.Event, Any, None]:
        """A team leads its batches in order: set-up, boarding, transit, return."""
        env, e = self.env, self.s.escorts
        for act in orders:
            if act.at_s > env.now:
                yield env.timeout(act.at_s - env.now)
            late = sum(s for fired, who, s in self.delays if who in (team, "escorts") and fired <= env.now)
            if late and act.at_s + late > env.now:
                self.rec.event(env.now, "escort_delayed", f"{team} starts {late / 60:g} min late (inject)",
                               team=team, delay_s=late)  # fmt: skip
                yield env.timeout(act.at_s + late - env.now)
            way = (act.tunnel, act.direction)
            transit = self.geo.transit_s(*way)
            board_at = env.now + e.setup_s
            windows = self.usable[way]
            # Plans give times to the millisecond, and a team back to back runs up to that late: the lane's
            # window is read to the same precision.
            if not any(a <= board_at + PLAN_TIME_S and board_at + transit <= b + PLAN_TIME_S for a, b in windows):
                self.rec.event(env.now, "batch_refused", f"{team}: no usable lane in {act.tunnel} {act.direction} "
                               f"at {self.s.clock.label(board_at)}", team=team, tunnel=act.tunnel,
                               direction=act.direction)  # fmt: skip
                continue
            self.started.append((team, act.tunnel, act.direction, act.at_s, env.now))
            yield env.timeout(e.setup_s)
            point = self.geo.point_index[f"escort:{act.tunnel}:{act.direction}"]
            riders = self.board(point, min(act.max_riders, e.batch_size))
            if not riders:
                self.batches.append((team, act.tunnel, act.direction, env.now, env.now, 0))
                continue
            exit_ = self.geo.points[point].far_node
            for r in riders:
                self.done[r] = env.now + transit + self.geo.ride_s[exit_][self.destination(r)]  # type: ignore[index]
            self.batches.append((team, act.tunnel, act.direction, env.now, env.now + transit + e.return_s,
                                 len(riders)))  # fmt: skip
            self.rec.event(env.now, "batch", f"{team} leads {len(riders)} riders through {act.tunnel} {act.direction}",
                           team=team, tunnel=act.tunnel, direction=act.direction, riders=len(riders))  # fmt: skip
            yield env.timeout(transit + e.return_s)

    def at(self, t_s: float, action: Any) -> None:
        """Call `action()` at simulated time `t_s` (after whatever is already due then)."""
        self.env.timeout(max(0.0, t_s - self.env.now)).callbacks.append(lambda _e: action())

    def change(self, kind: str, text: str, data: dict[str, Any]) -> None:
        """Log a change of the world and, unless it is only the weather, let waiting riders choose again."""
        self.catch_up()
        if kind:
            self.rec.event(self.env.now, kind, text, **data)
        if kind != "hazard":
            for r in sorted(r for r in self.waiting if not self.riding[r]):  # in the order they appeared
                self.send(r, self.choose(r))

    def schedule_weather(self, since_s: float) -> None:
        """Schedule the hazard changes and ferry suspensions of the timeline in force from `since_s` on; a later
        forecast revision voids them (by generation) and schedules its own."""
        self.weather_gen += 1
        gen = self.weather_gen
        changes: list[tuple[float, str, str, dict[str, Any]]]
        changes = [(p.at_s, "hazard", f"wind force {p.wind_force}, warning {p.warning}",
                    {"wind_force": p.wind_force, "warning": p.warning}) for p in self.timeline]  # fmt: skip
        for line, windows in self.suspended.items():
            for a, b in windows:
                changes.append((a, "ferry_suspended", f"{line} suspended", {"line": line}))
                if b < self.horizon:
                    changes.append((b, "ferry_resumed", f"{line} resumes", {"line": line}))
        for t, kind, text, data in sorted(changes, key=lambda c: c[0]):
            if since_s <= t < self.horizon:
                self.at(t, lambda k=kind, x=text, d=data: self.change(k, x, d) if self.weather_gen == gen else None)

    def plan_changes(self) -> list[tuple[float, str, str, dict[str, Any]]]:
        """The moments the plan or the ferry timetable changes what riders can do."""
        out: list[tuple[float, str, str, dict[str, Any]]] = []
        for f in self.s.ferries.values():
            out += [(f.service_from_s, "", "", {}), (f.service_until_s, "", "", {})]
        for act in self.plan.of_type(ClearLane):
            where = {"tunnel": act.tunnel, "direction": act.direction, "lanes": act.lanes}
            text = f"{act.lanes} lane(s) of {act.tunnel} {act.direction} cleared"
            out.append((act.at_s, "lane_cleared", text, where))
            out.append((act.until_s, "lane_restored", f"{act.tunnel} {act.direction} lanes back to traffic", where))
        for act in self.plan.of_type(DirectRiders):
            out.append((act.at_s, "riders_directed", f"riders from {act.origin} sent to {act.to} ({act.share:.0%})",
                        {"origin": act.origin, "to": act.to, "share": act.share}))  # fmt: skip
            if act.until_s is not None:
                out.append((act.until_s, "", "", {}))
        return sorted((c for c in out if c[0] < self.horizon), key=lambda c: c[0])

    def inject(self, index: int, inj: Inject) -> None:
        """A drill inject at its time: fires if its condition holds on the state then, and takes effect.

        `forecast` revises the timeline in force from now on (ferry suspensions follow); `delay` holds back
        the batches of team `target` (or of all teams, target `escorts`) not yet started by `params.delay_s`.
        """
        self.catch_up()
        now = self.env.now
        condition = parse_condition(inj.condition)
        fired = condition is None or condition.holds(self.reading)
        if fired:
            self.fired.add(index)
            if inj.kind == FORECAST_INJECT:
                self.timeline = hazard_timeline(self.s, known_at_s=now, fired=self.fired)
                self.suspended = ferry_windows(self.s, self.timeline)
                self._open_table()
                self.rec.event(now, "forecast_revised", "forecast revised: " + ", ".join(
                    f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in inj.params.items()))  # fmt: skip
                self.schedule_weather(since_s=now)
            elif inj.kind == "delay" and inj.target is not None:
                self.delays.append((now, inj.target, delay_of(inj)))
        gate = f" ({condition}: {'yes' if fired else 'no'})" if condition is not None else ""
        self.rec.event(now, "inject" if fired else "inject_skipped",
                       f"inject {inj.kind}{' ' + inj.target if inj.target else ''}{gate}: {inj.note}".rstrip(": "),
                       index=index, inject=inj.kind, fired=fired)  # fmt: skip

    def traffic(self) -> Generator[simpy.Event, Any, None]:
        """Motor vehicles at every tunnel direction, advanced a block of steps (one sample interval) at a time.

        Nothing in the run changes the vehicles' arrivals or the capacity (both follow from the scenario and the
        plan), so the queue at every step is worked out once, at the start (`queue_steps` over the whole day, the
        same numbers as block by block), with each block's delay and the queue at its end; each block only makes
        its steps known (the arrays of steps are filled in for the steps known when the run stops)."""
        env, edges = self.env, self.step_edges
        per_block = max(1, round(self.sample_every_s / TRAFFIC_STEP_S))
        stamps = edges.tolist()  # the clock kept a plain float (riders' times are lists of them)
        q0 = np.zeros(len(self.ways), dtype=np.int64)
        queue = queue_steps(q0, self.veh_arrivals, self.veh_capacity)
        before = np.concatenate([q0[:, None], queue[:, :-1]], axis=1)
        served = before + self.veh_arrivals - queue
        delay = (before + queue) * np.diff(edges) / 2
        steps = edges.size - 1
        if steps <= 0:
            return
        ends = [*range(per_block, steps, per_block), steps]
        block_delay = np.add.reduceat(delay.sum(axis=0), [0, *ends[:-1]]).tolist()
        queue_at_end = queue[:, [j - 1 for j in ends]].T.tolist()
        self._vehicles = (served, queue)
        for j, more, q in zip(ends, block_delay, queue_at_end, strict=True):
            yield env.timeout(stamps[j] - env.now)
            self.veh_delay_s += more
            self.q_now: list[int] = q
            self._steps_known = j

    def _vehicle_steps(self) -> None:
        """The vehicles served and queued at the steps known by the time the run stops."""
        k = self._steps_known
        if k:
            served, queue = self._vehicles
            self.veh_served[:, :k] = served[:, :k]
            self.veh_queue[:, :k] = queue[:, :k]

    def reading_names(self) -> list[str]:
        """The names of `readings()` in order (the sampler's series): riders by state and by area, the queue at
        every pier and at every tunnel direction the plan uses, all escort queues, every tunnel direction's
        vehicles, and the storm."""
        names = [f"riders_{name}" for name in ("arrived", "crossed", "waiting", "gave_up")]
        names += [f"riders_waiting:{area}" for area in self.waiting_at_origin]
        for i in self._queue_columns():
            p = self.geo.points[i]
            names.append(f"escort_queue:{p.tunnel}:{p.direction}" if p.kind == "escort" else f"pier_queue:{p.node}")
        names.append("escort_queue_total")
        names += [f"vehicle_queue:{t}:{d}" for t, d in self.ways]
        names += ["vehicle_queue_total", "ferries_suspended", "lanes_cleared", "wind_force"]
        return names

    def _queue_columns(self) -> list[int]:
        """The crossing points whose queue is a reading: every pier, and the escort points of the ways in use."""
        return [i for i, p in enumerate(self.geo.points)
                if p.kind != "escort" or (p.tunnel, p.direction) in self.active_ways]  # fmt: skip

    def reading_row(self) -> list[float]:
        """The state now, in the order of `reading_names` (the sampler takes a row a sample)."""
        self.catch_up()
        if self.env.now >= self._next_cut:
            self._advance()
        c, queues = self.counts, self.queues
        row: list[float] = [c["arrived"], c["crossed"], c["waiting"], c["gave_up"], *self.waiting_at_origin.values()]
        row += [queues[i].count for i in self._columns]
        row.append(sum(queues[i].count for i in self._escort_points))
        q = self.q_now
        row += q
        row += [sum(q), *self._counts_now, self._wind_now]
        return row

    def readings(self) -> dict[str, float]:
        """The state now, by series name: what the sampler records and what an inject's condition may read."""
        return dict(zip(self.reading_names(), map(float, self.reading_row()), strict=True))

    def reading(self, quantity: str) -> float | None:
        """One quantity of the state now (None if the model has no such quantity)."""
        return self.readings().get(quantity)

    def sampler(self) -> Generator[simpy.Event, Any, None]:
        """Every sample interval: riders by state and by origin, queues at crossing points and tunnels, the storm
        (a row of `reading_row()` each time; the recorder gets them as series at the end, `_result`)."""
        while True:
            self.sample_times.append(self.env.now)
            self.sample_rows.append(self.reading_row())
            yield self.env.timeout(self.sample_every_s)

    # ---------------------------------------------------------------------------------- vehicles

    def _make_vehicles(self) -> None:
        """Vehicle arrivals per step (from each direction's own stream) and capacity per step (from the plan)."""
        edges = np.arange(0.0, self.horizon, TRAFFIC_STEP_S)
        self.step_edges = np.append(edges, self.horizon)
        steps = self.step_edges.size - 1
        arrivals, capacity = [], []
        for t, d in self.ways:
            tunnel = self.s.tunnels[t]
            profile = tunnel.demand_ab if d == "ab" else tunnel.demand_ba
            arrivals.append(profile_counts(profile, self.step_edges, self.rng[f"vehicles:{t}:{d}"]))
            capacity.append(np.diff(np.floor(self._cumulative_capacity(t, d) + 1e-9)))
        self.veh_arrivals = np.asarray(arrivals, dtype=np.int64).reshape(len(self.ways), steps)
        self.veh_capacity = np.asarray(capacity, dtype=np.int64).reshape(len(self.ways), steps)
        self.veh_served = np.zeros_like(self.veh_arrivals)
        self.veh_queue = np.zeros_like(self.veh_arrivals)
        self.veh_delay_s = 0.0
        self.q_now = [0] * len(self.ways)  # vehicles queued per way at the last step known
        self._steps_known = 0

    def lanes_cleared(self, tunnel: str, direction: str, t: float) -> int:
        """Lanes of a tunnel direction cleared of motor traffic at `t`."""
        acts = self.plan.of_type(ClearLane)
        n = sum(a.lanes for a in acts if a.tunnel == tunnel and a.direction == direction and a.at_s <= t < a.until_s)
        return min(n, self.s.tunnels[tunnel].lanes_per_direction)

    def motor_capacity_vph(self, tunnel: str, direction: str, t: float) -> float:
        """Vehicles per hour a tunnel direction can take at `t`."""
        spec = self.s.tunnels[tunnel]
        cleared = self.lanes_cleared(tunnel, direction, t)
        factor = spec.merge_factor if cleared else 1.0
        return (spec.lanes_per_direction - cleared) * spec.lane_capacity_vph * factor

    def _cumulative_capacity(self, tunnel: str, direction: str) -> np.ndarray:
        """Vehicles the direction could have served from 0 to each step edge (exact: capacity is piecewise
        constant between the plan's lane changes)."""
        acts = [a for a in self.plan.of_type(ClearLane) if a.tunnel == tunnel and a.direction == direction]
        cuts = sorted({0.0, self.horizon, *(x for a in acts for x in (a.at_s, a.until_s) if 0 < x < self.horizon)})
        rates = [self.motor_capacity_vph(tunnel, direction, a) for a in cuts[:-1]]
        cum = np.concatenate([[0.0], np.cumsum(np.diff(cuts) * np.asarray(rates) / 3600)])
        return np.interp(self.step_edges, cuts, cum)

    # ---------------------------------------------------------------------------------- run

    def run(self, until_s: float | None = None) -> SimResult:
        """Run to the horizon, or only up to `until_s` (the result is then that of the run so far)."""
        end = self.horizon if until_s is None else min(until_s, self.horizon)
        env = self.env
        self._make_vehicles()
        self._open_table()
        self.sample_times: list[float] = []
        self.sample_rows: list[list[float]] = []
        used = {(a.tunnel, a.direction) for a in (*self.plan.of_type(ClearLane), *self.plan.of_type(EscortBatch))}
        self.active_ways = used
        self._columns = self._queue_columns()
        self._escort_points = [i for i, p in enumerate(self.geo.points) if p.kind == "escort"]
        for line in self.s.ferries:
            for direction in (0, 1):
                env.process(self.ferry(line, direction))
        orders: dict[str, list[EscortBatch]] = {name: [] for name in team_names(self.s)}
        for act in self.plan.of_type(EscortBatch):
            orders[act.team].append(act)
        for team, acts in orders.items():
            if acts:
                env.process(self.escort_team(team, acts))
        for index, inj in sorted(enumerate(self.s.injects), key=lambda p: (p[1].at_s, p[0])):
            self.at(inj.at_s, lambda i=index, x=inj: self.inject(i, x))  # before other changes due at the same time
        self.schedule_weather(since_s=0.0)
        for t, kind, text, data in self.plan_changes():
            self.at(t, lambda k=kind, x=text, d=data: self.change(k, x, d))
        env.process(self.traffic())
        env.process(self.sampler())
        with WallClock() as clock:
            env.run(until=end)
            while env.peek() <= end:  # the last traffic step and anything else due at the end
                env.step()
            self.catch_up()  # the riders' moments due by the end
            self._vehicle_steps()
            names = self.reading_names()  # the same names in the same order at every sample
            self.rec.sample_rows(names, self.sample_times, self.sample_rows)
        return self._result(clock.elapsed, end)

    def _result(self, wall_s: float, end: float) -> SimResult:
        env, s = self.env, self.s
        state, joined = np.asarray(self.state, dtype=np.int8), np.asarray(self.joined, dtype=float)
        via = np.asarray(self.via, dtype=np.int32)
        still = state == WAITING
        waiting_now = still & ~np.isnan(joined)
        waited = np.asarray(self.waited, dtype=float)
        waited[waiting_now] += end - joined[waiting_now]
        seen = state != UNSEEN
        waits = waited[seen]
        cleared = union(w for ws in self.cleared.values() for w in ws)
        cleared_s = sum(min(b, end) - a for a, b in cleared if a < end)
        busy_s = sum(min(free, end) - (board - s.escorts.setup_s) for _, _, _, board, free, n in self.batches if n)
        team_s = s.escorts.count * cleared_s
        suspended = union(w for ws in self.suspended.values() for w in ws)
        kpis = {
            "rider_mean_wait_min": float(waits.mean() / 60) if waits.size else 0.0,
            "rider_p95_wait_min": float(np.percentile(waits, 95) / 60) if waits.size else 0.0,
            "riders_stranded": float(self.counts["gave_up"] + self.counts["waiting"]),
            "riders_crossed": float(self.counts["crossed"]),
            "vehicle_delay_h": float(self.veh_delay_s / 3600),
            "max_vehicle_queue": float(self.veh_queue.max(initial=0)),
            "escort_utilisation": busy_s / team_s if team_s > 0 else 0.0,
            "ferry_suspended_h": sum(min(b, end) - a for a, b in suspended) / 3600,
            "riders": float(self.counts["arrived"]),
            "riders_escorted": float(sum(n for *_, n in self.batches)),
        }
        self.rec.event(env.now, "end", f"{self.counts['crossed']} of {self.counts['arrived']} riders crossed, "
                       f"{self.counts['gave_up']} gave up, {self.counts['waiting']} still waiting")  # fmt: skip
        kinds = np.array([p.kind == "escort" for p in self.geo.points] + [False])
        return SimResult(
            scenario=s.name,
            kind=s.kind,
            seed=self.seed,
            kpis={k: round(v, 6) for k, v in kpis.items()},
            series=self.rec.series(),
            events=tuple(sorted(self.rec.events, key=lambda e: e.t_s)),
            stats=RunStats(events=env.events_processed + self.moments, sim_s=float(env.now), wall_s=wall_s),
            records={
                "flow": self.flow, "appear_s": self.appear, "patience_s": self.patience, "state": state,
                "wait_s": waited, "ride_s": np.asarray(self.ride_s, dtype=float),
                "start_s": np.asarray(self.start, dtype=float), "done_s": np.asarray(self.done, dtype=float),
                "gave_up_s": np.asarray(self.gave_up, dtype=float), "via": via,
                "cross_count": np.asarray(self.cross_count, dtype=np.int32),
                "escorted": kinds[via], "step_end_s": self.step_edges[1:],
                "veh_arrived": np.cumsum(self.veh_arrivals, axis=1), "veh_served": np.cumsum(self.veh_served, axis=1),
                "veh_queue": self.veh_queue,
                "batches": np.array([(b[3], b[4], b[5]) for b in self.batches], dtype=float).reshape(-1, 3),
                "trips": np.array([(t[2], t[3]) for t in self.trips], dtype=float).reshape(-1, 2),
            },
        )  # fmt: skip


def profile_times(profile: ArrivalProfile, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times up to the horizon for a piecewise-constant profile (Poisson or evenly spaced)."""
    starts = [p.from_s for p in profile.periods]
    ends = [*starts[1:], horizon_s]
    pieces = [(a, min(b, horizon_s), p.rate_per_h) for a, b, p in zip(starts, ends, profile.periods, strict=True)]
    return poisson_times(rng, iter(pieces)) if profile.process == "poisson" else even_times(iter(pieces))


def profile_counts(profile: ArrivalProfile, edges: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Arrivals per step between `edges` (steps of `TRAFFIC_STEP_S` from 0, the last one possibly shorter):
    the counts of `profile_times(profile, edges[-1], rng)` in each step, the last closed on the right (as
    `np.histogram` counts), from the same draws, without sorting them."""
    steps = edges.size - 1
    if steps <= 0:
        return np.zeros(0, dtype=np.int64)
    starts = [p.from_s for p in profile.periods]
    ends = [*starts[1:], float(edges[-1])]
    counts = np.zeros(steps, dtype=np.int64)
    for a, b, p in zip(starts, ends, profile.periods, strict=True):
        b = min(b, float(edges[-1]))
        if b <= a or p.rate_per_h <= 0:
            continue
        if profile.process == "poisson":  # the same draws as `poisson_times`
            times = rng.uniform(a, b, rng.poisson(p.rate_per_h * (b - a) / 3600))
        else:
            times = even_times(iter([(a, b, p.rate_per_h)]))
        step = np.minimum((times / TRAFFIC_STEP_S).astype(np.int64), steps - 1)
        # A time on a step's edge belongs to the step it opens (the division's rounding checked against the edges).
        step -= times < edges[step]
        step += (times >= edges[np.minimum(step + 1, steps)]) & (step < steps - 1)
        counts += np.bincount(step[times >= 0], minlength=steps)
    return counts


def queue_steps(q0: np.ndarray, arrivals: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Queue at the end of each step of a discrete-time queue per row: q[i] = max(0, q[i-1] + a[i] - c[i]).

    Lindley's recursion in closed form, q[n] = S[n] - min(-q0, min over k <= n of S[k]) with S the running
    sum of a - c, so a block of steps costs a few numpy calls.
    """
    if arrivals.shape[1] == 0:
        return np.zeros_like(arrivals)
    total = np.cumsum(arrivals - capacity, axis=1)
    return total - np.minimum(np.minimum.accumulate(total, axis=1), -q0[:, None])


def simulate(scenario: TyphoonScenario, plan: Plan | None = None, *, seed: int | None = None,
             until_s: float | None = None, geometry: TyphoonGeometry | None = None,
             sample_every_s: float = SAMPLE_EVERY_S) -> SimResult:  # fmt: skip
    """Run a typhoon scenario under a plan (the scenario's default plan if none), to the horizon or only up to
    `until_s`."""
    model = TyphoonModel(scenario, plan, seed=seed, geometry=geometry, sample_every_s=sample_every_s)
    return model.run(until_s=until_s)


def state_at(scenario: TyphoonScenario, plan: Plan, *, seed: int, at_s: float) -> TyphoonState:
    """What a re-plan at `at_s` starts from, read off the run of `plan`: riders waiting per area, vehicles queued
    per tunnel direction (the last samples at or before `at_s`), the lanes cleared, the escort teams' places in
    their cycles (`escorts_at`), and the injects fired by then.

    A lane counts as cleared (no changeover, no minimum left to serve) once it has been cleared for the minimum
    time; one cleared more recently is planned as a new clearing (and the splice keeps it the minimum)."""
    model = TyphoonModel(scenario, plan, seed=seed)
    result = model.run()
    fired = {int(e.data["index"]) for e in result.events if e.kind == "inject" and e.t_s <= at_s}
    cleared = {(a.tunnel, a.direction) for a in plan.of_type(ClearLane)
               if in_force(a, at_s) and at_s - a.at_s >= scenario.lanes.min_clear_s}  # fmt: skip
    return TyphoonState.read(result.series, at_s, cleared, fired, escorts_at(model, at_s))


def escorts_at(model: TyphoonModel, at_s: float) -> list[EscortAt]:
    """Each escort team's place in its cycle at `at_s` in a run: the last batch it started on an order dated
    before `at_s` (the orders a splice keeps; one a busy team started after `at_s` included), its set-up start,
    boarding, exit from the tunnel and the time it is next free (nominal: set-up + transit + return after the
    start, as the plans' escort cycles count it), and the riders it had led by `at_s`."""
    setup, back = model.s.escorts.setup_s, model.s.escorts.return_s
    last: dict[str, tuple[str, str, float, float]] = {}
    for team, tunnel, direction, order_at, start in model.started:
        if order_at < at_s and (team not in last or start >= last[team][3]):
            last[team] = (tunnel, direction, order_at, start)
    out = []
    for team, (tunnel, direction, _order_at, start) in sorted(last.items()):
        board = start + setup
        transit = model.geo.transit_s(tunnel, direction)
        riders = next((b[5] for b in model.batches if b[0] == team and b[3] == board), 0) if board <= at_s else 0
        out.append(EscortAt(team=team, tunnel=tunnel, direction=direction, start_s=start, board_s=board,
                            exit_s=board + transit, free_s=board + transit + back, riders=riders))  # fmt: skip
    return out
