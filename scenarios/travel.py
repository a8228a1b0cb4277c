"""Travel times and distances on a city graph, by who is moving.

- walking: walk and stair edges, at the walker's speed (stairs slower by `stair_factor`);
- driving: road and tunnel edges at their free speed;
- mixed (testers arriving by van, then on foot): driving edges at free speed, walking edges at walking speed.

Shared by the simulation (how long a trip takes) and the optimiser (what a choice costs), so that both see
the same city.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import Literal

import networkx as nx

from scenarios.graphs import PEDESTRIAN_MODES, VEHICLE_MODES, EdgeData

Mover = Literal["walk", "drive", "mixed"]


def _weight(mover: Mover, walk_speed_mps: float, stair_factor: float) -> Callable[[str, str, EdgeData], float | None]:
    def weight(_u: str, _v: str, data: EdgeData) -> float | None:
        mode = data["mode"]
        if mode in PEDESTRIAN_MODES:
            if mover == "drive":
                return None
            speed = walk_speed_mps * (stair_factor if mode == "stair" else 1.0)
            return data["length_m"] / speed
        if mode in VEHICLE_MODES:
            if mover == "walk":
                return None
            return data["length_m"] / data["free_speed_mps"]
        return None

    return weight


def time_matrix(
    graph: nx.DiGraph,
    origins: Iterable[str],
    targets: Iterable[str],
    *,
    mover: Mover,
    walk_speed_mps: float = 1.34,
    stair_factor: float = 0.5,
) -> dict[str, dict[str, float]]:
    """Seconds from each origin to each target along the fastest path (`inf` where there is none)."""
    weight = _weight(mover, walk_speed_mps, stair_factor)
    wanted = list(dict.fromkeys(targets))
    out: dict[str, dict[str, float]] = {}
    for origin in dict.fromkeys(origins):
        dist = nx.single_source_dijkstra_path_length(graph, origin, weight=weight)
        out[origin] = {t: float(dist.get(t, math.inf)) for t in wanted}
    return out


def distance_matrix(
    graph: nx.DiGraph,
    origins: Iterable[str],
    targets: Iterable[str],
    *,
    mover: Mover,
    walk_speed_mps: float = 1.34,
) -> dict[str, dict[str, float]]:
    """Metres along the *fastest* path from each origin to each target (`inf` where there is none)."""
    weight = _weight(mover, walk_speed_mps, 0.5)
    wanted = list(dict.fromkeys(targets))
    out: dict[str, dict[str, float]] = {}
    for origin in dict.fromkeys(origins):
        _, paths = nx.single_source_dijkstra(graph, origin, weight=weight)
        row = {}
        for t in wanted:
            path = paths.get(t)
            row[t] = (
                math.inf
                if path is None
                else float(sum(graph.edges[a, b]["length_m"] for a, b in itertools.pairwise(path)))
            )
        out[origin] = row
    return out


def path_length_m(graph: nx.DiGraph, origin: str, target: str, *, mover: Mover, walk_speed_mps: float = 1.34) -> float:
    """Metres along the fastest path for this mover (`inf` if unreachable)."""
    weight = _weight(mover, walk_speed_mps, 0.5)
    try:
        path = nx.dijkstra_path(graph, origin, target, weight=weight)
    except nx.NetworkXNoPath:
        return math.inf
    return float(sum(graph.edges[a, b]["length_m"] for a, b in itertools.pairwise(path)))


def nearest(matrix: dict[str, dict[str, float]], origin: str) -> str:
    """The target nearest to `origin` in a time matrix (ties by name, for determinism)."""
    row = matrix[origin]
    return min(row, key=lambda t: (row[t], t))
