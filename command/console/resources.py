"""Where each team, bus group and escort team is at a time, what it is doing and until when, read off a plan.

The plan in effect says every move: staff posts (`AssignStaff`: a pool's people at a place from a time until a
time), bus trips (`DispatchBus`: buses leave a bay for a destination at a time) and escorted batches
(`EscortBatch`: a team leads riders through a tunnel from one portal to the other). A bus on its way is placed
along its route by the time it has travelled at the roads' free speeds (the fastest route on the graph); an escort
team is at its start portal while it sets up, then in the tunnel at the escort's speed, then at the far portal.
The map draws these places; the status board lists them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import networkx as nx

from command.console.i18n import t
from command.console.words import short_time
from scenarios import Plan
from scenarios.plan import AssignStaff, DispatchBus, EscortBatch
from scenarios.schema import Clock

DEFAULT_SPEED_MPS = 1.34  # an edge without a free speed: walking pace


@dataclass(frozen=True)
class Status:
    """One resource at a time: what it is (`team`, `bus`, `escort`), its name, where (a node id, and the point
    drawn), doing what (`post`, `en_route`, `arrived`, `setup`, `escorting`, `escorted`, `waiting`, `idle`),
    how many, from and until when (seconds after the start; None: to the end)."""

    what: str
    name: str
    doing: str
    node: str | None
    lon: float | None
    lat: float | None
    count: int
    until_s: float | None
    to: str | None = None  # where it is going (a bus trip, an escort)
    from_s: float | None = None


def travel_s(graph: nx.DiGraph, origin: str, to: str) -> tuple[float, list[str]]:
    """The quickest route between two nodes at the edges' free speeds: its duration (s) and its nodes. A pair the
    graph does not join is a straight hop at walking pace."""

    def weight(u: str, v: str, data: dict[str, Any]) -> float:
        return float(data.get("length_m", 0.0)) / float(data.get("free_speed_mps") or DEFAULT_SPEED_MPS)

    try:
        nodes = nx.shortest_path(graph, origin, to, weight=weight)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return 0.0, [origin, to]
    return sum(weight(u, v, graph.edges[u, v]) for u, v in pairwise(nodes)), nodes


def along(graph: nx.DiGraph, nodes: Sequence[str], fraction: float) -> tuple[float, float]:
    """The point a given fraction of the way along a route of nodes, by length."""
    points = [(float(graph.nodes[n]["lon"]), float(graph.nodes[n]["lat"])) for n in nodes]
    steps = [float(graph.edges[u, v].get("length_m", 0.0)) if graph.has_edge(u, v) else 0.0
             for u, v in pairwise(nodes)]  # fmt: skip
    total = sum(steps)
    if total <= 0 or len(points) < 2:
        return points[-1] if fraction >= 1 else points[0]
    goal = max(0.0, min(1.0, fraction)) * total
    for (a, b), step in zip(pairwise(points), steps, strict=False):
        if goal <= step and step > 0:
            f = goal / step
            return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
        goal -= step
    return points[-1]


def _at(graph: nx.DiGraph, node: str) -> tuple[float | None, float | None]:
    data = graph.nodes.get(node)
    return (None, None) if data is None else (float(data["lon"]), float(data["lat"]))


def staff_status(plan: Plan, graph: nx.DiGraph, t_s: float) -> list[Status]:
    """Each pool's posts in force at `t_s`; a pool with none is `waiting` for its next post or `idle`."""
    posts: dict[str, list[AssignStaff]] = defaultdict(list)
    for a in plan.actions:
        if isinstance(a, AssignStaff):
            posts[a.pool].append(a)
    out = []
    for pool, mine in sorted(posts.items()):
        now = [a for a in mine if a.at_s <= t_s and (a.until_s is None or t_s < a.until_s)]
        # One row per place: the pool's people there now (every wave and role on post), until the last leaves.
        here: dict[str, list[AssignStaff]] = defaultdict(list)
        for a in now:
            here[a.to].append(a)
        for node, there in sorted(here.items()):
            ends = [a.until_s for a in there]
            until = None if None in ends else max(e for e in ends if e is not None)
            out.append(Status("team", pool, "post", node, *_at(graph, node), sum(a.count for a in there), until,
                              from_s=min(a.at_s for a in there)))  # fmt: skip
        if not now:
            later = [a for a in mine if a.at_s > t_s]
            if later:
                nxt = min(later, key=lambda a: a.at_s)
                out.append(Status("team", pool, "waiting", None, None, None, nxt.count, nxt.at_s, to=nxt.to))
            else:
                out.append(Status("team", pool, "idle", None, None, None, 0, None))
    return out


def bus_status(plan: Plan, graph: nx.DiGraph, t_s: float) -> list[Status]:
    """Each bus group (a named bus, or the buses leaving one bay): its trips on the way at `t_s`, where each is,
    and, when none is on the way, its last arrival or its next departure."""
    groups: dict[str, list[DispatchBus]] = defaultdict(list)
    for a in plan.actions:
        if isinstance(a, DispatchBus) and (a.until_s is None or a.until_s >= a.at_s):
            groups[a.bus or a.origin].append(a)
    out = []
    for name, trips in sorted(groups.items()):
        moving = []
        arrived: list[tuple[float, DispatchBus]] = []
        for a in trips:
            duration, route = travel_s(graph, a.origin, a.to)
            if a.at_s <= t_s < a.at_s + duration:
                lon, lat = along(graph, route, (t_s - a.at_s) / duration)
                moving.append(Status("bus", name, "en_route", a.origin, lon, lat, a.count, a.at_s + duration,
                                     to=a.to, from_s=a.at_s))  # fmt: skip
            elif a.at_s + duration <= t_s:
                arrived.append((a.at_s + duration, a))
        out.extend(moving)
        if moving:
            continue
        later = [a for a in trips if a.at_s > t_s]
        if later:
            nxt = min(later, key=lambda a: a.at_s)
            out.append(Status("bus", name, "waiting", nxt.origin, *_at(graph, nxt.origin), nxt.count, nxt.at_s,
                              to=nxt.to))  # fmt: skip
        elif arrived:
            when, last = max(arrived, key=lambda p: p[0])
            out.append(Status("bus", name, "arrived", last.to, *_at(graph, last.to), last.count, None,
                              from_s=when))  # fmt: skip
    return out


