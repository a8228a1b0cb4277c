"""The map's own base layer, drawn on the machine from the data Yiwang ships: no tiles, no style, no request.

A scenario on a graph read from an OpenStreetMap extract (`scenarios/data/osm/*.osm`) gets the extract itself as
its base: every road by its class (a trunk road wider and darker than a residential street), water, buildings and
green areas where the extract maps them, road names as labels, and the extract's attribution, which every product
drawn from OSM data repeats (ODbL 1.0). A scenario on a graph without OSM data (the built-in bund, crossings and
disney graphs) gets its own graph's edges as its roads and its named places as labels.

Both carry a scale bar: a bar of a round length drawn on the ground at the framed area's lower left, so that it
stays true however far the map is zoomed (it grows and shrinks with the ground it measures).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
import pydeck as pdk

from scenarios.graphs.core import resolve_graph_path
from scenarios.graphs.geometry import EARTH_RADIUS_M
from scenarios.graphs.osm import ATTRIBUTION, read_osm, rings_of

#: A road's drawn width (metres on the ground) and colour by its `highway=*` class; the rest are minor roads.
ROAD_STYLE: dict[str, tuple[float, list[int]]] = {
    "motorway": (16.0, [200, 120, 60, 220]), "trunk": (14.0, [205, 130, 70, 220]),
    "primary": (12.0, [215, 160, 90, 220]), "secondary": (10.0, [225, 190, 120, 220]),
    "tertiary": (8.0, [200, 200, 200, 230]),
}  # fmt: skip
MINOR_ROAD = (6.0, [215, 215, 215, 230])
FOOTWAY = (2.5, [200, 190, 180, 200])
WATER = [150, 190, 230, 230]
BUILDING = [205, 195, 185, 200]
GREEN = [190, 225, 180, 200]
#: A graph edge's drawn width and colour by its mode, where the graph is the base (no OSM data).
MODE_STYLE: dict[str, tuple[float, list[int]]] = {
    "road": (8.0, [210, 210, 210, 230]), "tunnel": (8.0, [160, 140, 200, 220]),
    "ferry": (4.0, [90, 140, 210, 220]), "metro": (4.0, [170, 120, 170, 200]),
}  # fmt: skip
WALK_STYLE = (4.0, [205, 200, 190, 220])
#: The round lengths a scale bar may show, metres.
SCALE_STEPS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180  # along a meridian, and along the equator per degree of longitude

_WATER_TAGS = {("natural", "water"), ("waterway", "riverbank"), ("landuse", "reservoir"), ("landuse", "basin")}
_GREEN_TAGS = {("leisure", "park"), ("landuse", "grass"), ("leisure", "garden"), ("landuse", "forest")}
#: How much a road class counts, against its length, in choosing which names to show when they crowd each other.
_LABEL_WEIGHT = {"motorway": 4.0, "trunk": 4.0, "primary": 3.0, "secondary": 2.0, "tertiary": 1.5}
#: Node kinds the graph base never labels (a junction's name is its two roads': the edges' tooltips say it).
_UNLABELLED = {"junction"}
_WALK_CLASSES = {"footway", "path", "pedestrian", "steps", "cycleway"}


@dataclass(frozen=True)
class BaseMap:
    """What the map draws beneath the incident: roads (paths), areas (polygons), labels, and the attribution.

    `roads` and `areas` are the layers' rows: `path` or `polygon` as (lon, lat) lists, `width` (m) or nothing,
    `colour`, `tip`. `source` is "osm" when drawn from an OpenStreetMap extract, "graph" when from the graph."""

    source: str
    roads: tuple[dict[str, Any], ...]
    areas: tuple[dict[str, Any], ...]
    labels: tuple[dict[str, Any], ...]
    attribution: str = ""

    def counts(self) -> dict[str, int]:
        """How many of each thing it draws: roads, water, buildings, green areas and labels."""
        kinds = [a["what"] for a in self.areas]
        return {"roads": len(self.roads), "water": kinds.count("water"), "buildings": kinds.count("building"),
                "green": kinds.count("green"), "labels": len(self.labels)}  # fmt: skip


def osm_file(graph_ref: str) -> Path | None:
    """The OpenStreetMap extract a graph reference names (a built-in `.osm` or a path to one), else None."""
    try:
        path = resolve_graph_path(graph_ref)
    except Exception:  # a graph that does not resolve has no OSM file; loading it says what is wrong elsewhere
        return None
    return path if path.suffix.lower() == ".osm" else None


def road_style(highway: str) -> tuple[float, list[int]]:
    """A `highway=*` class's drawn width (m) and colour: a link road (`primary_link`) in its road's colour, at
    0.6 of its width; a footway, path or steps thin; any other class a minor road."""
    if highway in _WALK_CLASSES:
        return FOOTWAY
    base, _, link = highway.partition("_link")
    width, colour = ROAD_STYLE.get(base if highway.endswith("_link") else highway, MINOR_ROAD)
    return (0.6 * width, colour) if highway.endswith("_link") and not link else (width, colour)


def _road_name(tags: dict[str, str], lang: str) -> str:
    zh = tags.get("name:zh", "") or tags.get("name", "")
    en = tags.get("name:en", "") or tags.get("name", "")
    return zh if lang == "zh" else en


@lru_cache(maxsize=8)
def osm_base(path: str, lang: str) -> BaseMap:
    """The base map drawn from an OSM extract: roads by class, water, buildings, green areas, one label per road
    name (at the middle of that name's longest stretch), and the attribution."""
    data = read_osm(Path(path), Path(path).name)
    points = data.points
    roads: list[dict[str, Any]] = []
    areas: list[dict[str, Any]] = []
    longest: dict[str, tuple[float, tuple[float, float]]] = {}
    for way in data.ways:
        coords = [points[r] for r in way.refs if r in points]
        if len(coords) < 2:
            continue
        tags = way.tags
        area = _area_kind(tags)
        if area is not None and len(coords) >= 4 and way.refs[0] == way.refs[-1]:
            areas.append({"polygon": [list(c) for c in coords], "what": area, "colour": _AREA_COLOUR[area],
                          "tip": tags.get("name", "")})  # fmt: skip
            continue
        highway = tags.get("highway")
        if highway is None and tags.get("waterway") in {"river", "canal", "stream"}:
            roads.append({"path": [list(c) for c in coords], "width": 20.0, "colour": WATER,
                          "tip": tags.get("name", ""), "what": "water"})  # fmt: skip
            continue
        if highway is None:
            continue
        width, colour = road_style(highway)
        name = _road_name(tags, lang)
        roads.append({"path": [list(c) for c in coords], "width": width, "colour": colour,
                      "tip": f"{name}\n{highway}".strip(), "what": highway})  # fmt: skip
        if name:
            weight = _LABEL_WEIGHT.get(highway.removesuffix("_link"), 1.0) * _length_m(coords)
            if weight > longest.get(name, (0.0, (0.0, 0.0)))[0]:
                longest[name] = (weight, _middle(coords))
    for outer, tags in data.relations.values():
        area = _area_kind(tags)
        if area is None:
            continue
        member = {w.id: w.refs for w in data.ways}
        for ring in rings_of([member[i] for i in outer if i in member]):
            coords = [points[r] for r in ring if r in points]
            if len(coords) >= 4:
                areas.append({"polygon": [list(c) for c in coords], "what": area, "colour": _AREA_COLOUR[area],
                              "tip": tags.get("name", "")})  # fmt: skip
    labels = tuple({"position": list(at), "text": name, "size": 12, "rank": -weight}
                   for name, (weight, at) in sorted(longest.items()))  # fmt: skip
    # Buildings over green over water, so that the smaller things are drawn last and seen.
    order = {"water": 0, "green": 1, "building": 2}
    areas.sort(key=lambda a: order[a["what"]])
    return BaseMap("osm", tuple(roads), tuple(areas), labels, ATTRIBUTION)


_AREA_COLOUR = {"water": WATER, "building": BUILDING, "green": GREEN}


def _area_kind(tags: dict[str, str]) -> str | None:
    if "building" in tags:
        return "building"
    items = set(tags.items())
    if items & _WATER_TAGS or "water" in tags:
        return "water"
    if items & _GREEN_TAGS:
        return "green"
    return None


def _length_m(coords: list[tuple[float, float]]) -> float:
    total = 0.0
    for (x0, y0), (x1, y1) in pairwise(coords):
        dx = (x1 - x0) * METRES_PER_DEGREE * math.cos(math.radians((y0 + y1) / 2))
        total += math.hypot(dx, (y1 - y0) * METRES_PER_DEGREE)
    return total


def _middle(coords: list[tuple[float, float]]) -> tuple[float, float]:
    """The point halfway along a polyline."""
    half = _length_m(coords) / 2
    walked = 0.0
    for a, b in pairwise(coords):
        step = _length_m([a, b])
        if walked + step >= half and step > 0:
            f = (half - walked) / step
            return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
        walked += step
    return coords[-1]


def graph_base(graph: nx.DiGraph, words: dict[str, str], lang: str = "en") -> BaseMap:
    """The base map drawn from the city graph itself: each edge (one per pair of nodes) by its mode, a label for
    every named place but junctions (its `name_zh` in Chinese where it has one; larger places first when labels
    crowd), and the graph's own attribution if it has one."""
    roads = []
    seen: set[frozenset[str]] = set()
    for u, v, data in graph.edges(data=True):
        pair = frozenset((u, v))
        if pair in seen:
            continue
        seen.add(pair)
        coords = data.get("geometry") or ((graph.nodes[u]["lon"], graph.nodes[u]["lat"]),
                                          (graph.nodes[v]["lon"], graph.nodes[v]["lat"]))  # fmt: skip
        mode = str(data.get("mode", ""))
        width, colour = MODE_STYLE.get(mode, WALK_STYLE)
        name = data.get("name") or f"{graph.nodes[u].get('name', u)} – {graph.nodes[v].get('name', v)}"
        length = data.get("length_m")
        detail = words.get(mode, mode) + (f" · {float(length):,.0f} m" if length is not None else "")
        roads.append({"path": [list(c) for c in coords], "width": width, "colour": colour,
                      "tip": f"{name}\n{detail}".strip(), "what": mode})  # fmt: skip
    labels = tuple({"position": [d["lon"], d["lat"]], "size": 12, "rank": -float(d.get("area_m2") or 0.0),
                    "text": str((lang == "zh" and d.get("name_zh")) or d["name"])}
                   for _, d in graph.nodes(data=True)
                   if d.get("name") and d.get("kind") not in _UNLABELLED)  # fmt: skip
    return BaseMap("graph", tuple(roads), (), labels, str(graph.graph.get("attribution", "")))


def declutter(labels: Sequence[dict[str, Any]], *, zoom: float, latitude: float) -> list[dict[str, Any]]:
    """The labels that can be read at `zoom`: in order of rank (lowest first), each kept unless its box (13 px a
    character, 18 px high, centred on its point) overlaps one already kept. At closer zooms more fit."""
    per_px = 360.0 / (512.0 * 2**zoom)  # degrees of longitude per pixel (Web Mercator, 512 px tiles)
    per_px_lat = per_px * math.cos(math.radians(latitude))
    kept: list[tuple[float, float, float, dict[str, Any]]] = []
    for label in sorted(labels, key=lambda a: (a.get("rank", 0.0), a["text"])):
        x, y = label["position"]
        half_w = (13 * len(label["text"]) + 8) / 2 * per_px
        if all(abs(x - kx) >= half_w + kw or abs(y - ky) >= 18 * per_px_lat for kx, ky, kw, _ in kept):
            kept.append((x, y, half_w, label))
    return [k[3] for k in kept]


def scale_length_m(span_m: float) -> int:
    """The scale bar's length: the longest round length no more than a fifth of the framed span."""
    fits = [s for s in SCALE_STEPS if s <= span_m / 5]
    return fits[-1] if fits else SCALE_STEPS[0]


def scale_bar(west: float, south: float, east: float, north: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scale bar at the lower left of a framed box (degrees): the bar's path and its label."""
    x0 = west + 0.04 * (east - west)
    y0 = south + 0.05 * (north - south)
    per_lon = METRES_PER_DEGREE * math.cos(math.radians(y0))  # metres per degree of longitude where the bar lies
    length = scale_length_m((east - west) * per_lon)
    x1 = x0 + length / per_lon
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length} m"
    return ({"path": [[x0, y0], [x1, y0]], "length_m": length},
            {"position": [(x0 + x1) / 2, y0 + 0.02 * (north - south)], "text": text, "size": 13})  # fmt: skip


def layers(base: BaseMap) -> list[pdk.Layer]:
    """The base map's pydeck layers, bottom first: areas, then roads (labels and the bar: `labels_on_top`)."""
    out = []
    if base.areas:
        out.append(pdk.Layer("PolygonLayer", list(base.areas), get_polygon="polygon", get_fill_color="colour",
                             stroked=False, pickable=False))  # fmt: skip
    out.append(pdk.Layer("PathLayer", list(base.roads), get_path="path", get_color="colour", get_width="width",
                         width_units=pdk.types.String("meters"), width_min_pixels=1, cap_rounded=True,
                         joint_rounded=True,
                         pickable=True))  # fmt: skip
    return out


def labels_on_top(labels: Sequence[dict[str, Any]], bar: tuple[dict[str, Any], dict[str, Any]]) -> list[pdk.Layer]:
    """The labels and the scale bar, drawn over everything else. Labels use the characters they hold (`auto`:
    Chinese names need it), rendered by the browser's own fonts: nothing is fetched."""
    path, label = bar
    return [
        pdk.Layer("TextLayer", list(labels), get_position="position", get_text="text", get_size="size",
                  get_color=[60, 60, 70, 255], character_set=pdk.types.String("auto"),
                  font_family=pdk.types.String("sans-serif"),
                  background=True, get_background_color=[255, 255, 255, 170], pickable=False),
        pdk.Layer("PathLayer", [path], get_path="path", get_color=[30, 30, 30, 255], get_width=4,
                  width_units=pdk.types.String("pixels"), pickable=False),
        pdk.Layer("TextLayer", [label], get_position="position", get_text="text", get_size="size",
                  get_color=[30, 30, 30, 255], character_set=pdk.types.String("auto"),
                  font_family=pdk.types.String("sans-serif"), pickable=False),
    ]  # fmt: skip


__all__ = ["BaseMap", "declutter", "graph_base", "labels_on_top", "layers", "osm_base", "osm_file", "road_style",
           "scale_bar", "scale_length_m"]  # fmt: skip
