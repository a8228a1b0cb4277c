"""Built-in city graphs: real coordinates in Shanghai, lengths that agree with them, connected where it matters."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest
import yaml

import scenarios
from scenarios import ScenarioError, load_graph
from scenarios.graphs import (
    EDGE_MODES,
    NODE_KINDS,
    PEDESTRIAN_MODES,
    SHANGHAI_BBOX,
    VEHICLE_MODES,
    builtin_graph_dir,
    builtin_graph_names,
    builtin_osm_dir,
    haversine_m,
    mode_subgraph,
    nodes_of_kind,
    summarise,
)
from scenarios.loading import builtin_scenario_dir, builtin_scenario_names, load_scenario
from scenarios.schema import node_refs

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


#: What each built-in graph file holds, counted from its GeoJSON: nodes (Point features) by `kind`, and directed
#: edges by `mode` (each LineString feature is two directed edges, one if `oneway`). bund: 116 points, 177 two-way
#: and 4 one-way lines (2 * 177 + 4 = 358); crossings: 56 points, 70 two-way and 4 one-way (144); disney: 103
#: points, 123 two-way lines (246).
EXPECTED = {
    "bund": (116, 358,
             {"entrance": 9, "junction": 71, "metro": 2, "metro_exit": 8, "pier": 1, "plaza": 2, "promenade": 11,
              "square": 1, "stair": 6, "viewing_area": 4, "zone": 1},
             {"road": 48, "stair": 14, "walk": 296}),
    "crossings": (56, 144, {"bank_area": 9, "junction": 28, "pier": 9, "tunnel_portal": 10},
                  {"ferry": 10, "road": 124, "tunnel": 10}),
    "disney": (103, 246,
               {"bus_bay": 8, "depot": 3, "destination": 8, "district_centre": 4, "exit": 3, "junction": 22,
                "metro": 1, "parking": 2, "plaza": 3, "test_site": 40, "zone": 9},
               {"road": 102, "tunnel": 2, "walk": 142}),
}  # fmt: skip


def _features(name: str) -> tuple[list[dict], list[dict]]:
    """The raw Point and LineString features of a built-in graph file (read without the loader)."""
    doc = json.loads((builtin_graph_dir() / f"{name}.geojson").read_text(encoding="utf-8"))
    points = [f for f in doc["features"] if f["geometry"]["type"] == "Point"]
    lines = [f for f in doc["features"] if f["geometry"]["type"] == "LineString"]
    return points, lines


def test_the_builtin_graphs_ship():
    """Disney, the Bund, the Huangpu crossings and the central-Huangpu OpenStreetMap extract are built in, and
    nothing else."""
    assert sorted(NAMES) == sorted([*EXPECTED, "huangpu_central"])


def test_the_osm_extract_is_inside_the_project_with_its_source_note():
    """The central-Huangpu extract ships in the package, byte for byte the file its source note describes, with
    the ODbL and the attribution it requires (nothing is read from outside the repository)."""
    osm = builtin_osm_dir() / "huangpu_central.osm"
    note = (builtin_osm_dir() / "SOURCE.txt").read_text(encoding="utf-8")
    assert osm.is_relative_to(Path(scenarios.__file__).parent)
    assert hashlib.sha256(osm.read_bytes()).hexdigest() in note
    assert f"{osm.stat().st_size:,} bytes" in note
    assert "Open Database License (ODbL) 1.0" in note and "© OpenStreetMap contributors" in note


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_of_nodes_by_kind_and_edges_by_mode(name):
    """Each built-in graph has exactly the nodes by kind and directed edges by mode that its file describes."""
    g = load_graph(name)
    nodes, edges, kinds, modes = EXPECTED[name]
    assert (g.number_of_nodes(), g.number_of_edges()) == (nodes, edges)
    assert Counter(k for _, k in g.nodes(data="kind")) == kinds
    assert Counter(m for *_, m in g.edges(data="mode")) == modes
    points, lines = _features(name)
    assert len(points) == nodes and 2 * len(lines) - sum(bool(f["properties"].get("oneway")) for f in lines) == edges


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_feature_is_loaded_as_written(name):
    """Each Point is a node at its coordinates with its kind; each LineString is an edge u -> v (and v -> u unless
    one-way) of its mode, with a positive length equal to the file's `length_m` where it gives one."""
    g = load_graph(name)
    points, lines = _features(name)
    for f in points:
        p, (lon, lat) = f["properties"], f["geometry"]["coordinates"][:2]
        d = g.nodes[p["id"]]
        assert (d["lon"], d["lat"], d["kind"]) == (lon, lat, p.get("kind", "junction")), p["id"]
    for f in lines:
        p = f["properties"]
        ways = [(p["u"], p["v"])] + ([] if p.get("oneway") else [(p["v"], p["u"])])
        if p.get("oneway"):
            assert not g.has_edge(p["v"], p["u"]) or g.edges[p["v"], p["u"]].get("oneway"), (p["u"], p["v"])
        for u, v in ways:
            d = g.edges[u, v]
            assert d["mode"] == p["mode"] and d["length_m"] > 0, (u, v)
            if "length_m" in p:
                assert d["length_m"] == p["length_m"], (u, v)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_edge_geometry_lies_in_the_bbox(name):
    """Every point of every edge's drawn line lies inside the graph's bounding box."""
    g = load_graph(name)
    min_lon, min_lat, max_lon, max_lat = g.graph["bbox"]
    for u, v, geom in g.edges(data="geometry"):
        assert all(min_lon <= lon <= max_lon and min_lat <= lat <= max_lat for lon, lat in geom), (u, v)


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