def escort_status(plan: Plan, graph: nx.DiGraph, t_s: float, *, portals: dict[str, tuple[str, str]],
                  speed_mps: float, setup_s: float) -> list[Status]:  # fmt: skip
    """Each escort team at `t_s`: setting up at its start portal, leading a batch through the tunnel (placed by
    the distance covered at `speed_mps`), or at the far portal after its last batch; waiting for its first."""
    teams: dict[str, list[EscortBatch]] = defaultdict(list)
    for a in plan.actions:
        if isinstance(a, EscortBatch):
            teams[a.team].append(a)
    out = []
    for team, batches in sorted(teams.items()):
        started = [a for a in batches if a.at_s <= t_s]
        if not started:
            nxt = min(batches, key=lambda a: a.at_s)
            start = _ends(nxt, portals)[0]
            out.append(Status("escort", team, "waiting", start, *_at(graph, start), nxt.max_riders, nxt.at_s,
                              to=_ends(nxt, portals)[1]))  # fmt: skip
            continue
        last = max(started, key=lambda a: a.at_s)
        start, end = _ends(last, portals)
        length = sum(float(graph.edges[u, v].get("length_m", 0.0))
                     for u, v in pairwise(travel_s(graph, start, end)[1]))  # fmt: skip
        crossing = length / speed_mps
        set_up, through = last.at_s + setup_s, last.at_s + setup_s + crossing
        if t_s < set_up:
            out.append(Status("escort", team, "setup", start, *_at(graph, start), last.max_riders, set_up, to=end,
                              from_s=last.at_s))  # fmt: skip
        elif t_s < through:
            _, route = travel_s(graph, start, end)
            lon, lat = along(graph, route, (t_s - set_up) / crossing)
            out.append(Status("escort", team, "escorting", start, lon, lat, last.max_riders, through, to=end,
                              from_s=set_up))  # fmt: skip
        else:
            out.append(Status("escort", team, "escorted", end, *_at(graph, end), last.max_riders, None,
                              from_s=through))  # fmt: skip
    return out


def _ends(batch: EscortBatch, portals: dict[str, tuple[str, str]]) -> tuple[str, str]:
    a, b = portals[batch.tunnel]
    return (a, b) if batch.direction == "ab" else (b, a)


def statuses(scenario: Any, plan: Plan, graph: nx.DiGraph, t_s: float) -> list[Status]:
    """Every team, bus group and escort team of the plan at `t_s` (the escorts' portals and pace from the
    scenario's tunnels and escorts, where it has them)."""
    out = staff_status(plan, graph, t_s) + bus_status(plan, graph, t_s)
    tunnels = getattr(scenario, "tunnels", None) or {}
    escorts = getattr(scenario, "escorts", None)
    if tunnels and escorts is not None:
        portals = {name: tuple(t.portals) for name, t in tunnels.items()}
        out += escort_status(plan, graph, t_s, portals=portals, speed_mps=float(escorts.escort_speed_mps),
                             setup_s=float(escorts.setup_s))  # fmt: skip
    return out


def board_rows(found: Sequence[Status], *, names: dict[str, str], clock: Clock, lang: str) -> list[dict[str, str]]:
    """The status board's rows, in `lang`: kind, name, where (a place's name; a bus on its way says from and to),
    doing what, and until when (local time of the scenario; "end of plan" for a post without an end)."""
    rows = []
    for s in found:
        place = names.get(s.node, s.node) if s.node else t("resource.no_place", lang)
        to = names.get(s.to, s.to) if s.to else ""
        if s.doing in {"en_route", "escorting"} and s.node:
            place = t("resource.on_the_way", lang, origin=place, to=to)
        rows.append({
            t("resource.col.what", lang): t(f"resource.what.{s.what}", lang),
            t("resource.col.name", lang): s.name,
            t("resource.col.where", lang): place,
            t("resource.col.doing", lang): t(f"resource.doing.{s.doing}", lang, count=f"{s.count:,}", to=to),
            t("resource.col.until", lang): t("resource.to_end", lang) if s.until_s is None
            else short_time(clock, s.until_s),
        })  # fmt: skip
    return rows


def map_rows(found: Sequence[Status], *, names: dict[str, str], clock: Clock, lang: str,
             colours: dict[str, list[int]]) -> tuple[dict[str, Any], ...]:  # fmt: skip
    """The map's resource points: each placed status with its colour and a tooltip (kind, name, doing, until)."""
    rows = board_rows(found, names=names, clock=clock, lang=lang)
    out = []
    for s, row in zip(found, rows, strict=True):
        if s.lon is None or s.lat is None:
            continue
        cells = list(row.values())
        tip = f"{cells[0]} {cells[1]}\n{cells[3]}\n{t('resource.col.until', lang)}: {cells[4]}"
        out.append({"lon": s.lon, "lat": s.lat, "what": s.what, "colour": colours[s.what], "tip": tip})
    return tuple(out)


__all__ = ["Status", "along", "board_rows", "bus_status", "escort_status", "map_rows", "staff_status", "statuses",
           "travel_s"]
