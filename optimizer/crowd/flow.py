"""The crowd flow LP's data (`flow_problem` -> `FlowProblem`): a time-expanded network of walking routes, from
an empty site at the scenario's start or from a `CrowdState` at its time.

Periods of `lp_period_s` (2 minutes, longer for a large LP) from the start (the state's time) to `lookahead_s` past
the end of the scenario (so that the LP does not let everyone still waiting rush in just before its horizon closes;
the plan keeps only what happens before the end). Visitors enter at the demand's origins, walk to their viewing
area (the demand's destination shares, fixed: a plan does not choose where people want to go), dwell there for
the scenario's dwell distribution (held while a show runs and just before one, as in the simulation), and walk
to an exit. Each origin-destination pair has up to `paths_per_pair` routes (the shortest by free walking time
and alternatives at most `path_slack` times longer), each viewing area `exits_per_area` routes to its nearest
exits. A route's flow occupies each of its walkways in the period it reaches it at free walking speed (the
network is time-expanded along the routes, so a walkway is loaded by the people who entered its routes the
right number of periods earlier).

**Leavers** walk to the nearest exit open when they would reach it, by free walking time on the walkways the
plan leaves open (`exit_choice="nearest"`, the default): the simulation's leavers do (they follow the fastest way
to any open exit, `simulation.crowd.routing`), and nothing in a plan tells them otherwise, so the LP may not
choose their exits for them. In each period only that route of a viewing area's routes out is open
(`out_open`). Spreading them freely over the `exits_per_area` nearest (`exit_choice="free"`) made a plan that
the simulation broke: on the light show the LP sent Huangpu Park's leavers to three exits, the simulation sent
them all back over the 6 m Waibaidu Bridge walkway against the people coming in, and it peaked at 5.2 /m²
(benchmarks/README.md, "The light show's exits").

**Stairs.** Paired stairs (two stairs side by side between the same square and the same platform) are made
one-way, the shorter up and the other down (the "zipper" used at Chen Yi Square since 2015): counter-flow on
a stair costs capacity and stalls it at high density, which a one-way stair cannot do. Unpaired stairs stay
two-way or become up-only (people leave the platform by other ways), whichever gives the flow LP the lower
optimum (both are solved). The routes respect the one-ways.

**Metro stations** (the demand's `stations`): those waiting at a station's exit wait inside it, at most its
capacity; the planner may have trains skip it (`close_station`), and then its arrivals go to its neighbours by the
simulation's rule (equal shares; beyond the area when it has none).

**Injects the planner is given** (`scenarios.injects.facts`: the loop passes those that have fired) are planned
for as the simulation applies them: a `surge` adds its rate to its origin's forecast arrivals; a `close_exit`
closes its node for its duration (an origin's queue and arrivals move to the nearest origin open then; exit
routes through it take nobody, and an area with no open exit route keeps its people); a `close_walkway` or a
`one_way` in force over the whole window planned takes its blocked directions off the walking graph (one that
ends or starts within the window is left to the simulation: the planner may route over it); a `show` change
alters the show holds; a `delay` is the staff model's (`optimizer.crowd.staff`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np

from optimizer.crowd.options import DEFAULT_OPTIONS, CrowdOptions, CrowdWeights
from scenarios.crowd import CrowdState, place_choice, show_change, show_hold, stair_one_ways, stairs
from scenarios.errors import ScenarioError
from scenarios.graphs import PEDESTRIAN_MODES
from scenarios.injects import blocked_ways, facts, in_force, number
from scenarios.loading import scenario_graph
from scenarios.pedestrian import COUNTERFLOW_FRICTION, Bottleneck, walking_model
from scenarios.plan import OneWay, Plan, PlanMeta
from scenarios.schema import CrowdScenario

DWELL_SAMPLES = 100_000
HELD_SAMPLES = 24  # points per period at which the share a show holds the dwellers is read


@dataclass(frozen=True)
class Route:
    """A walking route: its nodes, the physical walkways it uses and the period offset at which it reaches each."""

    nodes: tuple[str, ...]
    walkways: tuple[int, ...]
    offsets: tuple[int, ...]
    lag: int  # periods from entering to arriving
    free_s: float
    at_nodes: tuple[int, ...] = ()  # the period offset at which it reaches each node after the first
    # the way it crosses each walkway: +1 from the walkway's first node to its second (`FlowProblem.walkways`
    # are sorted pairs), -1 the other way
    directions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.directions and self.walkways:  # from its nodes when it has one per walkway and one more
            pairs = list(itertools.pairwise(self.nodes)) if len(self.nodes) == len(self.walkways) + 1 else []
            object.__setattr__(self, "directions", tuple(1 if a < b else -1 for a, b in pairs) or
                               (1,) * len(self.walkways))  # fmt: skip


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
    # route closed in a period takes nobody, and neither does one other than the nearest open then (leavers walk
    # to the nearest open exit: `exit_choice`).
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
    # Where those held back wait: each origin's holding area (m²; the simulation's `holding:<origin>` node, at
    # the same densities as every place), and the jam density that fills it.
    holding_area: np.ndarray | None = None  # (origins,)
    jam_ppm2: float = 5.4
    # Metro stations among the origins (`scenarios.schema.Station`): the people each holds inside at most
    # (inf: not a station), and where its arrivals go while trains skip it (the scenario's rule: its neighbours in
    # equal shares; `ride_on`: the share that rides on beyond the area, when it has no neighbour on the graph).
    stations: tuple[int, ...] = ()
    station_cap: np.ndarray | None = None  # (origins,)
    skip_to: np.ndarray | None = None  # (origins, origins)
    ride_on: np.ndarray | None = None  # (origins,)
    # Where and when the plan may hold dwellers in place past their time (a `HoldArea`): (destinations, periods);
    # None: nowhere.
    holdable: np.ndarray | None = None
    # The share of each period a show holds the dwellers (`hold` is whether it does at the period's middle): a show
    # may end inside a period, and a hold that paces its release starts then (`optimizer.crowd.report`). None: 0.
    held_share: np.ndarray | None = None
    # Counter-flow charged on a walkway in a period: (walkways, periods) bool, where everyone crossing it counts
    # 1 + κ times against its capacity (`κ`: `friction`). The crowd optimiser adds them where a solution crosses a
    # walkway both ways beyond what the friction leaves (`optimizer.crowd.lp.counterflow_cuts`).
    counterflow: np.ndarray | None = None
    friction: float = COUNTERFLOW_FRICTION

    def surges(self) -> np.ndarray:
        """(destinations, periods): where a show's hold has just ended (the first period after it): everyone it
        held who is due goes at once, within the first minutes of the period, unless a hold lets them go at the
        LP's rate (`optimizer.crowd.report._hold_actions`). The LP spreads a period's release over the period. A
        show that holds them in the first half of the first period only (a re-plan as it ends) ends in that one."""
        hold = self.hold.astype(bool)
        ended = ~hold & np.concatenate([[False], hold[:-1]])
        if self.held_share is not None and hold.size and not hold[0] and self.held_share[0] > 0:
            ended[0] = True
        return np.repeat(ended[None, :], len(self.destinations), axis=0)

    def with_meterable(self, meterable: np.ndarray) -> FlowProblem:
        return replace(self, meterable=meterable)

    def with_holdable(self, holdable: np.ndarray) -> FlowProblem:
        return replace(self, holdable=holdable)

    def with_counterflow(self, counterflow: np.ndarray | None) -> FlowProblem:
        return replace(self, counterflow=counterflow)

    def counterflow_of(self, other: FlowProblem) -> np.ndarray | None:
        """`other`'s counter-flow charges on this problem's walkways (by name: one may lack a walkway the other
        has), or None if it has none."""
        if other.counterflow is None:
            return None
        out = np.zeros((len(self.walkways), self.n_periods), dtype=bool)
        index = {w: i for i, w in enumerate(self.walkways)}
        n = min(self.n_periods, other.n_periods)
        for k, way in enumerate(other.walkways):
            if way in index:
                out[index[way], :n] = other.counterflow[k, :n]
        return out


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


def lp_size(scenario: CrowdScenario, graph: nx.DiGraph, period_s: float, *,
            options: CrowdOptions = DEFAULT_OPTIONS) -> float:  # fmt: skip
    """The flow LP's size measure for the whole scenario: its periods (from the start to `lookahead_s` past the
    end) x the graph's walkways x the classes of people (one per viewing area, and the leavers)."""
    periods = max(1, math.ceil((scenario.clock.horizon_s + options.lookahead_s) / period_s - 1e-9))
    return float(periods * _walkway_classes(scenario, graph))


