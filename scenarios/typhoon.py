"""Domain rules of a typhoon scenario: the hazard in force, ferry suspensions, crossing points, the default plan.

Shared by the simulation (what happens) and the optimiser (what to do), so that both see the same storm, the
same suspensions and the same city:

- `hazard_timeline(scenario, known_at_s=...)`: the wind and warning timeline in force, i.e. the scenario's own
  revised by the `forecast` injects announced so far. A revision never changes the past: it applies from
  `max(inject.at_s, params.from_s)` on.
- `suspension_windows(timeline, ferry, until_s=..., scale=...)`: when a ferry line is suspended: from the first
  moment the wind reaches `suspend_wind_force` or the warning reaches the line's level until `resume_delay_s`
  after conditions last fall below both (a relapse inside the delay keeps the line suspended). Warnings are levels
  of the scenario's scale (`hazard.warning_scale`: China's typhoon colours, Hong Kong's signals, the US NWS
  products, or the scenario's own; `scenarios.schema.WARNING_SCALES`) and compare by their place on it; the
  line's level is its `suspend_warning`, or the scale's `ferries_stop`. A level of `none` means warnings alone
  never stop the line.
- `TyphoonGeometry`: e-bike ride times on each bank (roads only: e-bikes are not allowed in tunnels or on
  ferries), tunnel lengths from the graph's tunnel edges, and the crossing points riders can queue at:
  one per pier, and one per tunnel direction (the tunnel's holding point on the entry side, or the entry
  portal if it has none).
- `default_plan` (rule `first_tunnel`): what police did (the record, in the scenario's header): for each ferry
  suspension of the forecast known at the start, clear one lane of each escorted tunnel (`escorts.tunnels`, or
  the scenario's first) in each direction riders are sent; send each rider origin to its quickest escorted
  crossing point for the window; split the escort teams over those directions in proportion to the riders
  expected, each team leading a batch every `escorts.batch_interval_s` (back to back if shorter than a cycle),
  teams on the same direction staggered evenly. Rule `none` is the do-nothing plan.
- `check_plan`: what makes a plan impossible for this scenario.

Inject format (kind `forecast`): `params` may hold `wind_force`, `warning` (a level of the scenario's scale),
`from_s` (default: the inject's time) and `until_s` (default: the end of time); the given fields replace the
timeline's over `[from_s, until_s)`, the others keep their forecast values. A forecast inject with a
`condition` revises the timeline only if the simulation finds the condition true at the inject's time.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import networkx as nx

from scenarios.checks import typhoon_checks
from scenarios.errors import Problem, ScenarioError
from scenarios.graphs import EdgeData, scenario_graph
from scenarios.injects import parse_condition
from scenarios.kinds import KindSpec, Kpi, SpliceRules, WhatIfField
from scenarios.plan import ClearLane, DirectRiders, EscortBatch, Plan, PlanMeta
from scenarios.schema import (
    CHINA_TYPHOON,
    NO_WARNING,
    FerryLine,
    HazardPoint,
    TyphoonScenario,
    WarningScale,
    scenario_hash,
)

FORECAST_INJECT = "forecast"
DEFAULT_RULES = ("first_tunnel", "nearest", "none")  # `nearest` (the schema's default) means `first_tunnel`
Direction = Literal["ab", "ba"]  # through a tunnel: `ab` from its first portal to its second
DIRECTIONS: tuple[Direction, ...] = ("ab", "ba")
RIDE_MODES = frozenset({"road", "walk"})
CALM = HazardPoint(at_s=0.0, wind_force=0, warning=NO_WARNING)

Window = tuple[float, float]


# ------------------------------------------------------------------------------------------ hazard


def conditions_at(timeline: Sequence[HazardPoint], t_s: float) -> HazardPoint:
    """The hazard point in force at `t_s` (calm before the first point)."""
    i = bisect.bisect_right([p.at_s for p in timeline], t_s) - 1
    return timeline[i] if i >= 0 else CALM


def revise_timeline(timeline: Sequence[HazardPoint], *, from_s: float, until_s: float = math.inf,
                    wind_force: int | None = None, warning: str | None = None) -> tuple[HazardPoint, ...]:  # fmt: skip
    """The timeline with wind and/or warning replaced over `[from_s, until_s)`."""
    times = sorted({0.0, *(p.at_s for p in timeline), from_s, *([until_s] if math.isfinite(until_s) else [])})
    out: list[HazardPoint] = []
    for t in times:
        now = conditions_at(timeline, t)
        if from_s <= t < until_s:
            now = HazardPoint(at_s=t, wind_force=now.wind_force if wind_force is None else wind_force,
                              warning=now.warning if warning is None else warning)  # fmt: skip
        if not out or (out[-1].wind_force, out[-1].warning) != (now.wind_force, now.warning):
            out.append(HazardPoint(at_s=t, wind_force=now.wind_force, warning=now.warning))
    return tuple(out)


def forecast_revisions(scenario: TyphoonScenario) -> list[tuple[int, float, dict[str, Any]]]:
    """The `forecast` injects as `(index, at_s, revision keyword arguments)`, in time order; bad params are
    errors."""
    out = []
    for i, inj in enumerate(scenario.injects):
        if inj.kind != FORECAST_INJECT:
            continue
        where = f"injects[{i}].params"
        p = dict(inj.params)
        unknown = set(p) - {"wind_force", "warning", "from_s", "until_s"}
        if unknown:
            raise ScenarioError.single(scenario.name, f"{where}.{sorted(unknown)[0]}", "unknown forecast field")
        wind = p.get("wind_force")
        if wind is not None and (isinstance(wind, bool) or not isinstance(wind, int | float) or not 0 <= wind <= 17):
            raise ScenarioError.single(scenario.name, f"{where}.wind_force", f"{wind!r} is not a force 0-17")
        warning = p.get("warning")
        if isinstance(warning, int) and not isinstance(warning, bool):
            warning = str(warning)  # Hong Kong's signal 8, written as a number
        if warning is not None:
            try:
                scenario.hazard.scale.rank(str(warning), where="warning")
            except ValueError as exc:
                reason = str(exc).removeprefix("warning: ")
                raise ScenarioError.single(scenario.name, f"{where}.warning", reason) from None
        from_s = max(inj.at_s, float(p.get("from_s", inj.at_s)))
        until_s = float(p.get("until_s", math.inf))
        out.append((i, inj.at_s, {"from_s": from_s, "until_s": until_s, "warning": warning,
                               "wind_force": None if wind is None else int(wind)}))  # fmt: skip
    return sorted(out, key=lambda r: (r[1], r[0]))


def hazard_timeline(scenario: TyphoonScenario, *, known_at_s: float = math.inf,
                    fired: Collection[int] | None = None) -> tuple[HazardPoint, ...]:  # fmt: skip
    """The wind and warning timeline in force once the forecast injects up to `known_at_s` are announced.

    An inject with a condition counts only if its index is in `fired` (the simulation says which fired).
    """
    timeline = tuple(scenario.hazard.timeline)
    for index, at_s, revision in forecast_revisions(scenario):
        conditional = parse_condition(scenario.injects[index].condition) is not None
        if at_s <= known_at_s and (not conditional or (fired is not None and index in fired)):
            timeline = revise_timeline(timeline, **revision)
    return timeline


def stop_level(ferry: FerryLine, scale: WarningScale = CHINA_TYPHOON) -> str:
    """The warning level from which this ferry line stops: its own `suspend_warning`, or the scale's
    `ferries_stop` (a scenario's schema makes sure one of them is given)."""
    level = ferry.suspend_warning if ferry.suspend_warning is not None else scale.ferries_stop
    if level is None:
        raise ValueError(f"suspend_warning: the {scale.name} scale says no level at which ferries stop; "
                         "give the line's")
    return level


def adverse(point: HazardPoint, ferry: FerryLine, scale: WarningScale = CHINA_TYPHOON) -> bool:
    """Whether these conditions stop this ferry line: the wind at its force, or a warning at or above its level of
    the scale (a line whose level is the lowest, `none`, never stops for a warning alone)."""
    if point.wind_force >= ferry.suspend_wind_force:
        return True
    stop = scale.rank(stop_level(ferry, scale), where="suspend_warning")
    return stop > 0 and scale.rank(point.warning) >= stop


def suspension_windows(timeline: Sequence[HazardPoint], ferry: FerryLine, *, until_s: float,
                       scale: WarningScale = CHINA_TYPHOON) -> tuple[Window, ...]:  # fmt: skip
    """The `[start, end)` windows in which the line is suspended, clipped to `until_s` (warnings on `scale`)."""
    windows: list[Window] = []
    start: float | None = None
    calm_since: float | None = None
    for point in timeline:
        if point.at_s >= until_s:
            break
        if adverse(point, ferry, scale):
            if start is not None and calm_since is not None and point.at_s >= calm_since + ferry.resume_delay_s:
                windows.append((start, calm_since + ferry.resume_delay_s))  # resumed before this relapse
                start = None
            if start is None:
                start = point.at_s
            calm_since = None
        elif start is not None and calm_since is None:
            calm_since = point.at_s
    if start is not None:
        end = until_s if calm_since is None else min(calm_since + ferry.resume_delay_s, until_s)
        windows.append((start, end))
    return tuple((a, b) for a, b in windows if b > a)


def ferry_windows(scenario: TyphoonScenario,
                  timeline: Sequence[HazardPoint] | None = None) -> dict[str, tuple[Window, ...]]:  # fmt: skip
    """Each ferry line's suspension windows within the horizon (under the full timeline unless one is given)."""
    timeline = hazard_timeline(scenario) if timeline is None else timeline
    return {name: suspension_windows(timeline, line, until_s=scenario.clock.horizon_s, scale=scenario.hazard.scale)
            for name, line in scenario.ferries.items()}  # fmt: skip


def union(windows: Iterable[Window]) -> tuple[Window, ...]:
    """Merge overlapping or touching windows."""
    out: list[list[float]] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def inside(windows: Sequence[Window], t_s: float) -> bool:
    """Whether `t_s` falls in one of these (sorted, disjoint) `[start, end)` windows."""
    i = bisect.bisect_right([w[0] for w in windows], t_s) - 1
    return i >= 0 and t_s < windows[i][1]


def team_names(scenario: TyphoonScenario) -> list[str]:
    """The escort teams' names, `escort_1` … `escort_N`, as plans refer to them."""
    return [f"escort_{k}" for k in range(1, scenario.escorts.count + 1)]


# ------------------------------------------------------------------------------------------ geometry


@dataclass(frozen=True)
class CrossingPoint:
    """Where riders queue to cross: a pier (any ferry line leaving it) or a tunnel direction's gathering point."""

    key: str  # `pier:<node>` or `escort:<tunnel>:<direction>`
    kind: str  # `pier` or `escort`
    node: str
    tunnel: str | None = None
    direction: str | None = None
    far_node: str | None = None  # the exit portal of an escort point


@dataclass(frozen=True)
class TyphoonGeometry:
    """What a typhoon scenario needs from its graph, computed once."""

    scenario: TyphoonScenario
    graph: nx.DiGraph

    @cached_property
    def transit_speed_mps(self) -> float:
        """A batch moves at the slower of the escort and the e-bikes."""
        return min(self.scenario.escorts.escort_speed_mps, self.scenario.riders.ebike_speed_mps)

    @cached_property
    def places(self) -> list[str]:
        s = self.scenario
        nodes = [n for f in s.riders.flows for n in (f.origin, f.destination)]
        nodes += [p for line in s.ferries.values() for p in line.piers]
        for t in s.tunnels.values():
            nodes += [*t.portals, *t.holding_points]
        return list(dict.fromkeys(nodes))

    @cached_property
    def ride_s(self) -> dict[str, dict[str, float]]:
        """Seconds by e-bike between the places that matter, on roads only (`inf` across the river)."""
        speed = self.scenario.riders.ebike_speed_mps

        def weight(_u: str, _v: str, data: EdgeData) -> float | None:
            return data["length_m"] / speed if data["mode"] in RIDE_MODES else None

        out = {}
        for a in self.places:
            dist = nx.single_source_dijkstra_path_length(self.graph, a, weight=weight)
            out[a] = {b: float(dist.get(b, math.inf)) for b in self.places}
        return out

    def ends(self, tunnel: str, direction: str) -> tuple[str, str]:
        """Entry and exit portal of a tunnel direction (`ab`: from the first portal to the second)."""
        a, b = self.scenario.tunnels[tunnel].portals
        return (a, b) if direction == "ab" else (b, a)

    @cached_property
    def tunnel_length_m(self) -> dict[tuple[str, str], float]:
        """Metres through each tunnel direction, along the graph's tunnel edges."""

        def weight(_u: str, _v: str, data: EdgeData) -> float | None:
            return data["length_m"] if data["mode"] == "tunnel" else None

        out: dict[tuple[str, str], float] = {}
        for name in self.scenario.tunnels:
            for d in DIRECTIONS:
                entry, exit_ = self.ends(name, d)
                try:
                    out[(name, d)] = float(nx.dijkstra_path_length(self.graph, entry, exit_, weight=weight))
                except nx.NetworkXNoPath:
                    reason = f"no tunnel edge leads from {entry!r} to {exit_!r}"
                    raise ScenarioError.single(self.scenario.name, f"tunnels.{name}.portals", reason) from None
        return out

    def transit_s(self, tunnel: str, direction: str) -> float:
        return self.tunnel_length_m[(tunnel, direction)] / self.transit_speed_mps

    def cycle_s(self, tunnel: str, direction: str) -> float:
        """One escort team's cycle: set-up, transit, return."""
        e = self.scenario.escorts
        return e.setup_s + self.transit_s(tunnel, direction) + e.return_s

    @cached_property
    def points(self) -> list[CrossingPoint]:
        """Every crossing point: piers first (in ferry order), then each tunnel's `ab` and `ba` points."""
        out = [CrossingPoint(f"pier:{p}", "pier", p) for p in dict.fromkeys(
            p for line in self.scenario.ferries.values() for p in line.piers)]  # fmt: skip
        for name, tunnel in self.scenario.tunnels.items():
            for d in DIRECTIONS:
                entry, exit_ = self.ends(name, d)
                same_side = [h for h in tunnel.holding_points if math.isfinite(self.ride_s[h][entry])]
                node = min(same_side, key=lambda h: (self.ride_s[h][entry], h)) if same_side else entry
                out.append(CrossingPoint(f"escort:{name}:{d}", "escort", node, name, d, exit_))
        return out

    @cached_property
    def point_index(self) -> dict[str, int]:
        return {p.key: i for i, p in enumerate(self.points)}

    @cached_property
    def points_at(self) -> dict[str, list[int]]:
        """Crossing points by node (a node may gather riders for more than one tunnel)."""
        out: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(self.points):
            out[p.node].append(i)
        return dict(out)

    @cached_property
    def pier_lines(self) -> dict[str, list[tuple[str, str]]]:
        """Ferry lines leaving each pier: `(line, far pier)`."""
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for name, line in self.scenario.ferries.items():
            a, b = line.piers
            out[a].append((name, b))
            out[b].append((name, a))
        return dict(out)

    def route_s(self, origin: str, destination: str, point: int) -> float:
        """Seconds from `origin` to `destination` through a crossing point, waiting aside (`inf` if impossible)."""
        p = self.points[point]
        ride = self.ride_s[origin][p.node]
        if p.kind == "pier":
            beyond = min((self.scenario.ferries[line].crossing_s + self.ride_s[far][destination]
                          for line, far in self.pier_lines[p.node]), default=math.inf)  # fmt: skip
        else:
            assert p.tunnel is not None and p.direction is not None and p.far_node is not None
            beyond = self.transit_s(p.tunnel, p.direction) + self.ride_s[p.far_node][destination]
        return ride + beyond

    @cached_property
    def flow_points(self) -> list[list[int]]:
        """For each rider flow, the crossing points that can take it across, quickest route first."""
        out = []
        for f in self.scenario.riders.flows:
            times = [(self.route_s(f.origin, f.destination, i), i) for i in range(len(self.points))]
            out.append([i for t, i in sorted(times) if math.isfinite(t)])
        return out

    def flows_through(self, point: int) -> list[int]:
        """The rider flows that can cross at this point."""
        return [k for k, pts in enumerate(self.flow_points) if point in pts]


# ------------------------------------------------------------------------------------------ plan checks


def clear_intervals(plan: Plan, tunnel: str, direction: str) -> tuple[Window, ...]:
    """When at least one lane of this tunnel direction is cleared (merged windows)."""
    return union((a.at_s, a.until_s) for a in plan.of_type(ClearLane)
                 if a.tunnel == tunnel and a.direction == direction and a.until_s > a.at_s)  # fmt: skip


def check_plan(plan: Plan, scenario: TyphoonScenario, geometry: TyphoonGeometry | None = None, *,
               file: str = "plan") -> list[Problem]:  # fmt: skip
    """Problems that make a plan impossible for this scenario (unknown tunnels or teams, too many lanes, …)."""
    geo = geometry or TyphoonGeometry(scenario, scenario_graph(scenario))
    problems = []
    teams = set(team_names(scenario))
    origins = {f.origin for f in scenario.riders.flows}
    cleared: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for i, act in enumerate(plan.actions):
        where = f"actions[{i}]"
        if isinstance(act, ClearLane | EscortBatch) and act.tunnel not in scenario.tunnels:
            problems.append(Problem(file, f"{where}.tunnel", f"no tunnel {act.tunnel!r} in the scenario"))
            continue
        if isinstance(act, ClearLane):
            if act.until_s <= act.at_s:
                problems.append(Problem(file, f"{where}.until_s", f"{act.until_s:g} is not after at_s {act.at_s:g}"))
            elif act.until_s - act.at_s < scenario.lanes.min_clear_s:
                problems.append(Problem(file, f"{where}.until_s", f"clears for {act.until_s - act.at_s:g} s; lanes "
                                        f"stay cleared at least {scenario.lanes.min_clear_s:g} s"))  # fmt: skip
            cleared[(act.tunnel, act.direction)] += [(act.at_s, act.lanes), (act.until_s, -act.lanes)]
        elif isinstance(act, EscortBatch):
            if act.team not in teams:
                problems.append(Problem(file, f"{where}.team", f"no escort team {act.team!r} "
                                        f"(teams are escort_1 … escort_{scenario.escorts.count})"))  # fmt: skip
            if act.max_riders > scenario.escorts.batch_size:
                problems.append(Problem(file, f"{where}.max_riders", f"{act.max_riders} is more than the batch size "
                                        f"{scenario.escorts.batch_size}"))  # fmt: skip
        elif isinstance(act, DirectRiders):
            if act.origin not in origins:
                problems.append(Problem(file, f"{where}.origin", f"{act.origin!r} is not the origin of a rider flow"))
            if act.to not in geo.points_at:
                problems.append(Problem(file, f"{where}.to", f"{act.to!r} is not a pier or a tunnel crossing point"))
            elif act.origin in geo.ride_s and not math.isfinite(geo.ride_s[act.origin][act.to]):
                problems.append(Problem(file, f"{where}.to", f"{act.to!r} is across the river from {act.origin!r}"))
        else:
            problems.append(Problem(file, f"{where}.type", f"{act.type} does not apply to a typhoon scenario"))
    for (tunnel, direction), steps in sorted(cleared.items()):
        lanes, most = 0, scenario.tunnels[tunnel].lanes_per_direction
        for _t, n in sorted(steps, key=lambda s: (s[0], s[1])):
            lanes += n
            if lanes > most:
                problems.append(Problem(file, "actions", f"clears {lanes} lanes of {tunnel} {direction}, "
                                        f"which has {most}"))  # fmt: skip
                break
    return problems


# ------------------------------------------------------------------------------------------ default plan


def split_teams(count: int, weights: dict[Any, float]) -> dict[Any, int]:
    """Whole teams in proportion to `weights`, each key at least one while there are enough (largest remainder)."""
    keys = list(weights)
    if not keys or count <= 0:
        return dict.fromkeys(keys, 0)
    out = dict.fromkeys(keys, 1 if count >= len(keys) else 0)
    rest = count - sum(out.values())
    total = sum(weights.values())
    raw = {k: rest * (weights[k] / total if total > 0 else 1 / len(keys)) for k in keys}
    for k in keys:
        out[k] += math.floor(raw[k])
    left = count - sum(out.values())
    for k in sorted(keys, key=lambda k: (math.floor(raw[k]) - raw[k], keys.index(k)))[:left]:
        out[k] += 1
    return out


def batch_times(geo: TyphoonGeometry, tunnel: str, direction: str, window: Window, teams: int, *,
                interval_s: float = 0.0) -> list[list[float]]:  # fmt: skip
    """For each of `teams` teams on this direction: batch start times (`at_s`) in the window, one every
    `interval_s` (never less than a cycle: 0 is back to back), the teams staggered by a 1/teams interval, each
    batch boarding after the changeover and out of the tunnel by the end."""
    s = geo.scenario
    setup, transit = s.escorts.setup_s, geo.transit_s(tunnel, direction)
    every = max(geo.cycle_s(tunnel, direction), interval_s)
    first = max(0.0, window[0] + s.lanes.changeover_s - setup)
    out = []
    for j in range(teams):
        times, at = [], first + j * every / teams
        while at + setup + transit <= window[1] + 1e-9:
            times.append(round(at, 3))
            at += every
        out.append(times)
    return out


def escorted_ways(scenario: TyphoonScenario, geo: TyphoonGeometry) -> dict[str, int]:
    """The default plan's crossing point (index) for each rider origin: the quickest for its first flow among the
    escorted tunnels' (`escorts.tunnels`, or the scenario's first tunnel) points; origins with none are left out."""
    tunnels = scenario.escorts.tunnels or (next(iter(scenario.tunnels)),)
    escorted = {geo.point_index[f"escort:{t}:{d}"] for t in tunnels for d in DIRECTIONS}
    out: dict[str, int] = {}
    for k, f in enumerate(scenario.riders.flows):
        if f.origin not in out:
            found = next((i for i in geo.flow_points[k] if i in escorted), None)
            if found is not None:
                out[f.origin] = found
    return out


def default_plan(scenario: TyphoonScenario, graph: nx.DiGraph | None = None) -> Plan:
    """The scenario's own plan, as police did it: for each ferry suspension of the forecast known at the start,
    one lane cleared of each escorted tunnel (`escorts.tunnels`, or the first tunnel) in each direction riders are
    sent; each rider origin sent to its quickest escorted crossing point; the teams split over those directions
    in proportion to the riders expected, each leading a batch every `escorts.batch_interval_s` (back to back if
    0), teams on one direction staggered evenly."""
    rule = scenario.default_plan.rule
    if rule not in DEFAULT_RULES:
        raise ScenarioError.single(scenario.name, "default_plan.rule",
                                   f"unknown rule {rule!r}; expected one of {list(DEFAULT_RULES)}")  # fmt: skip
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by=f"default:{rule}",
                    seed=scenario.seed, note="")  # fmt: skip
    if rule == "none" or scenario.escorts.count == 0:
        return Plan(meta=meta.model_copy(update={"note": "no lane cleared: riders wait for the ferries"}))
    geo = TyphoonGeometry(scenario, graph if graph is not None else scenario_graph(scenario))
    horizon = scenario.clock.horizon_s
    known = hazard_timeline(scenario, known_at_s=0.0)
    suspended = union(w for ws in ferry_windows(scenario, known).values() for w in ws)
    sent = escorted_ways(scenario, geo)
    ways = sorted(set(sent.values()))
    interval = scenario.escorts.batch_interval_s
    actions: list[Any] = []
    names = team_names(scenario)
    for start, end in suspended:
        end = min(horizon, max(end, start + scenario.lanes.min_clear_s))
        expected = {i: sum(f.arrivals.expected_count(end, start) for f in scenario.riders.flows
                           if sent.get(f.origin) == i) for i in ways}  # fmt: skip
        teams = split_teams(len(names), expected)
        free = iter(names)
        for point in ways:
            p = geo.points[point]
            assert p.tunnel is not None
            tunnel, d = p.tunnel, next(x for x in DIRECTIONS if x == p.direction)
            if not teams[point]:
                continue
            actions.append(ClearLane(at_s=start, tunnel=tunnel, direction=d, lanes=1, until_s=end))
            for times in batch_times(geo, tunnel, d, (start, end), teams[point], interval_s=interval):
                team = next(free)
                actions += [EscortBatch(at_s=t, tunnel=tunnel, direction=d, team=team,
                                        max_riders=scenario.escorts.batch_size) for t in times]  # fmt: skip
            for origin, i in sent.items():
                if i == point:
                    actions.append(DirectRiders(at_s=start, origin=origin, to=p.node, share=1.0, until_s=end))
    used = ", ".join(geo.points[i].key.split(":", 1)[1].replace(":", " ") for i in ways) or "none"
    every = f"a batch every {interval / 60:g} min per team" if interval > 0 else "escorts back to back"
    note = (f"one lane cleared for each ferry suspension at {used}; {every}; riders sent to their quickest "
            f"escorted crossing point")  # fmt: skip
    return Plan.build(meta.model_copy(update={"note": note}), actions)


