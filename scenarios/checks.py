"""Checks that catch a planner's mistakes before a run: places the people or vehicles cannot reach, and numbers in
the wrong unit. What `yiwang validate` adds to the schema and the node checks of `scenarios.loading`.

Each finding is one line, `FILE: field.path: reason`, at the field the planner wrote; an error stops `validate`
(exit 2), a warning (`FILE: field.path: warning: reason`) is printed and lets it pass. The checks read the graph a
scenario runs on (its overlay applied) and move as the models do (`scenarios.travel`):

- every kind: a horizon that looks like minutes written as seconds (`horizon_s: 720`);
- mass testing (`mass_testing_checks`): every zone reaches a test site on foot, every site the places people leave
  from, every tester pool a site; every depot a bus bay, and every bay each destination and back by road, one-ways
  honoured; a target or a call-up after the end of the run;
- crowd (`crowd_checks`): every origin reaches each destination and an exit on walkways people can use (a width),
  every destination an exit; a station (or any way out) as a destination is one of the exits; a team called up
  after the end; a density threshold written in the scenario that the walking model cannot reach;
- typhoon (`typhoon_checks`): each tunnel joins its portals both ways, every rider flow has a crossing that joins
  its banks (one end reached from the origin, the destination reached from the other).

A kind names its checks in its spec (`KindSpec.checks`); `check_scenario` runs the shared ones and the kind's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from scenarios.errors import Problem, ScenarioError, key_path
from scenarios.graphs import PEDESTRIAN_MODES, EdgeData, scenario_graph
from scenarios.kinds import spec_of
from scenarios.loading import builtin_scenario_names, load_scenario
from scenarios.pedestrian import walking_model
from scenarios.schema import LEAVING_KINDS
from scenarios.travel import time_matrix

#: A horizon shorter than this is probably minutes written as seconds (a real incident lasts an hour or more).
MINUTES_SUSPECT_S = 3600.0
#: A tester's shift shorter than this is probably minutes written as seconds.
SHIFT_SUSPECT_S = 1800.0


@dataclass(frozen=True)
class Finding:
    """One mistake: where it is, why, and whether it stops validation (an error) or is only worth a look."""

    problem: Problem
    warning: bool = False

    @property
    def line(self) -> Problem:
        """The problem as printed: a warning's reason starts `warning: `."""
        if not self.warning:
            return self.problem
        return Problem(self.problem.file, self.problem.path, f"warning: {self.problem.reason}")

    def __str__(self) -> str:
        return str(self.line)


def error(file: str, path: str, reason: str) -> Finding:
    return Finding(Problem(file, path, reason))


def warning(file: str, path: str, reason: str) -> Finding:
    return Finding(Problem(file, path, reason), warning=True)


def check_scenario(scenario: Any, graph: nx.DiGraph, file: str) -> list[Finding]:
    """The shared checks, then the kind's own (`KindSpec.checks`), errors and warnings in the order found."""
    found = horizon_checks(scenario, file)
    kind_checks = spec_of(scenario.kind).checks
    if kind_checks is not None:
        found += list(kind_checks(scenario, graph, file))
    return found


def load_checked(ref: str, *, overrides: list[str] | None = None) -> tuple[Any, list[Finding]]:
    """Load a scenario as the CLI does (problems naming the file as given, a built-in by its name) and check it:
    the scenario and its warnings, or `ScenarioError` with every finding (warnings marked so) if any is an error."""
    label = None if ref in builtin_scenario_names() else ref
    scenario = load_scenario(ref, overrides=overrides or [], label=label)
    findings = check_scenario(scenario, scenario_graph(scenario), label or f"{ref}.yaml")
    if any(not f.warning for f in findings):
        raise ScenarioError([f.line for f in findings])
    return scenario, findings


