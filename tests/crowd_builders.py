"""Small crowd worlds for tests: a graph written as GeoJSON from metre offsets, and a crowd scenario on it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from scenarios.loading import scenario_from_document
from scenarios.plan import Plan, PlanMeta
from scenarios.schema import CrowdScenario

BUND = (121.49, 31.24)  # only so that coordinates are real places in Shanghai


def _at(x_m: float, y_m: float) -> list[float]:
    lon = BUND[0] + x_m / (111_320 * math.cos(math.radians(BUND[1])))
    lat = BUND[1] + y_m / 110_574
    return [round(lon, 8), round(lat, 8)]


def write_graph(path: Path, nodes: list[tuple], edges: list[tuple]) -> Path:
    """Nodes `(id, kind, x_m, y_m, area_m2)`; edges `(u, v, length_m, width_m[, mode[, oneway]])`, both directions
    unless `oneway` (then from u to v only)."""
    pos = {n[0]: _at(n[2], n[3]) for n in nodes}
    feats: list[dict[str, Any]] = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": pos[i]},
         "properties": {"id": i, "kind": kind, "name": i, "area_m2": area}}
        for i, kind, _x, _y, area in nodes
    ]  # fmt: skip
    for e in edges:
        u, v, length, width = e[:4]
        mode = e[4] if len(e) > 4 else "walk"
        oneway = bool(e[5]) if len(e) > 5 else False
        speed = 0.65 if mode == "stair" else 1.34
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [pos[u], pos[v]]},
                      "properties": {"u": u, "v": v, "mode": mode, "width_m": width, "length_m": length,
                                     "free_speed_mps": speed, "oneway": oneway}})  # fmt: skip
    doc = {"type": "FeatureCollection", "yiwang": {"name": path.stem, "title": "test world"}, "features": feats}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def crowd_scenario(tmp: Path, nodes: list[tuple], edges: list[tuple], *, origins: dict[str, float],
                   destinations: dict[str, float], exits: list[str], rate_per_h: float = 0.0,
                   horizon_s: float = 3600, holding_m2: float | None = None,
                   **extra: Any) -> CrowdScenario:  # fmt: skip
    """A validated crowd scenario on a hand-built graph (arrivals at a constant rate, long dwell by default);
    `holding_m2`: the waiting room before every origin (the schema's default if None)."""
    write_graph(tmp / "world.geojson", nodes, edges)
    doc: dict[str, Any] = {
        "name": "test_world",
        "kind": "crowd",
        "title": "test world",
        "clock": {"start": "2021-07-01T19:00:00", "horizon_s": horizon_s},
        "graph": "world.geojson",
        "seed": 1,
        "demand": {
            "arrivals": {"process": "deterministic", "periods": [{"from_s": 0, "rate_per_h": rate_per_h}]},
            "origins": origins,
            "destinations": destinations,
            **({} if holding_m2 is None else {"holding_default_m2": holding_m2}),
        },
        "exits": exits,
        "dwell": {"dist": "deterministic", "value_s": 1_000_000},
        "counterflow_control": False,
    }
    doc.update(extra)
    if "thresholds" not in extra:
        # No place need be one a pushing crowd is pressed into: the crush level is then one walkers reach.
        sfpe = extra.get("walking", {}).get("fundamental_diagram") == "sfpe"
        doc["thresholds"] = ({"warning_ppm2": 2.5, "critical_ppm2": 3.0, "crush_ppm2": 3.7} if sfpe
                             else {"crush_ppm2": 5.4})  # fmt: skip
    return scenario_from_document(doc, file="test_world.yaml", base_dir=tmp)  # type: ignore[return-value]


def plan_of(scenario: CrowdScenario, *actions: Any) -> Plan:
    """A plan with exactly these actions."""
    return Plan.build(PlanMeta(scenario=scenario.name, produced_by="test"), actions)