# ------------------------------------------------------------------------------------------ state


@dataclass(frozen=True)
class EscortAt:
    """Where an escort team is in its cycle at a re-plan: the last batch it started on orders dated before the
    re-plan (a splice keeps those orders), through which way, when it started its set-up, boarded and is next free
    (set-up + transit + return after its start, whether or not riders boarded), and the riders it led (0 while it
    is still in its set-up at the re-plan)."""

    team: str
    tunnel: str
    direction: str
    start_s: float
    board_s: float
    exit_s: float  # the batch out of the tunnel: the lane must stay cleared until then
    free_s: float
    riders: int = 0

    @property
    def way(self) -> tuple[str, str]:
        return (self.tunnel, self.direction)


@dataclass(frozen=True)
class TyphoonState:
    """What is true at `at_s`, the moment a re-plan starts from: riders waiting per origin, vehicles queued per
    way (tunnel, direction), the ways whose lane is cleared then (past their minimum: no changeover to pay), the
    escort teams' places in their cycles (`escorts`: each team's last batch started on the orders a splice keeps;
    teams with none are free and nowhere in particular), and the injects that had fired by then
    (`scenarios.state.ReplanState`). The default is the scenario's start."""

    waiting: dict[str, int] = field(default_factory=dict)
    queued: dict[tuple[str, str], int] = field(default_factory=dict)
    cleared: frozenset[tuple[str, str]] = frozenset()
    at_s: float = 0.0
    fired: frozenset[int] = frozenset()
    escorts: tuple[EscortAt, ...] = ()

    @property
    def under_way(self) -> tuple[EscortAt, ...]:
        """The batches started before `at_s` and not yet out of the tunnel (in set-up, boarding or in transit)."""
        return tuple(e for e in self.escorts if e.exit_s > self.at_s)

    def escort(self, team: str) -> EscortAt | None:
        """Team `team`'s place in its cycle, or None if it has led no batch on the orders kept."""
        return next((e for e in self.escorts if e.team == team), None)

    @classmethod
    def read(cls, series: Mapping[str, tuple[Sequence[float], Sequence[float]]], t_s: float,
             cleared: Iterable[tuple[str, str]] = (), fired: Iterable[int] = (),
             escorts: Iterable[EscortAt] = ()) -> TyphoonState:  # fmt: skip
        """The state at `t_s` from a simulation's series (`riders_waiting:AREA`, `vehicle_queue:TUNNEL:DIR`; the
        last sample at or before `t_s`), with the ways whose lane is cleared then, the injects fired by then and
        the escort teams' places in their cycles."""

        def at(name: str) -> int:
            times, values = series[name]
            k = bisect.bisect_right(times, t_s) - 1
            return round(values[k]) if k >= 0 else 0

        waiting = {name.split(":", 1)[1]: at(name) for name in series if name.startswith("riders_waiting:")}
        queued: dict[tuple[str, str], int] = {}
        for name in series:
            if name.startswith("vehicle_queue:"):
                _, tunnel, direction = name.split(":")
                queued[(tunnel, direction)] = at(name)
        return cls(waiting=waiting, queued=queued, cleared=frozenset(cleared), at_s=float(t_s),
                   fired=frozenset(fired), escorts=tuple(sorted(escorts, key=lambda e: e.team)))  # fmt: skip


