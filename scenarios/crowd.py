"""Crowd scenarios: the default plan a commander follows without the optimiser, and plan checks.

The `nearest` rule (the only one so far):
- every staff team is posted at its own base from the start (a team with a call-up delay arrives after it);
- no metering, no closures, no show changes;
- one-way control on stairs only if the scenario's `counterflow_control` is true: where two stairs join the
  same square to the same platform (their lower ends within `STAIR_PAIR_M` of each other, and their upper
  ends too), the shorter stair carries people up and the other one down (the "zipper" at Chen Yi Square in
  2021). With `counterflow_control: false` (the 2014 case) every stair stays two-way.

Pure data: no SimPy here; the simulation applies the plan.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, cast

import networkx as nx
import numpy as np

from scenarios.checks import crowd_checks
from scenarios.errors import Problem, ScenarioError
from scenarios.graphs import PEDESTRIAN_MODES, haversine_m, scenario_graph, walkways
from scenarios.injects import ShowChange, number
from scenarios.kinds import KindSpec, Kpi, SpliceRules, WhatIfField
from scenarios.plan import (
    Action,
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
    PlanMeta,
    RouteVisitors,
)
from scenarios.schema import CrowdScenario, scenario_hash

STAIR_PAIR_M = 80.0
PULL_S = 600.0  # EST: dwellers due to leave this long (× attraction) before a show wait for it
RULES = ("nearest",)
STAFF_REACH_M = 250.0  # EST: a posted team controls the walkways this far (on foot) from its post


def staff_reach(walk: nx.Graph, post: str) -> dict[str, float]:
    """The nodes a team posted at `post` controls, with their walking distance (m): within `STAFF_REACH_M`.

    One rule for both sides: the simulation puts a post's controls into effect only there, and the optimiser
    plans a control only where a post can reach it."""
    reach: dict[str, float] = nx.single_source_dijkstra_path_length(walk, post, cutoff=STAFF_REACH_M, weight="length_m")
    return reach


def place_choice(shares: np.ndarray, walk_s: np.ndarray, nearness_s: float | None) -> np.ndarray:
    """Where each origin's newcomers head: per origin (rows) the share of them bound for each destination
    (columns), from the demand's `shares` and the free-flow walking seconds `walk_s` (origins x destinations).

    One rule for both sides (the simulation's newcomers, the optimiser's split). Without `nearness_s`, every
    origin sends its people to the same `shares`. With it, a destination's share is weighed by
    exp(-t / nearness_s), t the walk to it: a multinomial logit of destination choice with the walking time as the
    cost and the log of the share as the place's attraction (the gravity model's exponential deterrence, Wilson,
    "A statistical theory of spatial distribution models", Transportation Research 1, 1967): people who come in
    by the southern streets mostly watch from the southern places. A destination out of reach (t infinite) gets
    nobody from that origin; an origin that reaches none keeps `shares`.
    """
    shares = np.asarray(shares, dtype=float)
    n = walk_s.shape[0]
    if nearness_s is None:
        return np.tile(shares, (n, 1))
    weight = np.where(np.isfinite(walk_s), shares[None, :] * np.exp(-np.nan_to_num(walk_s, posinf=0.0) / nearness_s),
                      0.0)  # fmt: skip
    total = weight.sum(axis=1, keepdims=True)
    return np.where(total > 0, weight / np.where(total > 0, total, 1.0), shares[None, :])


@dataclass(frozen=True)
class Stair:
    """A chain of stair edges from its lower end to its upper end (landings in between)."""

    nodes: tuple[str, ...]
    length_m: float

    @property
    def lower(self) -> str:
        return self.nodes[0]

    @property
    def upper(self) -> str:
        return self.nodes[-1]


UPPER_KINDS = ("viewing_area", "promenade")


def stairs(graph: nx.DiGraph) -> list[Stair]:
    """The stairs of a graph as chains of stair edges; the upper end is the one nearer the platform on foot
    (a `viewing_area` or `promenade` node)."""
    g = nx.Graph()
    for u, v, data in graph.edges(data=True):
        if data["mode"] == "stair":
            g.add_edge(u, v, length_m=data["length_m"])
    walk = walkways(graph)
    tops = [n for n, k in graph.nodes(data="kind") if k in UPPER_KINDS and n in walk]
    dist = nx.multi_source_dijkstra_path_length(walk, tops, weight="length_m") if tops else {}
    out = []
    for comp in nx.connected_components(g):
        ends = sorted(n for n in comp if g.degree(n) == 1)
        if len(ends) != 2:
            continue  # a loop or a branching stair: no obvious up and down
        a, b = ends
        path = nx.shortest_path(g, a, b, weight="length_m")
        if dist.get(path[0], float("inf")) < dist.get(path[-1], float("inf")):
            path.reverse()
        length = sum(g.edges[x, y]["length_m"] for x, y in itertools.pairwise(path))
        out.append(Stair(tuple(path), length))
    return sorted(out, key=lambda s: s.nodes)


def _near(graph: nx.DiGraph, a: str, b: str) -> float:
    na, nb = graph.nodes[a], graph.nodes[b]
    return haversine_m(na["lon"], na["lat"], nb["lon"], nb["lat"])


def stair_one_ways(graph: nx.DiGraph) -> list[OneWay]:
    """One-way controls for paired stairs: the shorter of two side-by-side stairs up, the other down."""
    found = stairs(graph)
    used: set[int] = set()
    actions = []
    for i, s in enumerate(found):
        if i in used:
            continue
        group = [i] + [
            j for j in range(i + 1, len(found)) if j not in used
            and _near(graph, s.lower, found[j].lower) <= STAIR_PAIR_M
            and _near(graph, s.upper, found[j].upper) <= STAIR_PAIR_M
        ]  # fmt: skip
        if len(group) < 2:
            continue
        used.update(group)
        ordered = sorted(group, key=lambda j: (found[j].length_m, found[j].nodes))
        for rank, j in enumerate(ordered):
            path = found[j].nodes if rank % 2 == 0 else tuple(reversed(found[j].nodes))
            for u, v in itertools.pairwise(path):
                actions.append(OneWay(at_s=0.0, u=u, v=v, note="stair one-way (counter-flow control)"))
    return actions


def default_plan(scenario: CrowdScenario, graph: nx.DiGraph | None = None) -> Plan:
    """The scenario's own plan: teams at their bases; stair one-ways only under counter-flow control."""
    if scenario.default_plan.rule not in RULES:
        raise ScenarioError.single(
            scenario.name, "default_plan.rule", f"unknown rule {scenario.default_plan.rule!r}; expected 'nearest'"
        )
    graph = graph if graph is not None else scenario_graph(scenario)
    actions: list[Action] = [
        AssignStaff(at_s=0.0, pool=name, to=team.base, count=team.count, note="posted at its base")
        for name, team in scenario.staff.items()
        if team.count > 0
    ]
    if scenario.counterflow_control:
        actions += stair_one_ways(graph)
    note = "staff at their bases; no metering"
    note += "; paired stairs one-way" if scenario.counterflow_control else "; no counter-flow control"
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by="default:nearest",
                    seed=scenario.seed, note=note)  # fmt: skip
    return Plan.build(meta, actions)


