"""OpenStreetMap extracts to typed graphs: each tag read as docs/graph-format.md says, checked by hand on a made-up
town (tests/data/osm/own_town.osm) and against OSMnx's reading of the built-in central-Huangpu extract."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest

from scenarios import ScenarioError, load_graph
from scenarios.graphs import PEDESTRIAN_MODES, builtin_osm_dir, haversine_m, mode_subgraph
from scenarios.graphs.osm import (
    ATTRIBUTION,
    LANE_WIDTH_M,
    STAIR_SPEED_MPS,
    WALK_SPEED_MPS,
    place_kind,
    road_way,
    speed_kmh,
    walk_way,
)

TOWN = Path(__file__).parent / "data" / "osm" / "own_town.osm"


@pytest.fixture(scope="module")
def town() -> nx.DiGraph:
    return load_graph(TOWN)


def test_a_two_way_primary_road_has_half_its_lanes_each_way_at_its_speed_limit(town):
    """`lanes=4` on a two-way road is 2 lanes each way; `maxspeed=60` is 60 km/h; the carriageway is 4 lanes wide."""
    for u, v in (("road_1", "road_2"), ("road_2", "road_1"), ("road_2", "road_3"), ("road_3", "road_2")):
        d = town.edges[u, v]
        assert (d["mode"], d["lanes"], d["oneway"]) == ("road", 2, False)
        assert d["free_speed_mps"] == pytest.approx(60 / 3.6)
        assert d["carriageway_m"] == 4 * LANE_WIDTH_M
    d = town.edges["road_1", "road_2"]
    assert d["length_m"] == pytest.approx(haversine_m(120.0, 30.0, 120.001, 30.0))


def test_one_way_is_honoured_both_ways_round(town):
    """`oneway=yes` gives only the drawn direction, `oneway=-1` only the reverse; a trunk road is one-way as
    tagged and `25 mph` is 40.2 km/h."""
    assert town.has_edge("road_2", "road_4") and not town.has_edge("road_4", "road_2")
    assert town.edges["road_2", "road_4"]["free_speed_mps"] == pytest.approx(20 / 3.6)  # residential default
    assert town.has_edge("road_15", "road_14") and not town.has_edge("road_14", "road_15")
    assert town.edges["road_15", "road_14"]["free_speed_mps"] == pytest.approx(25 * 1.609344 / 3.6)
    assert town.has_edge("road_7", "road_8") and not town.has_edge("road_8", "road_7")


def test_walkways_come_from_footways_steps_pedestrian_streets_and_sidewalks(town):
    """A footway has its tagged width, steps are stairs at stair speed, a pedestrian street 6 m, a road's one
    tagged sidewalk 2 m, a tertiary road two default 3 m sidewalks; all walked both ways (one-way streets too)."""
    expect = {("walk_4", "walk_5"): ("walk", 3.5), ("walk_5", "walk_3"): ("stair", 2.0),
              ("walk_5", "walk_10"): ("walk", 6.0), ("walk_2", "walk_4"): ("walk", 2.0),
              ("walk_14", "walk_15"): ("walk", 6.0), ("walk_1", "walk_2"): ("walk", 6.0),
              ("walk_1", "walk_16"): ("walk", 3.0)}  # fmt: skip
    for (u, v), (mode, width) in expect.items():
        for a, b in ((u, v), (v, u)):
            d = town.edges[a, b]
            assert (d["mode"], d["width_m"], d["lanes"]) == (mode, width, 0), (a, b)
            assert d["free_speed_mps"] == (STAIR_SPEED_MPS if mode == "stair" else WALK_SPEED_MPS)


def test_no_walkway_where_people_do_not_walk_and_no_road_where_cars_may_not_drive(town):
    """Trunk roads and tunnels have no walkway; a cycleway without `foot=yes` is neither walkway nor road; a road
    with `access=no` is no road (but is walked)."""
    assert "walk_7" not in town and "walk_8" not in town
    assert not town.has_edge("walk_3", "walk_14")
    assert not town.has_edge("walk_1", "walk_4") and not town.has_edge("road_1", "road_4")
    assert "road_16" not in town and town.has_edge("walk_16", "walk_1")
    assert Counter(m for *_, m in town.edges(data="mode"))["tunnel"] == 2


def test_tunnel_portals_are_where_a_tunnel_meets_an_open_road(town):
    """Both ends of the tunnel, where it meets open roads, are tunnel portals named after it."""
    portals = {n: d["name"] for n, d in town.nodes(data=True) if d["kind"] == "tunnel_portal"}
    assert portals == {"road_3": "River Tunnel portal", "road_14": "River Tunnel portal"}


def test_places_are_typed_from_their_tags_and_joined_to_the_network(town):
    """A subway entrance on a footway is a metro exit joined to its own walkway junction; a bus stop beside the
    road is a bus bay joined to the nearest walkway and road junctions; a square is a node at its centroid with
    its area, joined where its outline meets a walkway."""
    assert town.nodes["poi_4"]["kind"] == "metro_exit" and town.nodes["poi_4"]["name"] == "Exit A"
    assert set(town.successors("poi_4")) == {"walk_4"} and town.edges["poi_4", "walk_4"]["length_m"] == 1.0
    bay = town.nodes["poi_9"]
    assert (bay["kind"], bay["name"], bay["name_zh"]) == ("bus_bay", "Market stop", "市场站")
    assert set(town.successors("poi_9")) == {"walk_2", "road_2"}
    assert town.edges["poi_9", "road_2"]["mode"] == "road" and town.edges["road_2", "poi_9"]["lanes"] == 1
    sq = town.nodes["area_200"]
    assert sq["kind"] == "square" and (sq["lon"], sq["lat"]) == pytest.approx((120.0035, 30.0015), abs=1e-7)
    side_ew = math.radians(0.001) * 6_371_008.8 * math.cos(math.radians(30.0015))
    side_ns = math.radians(0.001) * 6_371_008.8
    assert sq["area_m2"] == pytest.approx(side_ew * side_ns, rel=2e-3)
    assert set(town.successors("area_200")) == {"walk_10"}


def test_everything_drawn_from_osm_carries_the_attribution_and_its_source(town):
    """The graph carries the OpenStreetMap attribution; every node and edge names the OSM element it came from."""
    assert town.graph["attribution"] == ATTRIBUTION and "© OpenStreetMap contributors" in ATTRIBUTION
    assert all(d["source"].startswith("OSM ") for _, d in town.nodes(data=True))
    assert all(d["source"].startswith("OSM way ") or d["source"] == "link" for *_, d in town.edges(data=True))


@pytest.mark.parametrize(
    ("tags", "kind"),
    [({"railway": "station", "station": "subway"}, "metro"), ({"public_transport": "station", "bus": "yes"}, "bus_bay"),
     ({"amenity": "ferry_terminal"}, "pier"), ({"man_made": "pier"}, "pier"), ({"amenity": "parking"}, "parking"),
     ({"highway": "pedestrian", "area": "yes"}, "square"), ({"leisure": "park"}, "zone"),
     ({"entrance": "main"}, "entrance"), ({"entrance": "emergency"}, "exit"), ({"highway": "crossing"}, None)],
)  # fmt: skip
def test_place_kinds_from_tags(tags, kind):
    """Each tag combination the mapping table lists gives its node kind; anything else is no place."""
    assert place_kind(tags) == kind


@pytest.mark.parametrize(
    ("maxspeed", "kmh"),
    [("DE:urban", 50), ("FR:rural", 80), ("GB:nsl_single", 96.56064), ("RU:urban", 60), ("DE:zone30", 30),
     ("DE:zone:20", 20), ("walk", 5), ("none", 25), ("signals", 25), ("XX:urban", 25), ("60 mph", 96.56064),
     ("30", 30)],
)  # fmt: skip
def test_maxspeed_zone_codes_of_foreign_extracts(maxspeed, kmh):
    """Implicit limits as European extracts write them (`DE:urban`) are the national limits; a code not known
    here, `none` or a word falls back to the road class's default (25 here)."""
    assert speed_kmh({"maxspeed": maxspeed}, 25) == pytest.approx(kmh)