#: The places each built-in scenario names, read from its YAML, and the node kinds they must be (by what the
#: model does there: visitors wait in zones and are swabbed at test sites, buses leave depots and load at bays,
#: crowds enter at entrances and metro exits and watch from viewing places, riders cross between bank areas).
ANY = None
PLACES = {
    "disney_mass_testing": [
        ("population.zones[].node", {"zone"}), ("population.parking[]", {"parking"}),
        ("testing.sites[].node", {"test_site"}), ("resources.testers.*.centre", {"district_centre"}),
        ("resources.buses.depots[].node", {"depot"}), ("resources.buses.bays[]", {"bus_bay"}),
        ("resources.buses.destinations.*key", {"destination"}), ("metro.station", {"metro"}),
    ],
    "bund_light_show": [
        ("demand.origins.*key", {"entrance", "metro_exit"}),
        ("demand.destinations.*key", {"viewing_area", "square", "plaza", "zone"}),
        ("exits[]", {"entrance", "metro_exit"}), ("staff.*.base", ANY),
        ("crush.places.*key", {"stair", "promenade", "junction", "viewing_area", "square", "plaza"}),
        ("count_area[]", ANY),  # the police's counting boundary: any place people stand or walk
    ],
    "bund_new_year_2014": [
        ("demand.origins.*key", {"entrance", "metro_exit"}),
        # People stand along the promenade too (its standing room, the scenario's overlay).
        ("demand.destinations.*key", {"viewing_area", "square", "plaza", "zone", "promenade"}),
        ("exits[]", {"entrance", "metro_exit"}), ("staff.*.base", ANY),
        ("crush.places.*key", {"stair", "promenade", "junction", "viewing_area", "square", "plaza"}),
    ],
    "huangpu_typhoon": [
        ("ferries.*.piers[]", {"pier"}), ("tunnels.*.portals[]", {"tunnel_portal"}),
        ("tunnels.*.holding_points[]", {"junction"}),
        ("riders.flows[].origin", {"bank_area"}), ("riders.flows[].destination", {"bank_area"}),
    ],
}  # fmt: skip


def _at(doc, path: str) -> list[str]:
    """The node ids at a path of the raw document: `a.b` a field, `x[]` every item, `*` every value, `*key` every
    key of a mapping."""
    found = [doc]
    for step in path.split("."):
        nxt = []
        for node in found:
            if step == "*key":
                nxt += list(node)
            elif step == "*":
                nxt += list(node.values())
            elif step.endswith("[]"):
                nxt += list(node.get(step[:-2]) or [])
            else:
                nxt += [node[step]] if step in node else []
        found = nxt
    return found


@pytest.mark.parametrize("scenario", sorted(PLACES))
def test_the_places_each_builtin_scenario_names_exist_with_the_right_kind(scenario):
    """Every place a built-in scenario names is a node of its graph of the kind the model needs there, and the
    table above misses none of the scenario's node references."""
    assert sorted(PLACES) == sorted(builtin_scenario_names())
    doc = yaml.safe_load((builtin_scenario_dir() / f"{scenario}.yaml").read_text(encoding="utf-8"))
    g = load_graph(doc["graph"])
    named = set()
    for path, kinds in PLACES[scenario]:
        ids = _at(doc, path)
        assert ids, f"{scenario}: nothing at {path}"
        for node in ids:
            assert node in g, f"{scenario}: {path}: {node!r} is not in graph {doc['graph']!r}"
            assert kinds is ANY or g.nodes[node]["kind"] in kinds, (path, node, g.nodes[node]["kind"])
        named |= set(ids)
    assert {node for _, node, _ in node_refs(load_scenario(scenario))} <= named


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
    """A graph file with bad features reports each with its position and field, naming the file by the path the
    user gave."""
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
    assert f"{path}: features[0].properties.kind: unknown node kind 'castle'" in found
    assert f"{path}: features[{first_edge}].properties.v: unknown node 'nowhere'" in found


def test_osm_extract_loads():
    """The real OSM extract of central Huangpu, built in by name, loads with Yiwang's attributes."""
    g = load_graph("huangpu_central")
    assert g.number_of_nodes() > 400
    assert {d["mode"] for *_, d in g.edges(data=True)} == {"road", "tunnel", "walk"}
    assert any(d["mode"] == "tunnel" for *_, d in g.edges(data=True))
    assert "OpenStreetMap contributors" in g.graph["attribution"]
    for u, v, d in g.edges(data=True):
        chord = haversine_m(g.nodes[u]["lon"], g.nodes[u]["lat"], g.nodes[v]["lon"], g.nodes[v]["lat"])
        assert d["length_m"] >= chord - 1.0