def _walk_edge(graph: nx.DiGraph, u: str, v: str) -> bool:
    return any(graph.has_edge(a, b) and graph.edges[a, b]["mode"] in PEDESTRIAN_MODES for a, b in ((u, v), (v, u)))


def check_plan(plan: Plan, scenario: CrowdScenario, graph: nx.DiGraph, *, file: str = "plan") -> list[Problem]:
    """Problems that make a plan impossible for this crowd scenario (unknown teams, edges, segments)."""
    problems = []
    for i, act in enumerate(plan.actions):
        where = f"actions[{i}]"
        nodes = [getattr(act, f) for f in ("to", "node", "u", "v", "origin") if hasattr(act, f)]
        missing = [n for n in nodes if n not in graph]
        if missing:
            problems.append(Problem(file, where, f"unknown node {missing[0]!r} (not in the city graph)"))
            continue
        if isinstance(act, AssignStaff):
            team = scenario.staff.get(act.pool)
            if team is None:
                problems.append(Problem(file, f"{where}.pool", f"no staff team {act.pool!r} in the scenario"))
            elif act.count > team.count:
                problems.append(
                    Problem(file, f"{where}.count", f"{act.count} exceeds team {act.pool!r} ({team.count})")
                )
        elif isinstance(act, OneWay):
            if not _walk_edge(graph, act.u, act.v):
                problems.append(Problem(file, where, f"no walkway between {act.u!r} and {act.v!r}"))
        elif isinstance(act, CloseRoad):
            has = any(graph.has_edge(a, b) and graph.edges[a, b].get("carriageway_m", 0) > 0
                      for a, b in ((act.u, act.v), (act.v, act.u)))  # fmt: skip
            if not has:
                problems.append(Problem(file, where, f"no road with a carriageway between {act.u!r} and {act.v!r}"))
        elif isinstance(act, ChangeShow):
            if act.segment >= len(scenario.shows):
                problems.append(Problem(file, f"{where}.segment", f"no show segment {act.segment} "
                                        f"(the scenario has {len(scenario.shows)})"))  # fmt: skip
        elif isinstance(act, RouteVisitors | Announce):
            if act.origin not in scenario.demand.origins:
                problems.append(Problem(file, f"{where}.origin", f"{act.origin!r} is not an origin of the demand"))
        elif isinstance(act, CloseStation):
            if act.station not in scenario.demand.stations:
                known = ", ".join(scenario.demand.stations) or "none"
                problems.append(Problem(file, f"{where}.station", f"unknown station {act.station!r} (the scenario's "
                                        f"demand.stations: {known})"))  # fmt: skip
        elif isinstance(act, HoldArea):
            staying = [d for d in scenario.demand.destinations if d not in scenario.exits]
            if act.node not in staying:
                problems.append(Problem(file, f"{where}.node", f"{act.node!r} is not a place people stay at (the "
                                        f"demand's destinations that are not exits: {', '.join(staying) or 'none'})"))
        elif not isinstance(act, MeterFlow | CloseExit):
            problems.append(Problem(file, f"{where}.type", f"{act.type} does not apply to a crowd scenario"))
    problems += _overbooked(plan, scenario, file)
    return problems


