"""How a plan's actions and a drill's injects take effect on the crowd.

- Staff: a team (or part of one: a pool may be split over several posts) posted to a node covers every node
  within `STAFF_REACH_M` on foot; metering and one-way control are only in force where a team covers them
  (the event log says when a control waits for staff).
- Metering caps the inflow of arriving classes through a node; one-way control blocks the other direction; a
  `HoldArea` lets at most its rate of a viewing area's dwellers whose time is up leave (the rest wait on there).
- Closures: a closed node (a plan's `CloseExit`, or a `close_exit` inject) takes nobody in, leavers head for the
  open exits (those heading for a closed station to leave there too), and its arrivals and the people waiting
  in its holding area go to the nearest open origin's. A road a plan closes to traffic opens to walkers at its
  carriageway's width.
- `CloseStation`: trains skip a metro station of the scenario's `demand.stations`: its arrivals go to its open
  neighbours in equal shares (none open: they ride on out of the area, `diverted`), each neighbour taking them
  up to its own capacity; it is no exit for leavers meanwhile (those heading for it to leave make for the
  nearest open exit); those already inside still come out.
- `RouteVisitors` moves a share of an origin's newcomers to another destination.
- `Announce` (phones, signs, metro broadcasts) turns a share of an origin's arrivals back before they come
  (`turned_away_by_control`: gone, never on the graph).
- Injects (drills), at their times and before the step due then: each fires if its condition holds on the state
  (`readings()`, the sampler's series names) and is logged (`inject` or `inject_skipped`); a `surge` adds
  arrivals at its origin, a `close_exit` closes a node for a while, a `delay` holds back the teams of its pool
  not yet at their posts, a `show` changes a show segment as a plan's `ChangeShow` would (`change_show`
  moves, cuts or cancels the show intervals: `scenarios.crowd.show_hold`), and a `close_walkway` or `one_way`
  blocks walkway directions for a while (`scenarios.injects.blocked_ways`), staffed or not.

`Controls` keeps what is in force and the index sets the step reads from it (open exits, closed nodes,
blocked edges, meters); the SimPy processes that apply them at their times are in
`simulation.crowd.processes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from scenarios.crowd import STAFF_REACH_M, show_change, show_hold, staff_reach
from scenarios.graphs import walkways
from scenarios.injects import blocked_ways, delay_of, in_force, number, parse_condition
from scenarios.plan import (
    Announce,
    AssignStaff,
    ChangeShow,
    CloseExit,
    CloseRoad,
    CloseStation,
    HoldArea,
    MeterFlow,
    OneWay,
    Plan,
    RouteVisitors,
)
from scenarios.schema import Inject
from simulation.crowd.processes import drill_closure, drill_walkway
from simulation.crowd.readout import readings

if TYPE_CHECKING:
    from simulation.crowd.model import CrowdModel


@dataclass
class Control:
    """A metering, hold or one-way control the plan asked for, and whether staff make it hold."""

    action: MeterFlow | OneWay | HoldArea
    active: bool = False  # asked for now
    enforced: bool = False  # and a team covers it
    warned: bool = False  # the log has said it waits for staff


class Controls:
    """The plan's controls, closures and staff posts in force, and what the injects that fired changed."""

    def __init__(self, model: CrowdModel):
        self.m = model
        net = model.net
        self.controls: list[Control] = [Control(a) for a in model.plan.actions
                                        if isinstance(a, MeterFlow | OneWay | HoldArea)]  # fmt: skip
        self.closed_nodes: set[str] = set()
        self.skipped_stations: set[str] = set()  # metro stations the trains skip (`CloseStation`)
        self.skip: np.ndarray | None = None  # (origin, origin): where arrivals at each origin go, stations skipped
        self.ride_on = np.zeros(len(model.origins))  # per origin: the share of its arrivals that rides on beyond
        self.told = np.zeros(len(model.origins))  # per origin: the share of arrivals an announcement turns back
        self.open_roads: set[int] = set()
        self.posted: dict[int, tuple[str, int]] = {}  # assignment (its index in the plan) -> (node, count) on post
        self._reach: dict[str, set[str]] = {}
        # drills: what the injects that fired changed
        self.fired: set[int] = set()  # indexes of the injects that fired
        self.surges: list[tuple[int, float, float, float]] = []  # (origin, from, until, extra people a second)
        self.drill_closed: dict[str, int] = {}  # node -> closures in force by injects
        self.drill_blocked: dict[int, int] = {}  # edge -> walkway events in force that block it
        self.delays: list[tuple[float, str, float]] = []  # (fired at, pool, seconds)
        self.show_changes: list[ChangeShow] = []
        # what the step reads (set by `prepare`)
        self.blocked = np.zeros(len(net.edges), dtype=bool)  # one-way against, closed road, closed head node
        self.exit_last = self.exit_last_pos = self.exit_doors = self.exit_door_pos = np.zeros(0, dtype=np.int64)
        self.redirect: np.ndarray | None = None
        self.meters: dict[int, float] = {}
        self.closed_idx = np.zeros(0, dtype=np.int64)
        self.open_exits = np.array([net.index[x] for x in model.exit_nodes], dtype=np.int64)
        self.shut_stations = np.zeros(0, dtype=np.int64)
        self.release_cap = np.full(len(model.targets), np.inf)  # per target: dwellers let go a step (a hold: fewer)

    def setup(self) -> None:
        """Before the first step: the walking graph, the meters' index sets, and what is open at the start."""
        m = self.m
        walk = self.walk_graph = walkways(m.graph)
        self._meter_sets()
        self.prepare()
        ff = {}
        for i, o in enumerate(m.origins):
            dist = nx.single_source_dijkstra_path_length(walk, o, weight="length_m") if o in walk else {}
            ff[i] = [dist.get(p, math.inf) for p in m.origins]
        self.ff_origin = ff  # metres on foot between origins (where a closed origin's arrivals go)

    # ---------------------------------------------------------------------------------- what the step reads

    def prepare(self) -> None:
        """Index sets that depend on closures (exits, meters) and the free-flow potentials."""
        m = self.m
        net = m.net
        self.shut = self.closed_nodes | {n for n, k in self.drill_closed.items() if k > 0}
        no_exit = self.shut | self.skipped_stations  # a station the trains skip takes nobody away
        # stations people head for to leave, closed now: they make for the nearest open exit instead
        self.shut_stations = np.array([k for k in m.leave_at if m.targets[k] in no_exit], dtype=np.int64)
        self.closed_idx = np.array([net.index[n] for n in sorted(self.shut) if n in net.index], dtype=np.int64)
        self.open_exits = np.array([net.index[x] for x in m.exit_nodes if x not in no_exit], dtype=np.int64)
        self._skips()
        self._exit_sets()
        head_closed = np.isin(net.head, self.closed_idx)
        blocked = head_closed.copy()
        for c in self.controls:
            if c.enforced and isinstance(c.action, OneWay):
                twin = net.edge_index.get((c.action.v, c.action.u))
                if twin is not None:
                    blocked[twin] = True
        for e in np.flatnonzero(net.is_road):
            if e not in self.open_roads:
                blocked[e] = True
        blocked[[edge for edge, k in self.drill_blocked.items() if k > 0]] = True  # walkway events in force
        self.blocked = blocked
        self.meters = {
            net.index[c.action.node]: c.action.rate_per_min / 60.0
            for c in self.controls
            if c.enforced and isinstance(c.action, MeterFlow) and c.action.node in net.index
        }
        self._release_caps()
        self._redirects()
        self._kernel_sets()

    def _kernel_sets(self) -> None:
        """The compiled step's view of closures, exits and meters (flags per cell, edge and node; CSR lists)."""
        net = self.m.net
        self.c_exit = np.zeros(net.n_cells_total, dtype=bool)
        self.c_exit[self.exit_last] = True
        self.e_exit = np.zeros(len(net.edges), dtype=bool)
        self.e_exit[self.exit_doors] = True
        self.node_closed = np.zeros(net.n_nodes, dtype=bool)
        self.node_closed[self.closed_idx] = True
        nodes = list(self.meters)
        self.m_rate = np.array([self.meters[n] for n in nodes], dtype=float)

        def csr(lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            ptr = np.cumsum([0, *(x.size for x in lists)]).astype(np.int64)
            return ptr, np.concatenate([np.zeros(0, dtype=np.int64), *lists]).astype(np.int64)

        self.m_lc = csr([self.last_cells_into[n] for n in nodes])
        self.m_de = csr([self.doors_into[n] for n in nodes])
        self.m_go = csr([self.origins_at[n] for n in nodes])
        self.m_ho = csr([self.holding_at.get(n, np.zeros(0, dtype=np.int64)) for n in nodes])
        self.m_ci = csr([self.cells_into[n] for n in nodes])

    def _release_caps(self) -> None:
        """Per target, the most of its dwellers whose time is up who may leave in a step: a `HoldArea` in force
        there lets `rate_per_min` go (several at one place: the least); elsewhere all may go."""
        m = self.m
        cap = np.full(len(m.targets), np.inf)
        for c in self.controls:
            if c.enforced and isinstance(c.action, HoldArea) and c.action.node in m.targets:
                i = m.targets.index(c.action.node)
                cap[i] = min(cap[i], c.action.rate_per_min / 60.0 * m.dt)
        self.release_cap[:] = cap

    def _exit_sets(self) -> None:
        """Last cells and doors that lead into an open exit (their leavers are absorbed there)."""
        lay = self.m.lay
        into_exit = np.isin(lay.last_head, self.open_exits)
        self.exit_last = lay.last_idx[into_exit]
        self.exit_last_pos = np.flatnonzero(into_exit)
        into_exit_d = np.isin(lay.door_head, self.open_exits)
        self.exit_doors = lay.door_edges[into_exit_d]
        self.exit_door_pos = np.flatnonzero(into_exit_d)

    def _meter_sets(self) -> None:
        """For each metered node: the last cells, all cells and doors leading into it, and the origins at it."""
        m = self.m
        net, lay = m.net, m.lay
        nc = net.n_cells_total
        self.last_cells_into: dict[int, np.ndarray] = {}
        self.cells_into: dict[int, np.ndarray] = {}
        self.doors_into: dict[int, np.ndarray] = {}
        self.origins_at: dict[int, np.ndarray] = {}
        self.holding_at: dict[int, np.ndarray] = {}  # the holding areas before a metered origin
        for c in self.controls:
            if not isinstance(c.action, MeterFlow) or c.action.node not in net.index:
                continue
            n = net.index[c.action.node]
            self.origins_at[n] = np.flatnonzero(m.origin_node == n)
            self.holding_at[n] = m.holding_node[self.origins_at[n]]
            if self.origins_at[n].size:
                # An entrance's gate meters people coming in from its holding area; those already inside who pass
                # the entrance on their way are not held there.
                self.last_cells_into[n] = self.cells_into[n] = np.zeros(0, dtype=np.int64)
                self.doors_into[n] = np.flatnonzero(np.isin(net.tail, self.holding_at[n]) & (net.head == n))
                continue
            into = np.flatnonzero(net.head == n)
            self.last_cells_into[n] = np.flatnonzero(lay.c_last & (lay.c_head == n)) if nc else np.zeros(0, int)
            self.cells_into[n] = np.flatnonzero(np.isin(net.cell_edge, into)) if nc else np.zeros(0, int)
            self.doors_into[n] = np.intersect1d(into, lay.door_edges)

    def _skips(self) -> None:
        """Where the arrivals at each origin go while trains skip stations (`scenarios.schema.Station`'s rule): a
        skipped station's to its neighbours whose trains still stop, in equal shares, or on beyond the area."""
        m = self.m
        self.skip = None
        self.ride_on = np.zeros(len(m.origins))
        if not self.skipped_stations:
            return
        skip = np.eye(len(m.origins))
        for name in sorted(self.skipped_stations):
            i = m.origins.index(name)
            skip[i, i] = 0.0
            stop = [m.origins.index(n) for n in m.s.demand.stations[name].neighbours if n not in self.skipped_stations]
            for j in stop:
                skip[i, j] = 1.0 / len(stop)
            if not stop:
                self.ride_on[i] = 1.0
        self.skip = skip

    def _redirects(self) -> None:
        """Arrivals at a closed origin, and the people waiting in its holding area, go to the nearest open one (on
        foot at free speed; those waiting as many as its holding area has room for, the others wait on)."""
        m = self.m
        closed = [i for i, o in enumerate(m.origins) if o in self.shut]
        self.redirect = None
        if not closed:
            return
        open_ = [i for i, o in enumerate(m.origins) if o not in self.shut]
        redirect = np.arange(len(m.origins))
        for i in closed:
            row = self.ff_origin[i]
            choices = [(row[j], j) for j in open_ if math.isfinite(row[j])]
            if choices:
                j = redirect[i] = min(choices)[1]
                m.queue[j] += m.queue[i]
                m.queue[i] = 0.0
                a, b = m.holding_node[i], m.holding_node[j]
                room = max(m.hold_cap[j] - m.n_nodes_arr[b].sum(), 0.0)
                waiting = m.n_nodes_arr[a].sum()
                moved = m.n_nodes_arr[a] * (min(room / waiting, 1.0) if waiting > 0 else 0.0)
                m.n_nodes_arr[a] -= moved
                m.n_nodes_arr[b] += moved
        self.redirect = redirect

    # ---------------------------------------------------------------------------------- staff

    def reach(self, node: str) -> set[str]:
        """Nodes a team posted at `node` covers: within `STAFF_REACH_M` on foot."""
        if node not in self._reach:
            if node in self.walk_graph:
                self._reach[node] = set(staff_reach(self.walk_graph, node))
            else:
                self._reach[node] = {node}
        return self._reach[node]

    def covered(self) -> set[str]:
        """Nodes that some posted team covers."""
        out: set[str] = set()
        for node, _count in self.posted.values():
            out |= self.reach(node)
        return out

    def staff_walk(self, a: str, b: str) -> float:
        """Seconds on foot from `a` to `b` at free walking speed (0 if there is no walking route)."""
        if a == b:
            return 0.0
        try:
            dist = nx.shortest_path_length(self.walk_graph, a, b, weight="length_m")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return 0.0
        return dist / self.m.fd.free_speed

    def pool_holds(self, act: AssignStaff) -> bool:
        """Whether another assignment of the same pool holds `act`'s post when `act` starts: reached it before
        then (at free walking, delays aside) and in force up to then."""
        m = self.m
        team = m.s.staff[act.pool]
        for other in m.plan.of_type(AssignStaff):
            if other is act or other.pool != act.pool or other.to != act.to or other.at_s >= act.at_s:
                continue
            if other.until_s is not None and other.until_s < act.at_s:
                continue
            on_duty = other.at_s <= 0 and team.callup_delay_s <= 0
            reached = 0.0 if on_duty else max(other.at_s, team.callup_delay_s) + self.staff_walk(team.base, other.to)
            if reached <= act.at_s:
                return True
        return False

    # ---------------------------------------------------------------------------------- changes

    def refresh(self, t: float) -> None:
        """Recompute which controls hold (asked for and staffed), log the changes, and reroute."""
        rec = self.m.rec
        cover = self.covered()
        for c in self.controls:
            a = c.action
            where = {a.node} if isinstance(a, MeterFlow | HoldArea) else {a.u, a.v}
            enforced = c.active and bool(where & cover)
            if c.active and not enforced and not c.warned:
                rec.event(t, "control_unstaffed", f"{a.label()} asked for but no team is posted within "
                          f"{STAFF_REACH_M:.0f} m: not in effect", control=a.label())  # fmt: skip
                c.warned = True
            if enforced != c.enforced:
                state = "in effect" if enforced else "no longer in effect"
                rec.event(t, "control", f"{a.label()} {state}", control=a.label(), enforced=enforced)
                c.enforced = enforced
                c.warned = False
        self.prepare()
        self.m.routes.reroute()

    def apply(self, act: Any, on: bool) -> None:
        """A plan's control, closure or routing action comes into force (`on`) or is lifted."""
        m = self.m
        t, net = m.env.now, m.net
        if isinstance(act, MeterFlow | OneWay | HoldArea):
            for c in self.controls:
                if c.action is act:
                    c.active = on
        elif isinstance(act, CloseRoad):
            for e in (net.edge_index.get((act.u, act.v)), net.edge_index.get((act.v, act.u))):
                if e is None:
                    continue
                if on:
                    self.open_roads.add(e)
                    m.set_width(e, float(net.full_width[e]))
                else:
                    self.open_roads.discard(e)  # no one enters again; those on it walk off
            m.rec.event(t, "road", f"{act.u} - {act.v} {'closed to traffic: walkable' if on else 'reopened'}")
        elif isinstance(act, CloseExit):
            (self.closed_nodes.add if on else self.closed_nodes.discard)(act.node)
            m.rec.event(t, "exit", f"{act.node} {'closed' if on else 'reopened'}", node=act.node)
        elif isinstance(act, CloseStation):
            (self.skipped_stations.add if on else self.skipped_stations.discard)(act.station)
            text = "trains skip it: arrivals to the neighbouring stations" if on else "trains stop again"
            m.rec.event(t, "station", f"{act.station}: {text}", node=act.station, closed=on)
        elif isinstance(act, Announce):
            i = m.origins.index(act.origin)
            self.told[i] = act.share if on else 0.0
            text = f"{act.origin}: {act.share:.0%} of arrivals told not to come" if on else (
                f"{act.origin}: announcement ended")  # fmt: skip
            m.rec.event(t, "announce", text, origin=act.origin, share=act.share if on else 0.0)
        elif isinstance(act, RouteVisitors) and on:
            i = m.origins.index(act.origin)
            k = m.targets.index(act.to) if act.to in m.targets else None
            if k is None:
                m.rec.event(t, "route_ignored", f"{act.label()}: {act.to} is not a place visitors head for")
                return
            split = m.base_split[i] * (1 - act.share)
            split[k] += act.share
            m.base_split[i] = split
            m.split[i] = split

    def fires(self, inj: Inject) -> bool:
        """Whether an inject due now fires: it has no condition, or its condition holds on the state now."""
        condition = parse_condition(inj.condition)
        return condition is None or condition.holds(readings(self.m).get)

    def inject(self, index: int, inj: Inject) -> None:
        """A drill inject at its time: fires if its condition holds on the state then, and takes effect."""
        m = self.m
        now = m.env.now
        condition = parse_condition(inj.condition)
        fired = self.fires(inj)
        gate = f" ({condition}: {'yes' if fired else 'no'})" if condition is not None else ""
        m.rec.event(now, "inject" if fired else "inject_skipped",
                    f"inject {inj.kind}{' ' + inj.target if inj.target else ''}{gate}: {inj.note}".rstrip(": "),
                    index=index, inject=inj.kind, fired=fired)  # fmt: skip
        if not fired:
            return
        self.fired.add(index)
        duration = number(inj.params, "duration_s", math.inf)
        if inj.kind == "surge" and inj.target in m.origins:
            rate = number(inj.params, "rate_per_h")
            self.surges.append((m.origins.index(inj.target), now, now + duration, rate / 3600))
        elif inj.kind == "close_exit" and inj.target is not None:
            m.env.process(drill_closure(m, inj.target, now + duration))
        elif inj.kind == "delay" and inj.target is not None:
            self.delays.append((now, inj.target, delay_of(inj)))
        elif blocked_ways(inj):
            edges = [m.net.edge_index[w] for w in blocked_ways(inj) if w in m.net.edge_index]
            m.env.process(drill_walkway(m, inj, edges, in_force(inj)[1]))
        elif inj.kind == "show":
            change = show_change(inj)
            self.show_changes.append(change)
            plan = Plan.build(m.plan.meta, [*m.plan.actions, *self.show_changes])
            m.hold = show_hold(m.s, plan, m.n_steps, m.dt)
            m.rec.event(now, "show", f"show segment {change.segment}: {change.change}"
                        + (f" {change.minutes:g} min" if change.change != "cancel" else ""),
                        segment=change.segment, change=change.change)  # fmt: skip


__all__ = ["Control", "Controls"]