# ------------------------------------------------------------------------------------------ the kind


def _min_clear(scenario: TyphoonScenario, action: Any, done: Plan, at_s: float) -> float:
    """A lane clearing cut short by a re-plan at `at_s` still lasts its minimum time, and until the batches its
    plan `done` started through it before `at_s` (their orders are kept) are out of the tunnel: set-up and transit
    after the order's time (a team held up by an earlier batch leaves later, and its batch goes only if the lane
    still lets it through)."""
    if not isinstance(action, ClearLane):
        return 0.0
    hold = scenario.lanes.min_clear_s
    way = (action.tunnel, action.direction)
    led = [b for b in done.of_type(EscortBatch) if (b.tunnel, b.direction) == way and action.at_s <= b.at_s < at_s]
    if led:
        transit = TyphoonGeometry(scenario, scenario_graph(scenario)).transit_s(*way)
        out = max(b.at_s for b in led) + scenario.escorts.setup_s + transit
        hold = max(hold, out - action.at_s)
    return hold


def _whatif(scenario: TyphoonScenario) -> list[WhatIfField]:
    """The wind timeline (force at each point), the escort teams, and the objective's weights."""
    out = [WhatIfField(key=f"wind_{i}", path=f"hazard.timeline[{i}].wind_force",
                       en=f"wind force · {scenario.clock.label(p.at_s)}", zh=f"风力 · {scenario.clock.label(p.at_s)}",
                       value=int(p.wind_force), minimum=0, maximum=17)
           for i, p in enumerate(scenario.hazard.timeline)]  # fmt: skip
    out += [WhatIfField(key="teams", path="escorts.count", en="escort teams", zh="护送警组",
                        value=scenario.escorts.count, minimum=None, column=1),
            WhatIfField(key="batch", path="escorts.batch_size", en="batch size", zh="每批人数",
                        value=scenario.escorts.batch_size, minimum=None, step=5, column=1)]  # fmt: skip
    for name in ("rider_wait_per_h", "rider_stranded", "vehicle_delay_per_h"):
        out.append(WhatIfField(key=f"w_{name}", path=f"weights.{name}", en=f"weight · {name}", zh=f"权重 · {name}",
                               value=float(getattr(scenario.weights, name)), type="float", minimum=None, step=0.1,
                               column=1))  # fmt: skip
    return out


