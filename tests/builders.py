"""Small random mass-testing worlds for property tests: a graph written as GeoJSON and a scenario document."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

HUB = (121.66, 31.14)  # near Shanghai Disney: only so that coordinates are real places in Shanghai


def _at(dx_m: float, dy_m: float) -> list[float]:
    lon = HUB[0] + dx_m / (111_320 * math.cos(math.radians(HUB[1])))
    lat = HUB[1] + dy_m / 110_574
    return [round(lon, 7), round(lat, 7)]


def _node(node_id: str, kind: str, xy: list[float]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": xy},
            "properties": {"id": node_id, "kind": kind, "name": node_id}}  # fmt: skip


def _edge(u: str, v: str, pos: dict[str, list[float]], mode: str) -> dict[str, Any]:
    props: dict[str, Any] = {"u": u, "v": v, "mode": mode}
    if mode == "walk":
        props.update(width_m=6, free_speed_mps=1.34)
    else:
        props.update(lanes=2, free_speed_mps=12.0)
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [pos[u], pos[v]]},
            "properties": props}  # fmt: skip


@st.composite
def mass_testing_worlds(draw) -> tuple[dict[str, Any], dict[str, Any]]:
    """A random small (graph, scenario document) pair that validates."""
    n_zones, n_sites, n_pools = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    n_bays, n_dest = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    pos: dict[str, list[float]] = {}
    feats = []

    def add(node_id: str, kind: str, dx: float, dy: float) -> str:
        pos[node_id] = _at(dx, dy)
        feats.append(_node(node_id, kind, pos[node_id]))
        return node_id

    zones = [add(f"zone_{i}", "zone", -300 + 200 * i, draw(st.integers(50, 400))) for i in range(n_zones)]
    sites = [add(f"site_{i}", "test_site", -300 + 150 * i, 0) for i in range(n_sites)]
    gate = add("gate", "junction", 0, -150)
    bays = [add(f"bay_{i}", "bus_bay", -100 + 200 * i, -250) for i in range(n_bays)]
    station = add("station", "metro", 300, -200)
    parking = add("parking", "parking", -350, -300)
    centres = [add(f"centre_{i}", "district_centre", -8000 + 6000 * i, -9000) for i in range(n_pools)]
    depot = add("depot", "depot", 5000, -6000)
    dests = [add(f"dest_{i}", "destination", -12000 + 9000 * i, -15000) for i in range(n_dest)]
    walk = [(z, s) for z in zones for s in sites] + [(s, gate) for s in sites] + [(gate, b) for b in bays]
    walk += [(gate, station), (gate, parking)]
    road = [(c, gate) for c in centres] + [(depot, b) for b in bays] + [(b, d) for b in bays for d in dests]
    feats += [_edge(u, v, pos, "walk") for u, v in walk] + [_edge(u, v, pos, "road") for u, v in road]
    graph = {"type": "FeatureCollection", "yiwang": {"name": "random_world", "title": "random test world"},
             "features": feats}  # fmt: skip

    registrars = draw(st.booleans())
    pools = {
        f"pool_{i}": {
            "centre": centres[i],
            "count": draw(st.integers(0, 16)),
            "registrar_share": 0.5 if registrars else 0.0,
            "callup_delay_s": draw(st.integers(0, 1800)),
            "group_size": draw(st.integers(1, 8)),
            "group_interval_s": draw(st.integers(0, 900)),
            "shift_s": 200_000,
        }
        for i in range(n_pools)
    }
    shares = [draw(st.integers(1, 5)) for _ in dests]
    n_buses = draw(st.integers(0, 6))
    modes = [draw(st.integers(0, 3)) for _ in range(4)]
    if n_buses == 0:
        modes[3] = 0
    if sum(modes) == 0:
        modes[0] = 1
    total = sum(modes)
    zone_docs = []
    for z in zones:
        doc: dict[str, Any] = {"node": z, "visitors": draw(st.integers(0, 120))}
        if draw(st.booleans()):
            doc["arrivals"] = {"process": draw(st.sampled_from(["poisson", "deterministic"])),
                               "periods": [{"from_s": 0, "rate_per_h": draw(st.integers(0, 300))},
                                           {"from_s": 3600, "rate_per_h": 0}]}  # fmt: skip
        zone_docs.append(doc)
    scenario = {
        "name": "random_world",
        "kind": "mass_testing",
        "title": "random world",
        "clock": {"start": "2021-10-31T18:00:00", "horizon_s": 200_000},
        "graph": "random_world.geojson",
        "seed": draw(st.integers(0, 2**32)),
        "population": {
            "zones": zone_docs,
            "home_modes": {"walk": modes[0] / total, "car": modes[1] / total, "metro": modes[2] / total,
                           "bus": modes[3] / total},
            "parking": [parking],
        },
        "testing": {
            "swab_time": draw(st.sampled_from([{"dist": "exponential", "mean_s": 40},
                                               {"dist": "deterministic", "value_s": 30},
                                               {"dist": "lognormal", "mean_s": 35, "sd_s": 12}])),
            "registrars_per_booth": 1 if registrars else 0,
            "sites": [{"node": s, "booths": draw(st.integers(1, 4))} for s in sites],
        },
        "resources": {"testers": pools},
        "metro": {"station": station, "closes_at_s": draw(st.sampled_from([None, 0, 900, 3600])),
                  "capacity_per_h": 3000},
    }  # fmt: skip
    if n_buses:
        scenario["resources"]["buses"] = {
            "count": n_buses, "capacity": draw(st.integers(1, 30)), "load_time_s": 120, "unload_time_s": 60,
            "depots": [{"node": depot, "count": n_buses, "ready_at_s": draw(st.integers(0, 3600))}],
            "bays": bays, "destinations": {d: s / sum(shares) for d, s in zip(dests, shares, strict=True)},
        }  # fmt: skip
    return graph, scenario


def write_world(folder: Path, graph: dict[str, Any], scenario: dict[str, Any]) -> Path:
    """Write the pair into `folder`; return the scenario's path."""
    (folder / "random_world.geojson").write_text(json.dumps(graph), encoding="utf-8")
    path = folder / "random_world.yaml"
    path.write_text(json.dumps(scenario), encoding="utf-8")  # JSON is YAML
    return path
