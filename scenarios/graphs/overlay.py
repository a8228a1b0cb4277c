"""A scenario's overlay on the graph it names: places added, nodes retyped and annotated, edges added, retyped,
widened, made one-way or closed, so that a planner adapts an imported graph in the scenario file, without code.

`apply_overlay(graph, overlay, file=...)` returns a new frozen graph, or raises `ScenarioError` with one problem per
mistake, each at its place in the scenario (`overlay.nodes[2].walk: ...`). The schema: `scenarios.schema.GraphOverlay`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx

from scenarios.errors import Problem, ScenarioError
from scenarios.graphs.geometry import NODE_KINDS, PEDESTRIAN_MODES, VEHICLE_MODES, haversine_m
from scenarios.graphs.osm import LINK_SPEED_KMH, STAIR_SPEED_MPS, WALK_SPEED_MPS, nearest_nodes

if TYPE_CHECKING:
    from scenarios.schema import GraphOverlay, OverlayEdge, OverlayNode

#: Free speeds of a new edge of each mode where the overlay gives none (road: 30 km/h, an urban street's limit).
DEFAULT_SPEED_MPS = {"walk": WALK_SPEED_MPS, "stair": STAIR_SPEED_MPS, "road": 30 / 3.6, "tunnel": 40 / 3.6,
                     "ferry": 4.0, "metro": 10.0}  # fmt: skip
#: How far a new node may lie from the graph's extent before it is taken for a typo (lon/lat swapped, a digit).
MAX_OUTSIDE_M = 5_000.0


def _main_nodes(graph: nx.DiGraph, modes: frozenset[str]) -> list[str]:
    """The nodes of the largest connected part of the network of these modes (weakly; roads: strongly)."""
    sub = graph.edge_subgraph([(u, v) for u, v, m in graph.edges(data="mode") if m in modes])
    if sub.number_of_nodes() == 0:
        return []
    found = nx.strongly_connected_components(sub) if modes == VEHICLE_MODES else nx.weakly_connected_components(sub)
    parts = [set(c) for c in found]
    biggest = max(len(c) for c in parts)
    return sorted(min((c for c in parts if len(c) == biggest), key=min))


def _link(graph: nx.DiGraph, a: str, b: str, *, mode: str, width_m: float) -> None:
    p, q = graph.nodes[a], graph.nodes[b]
    geom = ((p["lon"], p["lat"]), (q["lon"], q["lat"]))
    walk = mode == "walk"
    attrs: dict[str, Any] = {
        "length_m": max(1.0, haversine_m(*geom[0], *geom[1])), "width_m": width_m if walk else 0.0,
        "lanes": 0 if walk else 1, "mode": mode, "free_speed_mps": WALK_SPEED_MPS if walk else LINK_SPEED_KMH / 3.6,
        "carriageway_m": 0.0 if walk else 3.5, "oneway": False,
        "name": f"{'way' if walk else 'access road'} into {p['name']}", "source": "scenario overlay",
    }  # fmt: skip
    graph.add_edge(a, b, geometry=geom, **attrs)
    graph.add_edge(b, a, geometry=geom[::-1], **attrs)


def _node(graph: nx.DiGraph, spec: OverlayNode, where: str, file: str, problems: list[Problem]) -> None:
    """Add or change one node (see `OverlayNode`)."""
    if spec.kind is not None and spec.kind not in NODE_KINDS:
        problems.append(Problem(file, f"{where}.kind", f"unknown node kind {spec.kind!r}; one of "
                                f"{', '.join(sorted(NODE_KINDS))}"))  # fmt: skip
        return
    if spec.id in graph:
        if spec.at is not None:
            problems.append(Problem(file, f"{where}.at", f"node {spec.id!r} is already in the graph; a node cannot be "
                                    "moved: give the new place a new id"))  # fmt: skip
            return
        data = graph.nodes[spec.id]
    else:
        if spec.at is None:
            problems.append(Problem(file, f"{where}.id", f"{spec.id!r} is not in the graph; a new node needs "
                                    "at: [lon, lat]"))  # fmt: skip
            return
        lon, lat = spec.at
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            problems.append(Problem(file, f"{where}.at", f"[{lon:g}, {lat:g}] is not a point: [lon, lat] in degrees, "
                                    "longitude first"))  # fmt: skip
            return
        min_lon, min_lat, max_lon, max_lat = graph.graph.get("bbox") or (lon, lat, lon, lat)
        off = haversine_m(lon, lat, min(max(lon, min_lon), max_lon), min(max(lat, min_lat), max_lat))
        if off > MAX_OUTSIDE_M:
            problems.append(Problem(file, f"{where}.at", f"[{lon:g}, {lat:g}] is {off / 1000:,.1f} km outside the "
                                    f"graph (lon {min_lon:.4f}..{max_lon:.4f}, lat {min_lat:.4f}..{max_lat:.4f}); "
                                    "is it [lon, lat]?"))  # fmt: skip
            return
        graph.add_node(spec.id, lon=lon, lat=lat, kind="junction", area_m2=0.0, name=spec.id, name_zh="",
                       quality="B", source="scenario overlay")  # fmt: skip
        data = graph.nodes[spec.id]
    for key in ("kind", "name", "name_zh", "area_m2"):
        value = getattr(spec, key)
        if value is not None:
            data[key] = value
    for network, modes, mode in (("walk", PEDESTRIAN_MODES, "walk"), ("road", VEHICLE_MODES, "road")):
        targets: Sequence[str] = getattr(spec, network)
        if targets == "nearest":
            main = [n for n in _main_nodes(graph, modes) if n != spec.id]
            targets = nearest_nodes(graph, main, data["lon"], data["lat"])
            if not targets:
                problems.append(Problem(file, f"{where}.{network}", f"the graph has no {network} network to join"))
        for i, target in enumerate(targets):
            if target not in graph or target == spec.id:
                problems.append(Problem(file, f"{where}.{network}[{i}]", f"unknown node {target!r}"))
                continue
            _link(graph, spec.id, target, mode=mode, width_m=spec.link_width_m)


def _edge(graph: nx.DiGraph, spec: OverlayEdge, where: str, file: str, problems: list[Problem]) -> None:
    """Add, change, make one-way or close one edge (see `OverlayEdge`)."""
    missing = [(k, n) for k, n in (("u", spec.u), ("v", spec.v)) if n not in graph]
    for key, node in missing:
        problems.append(Problem(file, f"{where}.{key}", f"unknown node {node!r}"))
    if missing:
        return
    u, v = spec.u, spec.v
    ways = [(a, b) for a, b in ((u, v), (v, u)) if graph.has_edge(a, b)]
    if spec.closed:
        if not ways:
            problems.append(Problem(file, where, f"no edge between {u!r} and {v!r} to close"))
        graph.remove_edges_from(ways[:1] if spec.oneway else ways)
        return
    if not ways:
        if spec.mode is None:
            problems.append(Problem(file, f"{where}.mode", f"no edge between {u!r} and {v!r}: a new edge needs a mode"))
            return
        walked = spec.mode in PEDESTRIAN_MODES
        if walked and not spec.width_m:
            problems.append(Problem(file, f"{where}.width_m", f"a new {spec.mode} edge needs its walkable width"))
            return
        p, q = graph.nodes[u], graph.nodes[v]
        geom = ((p["lon"], p["lat"]), (q["lon"], q["lat"]))
        chord = haversine_m(*geom[0], *geom[1])
        if spec.length_m is not None and spec.length_m < chord - 1.0:
            problems.append(Problem(file, f"{where}.length_m", f"{spec.length_m:g} m is shorter than the {chord:.0f} m "
                                    "between its ends"))  # fmt: skip
            return
        attrs: dict[str, Any] = {
            "length_m": spec.length_m or max(1.0, chord), "width_m": spec.width_m or 0.0,
            "lanes": spec.lanes if spec.lanes is not None else (0 if walked else 1), "mode": spec.mode,
            "free_speed_mps": spec.free_speed_mps or DEFAULT_SPEED_MPS[spec.mode], "carriageway_m": 0.0,
            "oneway": bool(spec.oneway), "name": spec.name or "", "source": "scenario overlay",
        }  # fmt: skip
        graph.add_edge(u, v, geometry=geom, **attrs)
        if not spec.oneway:
            graph.add_edge(v, u, geometry=geom[::-1], **attrs)
        return
    if spec.oneway and not graph.has_edge(u, v):
        problems.append(Problem(file, f"{where}.oneway", f"the edge runs only {v!r} -> {u!r}; to make it one-way "
                                f"the other way, close it and add {u!r} -> {v!r}"))  # fmt: skip
        return
    if spec.oneway:
        if graph.has_edge(v, u):
            graph.remove_edge(v, u)
        ways = [(u, v)]
    for a, b in ways:
        data = graph.edges[a, b]
        for key in ("mode", "width_m", "lanes", "free_speed_mps", "length_m", "name"):
            value = getattr(spec, key)
            if value is not None:
                data[key] = value
        if spec.oneway:
            data["oneway"] = True
        if data["mode"] in PEDESTRIAN_MODES and not data.get("width_m"):
            problems.append(Problem(file, f"{where}.width_m", f"{a!r} -> {b!r} is now a {data['mode']} edge and needs "
                                    "its walkable width"))  # fmt: skip


def apply_overlay(graph: nx.DiGraph, overlay: GraphOverlay, *, file: str, path: str = "overlay") -> nx.DiGraph:
    """The graph with the overlay applied: nodes first, in order, then edges, in order (frozen)."""
    out = nx.DiGraph(graph)
    out.graph.update(graph.graph)
    problems: list[Problem] = []
    for i, node in enumerate(overlay.nodes):
        _node(out, node, f"{path}.nodes[{i}]", file, problems)
    for i, edge in enumerate(overlay.edges):
        _edge(out, edge, f"{path}.edges[{i}]", file, problems)
    if problems:
        raise ScenarioError(problems)
    sources = tuple(out.graph.get("sources", ()))
    out.graph["sources"] = (*sources, f"overlay of {file}")
    return nx.freeze(out)
