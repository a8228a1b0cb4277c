"""Crowds: metering rates and stair one-ways from a linear programme, staff posts from CP-SAT.

Two stages, each a model of its own.

**Flows (`flow_problem`, `solve_flows`): a linear programme on a time-expanded network of walking routes.**
Periods of `period_s` (2 minutes by default) from `start_s` to `lookahead_s` past the end of the scenario (so
that the LP does not let everyone still waiting rush in just before its horizon closes; the plan keeps only
what happens before the end). Visitors enter at the
demand's origins, walk to their viewing area (the demand's destination shares, fixed: a plan does not choose
where people want to go), dwell there for the scenario's dwell distribution (held while a show runs and just
before one, as in the simulation), and walk to an exit. Each origin-destination pair has up to
`paths_per_pair` routes (the shortest by free walking time and alternatives at most `path_slack` times
longer), each viewing area `exits_per_area` routes to its nearest exits. A route's flow occupies each of its
walkways in the period it reaches it at free walking speed (the network is time-expanded along the routes,
so a walkway is loaded by the people who entered its routes the right number of periods earlier).

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
  are released, or held while a show holds them; D[d, t+1] = D[d, t] + S - R;
- `add_routes_out`: released people take the routes from d to the exits;
- `add_area_limits`: D at most the target density (`target_ppm2`, below the warning level) times the area,
  and at most the critical density times the area, each beyond that by a slack;
- `add_walkway_capacity`: the people crossing a walkway in a period (both directions, every route) at most
  `utilisation` x capacity x width x period, beyond that by a slack; capacity is the lesser of the
  fundamental diagram's maximum flow and the door's specific flow, scaled on stairs.

Objective (minimised): `weights.over_critical` per person-minute above the critical density (areas) or above
a walkway's capacity, then `weights.over_target` per person-minute above the target density, then
`weights.queue` per person-minute held back (and everyone still held back at the end, for an hour), then
`weights.walk` per person-minute walked. These are fluid proxies for the simulation's KPIs: the model counts
people beyond a density, not everybody in a dense place.

**Stairs.** Paired stairs (two stairs side by side between the same square and the same platform) are made
one-way, the shorter up and the other down (the "zipper" used at Chen Yi Square since 2015): counter-flow on
a stair costs capacity and stalls it at high density, which a one-way stair cannot do. Unpaired stairs stay
two-way or become up-only (people leave the platform by other ways), whichever gives the flow LP the lower
optimum (both are solved). The routes respect the one-ways.

**Staff (`staff_problem`, `solve_staff`): CP-SAT over periods of `staff_period_s` (15 minutes).** A control
(a metered origin, a one-way stair) is in force only where staff are posted within reach on foot (the
simulation's rule). Variables `y[p, n, s]`: pool p holds post n in staff period s;
`cov[r, s]`: requirement r covered.
- `add_pool_sizes`: a pool's posts, of `min_post` staff each (a control needs a team, not one person; the
  rest of the pool stays in reserve at its base), hold at most its size at once;
- `add_availability`: a pool reaches a post only after its call-up delay and the walk from its base (a pool
  on duty from the start may hold any post from the start: it was sent there before the clock started);
- `add_continuity`: a post the pool could not yet have walked to is held only if it has been held since then;
- `add_coverage`: a requirement is covered only if some held post reaches it.
Objective: uncovered requirements (weighted by the people the metering holds back), then posts opened or
closed between periods (moves), then metres walked from the bases.

If some metering cannot be staffed, the flows are solved again with those origins unmetered in those periods;
the result's objective is that second solve's, and its bound is the first solve's (every origin meterable: a
relaxation of the staffed problem), so the gap says what the staff shortage costs.

**Injects the planner is given** (`scenarios.injects.facts`: the loop passes those that have fired) are planned
for as the simulation applies them: a `surge` adds its rate to its origin's forecast arrivals; a `close_exit`
closes its node for its duration (an origin's queue and arrivals move to the nearest origin open then; exit
routes through it take nobody, and an area with no open exit route keeps its people); a `show` change alters
the show holds; a `delay` makes the pool's teams reach posts they would not yet have reached that much later.

Not modelled here (the simulation has them): congestion slowing people down (routes are at free speed and
walkways are limited to a share of their capacity instead), route choice by current walking times (the
routes' loads are a system optimum, not what people choose), random arrivals, closing roads, and exits
closed by the plan itself (a closure the planner is told of is modelled: a route out takes nobody who would
reach a closed node on it while it is closed).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from optimizer.result import PlanResult, SolveParams
from scenarios.crowd import CrowdState, show_change, show_hold, staff_reach, stair_one_ways, stairs
from scenarios.errors import ScenarioError
from scenarios.graphs import PEDESTRIAN_MODES, walkways
from scenarios.injects import delay_of, facts, number
from scenarios.loading import scenario_graph, scenario_hash
from scenarios.pedestrian import Bottleneck, walking_model
from scenarios.plan import AssignStaff, MeterFlow, OneWay, Plan, PlanMeta
from scenarios.schema import CrowdScenario

DWELL_SAMPLES = 100_000
LP_MIN_S = 300.0  # the flow LP's time limit at least (it is solved to optimality or not used)
RELEASE = 1.25  # a meter no longer holding anyone back in the LP lets in this much more than the LP's rate


@dataclass(frozen=True)
class CrowdWeights:
    """Objective weights (per person-minute): safety first, then waiting outside, then walking."""

    over_critical: float = 1000.0
    over_target: float = 100.0
    queue: float = 1.0
    walk: float = 0.01
    leftover_min: float = 60.0  # minutes charged for each person still held back at the end


@dataclass(frozen=True)
class CrowdOptions:
    """The flow and staff models' tunables."""

    period_s: float = 120.0
    staff_period_s: float = 900.0
    target_ppm2: float = 2.5  # viewing areas are kept below this (a margin under the 4 /m² warning level)
    utilisation: float = 0.75  # the share of a walkway's capacity the plan may load (random arrivals, friction)
    stair_utilisation: float = 0.35  # the same on stairs (a queue at a stair's foot fills a small landing fast)
    entrance_utilisation: float = 0.75  # the same for people let in at an entrance
    paths_per_pair: int = 1  # people take the shortest route (as they do in the simulation at free flow)
    path_slack: float = 1.5
    exits_per_area: int = 3
    min_post: int = 20  # EST: staff a post needs to hold a control
    min_meter_per_min: float = 1.0
    lookahead_s: float = 1800.0  # the LP looks this far past the scenario's end (no rush in at the very end)
    single_stairs: str = "best"  # unpaired stairs: "two-way", "up" or "down" only, or "best" of two-way and up
    weights: CrowdWeights = field(default_factory=CrowdWeights)


