"""Scenario overlays on an imported graph: places added and joined, nodes retyped, edges widened, made one-way,
closed or added, and every mistake named at its place in the scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios import ScenarioError, load_graph
from scenarios.graphs import PEDESTRIAN_MODES, haversine_m
from scenarios.graphs.overlay import apply_overlay
from scenarios.schema import GraphOverlay

TOWN = Path(__file__).parent / "data" / "osm" / "own_town.osm"


def overlaid(**doc):  # type: ignore[no-untyped-def]
    return apply_overlay(load_graph(TOWN), GraphOverlay.model_validate(doc), file="event.yaml")


def problems(**doc) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError) as info:
        overlaid(**doc)
    return [str(p) for p in info.value.problems]


def test_a_new_place_is_joined_to_the_nearest_walkway_junction():
    """A venue added at a point with `walk: nearest` is a node of its kind, name and area, joined both ways to the
    walking junction nearest it (as brute force finds it) by a link of the given width and straight-line length."""
    at = (120.0016, 30.0012)
    g = overlaid(nodes=[{"id": "arena", "at": at, "kind": "zone", "name": "Arena", "area_m2": 12000,
                         "walk": "nearest", "link_width_m": 10}])  # fmt: skip
    base = load_graph(TOWN)
    walkers = {n for u, v, m in base.edges(data="mode") if m in PEDESTRIAN_MODES for n in (u, v)}
    nearest = min(walkers, key=lambda n: haversine_m(*at, base.nodes[n]["lon"], base.nodes[n]["lat"]))
    assert nearest == "walk_5"
    d = g.nodes["arena"]
    assert (d["kind"], d["name"], d["area_m2"], d["lon"], d["lat"]) == ("zone", "Arena", 12000, *at)
    assert set(g.successors("arena")) == set(g.predecessors("arena")) == {nearest}
    link = g.edges["arena", nearest]
    assert (link["mode"], link["width_m"]) == ("walk", 10)
    assert link["length_m"] == pytest.approx(haversine_m(*at, base.nodes[nearest]["lon"], base.nodes[nearest]["lat"]))
    assert "arena" not in load_graph(TOWN), "the cached base graph is left as it was"


def test_nodes_are_retyped_and_edges_widened_one_wayed_closed_and_added():
    """An existing junction takes a new kind and area; a walkway a new width both ways; `oneway` leaves only u -> v;
    `closed` removes both directions; a new walk edge runs both ways at walking speed."""
    g = overlaid(
        nodes=[{"id": "walk_10", "kind": "entrance", "name": "Market gate", "area_m2": 300}],
        edges=[{"u": "walk_4", "v": "walk_5", "width_m": 8},
               {"u": "walk_5", "v": "walk_10", "oneway": True},
               {"u": "walk_1", "v": "walk_16", "closed": True},
               {"u": "walk_10", "v": "walk_15", "mode": "walk", "width_m": 5, "name": "new ramp"}],
    )  # fmt: skip
    assert (g.nodes["walk_10"]["kind"], g.nodes["walk_10"]["area_m2"]) == ("entrance", 300)
    assert g.edges["walk_4", "walk_5"]["width_m"] == g.edges["walk_5", "walk_4"]["width_m"] == 8
    assert g.has_edge("walk_5", "walk_10") and not g.has_edge("walk_10", "walk_5")
    assert not g.has_edge("walk_1", "walk_16") and not g.has_edge("walk_16", "walk_1")
    new = g.edges["walk_15", "walk_10"]
    assert (new["mode"], new["width_m"], new["free_speed_mps"], new["name"]) == ("walk", 5, 1.34, "new ramp")


def test_each_mistake_is_one_line_at_its_place():
    """An unknown kind, a new node without a point, lon and lat swapped, a point 9 km outside the graph, an edge to
    an unknown node, a new edge without a mode and a new walkway without a width are each named where they are."""
    found = problems(
        nodes=[{"id": "walk_10", "kind": "castle"}, {"id": "gate"},
               {"id": "swapped", "at": [30.0, 120.0], "kind": "entrance"},
               {"id": "far", "at": [120.1, 30.0], "kind": "entrance"}],
        edges=[{"u": "walk_4", "v": "nowhere", "width_m": 3}, {"u": "walk_4", "v": "walk_3"},
               {"u": "walk_4", "v": "walk_3", "mode": "walk"}, {"u": "walk_4", "v": "walk_3", "closed": True}],
    )  # fmt: skip
    assert found[0].startswith("event.yaml: overlay.nodes[0].kind: unknown node kind 'castle'; one of bank_area")
    assert found[1:] == [
        "event.yaml: overlay.nodes[1].id: 'gate' is not in the graph; a new node needs at: [lon, lat]",
        "event.yaml: overlay.nodes[2].at: [30, 120] is not a point: [lon, lat] in degrees, longitude first",
        "event.yaml: overlay.nodes[3].at: [120.1, 30] is 9.2 km outside the graph (lon 120.0000..120.0040, "
        "lat 29.9990..30.0030); is it [lon, lat]?",
        "event.yaml: overlay.edges[0].v: unknown node 'nowhere'",
        "event.yaml: overlay.edges[1].mode: no edge between 'walk_4' and 'walk_3': a new edge needs a mode",
        "event.yaml: overlay.edges[2].width_m: a new walk edge needs its walkable width",
        "event.yaml: overlay.edges[3]: no edge between 'walk_4' and 'walk_3' to close",
    ]
