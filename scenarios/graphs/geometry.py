"""The vocabulary of city graphs (node kinds, edge modes) and the geometry they are measured with."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import TypedDict

import networkx as nx

NODE_KINDS = frozenset(
    {
        "junction", "square", "plaza", "zone", "promenade", "stair", "viewing_area", "entrance", "exit",
        "metro", "metro_exit", "pier", "tunnel_portal", "test_site", "bus_bay", "depot", "district_centre",
        "destination", "bank_area", "parking",
    }
)  # fmt: skip
EDGE_MODES = frozenset({"walk", "stair", "road", "tunnel", "ferry", "metro"})
PEDESTRIAN_MODES = frozenset({"walk", "stair"})
VEHICLE_MODES = frozenset({"road", "tunnel"})


class EdgeData(TypedDict, total=False):
    """The attributes of an edge that travel times are weighed by (what a weight function gets as `data`)."""

    mode: str
    length_m: float
    free_speed_mps: float
    width_m: float

#: Shanghai's administrative extent, generously: every built-in graph lies inside it.
SHANGHAI_BBOX = (120.85, 30.66, 122.12, 31.88)

EARTH_RADIUS_M = 6_371_008.8
ENDPOINT_TOLERANCE_M = 5.0
ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,80}")


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def polyline_length_m(points: Sequence[tuple[float, float]]) -> float:
    """Length in metres of a `(lon, lat)` polyline along great circles."""
    return sum(haversine_m(*a, *b) for a, b in itertools.pairwise(points))


def graph_bbox(graph: nx.DiGraph) -> tuple[float, float, float, float]:
    """`(min_lon, min_lat, max_lon, max_lat)` of the graph's nodes."""
    lons = [d["lon"] for _, d in graph.nodes(data=True)]
    lats = [d["lat"] for _, d in graph.nodes(data=True)]
    if not lons:
        return (0.0, 0.0, 0.0, 0.0)
    return (min(lons), min(lats), max(lons), max(lats))