@dataclass(frozen=True)
class Route:
    """A walking route: its nodes, the physical walkways it uses and the period offset at which it reaches each."""

    nodes: tuple[str, ...]
    walkways: tuple[int, ...]
    offsets: tuple[int, ...]
    lag: int  # periods from entering to arriving
    free_s: float
    at_nodes: tuple[int, ...] = ()  # the period offset at which it reaches each node after the first


@dataclass(frozen=True)
class FlowProblem:
    """Data of the flow LP (pure numbers and routes; no solver objects)."""

    start_s: float
    period_s: float
    n_periods: int
    origins: tuple[str, ...]
    arrivals: np.ndarray  # (origins, periods) expected people
    entrance: np.ndarray  # (origins,) people an entrance lets in per period at most
    split: np.ndarray  # (origins, destinations) destination shares
    destinations: tuple[str, ...]
    area: np.ndarray  # (destinations,) m²
    routes_in: dict[tuple[int, int], tuple[Route, ...]]  # (origin, destination) -> routes
    routes_out: dict[int, tuple[Route, ...]]  # destination -> routes to exits
    walkways: tuple[tuple[str, str], ...]  # physical walkways (u < v)
    capacity: np.ndarray  # people per period a walkway may carry (utilisation included)
    kernel: np.ndarray  # share of a cohort released j periods after arriving
    hold: np.ndarray  # (periods,) dwellers stay for a show
    target_ppm2: float
    critical_ppm2: float
    weights: CrowdWeights
    meterable: np.ndarray  # (origins, periods) bool
    one_ways: tuple[OneWay, ...]
    # Closures the planner knows of (`close_exit` injects): an origin closed in a period lets nobody in, and
    # its queue and arrivals move to `move_to` (the nearest origin open then; -1: none, they wait); an exit
    # route closed in a period takes nobody.
    closed: np.ndarray | None = None  # (origins, periods) bool
    move_to: np.ndarray | None = None  # (origins, periods) int
    out_open: dict[int, np.ndarray] = field(default_factory=dict)  # destination -> (routes, periods) bool
    # Where people are at `start_s` (a re-plan from a `CrowdState`; None: an empty site): waiting outside each
    # origin, walking to each viewing area (by the period they would arrive in), present at each, and when those
    # present are due to leave (per period).
    outside0: np.ndarray | None = None  # (origins,)
    heading0: np.ndarray | None = None  # (destinations, periods)
    present0: np.ndarray | None = None  # (destinations,)
    due0: np.ndarray | None = None  # (destinations, periods)

    def with_meterable(self, meterable: np.ndarray) -> FlowProblem:
        return replace(self, meterable=meterable)


@dataclass(frozen=True)
class FlowSolution:
    status: str
    objective: float | None
    wall_s: float
    entry: np.ndarray | None = None  # g (origins, periods)
    queue: np.ndarray | None = None  # Q (origins, periods + 1)
    dwellers: np.ndarray | None = None  # D (destinations, periods + 1)
    over_capacity: dict[tuple[int, int], float] = field(default_factory=dict)
    over_area: dict[tuple[int, int], float] = field(default_factory=dict)
    binding: tuple[tuple[int, int, float], ...] = ()  # (walkway, period, dual) of the most valuable capacities
    terms: dict[str, float] = field(default_factory=dict)
    leaving: dict[int, np.ndarray] = field(default_factory=dict)  # destination -> (routes out, periods) people


# ------------------------------------------------------------------------------------------ the network


def walking_graph(scenario: CrowdScenario, graph: nx.DiGraph, one_ways: list[OneWay]) -> nx.DiGraph:
    """Directed walkways with their free walking times (stairs slower), without the directions one-ways forbid."""
    fd, stair_factor = walking_model(scenario.walking)
    free = fd.free_speed
    forbidden = {(a.v, a.u) for a in one_ways}
    g = nx.DiGraph()
    for u, v, data in graph.edges(data=True):
        if data["mode"] not in PEDESTRIAN_MODES or data.get("width_m", 0) <= 0 or (u, v) in forbidden:
            continue
        factor = stair_factor if data["mode"] == "stair" else 1.0
        g.add_edge(u, v, time_s=data["length_m"] / (free * factor), width_m=float(data["width_m"]), factor=factor)
    return g