def _walkway_classes(scenario: CrowdScenario, graph: nx.DiGraph) -> int:
    """The graph's walkways (either way counts once) x the classes of people."""
    return len({frozenset(e) for e in graph.edges}) * (len(scenario.demand.destinations) + 1)


def lp_period_s(scenario: CrowdScenario, graph: nx.DiGraph, *, options: CrowdOptions = DEFAULT_OPTIONS) -> float:
    """The flow LP's period: `options.period_s` if set; else the scenario's `plan_period_s` if it has one; else
    `min_period_s`, or the fewest whole minutes more that keep the LP of the whole scenario (`lp_size` from its
    start) at most `max_lp_size`. A function of the scenario alone: the same inputs give the same plan however busy
    the machine is, and a re-plan plans in the periods of the plan it replaces (with fewer of them to go, its LP is
    smaller).

    Coarser periods average a period's flows, so a peak inside one is hidden from the LP; the simulation is the
    judge. On the light show the 6-minute plan (its size at 2 minutes is 415,395) kept every place at 3.2 /m² or
    less at 20 seeds, the 2-minute plan at 2.81, and both with nobody above 4. Re-plans in finer periods than the
    plan they replaced (4 minutes at 19:00) peaked above 4 /m² on 3 of 20 seeds in closed loop, seed 13 at the
    Shiliupu junction (benchmarks/README.md, "The flow LP's period")."""
    if options.period_s is not None:
        return float(options.period_s)
    if scenario.plan_period_s is not None:  # the scenario's own, judged in its simulation
        return float(scenario.plan_period_s)
    span, per_period = scenario.clock.horizon_s + options.lookahead_s, _walkway_classes(scenario, graph)
    period = float(options.min_period_s)
    while max(1, math.ceil(span / period - 1e-9)) * per_period > options.max_lp_size:
        period = 60.0 * (math.floor(period / 60.0 + 1e-9) + 1)
    return period