def _overbooked(plan: Plan, scenario: CrowdScenario, file: str) -> list[Problem]:
    """A pool split over several posts: at no moment may its posts hold more people than it has."""
    problems = []
    by_pool: dict[str, list[tuple[int, AssignStaff]]] = {}
    for i, act in enumerate(plan.actions):
        if isinstance(act, AssignStaff) and act.pool in scenario.staff:
            by_pool.setdefault(act.pool, []).append((i, act))
    for pool, acts in by_pool.items():
        size = scenario.staff[pool].count
        for i, act in acts:  # the total peaks at some assignment's start
            t = act.at_s
            total = sum(a.count for _, a in acts if a.at_s <= t and (a.until_s is None or a.until_s > t))
            if total > size:
                problems.append(Problem(file, f"actions[{i}].count", f"team {pool!r} has {size}; from "
                                        f"{t:g} s its posts would hold {total}"))  # fmt: skip
                break
    return problems


@dataclass(frozen=True)
class CrowdState:
    """Where the people are at `at_s` (what a re-plan starts from; `simulation.crowd.state_at` reads it off a
    run of the plan in effect).

    `outside`: per origin, people waiting to come in (held back by a meter, a closure or the entrance's own
    width); `heading`: per viewing area, people walking there; `present`: per viewing area, people there
    (dwelling, or held by a show); `due`: per viewing area, of those present, how many are due to leave in
    each minute from `at_s` on (the first minute includes those a show holds); `leaving`: people walking to
    the exits; `posted`: per (pool, node), staff at their posts; `arriving`: per viewing area, of those heading
    there, how many would arrive in each minute at free walking speed (absent: all in the first)."""

    at_s: float
    outside: dict[str, float]
    heading: dict[str, float]
    present: dict[str, float]
    due: dict[str, tuple[float, ...]]
    leaving: float = 0.0
    posted: dict[tuple[str, str], int] = field(default_factory=dict)
    arriving: dict[str, tuple[float, ...]] = field(default_factory=dict)
    fired: frozenset[int] = frozenset()  # the injects fired by `at_s` (`scenarios.state.ReplanState`)

    @property
    def on_site(self) -> float:
        return sum(self.heading.values()) + sum(self.present.values()) + self.leaving