def horizon_checks(scenario: Any, file: str) -> list[Finding]:
    """A horizon that looks like minutes written as seconds."""
    h = scenario.clock.horizon_s
    if h < MINUTES_SUSPECT_S:
        minutes = f"{h / 60:g} minute{'' if h == 60 else 's'}"
        return [warning(file, "clock.horizon_s", f"{h:g} s is only {minutes}; if {h:g} minutes were meant, "
                        f"write {h * 60:g}")]  # fmt: skip
    return []


def _late(file: str, path: str, at_s: float, horizon_s: float, what: str, *, hard: bool = True) -> list[Finding]:
    """Something the run's end comes before: an error, or (`hard` False: a what-if that looks at the start of an
    evening may well end before its show) a warning."""
    if at_s >= horizon_s:
        said = f"{at_s:g} s is at or after the end of the run (clock.horizon_s: {horizon_s:g} s): {what}"
        return [error(file, path, said) if hard else warning(file, path, said)]
    return []


def _reach(graph: nx.DiGraph, sources: Iterable[str], targets: Iterable[str], mover: str) -> dict[str, dict[str, bool]]:
    times = time_matrix(graph, sources, targets, mover=mover)  # type: ignore[arg-type]
    return {s: {t: math.isfinite(x) for t, x in row.items()} for s, row in times.items()}


# --------------------------------------------------------------------------------------------- mass testing


def mass_testing_checks(scenario: Any, graph: nx.DiGraph, file: str) -> list[Finding]:
    """Zones to sites on foot, sites to where people leave, pools to sites, the buses' round trips; times."""
    found: list[Finding] = []
    h = scenario.clock.horizon_s
    target = scenario.thresholds.target_finish_s
    if target is not None:
        found += _late(file, "thresholds.target_finish_s", target, h + 1e-9,
                       "the run stops before the target can be met or missed")  # fmt: skip
    for name, pool in scenario.resources.testers.items():
        where = key_path("resources.testers", name)
        found += _late(file, f"{where}.callup_delay_s", pool.callup_delay_s, h, "these testers never arrive")
        shift = pool.shift_s
        if shift < SHIFT_SUSPECT_S:
            found.append(warning(file, f"{where}.shift_s", f"a shift of {shift:g} s is {shift / 60:g} minutes; "
                                 f"if {shift:g} minutes were meant, write {shift * 60:g}"))  # fmt: skip
    sites = [s.node for s in scenario.testing.sites]
    walk = _reach(graph, [z.node for z in scenario.population.zones], sites, "walk")
    for i, zone in enumerate(scenario.population.zones):
        if not any(walk[zone.node].values()):
            found.append(error(file, f"population.zones[{i}].node", f"no walking path from {zone.node!r} to any test "
                               f"site ({', '.join(sites)}): its people would never be tested"))  # fmt: skip
    centres = _reach(graph, [p.centre for p in scenario.resources.testers.values()], sites, "mixed")
    for name, pool in scenario.resources.testers.items():
        if pool.count and not any(centres[pool.centre].values()):
            found.append(error(file, f"{key_path('resources.testers', name)}.centre", f"no way from {pool.centre!r} "
                               "to any test site by road and on foot: these testers never arrive"))  # fmt: skip
    found += _leaving(scenario, graph, file, sites)
    if scenario.resources.buses is not None and scenario.resources.buses.count:
        found += _bus_round_trips(scenario.resources.buses, graph, file)
    return found


def _leaving(scenario: Any, graph: nx.DiGraph, file: str, sites: list[str]) -> list[Finding]:
    """Every site reaches, on foot, a place of each way home people take (a bus bay, the station, a car park)."""
    modes = scenario.population.home_modes
    ways = []
    if modes.bus > 0 and scenario.resources.buses is not None:
        ways.append(("bus bay", list(scenario.resources.buses.bays)))
    if modes.metro > 0 and scenario.metro is not None:
        ways.append(("metro station", [scenario.metro.station]))
    if modes.car > 0:
        ways.append(("car park", list(scenario.population.parking)))
    found = []
    for label, places in ways:
        reach = _reach(graph, sites, places, "walk")
        for i, site in enumerate(sites):
            if not any(reach[site].values()):
                found.append(error(file, f"testing.sites[{i}].node", f"no walking path from {site!r} to any {label} "
                                   f"({', '.join(places)}): people tested there cannot leave that way"))  # fmt: skip
    return found


