"""City graphs with real coordinates: load, find your way in, export, overlay.

A city graph is a `networkx.DiGraph` whose nodes carry `lat`, `lon` (WGS-84), `kind`, `area_m2`, `name` and whose
edges carry `length_m`, `width_m`, `lanes` (per direction), `mode`, `free_speed_mps`, `name` and the drawn
`geometry` (a tuple of `(lon, lat)` points). The formats are described in `docs/graph-format.md`: the built-in
graphs are GeoJSON files and an OpenStreetMap extract shipped inside this package; a user can load GeoJSON,
GraphML with the same attributes, or an OpenStreetMap `.osm` extract of their own city (`scenarios.graphs.osm`).

- `geometry`: the vocabulary (node kinds, edge modes) and distances;
- `core`: loading by name or path (frozen, cached), queries and the summary;
- `osm`: OpenStreetMap XML to a typed graph, tag by tag.
"""

from scenarios.graphs.core import (
    GraphSummary,
    builtin_graph_dir,
    builtin_graph_names,
    builtin_osm_dir,
    load_graph,
    mode_subgraph,
    nodes_of_kind,
    resolve_graph_path,
    scenario_graph,
    summarise,
    walkways,
)
from scenarios.graphs.geometry import (
    EARTH_RADIUS_M,
    EDGE_MODES,
    ENDPOINT_TOLERANCE_M,
    NODE_KINDS,
    PEDESTRIAN_MODES,
    SHANGHAI_BBOX,
    VEHICLE_MODES,
    EdgeData,
    graph_bbox,
    haversine_m,
    polyline_length_m,
)

__all__ = [
    "EARTH_RADIUS_M", "EDGE_MODES", "ENDPOINT_TOLERANCE_M", "NODE_KINDS", "PEDESTRIAN_MODES", "SHANGHAI_BBOX",
    "VEHICLE_MODES", "EdgeData", "GraphSummary", "builtin_graph_dir", "builtin_graph_names", "builtin_osm_dir",
    "graph_bbox", "haversine_m", "load_graph", "mode_subgraph", "nodes_of_kind", "polyline_length_m",
    "resolve_graph_path", "scenario_graph", "summarise", "walkways",
]  # fmt: skip