def show_hold(scenario: CrowdScenario, plan: Plan, n_steps: int, dt: float) -> np.ndarray:
    """For each step, whether dwellers whose time is up stay: during a show, or just before one (its pull).

    Show changes: `cancel` ends the segment at the action's time; `shorten` cuts `minutes` off its end (not
    before the action); `pause` stops it for `minutes` from the action's time and moves the rest later (a
    pause before the start delays the whole segment).
    """
    intervals: list[tuple[float, float, float]] = []
    changes: dict[int, list[ChangeShow]] = {}
    for act in plan.of_type(ChangeShow):
        changes.setdefault(act.segment, []).append(act)
    for i, show in enumerate(scenario.shows):
        pieces = [(show.start_s, show.start_s + show.duration_s)]
        for act in changes.get(i, []):
            t, shift = act.at_s, act.minutes * 60
            new = []
            for a, b in pieces:
                if act.change == "cancel":
                    if t > a:
                        new.append((a, min(b, t)))
                elif act.change == "shorten":
                    new.append((a, max(a, b - shift, min(t, b))))
                elif t <= a:
                    new.append((a + shift, b + shift))
                elif t < b:
                    new += [(a, t), (t + shift, b + shift)]
                else:
                    new.append((a, b))
            pieces = [(a, b) for a, b in new if b > a]
        if pieces:
            first = pieces[0][0]
            intervals.append((first - PULL_S * show.attraction, first, show.attraction))
        intervals += [(a, b, show.attraction) for a, b in pieces]
    step_t = np.arange(n_steps + 1) * dt
    hold = np.zeros(n_steps + 1, dtype=bool)
    for a, b, attraction in intervals:
        if attraction > 0:
            hold |= (step_t >= a) & (step_t < b)
    return hold


__all__ = [
    "PULL_S", "RULES", "CrowdState", "Stair", "check_plan", "default_plan", "place_choice", "show_hold",
    "stair_one_ways", "stairs",
]  # fmt: skip


def show_change(inject: Any) -> ChangeShow:
    """A `show` inject as the plan action it acts like: a `ChangeShow` at the inject's time (one rule for the
    simulation, which applies it, and the optimiser, which plans for it once known)."""
    params = inject.params
    change = cast(ShowChange, str(params["change"]))  # checked when the scenario loaded; ChangeShow checks it too
    return ChangeShow(at_s=inject.at_s, segment=int(params["segment"]), change=change,
                      minutes=number(params, "minutes"), note=inject.note or "inject")  # fmt: skip


# ------------------------------------------------------------------------------------------ the kind


def _check(plan: Plan, scenario: CrowdScenario, *, file: str = "plan") -> list[Problem]:
    return check_plan(plan, scenario, scenario_graph(scenario), file=file)


