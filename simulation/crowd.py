"""Crowds: a mesoscopic pedestrian flow on the city graph (cell transmission), advanced by one SimPy process.

People are not agents. They are amounts (real numbers) per place and per class, so that a step costs the same
for 1,000 or 1,000,000 people; the cost grows with the graph (cells, nodes) and the number of classes only.
The step runs compiled (`simulation.crowd_kernel`, Numba loops over cells and nodes); the NumPy step below is
its reference, run with `CrowdModel(..., kernel="numpy")` or `YIWANG_CROWD_KERNEL=numpy`.

The network.
- Every walkable edge (walk, stair, and road edges a plan closes to traffic) is cut into cells as long as a
  free walker goes in one step, or `MIN_CELL_M` if that is longer (stairs keep one-step cells); an edge
  shorter than one free step is a door: it holds nobody and passes at most specific flow × width per second.
  Both directions of a two-way edge share its cells.
- Every node is a holding area: its `area_m2` (squares, promenade bays, landings, viewing areas), or, for a
  point node, a junction box of the two widest walkways meeting there (width × width).
- Classes: one per destination (heading for a viewing area) and `leave` (heading for the nearest open exit);
  people dwelling at a viewing area are counted there apart from the walkers.

The rules of one step of `dt` seconds (Lebacque's demand/supply form of the cell-transmission model):
- A cell sends at most demand(D)·w·dt and never more than it holds; D is the density of both directions
  together, and each direction sends its own share. A cell receives at most supply(D)·w·dt and never more
  than it has room for up to the jam density: no density is negative or above jam on a moving edge.
- Counter-flow: when both directions occupy a cell, its demand and supply shrink by the friction
  1 − κ·(1 − |n₁ − n₂| / (n₁ + n₂)) (κ = `COUNTERFLOW_FRICTION`); a one-way control empties one direction and
  gives the whole width back. Near the jam density with both directions present almost nothing moves: people
  who cannot advance only squeeze past each other at `SWAP_PMPS` per metre (densities unchanged), and an
  edge at critical density moving slower than `STALL_SPEED_MPS` for `STALL_HOLD_S` is logged as stalled.
- Stairs walk slower: their speeds (so demand and supply) are scaled by `stair_speed_factor` (Weidmann) or
  by the SFPE stair constant.
- A node sends each class over its outgoing edges in the route shares of that class; what enters an edge
  passes its end as through a door: at most specific flow × width a second. A node receives no more than its
  room up to the jam density and, once congested, no more than flow(D) across the walkways that meet there.
  Leavers reaching an open exit are gone at once (they take no room there).
- A receiver with less room than is asked of it shares its room in proportion to what is asked (every
  incoming link gets the same fraction); so the amounts that leave one place are exactly the ones that
  enter the next, and people are conserved to rounding.
- Metering caps the inflow of arriving classes through a node (leavers are let through); at an origin it
  caps entry from the outside only (people already inside who pass an entrance are not held there), and the
  people held back wait in that origin's queue.
- Arrivals: the scenario's rate × origin share each step (Poisson counts or expected amounts), split over
  destinations by their shares, wait in their origin's queue until the origin has room, and come in no
  faster than the walkways out of the origin carry them (specific flow × width); a closed origin's
  arrivals come in at the nearest open one.
- Routes: every `ROUTE_EVERY_S` the shortest times to every destination and to the open exits are
  recomputed from the current speeds (all classes at once, Bellman–Ford on arrays), and each node's route
  shares move halfway towards the fastest next edge (damped, so that two stairs do not swap every minute).
- Viewing areas fill: from the warning density (until back below it by `2.5 × HYSTERESIS_PPM2`) an area is
  full; people heading for it go to the nearest one with room within `RETARGET_MAX_S`, or give up and leave
  (`turned_away`), and newcomers' destination shares skip it.
- Dwell: a class reaching its viewing area stands there for a time drawn from the scenario's dwell
  distribution (as a flow: the cohort is spread over the distribution); dwellers whose time is up stay while
  a show runs, and for `PULL_S` × attraction before one starts; then they leave. `change_show` moves, cuts or
  cancels the show intervals.
- Staff: a team (or part of one: a pool may be split over several posts) posted to a node covers every node
  within `STAFF_REACH_M` on foot; metering and one-way
  control are only in force where a team covers them (the event log says when a control waits for staff).
- Closures: a closed node (a plan's `CloseExit`, or a `close_exit` inject) takes nobody in, leavers head for the
  open exits, and its arrivals and the people queued outside it come in at the nearest open origin.
- Injects (drills), at their times and before the step due then: each fires if its condition holds on the state
  (`readings()`, the sampler's series names) and is logged (`inject` or `inject_skipped`); a `surge` adds
  arrivals at its origin (Poisson counts from their own stream, or expected amounts, as the scenario's
  arrivals), a `close_exit` closes a node for a while, a `delay` holds back the teams of its pool not yet at
  their posts, and a `show` changes a show segment as a plan's `ChangeShow` would.
- Thresholds (the scenario's warning, critical and crush densities) are watched at every node and every
  edge; each crossing upwards (and each clearing, with a hysteresis of `HYSTERESIS_PPM2`) triggers a SimPy
  event that the watcher process writes to the event log and the KPIs count.

KPIs: `peak_density_ppm2` (where and when: the `peak_density` event and `peak_density_min`),
`minutes_over_4ppm2` and `minutes_over_5ppm2` (person-minutes at places denser than 4 and 5 /m²),
`max_metering_queue` (people held back by meters in force: origin queues and congested cells feeding a
metered node), `mean_extra_walk_min` (walking time beyond the free-flow shortest time, per visitor who came
in), `staff_utilisation` (share of posted staff-minutes whose zone had a control in force or a place at the
warning density), `visitors_served` (reached a viewing area); and more (`visitors`, `departed`,
`turned_away`, `stalled_edge_min`, the crossing counts, ...).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np
import simpy

from scenarios.crowd import STAFF_REACH_M, CrowdState, check_plan, show_change, show_hold, staff_reach
from scenarios.crowd import default_plan as crowd_default_plan
from scenarios.errors import ScenarioError
from scenarios.graphs import PEDESTRIAN_MODES, walkways
from scenarios.injects import delay_of, number, parse_condition
from scenarios.pedestrian import SFPE, Bottleneck, walking_model
from scenarios.plan import (
    AssignStaff,
    ChangeShow,
    CloseExit,
    CloseRoad,
    MeterFlow,
    OneWay,
    Plan,
    RouteVisitors,
    parse_action,
)
from scenarios.schema import CrowdScenario, Inject
from simulation.core import (
    Breach,
    CountingEnvironment,
    Recorder,
    RunStats,
    SimResult,
    WallClock,
    event_breaches,
    streams,
)

STREAMS = ("arrivals", "dwell", "surge")  # a stream each: a surge leaves the other arrivals as they were
SAMPLE_EVERY_S = 60.0
ROUTE_EVERY_S = 60.0
ROUTE_SMOOTHING = 0.5  # share of the way route shares move towards the fastest next edge at each update
COUNTERFLOW_FRICTION = 0.15  # EST: capacity lost to balanced counter-flow without lanes
HYSTERESIS_PPM2 = 0.2
STALL_SPEED_MPS = 0.1  # a two-way edge at critical density moving slower than this is stalled
STALL_HOLD_S = 30.0
STALL_CHECK_S = 5.0
MIN_SPEED_MPS = 0.02  # for route costs on jammed cells
RETARGET_MAX_S = 1200.0  # EST: people turned away from a full viewing area walk at most this far to another
SWAP_PMPS = 0.15  # EST: at a standstill, counter-flowing people squeeze past each other this fast (per metre)
MIN_CELL_M = 10.0  # cells are at least this long (a free step is 1.34-2.7 m; long streets need no finer grid)
DWELL_SAMPLES = 200_000
KPI_LEVELS = (4.0, 5.0)  # the person-minute KPIs are named after these densities
KERNELS = ("numba", "numpy")  # the compiled step (`simulation.crowd_kernel`) and the NumPy reference
KERNEL_ENV = "YIWANG_CROWD_KERNEL"  # set it to "numpy" to run the reference step


# ------------------------------------------------------------------------------------------ the network


@dataclass
class CrowdNetwork:
    """The arrays of a city graph cut into cells: built once per run, changed only by closures and controls."""

    nodes: list[str]
    node_area: np.ndarray
    edges: list[tuple[str, str]]  # directed walkable edges, sorted by tail node
    tail: np.ndarray
    head: np.ndarray
    length: np.ndarray
    width: np.ndarray  # walkable width now (0 for a road still open to traffic)
    full_width: np.ndarray  # walkable width when open (carriageway for roads)
    speed_factor: np.ndarray  # 1 on the level, less on stairs
    twin: np.ndarray  # the reverse edge, or -1
    n_cells: np.ndarray
    first_cell: np.ndarray  # index of the edge's first cell (or -1 for a door)
    is_road: np.ndarray
    # cells, edge by edge
    cell_edge: np.ndarray
    cell_len: np.ndarray
    cell_pos: np.ndarray
    cell_twin: np.ndarray
    index: dict[str, int] = field(default_factory=dict)
    edge_index: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_cells_total(self) -> int:
        return int(self.cell_edge.size)


def build_network(graph: nx.DiGraph, *, dt: float, free_speed: float, stair_factor: float,
                  roads: frozenset[frozenset[str]] = frozenset(), cell_m: float = 0.0) -> CrowdNetwork:  # fmt: skip
    """Cut the walkable part of a graph (plus the named roads, closed to walkers for now) into cells.

    A cell is as long as a free walker goes in one step, or `cell_m` if that is longer (stairs keep one-step
    cells: they are short, and they are where crowds crush); an edge shorter than one free step is a door
    (no cells).
    """
    chosen = []
    for u, v, data in graph.edges(data=True):
        if data["mode"] in PEDESTRIAN_MODES and data.get("width_m", 0) > 0:
            chosen.append((u, v, float(data["width_m"]), data["mode"] == "stair", False))
        elif data["mode"] == "road" and frozenset((u, v)) in roads and data.get("carriageway_m", 0) > 0:
            chosen.append((u, v, float(data["carriageway_m"]), False, True))
    names = sorted({u for u, *_ in chosen} | {v for _, v, *_ in chosen})
    index = {n: i for i, n in enumerate(names)}
    chosen.sort(key=lambda e: (index[e[0]], index[e[1]]))
    edges = [(u, v) for u, v, *_ in chosen]
    edge_index = {e: i for i, e in enumerate(edges)}
    m = len(edges)
    tail = np.array([index[u] for u, _ in edges], dtype=np.int64)
    head = np.array([index[v] for _, v in edges], dtype=np.int64)
    length = np.array([graph.edges[e]["length_m"] for e in edges], dtype=float)
    full_width = np.array([c[2] for c in chosen], dtype=float)
    is_road = np.array([c[4] for c in chosen], dtype=bool)
    width = np.where(is_road, 0.0, full_width)
    speed_factor = np.array([stair_factor if c[3] else 1.0 for c in chosen], dtype=float)
    twin = np.array([edge_index.get((v, u), -1) for u, v in edges], dtype=np.int64)
    # Both directions of an edge get the same cells: the longer of the two lengths decides (they are equal in
    # practice), and a cell is at least as long as a free walker goes in one step (the CFL condition).
    paired = np.where(twin >= 0, np.maximum(length, length[np.maximum(twin, 0)]), length)
    step_m = free_speed * speed_factor * dt
    stair = speed_factor < 1.0
    n_cells = np.floor(paired / np.where(stair, step_m, np.maximum(step_m, cell_m)) + 1e-9).astype(np.int64)
    n_cells = np.where(paired >= step_m - 1e-9, np.maximum(n_cells, 1), 0)
    first = np.full(m, -1, dtype=np.int64)
    cell_edge, cell_len, cell_pos = [], [], []
    for e in range(m):
        if n_cells[e] == 0:
            continue
        first[e] = len(cell_edge)
        for j in range(n_cells[e]):
            cell_edge.append(e)
            cell_len.append(paired[e] / n_cells[e])
            cell_pos.append(j)
    cell_edge_a = np.array(cell_edge, dtype=np.int64)
    cell_pos_a = np.array(cell_pos, dtype=np.int64)
    cell_twin = np.full(cell_edge_a.size, -1, dtype=np.int64)
    for c in range(cell_edge_a.size):
        e = cell_edge_a[c]
        t = twin[e]
        if t >= 0 and n_cells[t] > 0:
            cell_twin[c] = first[t] + n_cells[e] - 1 - cell_pos_a[c]
    area = np.zeros(len(names))
    widest: dict[int, list[float]] = {i: [] for i in range(len(names))}
    for e in range(m):
        widest[int(tail[e])].append(full_width[e])
        widest[int(head[e])].append(full_width[e])
    for i, name in enumerate(names):
        given = float(graph.nodes[name].get("area_m2", 0.0) or 0.0)
        ws = [*sorted(widest[i], reverse=True), 1.0, 1.0]
        area[i] = given if given > 0 else max(1.0, ws[0] * ws[1])
    return CrowdNetwork(
        nodes=names, node_area=area, edges=edges, tail=tail, head=head, length=length, width=width,
        full_width=full_width, speed_factor=speed_factor, twin=twin, n_cells=n_cells, first_cell=first,
        is_road=is_road, cell_edge=cell_edge_a, cell_len=np.array(cell_len, dtype=float), cell_pos=cell_pos_a,
        cell_twin=cell_twin, index=index, edge_index=edge_index,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ shows


def dwell_kernel(scenario: CrowdScenario, rng: np.random.Generator, dt: float, n_steps: int) -> np.ndarray:
    """The dwell distribution as the share of a cohort that leaves k steps after arriving (k = 0, 1, ...)."""
    draws = np.asarray(scenario.dwell.sample(rng, DWELL_SAMPLES), dtype=float)
    steps = np.minimum(np.floor(draws / dt).astype(np.int64) + 1, n_steps + 1)
    pmf = np.bincount(steps, minlength=int(steps.max()) + 1).astype(float)
    return pmf / pmf.sum()


# ------------------------------------------------------------------------------------------ the model


@dataclass
class Control:
    """A metering or one-way control the plan asked for, and whether staff make it hold."""

    action: MeterFlow | OneWay
    active: bool = False  # asked for now
    enforced: bool = False  # and a team covers it
    warned: bool = False  # the log has said it waits for staff


class CrowdModel:
    """One run of a crowd scenario under a plan."""

    def __init__(self, scenario: CrowdScenario, plan: Plan | None = None, *, seed: int | None = None,
                 dt: float | None = None, cell_m: float = MIN_CELL_M, graph: nx.DiGraph | None = None,
                 on_step: Callable[[CrowdModel], None] | None = None, kernel: str | None = None):  # fmt: skip
        from scenarios.loading import scenario_graph

        kernel = kernel or os.environ.get(KERNEL_ENV) or KERNELS[0]
        if kernel not in KERNELS:
            raise ValueError(f"crowd step kernel {kernel!r} (argument or {KERNEL_ENV}): not one of {KERNELS}")
        self.compiled = kernel == "numba"
        if self.compiled:  # imported here: NumPy-only runs do not load numba
            from simulation import crowd_kernel

            self._kernels = crowd_kernel

        self.s = scenario
        self.graph = graph if graph is not None else scenario_graph(scenario)
        self.plan = plan if plan is not None else _default_plan(scenario, self.graph)
        problems = check_plan(self.plan, scenario, self.graph)
        if problems:
            raise ScenarioError(problems)
        self.seed = scenario.seed if seed is None else seed
        self.rng = streams(self.seed, STREAMS)
        self.dt = float(dt if dt is not None else scenario.walking.step_s)
        self.on_step = on_step
        self.env = CountingEnvironment()
        self.rec = Recorder()
        w = scenario.walking
        self.fd, stair_factor = walking_model(w)
        self.door = Bottleneck(w.specific_flow_pmps)
        self.jam = self.fd.jam_density
        self.rho_crit = self.fd.critical_density
        roads = frozenset(frozenset((a.u, a.v)) for a in self.plan.of_type(CloseRoad))
        self.net = build_network(self.graph, dt=self.dt, free_speed=self.fd.free_speed,
                                       stair_factor=stair_factor, roads=roads, cell_m=cell_m)  # fmt: skip
        self.n_steps = math.ceil(scenario.clock.horizon_s / self.dt - 1e-9)
        self._classes()
        self._arrays()
        self.hold = show_hold(scenario, self.plan, self.n_steps, self.dt)
        self.kernel = dwell_kernel(scenario, self.rng["dwell"], self.dt, self.n_steps)
        nonzero = np.flatnonzero(self.kernel)
        self.kernel_span = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)
        self.due = np.zeros((len(self.targets), self.n_steps + self.kernel.size + 2))
        self.held = np.zeros(len(self.targets))
        self.step_no = 0
        self.set_up = False  # `setup` has run (processes started)
        self._post: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # densities after the last step
        # controls and closures
        self.controls: list[Control] = [Control(a) for a in self.plan.actions if isinstance(a, MeterFlow | OneWay)]
        self.closed_nodes: set[str] = set()
        self.open_roads: set[int] = set()
        self.posted: dict[int, tuple[str, int]] = {}  # assignment (its index in the plan) -> (node, count) on post
        self._reach: dict[str, set[str]] = {}
        self.route_override: dict[str, list[tuple[float, int]]] = {}
        # drills: what the injects that fired changed
        self.fired: set[int] = set()  # indexes of the injects that fired
        self.surges: list[tuple[int, float, float, float]] = []  # (origin, from, until, extra people a second)
        self.drill_closed: dict[str, int] = {}  # node -> closures in force by injects
        self.delays: list[tuple[float, str, float]] = []  # (fired at, pool, seconds)
        self.show_changes: list[ChangeShow] = []
        # bookkeeping
        self.entered = 0.0  # arrived at an origin's queue
        self.arrived_at = np.zeros(len(self.origins))  # the same per origin (where they came in)
        self.entered_network = 0.0
        self.served = 0.0
        self.departed = 0.0
        self.walk_person_s = 0.0
        self.freeflow_s = 0.0
        self.over = np.zeros(len(KPI_LEVELS))  # person-seconds above 4 and 5 /m²
        self.peak = (0.0, 0.0, "")  # density, time, place
        self.max_meter_queue = 0.0
        self.meter_wait_person_s = 0.0
        self.max_entry_queue = 0.0
        self.stalled_s = 0.0
        self.staff_posted_s = 0.0
        self.staff_busy_s = 0.0
        self.crossings = dict.fromkeys(("warning", "critical", "crush"), 0)
        self.full = np.zeros(len(self.targets), dtype=bool)
        self.turned_away = 0.0
        self.breach = self.env.event()

    # ---------------------------------------------------------------------------------- set-up

    def _classes(self) -> None:
        """Destination classes (the demand's and any routing target), then `leave` and `dwell`."""
        s, net = self.s, self.net
        targets = list(s.demand.destinations)
        for act in self.plan.of_type(RouteVisitors):
            if act.to not in targets and act.to not in s.exits and act.to in net.index:
                targets.append(act.to)
        missing = [t for t in [*targets, *s.demand.origins] if t not in net.index]
        if missing:
            raise ScenarioError.single(s.name, "demand", f"node {missing[0]!r} is not on any walkway of the graph")
        self.targets = targets
        self.K = len(targets) + 1
        self.LEAVE = len(targets)
        self.target_cls = np.arange(len(targets))
        self.target_node = np.array([net.index[t] for t in targets], dtype=np.int64)
        self.exit_nodes = [x for x in s.exits if x in net.index]
        self.origins = list(s.demand.origins)
        self.origin_node = np.array([net.index[o] for o in self.origins], dtype=np.int64)
        self.origin_share = np.array([s.demand.origins[o] for o in self.origins], dtype=float)
        self.dest_share = np.zeros(self.K)
        for i, t in enumerate(targets):
            self.dest_share[i] = s.demand.destinations.get(t, 0.0)

    def _arrays(self) -> None:
        net, K = self.net, self.K
        nc, m = net.n_cells_total, len(net.edges)
        self.n_nodes_arr = np.zeros((net.n_nodes, K))
        self.n_cells_arr = np.zeros((nc, K))
        self.queue = np.zeros((len(self.origins), K))
        self.dwell_at = np.zeros(len(self.targets))  # dwellers at each target
        self.dwelling = np.zeros(net.n_nodes)  # the same per node
        self.split = np.tile(self.dest_share, (len(self.origins), 1))
        self.base_split = self.split.copy()
        self.P = np.zeros((m, K))  # route shares: of class k at an edge's tail, the share sent into it
        self.blocked = np.zeros(m, dtype=bool)  # one-way against, closed road, closed head node
        ce = net.cell_edge
        self.c_first = net.cell_pos == 0
        self.c_last = net.cell_pos == net.n_cells[ce] - 1 if nc else np.zeros(0, dtype=bool)
        self.c_head = net.head[ce]
        self.c_factor = net.speed_factor[ce]
        self.has_twin = net.cell_twin >= 0
        self.twin_safe = np.where(self.has_twin, net.cell_twin, 0)
        self.door_edges = np.flatnonzero(net.n_cells == 0)
        self.cell_edges = np.flatnonzero(net.n_cells > 0)
        # where each cell's inflow comes from: the previous cell, or (first cells) its edge's entry link
        self.first_idx = np.flatnonzero(self.c_first)
        self.first_edge = ce[self.first_idx]  # a first cell's inflow comes from its edge's entry
        self.nonfirst = np.flatnonzero(~self.c_first)  # the others' from the cell before
        self.last_idx = np.flatnonzero(self.c_last)
        self.last_head = self.c_head[self.last_idx]
        self.nonlast = np.flatnonzero(~self.c_last)
        self.twinned = np.flatnonzero(self.has_twin)
        self.twin_of = net.cell_twin[self.twinned]
        self.door_head = net.head[self.door_edges]
        self.exit_last = self.exit_last_pos = self.exit_doors = self.exit_door_pos = np.zeros(0, dtype=np.int64)
        # canonical cells (one direction of each physical cell) and places (nodes, then physical edges)
        canon_edge = (
            (net.twin < 0) | (np.arange(m) < np.maximum(net.twin, 0)) | (net.n_cells[np.maximum(net.twin, 0)] == 0)
        )
        canon_edge &= net.n_cells > 0
        self.canon_edges = np.flatnonzero(canon_edge)
        self.canon_cells = np.flatnonzero(canon_edge[ce]) if nc else np.zeros(0, dtype=np.int64)
        starts = net.first_cell[self.canon_edges]
        self.canon_starts = np.searchsorted(self.canon_cells, starts)
        self.place_names = [*net.nodes, *(f"{net.edges[e][0]}~{net.edges[e][1]}" for e in self.canon_edges)]
        self.place_level = np.zeros(len(self.place_names), dtype=np.int64)
        self.place_peak = np.zeros(len(self.place_names))
        two_way = net.twin[self.canon_edges] >= 0
        self.stall_edges = np.flatnonzero(two_way)  # positions in canon_edges
        self.stall_run = np.zeros(self.canon_edges.size)
        self.stall_every = max(1, round(STALL_CHECK_S / self.dt))
        self.stalled = np.zeros(self.canon_edges.size, dtype=bool)
        # route bookkeeping: edges are sorted by tail; segments for per-node minima
        self.tail_nodes, self.tail_starts = np.unique(net.tail, return_index=True)
        self.phi = np.zeros((net.n_nodes, K))
        # incident physical edges of each node (for the map's density per node)
        inc_node, inc_place = [], []
        for p, e in enumerate(self.canon_edges):
            for n in (net.tail[e], net.head[e]):
                inc_node.append(n)
                inc_place.append(net.n_nodes + p)
        self.inc_node = np.array(inc_node, dtype=np.int64)
        self.inc_place = np.array(inc_place, dtype=np.int64)
        self.given_area = np.array([float(self.graph.nodes[n].get("area_m2", 0) or 0) > 0 for n in net.nodes])
        # Swap interfaces: inside two-way edges (canonical side), and at each end between node and edge.
        inner = self.canon_cells_nonlast_twinned()
        self.sw_a = inner
        self.sw_b = net.cell_twin[inner + 1]
        se = np.flatnonzero((net.n_cells > 0) & (net.twin >= 0))
        se = se[net.n_cells[net.twin[se]] > 0]
        self.se_edge = se
        self.se_first = net.first_cell[se]
        self.se_opp = net.cell_twin[self.se_first]
        self.se_node = net.tail[se]
        self._geometry()
        self._kernel_arrays()

    def _kernel_arrays(self) -> None:
        """What the compiled step needs beyond the NumPy step's index sets: cell flags, buffers, the diagram."""
        net, fd = self.net, self.fd
        self.k_cells = (net.cell_edge, self.c_first, self.c_last, self.c_head, net.cell_twin, self.last_idx)
        self.canon_two_way = net.twin[self.canon_edges] >= 0
        n_places, n_canon = len(self.place_names), self.canon_edges.size
        self.place_rho = np.zeros(n_places)
        self.level_changed = np.zeros(n_places, dtype=np.int64)
        self.level_old = np.zeros(n_places, dtype=np.int64)
        self.stall_started = np.zeros(n_canon, dtype=np.int64)
        self.stall_ended = np.zeros(n_canon, dtype=np.int64)
        self.stall_fwd = np.zeros(n_canon)
        self.stall_bwd = np.zeros(n_canon)
        self.moved_c = np.zeros(net.n_cells_total)
        th = self.s.thresholds
        self.level_values = np.array([th.warning_ppm2, th.critical_ppm2, th.crush_ppm2])
        self.kpi_levels = np.array(KPI_LEVELS)
        if isinstance(fd, SFPE):
            kind, a, gamma = 1.0, fd.k, 0.0
        else:
            kind, a, gamma = 0.0, fd.v0, fd.gamma
        self.fd_params = (kind, a, gamma, self.jam, self.rho_crit, fd.capacity, COUNTERFLOW_FRICTION)

    def _geometry(self) -> None:
        """Cell areas, their inverses, speed factor × width, and door capacities: they change with widths."""
        net = self.net
        width = net.width[net.cell_edge]
        self.area_c = net.cell_len * width
        self.inv_area = np.divide(1.0, self.area_c, out=np.zeros_like(self.area_c), where=self.area_c > 0)
        self.c_factor_w = self.c_factor * width
        self.cap_e = self.door.capacity(net.width) * self.dt
        self.node_width = np.bincount(net.head, weights=net.width, minlength=net.n_nodes)
        out_width = np.bincount(net.tail, weights=net.width, minlength=net.n_nodes)
        self.cap_g = self.door.capacity(out_width[self.origin_node]) * self.dt  # people an entrance lets in a step
        self.sw_cap = (
            SWAP_PMPS * net.width[net.cell_edge[self.sw_a]] * net.speed_factor[net.cell_edge[self.sw_a]] * self.dt
        )
        self.se_cap = SWAP_PMPS * net.width[self.se_edge] * net.speed_factor[self.se_edge] * self.dt

    def canon_cells_nonlast_twinned(self) -> np.ndarray:
        """Cells of the canonical direction of two-way edges that have a next cell: one per inner boundary."""
        cc = self.canon_cells
        return cc[(~self.c_last[cc]) & self.has_twin[cc]]

    # ---------------------------------------------------------------------------------- one step

    def _densities(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cell: its own people, both directions' people, and the density of both."""
        own = self.n_cells_arr.sum(axis=1)
        both = own.copy()
        both[self.twinned] += own[self.twin_of]
        rho = both * self.inv_area
        return own, both, rho

    def node_people(self) -> np.ndarray:
        """People at each node, walkers and dwellers."""
        return self.n_nodes_arr.sum(axis=1) + self.dwelling

    def set_width(self, e: int, width: float) -> None:
        """Change an edge's walkable width (a road closed to traffic) and what follows from it."""
        self.net.width[e] = width
        self._geometry()
        self._post = None

    def step(self) -> None:
        """Advance every cell and node by one step (see the module docstring for the rules)."""
        self._arrive(self.step_no * self.dt)
        if self.compiled:
            self._step_compiled()
        else:
            self._step_numpy()
        if self.on_step is not None:
            self.on_step(self)

    def _step_compiled(self) -> None:
        """The step after the arrivals, by the compiled kernels: the same rules as `_step_numpy`."""
        ck, net, dt = self._kernels, self.net, self.dt
        cells, nodes = self.n_cells_arr, self.n_nodes_arr
        own, both, rho = self._post if self._post is not None else ck.densities(cells, net.cell_twin, self.inv_area)
        moved, own_next = np.empty(net.n_cells_total), np.empty(net.n_cells_total)
        lo, hi = self.kernel_span
        entered, ff_in, ff_out, served, departed, inside = ck.flow_step(
            cells, nodes, self.queue, self.dwelling, own, both, rho,
            self.fd_params, dt, self.LEAVE,
            *self.k_cells, self.c_exit, self.c_factor_w, self.area_c,
            self.P, net.tail, net.head, net.first_cell, self.cap_e, self.e_exit,
            net.node_area, self.node_width, self.node_closed, self.origin_node, self.phi0_origin, self.cap_g,
            self.m_rate, *self.m_lc, *self.m_de, *self.m_go,
            self.sw_a, self.sw_b, self.sw_cap, self.se_edge, self.se_first, self.se_opp, self.se_node, self.se_cap,
            moved, self.moved_c, own_next,
            self.step_no, self.hold, self.due, self.kernel, lo, hi, self.dwell_at, self.held, self.target_node,
            self.open_exits, self.phi0_leave,
        )  # fmt: skip
        self.entered_network += entered
        self.freeflow_s += ff_in
        self.served += served
        self.departed += departed
        self.freeflow_s += ff_out
        self.walk_person_s += inside * dt
        self.step_no += 1
        self.last_flow = moved
        self._watch_compiled(self.step_no * dt, own_next)

    def _watch_compiled(self, t: float, own: np.ndarray) -> None:
        """`_watch` by the compiled kernel; the event log and the peak's name are written here."""
        ck, net, dt = self._kernels, self.net, self.dt
        stall = bool(self.stall_edges.size and self.canon_cells.size and self.step_no % self.stall_every == 0)
        every = self.stall_every * dt
        both, rho, top, n_changed, n_started, n_ended, n_now, q = ck.watch_step(
            own, self.n_cells_arr, self.n_nodes_arr, self.dwelling, net.cell_twin, self.inv_area, net.node_area,
            self.canon_cells, self.canon_starts, self.level_values, HYSTERESIS_PPM2,
            self.kpi_levels, self.over, self.place_level, self.place_peak, self.peak[0], dt, self.place_rho,
            self.level_changed, self.level_old,
            stall, self.s.thresholds.critical_ppm2, STALL_SPEED_MPS, STALL_HOLD_S, every, self.canon_two_way,
            net.cell_len, self.moved_c, self.stall_run, self.stalled,
            self.stall_started, self.stall_ended, self.stall_fwd, self.stall_bwd,
            bool(self.meters), *self.m_go, *self.m_ci, self.queue, self.rho_crit,
        )  # fmt: skip
        self._post = (own, both, rho)
        self.rho_c = rho
        place_rho = self.place_rho
        if top >= 0:
            self.peak = (float(place_rho[top]), t, self.place_names[top])
        if n_changed:
            changed = self.level_changed[:n_changed]
            self._level_events(t, changed, self.level_old[:n_changed], self.place_level[changed], place_rho)
        if stall:
            self.stalled_s += float(n_now) * every
            rho_e = place_rho[net.n_nodes :]
            self._stall_events(t, self.stall_started[:n_started], self.stall_ended[:n_ended], rho_e,
                               self.stall_fwd, self.stall_bwd)  # fmt: skip
        if self.meters:
            self.max_meter_queue = max(self.max_meter_queue, q)
            self.meter_wait_person_s += q * dt

    def _step_numpy(self) -> None:
        """The step after the arrivals, in NumPy: the reference for the compiled kernels."""
        net, dt, fd = self.net, self.dt, self.fd
        nodes, cells, queue = self.n_nodes_arr, self.n_cells_arr, self.queue
        own, both, rho = self._post if self._post is not None else self._densities()
        node_tot = nodes.sum(axis=1) + self.dwelling
        # Counter-flow friction: 1 with one direction, 1 − κ when both directions are equal.
        fric = np.ones_like(own)
        tw = self.twinned
        if tw.size:
            bt = both[tw]
            fric[tw] = 1.0 - COUNTERFLOW_FRICTION * (1.0 - np.abs(2 * own[tw] - bt) / np.where(bt > 0, bt, 1.0))
        base = self.c_factor_w * fric * dt  # speed factor × width × friction × dt
        # Each cell sends at most demand(D)·w·dt (its own direction's share), never more than it holds; its
        # share of both directions' demand is own/both, so per person it sends demand(D)·base/both.
        flow = fd.flow(rho)
        below = rho < self.rho_crit
        cap = fd.capacity
        per = np.divide(np.where(below, flow, cap) * base, both, out=np.zeros_like(both), where=both > 0)
        frac_c = np.minimum(per, 1.0)
        send = own * frac_c
        # Each physical cell receives at most supply(D)·w·dt and no more than its room up to the jam density.
        recv = np.minimum(np.where(below, cap, flow) * base, np.maximum(self.jam * self.area_c - both, 0.0))
        # Each node sends class k over its out-edges in the route shares; an edge's end passes at most
        # specific flow × width per second (a door).
        dem_e = nodes[net.tail] * self.P
        tot_e = dem_e.sum(axis=1)
        over = tot_e > self.cap_e
        if over.any():
            dem_e[over] *= (self.cap_e[over] / tot_e[over])[:, None]
            tot_e[over] = self.cap_e[over]
        dem_g = queue.copy()  # metering scales it; the queue keeps whoever is held back
        # An entrance lets people in no faster than its walkways out carry them.
        tot_g = dem_g.sum(axis=1)
        over_g = tot_g > self.cap_g
        if over_g.any():
            dem_g[over_g] *= (self.cap_g[over_g] / tot_g[over_g])[:, None]
        # Metering: arriving classes into a metered node get at most its rate; leavers pass.
        meter = self._meter(cells, frac_c, dem_e, dem_g) if self.meters else {}
        if meter:
            tot_e = dem_e.sum(axis=1)
            for _node, (lc, r) in meter.items():
                send[lc] = (cells[lc] * frac_c[lc, None] * r).sum(axis=1)
        # Receivers share their room in proportion to what is asked of them.
        in_c = np.empty_like(send)
        in_c[self.nonfirst] = send[self.nonfirst - 1]
        in_c[self.first_idx] = tot_e[self.first_edge]
        asked = in_c.copy()
        asked[tw] += in_c[self.twin_of]
        r_cell = np.divide(recv, asked, out=np.ones_like(asked), where=asked > recv)
        nn = net.n_nodes
        last = self.last_idx
        # Leavers reaching an open exit are gone at once: they take no room there.
        xl, xd, L = self.exit_last, self.exit_doors, self.LEAVE
        leave_c = cells[xl, L] * frac_c[xl] if xl.size else np.zeros(0)
        leave_d = dem_e[xd, L] if xd.size else np.zeros(0)
        send_n = send[last].copy()
        send_n[self.exit_last_pos] -= leave_c
        asked_n = np.bincount(self.last_head, weights=send_n, minlength=nn)
        if self.door_edges.size:
            tot_d = tot_e[self.door_edges].copy()
            tot_d[self.exit_door_pos] -= leave_d
            asked_n += np.bincount(self.door_head, weights=tot_d, minlength=nn)
        asked_n += np.bincount(self.origin_node, weights=dem_g.sum(axis=1), minlength=nn)
        # A node receives no more than its room; once it is congested, no more than flow(D) across the
        # walkways that meet there (so it fills towards jam only as fast as the crowd there can move).
        rho_n = node_tot / net.node_area
        room = self.jam * net.node_area - node_tot
        node_room = np.where(rho_n < self.rho_crit, room, np.minimum(fd.flow(rho_n) * self.node_width * dt, room))
        node_room = np.maximum(node_room, 0.0)
        node_room[self.closed_idx] = 0.0
        r_node = np.divide(node_room, asked_n, out=np.ones_like(asked_n), where=asked_n > node_room)
        # The flows: what each sender may send times the share its receiver can take.
        r_down = np.empty_like(send)
        r_down[self.nonlast] = r_cell[self.nonlast + 1]
        r_down[last] = r_node[self.last_head]
        f_c = cells * (frac_c * r_down)[:, None]
        f_c[xl, L] = leave_c
        for _node, (lc, r) in meter.items():
            f_c[lc] *= r
        r_e = np.ones(len(net.edges))
        r_e[self.cell_edges] = r_cell[net.first_cell[self.cell_edges]]
        r_e[self.door_edges] = r_node[self.door_head]
        f_e = dem_e * r_e[:, None]
        f_e[xd, L] = leave_d
        f_g = dem_g * r_node[self.origin_node][:, None]
        moved = send * r_down  # per cell, before the exit and meter adjustments (for swaps and stalls)
        swaps = self._swaps(cells, frac_c, f_c, dem_e, f_e, send - moved)
        # Apply them: what leaves one place enters the next.
        cells -= f_c
        cells[self.nonfirst] += f_c[self.nonfirst - 1]
        cells[self.first_idx] += f_e[self.first_edge]
        nodes -= _sum_rows(f_e, net.tail, nn)
        nodes += _sum_rows(f_c[last], self.last_head, nn)
        if self.door_edges.size:
            nodes += _sum_rows(f_e[self.door_edges], self.door_head, nn)
        nodes += _sum_rows(f_g, self.origin_node, nn)
        queue -= f_g
        self._apply_swaps(swaps)
        self.entered_network += float(f_g.sum())
        self.freeflow_s += float((f_g * self.phi0_nodes[self.origin_node]).sum())
        np.maximum(cells, 0.0, out=cells)  # rounding dust only: no flow exceeds what its sender holds
        self._absorb()
        self.walk_person_s += (nodes.sum() + cells.sum()) * dt
        self.step_no += 1
        self.last_flow = moved
        self._watch(self.step_no * dt, f_c)

    def _swaps(self, cells: np.ndarray, frac_c: np.ndarray, f_c: np.ndarray, dem_e: np.ndarray,
               f_e: np.ndarray, blocked: np.ndarray) -> tuple[np.ndarray, ...]:  # fmt: skip
        """Counter-flowing people who could not move squeeze past each other (at most `SWAP_PMPS` a metre).

        Across every boundary between two stretches of a two-way edge (and between a node and the edge's
        end), what one direction still wants to send and what the other still wants to send the other way
        are exchanged, up to the swap capacity: neither side's number of people changes, so no density rises,
        but a stall at the jam density drains slowly instead of locking for ever. `blocked` (people a cell
        could not send this step) picks the few boundaries where both sides are held up."""
        live = np.flatnonzero((blocked[self.sw_a] > 0) & (blocked[self.sw_b] > 0))
        a, b = self.sw_a[live], self.sw_b[live]
        rem_a = np.maximum(cells[a] * frac_c[a, None] - f_c[a], 0.0)
        rem_b = np.maximum(cells[b] * frac_c[b, None] - f_c[b], 0.0)
        ta, tb = rem_a.sum(axis=1), rem_b.sum(axis=1)
        x = np.minimum(np.minimum(ta, tb), self.sw_cap[live])
        xa, xb = rem_a * _ratio(x, ta)[:, None], rem_b * _ratio(x, tb)[:, None]
        ends = np.flatnonzero(blocked[self.se_opp] > 0)
        e, o = self.se_edge[ends], self.se_opp[ends]
        rem_e = np.maximum(dem_e[e] - f_e[e], 0.0)
        rem_o = np.maximum(cells[o] * frac_c[o, None] - f_c[o], 0.0)
        te, to = rem_e.sum(axis=1), rem_o.sum(axis=1)
        y = np.minimum(np.minimum(te, to), self.se_cap[ends])
        ye, yo = rem_e * _ratio(y, te)[:, None], rem_o * _ratio(y, to)[:, None]
        return a, b, xa, xb, ends, ye, yo

    def _apply_swaps(self, swaps: tuple[np.ndarray, ...]) -> None:
        a, b, xa, xb, ends, ye, yo = swaps
        cells, nodes, nn = self.n_cells_arr, self.n_nodes_arr, self.net.n_nodes
        cells[a] -= xa
        cells[a + 1] += xa
        cells[b] -= xb
        cells[b + 1] += xb
        if ends.size:
            cells[self.se_first[ends]] += ye
            cells[self.se_opp[ends]] -= yo
            nodes += _sum_rows(yo - ye, self.se_node[ends], nn)

    def _arrive(self, t: float) -> None:
        """This step's arrivals join their origins' queues, split over destinations."""
        s, dt = self.s, self.dt
        poisson = s.demand.arrivals.process == "poisson"
        rate = s.demand.arrivals.rate_at(t) / 3600 * dt
        surge = [(o, r) for o, a, b, r in self.surges if a <= t < b]
        if rate <= 0 and not surge:
            return
        counts = np.zeros(len(self.origins))
        if rate > 0:
            mean = rate * self.origin_share
            counts += self.rng["arrivals"].poisson(mean) if poisson else mean
        if surge:
            extra = np.zeros(len(self.origins))
            for o, r in surge:
                extra[o] += r * dt
            counts += self.rng["surge"].poisson(extra) if poisson else extra
        if self.redirect is not None:
            counts = np.bincount(self.redirect, weights=counts, minlength=counts.size)
        self.queue += counts[:, None] * self.split
        self.arrived_at += counts
        total = float(counts.sum())
        self.entered += total
        queued = float(self.queue.sum())
        if queued > self.max_entry_queue:
            self.max_entry_queue = queued

    def _meter(self, cells: np.ndarray, frac_c: np.ndarray, dem_e: np.ndarray,
               dem_g: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
        """Cap the arriving classes' inflow into each metered node at its rate (leavers are let through).

        Door and origin demands are scaled in place; for the last cells into a metered node the per-class
        factors are returned, to scale those cells' flows."""
        out = {}
        arriving = np.ones(self.K, dtype=bool)
        arriving[self.LEAVE] = False
        for node, rate in self.meters.items():
            lc, de, go = self.last_cells_into[node], self.doors_into[node], self.origins_at[node]
            dem_lc = cells[lc] * frac_c[lc, None]
            asked = dem_lc[:, arriving].sum() + dem_e[de][:, arriving].sum() + dem_g[go][:, arriving].sum()
            budget = rate * self.dt
            if asked <= budget:
                continue
            factor = np.where(arriving, budget / asked, 1.0)
            if de.size:
                dem_e[de] *= factor
            if go.size:
                dem_g[go] *= factor
            out[node] = (lc, factor)
        return out

    def _absorb(self) -> None:
        """Arrivals at their viewing area start to dwell; leavers at an open exit are gone; dwell ends."""
        nodes, k = self.n_nodes_arr, self.step_no
        tn, idx = self.target_node, self.target_cls
        got = nodes[tn, idx].copy()
        nodes[tn, idx] = 0.0
        self.dwell_at += got
        self.served += float(got.sum())
        self.due[:, k : k + self.kernel.size] += got[:, None] * self.kernel[None, :]
        if self.open_exits.size:
            self.departed += float(nodes[self.open_exits, self.LEAVE].sum())
            nodes[self.open_exits, self.LEAVE] = 0.0
        if self.hold[k]:
            self.held += self.due[:, k]
        else:
            release = np.minimum(self.due[:, k] + self.held, self.dwell_at)
            self.held[:] = 0.0
            self.dwell_at -= release
            nodes[tn, self.LEAVE] += release
            self.freeflow_s += float((release * self.phi0_nodes[tn, self.LEAVE]).sum())
        self.dwelling = np.bincount(tn, weights=self.dwell_at, minlength=self.net.n_nodes)

    # ---------------------------------------------------------------------------------- watching

    def _watch(self, t: float, f_c: np.ndarray) -> None:
        """Densities after the step against thresholds, the KPI integrals, stalls and queues behind meters."""
        net, dt = self.net, self.dt
        own, both, rho = self._post = self._densities()
        self.rho_c = rho
        node_tot = self.node_people()
        rho_n = node_tot / net.node_area
        cc = self.canon_cells
        rho_e = np.maximum.reduceat(rho[cc], self.canon_starts) if cc.size else np.zeros(0)
        place_rho = np.concatenate([rho_n, rho_e])
        np.maximum(self.place_peak, place_rho, out=self.place_peak)
        top = int(np.argmax(place_rho)) if place_rho.size else 0
        if place_rho.size and place_rho[top] > self.peak[0] + 1e-12:
            self.peak = (float(place_rho[top]), t, self.place_names[top])
        for i, level in enumerate(KPI_LEVELS):
            self.over[i] += (node_tot[rho_n > level].sum() + both[cc][rho[cc] > level].sum()) * dt
        self._levels(t, place_rho)
        if self.stall_edges.size and cc.size and self.step_no % self.stall_every == 0:
            self._stalls(t, own, both, rho, f_c, rho_e)
        if self.meters:
            q = self._meter_queue(rho)
            self.max_meter_queue = max(self.max_meter_queue, q)
            self.meter_wait_person_s += q * dt

    def _levels(self, t: float, place_rho: np.ndarray) -> None:
        th = self.s.thresholds
        levels = np.array([th.warning_ppm2, th.critical_ppm2, th.crush_ppm2])
        up = (place_rho[:, None] >= levels[None, :]).sum(axis=1)
        keep = ((place_rho[:, None] + HYSTERESIS_PPM2) >= levels[None, :]).sum(axis=1)
        old = self.place_level
        new = np.where(up > old, up, np.where(keep < old, keep, old))
        changed = np.flatnonzero(new != old)
        if changed.size:
            self.place_level = new
            self._level_events(t, changed, old[changed], new[changed], place_rho)

    def _level_events(self, t: float, changed: np.ndarray, old: np.ndarray, new: np.ndarray,
                      place_rho: np.ndarray) -> None:  # fmt: skip
        """Count the crossings of the places whose level changed and hand them to the watcher process."""
        names = ("clear", "warning", "critical", "crush")
        out = []
        for p, was, lvl in zip(changed.tolist(), old.tolist(), new.tolist(), strict=True):
            rising = lvl > was
            if rising:
                for j in range(was + 1, lvl + 1):
                    self.crossings[names[j]] += 1
            out.append((self.place_names[p], names[lvl], rising, float(place_rho[p])))
        ev, self.breach = self.breach, self.env.event()
        ev.succeed((t, out))

    def _stalls(self, t: float, own: np.ndarray, both: np.ndarray, rho: np.ndarray, f_c: np.ndarray,
                rho_e: np.ndarray) -> None:  # fmt: skip
        """Two-way edges at critical density where both directions are present and nobody gets anywhere."""
        net, cc, starts = self.net, self.canon_cells, self.canon_starts
        moved_c = f_c.sum(axis=1)
        tw = self.twin_safe[cc]
        moved = (moved_c[cc] + np.where(self.has_twin[cc], moved_c[tw], 0.0)) * net.cell_len[cc]
        fwd = np.add.reduceat(own[cc], starts)
        total = np.add.reduceat(both[cc], starts)
        speed = np.divide(np.add.reduceat(moved, starts), total * self.dt, out=np.full(total.shape, np.inf),
                          where=total > 0)  # fmt: skip
        bwd = total - fwd
        crit = self.s.thresholds.critical_ppm2
        now = (rho_e >= crit) & (np.minimum(fwd, bwd) >= np.maximum(1.0, 0.1 * total)) & (speed < STALL_SPEED_MPS)
        now &= net.twin[self.canon_edges] >= 0
        every = self.stall_every * self.dt
        self.stall_run = np.where(now, self.stall_run + every, 0.0)
        self.stalled_s += float(now.sum()) * every
        started = np.flatnonzero((self.stall_run >= STALL_HOLD_S) & ~self.stalled)
        ended = np.flatnonzero(~now & self.stalled)
        self._stall_events(t, started, ended, rho_e, fwd, bwd)
        self.stalled = np.where(now, self.stalled | (self.stall_run >= STALL_HOLD_S), False)

    def _stall_events(self, t: float, started: np.ndarray, ended: np.ndarray, rho_e: np.ndarray, fwd: np.ndarray,
                      bwd: np.ndarray) -> None:  # fmt: skip
        """Log the edges where counter-flow has just stalled, and those moving again."""
        net = self.net
        for p in started:
            u, v = net.edges[self.canon_edges[p]]
            self.rec.event(t, "counterflow_stalled", f"counter-flow stalled on {u} - {v} "
                           f"({rho_e[p]:.2f} /m², {fwd[p]:.0f} one way and {bwd[p]:.0f} the other)",
                           u=u, v=v, density=round(float(rho_e[p]), 3))  # fmt: skip
        for p in ended:
            u, v = net.edges[self.canon_edges[p]]
            self.rec.event(t, "counterflow_moving", f"{u} - {v} moving again", u=u, v=v)

    def _meter_queue(self, rho: np.ndarray) -> float:
        """People held back by meters: origin queues at metered origins, and congested cells feeding a meter."""
        total = 0.0
        for node in self.meters:
            go = self.origins_at[node]
            total += float(self.queue[go].sum())
            cells = self.cells_into[node]
            if cells.size:
                jammed = cells[rho[cells] >= self.fd.critical_density]
                total += float(self.n_cells_arr[jammed].sum())
        return total

    # ---------------------------------------------------------------------------------- routes

    def edge_times(self) -> np.ndarray:
        """Seconds to walk each directed edge at the current densities (inf where it is blocked)."""
        net = self.net
        own, both, rho = self._densities()
        mixed = np.where(both > 0, np.abs(2 * own - both) / np.where(both > 0, both, 1.0), 1.0)
        v = self.fd.speed(rho) * self.c_factor * (1.0 - COUNTERFLOW_FRICTION * (1.0 - mixed))
        cell_t = net.cell_len / np.maximum(v, MIN_SPEED_MPS)
        times = net.length / (self.fd.free_speed * net.speed_factor)
        if cell_t.size:
            sums = np.add.reduceat(cell_t, net.first_cell[self.cell_edges])
            times[self.cell_edges] = sums
        times = times.copy()
        times[self.blocked | (net.width <= 0)] = np.inf
        return times

    def potentials(self, times: np.ndarray) -> np.ndarray:
        """Seconds from every node to each class's target (Bellman–Ford on arrays, all classes at once; compiled
        label correcting with the compiled step, the same numbers)."""
        net, K = self.net, self.K
        phi = np.full((net.n_nodes, K), np.inf)
        phi[self.target_node, np.arange(len(self.targets))] = 0.0
        phi[self.open_exits, self.LEAVE] = 0.0
        fixed = np.isfinite(phi)
        if self.compiled:
            return self._kernels.shortest_times(phi, fixed, np.ascontiguousarray(times, dtype=float), net.head,
                                                self.tail_nodes, self.tail_starts)  # fmt: skip
        for _ in range(net.n_nodes + 1):
            cand = times[:, None] + phi[net.head]
            best = np.minimum.reduceat(cand, self.tail_starts, axis=0) if cand.size else cand
            new = phi.copy()
            new[self.tail_nodes] = np.minimum(phi[self.tail_nodes], best)
            new[fixed] = 0.0
            if np.array_equal(new, phi):
                break
            phi = new
        return phi

    def reroute(self, smoothing: float = ROUTE_SMOOTHING) -> None:
        """Move each node's route shares towards its fastest next edge for every class."""
        net = self.net
        times = self.edge_times()
        phi = self.potentials(times)
        self.phi = phi
        cand = times[:, None] + phi[net.head]
        best = np.minimum.reduceat(cand, self.tail_starts, axis=0)
        seg = np.repeat(np.arange(self.tail_nodes.size), np.diff(np.append(self.tail_starts, len(net.edges))))
        best_e = best[seg]
        choice = (cand <= best_e + 1e-9) & np.isfinite(cand)
        n_best = np.add.reduceat(choice.astype(float), self.tail_starts, axis=0)[seg]
        aon = np.divide(choice, n_best, out=np.zeros(choice.shape), where=n_best > 0)
        P = (1 - smoothing) * self.P + smoothing * aon
        P[~np.isfinite(cand)] = 0.0
        norm = np.add.reduceat(P, self.tail_starts, axis=0)[seg]
        P = np.divide(P, norm, out=np.zeros_like(P), where=norm > 0)
        # Nobody is routed away from where they are meant to be: their target, or dwelling.
        for i, node in enumerate(self.target_node):
            P[net.tail == node, i] = 0.0
        P[np.isin(net.tail, self.open_exits), self.LEAVE] = 0.0
        self.P = P
        self._retarget()

    def _retarget(self) -> None:
        """People heading for a full viewing area go to the nearest one with room, or give up and leave.

        A viewing area is full from the critical density until it is back below the warning density. New
        arrivals' destination shares skip full areas while any other has room.
        """
        th, t = self.s.thresholds, self.env.now
        rho = self.node_people()[self.target_node] / self.net.node_area[self.target_node]
        full = np.where(self.full, rho >= th.warning_ppm2 - HYSTERESIS_PPM2 * 2.5, rho >= th.warning_ppm2)
        for i in np.flatnonzero(full != self.full):
            text = "full: newcomers turned away" if full[i] else "has room again"
            self.rec.event(t, "viewing_area", f"{self.targets[i]} {text}", node=self.targets[i], full=bool(full[i]))
        self.full = full
        shares = np.where(np.append(full, True), 0.0, self.dest_share)
        shares[self.LEAVE] = 0.0
        if shares.sum() > 0 and full.any():
            self.split = np.tile(shares / shares.sum(), (len(self.origins), 1))
        elif not full.any():
            self.split = self.base_split.copy()
        open_ = np.flatnonzero(~full)
        for d in np.flatnonzero(full):
            for arr, heads, phi0 in ((self.n_nodes_arr, np.arange(self.net.n_nodes), self.phi0_nodes),
                                     (self.n_cells_arr, self.c_head, self.phi0_cells)):  # fmt: skip
                moving = arr[:, d].copy()
                if not moving.any():
                    continue
                if open_.size:
                    cost = self.phi[heads][:, open_]
                    pick = open_[np.argmin(cost, axis=1)]
                    best = cost.min(axis=1)
                    pick = np.where(best <= RETARGET_MAX_S, pick, self.LEAVE)
                else:
                    pick = np.full(moving.size, self.LEAVE)
                rows = np.arange(moving.size)
                arr[rows, pick] += moving
                arr[:, d] = 0.0
                self.freeflow_s += float((moving * (phi0[rows, pick] - phi0[:, d])).sum())
                self.turned_away += float(moving[pick == self.LEAVE].sum())

    # ---------------------------------------------------------------------------------- controls

    def _prepare(self) -> None:
        """Index sets that depend on closures (exits, meters) and the free-flow potentials."""
        net = self.net
        self.shut = self.closed_nodes | {n for n, k in self.drill_closed.items() if k > 0}
        self.closed_idx = np.array([net.index[n] for n in sorted(self.shut) if n in net.index], dtype=np.int64)
        self.open_exits = np.array([net.index[x] for x in self.exit_nodes if x not in self.shut], dtype=np.int64)
        self._exit_sets()
        head_closed = np.isin(net.head, self.closed_idx)
        blocked = head_closed.copy()
        for c in self.controls:
            if c.enforced and isinstance(c.action, OneWay):
                e = net.edge_index.get((c.action.v, c.action.u))
                if e is not None:
                    blocked[e] = True
        for e in np.flatnonzero(net.is_road):
            if e not in self.open_roads:
                blocked[e] = True
        self.blocked = blocked
        self.meters = {
            net.index[c.action.node]: c.action.rate_per_min / 60.0
            for c in self.controls
            if c.enforced and isinstance(c.action, MeterFlow) and c.action.node in net.index
        }
        self._redirects()
        self._kernel_sets()

    def _kernel_sets(self) -> None:
        """The compiled step's view of closures, exits and meters (flags per cell, edge and node; CSR lists)."""
        net = self.net
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
        self.m_ci = csr([self.cells_into[n] for n in nodes])

    def _exit_sets(self) -> None:
        """Last cells and doors that lead into an open exit (their leavers are absorbed there)."""
        into_exit = np.isin(self.last_head, self.open_exits)
        self.exit_last = self.last_idx[into_exit]
        self.exit_last_pos = np.flatnonzero(into_exit)
        into_exit_d = np.isin(self.door_head, self.open_exits)
        self.exit_doors = self.door_edges[into_exit_d]
        self.exit_door_pos = np.flatnonzero(into_exit_d)

    def _meter_sets(self) -> None:
        net = self.net
        nc = net.n_cells_total
        self.last_cells_into: dict[int, np.ndarray] = {}
        self.cells_into: dict[int, np.ndarray] = {}
        self.doors_into: dict[int, np.ndarray] = {}
        self.origins_at: dict[int, np.ndarray] = {}
        for c in self.controls:
            if not isinstance(c.action, MeterFlow) or c.action.node not in net.index:
                continue
            n = net.index[c.action.node]
            self.origins_at[n] = np.flatnonzero(self.origin_node == n)
            if self.origins_at[n].size:
                # An entrance's gate meters people coming in from outside; those already inside who pass the
                # entrance on their way are not held there.
                self.last_cells_into[n] = self.cells_into[n] = self.doors_into[n] = np.zeros(0, dtype=np.int64)
                continue
            into = np.flatnonzero(net.head == n)
            self.last_cells_into[n] = np.flatnonzero(self.c_last & (self.c_head == n)) if nc else np.zeros(0, int)
            self.cells_into[n] = np.flatnonzero(np.isin(net.cell_edge, into)) if nc else np.zeros(0, int)
            self.doors_into[n] = np.intersect1d(into, self.door_edges)

    def _redirects(self) -> None:
        """Arrivals at a closed origin, and the people queued outside it, come in at the nearest open one (on
        foot at free speed)."""
        closed = [i for i, o in enumerate(self.origins) if o in self.shut]
        self.redirect = None
        if not closed:
            return
        open_ = [i for i, o in enumerate(self.origins) if o not in self.shut]
        redirect = np.arange(len(self.origins))
        for i in closed:
            row = self.ff_origin[i]
            choices = [(row[j], j) for j in open_ if math.isfinite(row[j])]
            if choices:
                j = redirect[i] = min(choices)[1]
                self.queue[j] += self.queue[i]
                self.queue[i] = 0.0
        self.redirect = redirect

    def reach(self, node: str) -> set[str]:
        """Nodes a team posted at `node` covers: within `STAFF_REACH_M` on foot."""
        if node not in self._reach:
            if node in self.walk_graph:
                self._reach[node] = set(staff_reach(self.walk_graph, node))
            else:
                self._reach[node] = {node}
        return self._reach[node]

    def covered(self) -> set[str]:
        out: set[str] = set()
        for node, _count in self.posted.values():
            out |= self.reach(node)
        return out

    def refresh_controls(self, t: float) -> None:
        """Recompute which controls hold (asked for and staffed), log the changes, and reroute."""
        cover = self.covered()
        for c in self.controls:
            a = c.action
            where = {a.node} if isinstance(a, MeterFlow) else {a.u, a.v}
            enforced = c.active and bool(where & cover)
            if c.active and not enforced and not c.warned:
                self.rec.event(t, "control_unstaffed", f"{a.label()} asked for but no team is posted within "
                               f"{STAFF_REACH_M:.0f} m: not in effect", control=a.label())  # fmt: skip
                c.warned = True
            if enforced != c.enforced:
                state = "in effect" if enforced else "no longer in effect"
                self.rec.event(t, "control", f"{a.label()} {state}", control=a.label(), enforced=enforced)
                c.enforced = enforced
                c.warned = False
        self._prepare()
        self.reroute()

    # ---------------------------------------------------------------------------------- processes

    def crowd_flow(self) -> Generator[simpy.Event, Any, None]:
        """The one process that moves everybody: a vectorised step every dt."""
        while self.step_no < self.n_steps:
            self.step()
            yield self.env.timeout(self.dt)

    def router(self) -> Generator[simpy.Event, Any, None]:
        """Route shares follow the current walking times, every `ROUTE_EVERY_S`."""
        while True:
            yield self.env.timeout(ROUTE_EVERY_S)
            self.reroute()

    def controller(self) -> Generator[simpy.Event, Any, None]:
        """Apply the plan's controls and closures at their times (and lift them at `until_s`)."""
        env = self.env
        timeline: list[tuple[float, int, str, Any]] = []
        for i, act in enumerate(self.plan.actions):
            if isinstance(act, MeterFlow | OneWay | CloseRoad | CloseExit | RouteVisitors):
                timeline.append((act.at_s, i, "on", act))
                if getattr(act, "until_s", None) is not None:
                    timeline.append((act.until_s, i, "off", act))
        timeline.sort(key=lambda x: (x[0], x[1], x[2] == "on"))
        for at_s, _i, what, act in timeline:
            if at_s > env.now:
                yield env.timeout(at_s - env.now)
            self._apply(act, what == "on")
            self.refresh_controls(env.now)

    def _apply(self, act: Any, on: bool) -> None:
        t, net = self.env.now, self.net
        if isinstance(act, MeterFlow | OneWay):
            for c in self.controls:
                if c.action is act:
                    c.active = on
        elif isinstance(act, CloseRoad):
            for e in (net.edge_index.get((act.u, act.v)), net.edge_index.get((act.v, act.u))):
                if e is None:
                    continue
                if on:
                    self.open_roads.add(e)
                    self.set_width(e, float(net.full_width[e]))
                else:
                    self.open_roads.discard(e)  # no one enters again; those on it walk off
            self.rec.event(t, "road", f"{act.u} - {act.v} {'closed to traffic: walkable' if on else 'reopened'}")
        elif isinstance(act, CloseExit):
            (self.closed_nodes.add if on else self.closed_nodes.discard)(act.node)
            self.rec.event(t, "exit", f"{act.node} {'closed' if on else 'reopened'}", node=act.node)
        elif isinstance(act, RouteVisitors) and on:
            i = self.origins.index(act.origin)
            k = self.targets.index(act.to) if act.to in self.targets else None
            if k is None:
                self.rec.event(t, "route_ignored", f"{act.label()}: {act.to} is not a place visitors head for")
                return
            split = self.base_split[i] * (1 - act.share)
            split[k] += act.share
            self.base_split[i] = split
            self.split[i] = split

    def staff_team(self, act: AssignStaff) -> Generator[simpy.Event, Any, None]:
        """A team goes from its base to its post (after its call-up delay), holds it, and is stood down.

        A team on duty from the start (no call-up delay) that the plan posts at time 0 is at its post when the
        clock starts: the plan was made, and the team sent, before the evening began. A team taking over a post
        its pool holds when it starts (a re-plan's post where the plan in effect had one) is there already. A
        `delay` inject for its pool that fires before it reaches its post makes it arrive that much later."""
        env = self.env
        team = self.s.staff[act.pool]
        walk = self.staff_walk(team.base, act.to)
        on_duty = act.at_s <= 0 and team.callup_delay_s <= 0
        there = self._pool_holds(act)
        arrive = 0.0 if on_duty else act.at_s if there else max(act.at_s, team.callup_delay_s) + walk
        late = 0.0
        while not there:
            if arrive > env.now:
                yield env.timeout(arrive - env.now)
            more = sum(d for _, pool, d in self.delays if pool == act.pool) - late
            if more <= 0:
                break
            late += more
            arrive += more
            self.rec.event(env.now, "staff_delayed", f"{act.count} of {act.pool} reach {act.to} "
                           f"{late / 60:g} min late (inject)", team=act.pool, node=act.to, delay_s=late)  # fmt: skip
        if there and arrive > env.now:
            yield env.timeout(arrive - env.now)
        key = next(i for i, a in enumerate(self.plan.actions) if a is act)
        self.posted[key] = (act.to, act.count)
        self.rec.event(env.now, "staff_posted", f"{act.count} of {act.pool} posted at {act.to}",
                       team=act.pool, node=act.to, count=act.count)  # fmt: skip
        self.refresh_controls(env.now)
        if act.until_s is not None:
            if act.until_s > env.now:
                yield env.timeout(act.until_s - env.now)
            if key in self.posted:
                del self.posted[key]
                self.rec.event(env.now, "staff_stood_down", f"{act.pool} leaves {act.to}", team=act.pool)
                self.refresh_controls(env.now)

    def _pool_holds(self, act: AssignStaff) -> bool:
        """Whether another assignment of the same pool holds `act`'s post when `act` starts: reached it before
        then (at free walking, delays aside) and in force up to then."""
        team = self.s.staff[act.pool]
        for other in self.plan.of_type(AssignStaff):
            if other is act or other.pool != act.pool or other.to != act.to or other.at_s >= act.at_s:
                continue
            if other.until_s is not None and other.until_s < act.at_s:
                continue
            on_duty = other.at_s <= 0 and team.callup_delay_s <= 0
            reached = 0.0 if on_duty else max(other.at_s, team.callup_delay_s) + self.staff_walk(team.base, other.to)
            if reached <= act.at_s:
                return True
        return False

    def staff_walk(self, a: str, b: str) -> float:
        if a == b:
            return 0.0
        try:
            dist = nx.shortest_path_length(self.walk_graph, a, b, weight="length_m")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return 0.0
        return dist / self.fd.free_speed

    def threshold_watch(self) -> Generator[simpy.Event, Any, None]:
        """Writes every density threshold crossing to the event log."""
        while True:
            t, crossings = yield self.breach
            for place, level, rising, rho in crossings:
                kind = f"density_{level}" if rising else f"density_down_{level}"
                text = (f"{place}: {rho:.2f} /m² reaches {level}" if rising
                        else f"{place}: {rho:.2f} /m², back to {level}")  # fmt: skip
                self.rec.event(t, kind, text, place=place, density=round(rho, 3))

    def sampler(self) -> Generator[simpy.Event, Any, None]:
        """Every minute: density at every node (the map), totals, queues; and staff utilisation."""
        env, rec = self.env, self.rec
        while True:
            t = env.now
            now, place_rho = self._state_now()
            for name, value in now.items():
                rec.sample(name, t, value)
            self._staff_minute(place_rho)
            yield env.timeout(SAMPLE_EVERY_S)

    def readings(self) -> dict[str, float]:
        """The state now, by series name: what the sampler records and what an inject's condition may read."""
        return self._state_now()[0]

    def _state_now(self) -> tuple[dict[str, float], np.ndarray]:
        """The sampler's series now, and the density of every place (nodes, then physical edges)."""
        net = self.net
        own, both, rho = self._densities()
        node_tot = self.node_people()
        rho_n = node_tot / net.node_area
        cc = self.canon_cells
        rho_e = np.maximum.reduceat(rho[cc], self.canon_starts) if cc.size else np.zeros(0)
        place_rho = np.concatenate([rho_n, rho_e])
        edge_max = np.zeros(net.n_nodes)
        np.maximum.at(edge_max, self.inc_node, place_rho[self.inc_place])
        shown = np.where(self.given_area, rho_n, np.maximum(rho_n, edge_max))
        out = {f"density:{name}": round(float(shown[i]), 4) for i, name in enumerate(net.nodes)}
        dwelling = float(self.dwell_at.sum())
        on_site = float(node_tot.sum() + own.sum())
        people_over = node_tot[rho_n > KPI_LEVELS[0]].sum() + both[cc][rho[cc] > KPI_LEVELS[0]].sum()
        out.update({
            "on_site": on_site,
            "dwelling": dwelling,
            "walking": on_site - dwelling,
            "entry_queue": float(self.queue.sum()),
            "served": self.served,
            "departed": self.departed,
            "peak_density_now": float(place_rho.max()) if place_rho.size else 0.0,
            "people_over_4ppm2": float(people_over),
        })  # fmt: skip
        return out, place_rho

    # ---------------------------------------------------------------------------------- drills

    def injector(self) -> Generator[simpy.Event, Any, None]:
        """Each drill inject at its time, before the step due then (all wake-ups are set at the start, so
        they come before the step's own at the same time)."""
        env = self.env
        order = sorted(enumerate(self.s.injects), key=lambda p: (p[1].at_s, p[0]))
        wakes = [env.timeout(max(0.0, inj.at_s - env.now)) for _, inj in order]
        for (index, inj), wake in zip(order, wakes, strict=True):
            if inj.at_s > env.now:
                yield wake
            self.inject(index, inj)

    def fires(self, inj: Inject) -> bool:
        """Whether an inject due now fires: it has no condition, or its condition holds on the state now."""
        condition = parse_condition(inj.condition)
        return condition is None or condition.holds(self.readings().get)

    def inject(self, index: int, inj: Inject) -> None:
        """A drill inject at its time: fires if its condition holds on the state then, and takes effect."""
        now = self.env.now
        condition = parse_condition(inj.condition)
        fired = self.fires(inj)
        gate = f" ({condition}: {'yes' if fired else 'no'})" if condition is not None else ""
        self.rec.event(now, "inject" if fired else "inject_skipped",
                       f"inject {inj.kind}{' ' + inj.target if inj.target else ''}{gate}: {inj.note}".rstrip(": "),
                       index=index, inject=inj.kind, fired=fired)  # fmt: skip
        if not fired:
            return
        self.fired.add(index)
        duration = number(inj.params, "duration_s", math.inf)
        if inj.kind == "surge" and inj.target in self.origins:
            rate = number(inj.params, "rate_per_h")
            self.surges.append((self.origins.index(inj.target), now, now + duration, rate / 3600))
        elif inj.kind == "close_exit" and inj.target is not None:
            self.env.process(self.drill_closure(inj.target, now + duration))
        elif inj.kind == "delay" and inj.target is not None:
            self.delays.append((now, inj.target, delay_of(inj)))
        elif inj.kind == "show":
            change = show_change(inj)
            self.show_changes.append(change)
            plan = Plan.build(self.plan.meta, [*self.plan.actions, *self.show_changes])
            self.hold = show_hold(self.s, plan, self.n_steps, self.dt)
            self.rec.event(now, "show", f"show segment {change.segment}: {change.change}"
                           + (f" {change.minutes:g} min" if change.change != "cancel" else ""),
                           segment=change.segment, change=change.change)  # fmt: skip

    def drill_closure(self, node: str, until_s: float) -> Generator[simpy.Event, Any, None]:
        """A node closed by an inject from now until `until_s` (or the end), as a plan's `CloseExit` would."""
        env = self.env
        self.drill_closed[node] = self.drill_closed.get(node, 0) + 1
        self.rec.event(env.now, "exit", f"{node} closed (inject)", node=node)
        self.refresh_controls(env.now)
        if until_s >= self.s.clock.horizon_s:
            return
        yield env.timeout(until_s - env.now)
        self.drill_closed[node] -= 1
        self.rec.event(env.now, "exit", f"{node} reopened (inject)", node=node)
        self.refresh_controls(env.now)

    def _staff_minute(self, place_rho: np.ndarray) -> None:
        """A posted team is busy this minute if its zone has a control in force or a place at warning."""
        warn = self.s.thresholds.warning_ppm2
        net = self.net
        hot = {net.nodes[i] for i in np.flatnonzero(place_rho[: net.n_nodes] >= warn)}
        for p in np.flatnonzero(place_rho[net.n_nodes :] >= warn):
            u, v = net.edges[self.canon_edges[p]]
            hot |= {u, v}
        controlled: set[str] = set()
        for c in self.controls:
            if c.enforced:
                a = c.action
                controlled |= {a.node} if isinstance(a, MeterFlow) else {a.u, a.v}
        for node, count in self.posted.values():
            zone = self.reach(node)
            self.staff_posted_s += count * SAMPLE_EVERY_S
            if zone & (hot | controlled):
                self.staff_busy_s += count * SAMPLE_EVERY_S

    # ---------------------------------------------------------------------------------- run

    def setup(self) -> None:
        """Everything before the first step: walking graph, free-flow potentials, first routes, processes."""
        self.set_up = True
        walk = self.walk_graph = walkways(self.graph)
        self.redirect: np.ndarray | None = None
        self._meter_sets()
        self.meters: dict[int, float] = {}
        self.closed_idx = np.zeros(0, dtype=np.int64)
        self.open_exits = np.array([self.net.index[x] for x in self.exit_nodes], dtype=np.int64)
        self._prepare()
        free = self.edge_times()
        self.phi0_nodes = np.nan_to_num(self.potentials(free), posinf=0.0)
        self.phi0_origin = self.phi0_nodes[self.origin_node]
        self.phi0_leave = self.phi0_nodes[self.target_node, self.LEAVE]
        net = self.net
        remain = (net.n_cells[net.cell_edge] - net.cell_pos) * net.cell_len / (self.fd.free_speed * self.c_factor)
        self.phi0_cells = remain[:, None] + self.phi0_nodes[self.c_head]
        ff = {}
        for i, o in enumerate(self.origins):
            dist = nx.single_source_dijkstra_path_length(walk, o, weight="length_m") if o in walk else {}
            ff[i] = [dist.get(p, math.inf) for p in self.origins]
        self.ff_origin = ff
        self.reroute(smoothing=1.0)
        env = self.env
        if self.s.injects:
            env.process(self.injector())  # first: an inject at time 0 comes before the first step
        for act in self.plan.of_type(AssignStaff):
            env.process(self.staff_team(act))
        env.process(self.controller())
        env.process(self.crowd_flow())
        env.process(self.router())
        env.process(self.threshold_watch())
        env.process(self.sampler())

    def run(self) -> SimResult:
        self.setup()
        with WallClock() as clock:
            self.env.run(until=self.s.clock.horizon_s)
        return self._result(clock.elapsed)

    def state(self) -> CrowdState:
        """Where the people are now (see `scenarios.crowd.CrowdState`), after the steps run so far."""
        names = self.targets
        walking = self.n_nodes_arr.sum(axis=0) + self.n_cells_arr.sum(axis=0)  # per class

        def per_minute(people: np.ndarray, after_s: np.ndarray) -> tuple[float, ...]:
            bins = np.bincount((after_s // 60).astype(np.int64), weights=people) if people.size else people
            last = int(np.flatnonzero(bins > 1e-6)[-1]) + 1 if (bins > 1e-6).any() else 0
            return tuple(float(x) for x in bins[:last])

        due, arriving = {}, {}
        for i, name in enumerate(names):
            future = self.due[i, self.step_no :].copy()
            if future.size:
                future[0] += self.held[i]  # held by a show: due as soon as it lets them go
            total = float(future.sum())
            if total > 0:
                future *= float(self.dwell_at[i]) / total  # exactly those present
            due[name] = per_minute(future, np.arange(future.size) * self.dt)
            # Those walking there, by when they would arrive at free walking speed.
            people = np.concatenate([self.n_nodes_arr[:, i], self.n_cells_arr[:, i]])
            eta = np.concatenate([self.phi0_nodes[:, i], self.phi0_cells[:, i]])
            arriving[name] = per_minute(people[people > 0], eta[people > 0])
        posted: dict[tuple[str, str], int] = {}
        for key, (node, count) in self.posted.items():
            pool = self.plan.actions[key].pool  # type: ignore[union-attr]
            posted[(pool, node)] = posted.get((pool, node), 0) + count
        return CrowdState(
            at_s=self.step_no * self.dt,
            outside={o: float(self.queue[i].sum()) for i, o in enumerate(self.origins)},
            heading={t: float(walking[i]) for i, t in enumerate(names)},
            present={t: float(self.dwell_at[i]) for i, t in enumerate(names)},
            due=due, leaving=float(walking[self.LEAVE]), posted=posted, arriving=arriving,
        )  # fmt: skip

    def run_until(self, t_s: float) -> None:
        """Set up (the first time) and run the world up to `t_s` (steps due before it)."""
        if not self.set_up:
            self.setup()
        if t_s > self.env.now:
            self.env.run(until=t_s)

    def people(self) -> dict[str, float]:
        """Where everybody is: queued outside, walking or dwelling inside, gone; and how many came."""
        return {
            "queued": float(self.queue.sum()),
            "inside": float(self.n_nodes_arr.sum() + self.n_cells_arr.sum() + self.dwell_at.sum()),
            "departed": self.departed,
            "entered": self.entered,
        }

    def _result(self, wall_s: float) -> SimResult:
        env, s = self.env, self.s
        remaining_ff = float((self.n_nodes_arr * self.phi0_nodes).sum() + (self.n_cells_arr * self.phi0_cells).sum())
        extra_s = self.walk_person_s - self.freeflow_s + remaining_ff
        peak, peak_t, peak_place = self.peak
        kpis = {
            "peak_density_ppm2": peak,
            "minutes_over_4ppm2": self.over[0] / 60,
            "minutes_over_5ppm2": self.over[1] / 60,
            "max_metering_queue": self.max_meter_queue,
            "mean_extra_walk_min": extra_s / max(self.entered_network, 1.0) / 60,
            "staff_utilisation": self.staff_busy_s / self.staff_posted_s if self.staff_posted_s else 0.0,
            "visitors_served": self.served,
            "peak_density_min": peak_t / 60,
            "visitors": self.entered,
            "departed": self.departed,
            "on_site_end": float(self.n_nodes_arr.sum() + self.n_cells_arr.sum() + self.dwell_at.sum()),
            "entry_queue_end": float(self.queue.sum()),
            "max_entry_queue": self.max_entry_queue,
            "metering_wait_person_min": self.meter_wait_person_s / 60,
            "stalled_edge_min": self.stalled_s / 60,
            "turned_away": self.turned_away,
            "warning_crossings": float(self.crossings["warning"]),
            "critical_crossings": float(self.crossings["critical"]),
            "crush_crossings": float(self.crossings["crush"]),
        }
        self.rec.event(peak_t, "peak_density", f"peak density {peak:.2f} /m² at {peak_place} ({s.clock.label(peak_t)})",
                       place=peak_place, density=round(peak, 3))  # fmt: skip
        self.rec.event(env.now, "end", f"{self.entered:,.0f} arrived, {self.served:,.0f} reached a viewing area, "
                       f"{self.departed:,.0f} left")  # fmt: skip
        return SimResult(
            scenario=s.name,
            kind=s.kind,
            seed=self.seed,
            kpis={k: round(float(v), 6) for k, v in kpis.items()},
            series=self.rec.series(),
            events=tuple(sorted(self.rec.events, key=lambda e: e.t_s)),
            stats=RunStats(events=env.events_processed, sim_s=float(env.now), wall_s=wall_s),
            records={"place": np.array(self.place_names), "place_peak_ppm2": self.place_peak.copy()},
        )


def _ratio(x: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0)


def _sum_rows(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Add rows of `values` into an (n, K) array at `rows` (repeated rows add up)."""
    k = values.shape[1]
    flat = (rows[:, None] * k + np.arange(k)[None, :]).ravel()
    return np.bincount(flat, weights=values.ravel(), minlength=n * k).reshape(n, k)


def _default_plan(scenario: CrowdScenario, graph: nx.DiGraph) -> Plan:
    """The scenario's default rule plus its explicit default actions (as `scenarios.defaults` does)."""
    plan = crowd_default_plan(scenario, graph)
    extra = [parse_action(a) for a in scenario.default_plan.actions]
    return Plan.build(plan.meta, [*plan.actions, *extra]) if extra else plan


def simulate(scenario: CrowdScenario, plan: Plan | None = None, *, seed: int | None = None,
             until_s: float | None = None, dt: float | None = None, cell_m: float = MIN_CELL_M,
             kernel: str | None = None) -> SimResult:  # fmt: skip
    """Run a crowd scenario under a plan (the scenario's default plan if none)."""
    if until_s is not None:
        raise ValueError("a crowd run up to a time: not yet")
    return CrowdModel(scenario, plan, seed=seed, dt=dt, cell_m=cell_m, kernel=kernel).run()


def crowd_state(scenario: CrowdScenario, plan: Plan | None, *, seed: int | None = None,
                at_s: float) -> tuple[CrowdState, set[int]]:  # fmt: skip
    """The state of a run of `plan` at `at_s` (before anything due then), and the injects that fire by then: those
    that fired before, and those due at `at_s` whose condition holds on the state then (as the run decides)."""
    model = CrowdModel(scenario, plan, seed=seed)
    model.run_until(at_s)
    fired = set(model.fired) | {i for i, inj in enumerate(scenario.injects) if inj.at_s == at_s and model.fires(inj)}
    return model.state(), fired


__all__ = ["CrowdModel", "CrowdNetwork", "build_network", "crowd_state", "dwell_kernel", "show_hold", "simulate"]


#: The crowd's threshold breaches: the first place to reach the critical density, and the first to reach the
#: crush density (event kind -> (breach kind, threshold)).
BREACH_EVENTS = {"density_critical": ("critical", "critical density"), "density_crush": ("crush", "crush density")}


def breaches(scenario: CrowdScenario, result: SimResult) -> list[Breach]:
    """The thresholds a crowd run crosses, as the simulation logged them."""
    return event_breaches(result, BREACH_EVENTS)


def state_at(scenario: CrowdScenario, plan: Plan, *, seed: int, at_s: float) -> CrowdState:
    """The state of a run of `plan` at `at_s`, with the injects fired by then."""
    state, fired = crowd_state(scenario, plan, seed=seed, at_s=at_s)
    return replace(state, fired=frozenset(fired))