def test_a_decimal_comma_is_a_decimal_point():
    """`width=5,5 m` (the German way of writing 5.5) is 5.5 m, not 5; a list (`lanes=2;1`) gives its first."""
    r = road_way({"highway": "residential", "width": "5,5 m", "lanes": "2;1"})
    assert r is not None and r.carriageway_m == 5.5 and (r.lanes_forward, r.lanes_backward) == (1, 1)


def test_tag_values_are_read_leniently_and_defaults_fill_the_gaps():
    """Speeds with units, lanes per direction and sidewalk widths are read from their tags; defaults otherwise."""
    assert speed_kmh({"maxspeed": "40 km/h"}, 30) == 40 and speed_kmh({"maxspeed": "CN:urban"}, 30) == 30
    r = road_way({"highway": "secondary", "lanes:forward": "3", "lanes:backward": "1"})
    assert r is not None and (r.lanes_forward, r.lanes_backward, r.speed_kmh) == (3, 1, 40)
    w = walk_way({"highway": "secondary", "sidewalk:left:width": "4", "sidewalk:right:width": "2.5"})
    assert w is not None and w.width_m == 6.5
    assert walk_way({"highway": "primary", "sidewalk": "separate"}) is None
    one_way = walk_way({"highway": "footway", "oneway:foot": "yes"})
    assert one_way is not None and (one_way.forward, one_way.backward) == (True, False)
    assert road_way({"highway": "motorway"}).lanes_backward == 0  # type: ignore[union-attr]
    assert road_way({"highway": "footway"}) is None


