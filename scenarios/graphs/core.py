"""City graphs with real coordinates: load, check and summarise.

A city graph is a `networkx.DiGraph` whose nodes carry `lat`, `lon` (WGS-84), `kind`, `area_m2`, `name`
and whose edges carry `length_m`, `width_m`, `lanes` (per direction), `mode`, `free_speed_mps`, `name`
and the drawn `geometry` (a tuple of `(lon, lat)` points). The file formats are described in
`docs/graph-format.md`: the built-in graphs are GeoJSON files shipped inside this package; a user can
load GeoJSON, GraphML with the same attributes, or an OpenStreetMap `.osm` extract (needs `osmnx`).

Loaded graphs are cached and frozen (read-only): a model that needs to change one works on a copy.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx

from scenarios.errors import Problem, ScenarioError
from scenarios.graphs.geometry import (
    EDGE_MODES,
    ENDPOINT_TOLERANCE_M,
    ID_RE,
    NODE_KINDS,
    PEDESTRIAN_MODES,
    VEHICLE_MODES,
    graph_bbox,
    haversine_m,
    polyline_length_m,
)
from scenarios.graphs.osm import load_osm
from scenarios.graphs.overlay import apply_overlay

# --------------------------------------------------------------------------------------------- loading


def builtin_graph_dir() -> Path:
    return Path(str(resources.files("scenarios") / "data" / "graphs"))


def builtin_osm_dir() -> Path:
    """The OpenStreetMap extracts shipped with Yiwang (ODbL; `SOURCE.txt` beside them says where from)."""
    return Path(str(resources.files("scenarios") / "data" / "osm"))


def _builtin_files() -> dict[str, Path]:
    found = {p.stem: p for p in builtin_graph_dir().glob("*.geojson")}
    found.update({p.stem: p for p in builtin_osm_dir().glob("*.osm")})
    return found


def builtin_graph_names() -> list[str]:
    """Names of the graphs shipped with Yiwang: the GeoJSON graphs and the OpenStreetMap extracts."""
    return sorted(_builtin_files())


def resolve_graph_path(ref: str, base_dir: Path | None = None) -> Path:
    """Find a graph by built-in name, or by path (relative paths against `base_dir`)."""
    builtin = _builtin_files()
    if ref in builtin:
        return builtin[ref]
    path = Path(ref).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        names = ", ".join(builtin_graph_names()) or "none"
        raise ScenarioError.single(ref, "", f"no such graph file, and not a built-in graph (built-in: {names})")
    return path


def load_graph(ref: str | Path, *, base_dir: Path | None = None) -> nx.DiGraph:
    """Load a city graph by built-in name or path (.geojson, .json, .graphml, .osm); frozen and cached.

    Problems name the file as the user gave it (a built-in graph by its file name)."""
    text = str(ref)
    path = resolve_graph_path(text, base_dir).resolve()
    label = path.name if text in builtin_graph_names() else text
    return _load_cached(str(path), path.stat().st_mtime_ns, label)


@lru_cache(maxsize=16)
def _load_cached(path: str, _mtime_ns: int, label: str) -> nx.DiGraph:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in {".geojson", ".json"}:
        graph = _from_geojson(p, label)
    elif suffix == ".graphml":
        graph = _from_graphml(p, label)
    elif suffix == ".osm":
        graph = load_osm(p, label)
    else:
        hint = "; convert it first: osmium cat FILE.osm.pbf -o FILE.osm" if suffix == ".pbf" else ""
        raise ScenarioError.single(label, "", f"unknown graph format {suffix!r} (.geojson, .graphml, .osm){hint}")
    return nx.freeze(graph)


def _num(props: dict[str, Any], key: str, default: float | None, where: str, problems: list[Problem],
         file: str, *, minimum: float = 0.0, strict: bool = False) -> float:  # fmt: skip
    value = props.get(key, default)
    if value is None:
        problems.append(Problem(file, f"{where}.{key}", "required field is missing"))
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(Problem(file, f"{where}.{key}", f"must be a finite number (got {value!r})"))
        return 0.0
    if value < minimum or (strict and value == minimum):
        rel = ">" if strict else ">="
        problems.append(Problem(file, f"{where}.{key}", f"must be {rel} {minimum:g} (got {value!r})"))
    return float(value)


def _from_geojson(path: Path, file: str) -> nx.DiGraph:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError.single(file, "", f"cannot read GeoJSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ScenarioError.single(file, "type", "must be a GeoJSON FeatureCollection")
    meta = doc.get("yiwang") or {}
    features = doc.get("features")
    if not isinstance(features, list):
        raise ScenarioError.single(file, "features", "must be a list")
    graph = nx.DiGraph(
        name=meta.get("name", path.stem),
        title=meta.get("title", path.stem),
        attribution=meta.get("attribution", ""),
        sources=tuple(meta.get("sources", ())),
        source_file=path.name,
    )
    problems: list[Problem] = []
    edges = []
    for i, feat in enumerate(features):
        where = f"features[{i}]"
        geom = (feat or {}).get("geometry") or {}
        props = (feat or {}).get("properties") or {}
        gtype = geom.get("type")
        coords = geom.get("coordinates")
        if gtype == "Point":
            _add_geojson_node(graph, props, coords, where, file, problems)
        elif gtype == "LineString":
            edges.append((where, props, coords))
        else:
            problems.append(Problem(file, f"{where}.geometry.type", f"must be Point or LineString (got {gtype!r})"))
    for where, props, coords in edges:
        _add_geojson_edge(graph, props, coords, where, file, problems)
    bbox = meta.get("bbox")
    if bbox is not None:
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(b, int | float) for b in bbox)):
            problems.append(Problem(file, "yiwang.bbox", "must be [min_lon, min_lat, max_lon, max_lat]"))
        else:
            graph.graph["bbox"] = tuple(float(b) for b in bbox)
    if problems:
        raise ScenarioError(problems)
    graph.graph.setdefault("bbox", graph_bbox(graph))
    return graph


def _point(coords: Any) -> tuple[float, float] | None:
    if (
        isinstance(coords, list | tuple)
        and len(coords) >= 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in coords[:2])
        and -180 <= coords[0] <= 180
        and -90 <= coords[1] <= 90
    ):
        return float(coords[0]), float(coords[1])
    return None


def _add_geojson_node(graph: nx.DiGraph, props: dict[str, Any], coords: Any, where: str, file: str,
                      problems: list[Problem]) -> None:  # fmt: skip
    node_id = props.get("id")
    if not isinstance(node_id, str) or not ID_RE.fullmatch(node_id):
        problems.append(Problem(file, f"{where}.properties.id", f"must be an identifier (got {node_id!r})"))
        return
    if node_id in graph:
        problems.append(Problem(file, f"{where}.properties.id", f"duplicate node id {node_id!r}"))
        return
    point = _point(coords)
    if point is None:
        problems.append(Problem(file, f"{where}.geometry.coordinates", "must be [lon, lat] in degrees"))
        return
    kind = props.get("kind", "junction")
    if kind not in NODE_KINDS:
        problems.append(Problem(file, f"{where}.properties.kind", f"unknown node kind {kind!r}"))
    area = _num(props, "area_m2", 0.0, f"{where}.properties", problems, file)
    graph.add_node(
        node_id,
        lon=point[0],
        lat=point[1],
        kind=kind,
        area_m2=area,
        name=str(props.get("name", node_id)),
        name_zh=str(props.get("name_zh", "")),
        quality=str(props.get("quality", "")),
        source=str(props.get("source", "")),
    )


def _add_geojson_edge(graph: nx.DiGraph, props: dict[str, Any], coords: Any, where: str, file: str,
                      problems: list[Problem]) -> None:  # fmt: skip
    u, v = props.get("u"), props.get("v")
    ok = True
    for end, key in ((u, "u"), (v, "v")):
        if end not in graph:
            problems.append(Problem(file, f"{where}.properties.{key}", f"unknown node {end!r}"))
            ok = False
    if not isinstance(coords, list) or len(coords) < 2 or any(_point(c) is None for c in coords):
        problems.append(Problem(file, f"{where}.geometry.coordinates", "must be a list of 2+ [lon, lat] points"))
        return
    if not ok:
        return
    if u == v:
        problems.append(Problem(file, f"{where}.properties", f"edge from {u!r} to itself"))
        return
    points = tuple(_point(c) for c in coords)
    mode = props.get("mode")
    if mode not in EDGE_MODES:
        problems.append(
            Problem(file, f"{where}.properties.mode", f"must be one of {sorted(EDGE_MODES)} (got {mode!r})")
        )
    for end, point, key in ((u, points[0], "start"), (v, points[-1], "end")):
        node = graph.nodes[end]
        gap = haversine_m(node["lon"], node["lat"], *point)  # type: ignore[misc]
        if gap > ENDPOINT_TOLERANCE_M:
            problems.append(Problem(file, f"{where}.geometry", f"{key} is {gap:.0f} m from node {end!r}"))
    base = f"{where}.properties"
    drawn = polyline_length_m(points)  # type: ignore[arg-type]
    length = _num(props, "length_m", drawn, base, problems, file, strict=True)
    chord = haversine_m(graph.nodes[u]["lon"], graph.nodes[u]["lat"], graph.nodes[v]["lon"], graph.nodes[v]["lat"])
    if length < chord - 1.0:
        problems.append(
            Problem(file, f"{base}.length_m", f"{length:.0f} m is shorter than the {chord:.0f} m between its ends")
        )
    lanes = props.get("lanes", 0)
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 0:
        problems.append(Problem(file, f"{base}.lanes", f"must be a whole number >= 0 (got {lanes!r})"))
        lanes = 0
    attrs = {
        "length_m": length,
        "width_m": _num(props, "width_m", 0.0, base, problems, file),
        "lanes": lanes,
        "mode": mode,
        "free_speed_mps": _num(props, "free_speed_mps", None, base, problems, file, strict=True),
        "carriageway_m": _num(props, "carriageway_m", 0.0, base, problems, file),
        "name": str(props.get("name", "")),
    }
    oneway = bool(props.get("oneway", False))
    for a, b, geom in ((u, v, points), (v, u, points[::-1])):
        if graph.has_edge(a, b):
            problems.append(Problem(file, where, f"a second edge {a!r} -> {b!r}; join parallel edges or add a node"))
        graph.add_edge(a, b, geometry=geom, oneway=oneway, **attrs)
        if oneway:
            break


_GRAPHML_NODE_DEFAULTS: dict[str, Any] = {"kind": "junction", "area_m2": 0.0, "name": "", "name_zh": "",
                                          "quality": "", "source": ""}  # fmt: skip
_GRAPHML_EDGE_DEFAULTS: dict[str, Any] = {"width_m": 0.0, "lanes": 0, "carriageway_m": 0.0, "name": "",
                                          "oneway": True}  # fmt: skip


def _from_graphml(path: Path, file: str) -> nx.DiGraph:
    """A GraphML file whose nodes have `lat`, `lon` and whose edges have `mode` and `free_speed_mps`."""
    try:
        raw = nx.read_graphml(path)
    except Exception as exc:  # networkx raises several unrelated types for malformed XML
        raise ScenarioError.single(file, "", f"cannot read GraphML: {exc}") from None
    problems: list[Problem] = []
    graph = nx.DiGraph(name=path.stem, title=raw.graph.get("title", path.stem),
                       attribution=raw.graph.get("attribution", ""), sources=(), source_file=file)  # fmt: skip
    for n, data in raw.nodes(data=True):
        where = f"node {n}"
        attrs = {**_GRAPHML_NODE_DEFAULTS, **data}
        point = _point((attrs.get("lon"), attrs.get("lat")))
        if point is None:
            problems.append(Problem(file, where, "needs numeric lat and lon"))
            continue
        if attrs["kind"] not in NODE_KINDS:
            problems.append(Problem(file, f"{where}.kind", f"unknown node kind {attrs['kind']!r}"))
        attrs["lon"], attrs["lat"] = point
        graph.add_node(str(n), **attrs)
    for u, v, data in raw.edges(data=True):
        where = f"edge {u}->{v}"
        attrs = {**_GRAPHML_EDGE_DEFAULTS, **data}
        if str(u) not in graph or str(v) not in graph:
            continue
        a, b = graph.nodes[str(u)], graph.nodes[str(v)]
        chord = haversine_m(a["lon"], a["lat"], b["lon"], b["lat"])
        attrs.setdefault("length_m", chord)
        if attrs.get("mode") not in EDGE_MODES:
            problems.append(Problem(file, f"{where}.mode", f"must be one of {sorted(EDGE_MODES)}"))
        if not isinstance(attrs.get("free_speed_mps"), int | float) or attrs["free_speed_mps"] <= 0:
            problems.append(Problem(file, f"{where}.free_speed_mps", "must be a number > 0"))
        attrs["geometry"] = ((a["lon"], a["lat"]), (b["lon"], b["lat"]))
        graph.add_edge(str(u), str(v), **attrs)
        if not raw.is_directed():
            graph.add_edge(str(v), str(u), **{**attrs, "geometry": attrs["geometry"][::-1]})
    if problems:
        raise ScenarioError(problems)
    graph.graph["bbox"] = graph_bbox(graph)
    return graph


# --------------------------------------------------------------------------------------------- queries


def mode_subgraph(graph: nx.DiGraph, modes: Iterable[str]) -> nx.DiGraph:
    """The edges of the given modes, with their end nodes (a read-only view)."""
    wanted = frozenset(modes)
    return graph.edge_subgraph([(u, v) for u, v, m in graph.edges(data="mode") if m in wanted])


def walkways(graph: nx.DiGraph) -> nx.Graph:
    """The pedestrian edges as an undirected graph weighted by `length_m` (distances on foot)."""
    walk = nx.Graph()
    for u, v, data in graph.edges(data=True):
        if data["mode"] in PEDESTRIAN_MODES:
            walk.add_edge(u, v, length_m=data["length_m"])
    return walk


def nodes_of_kind(graph: nx.DiGraph, *kinds: str) -> list[str]:
    """The ids of nodes of any of the given kinds, in file order."""
    return [n for n, k in graph.nodes(data="kind") if k in kinds]


@dataclass(frozen=True)
class GraphSummary:
    """What `yiwang graph NAME` prints: counts by kind and mode, lengths, extent."""

    name: str
    title: str
    nodes: int
    edges: int
    nodes_by_kind: dict[str, int]
    edges_by_mode: dict[str, int]
    km_by_mode: dict[str, float]
    bbox: tuple[float, float, float, float]
    attribution: str = ""
    sources: tuple[str, ...] = field(default=())
    #: Per network ("walking": walk and stair edges; "road": road and tunnel edges, strongly connected): its nodes,
    #: the parts it falls into (places in different parts cannot reach each other) and the largest part's nodes.
    networks: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        min_lon, min_lat, max_lon, max_lat = self.bbox
        width_km = haversine_m(min_lon, (min_lat + max_lat) / 2, max_lon, (min_lat + max_lat) / 2) / 1000
        height_km = haversine_m(min_lon, min_lat, min_lon, max_lat) / 1000
        out = [
            f"{self.name}: {self.title}",
            f"  {self.nodes} nodes, {self.edges} directed edges",
            f"  bbox: lon {min_lon:.4f}..{max_lon:.4f}, lat {min_lat:.4f}..{max_lat:.4f}"
            f" ({width_km:.1f} km x {height_km:.1f} km)",
            "  nodes by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(self.nodes_by_kind.items())),
            "  edges by mode (directed count, one-direction length):",
        ]
        for mode in sorted(self.edges_by_mode):
            out.append(f"    {mode:<7} {self.edges_by_mode[mode]:>5}  {self.km_by_mode[mode]:8.2f} km")
        for network, (nodes, parts, largest) in self.networks.items():
            if parts > 1:
                out.append(f"  {network} network: {nodes} nodes in {parts} parts (the largest {largest}); places in "
                           "different parts cannot reach each other")  # fmt: skip
        if self.attribution:
            out.append(f"  {self.attribution}")
        return out


def summarise(graph: nx.DiGraph) -> GraphSummary:
    """Counts by node kind and edge mode, total lengths (each undirected way counted once), bounding box."""
    kinds = Counter(k for _, k in graph.nodes(data="kind"))
    modes: Counter[str] = Counter()
    km: Counter[str] = Counter()
    for u, v, d in graph.edges(data=True):
        modes[d["mode"]] += 1
        if d.get("oneway") or str(u) < str(v) or not graph.has_edge(v, u):
            km[d["mode"]] += d["length_m"] / 1000
    return GraphSummary(
        name=graph.graph.get("name", ""),
        title=graph.graph.get("title", ""),
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
        nodes_by_kind=dict(kinds),
        edges_by_mode=dict(modes),
        km_by_mode={m: round(km[m], 3) for m in modes},
        bbox=graph.graph.get("bbox") or graph_bbox(graph),
        attribution=graph.graph.get("attribution", ""),
        sources=tuple(graph.graph.get("sources", ())),
        networks={"walking": _parts(graph, PEDESTRIAN_MODES, strong=False),
                  "road": _parts(graph, VEHICLE_MODES, strong=True)},
    )


def _parts(graph: nx.DiGraph, modes: frozenset[str], *, strong: bool) -> tuple[int, int, int]:
    """Nodes, connected parts and the largest part's nodes of the network of these modes."""
    sub = mode_subgraph(graph, modes)
    found = nx.strongly_connected_components(sub) if strong else nx.weakly_connected_components(sub)
    sizes = [len(c) for c in found]
    return sub.number_of_nodes(), len(sizes), max(sizes, default=0)


def scenario_graph(scenario: Any) -> nx.DiGraph:
    """The (frozen, cached) city graph a validated scenario runs on, with the scenario's overlay applied."""
    overlay = getattr(scenario, "overlay", None)
    if overlay is None:
        return load_graph(scenario.graph)
    return _overlaid(scenario.graph, overlay)


@lru_cache(maxsize=16)
def _overlaid(ref: str, overlay: Any) -> nx.DiGraph:
    return apply_overlay(load_graph(ref), overlay, file=str(ref))
