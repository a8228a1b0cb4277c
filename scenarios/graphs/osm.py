"""An OpenStreetMap XML extract (`.osm`) to a typed city graph, tag by tag.

The graph has two layers of junctions joined by the places between them:

- **roads**: `road_<osm node>` junctions; edges of mode `road` (`tunnel` for `tunnel=yes`) for every way motor
  vehicles may use, with lanes, speed and one-way from the tags or the defaults per class in `ROAD_CLASSES`;
- **walkways**: `walk_<osm node>` junctions; edges of mode `walk` (`stair` for steps) for footways, paths,
  pedestrian streets and steps (`WALK_CLASSES`), and a walkway along every road that has sidewalks by its tags or
  by its class (`ROAD_CLASSES`), so that an extract mapping no footways (the built-in one) can still be walked;
- **places**: typed nodes from tags (`place_kind`): `poi_<osm node>` for a tagged node and `area_<osm way>` for a
  tagged way (at its centroid, with its area), each joined to the walkways by a short walk link, and a place
  vehicles use (a bus stop, a car park, a pier) to the roads too; where a tunnel meets an open road, the road
  junction is a `tunnel_portal`.

Every number not read from a tag is a documented default (`docs/graph-format.md`, "OpenStreetMap extracts"), and
every node and edge says which OSM element it came from (`source`). The graph carries the OpenStreetMap
attribution, which every product drawn from it repeats.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np

from scenarios.errors import ScenarioError
from scenarios.graphs.geometry import EARTH_RADIUS_M, graph_bbox, haversine_m, polyline_length_m

ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"

WALK_SPEED_MPS = 1.34  # free walking speed on the level (Weidmann 1993)
STAIR_SPEED_MPS = 0.65  # free speed on stairs, along the slope (SFPE handbook: 0.6-0.7 m/s down and up)
LANE_WIDTH_M = 3.5  # a carriageway's width per lane where the way has no `width` tag
LINK_WIDTH_M = 4.0  # the way into a place from the nearest walkway
LINK_SPEED_KMH = 15.0  # a vehicle's speed on the access road into a place (bus stop, car park, pier)


@dataclass(frozen=True)
class RoadClass:
    """Defaults for a `highway=*` value motor vehicles use: speed, lanes per direction, and the walkway along it
    (`sidewalk_m` a side; `shared_m`: no sidewalks, people walk the whole street of that width)."""

    speed_kmh: float
    lanes: int
    sidewalk_m: float = 0.0
    shared_m: float = 0.0


#: Speeds: China's Road Traffic Safety Law implementing regulations (art. 45: 30 km/h on an urban road without a
#: centre line, 50 with one lane each way) and common urban limits for the larger classes. Sidewalks: 3.0 m a
#: side, the general minimum of CJJ 37-2012 (urban road design code) for arterials, 2.0 m (its absolute minimum)
#: on minor roads; none beside motorways and trunk roads (Shanghai's trunk roads are the elevated expressways).
ROAD_CLASSES: dict[str, RoadClass] = {
    "motorway": RoadClass(80, 2),
    "trunk": RoadClass(60, 2),
    "primary": RoadClass(50, 2, sidewalk_m=3.0),
    "secondary": RoadClass(40, 2, sidewalk_m=3.0),
    "tertiary": RoadClass(30, 1, sidewalk_m=3.0),
    "unclassified": RoadClass(30, 1, sidewalk_m=2.0),
    "residential": RoadClass(20, 1, sidewalk_m=2.0),
    "road": RoadClass(30, 1, sidewalk_m=2.0),
    "living_street": RoadClass(10, 1, shared_m=5.0),
    "service": RoadClass(15, 1, shared_m=3.0),
    "busway": RoadClass(40, 1),
}


@dataclass(frozen=True)
class WalkClass:
    """Defaults for a `highway=*` value only people use: the edge mode and the width where the way has none."""

    mode: str
    width_m: float
    needs_foot: bool = False  # only with `foot=yes|designated|permissive`


WALK_CLASSES: dict[str, WalkClass] = {
    "footway": WalkClass("walk", 2.0),
    "pedestrian": WalkClass("walk", 6.0),
    "path": WalkClass("walk", 1.5),
    "corridor": WalkClass("walk", 3.0),
    "track": WalkClass("walk", 3.0),
    "steps": WalkClass("stair", 2.0),
    "cycleway": WalkClass("walk", 2.0, needs_foot=True),
    "bridleway": WalkClass("walk", 2.0, needs_foot=True),
}

#: Places vehicles drive to: joined to the roads as well as to the walkways.
VEHICLE_PLACES = frozenset({"bus_bay", "parking", "pier", "depot", "destination"})

_YES = {"yes", "true", "1"}
_FOOT_OK = {"yes", "designated", "permissive"}
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)")
_MPH = 1.609344
#: Implicit `maxspeed` values (`maxspeed=DE:urban`), km/h: the national limits listed on the OpenStreetMap wiki's
#: "Default speed limits" page for the countries whose codes are common in extracts, by zone. A code not here
#: (`CN:urban`: China's urban limit depends on the centre line) falls back to the road class's default.
ZONE_SPEEDS_KMH: dict[str, float] = {
    "AT:urban": 50, "AT:rural": 100, "AT:motorway": 130,
    "CH:urban": 50, "CH:rural": 80, "CH:trunk": 100, "CH:motorway": 120,
    "CZ:urban": 50, "CZ:rural": 90, "CZ:motorway": 130,
    "DE:urban": 50, "DE:rural": 100, "DE:motorway": 130,  # German motorways: no limit, 130 advised
    "ES:urban": 50, "ES:rural": 90, "ES:motorway": 120,
    "FR:urban": 50, "FR:rural": 80, "FR:motorway": 130,
    "GB:nsl_restricted": 30 * _MPH, "GB:nsl_single": 60 * _MPH, "GB:nsl_dual": 70 * _MPH, "GB:motorway": 70 * _MPH,
    "IT:urban": 50, "IT:rural": 90, "IT:motorway": 130,
    "PL:urban": 50, "PL:rural": 90, "PL:motorway": 140,
    "RU:urban": 60, "RU:rural": 90, "RU:motorway": 110, "RU:living_street": 20,
    "walk": 5,  # walking pace (`maxspeed=walk`)
}  # fmt: skip


def _number(text: str | None) -> float | None:
    """The leading number of a tag value (`"2.5 m"` -> 2.5, `"5,5 m"` -> 5.5 with a decimal comma, `"3;2"` -> 3);
    None if it has none."""
    if not text:
        return None
    m = _NUMBER.match(text)
    return float(m.group(1).replace(",", ".")) if m else None


def speed_kmh(tags: Mapping[str, str], default: float) -> float:
    """`maxspeed` in km/h (`"40"`, `"40 km/h"`, `"25 mph"`, a zone code such as `"DE:urban"` or `"DE:zone30"`), or
    the default where it is absent, `none`, or a code not known here."""
    raw = tags.get("maxspeed", "").strip()
    if raw in ZONE_SPEEDS_KMH:
        return float(ZONE_SPEEDS_KMH[raw])
    zone = re.fullmatch(r"[A-Z]{2}:zone:?(\d+)", raw)  # a 30 km/h zone: `DE:zone30`, `DE:zone:30`
    value = float(zone.group(1)) if zone else _number(raw)
    if value is None or value <= 0:
        return default
    return value * _MPH if "mph" in raw else value


def place_kind(tags: Mapping[str, str]) -> str | None:
    """The node kind a tagged OSM node or way is, or None if it is no place Yiwang knows."""
    railway, pt, amenity = tags.get("railway"), tags.get("public_transport"), tags.get("amenity")
    if railway in ("subway_entrance", "train_station_entrance"):
        return "metro_exit"
    if pt == "station" and tags.get("bus") in _YES and railway is None:
        return "bus_bay"
    if railway in ("station", "halt") or pt == "station":
        return "metro"
    if amenity == "ferry_terminal" or tags.get("man_made") == "pier":
        return "pier"
    if tags.get("highway") == "bus_stop" or amenity == "bus_station" or (pt == "platform" and tags.get("bus") in _YES):
        return "bus_bay"
    if amenity == "parking":
        return "parking"
    if tags.get("place") == "square" or (tags.get("highway") in ("pedestrian", "footway") and tags.get("area") in _YES):
        return "square"
    if tags.get("leisure") in ("park", "garden", "recreation_ground", "common") or tags.get("landuse") in (
        "recreation_ground", "village_green", "grass"
    ):  # fmt: skip
        return "zone"
    if "entrance" in tags:
        return "exit" if tags["entrance"] in ("exit", "emergency") else "entrance"
    return None


@dataclass(frozen=True)
class RoadWay:
    """How a way is driven: mode, speed, lanes each way (0: not that way) and the carriageway's width."""

    mode: str
    speed_kmh: float
    lanes_forward: int
    lanes_backward: int
    carriageway_m: float
    highway: str