def test_a_way_cut_at_the_extracts_edge_keeps_the_part_it_holds(tmp_path):
    """A way naming a node the extract lacks (clipped at its boundary) keeps its runs of two or more nodes the
    extract holds."""
    cut = tmp_path / "cut.osm"
    cut.write_text("""<osm version="0.6">
  <node id="1" lon="120.000" lat="30.000"/><node id="2" lon="120.001" lat="30.000"/>
  <node id="3" lon="120.002" lat="30.000"/><node id="5" lon="120.004" lat="30.000"/>
  <way id="7"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="5"/><tag k="highway" v="footway"/></way>
</osm>""", encoding="utf-8")  # fmt: skip
    g = load_graph(cut)
    assert sorted(g.edges) == [("walk_1", "walk_3"), ("walk_3", "walk_1")]
    assert g.edges["walk_1", "walk_3"]["length_m"] == pytest.approx(2 * haversine_m(120.0, 30.0, 120.001, 30.0))


def test_a_park_mapped_as_a_multipolygon_is_one_place_with_its_area(tmp_path):
    """A multipolygon park whose outer ring is two ways (one drawn the other way round) is one `zone` at the ring's
    centroid with the ring's area (the inner way, a pond, not subtracted), joined where a footway touches it."""
    park = tmp_path / "park.osm"
    park.write_text("""<osm version="0.6">
  <node id="1" lon="120.000" lat="30.000"/><node id="2" lon="120.002" lat="30.000"/>
  <node id="3" lon="120.002" lat="30.001"/><node id="4" lon="120.000" lat="30.001"/>
  <node id="5" lon="120.001" lat="29.999"/>
  <node id="6" lon="120.0005" lat="30.0002"/><node id="7" lon="120.0008" lat="30.0002"/>
  <node id="8" lon="120.0008" lat="30.0005"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/></way>
  <way id="11"><nd ref="1"/><nd ref="4"/><nd ref="3"/></way>
  <way id="12"><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="6"/></way>
  <way id="13"><nd ref="5"/><nd ref="2"/><tag k="highway" v="footway"/></way>
  <relation id="900"><member type="way" ref="10" role="outer"/><member type="way" ref="11" role="outer"/>
    <member type="way" ref="12" role="inner"/>
    <tag k="type" v="multipolygon"/><tag k="leisure" v="park"/><tag k="name" v="Riverside Park"/></relation>
</osm>""", encoding="utf-8")  # fmt: skip
    g = load_graph(park)
    d = g.nodes["area_r900"]
    assert (d["kind"], d["name"], d["source"]) == ("zone", "Riverside Park", "OSM relation 900")
    assert (d["lon"], d["lat"]) == pytest.approx((120.001, 30.0005), abs=1e-7)
    side_ew = math.radians(0.002) * 6_371_008.8 * math.cos(math.radians(30.0005))
    assert d["area_m2"] == pytest.approx(side_ew * math.radians(0.001) * 6_371_008.8, rel=2e-3)
    assert set(g.successors("area_r900")) == {"walk_2"}


def test_a_broken_extract_is_named_by_the_path_given(tmp_path):
    """A file that is not OSM XML is refused with the path as given and where the XML breaks."""
    bad = tmp_path / "city.osm"
    bad.write_text("<osm><node id='1' lon='1' lat='2'>\n<way", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_graph(bad)
    assert str(info.value).startswith(f"{bad}: line 2, column")


def test_the_builtin_extract_is_walkable_along_its_roads():
    """Central Huangpu maps no footways, so its walkways run along the roads that have sidewalks by class: every
    walkway is an OSM road's, the largest walking area holds most of the junctions (the extract is clipped and holds
    pieces of road joined to nothing else), and no motorway or trunk road nor tunnel has one."""
    g = load_graph("huangpu_central")
    walk = mode_subgraph(g, PEDESTRIAN_MODES)
    assert {d["highway"].removesuffix("_link") for *_, d in walk.edges(data=True)} <= {
        "primary", "secondary", "tertiary", "residential", "unclassified", "living_street", "service"}
    biggest = max(nx.weakly_connected_components(walk), key=len)
    assert len(biggest) > 0.7 * sum(1 for n in g if n.startswith("walk_"))
    portals = sorted({g.nodes[n]["name"] for n, k in g.nodes(data="kind") if k == "tunnel_portal"})
    assert portals == sorted(["人民路隧道 portal", "外滩隧道 portal", "复兴东路 portal", "延安东路隧道 portal"])


def test_the_builtin_extracts_roads_are_what_osmnx_reads_there():
    """The road network's directed length equals OSMnx's reading of the same file (each directed pair of adjacent
    nodes once), less the three ways tagged access=no, to within the one pair of parallel ways kept once."""
    osmnx = pytest.importorskip("osmnx")
    from scenarios.graphs.osm import read_osm

    path = builtin_osm_dir() / "huangpu_central.osm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = osmnx.graph_from_xml(path, simplify=False, retain_all=True)
    closed = {w.id for w in read_osm(path, "x").ways if w.tags.get("access") == "no"}
    pairs = {(u, v): d["length"] for u, v, d in raw.edges(data=True) if d["osmid"] not in closed}
    g = load_graph("huangpu_central")
    mine = sum(d["length_m"] for *_, d in g.edges(data=True) if d["mode"] in ("road", "tunnel"))
    assert mine == pytest.approx(sum(pairs.values()), rel=2e-3)
