"""A city graph drawn on one self-contained HTML page a planner opens offline (`yiwang graph FILE --html PAGE`).

The page is an inline SVG: edges coloured by mode, places by kind, every node's id, kind and name in a tooltip,
a legend and the data's attribution. It loads nothing: no script, no style sheet, no font, no map tiles, and a
content security policy that forbids any request, so opening it sends nothing anywhere.
"""

from __future__ import annotations

import math
from collections import Counter
from html import escape

import networkx as nx

MODE_COLOURS = {"walk": "#2b8a3e", "stair": "#e67700", "road": "#868e96", "tunnel": "#5f3dc4", "ferry": "#1971c2",
                "metro": "#c2255c"}  # fmt: skip
KIND_COLOURS = {
    "metro": "#c2255c", "metro_exit": "#f06595", "entrance": "#e8590c", "exit": "#d9480f", "square": "#37b24d",
    "plaza": "#37b24d", "zone": "#74b816", "viewing_area": "#0ca678", "promenade": "#0ca678", "pier": "#1971c2",
    "tunnel_portal": "#5f3dc4", "test_site": "#f03e3e", "bus_bay": "#f59f00", "depot": "#845ef7",
    "district_centre": "#3b5bdb", "destination": "#1098ad", "bank_area": "#1098ad", "parking": "#495057",
    "stair": "#e67700",
}  # fmt: skip
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'"
WIDTH_PX = 1200


def graph_page(graph: nx.DiGraph, *, title: str | None = None) -> str:
    """The page's HTML text."""
    bbox = graph.graph.get("bbox")
    if not bbox:
        lons = [d["lon"] for _, d in graph.nodes(data=True)] or [0.0]
        lats = [d["lat"] for _, d in graph.nodes(data=True)] or [0.0]
        bbox = (min(lons), min(lats), max(lons), max(lats))
    min_lon, min_lat, max_lon, max_lat = bbox
    k_lon = math.cos(math.radians((min_lat + max_lat) / 2))
    span = max((max_lon - min_lon) * k_lon, max_lat - min_lat, 1e-9)
    scale = (WIDTH_PX - 40) / span
    height = int((max_lat - min_lat) * scale) + 40

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return 20 + (lon - min_lon) * k_lon * scale, height - 20 - (lat - min_lat) * scale

    lines = []
    drawn: set[tuple[str, str]] = set()
    for u, v, d in graph.edges(data=True):
        if (v, u) in drawn:
            continue
        drawn.add((u, v))
        colour = MODE_COLOURS.get(d["mode"], "#000")
        walked = d["mode"] in ("walk", "stair")
        width = 1.0 + (min(3.0, d.get("width_m", 0.0) / 4) if walked else d.get("lanes", 1) * 0.4)
        tip = f"{u} → {v}: {d['mode']}, {d['length_m']:.0f} m"
        tip += f", {d['width_m']:g} m wide" if d.get("width_m") else ""
        tip += f", {d['lanes']} lane(s)" if d.get("lanes") else ""
        tip += " (one-way)" if not graph.has_edge(v, u) else ""
        tip += f" — {d['name']}" if d.get("name") else ""
        points = " ".join("{:.1f},{:.1f}".format(*xy(lon, lat)) for lon, lat in d["geometry"])
        dash = ' stroke-dasharray="4 2"' if not graph.has_edge(v, u) else ""
        lines.append(f'<polyline class="{escape(d["mode"])}" points="{points}" stroke="{colour}" '
                     f'stroke-width="{width:.1f}"{dash}><title>{escape(tip)}</title></polyline>')  # fmt: skip
    dots = []
    for n, d in graph.nodes(data=True):
        kind = d["kind"]
        typed = kind != "junction"
        name = d.get("name", "")
        zh = d.get("name_zh", "")
        tip = f"{n} ({kind})" + (f" {name}" if name and name != n else "") + (f" {zh}" if zh and zh != name else "")
        tip += f", {d['area_m2']:,.0f} m²" if d.get("area_m2") else ""
        tip += f" at {d['lon']:.6f},{d['lat']:.6f}"
        r, fill = (5, KIND_COLOURS.get(kind, "#000")) if typed else (1.6, "#adb5bd")
        x, y = xy(d["lon"], d["lat"])
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}" data-id="{escape(str(n))}">'
                    f"<title>{escape(tip)}</title></circle>")  # fmt: skip
    kinds = Counter(k for _, k in graph.nodes(data="kind"))
    modes = Counter(m for *_, m in graph.edges(data="mode"))
    legend = " ".join(f'<span style="color:{MODE_COLOURS.get(m, "#000")}">━ {escape(m)} ({c})</span>'
                      for m, c in sorted(modes.items()))  # fmt: skip
    legend += "<br>" + " ".join(f'<span style="color:{KIND_COLOURS.get(k, "#adb5bd")}">● {escape(k)} ({c})</span>'
                                for k, c in sorted(kinds.items()))  # fmt: skip
    heading = escape(title or graph.graph.get("title") or graph.graph.get("name", "city graph"))
    attribution = escape(graph.graph.get("attribution", ""))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{heading}</title>
<style>body{{font:14px sans-serif;margin:12px}} svg{{border:1px solid #dee2e6;background:#fff}}
polyline{{fill:none;stroke-linecap:round}} polyline:hover{{stroke:#000}} circle:hover{{stroke:#000}}
.legend span{{margin-right:10px;white-space:nowrap}}</style></head>
<body><h1>{heading}</h1>
<p>{graph.number_of_nodes()} nodes, {graph.number_of_edges()} directed edges. Hover over a place or a line for its id,
kind and name; dashed lines are one-way.</p>
<p class="legend">{legend}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PX}" height="{height}" viewBox="0 0 {WIDTH_PX} {height}">
{chr(10).join(lines)}
{chr(10).join(dots)}
</svg>
<p class="attribution">{attribution or "Sources: see the graph file."}</p>
</body></html>
"""
