"""Built-in city graphs: real coordinates in Shanghai, lengths that agree with them, connected where it matters."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from scenarios import ScenarioError, load_graph
from scenarios.graphs import (
    EDGE_MODES,
    NODE_KINDS,
    PEDESTRIAN_MODES,
    SHANGHAI_BBOX,
    VEHICLE_MODES,
    builtin_graph_dir,
    builtin_graph_names,
    haversine_m,
    mode_subgraph,
    nodes_of_kind,
    summarise,
)

NAMES = builtin_graph_names()

#: Node kinds that must all be mutually reachable on foot, and by road, in each built-in graph.
WALK_CONNECTED = {
    "disney": ("zone", "exit", "test_site", "bus_bay", "metro", "parking"),
    "bund": ("entrance", "metro_exit", "square", "promenade", "viewing_area", "stair"),
}
ROAD_CONNECTED = {
    "disney": ("depot", "district_centre", "destination", "bus_bay"),
    "crossings": ("bank_area", "tunnel_portal"),
}


def test_the_three_builtin_graphs_ship():
    """Disney, the Bund and the Huangpu crossings are built in."""
    assert {"disney", "bund", "crossings"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_nodes_lie_in_their_bbox_inside_shanghai(name):
    """Every node lies inside the graph's declared bounding box, which lies inside Shanghai."""
    g = load_graph(name)
    min_lon, min_lat, max_lon, max_lat = g.graph["bbox"]
    s_min_lon, s_min_lat, s_max_lon, s_max_lat = SHANGHAI_BBOX
    assert s_min_lon <= min_lon < max_lon <= s_max_lon and s_min_lat <= min_lat < max_lat <= s_max_lat
    for n, d in g.nodes(data=True):
        assert min_lon <= d["lon"] <= max_lon and min_lat <= d["lat"] <= max_lat, n


@pytest.mark.parametrize("name", NAMES)
def test_edge_lengths_agree_with_coordinates(name):
    """Each edge is at least the great-circle distance between its ends and at most three times it."""
    g = load_graph(name)
    for u, v, d in g.edges(data=True):
        chord = haversine_m(g.nodes[u]["lon"], g.nodes[u]["lat"], g.nodes[v]["lon"], g.nodes[v]["lat"])
        assert d["length_m"] >= chord - 1.0, (u, v)
        assert d["length_m"] <= 3 * chord + 25.0, (u, v, d["length_m"], chord)


@pytest.mark.parametrize("name", NAMES)
def test_attributes_are_complete_and_sane(name):
    """Kinds and modes come from the vocabulary; speeds are positive; people walk only where there is width."""
    g = load_graph(name)
    assert {k for _, k in g.nodes(data="kind")} <= NODE_KINDS
    for u, v, d in g.edges(data=True):
        assert d["mode"] in EDGE_MODES
        assert 0 < d["free_speed_mps"] < 40, (u, v)
        if d["mode"] in PEDESTRIAN_MODES:
            assert d["width_m"] > 0 and d["free_speed_mps"] < 3, (u, v)
        if d["mode"] in VEHICLE_MODES:
            assert d["lanes"] >= 1, (u, v)


@pytest.mark.parametrize("name", NAMES)
def test_osm_derived_graphs_carry_attribution(name):
    """A graph with any OpenStreetMap-sourced node says '© OpenStreetMap contributors'."""
    g = load_graph(name)
    if any("OSM" in str(d.get("source", "")) for _, d in g.nodes(data=True)):
        assert "OpenStreetMap contributors" in g.graph["attribution"]


@pytest.mark.parametrize(("name", "kinds"), sorted(WALK_CONNECTED.items()))
def test_walking_network_connects_the_places_people_use(name, kinds):
    """On foot, every place of the listed kinds reaches every other."""
    _strongly_connected(load_graph(name), PEDESTRIAN_MODES, kinds)


@pytest.mark.parametrize(("name", "kinds"), sorted(ROAD_CONNECTED.items()))
def test_road_network_connects_the_places_vehicles_use(name, kinds):
    """By road (and tunnel), every place of the listed kinds reaches every other."""
    _strongly_connected(load_graph(name), VEHICLE_MODES, kinds)


def _strongly_connected(g: nx.DiGraph, modes, kinds) -> None:
    sub = mode_subgraph(g, modes)
    places = nodes_of_kind(g, *kinds)
    assert places
    missing = [p for p in places if p not in sub]
    assert not missing, f"not on the {sorted(modes)} network: {missing}"
    comp = next(c for c in nx.strongly_connected_components(sub) if places[0] in c)
    assert not [p for p in places if p not in comp]


def test_crossings_have_ferries_and_four_tunnels():
    """The Huangpu crossings graph has ferry lines between piers and at least four road tunnels."""
    s = summarise(load_graph("crossings"))
    assert s.edges_by_mode.get("ferry", 0) >= 2 * 4
    assert s.nodes_by_kind.get("tunnel_portal", 0) >= 8


def test_loaded_graphs_are_read_only():
    """A cached graph cannot be changed by accident."""
    g = load_graph(NAMES[0])
    with pytest.raises(nx.NetworkXError):
        g.add_node("intruder")


def test_malformed_graph_files_name_the_feature(tmp_path):
    """A graph file with bad features reports each with its position and field."""
    doc = json.loads((builtin_graph_dir() / "bund.geojson").read_text(encoding="utf-8"))
    first_edge = next(i for i, f in enumerate(doc["features"]) if f["geometry"]["type"] == "LineString")
    doc["features"][first_edge]["properties"]["mode"] = "hovercraft"
    doc["features"][first_edge]["properties"]["v"] = "nowhere"
    doc["features"][0]["properties"]["kind"] = "castle"
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError) as info:
        load_graph(path)
    found = [str(p) for p in info.value.problems]
    assert "bad.geojson: features[0].properties.kind: unknown node kind 'castle'" in found
    assert f"bad.geojson: features[{first_edge}].properties.v: unknown node 'nowhere'" in found


def test_osm_extract_loads_through_osmnx():
    """The real OSM extract of central Huangpu (shared/ beside the checkout) loads with Yiwang's attributes."""
    osm = Path(__file__).resolve().parents[2] / "shared" / "data" / "raw" / "osm" / "shanghai-huangpu-central-drive.osm"
    assert osm.exists(), f"expected the shared OSM extract at {osm}"
    g = load_graph(osm)
    assert g.number_of_nodes() > 400
    assert {d["mode"] for *_, d in g.edges(data=True)} <= {"road", "tunnel"}
    assert any(d["mode"] == "tunnel" for *_, d in g.edges(data=True))
    assert "OpenStreetMap contributors" in g.graph["attribution"]
    for u, v, d in g.edges(data=True):
        chord = haversine_m(g.nodes[u]["lon"], g.nodes[u]["lat"], g.nodes[v]["lon"], g.nodes[v]["lat"])
        assert d["length_m"] >= chord - 1.0
