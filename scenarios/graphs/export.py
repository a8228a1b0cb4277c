"""Find your way in a city graph: its nodes by kind or by distance from a point, and the graph as GeoJSON.

`node_rows` is what `yiwang graph FILE --nodes [--kind K] [--near LON,LAT]` lists; `to_geojson` is what
`yiwang graph FILE --out FILE.geojson` writes: the format `load_graph` reads (docs/graph-format.md), so an export
loads back as the same graph, with the attribution of the data it was drawn from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from scenarios.graphs.geometry import haversine_m

#: Edge attributes a GeoJSON feature carries (what the GeoJSON reader reads back), besides `u`, `v`, `oneway`.
EDGE_FIELDS = ("mode", "length_m", "width_m", "lanes", "free_speed_mps", "carriageway_m", "name")
#: Node attributes a GeoJSON feature carries besides `id`.
NODE_FIELDS = ("kind", "name", "name_zh", "area_m2", "quality", "source")


@dataclass(frozen=True)
class NodeRow:
    """One node as `--nodes` lists it: id, kind, names, where, which modes reach it, and how far from a point."""

    id: str
    kind: str
    name: str
    name_zh: str
    lon: float
    lat: float
    area_m2: float
    modes: tuple[str, ...]
    distance_m: float | None = None

    def line(self) -> str:
        far = f"  {self.distance_m:7.0f} m" if self.distance_m is not None else ""
        names = self.name if not self.name_zh or self.name_zh == self.name else f"{self.name} / {self.name_zh}"
        area = f"  {self.area_m2:,.0f} m²" if self.area_m2 else ""
        return (f"{self.id:<22} {self.kind:<14} {self.lon:.6f},{self.lat:.6f}{far}  [{'/'.join(self.modes)}]"
                f"  {names}{area}")  # fmt: skip


def node_rows(graph: nx.DiGraph, *, kinds: Iterable[str] = (), near: tuple[float, float] | None = None,
              limit: int | None = None) -> list[NodeRow]:  # fmt: skip
    """The graph's nodes (of the given kinds, if any), in file order, or nearest first from `near` (lon, lat)."""
    wanted = set(kinds)
    rows = []
    for n, d in graph.nodes(data=True):
        if wanted and d["kind"] not in wanted:
            continue
        modes = {m for *_, m in graph.out_edges(n, data="mode")} | {m for *_, m in graph.in_edges(n, data="mode")}
        far = haversine_m(near[0], near[1], d["lon"], d["lat"]) if near is not None else None
        rows.append(NodeRow(id=str(n), kind=d["kind"], name=str(d.get("name", "")), name_zh=str(d.get("name_zh", "")),
                            lon=d["lon"], lat=d["lat"], area_m2=float(d.get("area_m2", 0.0)),
                            modes=tuple(sorted(modes)), distance_m=far))  # fmt: skip
    if near is not None:
        rows.sort(key=lambda r: (r.distance_m, r.id))
    return rows[:limit] if limit is not None else rows


def parse_point(text: str) -> tuple[float, float]:
    """`"LON,LAT"` in degrees as a pair; `ValueError` saying what is wrong otherwise."""
    parts = text.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"expected LON,LAT in degrees, e.g. 121.4750,31.2330 (got {text!r})") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"{text!r} is not a point: longitude -180..180, latitude -90..90")
    return lon, lat


def _edge_props(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in EDGE_FIELDS if k in data}


def to_geojson(graph: nx.DiGraph) -> dict[str, Any]:
    """The graph as a Yiwang GeoJSON FeatureCollection: a Point per node and a LineString per way (both directions
    in one feature where they are alike, else one `oneway` feature per direction), with the graph's attribution."""
    meta = {
        "name": graph.graph.get("name", ""),
        "title": graph.graph.get("title", ""),
        "attribution": graph.graph.get("attribution", ""),
        "sources": list(graph.graph.get("sources", ())),
    }
    if graph.graph.get("bbox"):
        meta["bbox"] = [round(b, 7) for b in graph.graph["bbox"]]
    features: list[dict[str, Any]] = []
    for n, d in graph.nodes(data=True):
        props = {"id": n, **{k: d[k] for k in NODE_FIELDS if k in d}}
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [d["lon"], d["lat"]]},
                         "properties": props})  # fmt: skip
    done: set[tuple[str, str]] = set()
    for u, v, d in graph.edges(data=True):
        if (u, v) in done:
            continue
        props = _edge_props(d)
        back = graph.get_edge_data(v, u)
        mirrored = back is not None and tuple(back["geometry"]) == tuple(d["geometry"])[::-1]
        two_way = mirrored and _edge_props(back) == props
        done.add((u, v))
        if two_way:
            done.add((v, u))
        features.append({"type": "Feature",
                         "geometry": {"type": "LineString", "coordinates": [list(p) for p in d["geometry"]]},
                         "properties": {"u": u, "v": v, **props, "oneway": not two_way}})  # fmt: skip
    return {"type": "FeatureCollection", "yiwang": meta, "features": features}