def _bus_round_trips(buses: Any, graph: nx.DiGraph, file: str) -> list[Finding]:
    """Every depot with buses reaches a bay; every bay reaches each destination and each destination that bay
    again, by road with one-ways honoured (a bus that cannot return strands everyone it would have carried)."""
    found = []
    bays = list(buses.bays)
    depots = [d for d in buses.depots if d.count]
    dests = [d for d, share in buses.destinations.items() if share > 0]
    places = list(dict.fromkeys([*(d.node for d in depots), *bays, *dests]))
    road = _reach(graph, places, places, "drive")
    for i, depot in enumerate(buses.depots):
        if depot.count and not any(road[depot.node][b] for b in bays):
            found.append(error(file, f"resources.buses.depots[{i}].node", f"no road from {depot.node!r} to any bus "
                               f"bay ({', '.join(bays)}): its {depot.count} buses never reach the people"))  # fmt: skip
    for dest in dests:
        where = key_path("resources.buses.destinations", dest)
        for bay in bays:
            if not road[bay][dest]:
                found.append(error(file, where, f"no road from bay {bay!r} to {dest!r}, one-way streets honoured"))
            elif not road[dest][bay]:
                found.append(error(file, where, f"no road from {dest!r} back to bay {bay!r}, one-way streets "
                                   "honoured: buses sent there never come back"))  # fmt: skip
    return found


# --------------------------------------------------------------------------------------------- crowd


def _walkable(_u: str, _v: str, data: EdgeData) -> float | None:
    """Walkways the crowd model moves people on: walk and stair edges with a width."""
    if data["mode"] in PEDESTRIAN_MODES and data.get("width_m", 0.0) > 0:
        return data["length_m"]
    return None


def _crowd_reach(graph: nx.DiGraph, sources: Iterable[str]) -> dict[str, set[str]]:
    return {s: set(nx.single_source_dijkstra_path_length(graph, s, weight=_walkable)) for s in dict.fromkeys(sources)}


