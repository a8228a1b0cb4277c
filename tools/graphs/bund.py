"""Build the built-in city graph of the Bund: scenarios/data/graphs/bund.geojson.

Run from the repository root:

    python tools/graphs/bund.py

Standard library only; the output is deterministic (fixed tables, fixed rounding, fixed key order).

What the graph is for. The two Bund crowd scenarios: the Huangpu riverfront light show of 30 June to
4 July 2021 (about 90,000 people on the Bund at once on 1 July) and the New Year's Eve 2014 crush on the
stair between Chen Yi Square and the flood-wall promenade. A mesoscopic crowd model runs on it: it cuts
every edge into cells by length and walkable width, and treats every node with an `area_m2` as a holding
area. Widths and areas are the point of this file; each is an estimate (EST) unless a source is named.

Layers.
* Pedestrian network (modes `walk` and `stair`, every edge two-way): Nanjing Road East pedestrian
  street; the sidewalks of the approach streets; the west and east sidewalks of Zhongshan East 1st/2nd
  Road; Chen Yi Square and the other riverside squares; the stairs and ramps up to the flood-wall
  platform; the platform itself (the promenade) with its viewing bays; the metro stations and exits.
* Road network (mode `road`): the Zhongshan East 1st/2nd Road carriageway (`zs_*` nodes on its
  centreline), Waibaidu Bridge, Henan Middle Road, and the last stretch of each approach street that
  carries traffic. One-way streets are one-way here, in the direction of their OpenStreetMap way.
* The layers meet at the crossings of Zhongshan East 1st Road (west sidewalk -> carriageway centre ->
  east side) and at the junctions of Henan Middle Road with the approach streets. A road edge's
  `carriageway_m` becomes walkable when the road is closed to traffic (`close_road`); since its ends are
  pedestrian nodes, a closed road joins the walking network. A road edge never joins the same two nodes
  as a walk edge (the loader refuses parallel edges): where a street has both, the road edge spans two
  or more blocks and passes the minor cross streets as waypoints.

Coordinates: WGS-84, written (lon, lat) throughout, as in GeoJSON. Nothing comes from Chinese consumer
maps (GCJ-02 / BD-09).
* Quality A: a node of the OpenStreetMap extract shared/data/raw/osm/shanghai-huangpu-central-drive.osm
  (ODbL 1.0), or the mean of the nodes where a dual carriageway crosses a street; ids in `source`.
* Quality B: everything else, with its reasoning in `source`: points interpolated on OSM geometry (the
  drivable extract lacks Nanjing Road East, but the OSM metro-track file shows Line 2 running under it);
  the carriageway outside the extract (it stops at 31.2412 N and 121.4863 E), drawn by producing the
  streets that run into the Bund (Beijing E, Guangdong, Yan'an E, Jinling E, Renmin) on their OSM
  bearings, and from the author's knowledge of the Bund; everything east of the carriageway (sidewalk,
  squares, stairs, promenade, pier) as offsets from the carriageway centreline. The promenade runs on
  the flood-wall platform 45 m east of the centreline, 55 m at Chen Yi Square, where the square lies
  between the road and the wall.

Departures from shared/reference/landmarks.csv.
* East Nanjing Road station: landmarks.csv gives 31.238101, 121.484628 (A, "Wikipedia"). That point lies
  between Jiujiang Rd and Hankou Rd at Sichuan Rd, about 270 m from the Line 2 track (under Nanjing Rd E)
  and 350 m from the Line 10 track (under Henan Middle Rd) in the OSM track file, and it matches the
  Nanjing Rd E / Henan Rd junction moved by the usual GCJ-02 offset in Shanghai (+0.0044 lon, -0.0020
  lat). It is not used; the station node sits on the Line 2 track just east of Henan Road.
* Chen Yi Square: landmarks.csv gives 31.240, 121.488 (B, "verify"), about 230 m east of the
  carriageway, i.e. in the river. The square is placed 30 m east of the carriageway instead.

Figures from shared/reference/facts.md, section 3.3: waterfront about 1.8 km from Suzhou Creek to
Shiliupu; 2010 rebuild with 4 traffic lanes + 2 spare and sidewalks up to 12 m; promenade width EST
10-15 m; Nanjing Road East pedestrian street 1,528 m since 2020, width EST 18-28 m; the 2014 stair about
5 m wide, two flights of 9 + 8 steps with a landing under 20 m^2.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "scenarios" / "data" / "graphs" / "bund.geojson"

WALK = 1.34  # m/s, free walking speed (docs/graph-format.md)
STAIR = 0.65  # m/s along a stair flight (docs/graph-format.md: 0.6-0.7)
KMH = 1 / 3.6  # m/s per km/h

OSM = "OSM extract shanghai-huangpu-central-drive.osm"
TRACKS = "OSM metro tracks cn-shanghai-metro-tracks-2016.geojson"

Point = tuple[float, float]  # (lon, lat)

# ------------------------------------------------------------------------------------------- geometry

M_PER_DEG_LAT = 111_195.0


def _m_per_deg_lon(lat: float) -> float:
    return M_PER_DEG_LAT * math.cos(math.radians(lat))


def _bearing(a: Point, b: Point) -> float:
    """Bearing in degrees (0 north, 90 east) from a to b; flat earth, fine over a few hundred metres."""
    dx = (b[0] - a[0]) * _m_per_deg_lon(a[1])
    dy = (b[1] - a[1]) * M_PER_DEG_LAT
    return math.degrees(math.atan2(dx, dy)) % 360


def _move(p: Point, bearing_deg: float, metres: float) -> Point:
    rad = math.radians(bearing_deg)
    dlon = metres * math.sin(rad) / _m_per_deg_lon(p[1])
    dlat = metres * math.cos(rad) / M_PER_DEG_LAT
    return (p[0] + dlon, p[1] + dlat)


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _mean(*points: Point) -> Point:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


# ------------------------------------------------------- the carriageway centreline: the Bund's frame

# fmt: off

# Zhongshan East 1st Road (north of Yan'an E Rd) and East 2nd Road (south of it), north to south.
# Inside the OSM extract (31.2370-31.2412 N) it is a dual carriageway about 8 m apart: way 40301368
# northbound on the east side; ways 448931481, 448931482, 1298040469, 1201643770 southbound on the west.
# A junction's centreline point is the mean of the two signal nodes. (name, (lon, lat), quality, source)
CENTRELINE: list[tuple[str, Point, str, str]] = [
    ("waibaidu", (121.4871, 31.2456), "B",
     "EST: south abutment of Waibaidu Bridge; the road bends north-east from Beijing E Rd to the bridge "
     "at the mouth of Suzhou Creek (author's estimate, +-60 m)"),
    ("beijing", (121.4857, 31.2442), "B",
     "EST: Beijing E Rd produced east on the bearing of the parallel Tianjin and Ningbo roads in the OSM "
     "extract (about 0.28 deg lat per deg lon) to the carriageway produced north"),
    ("dianchi", (121.4855, 31.2423), "B",
     "EST: carriageway produced north of the extract's edge (way 1068447135 ends at node 1722223116, "
     "31.24119 N, heading north); Dianchi Rd about 40% of the way from Nanjing Rd E to Beijing E Rd"),
    ("nanjing", _mean((121.4855893, 31.2409188), (121.4855071, 31.2409137)), "A",
     f"{OSM}: mean of signal nodes 1883856710 (way 40301368) and 1883856735 (way 448931481), the "
     "Nanjing Rd E / Chen Yi Square crossing; the Line 2 track passes 25 m away"),
    ("jiujiang", _mean((121.4857082, 31.2398776), (121.4856252, 31.2398648)), "A",
     f"{OSM}: mean of nodes 1887541364 and 601097043 (九江路 ways 47150985, 448931479)"),
    ("hankou", _mean((121.4858309, 31.2389292), (121.4857524, 31.2389241)), "A",
     f"{OSM}: mean of nodes 1887566506 and 1883254799 (汉口路 ways 1298040470, 900279894)"),
    ("fuzhou", _mean((121.4860531, 31.2376250), (121.4859802, 31.2376051)), "A",
     f"{OSM}: mean of nodes 1888422935 and 476671870 (福州路 ways 1201643769, 900279890)"),
    ("guangdong", (121.4868, 31.2363), "B",
     "EST: Guangdong Rd produced east from OSM node 95386562 on its bearing (way 178441747) to the "
     "carriageway produced south-south-east from the extract's edge (way 1201643770)"),
    ("yanan", (121.4874, 31.2353), "B",
     "EST: Yan'an E Rd produced north-east from OSM nodes 1888322964 / 476794278 (ways 478271879, "
     "1327579127) to the carriageway; the Bund Signal Tower stands on the east side"),
    ("jinling", (121.4883, 31.2339), "B",
     "EST: Jinling E Rd produced east-north-east from OSM node 602334140 (way 1255099062) to Zhongshan "
     "E 2nd Rd"),
    ("shiliupu", (121.4903, 31.2315), "B",
     "EST: Renmin Rd produced east from OSM node 152847559 (way 1064398308) to Zhongshan E 2nd Rd at "
     "Xinkaihe Rd, by the Shiliupu wharf; so the waterfront from Suzhou Creek is about 1.8 km "
     "(facts.md 3.3)"),
]

# fmt: on

_CL = {name: point for name, point, _quality, _source in CENTRELINE}
_CL_ORDER = [name for name, *_ in CENTRELINE]

# Between Fuzhou Rd and Guangdong Rd the carriageway leaves the extract bending east: the southbound
# carriageway's last node 1315785483 (121.4863079, 31.2370036) plus half the 8 m separation.
FUZHOU_GUANGDONG_BEND = (121.48636, 31.23700)


def _road_bearing(name: str) -> float:
    """Bearing of the carriageway at a centreline point, heading south (northern to southern neighbour)."""
    i = _CL_ORDER.index(name)
    north_of = _CL[_CL_ORDER[max(0, i - 1)]]
    south_of = _CL[_CL_ORDER[min(len(_CL_ORDER) - 1, i + 1)]]
    return _bearing(north_of, south_of)


def bund(at: str, east: float = 0.0, north: float = 0.0) -> Point:
    """The point `east` metres riverward of the centreline point `at`, then `north` metres along it."""
    south = _road_bearing(at)
    p = _move(_CL[at], (south + 180) % 360, north) if north else _CL[at]
    return _move(p, (south - 90) % 360, east)


def bund_between(a: str, b: str, t: float, east: float = 0.0) -> Point:
    """The point `east` metres riverward of the centreline, a fraction `t` of the way from `a` to `b`."""
    south = _bearing(_CL[a], _CL[b])
    if south < 90 or south > 270:  # a lies south of b
        south = (south + 180) % 360
    return _move(_lerp(_CL[a], _CL[b], t), (south - 90) % 360, east)


# Cross section of the Bund, metres east of the carriageway centreline (west negative). EST: carriageway
# 18 m (6 lanes of 3 m: 4 traffic + 2 spare, facts.md 3.3); west sidewalk 8 m wide in front of the
# buildings, centre 13 m west; east sidewalk 12 m, centre 15 m east; squares centred 28-30 m east; stair
# feet 36 m east; the flood-wall platform (promenade) centred 45 m east, 55 m at Chen Yi Square.
W_SIDEWALK, E_SIDEWALK, PLAZA, STAIR_FOOT, PROMENADE, PROMENADE_CHEN_YI = -13, 15, 28, 36, 45, 55

# ---------------------------------------------------------------------------------------------- nodes

NODES: list[dict] = []


def node(node_id: str, kind: str, name: str, name_zh: str, where: Point, area_m2: float, quality: str,
         source: str) -> None:  # fmt: skip
    """One node; the arguments are the columns of the tables below."""
    NODES.append({"id": node_id, "kind": kind, "name": name, "name_zh": name_zh, "where": where,
                  "area_m2": area_m2, "quality": quality, "source": source})  # fmt: skip


SIDEWALK_W = "EST: west sidewalk of Zhongshan E Rd, 13 m west of the carriageway centreline"
SIDEWALK_E = "EST: east sidewalk of Zhongshan E Rd, 15 m east of the carriageway centreline"
PLATFORM = "EST: flood-wall platform, 45 m east of the carriageway centreline"
PLATFORM_CHEN_YI = "EST: flood-wall platform at Chen Yi Square, 55 m east of the carriageway centreline"
EXIT_POSITION = "EST: schematic exit position near the station (exits not surveyed)"

# fmt: off

# --- Zhongshan East 1st / 2nd Road carriageway: road junctions, and the middle of each crossing.
ZS_NAMES = {
    "waibaidu": ("Zhongshan E. 1st Rd at Waibaidu Bridge", "中山东一路/外白渡桥"),
    "beijing": ("Zhongshan E. 1st Rd / Beijing E. Rd", "中山东一路/北京东路"),
    "dianchi": ("Zhongshan E. 1st Rd / Dianchi Rd", "中山东一路/滇池路"),
    "nanjing": ("Zhongshan E. 1st Rd / Nanjing Rd E. (Chen Yi Square crossing)", "中山东一路/南京东路"),
    "jiujiang": ("Zhongshan E. 1st Rd / Jiujiang Rd", "中山东一路/九江路"),
    "hankou": ("Zhongshan E. 1st Rd / Hankou Rd", "中山东一路/汉口路"),
    "fuzhou": ("Zhongshan E. 1st Rd / Fuzhou Rd", "中山东一路/福州路"),
    "guangdong": ("Zhongshan E. 1st Rd / Guangdong Rd", "中山东一路/广东路"),
    "yanan": ("Zhongshan E. 1st Rd / Yan'an E. Rd", "中山东一路/延安东路"),
    "jinling": ("Zhongshan E. 2nd Rd / Jinling E. Rd", "中山东二路/金陵东路"),
    "shiliupu": ("Zhongshan E. 2nd Rd / Xinkaihe Rd (Shiliupu)", "中山东二路/新开河路(十六铺)"),
}

# --- west sidewalk, in front of the Bund buildings
WEST_SIDEWALK = {
    "beijing": ("West sidewalk at Beijing E. Rd", "北京东路口西侧人行道"),
    "dianchi": ("West sidewalk at Dianchi Rd", "滇池路口西侧人行道"),
    "nanjing": ("West sidewalk at Nanjing Rd E. (Peace Hotel)", "南京东路口西侧(和平饭店)"),
    "jiujiang": ("West sidewalk at Jiujiang Rd", "九江路口西侧人行道"),
    "hankou": ("West sidewalk at Hankou Rd (Customs House)", "汉口路口西侧(海关大楼)"),
    "fuzhou": ("West sidewalk at Fuzhou Rd", "福州路口西侧人行道"),
    "guangdong": ("West sidewalk at Guangdong Rd", "广东路口西侧人行道"),
    "yanan": ("West sidewalk at Yan'an E. Rd", "延安东路口西侧人行道"),
    "jinling": ("West sidewalk at Jinling E. Rd", "金陵东路口西侧人行道"),
}

# --- east sidewalk between the carriageway and the flood wall (where no square takes its place)
EAST_SIDEWALK = {
    "dianchi": ("East sidewalk at Dianchi Rd", "滇池路口东侧人行道"),
    "jiujiang": ("East sidewalk at Jiujiang Rd", "九江路口东侧人行道"),
    "hankou": ("East sidewalk at Hankou Rd", "汉口路口东侧人行道"),
    "fuzhou": ("East sidewalk at Fuzhou Rd", "福州路口东侧人行道"),
    "guangdong": ("East sidewalk at Guangdong Rd", "广东路口东侧人行道"),
    "jinling": ("East sidewalk at Jinling E. Rd", "金陵东路口东侧人行道"),
    "shiliupu": ("East sidewalk at Shiliupu (Xinkaihe Rd)", "十六铺东侧人行道"),
}

# --- squares and Huangpu Park between the carriageway and the flood wall.
# (id, kind, name, name_zh, where, area_m2, quality, source)
SQUARES = [
    ("huangpu_park", "zone", "Huangpu Park", "黄浦公园", bund_between("waibaidu", "beijing", 0.35, 25),
     6000, "B", "EST: the park at the confluence of Suzhou Creek and the Huangpu, east of the road; "
     "area_m2 = its open walkable part"),
    ("bund_financial_square", "plaza", "Bund Financial Square (Bund Bull)", "外滩金融广场(外滩金牛)",
     bund("beijing", PLAZA, 10), 2500, "B",
     "EST: one of the four riverside squares of the 2010 rebuild (with Huangpu Park, Chen Yi Square and "
     "the Signal Tower square), east of the carriageway at Beijing E Rd; area EST"),
    ("chen_yi_square", "square", "Chen Yi Square", "陈毅广场", bund("nanjing", 30), 3000, "B",
     "EST: at the foot of Nanjing Rd E between the carriageway and the flood wall, about 90 m x 33 m "
     "(doubled in the 2010 rebuild, facts.md 3.3); centroid 30 m east of the carriageway"),
    ("signal_tower_square", "plaza", "Bund Signal Tower square (Observatory Plaza)", "外滩信号台广场",
     bund("yanan", PLAZA), 2000, "B",
     "EST: riverside square at the Gutzlaff Signal Tower, Yan'an E Rd; area EST"),
]

# --- the flood-wall platform (promenade), north to south, with its viewing bays. A viewing area's
# area_m2 is the extra standing room of the bay beyond the promenade's through width (on the edges).
PROMENADE_NODES = [
    ("prom_waibaidu", "promenade", "Promenade north end (Huangpu Park, Waibaidu Bridge)",
     "外滩观景平台北端(黄浦公园)", bund("waibaidu", PROMENADE), 0, "B",
     "EST: north end of the flood-wall platform, beside Waibaidu Bridge"),
    ("prom_financial", "promenade", "Promenade at Bund Financial Square", "外滩观景平台(金融广场)",
     bund("beijing", PROMENADE), 0, "B", PLATFORM),
    ("view_bund_north", "viewing_area", "Viewing bay opposite Bund Nos. 26-29", "观景平台(外滩26-29号对面)",
     bund_between("beijing", "dianchi", 0.5, PROMENADE), 1200, "B", PLATFORM + "; bay area EST"),
    ("prom_dianchi", "promenade", "Promenade at Dianchi Rd", "外滩观景平台(滇池路)",
     bund("dianchi", PROMENADE), 0, "B", PLATFORM),
    ("prom_chen_yi_north", "promenade", "Promenade above Chen Yi Square, north-east stair",
     "外滩观景平台(陈毅广场东北)", bund("nanjing", PROMENADE_CHEN_YI, 25), 0, "B", PLATFORM_CHEN_YI),
    ("view_chen_yi", "viewing_area", "Viewing terrace above Chen Yi Square (facing Lujiazui)",
     "外滩观景平台(陈毅广场,正对陆家嘴)", bund("nanjing", PROMENADE_CHEN_YI + 3), 2000, "B",
     "EST: the widest stretch of the platform, opposite Nanjing Rd E; bay area EST"),
    ("prom_chen_yi", "promenade", "Promenade above Chen Yi Square, south-east stair (2014)",
     "外滩观景平台(陈毅广场东南)", bund("nanjing", PROMENADE_CHEN_YI, -25), 0, "B",
     PLATFORM_CHEN_YI + ", at the top of the 2014 stair"),
    ("prom_hankou", "promenade", "Promenade opposite the Customs House", "外滩观景平台(海关大楼对面)",
     bund("hankou", PROMENADE), 0, "B", PLATFORM),
    ("view_customs_house", "viewing_area", "Viewing bay between Hankou Rd and Fuzhou Rd",
     "观景平台(汉口路-福州路)", bund_between("hankou", "fuzhou", 0.5, PROMENADE), 1500, "B",
     PLATFORM + "; bay area EST"),
    ("prom_fuzhou", "promenade", "Promenade at Fuzhou Rd", "外滩观景平台(福州路)",
     bund("fuzhou", PROMENADE), 0, "B", PLATFORM),
    ("prom_guangdong", "promenade", "Promenade at Guangdong Rd", "外滩观景平台(广东路)",
     bund("guangdong", PROMENADE), 0, "B", PLATFORM),
    ("prom_yanan", "promenade", "Promenade at the Signal Tower (Yan'an E. Rd)", "外滩观景平台(信号台)",
     bund("yanan", PROMENADE), 0, "B", PLATFORM),
    ("view_signal_tower", "viewing_area", "Viewing bay south of the Signal Tower", "观景平台(信号台以南)",
     bund_between("yanan", "jinling", 0.45, PROMENADE), 1200, "B", PLATFORM + "; bay area EST"),
    ("prom_jinling", "promenade", "Promenade at the Jinling E. Rd ferry", "外滩观景平台(金陵东路轮渡)",
     bund("jinling", PROMENADE), 0, "B", PLATFORM),
    ("prom_shiliupu", "promenade", "Promenade south end (Shiliupu wharf)", "外滩滨江南端(十六铺码头)",
     bund("shiliupu", PROMENADE), 0, "B", "EST: south end of the Bund waterfront, at the Shiliupu wharf"),
]

# --- stairs up to the platform, which stands about 2.5 m above the squares (17 steps of about 0.15 m).
# The 2014 stair is at the south-east corner of Chen Yi Square (the official investigation report:
# "陈毅广场东南角通往黄浦江观景平台的人行通道阶梯"), about 5 m wide, 9 + 8 steps, landing under 20 m^2
# (facts.md 3.3). Each flight is a straight run rising towards the river: 9 treads of 0.30 m plus half
# the landing = 4.5 m, the same for the upper flight; landing 5 m x 3.6 m = 18 m^2. The orientation and
# the exact place in the square's corner are estimated. Other stairs: a foot node (kind stair) on the
# square or sidewalk, 9-15 m from the platform node.
STAIRS = [
    ("chen_yi_stair_foot", "junction", "Foot of the Chen Yi Square south-east stair", "陈毅广场东南角阶梯底",
     bund("nanjing", 40, -20), 0, "B", "EST: south-east corner of Chen Yi Square"),
    ("chen_yi_stair_landing", "stair", "Landing of the Chen Yi Square south-east stair (2014 crush site)",
     "陈毅广场东南角阶梯平台(2014年踩踏处)", bund("nanjing", 44.5, -20), 18, "B",
     "EST: landing between the 9-step and 8-step flights, 5 m x 3.6 m (facts.md 3.3: under 20 m^2)"),
    ("chen_yi_stair_top", "junction", "Top of the Chen Yi Square south-east stair", "陈毅广场东南角阶梯顶",
     bund("nanjing", 49, -20), 0, "B", "EST: edge of the flood-wall platform"),
    ("stair_chen_yi_ne", "stair", "Chen Yi Square north-east stair", "陈毅广场东北角阶梯",
     bund("nanjing", 40, 20), 0, "B", "EST: counterpart of the 2014 stair at the square's north-east corner"),
    ("stair_financial_square", "stair", "Stair from Bund Financial Square to the platform",
     "金融广场登平台阶梯", bund("beijing", STAIR_FOOT, 4), 0, "B",
     "EST: stair foot between the square and the flood wall"),
    ("stair_customs_house", "stair", "Stair to the platform opposite the Customs House",
     "海关大楼对面登平台阶梯", bund("hankou", STAIR_FOOT), 0, "B", "EST: stair foot on the east sidewalk"),
    ("stair_guangdong", "stair", "Stair to the platform at Guangdong Rd", "广东路口登平台阶梯",
     bund("guangdong", STAIR_FOOT), 0, "B", "EST: stair foot on the east sidewalk"),
    ("stair_signal_tower", "stair", "Stair from the Signal Tower square to the platform",
     "信号台广场登平台阶梯", bund("yanan", STAIR_FOOT, -8), 0, "B",
     "EST: broad stair beside the Signal Tower"),
]

# --- Waibaidu Bridge (Garden Bridge): about 107 m long, heading north-north-east over Suzhou Creek.
BRIDGE_BEARING = 20.0
BRIDGE = [
    ("waibaidu_bridge_south", "junction", "Waibaidu Bridge, south end (footways)", "外白渡桥南端(人行道)",
     _move(_CL["waibaidu"], BRIDGE_BEARING, 15), 0, "B", "EST: bridge deck 15 m north of the south abutment"),
    ("entrance_waibaidu_north", "entrance", "Waibaidu Bridge north end (Hongkou side)", "外白渡桥北端(虹口)",
     _move(_CL["waibaidu"], BRIDGE_BEARING, 105), 0, "B",
     "EST: north abutment, 105 m along the bridge from the south one"),
]

# --- Nanjing Road East pedestrian street, Xizang Middle Rd (People's Square) to the Bund. The drivable
# extract lacks the street; its crossings are OSM signal nodes on the cross streets, or the cross street
# produced to the Line 2 track, which runs under Nanjing Rd E.
NANJING_ROAD = [
    ("entrance_nanjing_west", "entrance", "Nanjing Rd E. west end at Xizang Middle Rd (People's Square)",
     "南京东路西端/西藏中路(人民广场)", (121.4699482, 31.2365248), 0, "A",
     f"{OSM}: node 601145296, where Nanjing Rd W (way 1298040501) meets Xizang Middle Rd"),
    ("nanjing_zhejiang", "junction", "Nanjing Rd E. / Zhejiang Middle Rd", "南京东路/浙江中路",
     (121.4739303, 31.2374602), 0, "A", f"{OSM}: signal node 267198435 on 浙江中路 (Hubei Rd ends here)"),
    ("nanjing_fujian", "junction", "Nanjing Rd E. / Fujian Middle Rd", "南京东路/福建中路",
     (121.4758096, 31.2377888), 0, "A", f"{OSM}: signal node 267198281 on 福建中路 (way 178583162)"),
    ("nanjing_shanxi", "junction", "Nanjing Rd E. / Shanxi South Rd", "南京东路/山西南路",
     (121.47793, 31.23868), 0, "B",
     f"interpolated: OSM nodes 267195121-477628490 (山西南路) produced to the Line 2 track ({TRACKS})"),
    ("nanjing_shandong", "junction", "Nanjing Rd E. / Shandong Middle Rd", "南京东路/山东中路",
     (121.47930, 31.23912), 0, "B",
     "interpolated: OSM nodes 267198231-477629479 (山东中路/山东北路) produced to the Line 2 track"),
    ("nanjing_henan", "junction", "Nanjing Rd E. / Henan Middle Rd", "南京东路/河南中路",
     _mean((121.4804478, 31.2395855), (121.4803336, 31.2395424)), 0, "A",
     f"{OSM}: mean of signal nodes 1883856720 and 601097074 on the two carriageways of 河南中路"),
    ("nanjing_jiangxi", "junction", "Nanjing Rd E. / Jiangxi Middle Rd", "南京东路/江西中路",
     (121.48219, 31.24008), 0, "B",
     "interpolated: 江西中路 produced north from OSM nodes 210686289-267195119 to the Line 2 track"),
    ("nanjing_sichuan", "junction", "Nanjing Rd E. / Sichuan Middle Rd", "南京东路/四川中路",
     (121.4832261, 31.2404488), 0, "A", f"{OSM}: signal node 103781535 on 四川中路 (way 226657321)"),
]

# --- approach streets, western end (an entrance) first; then the cross streets behind the Bund.
APPROACH_STREETS = [
    ("entrance_beijing_west", "entrance", "Beijing E. Rd at Fujian Middle Rd", "北京东路/福建中路",
     (121.4745864, 31.2410872), 0, "A",
     f"{OSM}: signal node 267198467 (北京东路 / 福建中路); the extract stops at 31.2412 N, so this is the "
     "easternmost Beijing E Rd junction it has"),
    ("beijing_shanxi", "junction", "Beijing E. Rd / Shanxi Rd", "北京东路/山西路", (121.4766, 31.2417),
     0, "B", "EST: Beijing E Rd produced east from node 267198467 on the bearing of Ningbo/Tianjin roads"),
    ("beijing_henan", "junction", "Beijing E. Rd / Henan Middle Rd", "北京东路/河南中路", (121.4793, 31.2424),
     0, "B", "EST: that line crossed with 河南中路 produced north from OSM nodes 8363347551-599408890"),
    ("beijing_sichuan", "junction", "Beijing E. Rd / Sichuan Middle Rd", "北京东路/四川中路",
     (121.4823, 31.2433), 0, "B", "EST: that line crossed with 四川中路 produced north from node 103781535"),
    ("dianchi_sichuan", "junction", "Dianchi Rd / Sichuan Middle Rd", "滇池路/四川中路", (121.4829, 31.2414),
     0, "B", "EST: 四川中路 produced north from OSM node 103781535; Dianchi Rd lies between Nanjing Rd E "
     "and Beijing E Rd"),
    ("entrance_jiujiang_west", "entrance", "Jiujiang Rd at Xizang Middle Rd", "九江路/西藏中路",
     (121.4703843, 31.2356662), 0, "A", f"{OSM}: signal node 601145298 (九江路 way 483897831)"),
    ("jiujiang_zhejiang", "junction", "Jiujiang Rd / Zhejiang Middle Rd", "九江路/浙江中路",
     (121.4742860, 31.2365514), 0, "A", f"{OSM}: signal node 267198436"),
    ("jiujiang_fujian", "junction", "Jiujiang Rd / Fujian Middle Rd", "九江路/福建中路",
     (121.4761819, 31.2371615), 0, "A", f"{OSM}: signal node 267195122"),
    ("jiujiang_henan", "junction", "Jiujiang Rd / Henan Middle Rd", "九江路/河南中路",
     _mean((121.4806165, 31.2385778), (121.4807239, 31.2386065)), 0, "A",
     f"{OSM}: mean of signal nodes 267195120 and 599408845"),
    ("jiujiang_jiangxi", "junction", "Jiujiang Rd / Jiangxi Middle Rd", "九江路/江西中路",
     (121.4824081, 31.2390423), 0, "A", f"{OSM}: signal node 267195119"),
    ("jiujiang_sichuan", "junction", "Jiujiang Rd / Sichuan Middle Rd", "九江路/四川中路",
     (121.4837537, 31.2393945), 0, "A", f"{OSM}: signal node 267195118"),
    ("entrance_hankou_west", "entrance", "Hankou Rd at Xizang Middle Rd", "汉口路/西藏中路",
     (121.4710178, 31.2348628), 0, "A", f"{OSM}: node 654577319 (汉口路 way 11624973 / 西藏中路)"),
    ("hankou_zhejiang", "junction", "Hankou Rd / Zhejiang Middle Rd", "汉口路/浙江中路",
     (121.4745197, 31.2358856), 0, "A", f"{OSM}: signal node 267198014"),
    ("hankou_fujian", "junction", "Hankou Rd / Fujian Middle Rd", "汉口路/福建中路",
     (121.4765782, 31.2365231), 0, "A", f"{OSM}: signal node 267198015"),
    ("hankou_henan", "junction", "Hankou Rd / Henan Middle Rd", "汉口路/河南中路",
     _mean((121.4808319, 31.2378564), (121.4809423, 31.2378796)), 0, "A",
     f"{OSM}: mean of signal nodes 267198017 and 599408844"),
    ("hankou_jiangxi", "junction", "Hankou Rd / Jiangxi Middle Rd", "汉口路/江西中路",
     (121.4825058, 31.2382261), 0, "A", f"{OSM}: signal node 11152438014"),
    ("hankou_sichuan", "junction", "Hankou Rd / Sichuan Middle Rd", "汉口路/四川中路",
     (121.4840240, 31.2385620), 0, "A", f"{OSM}: signal node 103788043"),
    ("entrance_fuzhou_west", "entrance", "Fuzhou Rd at Xizang Middle Rd", "福州路/西藏中路",
     (121.4719013, 31.2335565), 0, "A", f"{OSM}: node 9381975894 (福州路 way 1292568610 / 西藏中路)"),
    ("fuzhou_zhejiang", "junction", "Fuzhou Rd / Zhejiang Middle Rd", "福州路/浙江中路",
     (121.4749687, 31.2347386), 0, "A", f"{OSM}: signal node 9381975891"),
    ("fuzhou_fujian", "junction", "Fuzhou Rd / Fujian Middle Rd", "福州路/福建中路",
     (121.4773080, 31.2355839), 0, "A", f"{OSM}: node 9381975886"),
    ("fuzhou_henan", "junction", "Fuzhou Rd / Henan Middle Rd", "福州路/河南中路",
     _mean((121.4811841, 31.2366656), (121.4813189, 31.2367007)), 0, "A",
     f"{OSM}: mean of nodes 9381975868 and 9381975866"),
    ("fuzhou_jiangxi", "junction", "Fuzhou Rd / Jiangxi Middle Rd", "福州路/江西中路",
     (121.4828464, 31.2370092), 0, "A", f"{OSM}: signal node 210686289"),
    ("fuzhou_sichuan", "junction", "Fuzhou Rd / Sichuan Middle Rd", "福州路/四川中路",
     (121.4844111, 31.2372973), 0, "A", f"{OSM}: signal node 103788196"),
    ("entrance_guangdong_west", "entrance", "Guangdong Rd at Xizang Middle Rd", "广东路/西藏中路",
     (121.4727022, 31.2324192), 0, "A", f"{OSM}: node 267198471 (广东路 way 9832326 / 西藏中路)"),
    ("guangdong_zhejiang", "junction", "Guangdong Rd / Zhejiang Middle Rd", "广东路/浙江中路",
     (121.4757553, 31.2336566), 0, "A", f"{OSM}: signal node 267198468"),
    ("guangdong_fujian", "junction", "Guangdong Rd / Fujian Middle Rd", "广东路/福建中路",
     (121.4779807, 31.2343133), 0, "A", f"{OSM}: node 75352048"),
    ("guangdong_henan", "junction", "Guangdong Rd / Henan Middle Rd", "广东路/河南中路",
     _mean((121.4816693, 31.2347746), (121.4818089, 31.2347993)), 0, "A",
     f"{OSM}: mean of signal nodes 95386222 and 599408518"),
    ("guangdong_jiangxi", "junction", "Guangdong Rd / Jiangxi Middle Rd", "广东路/江西中路",
     (121.4833563, 31.2352951), 0, "A", f"{OSM}: signal node 95386499"),
    ("guangdong_sichuan", "junction", "Guangdong Rd / Sichuan Middle Rd", "广东路/四川中路",
     (121.4849110, 31.2358409), 0, "A", f"{OSM}: signal node 95386562"),
    ("entrance_yanan_west", "entrance", "Yan'an E. Rd at Xizang Rd", "延安东路/西藏路",
     _mean((121.4737537, 31.2306891), (121.4738598, 31.2307215), (121.4738880, 31.2304434),
           (121.4737617, 31.2306706)), 0, "A",
     f"{OSM}: mean of nodes 601145306, 1890502904, 1890502815, 1891590934"),
    ("yanan_zhejiang", "junction", "Yan'an E. Rd / Zhejiang Rd", "延安东路/浙江路",
     _mean((121.4769212, 31.2324254), (121.4771596, 31.2321075)), 0, "A",
     f"{OSM}: mean of nodes 477616429 and 477619297"),
    ("yanan_fujian", "junction", "Yan'an E. Rd / Fujian Rd", "延安东路/福建路",
     _mean((121.4785974, 31.2331069), (121.4789630, 31.2327658)), 0, "A",
     f"{OSM}: mean of nodes 476794305 and 1889249225"),
    ("yanan_henan", "junction", "Yan'an E. Rd / Henan Rd", "延安东路/河南路",
     _mean((121.4820694, 31.2331723), (121.4822313, 31.2328285), (121.4822933, 31.2330403),
           (121.4823711, 31.2328267)), 0, "A",
     f"{OSM}: mean of nodes 476794301, 1889249276, 1889255135, 476792263"),
    ("yanan_jiangxi", "junction", "Yan'an E. Rd / Jiangxi Rd", "延安东路/江西路",
     _mean((121.4838166, 31.2338376), (121.4839916, 31.2334689)), 0, "A",
     f"{OSM}: mean of signal nodes 479279454 and 476792266"),
    ("yanan_sichuan", "junction", "Yan'an E. Rd / Sichuan Rd", "延安东路/四川路",
     _mean((121.4854953, 31.2344744), (121.4857019, 31.2342268)), 0, "A",
     f"{OSM}: mean of signal nodes 476794281 and 677799505"),
    ("jinling_henan", "junction", "Jinling E. Rd / Henan South Rd", "金陵东路/河南南路",
     (121.4824026, 31.2320524), 0, "A", f"{OSM}: signal node 95663349"),
    ("jinling_jiangxi", "junction", "Jinling E. Rd / Jiangxi South Rd", "金陵东路/江西南路",
     (121.4842211, 31.2326737), 0, "A", f"{OSM}: signal node 479280077"),
    ("jinling_xikou", "junction", "Jinling E. Rd / Xikou Rd", "金陵东路/溪口路",
     (121.4852802, 31.2330136), 0, "A", f"{OSM}: node 479280511"),
    ("renmin_henan", "junction", "Renmin Rd / Henan South Rd", "人民路/河南南路",
     _mean((121.4827593, 31.2309982), (121.4828041, 31.2307884), (121.4826178, 31.2309684),
           (121.4826683, 31.2307414)), 0, "A",
     f"{OSM}: mean of signal nodes 848690442, 624739122, 152847380, 624739189"),
    ("renmin_lishui", "junction", "Renmin Rd / Lishui Rd", "人民路/丽水路", (121.4862999, 31.2314635), 0,
     "A", f"{OSM}: signal node 152847559"),
    ("entrance_shiliupu", "entrance", "Shiliupu / Yuyuan side (Zhongshan E. 2nd Rd at Xinkaihe Rd, west)",
     "十六铺/豫园方向(中山东二路新开河路西侧)", bund("shiliupu", W_SIDEWALK), 0, "B",
     "EST: west sidewalk of Zhongshan E 2nd Rd where Renmin Rd and Xinkaihe Rd come in from Yuyuan"),
    ("jinling_ferry_pier", "pier", "Jinling E. Rd ferry pier (Dongjin line)", "金陵东路轮渡站(东金线)",
     bund("jinling", 70), 400, "B",
     "EST: on the river 70 m east of the carriageway at Jinling E Rd; area_m2 = waiting hall, EST"),
]

# --- metro. A station node stands for its concourse (area EST); exits are at street level.
METRO = [
    ("east_nanjing_road_station", "metro", "East Nanjing Road station (Lines 2, 10)",
     "南京东路站(2号线、10号线)", (121.4812, 31.23975), 3000, "B",
     f"on the Line 2 track under Nanjing Rd E just east of Henan Rd, where Line 10 (under Henan Rd) "
     f"meets it ({TRACKS}); landmarks.csv 31.238101,121.484628 not used (off both tracks, looks "
     "GCJ-02-shifted)"),
    ("enr_exit_henan_north", "metro_exit", "East Nanjing Road station exit, Henan Middle Rd north",
     "南京东路站出口(河南中路北)", (121.48035, 31.24015), 0, "B", EXIT_POSITION),
    ("enr_exit_henan_south", "metro_exit", "East Nanjing Road station exit, Henan Middle Rd south",
     "南京东路站出口(河南中路南)", (121.48060, 31.23905), 0, "B", EXIT_POSITION),
    ("enr_exit_nanjing_shandong", "metro_exit",
     "East Nanjing Road station exit, Nanjing Rd E. at Shandong Rd",
     "南京东路站出口(南京东路山东中路)", (121.47985, 31.23930), 0, "B", EXIT_POSITION),
    ("enr_exit_nanjing_jiangxi", "metro_exit",
     "East Nanjing Road station exit, Nanjing Rd E. at Jiangxi Rd",
     "南京东路站出口(南京东路江西中路)", (121.48195, 31.24005), 0, "B", EXIT_POSITION),
    ("enr_exit_jiangxi_south", "metro_exit", "East Nanjing Road station exit, Jiangxi Middle Rd",
     "南京东路站出口(江西中路)", (121.48228, 31.23950), 0, "B", EXIT_POSITION),
    ("yuyuan_garden_station", "metro", "Yuyuan Garden station (Lines 10, 14)", "豫园站(10号线、14号线)",
     (121.48285, 31.23030), 2000, "B",
     f"on the Line 10 track under Henan South Rd just south of Renmin Rd ({TRACKS}); landmarks.csv (B) "
     "gives 31.2303,121.482, 80 m to the west"),
    ("yuyuan_exit_henan_north", "metro_exit", "Yuyuan Garden station exit, Henan South Rd north",
     "豫园站出口(河南南路北)", (121.48255, 31.23150), 0, "B", EXIT_POSITION),
    ("yuyuan_exit_renmin_east", "metro_exit", "Yuyuan Garden station exit, Renmin Rd",
     "豫园站出口(人民路)", (121.48340, 31.23105), 0, "B", EXIT_POSITION),
    ("yuyuan_exit_henan_south", "metro_exit", "Yuyuan Garden station exit, Henan South Rd at Fuyou Rd",
     "豫园站出口(河南南路福佑路)", (121.48300, 31.22965), 0, "B", EXIT_POSITION),
]

# fmt: on

for _name, _point, _quality, _source in CENTRELINE:
    node(f"zs_{_name}", "junction", *ZS_NAMES[_name], _point, 0, _quality, _source)
for _name, (_en, _zh) in WEST_SIDEWALK.items():
    node(f"bw_{_name}", "junction", _en, _zh, bund(_name, W_SIDEWALK), 0, "B", SIDEWALK_W)
for _name, (_en, _zh) in EAST_SIDEWALK.items():
    node(f"be_{_name}", "junction", _en, _zh, bund(_name, E_SIDEWALK), 0, "B", SIDEWALK_E)
for _row in (*SQUARES, *PROMENADE_NODES, *STAIRS, *BRIDGE, *NANJING_ROAD, *APPROACH_STREETS, *METRO):
    node(*_row)

POS = {n["id"]: n["where"] for n in NODES}

# ---------------------------------------------------------------------------------------------- edges

EDGES: list[dict] = []


def edge(u: str, v: str, mode: str, name: str, width_m: float, *, lanes: int = 0,
         speed: float | None = None, oneway: bool = False, carriageway_m: float | None = None,
         via: tuple = ()) -> None:  # fmt: skip
    """One edge; `via` are waypoints, each a (lon, lat) or the id of a node whose position it passes."""
    if speed is None:
        speed = {"walk": WALK, "stair": STAIR}[mode]
    points = [POS[u], *(POS[p] if isinstance(p, str) else p for p in via), POS[v]]
    EDGES.append({"u": u, "v": v, "mode": mode, "name": name, "width_m": width_m, "lanes": lanes,
                  "free_speed_mps": speed, "oneway": oneway, "carriageway_m": carriageway_m,
                  "points": points})  # fmt: skip


def walk_chain(ids: list[str], name: str, width_m: float, via: dict[int, tuple] | None = None) -> None:
    """Two-way walk edges between consecutive ids; `via[i]` holds the waypoints of the i-th edge."""
    for i, (u, v) in enumerate(itertools.pairwise(ids)):
        edge(u, v, "walk", name, width_m, via=(via or {}).get(i, ()))


def road(u: str, v: str, name: str, *, lanes: int, kmh: float, carriageway_m: float, oneway: bool = False,
         via: tuple = ()) -> None:  # fmt: skip
    """A road edge: nobody walks on it (width 0) until it is closed and its carriageway opens."""
    edge(
        u,
        v,
        "road",
        name,
        0,
        lanes=lanes,
        speed=kmh * KMH,
        oneway=oneway,
        carriageway_m=carriageway_m,
        via=via,
    )


# fmt: off

# --- Nanjing Road East pedestrian street: 1,528 m since the eastern extension of 12 Sep 2020 (facts.md
# 3.3). Width EST 18-28 m: 24 m on the 1999 street (Xizang Rd to Henan Rd), 20 m on the 2020 extension.
# Waypoints: the Line 2 track under the street (TRACKS, way 376634457) where the street bends near
# Xizang Rd, and between Sichuan Rd and the Bund.
walk_chain(["entrance_nanjing_west", "nanjing_zhejiang", "nanjing_fujian", "nanjing_shanxi",
            "nanjing_shandong", "nanjing_henan"], "Nanjing Road East pedestrian street", 24,
           via={0: ((121.4707708, 31.2365614), (121.4713878, 31.2368243), (121.4723018, 31.2371168))})
walk_chain(["nanjing_henan", "nanjing_jiangxi", "nanjing_sichuan", "bw_nanjing"],
           "Nanjing Road East pedestrian street (2020 extension)", 20,
           via={2: ((121.4842140, 31.2406874),)})

# --- approach streets: one walk edge stands for both sidewalks (EST 3-6 m together). Waypoints are OSM
# nodes of the street at the minor cross streets, so lengths follow the street.
walk_chain(["entrance_beijing_west", "beijing_shanxi", "beijing_henan", "beijing_sichuan", "bw_beijing"],
           "Beijing East Road (sidewalks)", 6)
walk_chain(["dianchi_sichuan", "bw_dianchi"], "Dianchi Road (sidewalks)", 4)
walk_chain(["entrance_jiujiang_west", "jiujiang_zhejiang", "jiujiang_fujian", "jiujiang_henan",
            "jiujiang_jiangxi", "jiujiang_sichuan", "bw_jiujiang"], "Jiujiang Road (sidewalks)", 4,
           via={1: ((121.4750563, 31.2367491),),                              # node 477615613 (Hubei Rd)
                2: ((121.4782720, 31.2379528), (121.4797257, 31.2383684)),    # nodes 267195121, 267198231
                5: ((121.4849555, 31.2397021),)})                             # node 1887541353
walk_chain(["entrance_hankou_west", "hankou_zhejiang", "hankou_fujian", "hankou_henan", "hankou_jiangxi",
            "hankou_sichuan", "bw_hankou"], "Hankou Road (sidewalks)", 4,
           via={0: ((121.4723119, 31.2353097), (121.4730791, 31.2355657)),    # nodes 267198209, 267198013
                1: ((121.4757995, 31.2362165),),                              # node 477615647 (Hubei Rd)
                2: ((121.4786447, 31.2372590), (121.4798505, 31.2376388)),    # Shanxi Rd (mean), 267198230
                5: ((121.4852128, 31.2388436),)})                             # node 1883254801
walk_chain(["entrance_fuzhou_west", "fuzhou_zhejiang", "fuzhou_fujian", "fuzhou_henan", "fuzhou_jiangxi",
            "fuzhou_sichuan", "bw_fuzhou"], "Fuzhou Road (sidewalks)", 5,
           via={0: ((121.4731119, 31.2340153), (121.4737619, 31.2342751)),    # nodes 267198210, 267194982
                1: ((121.4764234, 31.2352563),),                              # node 9381975888 (Hubei Rd)
                2: ((121.4791259, 31.2361156), (121.4800443, 31.2363639)),    # nodes 477620688, 267194971
                5: ((121.4849539, 31.2373974),)})                             # node 1888422932
walk_chain(["entrance_guangdong_west", "guangdong_zhejiang", "guangdong_fujian", "guangdong_henan",
            "guangdong_jiangxi", "guangdong_sichuan", "bw_guangdong"], "Guangdong Road (sidewalks)", 4,
           via={0: ((121.4737458, 31.2328355), (121.4744810, 31.2331218)),    # nodes 267198470, 267198469
                2: ((121.4803665, 31.2346186),)})                             # node 75350958 (Shandong Rd)
walk_chain(["entrance_yanan_west", "yanan_zhejiang", "yanan_fujian", "yanan_henan", "yanan_jiangxi",
            "yanan_sichuan", "bw_yanan"], "Yan'an East Road (sidewalks)", 6,
           via={0: ((121.4749162, 31.2311583), (121.4756056, 31.2315175)),    # Yunnan, Guangxi Rd (means)
                6: ((121.4861260, 31.2346378),)})                             # extract's edge (mean)
walk_chain(["jinling_henan", "jinling_jiangxi", "jinling_xikou", "bw_jinling"],
           "Jinling East Road (sidewalks)", 5,
           via={2: ((121.4861600, 31.2332804),)})                             # node 602334140
walk_chain(["renmin_henan", "renmin_lishui", "entrance_shiliupu"], "Renmin Road (sidewalks)", 5,
           via={0: ((121.4846268, 31.2314981),)})                             # node 479280088
walk_chain(["yanan_henan", "jinling_henan", "renmin_henan"], "Henan South Road (sidewalks)", 5,
           via={1: ((121.4825373, 31.2320954),)})                             # node 599408454

# North-south links behind the Bund (the "north-south redistribution" of crowds in 2021): Sichuan and
# Jiangxi Middle roads. Henan Middle Rd is in the road layer only; its junctions are pedestrian nodes.
walk_chain(["beijing_sichuan", "dianchi_sichuan", "nanjing_sichuan", "jiujiang_sichuan", "hankou_sichuan",
            "fuzhou_sichuan", "guangdong_sichuan", "yanan_sichuan"], "Sichuan Middle Road (sidewalks)", 4)
walk_chain(["nanjing_jiangxi", "jiujiang_jiangxi", "hankou_jiangxi", "fuzhou_jiangxi", "guangdong_jiangxi",
            "yanan_jiangxi"], "Jiangxi Middle Road (sidewalks)", 4,
           via={4: ((121.4836765, 31.2342047),)})                             # node 1315785391

# --- Zhongshan East Road sidewalks. West: EST 8 m; east: 12 m ("sidewalks up to 12 m", facts.md 3.3).
walk_chain(["waibaidu_bridge_south", "bw_beijing", "bw_dianchi", "bw_nanjing", "bw_jiujiang", "bw_hankou",
            "bw_fuzhou", "bw_guangdong", "bw_yanan"], "Zhongshan East 1st Road, west sidewalk", 8,
           via={6: (bund_between("fuzhou", "guangdong", 0.45, W_SIDEWALK),)})
walk_chain(["bw_yanan", "bw_jinling", "entrance_shiliupu"], "Zhongshan East 2nd Road, west sidewalk", 8)
walk_chain(["waibaidu_bridge_south", "huangpu_park", "bund_financial_square", "be_dianchi", "chen_yi_square",
            "be_jiujiang", "be_hankou", "be_fuzhou", "be_guangdong", "signal_tower_square"],
           "Zhongshan East 1st Road, east sidewalk", 12,
           via={7: (bund_between("fuzhou", "guangdong", 0.45, E_SIDEWALK),)})
walk_chain(["signal_tower_square", "be_jinling", "be_shiliupu"], "Zhongshan East 2nd Road, east sidewalk", 12)

# --- crossings of the carriageway, through its centre node. Width EST: the Nanjing Rd crossing to Chen
# Yi Square is the widest (15 m; used for "switch-style" alternating releases); others 6-8 m.
# (centre, west end, east end, width, name)
CROSSINGS = [
    ("beijing", "bw_beijing", "bund_financial_square", 8, "Crossing of Zhongshan E. 1st Rd at Beijing E. Rd"),
    ("dianchi", "bw_dianchi", "be_dianchi", 6, "Crossing of Zhongshan E. 1st Rd at Dianchi Rd"),
    ("nanjing", "bw_nanjing", "chen_yi_square", 15, "Crossing of Zhongshan E. 1st Rd at Nanjing Rd E."),
    ("jiujiang", "bw_jiujiang", "be_jiujiang", 6, "Crossing of Zhongshan E. 1st Rd at Jiujiang Rd"),
    ("hankou", "bw_hankou", "be_hankou", 6, "Crossing of Zhongshan E. 1st Rd at Hankou Rd"),
    ("fuzhou", "bw_fuzhou", "be_fuzhou", 6, "Crossing of Zhongshan E. 1st Rd at Fuzhou Rd"),
    ("guangdong", "bw_guangdong", "be_guangdong", 6, "Crossing of Zhongshan E. 1st Rd at Guangdong Rd"),
    ("yanan", "bw_yanan", "signal_tower_square", 8, "Crossing of Zhongshan E. 1st Rd at Yan'an E. Rd"),
    ("jinling", "bw_jinling", "be_jinling", 6, "Crossing of Zhongshan E. 2nd Rd at Jinling E. Rd"),
    ("shiliupu", "entrance_shiliupu", "be_shiliupu", 6, "Crossing of Zhongshan E. 2nd Rd at Xinkaihe Rd"),
]
for _at, _west, _east, _width, _label in CROSSINGS:
    edge(_west, f"zs_{_at}", "walk", _label, _width)
    edge(f"zs_{_at}", _east, "walk", _label, _width)

# --- the flood-wall promenade, north to south. Through width EST 10-15 m (facts.md 3.3): 12 m in
# general, 15 m along Chen Yi Square, 10 m south of Yan'an E Rd.
PROMENADE_NAME = "Bund flood-wall promenade (viewing platform)"
walk_chain(["prom_waibaidu", "prom_financial", "view_bund_north", "prom_dianchi", "prom_chen_yi_north"],
           PROMENADE_NAME, 12, via={0: (bund_between("waibaidu", "beijing", 0.5, PROMENADE),)})
walk_chain(["prom_chen_yi_north", "view_chen_yi", "prom_chen_yi"], PROMENADE_NAME, 15)
walk_chain(["prom_chen_yi", "prom_hankou", "view_customs_house", "prom_fuzhou", "prom_guangdong",
            "prom_yanan"], PROMENADE_NAME, 12,
           via={0: (bund("jiujiang", PROMENADE),),
                3: (bund_between("fuzhou", "guangdong", 0.45, PROMENADE),)})
walk_chain(["prom_yanan", "view_signal_tower", "prom_jinling", "prom_shiliupu"], PROMENADE_NAME, 10)

# --- ways up to the platform. Stairs run from a foot node to the platform at STAIR speed; ramps are walk
# edges about 30 m long (2.5 m rise at 1:12), 3 m wide. Widths EST except the 2014 stair (facts.md 3.3).
edge("chen_yi_square", "chen_yi_stair_foot", "walk", "Chen Yi Square, south-east corner", 10)
edge("chen_yi_stair_foot", "chen_yi_stair_landing", "stair",
     "Chen Yi Square south-east stair, lower flight (9 steps)", 5)
edge("chen_yi_stair_landing", "chen_yi_stair_top", "stair",
     "Chen Yi Square south-east stair, upper flight (8 steps)", 5)
edge("chen_yi_stair_top", "prom_chen_yi", "walk", PROMENADE_NAME, 10)
edge("chen_yi_square", "stair_chen_yi_ne", "walk", "Chen Yi Square, north-east corner", 10)
edge("stair_chen_yi_ne", "prom_chen_yi_north", "stair", "Chen Yi Square north-east stair", 5)
edge("bund_financial_square", "stair_financial_square", "walk", "Bund Financial Square", 10)
edge("stair_financial_square", "prom_financial", "stair", "Stair from Bund Financial Square to the platform",
     6)
edge("be_hankou", "stair_customs_house", "walk", "Zhongshan East 1st Road, east side", 8)
edge("stair_customs_house", "prom_hankou", "stair", "Stair to the platform opposite the Customs House", 4)
edge("be_guangdong", "stair_guangdong", "walk", "Zhongshan East 1st Road, east side", 8)
edge("stair_guangdong", "prom_guangdong", "stair", "Stair to the platform at Guangdong Road", 4)
edge("signal_tower_square", "stair_signal_tower", "walk", "Bund Signal Tower square", 10)
edge("stair_signal_tower", "prom_yanan", "stair", "Stair from the Signal Tower square to the platform", 8)
edge("be_dianchi", "prom_dianchi", "walk", "Ramp to the platform at Dianchi Road", 3)
edge("be_fuzhou", "prom_fuzhou", "walk", "Ramp to the platform at Fuzhou Road", 3)
edge("huangpu_park", "prom_waibaidu", "walk", "Huangpu Park, level with the platform", 10)
edge("waibaidu_bridge_south", "prom_waibaidu", "walk", "Waibaidu Bridge, east footway to the promenade", 5)
edge("waibaidu_bridge_south", "entrance_waibaidu_north", "walk", "Waibaidu Bridge footways (both sides)", 6)
edge("be_jinling", "jinling_ferry_pier", "walk", "Jinling East Road ferry pier forecourt", 8)
edge("prom_jinling", "jinling_ferry_pier", "walk", "Promenade to the Jinling East Road ferry pier", 6)
edge("prom_shiliupu", "be_shiliupu", "walk", "Shiliupu wharf, promenade down to street level", 10)

# --- metro: concourse <-> exit (passages, stairs, escalators lumped; EST 5 m), exit <-> street node.
METRO_EXITS = [
    ("east_nanjing_road_station", "enr_exit_henan_north", "nanjing_henan"),
    ("east_nanjing_road_station", "enr_exit_henan_south", "jiujiang_henan"),
    ("east_nanjing_road_station", "enr_exit_nanjing_shandong", "nanjing_shandong"),
    ("east_nanjing_road_station", "enr_exit_nanjing_jiangxi", "nanjing_jiangxi"),
    ("east_nanjing_road_station", "enr_exit_jiangxi_south", "jiujiang_jiangxi"),
    ("yuyuan_garden_station", "yuyuan_exit_henan_north", "jinling_henan"),
    ("yuyuan_garden_station", "yuyuan_exit_renmin_east", "renmin_henan"),
    ("yuyuan_garden_station", "yuyuan_exit_henan_south", "renmin_henan"),
]
for _station, _exit, _street in METRO_EXITS:
    _label = "East Nanjing Road station" if _station.startswith("east_") else "Yuyuan Garden station"
    edge(_station, _exit, "walk", f"{_label} passage", 5)
    edge(_exit, _street, "walk", f"{_label} exit", 5)

# --- road network. Zhongshan East 1st Rd after 2010: 4 traffic lanes + 2 spare (facts.md 3.3), so
# 2 lanes per direction, 40 km/h, carriageway 18 m (6 x 3 m). Waypoints: OSM centreline points (the
# means of the two carriageways' nodes).
ZS1, ZS2 = "Zhongshan East 1st Road", "Zhongshan East 2nd Road"
road("zs_waibaidu", "zs_beijing", ZS1, lanes=2, kmh=40, carriageway_m=18,
     via=(bund_between("waibaidu", "beijing", 0.5),))
road("zs_beijing", "zs_dianchi", ZS1, lanes=2, kmh=40, carriageway_m=18)
road("zs_dianchi", "zs_nanjing", ZS1, lanes=2, kmh=40, carriageway_m=18,
     via=((121.4855607, 31.2411324),))                                        # 1722223116 / 476671528
road("zs_nanjing", "zs_jiujiang", ZS1, lanes=2, kmh=40, carriageway_m=18,
     via=((121.4855813, 31.2404816),))                                        # 13113187948 / 13113187949
road("zs_jiujiang", "zs_hankou", ZS1, lanes=2, kmh=40, carriageway_m=18)
road("zs_hankou", "zs_fuzhou", ZS1, lanes=2, kmh=40, carriageway_m=18,
     via=((121.4859216, 31.2379615),))                                        # 476671524 / 103734983
road("zs_fuzhou", "zs_guangdong", ZS1, lanes=2, kmh=40, carriageway_m=18, via=(FUZHOU_GUANGDONG_BEND,))
road("zs_guangdong", "zs_yanan", ZS1, lanes=2, kmh=40, carriageway_m=18)
road("zs_yanan", "zs_jinling", ZS2, lanes=2, kmh=40, carriageway_m=18)
road("zs_jinling", "zs_shiliupu", ZS2, lanes=2, kmh=40, carriageway_m=18)
road("zs_waibaidu", "entrance_waibaidu_north", "Waibaidu Bridge", lanes=1, kmh=30, carriageway_m=11)

# Henan Middle Road: dual carriageway, 2 lanes each way in OSM (ways 449718769, 1064398290, ...).
road("beijing_henan", "nanjing_henan", "Henan Middle Road", lanes=2, kmh=40, carriageway_m=15,
     via=(_mean((121.4799417, 31.2405239), (121.4800530, 31.2405607)),))   # Tianjin Rd, 477629492/599408890
for _u, _v in [("nanjing_henan", "jiujiang_henan"), ("jiujiang_henan", "hankou_henan"),
               ("hankou_henan", "fuzhou_henan"), ("fuzhou_henan", "guangdong_henan"),
               ("guangdong_henan", "yanan_henan")]:
    road(_u, _v, "Henan Middle Road", lanes=2, kmh=40, carriageway_m=15)

# Approach roads between Henan Rd and the Bund, one-way where their OSM way is, in its direction; they
# pass the Jiangxi and Sichuan Rd junctions (pedestrian nodes) as waypoints. Speeds from the OSM class.
road("zs_jiujiang", "jiujiang_henan", "Jiujiang Road", lanes=1, kmh=20, carriageway_m=7, oneway=True,
     via=((121.4849555, 31.2397021), "jiujiang_sichuan", "jiujiang_jiangxi"))     # way 448931479
road("hankou_henan", "zs_hankou", "Hankou Road", lanes=1, kmh=20, carriageway_m=7, oneway=True,
     via=("hankou_jiangxi", "hankou_sichuan", (121.4852128, 31.2388436)))         # way 900279894
road("zs_fuzhou", "fuzhou_henan", "Fuzhou Road", lanes=2, kmh=30, carriageway_m=8, oneway=True,
     via=((121.4849539, 31.2373974), "fuzhou_sichuan", "fuzhou_jiangxi"))         # way 900279890
road("guangdong_henan", "zs_guangdong", "Guangdong Road", lanes=1, kmh=30, carriageway_m=7, oneway=True,
     via=("guangdong_jiangxi", "guangdong_sichuan"))                              # way 178441747
road("beijing_henan", "zs_beijing", "Beijing East Road", lanes=2, kmh=40, carriageway_m=14,
     via=("beijing_sichuan",))
road("entrance_beijing_west", "beijing_henan", "Beijing East Road", lanes=2, kmh=40, carriageway_m=14,
     via=("beijing_shanxi",))
road("yanan_henan", "zs_yanan", "Yan'an East Road", lanes=3, kmh=50, carriageway_m=24,
     via=("yanan_jiangxi", "yanan_sichuan", (121.4861260, 31.2346378)))
road("entrance_yanan_west", "yanan_henan", "Yan'an East Road", lanes=3, kmh=50, carriageway_m=24,
     via=((121.4749162, 31.2311583), "yanan_zhejiang", "yanan_fujian"))
road("jinling_henan", "zs_jinling", "Jinling East Road", lanes=1, kmh=30, carriageway_m=8,
     via=("jinling_jiangxi", "jinling_xikou", (121.4861600, 31.2332804)))

# fmt: on

# --------------------------------------------------------------------------------------------- output

SOURCES = [
    "OpenStreetMap extract shared/data/raw/osm/shanghai-huangpu-central-drive.osm (ODbL 1.0, OSM data "
    "of 2026-07-21): street junctions and the Zhongshan East 1st Road carriageway between 31.2370 and "
    "31.2412 N (quality A nodes; node ids in each node's source)",
    "OpenStreetMap metro tracks shared/data/raw/metro/cn-shanghai-metro-tracks-2016.geojson (ODbL 1.0): "
    "Line 2 under Nanjing Road East (the street's line and crossings) and Line 10 under Henan Road "
    "(station positions)",
    "shared/reference/facts.md section 3.3: waterfront about 1.8 km from Suzhou Creek to Shiliupu; 2010 "
    "rebuild (4 lanes + 2 spare, sidewalks up to 12 m); promenade width EST 10-15 m; Nanjing Road East "
    "pedestrian street 1,528 m, width EST 18-28 m; Chen Yi Square stair about 5 m wide, 9 + 8 steps, "
    "landing under 20 m^2",
    "shared/reference/landmarks.csv: East Nanjing Road (Lines 2, 10) and Yuyuan Garden (Lines 10, 14) "
    "stations and the Chen Yi Square reference point, checked against the OSM tracks; tools/graphs/bund.py "
    "says why the East Nanjing Road coordinate was not used",
    "Estimates (quality B, EST) from the author's knowledge of the Bund: the road outside the extract, "
    "the sidewalks, Chen Yi Square and the other riverside squares, stairs, ramps, the promenade and its "
    "viewing bays, Waibaidu Bridge, the ferry pier and the metro exits; every width and area not cited "
    "above is an estimate",
]


def _lonlat(p: Point) -> list[float]:
    return [round(p[0], 7), round(p[1], 7)]


def build() -> dict:
    """The GeoJSON document: nodes first (Point features), then edges (LineString features)."""
    margin = 0.0005  # degrees, about 50 m
    lons = [n["where"][0] for n in NODES]
    lats = [n["where"][1] for n in NODES]
    bbox = [
        math.floor((min(lons) - margin) * 1e4) / 1e4,
        math.floor((min(lats) - margin) * 1e4) / 1e4,
        math.ceil((max(lons) + margin) * 1e4) / 1e4,
        math.ceil((max(lats) + margin) * 1e4) / 1e4,
    ]
    features = []
    for n in NODES:
        props = {k: n[k] for k in ("id", "kind", "name", "name_zh", "area_m2", "quality", "source")}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": _lonlat(n["where"])},
                "properties": props,
            }
        )
    for e in EDGES:
        props = {k: e[k] for k in ("u", "v", "mode", "name", "width_m", "lanes")}
        props["free_speed_mps"] = round(e["free_speed_mps"], 2)
        props["oneway"] = e["oneway"]
        if e["carriageway_m"] is not None:
            props["carriageway_m"] = e["carriageway_m"]
        geometry = {"type": "LineString", "coordinates": [_lonlat(p) for p in e["points"]]}
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    meta = {
        "name": "bund",
        "title": "The Bund riverfront, Chen Yi Square, Nanjing Road East and the approach streets",
        "bbox": bbox,
        "attribution": "© OpenStreetMap contributors, ODbL 1.0",
        "sources": SOURCES,
    }
    return {"type": "FeatureCollection", "yiwang": meta, "features": features}


def check() -> None:
    """Refuse duplicate ids and parallel edges (the loader would reject them) before writing anything."""
    ids = [n["id"] for n in NODES]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"duplicate node ids: {duplicates}")
    pairs = [(e["u"], e["v"]) for e in EDGES] + [(e["v"], e["u"]) for e in EDGES if not e["oneway"]]
    clashes = sorted({p for p in pairs if pairs.count(p) > 1})
    if clashes:
        raise SystemExit(f"parallel edges between the same two nodes: {clashes}")


def main() -> None:
    check()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(NODES)} nodes, {len(EDGES)} edges")


if __name__ == "__main__":
    main()
