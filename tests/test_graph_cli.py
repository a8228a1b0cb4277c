"""Finding your way in a city graph from the command line: `yiwang graph FILE [--nodes] [--kind K] [--near LON,LAT]
[--out FILE.geojson] [--html FILE]`, run as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from scenarios import load_graph
from scenarios.graphs import haversine_m

ROOT = Path(__file__).resolve().parents[1]
TOWN = ROOT / "tests" / "data" / "osm" / "own_town.osm"


def yiwang(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "command.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600)  # fmt: skip


def test_the_summary_lists_nodes_by_kind_and_edges_by_mode():
    """`yiwang graph FILE.osm` counts the typed places and the edges of each mode, and repeats the attribution."""
    done = yiwang("graph", str(TOWN))
    assert done.returncode == 0, done.stderr
    assert "nodes by kind: bus_bay 1, junction 15, metro_exit 1, square 1, tunnel_portal 2" in done.stdout
    assert re.search(r"stair\s+2\s", done.stdout) and re.search(r"tunnel\s+2\s", done.stdout)
    assert "© OpenStreetMap contributors" in done.stdout


def test_the_summary_says_when_a_network_falls_into_parts():
    """The town's walkways fall into two parts (the tunnel's far side is walked only along the tertiary road) and
    its roads into strongly connected parts (one-way streets), as networkx counts them."""
    done = yiwang("graph", str(TOWN))
    g = load_graph(TOWN)
    walk = g.edge_subgraph([(u, v) for u, v, m in g.edges(data="mode") if m in ("walk", "stair")])
    parts = list(nx.weakly_connected_components(walk))
    assert len(parts) == 2
    line = (f"walking network: {walk.number_of_nodes()} nodes in 2 parts (the largest {max(map(len, parts))}); "
            "places in different parts cannot reach each other")  # fmt: skip
    assert line in done.stdout


def test_nodes_of_a_kind_are_listed_with_their_ids():
    """`--nodes --kind K` lists exactly the nodes of that kind, one per line, id first."""
    done = yiwang("graph", str(TOWN), "--nodes", "--kind", "tunnel_portal", "--kind", "bus_bay")
    assert done.returncode == 0, done.stderr
    assert sorted(line.split()[0] for line in done.stdout.splitlines()) == ["poi_9", "road_14", "road_3"]
    assert "Market stop / 市场站" in done.stdout


def test_near_lists_the_nearest_nodes_first_as_brute_force_finds_them():
    """`--near LON,LAT --limit 5` gives the five nodes nearest the point, nearest first, with their distances."""
    point = (121.4750, 31.2330)
    done = yiwang("graph", "huangpu_central", "--near", "121.4750,31.2330", "--limit", "5", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    g = load_graph("huangpu_central")
    brute = sorted((haversine_m(*point, d["lon"], d["lat"]), n) for n, d in g.nodes(data=True))[:5]
    assert [r["id"] for r in rows] == [n for _, n in brute]
    assert [r["distance_m"] for r in rows] == pytest.approx([d for d, _ in brute])


def test_a_point_that_is_not_one_is_refused_with_exit_2():
    """`--near` with something that is not LON,LAT says what it expected, and exits 2."""
    done = yiwang("graph", str(TOWN), "--near", "31.2,north")
    assert done.returncode == 2
    assert done.stderr.strip() == "--near: expected LON,LAT in degrees, e.g. 121.4750,31.2330 (got '31.2,north')"


def test_the_geojson_export_loads_back_as_the_same_graph(tmp_path):
    """`--out FILE.geojson` writes the Yiwang GeoJSON format: read back, it has the same nodes with their kinds and
    places, the same directed edges with their modes, lengths, widths, lanes and speeds, and the attribution."""
    out = tmp_path / "town.geojson"
    done = yiwang("graph", str(TOWN), "--out", str(out))
    assert done.returncode == 0, done.stderr
    a, b = load_graph(TOWN), load_graph(out)
    assert b.graph["attribution"] == a.graph["attribution"]
    assert set(a.nodes) == set(b.nodes)
    for n, d in a.nodes(data=True):
        assert (b.nodes[n]["kind"], b.nodes[n]["lon"], b.nodes[n]["lat"], b.nodes[n]["area_m2"]) == (
            d["kind"], d["lon"], d["lat"], d["area_m2"])  # fmt: skip
    assert set(a.edges) == set(b.edges)
    for u, v, d in a.edges(data=True):
        e = b.edges[u, v]
        assert [e[k] for k in ("mode", "length_m", "width_m", "lanes", "free_speed_mps")] == [
            d[k] for k in ("mode", "length_m", "width_m", "lanes", "free_speed_mps")], (u, v)  # fmt: skip


def test_the_map_page_requests_nothing_and_names_every_place(tmp_path):
    """`--html FILE` writes one page that loads no script, style sheet, image or font, forbids every request by
    its content security policy, shows each typed place's id and name, escapes what it shows, and carries the
    attribution."""
    src = json.loads(json.dumps({"type": "FeatureCollection", "yiwang": {"attribution": "© OpenStreetMap contributors"},
                                 "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.47, 31.23]},
         "properties": {"id": "gate", "kind": "entrance", "name": "<script>alert(1)</script>"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.471, 31.23]},
         "properties": {"id": "x", "kind": "junction"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[121.47, 31.23], [121.471, 31.23]]},
         "properties": {"u": "gate", "v": "x", "mode": "walk", "width_m": 5, "free_speed_mps": 1.34}}]}))  # fmt: skip
    graph_file, page = tmp_path / "g.geojson", tmp_path / "g.html"
    graph_file.write_text(json.dumps(src), encoding="utf-8")
    done = yiwang("graph", str(graph_file), "--html", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import", text, re.IGNORECASE)
    assert "gate (entrance) &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "© OpenStreetMap contributors" in text
    town = tmp_path / "town.html"
    assert yiwang("graph", str(TOWN), "--html", str(town)).returncode == 0
    shown = town.read_text(encoding="utf-8")
    for n, kind in load_graph(TOWN).nodes(data="kind"):
        assert f'data-id="{n}"' in shown and (kind == "junction" or f"{n} ({kind})" in shown)
