"""Small typhoon scenarios on the built-in `crossings` graph: one hand-made case and random ones for Hypothesis."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from scenarios.loading import scenario_from_document

CALM_DAY = [{"at_s": 0, "wind_force": 3, "warning": "none"}]
NO_TRAFFIC = {"process": "deterministic", "periods": [{"from_s": 0, "rate_per_h": 0}]}

BASE: dict[str, Any] = {
    "name": "small_typhoon",
    "kind": "typhoon",
    "title": "one ferry line, one tunnel, riders from the Bund to Lujiazui",
    "clock": {"start": "2021-09-13T05:00:00", "horizon_s": 18_000},
    "graph": "crossings",
    "seed": 7,
    "hazard": {"timeline": CALM_DAY},
    "ferries": {
        "dongjin": {"piers": ["pier_jinling_e", "pier_dongchang"], "headway_s": 600, "crossing_s": 300,
                    "riders_per_trip": 10_000, "resume_delay_s": 1800},
    },
    "tunnels": {
        "yanan": {"portals": ["portal_yanan_puxi", "portal_yanan_pudong"], "lanes_per_direction": 2,
                  "lane_capacity_vph": 1400, "merge_factor": 0.9,
                  "holding_points": ["hold_yanan_puxi", "hold_lujiazui_pudong"],
                  "demand_ab": NO_TRAFFIC, "demand_ba": NO_TRAFFIC},
    },
    "riders": {
        "flows": [{"origin": "area_bund_nanjing_e", "destination": "area_lujiazui",
                   "arrivals": {"process": "deterministic", "periods": [{"from_s": 0, "rate_per_h": 60}]}}],
        "patience": {"dist": "deterministic", "value_s": 1_000_000},
        "ebike_speed_mps": 5.5,
    },
    "escorts": {"count": 1, "batch_size": 20, "escort_speed_mps": 5.56, "setup_s": 60, "return_s": 300},
    "lanes": {"min_clear_s": 0, "changeover_s": 0},
    "default_plan": {"rule": "first_tunnel"},
}  # fmt: skip


def small_typhoon(**parts: Any) -> Any:
    """The small case with top-level parts replaced (`hazard=...`, `riders=...`), validated."""
    doc = copy.deepcopy(BASE)
    doc.update(copy.deepcopy(parts))
    return scenario_from_document(doc, file="small_typhoon.yaml")


def storm(*points: tuple[float, int, str]) -> dict[str, Any]:
    """A hazard section from `(at_s, wind_force, warning)` points."""
    return {"timeline": [{"at_s": t, "wind_force": w, "warning": warn} for t, w, warn in points]}


# ------------------------------------------------------------------------------------------ random worlds

FERRIES = {
    "dongjin": ["pier_jinling_e", "pier_dongchang"],
    "dongfu": ["pier_fuxing_e", "pier_dongchang"],
    "mindan": ["pier_dandong", "pier_minsheng"],
}
TUNNELS = {
    "yanan": (["portal_yanan_puxi", "portal_yanan_pudong"], ["hold_yanan_puxi", "hold_lujiazui_pudong"]),
    "fuxing": (["portal_fuxing_puxi", "portal_fuxing_pudong"], ["hold_fuxing_puxi", "hold_fuxing_pudong"]),
    "xinjian": (["portal_xinjian_puxi", "portal_xinjian_pudong"], []),
}
PUXI = ["area_bund_nanjing_e", "area_laoximen", "area_north_bund"]
PUDONG = ["area_lujiazui", "area_dongchang_weifang", "area_yangjing"]
WARNINGS = ["none", "blue", "yellow", "orange", "red"]


def _profile(draw: Any, top: int) -> dict[str, Any]:
    process = draw(st.sampled_from(["poisson", "deterministic"]))
    cuts = sorted(set(draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=3))) | {0})
    return {"process": process, "periods": [{"from_s": c, "rate_per_h": draw(st.integers(0, top))} for c in cuts]}


@st.composite
def typhoon_worlds(draw: Any) -> dict[str, Any]:
    """A random small typhoon scenario document on the crossings graph (up to 4 hours, a few hundred riders)."""
    ferries = draw(st.lists(st.sampled_from(sorted(FERRIES)), min_size=1, max_size=3, unique=True))
    tunnels = draw(st.lists(st.sampled_from(sorted(TUNNELS)), min_size=1, max_size=2, unique=True))
    points = sorted(set(draw(st.lists(st.integers(0, 14_000), min_size=1, max_size=4))))
    timeline = [{"at_s": t, "wind_force": draw(st.integers(3, 10)), "warning": draw(st.sampled_from(WARNINGS))}
                for t in points]  # fmt: skip
    flows = []
    for _ in range(draw(st.integers(1, 3))):
        east = draw(st.booleans())
        origin = draw(st.sampled_from(PUXI if east else PUDONG))
        destination = draw(st.sampled_from(PUDONG if east else PUXI))
        flows.append({"origin": origin, "destination": destination, "arrivals": _profile(draw, 150)})
    patience = draw(st.sampled_from([{"dist": "exponential", "mean_s": 1200},
                                     {"dist": "deterministic", "value_s": 900},
                                     {"dist": "lognormal", "mean_s": 2400, "sd_s": 1200}]))  # fmt: skip
    horizon = draw(st.integers(3600, 14_400))
    injects: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, horizon))
        params = {"wind_force": draw(st.integers(3, 10)), "until_s": at + draw(st.integers(1, 7200))}
        condition = draw(st.sampled_from([None, "riders_waiting > 5", "vehicle_queue_total >= 1"]))
        injects.append({"at_s": at, "kind": "forecast", "params": params, "condition": condition})
    if draw(st.booleans()):
        injects.append({"at_s": draw(st.integers(0, horizon)), "kind": "delay", "target": "escorts",
                        "params": {"delay_s": draw(st.integers(60, 3600))}})  # fmt: skip
    return {
        **copy.deepcopy(BASE),
        "clock": {"start": "2021-09-13T05:00:00", "horizon_s": horizon},
        "injects": injects,
        "seed": draw(st.integers(0, 2**32)),
        "hazard": {"timeline": timeline},
        "ferries": {
            name: {"piers": FERRIES[name], "headway_s": draw(st.sampled_from([300, 600, 900])), "crossing_s": 300,
                   "riders_per_trip": draw(st.integers(0, 60)), "suspend_wind_force": draw(st.integers(6, 9)),
                   "suspend_warning": draw(st.sampled_from(WARNINGS)),
                   "resume_delay_s": draw(st.sampled_from([0, 900, 1800])),
                   "service_from_s": draw(st.sampled_from([0, 1800]))}
            for name in ferries
        },
        "tunnels": {
            name: {"portals": TUNNELS[name][0], "holding_points": TUNNELS[name][1],
                   "lanes_per_direction": draw(st.integers(1, 3)), "lane_capacity_vph": 1400,
                   "demand_ab": _profile(draw, 4000), "demand_ba": _profile(draw, 4000)}
            for name in tunnels
        },
        "riders": {"flows": flows, "patience": patience},
        "escorts": {"count": draw(st.integers(0, 3)), "batch_size": draw(st.integers(1, 40)), "setup_s": 60,
                    "return_s": draw(st.sampled_from([0, 300, 600]))},
        "lanes": {"min_clear_s": 0, "changeover_s": draw(st.sampled_from([0, 300]))},
    }  # fmt: skip