def _route(g: nx.DiGraph, nodes: list[str], walkway_id: dict[frozenset[str], int], period_s: float) -> Route:
    offsets, ways, at_nodes = [], [], []
    clock = 0.0
    for a, b in itertools.pairwise(nodes):
        t = g.edges[a, b]["time_s"]
        ways.append(walkway_id[frozenset((a, b))])
        offsets.append(int((clock + t / 2) // period_s))
        clock += t
        at_nodes.append(int(clock // period_s))
    return Route(tuple(nodes), tuple(ways), tuple(offsets), round(clock / period_s), clock, tuple(at_nodes))


def _routes(g: nx.DiGraph, source: str, target: str, *, k: int, slack: float,
            walkway_id: dict[frozenset[str], int], period_s: float) -> list[Route]:  # fmt: skip
    out: list[Route] = []
    try:
        for nodes in nx.shortest_simple_paths(g, source, target, weight="time_s"):
            route = _route(g, nodes, walkway_id, period_s)
            if out and route.free_s > slack * out[0].free_s:
                break
            out.append(route)
            if len(out) >= k:
                break
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return []
    return out


def flow_problem(scenario: CrowdScenario, *, graph: nx.DiGraph | None = None, options: CrowdOptions = CrowdOptions(),
                 seed: int = 0, leave_out: frozenset[tuple[str, str]] = frozenset(),
                 state: CrowdState | None = None) -> FlowProblem:  # fmt: skip
    """The flow LP's data: forecast arrivals, routes, walkway capacities, the dwell distribution and show holds,
    from an empty site at the start, or from `state` (at its time); `leave_out` names one-way steps (u, v) not
    to make."""
    start_s = 0.0 if state is None else state.at_s
    graph = graph if graph is not None else scenario_graph(scenario)
    one_ways = stair_one_ways(graph)
    if options.single_stairs in ("up", "down"):
        paired = {(a.u, a.v) for a in one_ways} | {(a.v, a.u) for a in one_ways}
        for stair in stairs(graph):
            steps = list(itertools.pairwise(stair.nodes))
            if any(step in paired for step in steps):
                continue
            for u, v in steps:
                a, b = (u, v) if options.single_stairs == "up" else (v, u)
                one_ways.append(OneWay(at_s=0.0, u=a, v=b, note=f"single stair {options.single_stairs} only"))
    one_ways = [a for a in one_ways if (a.u, a.v) not in leave_out]
    g = walking_graph(scenario, graph, one_ways)
    dt = options.period_s
    n = max(1, math.ceil((scenario.clock.horizon_s + options.lookahead_s - start_s) / dt - 1e-9))
    # Physical walkways and their capacity per period: the lesser of the diagram's maximum flow and the door's
    # specific flow, times width, the stair factor, the period and the utilisation allowed.
    fd, _ = walking_model(scenario.walking)
    per_m = min(fd.capacity, Bottleneck(scenario.walking.specific_flow_pmps).capacity(1.0))
    walkways = sorted({tuple(sorted((u, v))) for u, v in g.edges})
    walkway_id = {frozenset(e): i for i, e in enumerate(walkways)}
    capacity = np.zeros(len(walkways))
    for i, (u, v) in enumerate(walkways):
        data = g.edges[u, v] if g.has_edge(u, v) else g.edges[v, u]
        share = options.stair_utilisation if data["factor"] < 1 else options.utilisation
        capacity[i] = per_m * data["width_m"] * data["factor"] * dt * share
    origins = tuple(o for o in scenario.demand.origins if o in g)
    # An entrance lets people in no faster than its walkways out carry them (utilisation included).
    entrance = np.array([sum(per_m * d["width_m"] * d["factor"] for *_, d in g.out_edges(o, data=True))
                         * dt * options.entrance_utilisation for o in origins])  # fmt: skip
    # Forecast arrivals: the demand's expected rate, integrated over each period.
    share = np.array([scenario.demand.origins[o] for o in origins])
    share = share / share.sum() if share.sum() > 0 else share
    samples = start_s + dt * (np.arange(n)[:, None] + (np.arange(12)[None, :] + 0.5) / 12)
    rate = np.array([[scenario.demand.arrivals.rate_at(float(t)) for t in row] for row in samples]).mean(axis=1)
    arrivals = share[:, None] * (rate * dt / 3600)[None, :]
    edges = start_s + dt * np.arange(n + 1)
    known = facts(scenario.injects)
    for inj in known:
        if inj.kind == "surge" and inj.target in origins:
            until = inj.at_s + number(inj.params, "duration_s")
            covered = np.clip(np.minimum(edges[1:], until) - np.maximum(edges[:-1], inj.at_s), 0, None)
            arrivals[origins.index(inj.target)] += number(inj.params, "rate_per_h") / 3600 * covered
    destinations = tuple(d for d in scenario.demand.destinations if d in g)
    if not origins or not destinations:
        raise ScenarioError.single(scenario.name, "demand", "no origin or no destination is on a walkway of the "
                                   "graph: nothing to plan")  # fmt: skip
    dshare = np.array([scenario.demand.destinations[d] for d in destinations])
    area = np.array([float(graph.nodes[d].get("area_m2", 0) or 0) or _junction_area(g, d) for d in destinations])
    # Routes in (origin to viewing area) and out (viewing area to its nearest exits). Each origin's people
    # share themselves over the destinations they can reach (the demand's shares among those).
    routes_in = {}
    split = np.zeros((len(origins), len(destinations)))
    for i, o in enumerate(origins):
        for j, d in enumerate(destinations):
            routes_in[i, j] = tuple(_routes(g, o, d, k=options.paths_per_pair, slack=options.path_slack,
                                            walkway_id=walkway_id, period_s=dt))  # fmt: skip
            split[i, j] = dshare[j] if routes_in[i, j] else 0.0
        if split[i].sum() > 0:
            split[i] /= split[i].sum()
    mids = start_s + (np.arange(n) + 0.5) * dt
    shut = _closures(known, mids)  # node -> (periods,) bool
    exits = [x for x in scenario.exits if x in g and not shut.get(x, np.zeros(n, dtype=bool)).all()]
    routes_out, out_open = {}, {}
    for j, d in enumerate(destinations):
        times = nx.single_source_dijkstra_path_length(g, d, weight="time_s")
        ranked = sorted((x for x in exits if x in times), key=lambda x: times[x])
        # The nearest exits, and as many more as are closed for a while (their people go on to the next).
        near = ranked[: options.exits_per_area + sum(x in shut for x in ranked[: options.exits_per_area])]
        found = [r for x in near for r in _routes(g, d, x, k=1, slack=1.0, walkway_id=walkway_id, period_s=dt)]
        routes_out[j] = tuple(found)
        if any(node in shut for r in found for node in r.nodes[1:]):
            out_open[j] = np.array([_route_open(r, shut, n) for r in found]).reshape(len(found), n)
    # Origins closed: nobody comes in there; the queue and the arrivals go to the nearest origin open then.
    closed = np.array([shut.get(o, np.zeros(n, dtype=bool)) for o in origins]).reshape(len(origins), n)
    move_to = np.full((len(origins), n), -1, dtype=np.int64)
    undirected = g.to_undirected(as_view=True)
    for i in np.flatnonzero(closed.any(axis=1)):
        times = nx.single_source_dijkstra_path_length(undirected, origins[i], weight="time_s")
        ranked = sorted((k for k, o in enumerate(origins) if k != i and o in times), key=lambda k: times[origins[k]])
        for t in np.flatnonzero(closed[i]):
            move_to[i, t] = next((k for k in ranked if not closed[k, t]), -1)
    # Dwell: the share of a cohort released j periods after it arrives (a fixed sample of the distribution).
    draws = np.asarray(scenario.dwell.sample(np.random.default_rng(seed), DWELL_SAMPLES), dtype=float)
    kernel = np.bincount(np.minimum((draws // dt).astype(np.int64), n), minlength=n + 1).astype(float)
    kernel = kernel[: n + 1] / kernel.sum()
    # Show holds at each period's middle (the plan changes no show; the organiser's changes it knows of do).
    step = dt / 2
    changes = tuple(show_change(inj) for inj in known if inj.kind == "show")
    grid = show_hold(scenario, Plan(meta=PlanMeta(scenario=scenario.name), actions=changes),
                     math.ceil(mids[-1] / step) + 1, step)  # fmt: skip
    hold = grid[np.round(mids / step).astype(np.int64)]
    th = scenario.thresholds
    outside0 = heading0 = present0 = due0 = None
    if state is not None:
        outside0 = np.array([state.outside.get(o, 0.0) for o in origins])
        present0 = np.array([state.present.get(d, 0.0) for d in destinations])
        due0 = np.array([_per_period(state.due.get(d, ()), n, dt) for d in destinations]).reshape(-1, n)
        heading0 = np.array([_per_period(state.arriving.get(d) or (state.heading.get(d, 0.0),), n, dt)
                             for d in destinations]).reshape(-1, n)  # fmt: skip
    return FlowProblem(
        start_s=start_s, period_s=dt, n_periods=n, origins=origins, arrivals=arrivals, entrance=entrance, split=split,
        destinations=destinations, area=area, routes_in=routes_in, routes_out=routes_out,
        walkways=tuple(walkways), capacity=capacity, kernel=kernel, hold=hold,
        target_ppm2=min(options.target_ppm2, th.warning_ppm2), critical_ppm2=th.critical_ppm2,
        weights=options.weights, meterable=np.ones((len(origins), n), dtype=bool), one_ways=tuple(one_ways),
        closed=closed, move_to=move_to, out_open=out_open, outside0=outside0, heading0=heading0, present0=present0,
        due0=due0,
    )  # fmt: skip


def _per_period(per_minute: tuple[float, ...], n: int, period_s: float) -> np.ndarray:
    """People per minute from the start, gathered into the LP's periods (the last takes any later)."""
    out = np.zeros(n)
    np.add.at(out, np.minimum(n - 1, (np.arange(len(per_minute)) * 60 // period_s).astype(np.int64)), per_minute)
    return out


def _route_open(route: Route, shut: dict[str, np.ndarray], n: int) -> np.ndarray:
    """For each period people could set off on a route, whether every node on it is open when they get there
    (a closed node takes nobody in: the simulation's rule)."""
    out = np.ones(n, dtype=bool)
    for node, ahead in zip(route.nodes[1:], route.at_nodes, strict=True):
        if node in shut:
            closed = shut[node]
            out &= ~closed[np.minimum(np.arange(n) + ahead, n - 1)]
    return out


def _closures(known: list[Any], mids: np.ndarray) -> dict[str, np.ndarray]:
    """Per node closed by a `close_exit` the planner knows of: whether it is closed at each period's middle."""
    out: dict[str, np.ndarray] = {}
    for inj in known:
        if inj.kind == "close_exit" and inj.target:
            until = inj.at_s + number(inj.params, "duration_s", math.inf)
            shut = (mids >= inj.at_s) & (mids < until)
            out[inj.target] = out[inj.target] | shut if inj.target in out else shut
    return out


def _junction_area(g: nx.DiGraph, node: str) -> float:
    widths = [*sorted((d["width_m"] for *_, d in g.in_edges(node, data=True)), reverse=True), 1.0, 1.0]
    return max(1.0, widths[0] * widths[1])


# ------------------------------------------------------------------------------------------ the flow LP


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
        self.over_capacity: dict[tuple[int, int], Any] = {}
        self.capacity_rows: dict[tuple[int, int], Any] = {}

    def add_queues(self) -> None:
        # Q[o, t+1] = Q[o, t] + arrivals[o, t] - g[o, t] - moved out + moved in; nobody waits outside at the
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
        for o in range(len(p.origins)):
            s.Add(self.Q[o][0] == (float(p.outside0[o]) if p.outside0 is not None else 0.0))
            reaches = p.split[o].sum() > 0
            for t in range(T):
                ct = s.Constraint(float(p.arrivals[o, t]), float(p.arrivals[o, t]))  # Q' - Q + g + out - in = a
                ct.SetCoefficient(self.Q[o][t + 1], 1.0)
                ct.SetCoefficient(self.Q[o][t], -1.0)
                ct.SetCoefficient(self.g[o][t], 1.0)
                if (o, t) in moved:
                    ct.SetCoefficient(moved[o, t], 1.0)
                    s.Add(self.Q[o][t + 1] == 0)
                for var in into[o, t]:
                    ct.SetCoefficient(var, -1.0)
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


def solve_flows(problem: FlowProblem, *, time_limit_s: float = 30.0) -> FlowSolution:
    """Build and solve the flow LP; the entry plan per origin and period, queues, and what binds."""
    started = time.perf_counter()
    m = _Flows(problem)
    m.add_queues()
    m.add_routes_in()
    m.add_dwell()
    m.add_routes_out()
    m.add_area_limits()
    m.add_walkway_capacity()
    m.set_objective()
    m.solver.SetTimeLimit(int(time_limit_s * 1000))
    code = m.solver.Solve()
    names = {pywraplp.Solver.OPTIMAL: "OPTIMAL", pywraplp.Solver.FEASIBLE: "FEASIBLE",
             pywraplp.Solver.INFEASIBLE: "INFEASIBLE", pywraplp.Solver.UNBOUNDED: "UNBOUNDED",
             pywraplp.Solver.ABNORMAL: "ABNORMAL", pywraplp.Solver.NOT_SOLVED: "NOT_SOLVED"}  # fmt: skip
    status = names.get(code, str(code))
    wall = time.perf_counter() - started
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return FlowSolution(status, None, wall)
    T = problem.n_periods
    val = np.vectorize(lambda v: v.solution_value(), otypes=[float])
    entry = val(np.array(m.g, dtype=object)) if m.g else np.zeros((0, T))
    queue = val(np.array(m.Q, dtype=object)) if m.Q else np.zeros((0, T + 1))
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
        "over_critical_person_min": minutes * (sum(over_capacity.values()) + sum(
            m.over_critical[d][t].solution_value() for d in range(len(problem.destinations)) for t in range(T))),
        "over_target_person_min": minutes * sum(over_area.values()),
        "queue_person_min": minutes * float(queue[:, 1:].sum()),
        "held_at_end": float(queue[:, -1].sum()),
        "let_in": float(entry.sum()),
    }  # fmt: skip
    leaving = {d: val(np.array(rows, dtype=object)).reshape(len(rows), T) for d, rows in m.h.items()}
    return FlowSolution(status, m.solver.Objective().Value(), time.perf_counter() - started, entry=entry,
                        queue=queue, dwellers=dwellers, over_capacity=over_capacity,
                        over_area=over_area, binding=tuple(duals[:10]), terms=terms, leaving=leaving)  # fmt: skip


# ------------------------------------------------------------------------------------------ staff posts


@dataclass(frozen=True)
class StaffProblem:
    """Where controls need staff, when, and who can get there."""

    period_s: float
    n_periods: int
    pools: tuple[str, ...]
    size: tuple[int, ...]
    posts: tuple[str, ...]  # candidate posts: nodes that reach some requirement
    ready: np.ndarray  # (pools, posts) seconds from the start until the pool can hold the post
    walk_m: np.ndarray  # (pools, posts) metres from the pool's base
    requirements: tuple[str, ...]  # nodes a control acts at
    need: np.ndarray  # (requirements, periods) weight (people held back, or 1 for a stair) when needed, else 0
    reach: tuple[frozenset[int], ...]  # for each requirement, the posts that reach it
    min_post: int
    start_s: float
    on_duty: tuple[bool, ...] = ()  # pools with no call-up delay: at any post from the start
    callup: tuple[float, ...] = ()  # each pool's call-up delay, seconds (from `start_s` at the earliest)
    walk_s: np.ndarray | None = None  # (pools, posts) seconds on foot from the pool's base
    delays: tuple[tuple[float, str | None, float], ...] = ()  # (at_s, pool, seconds) of `delay` injects known

    def __post_init__(self) -> None:
        if not self.on_duty:
            object.__setattr__(self, "on_duty", (False,) * len(self.pools))
        if not self.callup:
            object.__setattr__(self, "callup", (0.0,) * len(self.pools))


@dataclass(frozen=True)
class StaffSolution:
    status: str
    objective: float | None
    bound: float | None
    wall_s: float
    x: np.ndarray | None = None  # (pools, posts, periods) staff posted
    covered: np.ndarray | None = None  # (requirements, periods) bool


def staff_problem(scenario: CrowdScenario, graph: nx.DiGraph, *, need: dict[str, np.ndarray], period_s: float,
                  n_periods: int, min_post: int, start_s: float = 0.0,
                  posted: dict[tuple[str, str], int] | None = None) -> StaffProblem:  # fmt: skip
    """Candidate posts (within reach of a requirement on foot) and when each pool can reach them.

    Re-planned at `start_s` > 0, a pool holds the posts it is at (`posted`, from the state) from the start and
    reaches the others from its base, leaving no earlier than `start_s` (and its call-up)."""
    walk = walkways(graph)
    speed = walking_model(scenario.walking)[0].free_speed
    requirements = tuple(r for r in need if r in walk)
    near: dict[str, dict[str, float]] = {
        r: staff_reach(walk, r) for r in requirements
    }  # fmt: skip
    posts = tuple(sorted({n for d in near.values() for n in d}))
    index = {n: i for i, n in enumerate(posts)}
    pools = tuple(p for p, team in scenario.staff.items() if team.count >= min_post and team.base in walk)
    ready = np.full((len(pools), len(posts)), np.inf)
    walk_m = np.full((len(pools), len(posts)), np.inf)
    delays = tuple((inj.at_s, inj.target, delay_of(inj)) for inj in facts(scenario.injects) if inj.kind == "delay")
    leave = [max(scenario.staff[p].callup_delay_s, start_s) for p in pools]  # the earliest each can set off
    for i, name in enumerate(pools):
        team = scenario.staff[name]
        dist = nx.single_source_dijkstra_path_length(walk, team.base, weight="length_m")
        for j, n in enumerate(posts):
            if n in dist:
                walk_m[i, j] = dist[n]
                # A delay reaches the teams not yet at their posts when it comes (as in the simulation).
                ready[i, j] = _delayed(leave[i] + dist[n] / speed, name, delays)
            if start_s > 0 and (posted or {}).get((name, n), 0) > 0:
                ready[i, j] = start_s  # there already
    return StaffProblem(
        period_s=period_s, n_periods=n_periods, pools=pools, size=tuple(scenario.staff[p].count for p in pools),
        posts=posts, ready=ready, walk_m=walk_m, requirements=requirements,
        need=np.array([need[r] for r in requirements]).reshape(len(requirements), n_periods),
        reach=tuple(frozenset(index[n] for n in near[r]) for r in requirements), min_post=min_post, start_s=start_s,
        on_duty=tuple(scenario.staff[p].callup_delay_s <= 0 and not any(pool == p and at <= start_s
                                                                        for at, pool, _ in delays) for p in pools),
        callup=tuple(float(x) for x in leave), walk_s=walk_m / speed, delays=delays,
    )  # fmt: skip


def _delayed(arrive_s: float, pool: str, delays: tuple[tuple[float, str | None, float], ...]) -> float:
    """When a team of `pool` due at `arrive_s` arrives, after the delays that come before it has arrived (or as
    it arrives: the simulation counts those too)."""
    for at_s, target, late in sorted(delays, key=lambda d: d[0]):
        if target == pool and at_s <= arrive_s:
            arrive_s += late
    return arrive_s


def add_pool_sizes(model: cp_model.CpModel, y: dict, p: StaffProblem) -> None:
    # A pool's posts (of `min_post` staff each) hold at most its size at once, counting a post from when its
    # team leaves the base (as many periods ahead as its walk takes; a pool on duty at the start is there).
    for i, size in enumerate(p.size):
        walk = [max(0.0, float(p.ready[i, j]) - p.callup[i]) if np.isfinite(p.ready[i, j]) else 0.0
                for j in range(len(p.posts))]  # fmt: skip
        for s in range(p.n_periods):
            busy = []
            for j in range(len(p.posts)):
                ahead = math.ceil(walk[j] / p.period_s - 1e-9)
                window = [y[i, j, s + d] for d in range(ahead + 1) if (i, j, s + d) in y]
                if len(window) == 1:
                    busy.append(window[0])
                elif window:
                    either = model.NewBoolVar("")
                    model.AddMaxEquality(either, window)
                    busy.append(either)
            model.Add(p.min_post * sum(busy) <= size)


def add_availability(p: StaffProblem) -> list[tuple[int, int, int]]:
    # A pool holds a post only from the period after its call-up delay and walk are over (so no variable
    # exists for the periods before); a pool on duty from the start holds any post from the start (it was
    # sent there before the clock started).
    out = []
    for i in range(len(p.pools)):
        for j in range(len(p.posts)):
            for s in range(p.n_periods):
                at = p.start_s + s * p.period_s
                if p.ready[i, j] <= at + 1e-9 or (p.on_duty[i] and p.start_s <= 0 and np.isfinite(p.ready[i, j])):
                    out.append((i, j, s))
    return out


def add_continuity(model: cp_model.CpModel, y: dict, p: StaffProblem) -> None:
    # A post a team could not yet have walked to is held only by a team that has held it since the start.
    for (i, j, s), var in y.items():
        if s > 0 and p.ready[i, j] > p.start_s + s * p.period_s + 1e-9:
            model.AddImplication(var, y[i, j, s - 1])


def add_coverage(model: cp_model.CpModel, y: dict, cov: dict, p: StaffProblem) -> None:
    # A requirement is covered in a period only if some held post reaches it.
    for (r, s), var in cov.items():
        model.AddBoolOr([y[i, j, s] for i in range(len(p.pools)) for j in p.reach[r] if (i, j, s) in y] +
                        [var.Not()])  # fmt: skip


def solve_staff(p: StaffProblem, *, time_limit_s: float = 10.0, workers: int = 2, seed: int = 0) -> StaffSolution:
    """Post the pools so that every control is staffed when it is needed, with few moves and short walks."""
    started = time.perf_counter()
    model = cp_model.CpModel()
    keys = add_availability(p)
    y = {k: model.NewBoolVar(f"y{k}") for k in keys}
    cov = {(r, s): model.NewBoolVar(f"c{r},{s}") for r in range(len(p.requirements)) for s in range(p.n_periods)
           if p.need[r, s] > 0}  # fmt: skip
    add_pool_sizes(model, y, p)
    add_continuity(model, y, p)
    add_coverage(model, y, cov, p)
    # Objective: uncovered need (scaled to integers), then posts opened or closed (moves), then metres walked.
    top = max(1.0, float(p.need.max()) if p.need.size else 1.0)
    uncovered = [max(1, round(1000 * p.need[r, s] / top)) * (1 - var) for (r, s), var in cov.items()]
    moves = []
    for (i, j, s), var in y.items():
        prev = y.get((i, j, s - 1))
        if prev is None:
            moves.append(var)
            continue
        change = model.NewBoolVar("")
        model.Add(change >= var - prev)
        model.Add(change >= prev - var)
        moves.append(change)
    walked = [int(p.walk_m[i, j] // 100) * y[i, j, s] for (i, j, s) in y]
    model.Minimize(1_000_000 * sum(uncovered) + 1_000 * sum(moves) + sum(walked))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    code = solver.Solve(model)
    status = solver.StatusName(code)
    wall = time.perf_counter() - started
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return StaffSolution(status, None, solver.BestObjectiveBound(), wall)
    xs = np.zeros((len(p.pools), len(p.posts), p.n_periods), dtype=np.int64)
    for (i, j, s), var in y.items():
        xs[i, j, s] = p.min_post * solver.Value(var)
    covered = np.zeros(p.need.shape, dtype=bool)
    for (r, s), var in cov.items():
        covered[r, s] = bool(solver.Value(var))
    return StaffSolution(status, solver.ObjectiveValue(), solver.BestObjectiveBound(), wall, xs, covered)


# ------------------------------------------------------------------------------------------ the plan


def _staff_periods(problem: FlowProblem, t: int, staff_period_s: float, n_staff: int) -> range:
    """The staff periods LP period t overlaps."""
    a = problem.period_s * t
    b = problem.period_s * (t + 1) - 1e-6
    return range(min(n_staff - 1, int(a // staff_period_s)), min(n_staff - 1, int(b // staff_period_s)) + 1)


def _metering_needs(problem: FlowProblem, sol: FlowSolution, staff_period_s: float, n_staff: int,
                    lead: int = 2) -> dict[str, np.ndarray]:  # fmt: skip
    """People held back per origin and staff period, from `lead` staff periods before the LP first holds people
    back there (the team walks from its base first) to the end (the meter stays on: `_meter_actions`)."""
    assert sol.queue is not None
    need: dict[str, np.ndarray] = {}
    for o, name in enumerate(problem.origins):
        held = sol.queue[o, 1:]
        holding = np.flatnonzero((held > 0.5) & problem.meterable[o])
        if not holding.size:
            continue
        weights = np.zeros(n_staff)
        for t in range(int(holding[0]), problem.n_periods):
            for s in _staff_periods(problem, t, staff_period_s, n_staff):
                weights[max(0, s - lead) : s + 1] = np.maximum(weights[max(0, s - lead) : s + 1], max(held[t], 1.0))
        need[name] = weights
    return need


def _meter_actions(problem: FlowProblem, sol: FlowSolution, options: CrowdOptions) -> list[MeterFlow]:
    """Metering where the LP holds people back: its entry rate, per run of periods with rates within 15% of each
    other, at the run's lowest rate.

    Once an origin is metered it stays metered: where the LP holds nobody back any more, the meter lets in
    `RELEASE` times the LP's rate, so that whoever is still waiting outside (more than forecast, by chance)
    comes in gradually and not all at once into the entrance."""
    assert sol.entry is not None and sol.queue is not None
    dt, T = problem.period_s, problem.n_periods
    out = []
    for o, name in enumerate(problem.origins):
        holding = (sol.queue[o, 1:] > 0.5) & problem.meterable[o]
        metered = np.cumsum(holding) > 0
        metered &= problem.meterable[o]
        rate = sol.entry[o] / dt * 60  # a meter at an entrance holds only people coming in from outside
        rate = np.minimum(np.where(holding, rate, RELEASE * rate), max(problem.entrance[o], 1.0) / dt * 60)
        t = 0
        while t < T:
            if not metered[t]:
                t += 1
                continue
            start, low = t, rate[t]
            while t + 1 < T and metered[t + 1] and abs(rate[t + 1] - low) <= 0.15 * max(low, 1.0):
                t += 1
                low = min(low, rate[t])
            t += 1
            until = problem.start_s + t * dt
            out.append(MeterFlow(at_s=problem.start_s + start * dt, node=name,
                                 rate_per_min=round(max(low, options.min_meter_per_min), 1),
                                 until_s=until if t < T else None, note="metering (flow LP)"))  # fmt: skip
    return out


def _staff_actions(p: StaffProblem, sol: StaffSolution, scenario: CrowdScenario) -> list[AssignStaff]:
    """One assignment per run of staff periods a pool holds a post."""
    assert sol.x is not None
    callup = p.callup
    out = []
    for i, pool in enumerate(p.pools):
        for j, post in enumerate(p.posts):
            held = sol.x[i, j] > 0
            s = 0
            while s < p.n_periods:
                if not held[s]:
                    s += 1
                    continue
                start = s
                while s < p.n_periods and held[s]:
                    s += 1
                until = p.start_s + s * p.period_s if s < p.n_periods else None
                # The team leaves its base in time to be at its post when the run starts, allowing for the
                # delays that will have held it up by then (one that comes after it has arrived does not).
                begin = p.start_s + start * p.period_s
                walk = float(p.walk_s[i, j]) if p.walk_s is not None else float(p.ready[i, j] - callup[i])
                late = sum(d for at, who, d in p.delays if who == pool and at <= begin)
                leave = max(p.start_s, begin - walk - late)
                out.append(AssignStaff(at_s=leave, pool=pool, to=post, count=p.min_post, until_s=until,
                                       note="holds controls within reach (staff CP-SAT)"))  # fmt: skip
    return out


def _describe(problem: FlowProblem, first: FlowSolution, final: FlowSolution, staff: StaffSolution | None,
              sp: StaffProblem | None, clock: Any) -> list[str]:  # fmt: skip
    lines = []
    t = final.terms
    lines.append(f"flow LP ({problem.n_periods} periods of {problem.period_s / 60:g} min): "
                 f"{t['let_in']:,.0f} let in, {t['held_at_end']:,.0f} still held back at the end, "
                 f"{t['queue_person_min']:,.0f} person-minutes waiting outside, "
                 f"{t['over_critical_person_min']:,.0f} person-minutes beyond critical density or a walkway's "
                 "capacity")  # fmt: skip
    single = [a for a in problem.one_ways if a.note.startswith("single stair")]
    paired = len(problem.one_ways) - len(single)
    if paired:
        lines.append(f"paired stairs one-way, one up and one down ({paired} flights): counter-flow costs a stair "
                     "capacity and can stall it at high density")  # fmt: skip
    if single:
        lines.append(f"single stairs up only ({len(single)} flights): people leave the platform by the paired "
                     "stairs, ramps and ends (the flow LP's optimum is lower than with them two-way)")  # fmt: skip
    assert final.queue is not None
    held = final.queue[:, 1:].max(axis=1)
    for o in np.argsort(-held)[:3]:
        if held[o] > 0.5:
            t_peak = int(np.argmax(final.queue[o, 1:]))
            lines.append(f"meter {problem.origins[o]}: up to {held[o]:,.0f} held back (at "
                         f"{clock.label(problem.start_s + (t_peak + 1) * problem.period_s)})")  # fmt: skip
    for way, t_, dual in final.binding[:3]:
        u, v = problem.walkways[way]
        lines.append(f"binds: walkway {u} - {v} at {clock.label(problem.start_s + t_ * problem.period_s)}; one more "
                     f"person through it in that period is worth {dual:.1f} in the objective")  # fmt: skip
    for d in range(len(problem.destinations)):
        assert final.dwellers is not None
        peak = final.dwellers[d].max() / problem.area[d]
        if peak >= problem.target_ppm2 - 1e-6:
            lines.append(f"binds: viewing area {problem.destinations[d]} full at {problem.target_ppm2:g} /m² "
                         f"({problem.area[d]:,.0f} m²)")  # fmt: skip
    if staff is not None and sp is not None and staff.covered is not None:
        missing = [(sp.requirements[r], s) for r, s in zip(*np.nonzero((sp.need > 0) & ~staff.covered), strict=True)]
        if missing:
            names = sorted({m[0] for m in missing})
            cost = (final.objective or 0) - (first.objective or 0)
            gain = (f"more staff there would lower the objective by up to {cost:,.0f}" if cost > 0.5 else
                    "the flow LP does as well without them")  # fmt: skip
            lines.append(f"staff: {len(missing)} control-periods at {', '.join(names[:4])} cannot be staffed; {gain}")
        else:
            lines.append(f"staff: every control staffed ({int(staff.x.sum() // max(1, sp.min_post))} post-periods "
                         f"of {sp.min_post}; the rest of each pool in reserve at its base)")  # fmt: skip
    return lines


DEFAULT_PARAMS = SolveParams()


def optimise_crowd(scenario: CrowdScenario, *, params: SolveParams = DEFAULT_PARAMS,
                   options: CrowdOptions = CrowdOptions(), state: CrowdState | None = None) -> PlanResult:  # fmt: skip
    """Metering, stair one-ways and staff posts for a crowd scenario, to its end: from its start and an empty
    site, or from `state` (the people where they are at its time, the teams at their posts), for a re-plan.

    Every action of a plan from a state is at or after the state's time (the loop keeps what the plan in
    effect did before: `command.loop`)."""
    start_s = 0.0 if state is None else state.at_s
    started = time.perf_counter()
    graph = scenario_graph(scenario)
    problem = flow_problem(scenario, graph=graph, options=options, seed=params.seed, state=state)
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by="optimizer:crowd",
                    state_time_s=start_s, seed=params.seed,
                    objective_terms={"over_critical": options.weights.over_critical,
                                     "over_target": options.weights.over_target,
                                     "queue": options.weights.queue, "walk": options.weights.walk})  # fmt: skip
    # The flow LP has no usable answer before it is solved, so it gets at least `LP_MIN_S`; the time limit
    # applies as such to the staff model.
    budget = max(LP_MIN_S, params.time_limit_s)
    first = solve_flows(problem, time_limit_s=budget)
    lp_wall = first.wall_s
    paired = {frozenset((a.u, a.v)) for a in problem.one_ways}
    unpaired = any(frozenset(step) not in paired for st in stairs(graph) for step in itertools.pairwise(st.nodes))
    if options.single_stairs == "best" and unpaired:
        # Unpaired stairs: two-way, or up only (down by other ways); the flow LP's optimum decides.
        up = flow_problem(scenario, graph=graph, options=replace(options, single_stairs="up"), seed=params.seed,
                          state=state)  # fmt: skip
        other = solve_flows(up, time_limit_s=budget)
        lp_wall += other.wall_s
        if other.objective is not None and (first.objective is None or other.objective < first.objective):
            problem, first, options = up, other, replace(options, single_stairs="up")
    if first.objective is None:
        return PlanResult(None, first.status, None, None, time.perf_counter() - started, params.seed,
                          diagnosis=f"the flow LP found no solution ({first.status})")  # fmt: skip
    n_staff = max(1, math.ceil(problem.n_periods * problem.period_s / options.staff_period_s))
    need = _metering_needs(problem, first, options.staff_period_s, n_staff)
    # One-way stairs come first: they are staffed from the start, at the weight of the heaviest metering.
    top = max([1.0, *(float(w.max()) for w in need.values())])
    for act in problem.one_ways:
        need[act.u] = np.full(n_staff, top)
    sp = staff_problem(scenario, graph, need=need, period_s=options.staff_period_s, n_periods=n_staff,
                       min_post=options.min_post, start_s=start_s,
                       posted=state.posted if state is not None else None)  # fmt: skip
    staff = solve_staff(sp, time_limit_s=max(1.0, params.time_limit_s), workers=params.workers, seed=params.seed)
    final = first
    if staff.covered is None:
        return PlanResult(None, staff.status, None, None, time.perf_counter() - started, params.seed,
                          diagnosis=f"the staff model found no posting in {params.time_limit_s:g} s "
                                    f"({staff.status}); allow it more time")  # fmt: skip
    index = {r: k for k, r in enumerate(sp.requirements)}
    # One-way stairs no team can hold are left out (the simulation would not enforce them).
    unheld = [a for a in problem.one_ways
              if a.u not in index or not staff.covered[index[a.u]][sp.need[index[a.u]] > 0].all()]  # fmt: skip
    meterable = problem.meterable.copy()
    for o, name in enumerate(problem.origins):
        k = index.get(name)
        for t in range(problem.n_periods):
            periods = _staff_periods(problem, t, options.staff_period_s, n_staff)
            meterable[o, t] = k is not None and all(bool(staff.covered[k, s]) for s in periods)
    if not meterable.all() or unheld:
        if unheld:
            problem = flow_problem(scenario, graph=graph, options=options, seed=params.seed, state=state,
                                   leave_out=frozenset((a.u, a.v) for a in unheld))  # fmt: skip
        problem = problem.with_meterable(meterable)
        final = solve_flows(problem, time_limit_s=budget)
        if final.objective is None:
            return PlanResult(None, final.status, None, first.objective if first.status == "OPTIMAL" else None,
                              time.perf_counter() - started, params.seed,
                              diagnosis=f"the flow LP with the staffable controls only found no solution "
                                        f"({final.status})")  # fmt: skip
    # (A stair's one-way is made from the start, or from the state's time when re-planning.)
    actions: list[Any] = [*(a.model_copy(update={"at_s": max(a.at_s, start_s)}) for a in problem.one_ways),
                          *_meter_actions(problem, final, options)]  # fmt: skip
    if staff.x is not None:
        actions += _staff_actions(sp, staff, scenario)
    # Nothing after the scenario's end (the LP looked past it only so as not to rush people in at the end).
    end = scenario.clock.horizon_s
    actions = [a if getattr(a, "until_s", None) is None or a.until_s < end else a.model_copy(update={"until_s": None})
               for a in actions if a.at_s < end]  # fmt: skip
    rationale = _describe(problem, first, final, staff, sp, scenario.clock)
    if unheld:
        rationale.append(f"one-way stairs left out: no team can hold {', '.join(sorted({a.u for a in unheld}))}")
    details = {f"lp_{k}": float(v) for k, v in final.terms.items()}
    lp_wall += final.wall_s if final is not first else 0.0
    details.update({"periods": float(problem.n_periods), "lp_wall_s": lp_wall, "staff_wall_s": staff.wall_s})
    if staff.objective is not None and staff.bound is not None:
        # The staff model's own figures (its objective counts uncovered need, moves and metres walked).
        details.update({"staff_objective": float(staff.objective), "staff_bound": float(staff.bound)})
        rationale.append(f"staff model {staff.status}: objective {staff.objective:,.0f}, bound {staff.bound:,.0f}")
    status = "OPTIMAL" if final.status == "OPTIMAL" and staff.status == "OPTIMAL" else (
        "FEASIBLE" if final.objective is not None else final.status)  # fmt: skip
    # The first LP (every origin meterable) bounds the staffed one from below, if it was solved to optimality.
    bound = first.objective if first.status == "OPTIMAL" and final.status == "OPTIMAL" and not unheld else None
    result = PlanResult(None, status, final.objective, bound, time.perf_counter() - started, params.seed,
                        tuple(rationale), details=details)  # fmt: skip
    note = "; ".join(rationale[:2])
    plan = Plan.build(meta.model_copy(update={"note": note, "solver": result.stats()}), actions)
    return replace(result, plan=plan)


__all__ = [
    "CrowdOptions", "CrowdWeights", "FlowProblem", "FlowSolution", "StaffProblem", "StaffSolution", "flow_problem",
    "optimise_crowd", "solve_flows", "solve_staff", "staff_problem",
]  # fmt: skip