def _whatif(scenario: CrowdScenario) -> list[WhatIfField]:
    """The horizon (a short one keeps the optimiser to seconds), the arrival rate of each period, the dwell, the
    staff teams, whether the default plan has counter-flow control (the optimiser may make stairs one-way either
    way), and the warning and critical densities."""
    clock = scenario.clock
    out = [WhatIfField(key="horizon", path="clock.horizon_s", en="Horizon (min)", zh="模拟时长（分钟）",
                       value=int(clock.horizon_s // 60), scale=60, minimum=10, step=30)]  # fmt: skip
    if scenario.evenings > 1:
        out.append(WhatIfField(key="evenings", path="evenings", en="Evenings", zh="晚数", value=scenario.evenings,
                               minimum=1, maximum=31))  # fmt: skip
    for i, period in enumerate(scenario.demand.arrivals.periods):
        at = clock.label(period.from_s)
        out.append(WhatIfField(key=f"rate_{i}", path=f"demand.arrivals.periods[{i}].rate_per_h",
                               en=f"Arrivals per hour from {at}", zh=f"{at} 起每小时到达人数",
                               value=int(period.rate_per_h), minimum=0, step=5000))  # fmt: skip
    if scenario.dwell is not None and "mean_s" in type(scenario.dwell).model_fields:
        out.append(WhatIfField(key="dwell", path="dwell.mean_s", en="Mean dwell (min)", zh="平均停留时间（分钟）",
                               value=float(scenario.dwell.mean_s) / 60, type="float", scale=60, minimum=1.0,
                               step=5.0))  # fmt: skip
    for team, spec in scenario.staff.items():
        out.append(WhatIfField(key=f"staff_{team}", path=f"staff.{team}.count", en=f"Staff · {team}",
                               zh=f"人员 · {team}", value=int(spec.count), minimum=0, step=50, column=1))  # fmt: skip
    out.append(WhatIfField(key="counterflow", path="counterflow_control", type="bool", column=1,
                           en="Default plan has counter-flow control (one-way stairs)",
                           zh="默认方案实行楼梯单向通行（对向人流管控）",
                           value=bool(scenario.counterflow_control)))  # fmt: skip
    th = scenario.thresholds
    for name, en, zh in (("warning_ppm2", "Warning density (/m²)", "预警密度（人/m²）"),
                         ("critical_ppm2", "Critical density (/m²)", "危险密度（人/m²）")):  # fmt: skip
        out.append(WhatIfField(key=name, path=f"thresholds.{name}", en=en, zh=zh, value=float(getattr(th, name)),
                               type="float", minimum=0.5, maximum=12.0, step=0.5, column=1))  # fmt: skip
    return out


# Watched (`Kpi.watched`): what a safer crowd plan may cost people, said in its warnings when it costs more than
# the default plan does: fewer reaching a viewing place, more told not to come, longer waits to come in, people
# still waiting at the end (issue 18: "people held or not served").
KPIS = (
    Kpi(name="peak_density_ppm2", unit="/m²", better="lower", en="Peak density", zh="峰值密度"),
    Kpi(name="minutes_over_5ppm2", unit="person-minutes", better="lower", headline=True,
        en="Time above 5 /m²", zh="超过每平方米5人的时间"),
    Kpi(name="minutes_over_4ppm2", unit="person-minutes", better="lower", headline=True,
        en="Time above 4 /m²", zh="超过每平方米4人的时间"),
    Kpi(name="max_metering_queue", unit="people", better="lower", en="Largest queue at a meter",
        zh="限流处最大排队人数"),
    Kpi(name="mean_extra_walk_min", unit="min", better="lower", en="Mean extra walking", zh="平均额外步行时间"),
    Kpi(name="staff_utilisation", unit="share", better="higher", en="Staff posted where needed", zh="警力使用率"),
    Kpi(name="visitors_served", unit="people", better="higher", watched=True, en="Visitors who reached a viewing area",
        zh="到达观景区的人数"),
    Kpi(name="peak_density_min", unit="min after start", better="neither", en="When the peak density was",
        zh="峰值密度出现时刻"),
    Kpi(name="visitors", unit="people", better="neither", en="Visitors who entered", zh="进入人数"),
    Kpi(name="departed", unit="people", better="neither", en="Visitors who left", zh="离开人数"),
    Kpi(name="on_site_end", unit="people", better="neither", en="On site at the end", zh="结束时仍在现场人数"),
    Kpi(name="peak_on_site", unit="people", better="neither", en="Most on site at once (the record's boundary)",
        zh="最高瞬时人数（按记录的统计范围）"),
    Kpi(name="peak_on_site_min", unit="min after start", better="neither", en="When the most were on site",
        zh="最高瞬时人数出现时刻"),
    Kpi(name="peak_on_graph", unit="people", better="neither", en="Most on the whole graph at once",
        zh="全路网最高瞬时人数"),
    Kpi(name="entry_queue_end", unit="people", better="lower", watched=True, en="Waiting to enter at the end",
        zh="结束时入口外等候人数"),
    Kpi(name="max_entry_queue", unit="people", better="lower", en="Largest wait to enter", zh="入口外最大等候人数"),
    Kpi(name="metering_wait_person_min", unit="person-minutes", better="lower", en="Time held by meters",
        zh="限流等候时间"),
    Kpi(name="stalled_edge_min", unit="walkway-minutes", better="lower", en="Walkways stalled", zh="通道停滞时长"),
    Kpi(name="turned_away", unit="people", better="lower", en="Turned away", zh="被劝离人数"),
    Kpi(name="warning_crossings", unit="crossings", better="lower", en="Places crossing the warning density",
        zh="超过预警密度次数"),
    Kpi(name="critical_crossings", unit="crossings", better="lower", en="Places crossing the critical density",
        zh="超过危险密度次数"),
    Kpi(name="crush_crossings", unit="crossings", better="lower", en="Places crossing the crush density",
        zh="超过踩踏密度次数"),
    Kpi(name="crushes", unit="crushes", better="lower", headline=True,
        en="Crushes (crush density held for the scenario's time)", zh="踩踏险情次数（挤压密度持续达到设定时长）"),
    Kpi(name="crush_place_min", unit="place-minutes", better="lower", en="Time in a crush", zh="踩踏险情持续时间"),
    Kpi(name="held_off_graph", unit="people", better="lower", en="People held where the model does not look",
        zh="未在路网上的等候人数"),
    Kpi(name="held_peak", unit="people", better="lower", en="Most waiting to come in at once", zh="入口等候区最多人数"),
    Kpi(name="held_p95_wait_min", unit="min", better="lower", watched=True, en="Wait to come in (95th percentile)",
        zh="入场等候时间（95百分位）"),
    Kpi(name="refused_full", unit="people", better="lower", en="Turned away: waiting area full",
        zh="等候区已满被劝离人数"),
    Kpi(name="turned_away_by_control", unit="people", better="lower", watched=True,
        en="Told not to come (announcements)",
        zh="经广播劝阻未前来人数"),
    Kpi(name="diverted", unit="people", better="neither", en="Went to another viewing area (gave up waiting, or "
        "their trains skipped every station near)", zh="转往其他观景区人数"),
    Kpi(name="went_home", unit="people", better="lower", en="Went home after waiting", zh="等候后放弃回家人数"),
    Kpi(name="pushed_on", unit="people", better="lower", en="Pushed on when their patience ran out",
        zh="失去耐心后仍向前挤的人数"),
    Kpi(name="station_skipped", unit="people", better="neither", en="Arrivals whose trains skipped their station",
        zh="列车越站改至邻站人数"),
    Kpi(name="station_held_peak", unit="people", better="lower", en="Most inside the metro stations at once",
        zh="地铁站内最多滞留人数"),
)  # fmt: skip

SPEC = KindSpec(
    name="crowd",
    title_en="Crowd",
    title_zh="大客流",
    checks=crowd_checks,
    schema=CrowdScenario,
    default_plan=default_plan,
    state=CrowdState,
    kpis=KPIS,
    injects=frozenset({"message", "delay", "surge", "close_exit", "show", "close_walkway", "one_way"}),
    # A crowd's staff post, an announcement, a station's closure and a held area are held for a time: controls,
    # ended or carried on by a re-plan.
    splice=SpliceRules(controls=(AssignStaff, Announce, CloseStation, HoldArea)),
    breach_checks={
        "over_critical_density": lambda s, k: k.get("minutes_over_5ppm2", 0.0) > 0,
        "over_warning_density": lambda s, k: k.get("minutes_over_4ppm2", 0.0) > 0,
    },
    whatif=_whatif,
    roster_teams=lambda scenario: list(scenario.staff),
    check_plan=_check,
    map_layers=("density",),
    chart_series=("queue_total", "peak_density_now"),
    review_panels=("controls",),
)