def flow_problem(scenario: CrowdScenario, *, graph: nx.DiGraph | None = None, options: CrowdOptions = DEFAULT_OPTIONS,
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
    # Walkways closed or one-way by events the planner knows of, in force for the whole window it plans.
    g.remove_edges_from(way for inj in facts(scenario.injects) if _throughout(inj, start_s, scenario.clock.horizon_s)
                        for way in blocked_ways(inj))  # fmt: skip
    dt = lp_period_s(scenario, graph, options=options)
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
    oshare = np.array([scenario.demand.origins[o] for o in origins])
    oshare = oshare / oshare.sum() if oshare.sum() > 0 else oshare
    samples = start_s + dt * (np.arange(n)[:, None] + (np.arange(12)[None, :] + 0.5) / 12)
    rate = np.array([[scenario.demand.arrivals.rate_at(float(t)) for t in row] for row in samples]).mean(axis=1)
    arrivals = oshare[:, None] * (rate * dt / 3600)[None, :]
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
    # Routes in (origin to viewing area) and out (viewing area to the nearest open exit). Each origin's people
    # share themselves over the destinations they can reach (the demand's shares among those, weighed by the
    # walk there where the demand chooses places by nearness: `scenarios.crowd.place_choice`).
    routes_in = {}
    walk_s = np.full((len(origins), len(destinations)), np.inf)
    for i, o in enumerate(origins):
        reach = nx.single_source_dijkstra_path_length(g, o, weight="time_s")
        for j, d in enumerate(destinations):
            routes_in[i, j] = tuple(_routes(g, o, d, k=options.paths_per_pair, slack=options.path_slack,
                                            walkway_id=walkway_id, period_s=dt))  # fmt: skip
            if routes_in[i, j]:
                walk_s[i, j] = reach.get(d, np.inf)
    split = place_choice(dshare, walk_s, scenario.demand.nearness_s)
    split[~np.isfinite(walk_s)] = 0.0
    total = split.sum(axis=1, keepdims=True)
    split = np.divide(split, total, out=np.zeros_like(split), where=total > 0)
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
        open_ = np.array([_route_open(r, shut, n) for r in found], dtype=bool).reshape(len(found), n)
        if options.exit_choice == "nearest":
            found, open_ = _nearest_open(found, open_)
        routes_out[j] = tuple(found)
        if not open_.all():
            out_open[j] = open_
    # Origins closed: nobody comes in there; the queue and the arrivals go to the nearest origin open then.
    closed = np.array([shut.get(o, np.zeros(n, dtype=bool)) for o in origins]).reshape(len(origins), n)
    move_to = np.full((len(origins), n), -1, dtype=np.int64)
    undirected = g.to_undirected(as_view=True)
    for c in np.flatnonzero(closed.any(axis=1)):
        times = nx.single_source_dijkstra_path_length(undirected, origins[c], weight="time_s")
        others = sorted((k for k, o in enumerate(origins) if k != c and o in times), key=lambda k: times[origins[k]])
        for t in np.flatnonzero(closed[c]):
            move_to[c, t] = next((k for k in others if not closed[k, t]), -1)
    # Dwell: the share of a cohort released j periods after it arrives (a fixed sample of the distribution).
    draws = np.asarray(scenario.stay.sample(np.random.default_rng(seed), DWELL_SAMPLES), dtype=float)
    kernel = np.bincount(np.minimum((draws // dt).astype(np.int64), n), minlength=n + 1).astype(float)
    kernel = kernel[: n + 1] / kernel.sum()
    # Show holds at each period's middle (the plan changes no show; the organiser's changes it knows of do).
    step = dt / 2
    changes = tuple(show_change(inj) for inj in known if inj.kind == "show")
    shows = Plan(meta=PlanMeta(scenario=scenario.name), actions=changes)
    grid = show_hold(scenario, shows, math.ceil(mids[-1] / step) + 1, step)
    hold = grid[np.round(mids / step).astype(np.int64)]
    fine = dt / HELD_SAMPLES  # and the share of each period it holds them, from as many points in it
    at = start_s + (np.arange(n * HELD_SAMPLES) + 0.5) * fine
    fine_grid = show_hold(scenario, shows, math.ceil(at[-1] / fine) + 1, fine)
    held_share = fine_grid[np.floor(at / fine).astype(np.int64)].reshape(n, HELD_SAMPLES).mean(axis=1)
    th = scenario.thresholds
    outside0 = heading0 = present0 = due0 = None
    if state is not None:
        outside0 = np.array([state.outside.get(o, 0.0) for o in origins])
        present0 = np.array([state.present.get(d, 0.0) for d in destinations])
        due0 = np.array([_per_period(state.due.get(d, ()), n, dt) for d in destinations]).reshape(-1, n)
        heading0 = np.array([_per_period(state.arriving.get(d) or (state.heading.get(d, 0.0),), n, dt)
                             for d in destinations]).reshape(-1, n)  # fmt: skip
    stations, station_cap, skip_to, ride_on = _stations(scenario, origins)
    return FlowProblem(
        stations=stations, station_cap=station_cap, skip_to=skip_to, ride_on=ride_on,
        start_s=start_s, period_s=dt, n_periods=n, origins=origins, arrivals=arrivals, entrance=entrance, split=split,
        destinations=destinations, area=area, routes_in=routes_in, routes_out=routes_out,
        walkways=tuple(walkways), capacity=capacity, kernel=kernel, hold=hold, held_share=held_share,
        target_ppm2=min(options.target_ppm2, th.warning_ppm2), critical_ppm2=th.critical_ppm2,
        weights=options.weights, meterable=np.ones((len(origins), n), dtype=bool), one_ways=tuple(one_ways),
        closed=closed, move_to=move_to, out_open=out_open, outside0=outside0, heading0=heading0, present0=present0,
        due0=due0, holding_area=np.array([_waiting_area(scenario, o) for o in origins]), jam_ppm2=fd.jam_density,
        holdable=np.array([d not in scenario.exits for d in destinations], dtype=bool)[:, None]
        & _after_shows(hold, dt, options.hold_window_s if options.hold_areas else 0.0,
                       ended=_last_end(grid, step, start_s) - start_s)[None, :],
    )  # fmt: skip


def _last_end(grid: np.ndarray, step: float, before_s: float) -> float:
    """When the last show hold before `before_s` ended (-inf: none), on the show-hold grid of `step` seconds."""
    k = min(int(before_s // step), grid.size - 1) if grid.size else -1
    ends = np.flatnonzero(grid[:k] & ~grid[1 : k + 1]) if k > 0 else np.zeros(0, dtype=np.int64)
    return float((ends[-1] + 1) * step) if ends.size else -np.inf


def _after_shows(hold: np.ndarray, period_s: float, window_s: float, *, ended: float = -np.inf) -> np.ndarray:
    """Per period, whether it starts within `window_s` of the end of a show's hold (when everyone it held is let
    go at once) and no show holds them: when the plan may hold people in place and let them go in waves.
    `ended`: when a hold before the first period ended (seconds from its start; -inf: none)."""
    out = np.zeros(hold.size, dtype=bool)
    for t in range(hold.size):
        if hold[t]:
            ended = -np.inf
            continue
        if t > 0 and hold[t - 1]:
            ended = t * period_s
        out[t] = t * period_s - ended < window_s
    return out


def _waiting_area(scenario: CrowdScenario, origin: str) -> float:
    """Where those waiting at an origin stand (m²): a station's own area, or the origin's holding area (as the
    simulation's `holding:<origin>` node)."""
    station = scenario.demand.stations.get(origin)
    if station is not None and station.area_m2 is not None:
        return station.area_m2
    return scenario.demand.holding_m2.get(origin, scenario.demand.holding_default_m2)


def _stations(scenario: CrowdScenario, origins: tuple[str, ...]) -> tuple[tuple[int, ...], np.ndarray, np.ndarray,
                                                                          np.ndarray]:  # fmt: skip
    """The stations among the origins, their capacities, and where a skipped one's arrivals go (the simulation's
    rule, `simulation.crowd.controls`, with every neighbour's trains still stopping)."""
    n = len(origins)
    cap = np.full(n, np.inf)
    skip_to = np.zeros((n, n))
    ride_on = np.zeros(n)
    found = []
    for i, name in enumerate(origins):
        station = scenario.demand.stations.get(name)
        if station is None:
            continue
        found.append(i)
        cap[i] = float(station.capacity)
        stop = [origins.index(x) for x in station.neighbours if x in origins]
        for j in stop:
            skip_to[i, j] = 1.0 / len(stop)
        ride_on[i] = 0.0 if stop else 1.0
    return tuple(found), cap, skip_to, ride_on


def _per_period(per_minute: tuple[float, ...], n: int, period_s: float) -> np.ndarray:
    """People per minute from the start, gathered into the LP's periods (the last takes any later)."""
    out = np.zeros(n)
    np.add.at(out, np.minimum(n - 1, (np.arange(len(per_minute)) * 60 // period_s).astype(np.int64)), per_minute)
    return out


def _nearest_open(routes: list[Route], open_: np.ndarray) -> tuple[list[Route], np.ndarray]:
    """The simulation's exit choice as the LP's data: leavers set off for the nearest exit open when they would
    reach it (`routes` are ranked nearest first; `open_`, routes x periods, says when each is open), so in each
    period only the first open route takes anybody; routes no period chooses are dropped."""
    chosen = open_ & (np.cumsum(open_, axis=0) == 1)
    keep = chosen.any(axis=1)
    return [r for r, k in zip(routes, keep, strict=True) if k], chosen[keep]


def _route_open(route: Route, shut: dict[str, np.ndarray], n: int) -> np.ndarray:
    """For each period people could set off on a route, whether every node on it is open when they get there
    (a closed node takes nobody in: the simulation's rule)."""
    out = np.ones(n, dtype=bool)
    for node, ahead in zip(route.nodes[1:], route.at_nodes, strict=True):
        if node in shut:
            closed = shut[node]
            out &= ~closed[np.minimum(np.arange(n) + ahead, n - 1)]
    return out


def _throughout(inject: Any, start_s: float, end_s: float) -> bool:
    """Whether an inject is in force from `start_s` (or before) to `end_s` (or after)."""
    at_s, until_s = in_force(inject)
    return at_s <= start_s and until_s >= end_s


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