def road_way(tags: Mapping[str, str]) -> RoadWay | None:
    """The way as a road for motor vehicles, or None (not a road, or closed to them)."""
    highway = tags.get("highway", "")
    cls = ROAD_CLASSES.get(highway.removesuffix("_link"))
    if cls is None or tags.get("area") in _YES:
        return None
    if any(tags.get(k) == "no" for k in ("access", "motor_vehicle", "vehicle", "motorcar")):
        return None
    oneway = tags.get("oneway", "")
    implied = highway == "motorway" or tags.get("junction") in ("roundabout", "circular")
    forward_only = oneway in _YES or (implied and oneway != "no")
    backward_only = oneway in ("-1", "reverse")
    base_lanes = 1 if highway.endswith("_link") else cls.lanes
    total = _number(tags.get("lanes"))
    if forward_only or backward_only:
        each = max(1, int(total)) if total is not None else base_lanes
        fwd, bwd = (0, each) if backward_only else (each, 0)
    else:
        fwd_tag, bwd_tag = _number(tags.get("lanes:forward")), _number(tags.get("lanes:backward"))
        half = max(1, int(total) // 2) if total is not None else base_lanes
        fwd = max(1, int(fwd_tag)) if fwd_tag is not None else half
        bwd = max(1, int(bwd_tag)) if bwd_tag is not None else half
    width = _number(tags.get("width"))
    return RoadWay(
        mode="tunnel" if tags.get("tunnel") in ("yes", "building_passage") else "road",
        speed_kmh=speed_kmh(tags, cls.speed_kmh),
        lanes_forward=fwd,
        lanes_backward=bwd,
        carriageway_m=width if width is not None else (fwd + bwd) * LANE_WIDTH_M,
        highway=highway,
    )


@dataclass(frozen=True)
class WalkWay:
    """How a way is walked: mode, width, directions, and where the width came from."""

    mode: str
    width_m: float
    forward: bool
    backward: bool
    basis: str


def _sides(tags: Mapping[str, str], default: int) -> int:
    """How many sidewalks a road has by its tags (`sidewalk=both|left|right|no|separate`), else the default."""
    value = tags.get("sidewalk") or tags.get("sidewalk:both")
    if value in ("both", "yes"):
        return 2
    if value in ("left", "right"):
        return 1
    if value in ("no", "none", "separate"):
        return 0
    left, right = tags.get("sidewalk:left"), tags.get("sidewalk:right")
    if left is not None or right is not None:
        return sum(v in ("yes", "both") for v in (left, right))
    return default


def walk_way(tags: Mapping[str, str]) -> WalkWay | None:
    """The way as a walkway: a footway, path, pedestrian street or steps by its class, or the sidewalks along a
    road (by tags or the class's default); None where people do not walk along it."""
    highway = tags.get("highway", "")
    foot = tags.get("foot", "")
    if foot == "no" or tags.get("area") in _YES:
        return None
    one = tags.get("oneway:foot", "")
    forward, backward = one not in ("-1",), one not in _YES
    width_tag = _number(tags.get("width")) or _number(tags.get("est_width"))
    walk = WALK_CLASSES.get(highway)
    if walk is not None:
        if walk.needs_foot and foot not in _FOOT_OK:
            return None
        basis = "width tag" if width_tag else f"default for highway={highway}"
        return WalkWay(walk.mode, width_tag or walk.width_m, forward, backward, basis)
    cls = ROAD_CLASSES.get(highway.removesuffix("_link"))
    if cls is None or foot == "use_sidepath":
        return None
    if cls.shared_m and not highway.endswith("_link"):
        basis = "width tag" if width_tag else f"shared street, default for highway={highway}"
        return WalkWay("walk", width_tag or cls.shared_m, forward, backward, basis)
    in_tunnel = tags.get("tunnel") in ("yes", "building_passage")
    default_sides = 0 if (in_tunnel or highway in ("motorway_link", "trunk_link")) else (2 if cls.sidewalk_m else 0)
    sides = _sides(tags, default_sides)
    if sides == 0:
        return None
    per_side = _number(tags.get("sidewalk:both:width")) or _number(tags.get("sidewalk:width"))
    left, right = _number(tags.get("sidewalk:left:width")), _number(tags.get("sidewalk:right:width"))
    if left or right:
        return WalkWay("walk", (left or 0.0) + (right or 0.0), forward, backward, "sidewalk width tags")
    side = per_side or cls.sidewalk_m or 2.0
    basis = "sidewalk width tag" if per_side else f"sidewalks, default for highway={highway}"
    return WalkWay("walk", sides * side, forward, backward, basis)


# --------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class OsmWayData:
    id: int
    refs: tuple[int, ...]
    tags: dict[str, str]


@dataclass
class OsmExtract:
    """The parts of an OSM XML file a graph is built from."""

    points: dict[int, tuple[float, float]] = field(default_factory=dict)  # node id -> (lon, lat)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: list[OsmWayData] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)
    #: Multipolygon relations: id -> (the ids of their outer ways, tags).
    relations: dict[int, tuple[tuple[int, ...], dict[str, str]]] = field(default_factory=dict)


def _there_only(refs: tuple[int, ...]) -> tuple[int, ...]:
    """A way that runs there and back over the same nodes (`a b c b a`: how OSMnx writes a two-way street) as the
    way there (`a b c`); its tags say whether it is two-way."""
    if len(refs) >= 3 and len(refs) % 2 == 1 and refs == refs[::-1]:
        return refs[: len(refs) // 2 + 1]
    return refs


def read_osm(path: Path, label: str) -> OsmExtract:
    """Read the nodes and ways of an OSM XML file (relations are not used); `ScenarioError` naming `label` and
    the element if the file is not OSM XML or an element is broken."""
    out = OsmExtract()
    try:
        for _event, elem in ET.iterparse(path, events=("end",)):
            tag = elem.tag
            if tag == "node":
                nid = int(elem.get("id", ""))
                lon, lat = float(elem.get("lon", "nan")), float(elem.get("lat", "nan"))
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ScenarioError.single(label, f"node {nid}", f"lon {lon}, lat {lat} is not a WGS-84 point")
                out.points[nid] = (lon, lat)
                tags = {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}
                if tags:
                    out.node_tags[nid] = tags
                elem.clear()
            elif tag == "way":
                refs = _there_only(tuple(int(nd.get("ref", "")) for nd in elem.iter("nd")))
                tags = {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}
                out.ways.append(OsmWayData(int(elem.get("id", "")), refs, tags))
                elem.clear()
            elif tag == "relation":
                tags = {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}
                if tags.get("type") == "multipolygon":
                    outer = tuple(int(m.get("ref", "")) for m in elem.iter("member")
                                  if m.get("type") == "way" and m.get("role", "outer") in ("outer", ""))  # fmt: skip
                    out.relations[int(elem.get("id", ""))] = (outer, tags)
                elem.clear()
            elif tag == "osm":
                out.header = dict(elem.attrib)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ScenarioError.single(label, f"line {line}, column {col + 1}", f"not OSM XML: {exc}") from None
    except ValueError as exc:
        raise ScenarioError.single(label, "", f"an OSM element has a bad id or coordinate: {exc}") from None
    except OSError as exc:
        raise ScenarioError.single(label, "", f"cannot read: {exc.strerror or exc}") from None
    if not out.ways:
        raise ScenarioError.single(label, "", "holds no ways: is it an OpenStreetMap XML extract?")
    return out


# --------------------------------------------------------------------------------------------- building


def _present(way: OsmWayData, points: Mapping[int, tuple[float, float]]) -> list[OsmWayData]:
    """The runs of a way over nodes the extract holds (an extract cut at a boundary may name nodes it lacks), each
    of two nodes or more."""
    runs: list[list[int]] = [[]]
    for ref in way.refs:
        if ref in points:
            runs[-1].append(ref)
        elif runs[-1]:
            runs.append([])
    return [OsmWayData(way.id, tuple(run), way.tags) for run in runs if len(run) >= 2]


def rings_of(segments: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """Closed rings joined end to end from a multipolygon's outer ways (in either direction); what does not close
    is left out."""
    left = [tuple(seg) for seg in segments if len(seg) >= 2]
    rings = []
    while left:
        ring = list(left.pop(0))
        while ring[0] != ring[-1]:
            nxt = next((i for i, seg in enumerate(left) if ring[-1] in (seg[0], seg[-1])), None)
            if nxt is None:
                break
            seg = left.pop(nxt)
            ring += list(seg[1:] if seg[0] == ring[-1] else seg[::-1][1:])
        if ring[0] == ring[-1] and len(ring) >= 4:
            rings.append(tuple(ring))
    return rings


def _split_points(ways: Iterable[Sequence[int]], extra: Iterable[int] = ()) -> set[int]:
    """Nodes where a layer's ways are cut into edges: every way's ends, every node two ways share (or one way
    visits twice), and the given extra nodes (places on a way)."""
    uses: Counter[int] = Counter()
    ends: set[int] = set()
    for refs in ways:
        uses.update(refs[:-1] if refs[0] == refs[-1] else refs)
        ends.update((refs[0], refs[-1]))
    return ends | {n for n, c in uses.items() if c > 1} | set(extra)


def _pieces(refs: Sequence[int], cuts: set[int]) -> list[tuple[int, ...]]:
    """A way cut at the given nodes; a piece that would start and end at one node is cut at its middle too."""
    out: list[tuple[int, ...]] = []
    start = 0
    for i in range(1, len(refs)):
        if refs[i] in cuts or i == len(refs) - 1:
            piece = tuple(refs[start : i + 1])
            if piece[0] == piece[-1]:
                if len(piece) < 3:
                    start = i
                    continue
                mid = len(piece) // 2
                out += [piece[: mid + 1], piece[mid:]]
            else:
                out.append(piece)
            start = i
    return out


def _add(graph: nx.DiGraph, u: str, v: str, attrs: dict[str, object]) -> None:
    """Add an edge; of two ways between the same junctions in the same direction, the shorter is kept."""
    if graph.has_edge(u, v) and graph.edges[u, v]["length_m"] <= attrs["length_m"]:
        return
    graph.add_edge(u, v, **attrs)


def _names(tags: Mapping[str, str], fallback: str) -> tuple[str, str]:
    name = tags.get("name", "")
    zh = tags.get("name:zh", "") or (name if re.search(r"[\u4e00-\u9fff]", name) else "")
    return tags.get("name:en", "") or name or fallback, zh


def _junction(graph: nx.DiGraph, node_id: str, osm_id: int, point: tuple[float, float]) -> None:
    if node_id not in graph:
        graph.add_node(node_id, lon=point[0], lat=point[1], kind="junction", area_m2=0.0, name=node_id, name_zh="",
                       quality="A", source=f"OSM node {osm_id}")  # fmt: skip


def _local_xy(points: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of the first point (equirectangular: exact enough within a city)."""
    lon0, lat0 = points[0]
    arr = np.asarray(points, dtype=float)
    k = math.pi / 180 * EARTH_RADIUS_M
    return (arr[:, 0] - lon0) * k * math.cos(math.radians(lat0)), (arr[:, 1] - lat0) * k


def polygon_area_centroid(points: Sequence[tuple[float, float]]) -> tuple[float, tuple[float, float]]:
    """Area in m² and centroid `(lon, lat)` of a closed ring of `(lon, lat)` points (shoelace formula)."""
    x, y = _local_xy(points)
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    a = cross.sum() / 2
    if abs(a) < 1e-9:
        lon, lat = np.mean(np.asarray(points, dtype=float), axis=0)
        return 0.0, (float(lon), float(lat))
    cx = ((x[:-1] + x[1:]) * cross).sum() / (6 * a)
    cy = ((y[:-1] + y[1:]) * cross).sum() / (6 * a)
    lon0, lat0 = points[0]
    k = math.pi / 180 * EARTH_RADIUS_M
    return abs(float(a)), (lon0 + cx / (k * math.cos(math.radians(lat0))), lat0 + cy / k)


class NearestIndex:
    """The nearest of a fixed set of nodes to any point, by straight-line distance: the nodes bucketed in square
    cells (`cell_m` a side, on an equirectangular plane through their mean latitude), searched ring by ring."""

    def __init__(self, graph: nx.DiGraph, candidates: Sequence[str], *, cell_m: float = 250.0) -> None:
        self.ids = list(candidates)
        self.cell_m = cell_m
        lons = np.fromiter((graph.nodes[n]["lon"] for n in self.ids), float, len(self.ids))
        lats = np.fromiter((graph.nodes[n]["lat"] for n in self.ids), float, len(self.ids))
        k = math.pi / 180 * EARTH_RADIUS_M
        self.kx = k * math.cos(math.radians(float(lats.mean()))) if self.ids else k
        self.ky = k
        self.x, self.y = lons * self.kx, lats * self.ky
        self.cells: dict[tuple[int, int], list[int]] = {}
        for i, (cx, cy) in enumerate(zip(np.floor(self.x / cell_m), np.floor(self.y / cell_m), strict=True)):
            self.cells.setdefault((int(cx), int(cy)), []).append(i)
        xs = [c[0] for c in self.cells] or [0]
        ys = [c[1] for c in self.cells] or [0]
        self.box = (min(xs), min(ys), max(xs), max(ys))

    def nearest(self, lon: float, lat: float) -> str | None:
        """The id of the candidate nearest `(lon, lat)` (the first in candidate order on a tie); None if none."""
        if not self.ids:
            return None
        px, py = lon * self.kx, lat * self.ky
        cx, cy = math.floor(px / self.cell_m), math.floor(py / self.cell_m)
        x0, y0, x1, y1 = self.box
        far = max(abs(cx - x0), abs(cx - x1), abs(cy - y0), abs(cy - y1)) + 1
        best: tuple[float, int] | None = None
        for r in range(0, far + 1):
            found = [i for cell in _ring(cx, cy, r) for i in self.cells.get(cell, ())]
            if found:
                idx = np.asarray(found)
                d2 = (self.x[idx] - px) ** 2 + (self.y[idx] - py) ** 2
                here = min(zip(d2.tolist(), found, strict=True))
                best = here if best is None or here < best else best
            # Anything not yet looked at lies at least r cells away.
            if best is not None and math.sqrt(best[0]) <= r * self.cell_m:
                break
        return self.ids[best[1]] if best is not None else None


def _ring(cx: int, cy: int, r: int) -> list[tuple[int, int]]:
    """The cells at Chebyshev distance `r` from cell `(cx, cy)`."""
    if r == 0:
        return [(cx, cy)]
    side = range(-r, r + 1)
    return ([(cx + d, cy - r) for d in side] + [(cx + d, cy + r) for d in side]
            + [(cx - r, cy + d) for d in side[1:-1]] + [(cx + r, cy + d) for d in side[1:-1]])  # fmt: skip


def nearest_nodes(graph: nx.DiGraph, candidates: Sequence[str], lon: float, lat: float) -> list[str]:
    """The candidate node nearest a point, as a list (empty if there are no candidates)."""
    found = NearestIndex(graph, candidates).nearest(lon, lat)
    return [found] if found is not None else []


def _link(graph: nx.DiGraph, place: str, to: str, *, mode: str) -> None:
    """Join a place to a junction both ways by a short straight walk link or access road."""
    a, b = graph.nodes[place], graph.nodes[to]
    geom = ((a["lon"], a["lat"]), (b["lon"], b["lat"]))
    length = max(1.0, haversine_m(*geom[0], *geom[1]))
    walk = mode == "walk"
    attrs: dict[str, object] = {
        "length_m": length, "width_m": LINK_WIDTH_M if walk else 0.0, "lanes": 0 if walk else 1, "mode": mode,
        "free_speed_mps": WALK_SPEED_MPS if walk else LINK_SPEED_KMH / 3.6, "carriageway_m": 0.0 if walk else 3.5,
        "oneway": False, "name": f"{'way' if walk else 'access road'} into {a['name']}", "source": "link",
    }  # fmt: skip
    graph.add_edge(place, to, geometry=geom, **attrs)
    graph.add_edge(to, place, geometry=geom[::-1], **attrs)


def _main_component(graph: nx.DiGraph, prefix: str, strong: bool) -> list[str]:
    """The junctions of a layer's largest (strongly, for roads) connected part, in a stable order."""
    layer = nx.DiGraph()
    layer.add_nodes_from(n for n in graph if n.startswith(prefix))
    layer.add_edges_from((u, v) for u, v in graph.edges if u in layer and v in layer)
    if layer.number_of_nodes() == 0:
        return []
    found = nx.strongly_connected_components(layer) if strong else nx.weakly_connected_components(layer)
    parts: list[set[str]] = [set(c) for c in found]
    biggest = max(len(c) for c in parts)
    return sorted(min((c for c in parts if len(c) == biggest), key=min))


def graph_from_osm(data: OsmExtract, *, name: str, label: str) -> nx.DiGraph:
    """Build the typed graph of an extract (see the module docstring for the layers and ids)."""
    graph = nx.DiGraph(name=name, title=f"{name} (OpenStreetMap extract)", attribution=ATTRIBUTION,
                       sources=(f"OpenStreetMap extract {label}",), source_file=label)  # fmt: skip
    pts = data.points
    ways = [piece for w in data.ways for piece in _present(w, pts)]
    roads = [(w, r) for w in ways if (r := road_way(w.tags)) is not None]
    walks = [(w, k) for w in ways if (k := walk_way(w.tags)) is not None]
    place_nodes = {n: p for n, t in data.node_tags.items() if n in pts and (p := place_kind(t)) is not None}
    place_ways = [(w, p) for w in ways if (p := place_kind(w.tags)) is not None]
    refs_of = {w.id: w.refs for w in data.ways}
    place_relations = [(rid, p, tags, rings_of([refs_of[m] for m in outer if m in refs_of]))
                       for rid, (outer, tags) in sorted(data.relations.items()) if (p := place_kind(tags)) is not None]
    place_relations = [(rid, p, tags, rings) for rid, p, tags, rings in place_relations
                       if rings and all(n in pts for ring in rings for n in ring)]  # fmt: skip
    on_outlines = {n for w, _ in place_ways for n in w.refs}  # where places are joined to the ways they touch
    on_outlines |= {n for *_, rings in place_relations for ring in rings for n in ring}

    road_cuts = _split_points([w.refs for w, _ in roads], place_nodes.keys() | on_outlines)
    for w, r in roads:
        for piece in _pieces(w.refs, road_cuts):
            geom = tuple(pts[n] for n in piece)
            a, b = f"road_{piece[0]}", f"road_{piece[-1]}"
            _junction(graph, a, piece[0], geom[0])
            _junction(graph, b, piece[-1], geom[-1])
            base: dict[str, object] = {
                "length_m": max(0.1, polyline_length_m(geom)), "width_m": 0.0, "mode": r.mode,
                "free_speed_mps": r.speed_kmh / 3.6, "carriageway_m": r.carriageway_m,
                "oneway": not (r.lanes_forward and r.lanes_backward), "name": _names(w.tags, "")[0],
                "highway": r.highway, "source": f"OSM way {w.id}",
            }  # fmt: skip
            if r.lanes_forward:
                _add(graph, a, b, {**base, "lanes": r.lanes_forward, "geometry": geom})
            if r.lanes_backward:
                _add(graph, b, a, {**base, "lanes": r.lanes_backward, "geometry": geom[::-1]})

    walk_cuts = _split_points([w.refs for w, _ in walks], place_nodes.keys() | on_outlines)
    for w, k in walks:
        for piece in _pieces(w.refs, walk_cuts):
            geom = tuple(pts[n] for n in piece)
            a, b = f"walk_{piece[0]}", f"walk_{piece[-1]}"
            _junction(graph, a, piece[0], geom[0])
            _junction(graph, b, piece[-1], geom[-1])
            base = {
                "length_m": max(0.1, polyline_length_m(geom)), "width_m": k.width_m, "lanes": 0, "mode": k.mode,
                "free_speed_mps": STAIR_SPEED_MPS if k.mode == "stair" else WALK_SPEED_MPS, "carriageway_m": 0.0,
                "oneway": not (k.forward and k.backward), "name": _names(w.tags, "")[0],
                "highway": w.tags.get("highway", ""), "width_basis": k.basis, "source": f"OSM way {w.id}",
            }  # fmt: skip
            if k.forward:
                _add(graph, a, b, {**base, "geometry": geom})
            if k.backward:
                _add(graph, b, a, {**base, "geometry": geom[::-1]})

    _tunnel_portals(graph)
    _name_junctions(graph)
    _add_places(graph, data, place_nodes, place_ways, place_relations)
    lons = [p[0] for *_, g in graph.edges(data="geometry") for p in g]
    lats = [p[1] for *_, g in graph.edges(data="geometry") for p in g]
    n_lon, n_lat, x_lon, x_lat = graph_bbox(graph)
    graph.graph["bbox"] = (min([n_lon, *lons]), min([n_lat, *lats]), max([x_lon, *lons]), max([x_lat, *lats]))
    return graph


def _name_junctions(graph: nx.DiGraph) -> None:
    """A junction is named after the streets that meet there (`成都北路 / 延安东路`), so that a planner finds it."""
    streets: dict[str, set[str]] = {}
    for u, v, name in graph.edges(data="name"):
        if name:
            streets.setdefault(u, set()).add(name)
            streets.setdefault(v, set()).add(name)
    for n, names in streets.items():
        d = graph.nodes[n]
        if d["kind"] == "junction":
            d["name"] = " / ".join(sorted(names)[:3])
            d["name_zh"] = d["name"] if re.search(r"[\u4e00-\u9fff]", d["name"]) else ""


def _tunnel_portals(graph: nx.DiGraph) -> None:
    """A road junction where a tunnel meets an open road is a tunnel portal, named after the tunnel."""
    for n in [n for n in graph if n.startswith("road_")]:
        modes = {d["mode"]: d["name"] for *_, d in graph.in_edges(n, data=True)}
        modes.update({d["mode"]: d["name"] for *_, d in graph.out_edges(n, data=True)})
        if "tunnel" in modes and "road" in modes:
            graph.nodes[n]["kind"] = "tunnel_portal"
            graph.nodes[n]["name"] = f"{modes['tunnel'] or 'tunnel'} portal"


def _add_places(graph: nx.DiGraph, data: OsmExtract, place_nodes: Mapping[int, str],
                place_ways: Sequence[tuple[OsmWayData, str]],
                place_relations: Sequence[tuple[int, str, dict[str, str], list[tuple[int, ...]]]]) -> None:  # fmt: skip
    """Typed places from tagged nodes, ways and multipolygons, each joined to the walkways and (vehicle places) the
    roads."""
    walk_main = NearestIndex(graph, _main_component(graph, "walk_", strong=False))
    road_main = NearestIndex(graph, _main_component(graph, "road_", strong=True))
    for osm_id, kind in sorted(place_nodes.items()):
        node_id = f"poi_{osm_id}"
        lon, lat = data.points[osm_id]
        name, zh = _names(data.node_tags[osm_id], node_id)
        graph.add_node(node_id, lon=lon, lat=lat, kind=kind, area_m2=0.0, name=name, name_zh=zh, quality="A",
                       source=f"OSM node {osm_id}")  # fmt: skip
        _join(graph, node_id, kind, [f"walk_{osm_id}"], [f"road_{osm_id}"], walk_main, road_main)
    for way, kind in place_ways:
        node_id = f"area_{way.id}"
        ring = [data.points[r] for r in way.refs]
        closed = way.refs[0] == way.refs[-1] and len(way.refs) >= 4
        area, (lon, lat) = polygon_area_centroid(ring) if closed else (0.0, ring[len(ring) // 2])
        name, zh = _names(way.tags, node_id)
        graph.add_node(node_id, lon=lon, lat=lat, kind=kind, area_m2=round(area, 1), name=name, name_zh=zh,
                       quality="A", source=f"OSM way {way.id}")  # fmt: skip
        on_walks = [f"walk_{r}" for r in dict.fromkeys(way.refs)]
        on_roads = [f"road_{r}" for r in dict.fromkeys(way.refs)]
        _join(graph, node_id, kind, on_walks, on_roads, walk_main, road_main)
    for rid, kind, tags, rings in place_relations:
        node_id = f"area_r{rid}"
        parts = [polygon_area_centroid([data.points[r] for r in ring]) for ring in rings]
        area = sum(a for a, _ in parts)
        lon = sum(a * c[0] for a, c in parts) / area if area else parts[0][1][0]
        lat = sum(a * c[1] for a, c in parts) / area if area else parts[0][1][1]
        name, zh = _names(tags, node_id)
        graph.add_node(node_id, lon=lon, lat=lat, kind=kind, area_m2=round(area, 1), name=name, name_zh=zh,
                       quality="A", source=f"OSM relation {rid}")  # fmt: skip
        outline = list(dict.fromkeys(n for ring in rings for n in ring))
        _join(graph, node_id, kind, [f"walk_{r}" for r in outline], [f"road_{r}" for r in outline], walk_main,
              road_main)  # fmt: skip


def _join(graph: nx.DiGraph, place: str, kind: str, walk_here: Sequence[str], road_here: Sequence[str],
          walk_main: NearestIndex, road_main: NearestIndex) -> None:  # fmt: skip
    """Link a place to the walkway junctions on it, or else the nearest one of the main walking network; a
    vehicle place likewise to the roads."""
    lon, lat = graph.nodes[place]["lon"], graph.nodes[place]["lat"]
    walk_on = [n for n in walk_here if n in graph]
    nearest = walk_main.nearest(lon, lat)
    for junction in walk_on or ([nearest] if nearest else []):
        _link(graph, place, junction, mode="walk")
    if kind in VEHICLE_PLACES:
        road_on = [n for n in road_here if n in graph]
        nearest = road_main.nearest(lon, lat)
        for junction in road_on[:1] or ([nearest] if nearest else []):
            _link(graph, place, junction, mode="road")


def load_osm(path: Path, label: str) -> nx.DiGraph:
    """An OpenStreetMap XML extract as a typed city graph; `label` is the path as the user gave it."""
    return graph_from_osm(read_osm(path, label), name=path.stem, label=label)