KPIS = (
    Kpi(name="rider_mean_wait_min", unit="min", better="lower", headline=True, en="Riders' mean wait",
        zh="骑手平均等待"),
    Kpi(name="rider_p95_wait_min", unit="min", better="lower", en="Riders' 95th-percentile wait",
        zh="骑手等待95分位"),
    Kpi(name="riders_stranded", unit="riders", better="lower", headline=True, en="Riders stranded",
        zh="滞留骑手"),
    Kpi(name="riders_crossed", unit="riders", better="higher", en="Riders who crossed", zh="过江骑手"),
    Kpi(name="vehicle_delay_h", unit="vehicle-hours", better="lower", headline=True, en="Delay to motor traffic",
        zh="机动车延误"),
    Kpi(name="max_vehicle_queue", unit="vehicles", better="lower", en="Longest tunnel queue",
        zh="隧道最长排队"),
    Kpi(name="escort_utilisation", unit="share", better="neither", en="Escort teams busy", zh="护送警组忙碌比例"),
    Kpi(name="ferry_suspended_h", unit="h", better="neither", en="Ferries suspended", zh="轮渡停航时长"),
    Kpi(name="riders", unit="riders", better="neither", en="Riders who needed to cross", zh="需过江骑手"),
    Kpi(name="riders_escorted", unit="riders", better="neither", en="Riders escorted through a tunnel",
        zh="经隧道护送骑手"),
)  # fmt: skip

SPEC = KindSpec(
    name="typhoon",
    title_en="Typhoon",
    title_zh="台风",
    checks=typhoon_checks,
    schema=TyphoonScenario,
    default_plan=default_plan,
    state=TyphoonState,
    kpis=KPIS,
    injects=frozenset({"message", "delay", FORECAST_INJECT}),  # delay: an escort team held back
    splice=SpliceRules(min_hold_s=_min_clear),
    breach_checks={"riders_stranded": lambda s, k: k.get("riders_stranded", 0.0) > 0},
    whatif=_whatif,
    roster_teams=lambda scenario: ["escorts", "traffic"],
    check_plan=lambda plan, scenario, *, file="plan": check_plan(plan, scenario, file=file),
    map_layers=("riders_waiting",),
)