def crowd_checks(scenario: Any, graph: nx.DiGraph, file: str) -> list[Finding]:
    """Origins to each destination and an exit, destinations to an exit, on walkways; teams and thresholds."""
    found: list[Finding] = []
    h = scenario.clock.horizon_s
    for name, team in scenario.staff.items():
        found += _late(file, f"{key_path('staff', name)}.callup_delay_s", team.callup_delay_s, h,
                       "this team never arrives")  # fmt: skip
    for i, show in enumerate(scenario.shows):
        found += _late(file, f"shows[{i}].start_s", show.start_s, h, "the show never starts", hard=False)
    release = getattr(scenario.demand, "release", None)
    if release is not None:
        found += _late(file, "demand.release.at_s", release.at_s, h, "nobody is let out before the run ends")
    origins = [o for o, share in scenario.demand.origins.items() if share > 0]
    dests = [d for d, share in scenario.demand.destinations.items() if share > 0]
    exits = list(scenario.exits)
    reach = _crowd_reach(graph, [*origins, *dests])
    for origin in origins:
        where = key_path("demand.origins", origin)
        for dest in dests:
            if dest not in reach[origin]:
                found.append(error(file, where, f"no walkway from {origin!r} to destination {dest!r}"))
        if not reach[origin] & set(exits):
            found.append(error(file, where, f"no walkway from {origin!r} to any exit ({', '.join(exits)})"))
    for dest in dests:
        kind = graph.nodes[dest].get("kind") if dest in graph else None
        if kind in LEAVING_KINDS and dest not in exits:
            found.append(error(file, key_path("demand.destinations", dest), f"{dest!r} is a {kind}, a way out: list "
                               "it in exits for the people heading there to leave there"))  # fmt: skip
        if not reach[dest] & set(exits):
            found.append(error(file, key_path("demand.destinations", dest), f"no walkway from {dest!r} to any exit "
                               f"({', '.join(exits)}): people there cannot leave"))  # fmt: skip
    jam = walking_model(scenario.walking)[0].jam_density
    # Where a standing crowd is pressed (crush.places), it reaches the density the scenario gives the place.
    pressed = max((float(v) for v in (getattr(getattr(scenario, "crush", None), "places", None) or {}).values()),
                  default=jam)  # fmt: skip
    written = scenario.thresholds.model_fields_set if "thresholds" in scenario.model_fields_set else set()
    for level in ("warning_ppm2", "critical_ppm2", "crush_ppm2"):
        value = getattr(scenario.thresholds, level)
        if level in written and value > max(jam, pressed):  # a default the planner did not write is the model's
            diagram = scenario.walking.fundamental_diagram
            found.append(warning(file, f"thresholds.{level}", f"{value:g} /m² is above the walking model's jam "
                                 f"density ({jam:.2f} /m², walking.fundamental_diagram {diagram}): it can never be "
                                 "reached"))  # fmt: skip
    demand = scenario.demand
    for name, station in (getattr(demand, "stations", None) or {}).items():
        # A station holds its capacity, and never more than its area at the walking jam density.
        area = station.area_m2 or demand.holding_m2.get(name, demand.holding_default_m2)
        if station.capacity > jam * area:
            found.append(warning(file, f"{key_path('demand.stations', name)}.capacity", f"{station.capacity:,} people "
                                 f"do not fit in {area:,.0f} m² (at most {jam * area:,.0f} at the jam density, "
                                 f"{jam:.2f} /m²): the station holds that many; give its area_m2"))  # fmt: skip
    return found


# --------------------------------------------------------------------------------------------- typhoon

RIDE_MODES = frozenset({"road", "walk"})  # how riders reach a crossing (as `scenarios.typhoon` rides them)


def _ride(_u: str, _v: str, data: EdgeData) -> float | None:
    return data["length_m"] if data["mode"] in RIDE_MODES else None


def _tunnel(_u: str, _v: str, data: EdgeData) -> float | None:
    return data["length_m"] if data["mode"] == "tunnel" else None


def typhoon_checks(scenario: Any, graph: nx.DiGraph, file: str) -> list[Finding]:
    """Tunnels join their portals both ways; every rider flow has a crossing joining its banks."""
    found: list[Finding] = []
    for name, tunnel in scenario.tunnels.items():
        a, b = tunnel.portals
        for x, y in ((a, b), (b, a)):
            if y not in nx.single_source_dijkstra_path_length(graph, x, weight=_tunnel):
                found.append(error(file, f"{key_path('tunnels', name)}.portals", f"no tunnel from {x!r} to {y!r}: "
                                   "the tunnel does not join its banks"))  # fmt: skip
    crossings = [tuple(f.piers) for f in scenario.ferries.values()]
    crossings += [tuple(t.portals) for t in scenario.tunnels.values()]
    reach = {s: set(nx.single_source_dijkstra_path_length(graph, s, weight=_ride))
             for s in {*(f.origin for f in scenario.riders.flows), *(e for c in crossings for e in c)}}  # fmt: skip
    for i, flow in enumerate(scenario.riders.flows):
        if not any((p in reach[flow.origin] and flow.destination in reach[q])
                   or (q in reach[flow.origin] and flow.destination in reach[p]) for p, q in crossings):  # fmt: skip
            found.append(error(file, f"riders.flows[{i}]", f"no crossing joins {flow.origin!r} to {flow.destination!r}:"
                               " no ferry or tunnel has one end the riders reach and the other reaching the "
                               "destination"))  # fmt: skip
    return found


#: What a kind's spec names as its checks: (scenario, graph with overlay, file as given) -> findings.
KindChecks = Callable[[Any, nx.DiGraph, str], list[Finding]]
