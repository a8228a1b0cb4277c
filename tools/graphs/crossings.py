"""Build the Huangpu crossings graph: scenarios/data/graphs/crossings.geojson.

Usage:  python tools/graphs/crossings.py      (standard library only; same input, same bytes out)

Scenario
--------
A typhoon warning stops the cross-river ferries. Delivery riders on e-bikes are left on the wrong bank,
because two-wheelers may not use the road tunnels. Traffic police then close a lane (or a whole tube) of a
tunnel and lead the riders through in batches, a police car in front and one behind, at about 20 km/h
(shared/reference/facts.md, 1.3). The graph holds what that model needs:

* ferry lines (mode `ferry`) between `pier` nodes; they are what the warning takes away;
* cross-river road tunnels (mode `tunnel`) between `tunnel_portal` nodes, with lanes per direction;
  Yan'an East Road and Fuxing East Road are drawn as two one-way tubes because the OSM extract shows which
  tube carries which direction; Renmin Road, Xinjian Road and Dalian Road are single two-way edges;
* the riders' origin and destination areas (`bank_area`) on both banks;
* roads (mode `road`) joining every bank area to the piers and portals of its own bank, and the escort
  holding points (`junction` nodes whose id starts with `hold_`) where riders wait for the next batch.

Coordinates: WGS-84 only
------------------------
Nothing here comes from a Chinese consumer map (GCJ-02 / BD-09). Two grades, as in docs/graph-format.md:

* Quality A: read off the OpenStreetMap extract shared/data/raw/osm/shanghai-huangpu-central-drive.osm
  (ODbL 1.0). Node ids and way ids are cited in each node's `source` and next to each OSM polyline below.
  Where a tunnel's two tubes surface a few tens of metres apart, the portal node is the mean of the two OSM
  nodes where `tunnel=yes` begins, and the tube geometry starts with a short hop from that mean to the tube.
* Quality B: everything east of 121.4863 E (where the extract stops) and all of Pudong, Hongkou and Yangpu.
  These are the author's estimates, each with its reasoning in `source`. They were checked against:
  - the bund graph (tools/graphs/bund.py): the Zhongshan East 1st/2nd Road junctions and the Jinling East
    Road pier use the same estimates, so the two graphs agree where they overlap;
  - the OSM metro-track layer shared/data/raw/metro/cn-shanghai-metro-tracks-2016.geojson (ODbL 1.0):
    Line 2 under Century Avenue, Line 4 under Dalian Road and Dongfang Road and through Tangqiao, Line 9
    under the river to Pudong South Road, Line 12 through Tilanqiao. Streets and stations that a line runs
    under are placed on its track;
  - published portal locations: Yan'an East Road tunnel exits at Yan'an East Rd / Fujian Rd (Puxi) and at
    Yincheng Middle Rd, Lujiazui (Pudong); Renmin Road tunnel exits at Pucheng Rd or Century Avenue and
    joins the Xinjian Road tunnel under Lujiazui; Xinjian Road tunnel runs north-south along Xinjian Road
    from Hailun Rd / Hailaer Rd (Hongkou) to Yincheng Middle Rd / Lujiazui Ring Rd, tubes of about 2.2 km.
  The piers, the Pudong portals and the Dalian Road and Xinjian Road portals are therefore schematic:
  good to about 100-200 m, enough for travel times and queue positions, not for a street map.
  `landmarks.csv`'s East Nanjing Road station coordinate is not used: tools/graphs/bund.py shows it is the
  Nanjing Road / Henan Road junction shifted by the GCJ-02 offset.

Lengths
-------
Edges carry no `length_m` (the loader measures the drawn line) except the four Yan'an and Fuxing tubes,
which carry the published tube lengths of facts.md 1.2 (2,207 m, 2,261 m, 2,785 m). Their drawn geometry is
kept within 10 % of those figures; the published lengths include the open ramps beyond the portals, and an
escort closes the whole tube, ramps included. Renmin, Xinjian and Dalian Road lengths are not in facts.md,
so those tubes are as long as their drawn lines (about 2.3-2.5, 2.2 and 2.2 km).

Speeds (m/s): tunnels 11.1 (40 km/h, their design speed); arterial roads and tunnel ramps 11.0; minor
streets 8.3 (30 km/h); ferries 3.5. Lanes are per direction. `width_m` is the sidewalk a pedestrian could use
(an estimate: 4 m on arterials, 3 m on minor streets, 0 on ramps, in tunnels and on the water).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "graphs" / "crossings.geojson"

OSM = "OSM extract shanghai-huangpu-central-drive.osm"
TRACKS = "OSM metro-track layer cn-shanghai-metro-tracks-2016.geojson"

ARTERIAL = 11.0  # m/s, about 40 km/h (kept inside the 8-11 m/s band used for city roads)
MINOR = 8.3  # m/s, 30 km/h
TUNNEL = 11.1  # m/s, 40 km/h design speed (facts.md 1.2)
FERRY = 3.5  # m/s, a river ferry under way

EARTH_RADIUS_M = 6_371_008.8


def great_circle_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two (lon, lat) points, in metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def drawn_m(points: list[tuple[float, float]]) -> float:
    return sum(great_circle_m(p, q) for p, q in pairwise(points))


def mean(*points: tuple[float, float]) -> tuple[float, float]:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


# ----------------------------------------------------------------------------------- OSM points (quality A)
# (lon, lat) of OSM nodes of the extract, by node id. Only the nodes that become graph nodes are named here;
# street polylines further down list their vertices inline with the node ids in a comment.

OSM_NODE = {
    # Zhongshan East 1st Road at Nanjing Road East: the two signal nodes of the dual carriageway
    "1883856710": (121.4855893, 31.2409188),  # way 40301368 (northbound)
    "1883856735": (121.4855071, 31.2409137),  # way 448931481 (southbound)
    # Sichuan Middle Road / Hankou Road signal node (ways 900279894, 238346293)
    "103788043": (121.4840240, 31.2385620),
    # Yan'an East Road / Fujian South Road: the eastbound tunnel approach (way 1196008691) leaves here
    "1889249255": (121.4788296, 31.2327457),
    # Yan'an East Road Tunnel: first node of the eastbound tube (way 479210212, tunnel=yes) ...
    "654412889": (121.4819787, 31.2328826),
    # ... and last node of the westbound tube (way 479205309, tunnel=yes)
    "476799365": (121.4817029, 31.2331744),
    # Renmin Road: the eastbound tunnel approach (way 71310791) leaves the surface road here
    "848690496": (121.4797232, 31.2293782),
    # Renmin Road Tunnel: first node of the eastbound tube (way 1123874584), last node of the westbound
    # tube (way 1123874577)
    "848690457": (121.4819283, 31.2305447),
    "848690469": (121.4819003, 31.2306203),
    # Fuxing East Road: the eastbound tunnel ramp (way 50323222) leaves the surface carriageway (way 10629482)
    "639308668": (121.4833486, 31.2228637),
    # Fuxing East Road Tunnel: first node of the eastbound tube (way 50323224), last node of the westbound
    # tube (way 50323216)
    "639308672": (121.4847323, 31.2235136),
    "639308645": (121.4847032, 31.2237160),
    # Laoximen: Xizang South Road / Fuxing Middle Road / Fuxing East Road (ways 1067953240, 1235501859)
    "624783812": (121.4783663, 31.2208218),
}

# --------------------------------------------------------------------------------------------- nodes
# Every node: id, kind, (lon, lat), quality, English name, Chinese name, source. No node here is a holding
# area with a measured size, so area_m2 is 0 throughout.

NODES: list[tuple] = []


def node(
    node_id: str, kind: str, where: tuple[float, float], quality: str, name: str, name_zh: str, source: str
) -> None:
    NODES.append((node_id, kind, name, name_zh, where, 0, quality, source))


# fmt: off

# ---- Puxi bank areas -------------------------------------------------------------------------------------
node("area_bund_nanjing_e", "bank_area", OSM_NODE["103788043"], "A",
     "The Bund / East Nanjing Road (Sichuan Middle Rd at Hankou Rd)", "外滩 / 南京东路",
     f"{OSM}: signal node 103788043 (Sichuan Middle Rd / Hankou Rd), a drivable point inside the "
     "Nanjing Road East shopping district, whose pedestrian street e-bikes may not use")
node("area_laoximen", "bank_area", OSM_NODE["624783812"], "A",
     "Laoximen / Old City (Xizang South Rd at Fuxing Rd)", "老西门 / 老城厢",
     f"{OSM}: node 624783812 (Xizang South Rd / Fuxing Middle Rd / Fuxing East Rd)")
node("area_dongjiadu", "bank_area", (121.4935, 31.2168), "B",
     "South Bund / Dongjiadu", "南外滩 / 董家渡",
     "EST: residential area west of Zhongshan South Rd at Dongjiadu Rd, 2.5 km south of the Bund; the "
     "Line 9 track (OSM metro layer) under Zhongshan South Rd fixes the road's longitude")
node("area_north_bund", "bank_area", (121.4935, 31.2518), "B",
     "North Bund (Hongkou)", "北外滩",
     "EST: the North Bund between Wusong Rd and Gaoyang Rd, north of Dongdaming Rd, about 600 m east of "
     "Waibaidu Bridge")
node("area_tilanqiao_yangpu", "bank_area", (121.5058, 31.257), "B",
     "Tilanqiao / west Yangpu", "提篮桥 / 杨浦",
     f"EST: on the Line 12 track ({TRACKS}) at Tilanqiao, Changyang Rd, 500 m west of Dalian Rd")
# ---- Pudong bank areas -----------------------------------------------------------------------------------
node("area_lujiazui", "bank_area", (121.50639, 31.23472), "B",
     "Lujiazui", "陆家嘴",
     "landmarks.csv: Pudong New Area reference point (Lujiazui), Wikipedia 'Pudong' (quality B there)")
node("area_dongchang_weifang", "bank_area", (121.5175, 31.2328), "B",
     "Dongchang Rd / Weifang", "东昌路 / 潍坊",
     "EST: between Dongchang Road station on Century Avenue (Wikipedia 'Dongchang Road station', "
     "31.23327, 121.515556, which lies on the Line 2 track of the OSM metro layer) and Weifang Rd")
node("area_tangqiao", "bank_area", (121.515, 31.2115), "B",
     "Tangqiao", "塘桥",
     f"EST: on the Line 4 track ({TRACKS}) between its river crossing and Lancun Rd, where Tangqiao station "
     "lies")
node("area_yangjing", "bank_area", (121.532, 31.2458), "B",
     "Yangjing / Pudong Avenue north", "洋泾 / 浦东大道",
     "EST: Yangjing, along Pudong Avenue east of Minsheng Rd, 1.7 km east of the Line 4 crossing")
# ---- Piers, Puxi -----------------------------------------------------------------------------------------
node("pier_jinling_e", "pier", (121.4889166, 31.234244), "B",
     "Jinling East Road ferry pier", "金陵东路轮渡站",
     "EST: on the river 70 m east of Zhongshan East 2nd Rd at Jinling East Rd; same point as "
     "jinling_ferry_pier in the bund graph")
node("pier_fuxing_e", "pier", (121.4947, 31.2256), "B",
     "Fuxing East Road ferry pier", "复兴东路轮渡站",
     "EST: where Fuxing East Rd (OSM way 1085107732, produced east-north-east on its bearing) meets "
     "Zhongshan South Rd and the river")
node("pier_lujiabang", "pier", (121.4979, 31.2106), "B",
     "Lujiabang Road ferry pier", "陆家浜路轮渡站",
     "EST: end of Lujiabang Rd on the river, 350 m north of Nanpu Bridge (Wikipedia 'Nanpu Bridge' "
     "31.20750, 121.50083) and just south of the Line 4 river crossing")
node("pier_gongping", "pier", (121.504, 31.2505), "B",
     "Gongping Road ferry pier", "公平路轮渡站",
     "EST: end of Gongping Rd on the Hongkou bank, south of Dongdaming Rd")
node("pier_dandong", "pier", (121.5195, 31.2535), "B",
     "Dandong Road ferry pier", "丹东路轮渡站",
     "EST: end of Dandong Rd on the Yangpu bank, about 700 m east of the Line 4 river crossing")
# ---- Piers, Pudong ---------------------------------------------------------------------------------------
node("pier_dongchang", "pier", (121.496, 31.23), "B",
     "Dongchang Road ferry pier", "东昌路轮渡站",
     "EST: west end of Dongchang Rd on the Pudong riverside, opposite the stretch between the Jinling "
     "East Rd and Fuxing East Rd piers (it serves both the Dongjin and Dongfu lines); a 15-minute walk "
     "from the Oriental Pearl Tower (synotrip.com)")
node("pier_nanmatou", "pier", (121.5033, 31.2072), "B",
     "Nanmatou ferry pier", "南码头轮渡站",
     "EST: Pudong bank at Nanpu Bridge (Wikipedia 'Nanpu Bridge'); the Nanlu line runs under the bridge "
     "(Shanghai Daily, 24 Dec 2019)")
node("pier_taitongzhan", "pier", (121.5065, 31.2463), "B",
     "Taitongzhan ferry pier", "泰同栈轮渡站",
     "EST: north shore of Lujiazui opposite Gongping Rd")
node("pier_minsheng", "pier", (121.525, 31.2494), "B",
     "Minsheng Road ferry pier", "民生路轮渡站",
     "EST: north end of Minsheng Rd on the Pudong bank")
# ---- Tunnel portals, Puxi --------------------------------------------------------------------------------
node("portal_yanan_puxi", "tunnel_portal", mean(OSM_NODE["654412889"], OSM_NODE["476799365"]), "A",
     "Yan'an East Road Tunnel, Puxi portal", "延安东路隧道浦西洞口",
     f"{OSM}: mean of node 654412889 (eastbound tube begins, way 479210212) and node 476799365 "
     "(westbound tube ends, way 479205309); landmarks.csv gives 31.2330, 121.4818")
node("portal_renmin_puxi", "tunnel_portal", mean(OSM_NODE["848690457"], OSM_NODE["848690469"]), "A",
     "Renmin Road Tunnel, Puxi portal", "人民路隧道浦西洞口",
     f"{OSM}: mean of node 848690457 (eastbound tube begins, way 1123874584) and node 848690469 "
     "(westbound tube ends, way 1123874577); landmarks.csv gives 31.2306, 121.4819")
node("portal_fuxing_puxi", "tunnel_portal", mean(OSM_NODE["639308672"], OSM_NODE["639308645"]), "A",
     "Fuxing East Road Tunnel, Puxi portal", "复兴东路隧道浦西洞口",
     f"{OSM}: mean of node 639308672 (eastbound tube begins, way 50323224) and node 639308645 "
     "(westbound tube ends, way 50323216); landmarks.csv gives 31.2237, 121.4847")
node("portal_xinjian_puxi", "tunnel_portal", (121.4975, 31.2565), "B",
     "Xinjian Road Tunnel, Puxi portal", "新建路隧道浦西洞口",
     "EST: on Xinjian Rd between Dongyuhang Rd (southbound entry ramp) and Hailaer Rd (main portal), "
     "2.2 km north of the Lujiazui portal along the tube (published tubes 2,190 m and 2,235 m)")
node("portal_dalian_puxi", "tunnel_portal", (121.5113, 31.2567), "B",
     "Dalian Road Tunnel, Puxi portal", "大连路隧道浦西洞口",
     f"EST: on Dalian Rd just north of Huimin Rd; the Line 4 track ({TRACKS}) runs under Dalian Rd and gives "
     "its line")
# ---- Tunnel portals, Pudong ------------------------------------------------------------------------------
node("portal_yanan_pudong", "tunnel_portal", (121.502, 31.2392), "B",
     "Yan'an East Road Tunnel, Pudong portal", "延安东路隧道浦东洞口",
     "EST: published exit at Yincheng Middle Rd, Lujiazui, straight onto Century Avenue (cnenc.net "
     f"'延安东路隧道'); placed on Century Avenue (Line 2 track, {TRACKS}) just west of Yincheng Middle Rd")
node("portal_renmin_pudong", "tunnel_portal", (121.5078, 31.2345), "B",
     "Renmin Road Tunnel, Pudong portal", "人民路隧道浦东洞口",
     "EST: Pucheng Rd exit south of Century Avenue (wangjianshuo.com, 19 Feb 2010: the tunnel exits at "
     "Pucheng Rd or Century Avenue, or carries on into the Xinjian Road tunnel)")
node("portal_xinjian_pudong", "tunnel_portal", (121.5045, 31.2378), "B",
     "Xinjian Road Tunnel, Pudong portal", "新建路隧道浦东洞口",
     "EST: Yincheng Middle Rd south of Century Avenue (published ends: Yincheng Middle Rd / Dongyuan "
     "Rd, Lujiazui Ring Rd / Dongcheng Rd)")
node("portal_fuxing_pudong", "tunnel_portal", (121.5115, 31.2326), "B",
     "Fuxing East Road Tunnel, Pudong portal", "复兴东路隧道浦东洞口",
     "EST: on Zhangyang Rd just east of Pudong South Rd (Shangcheng Road station, Wikipedia 31.23306, "
     "121.50972); the drawn tube from the OSM Puxi portal is then 2.75 km against the published 2,785 m")
node("portal_dalian_pudong", "tunnel_portal", (121.517, 31.2382), "B",
     "Dalian Road Tunnel, Pudong portal", "大连路隧道浦东洞口",
     f"EST: in Dongfang Rd north of Weifang Rd; the Line 4 track ({TRACKS}) runs under Dongfang Rd and gives "
     "its line")
# ---- Escort holding points (riders wait here for the next batch) -----------------------------------------
node("hold_yanan_puxi", "junction", OSM_NODE["1889249255"], "A",
     "Yan'an East Rd / Fujian South Rd (holding point)", "延安东路福建南路",
     f"{OSM}: node 1889249255, where the eastbound tunnel approach (way 1196008691) leaves Yan'an East "
     "Rd; the published Puxi exit of the tunnel is at Fujian Rd")
node("hold_renmin_puxi", "junction", OSM_NODE["848690496"], "A",
     "Renmin Rd tunnel approach (holding point)", "人民路隧道引道口",
     f"{OSM}: node 848690496, where the eastbound tunnel approach (way 71310791) leaves Renmin Rd")
node("hold_fuxing_puxi", "junction", OSM_NODE["639308668"], "A",
     "Fuxing East Rd tunnel ramp (holding point)", "复兴东路隧道引道口",
     f"{OSM}: node 639308668, where the eastbound tunnel ramp (way 50323222) leaves the Fuxing East Rd "
     "carriageway (way 10629482); Fuxing Road escorts: facts.md 1.3 (2021, 2024, 2025)")
node("hold_dalian_puxi", "junction", (121.5121, 31.255), "B",
     "Dalian Rd / Huimin Rd (holding point)", "大连路惠民路",
     "facts.md 1.3: riders held at Dalian Rd / Huimin Rd during Hinnamnor (Sep 2022); position EST on "
     f"the Line 4 track under Dalian Rd ({TRACKS})")
node("hold_lujiazui_pudong", "junction", (121.5032, 31.2384), "B",
     "Century Avenue / Yincheng Middle Rd (holding point)", "世纪大道银城中路",
     f"EST: Lujiazui station junction on the Line 2 track under Century Avenue ({TRACKS}); serves the Yan'an "
     "and Xinjian portals")
node("hold_fuxing_pudong", "junction", (121.5098, 31.2336), "B",
     "Zhangyang Rd / Pudong South Rd (holding point)", "张杨路浦东南路",
     "EST: Zhangyang Rd at Pudong South Rd beside Shangcheng Road station (Wikipedia 31.23306, "
     "121.50972)")
node("hold_dalian_pudong", "junction", (121.519, 31.2355), "B",
     "Dongfang Rd / Weifang Rd (holding point)", "东方路潍坊路",
     f"EST: Dongfang Rd south of the Dalian Road tunnel portal, on the Line 4 track ({TRACKS})")
# ---- Junctions, Puxi -------------------------------------------------------------------------------------
node("j_bund_nanjing", "junction", mean(OSM_NODE["1883856710"], OSM_NODE["1883856735"]), "A",
     "Zhongshan East 1st Rd at Nanjing Road East", "中山东一路南京东路",
     f"{OSM}: mean of signal nodes 1883856710 (way 40301368) and 1883856735 (way 448931481); same "
     "point as zs_nanjing in the bund graph")
node("j_bund_yanan", "junction", (121.4874, 31.2353), "B",
     "Zhongshan East 1st Rd at Yan'an East Rd", "中山东一路延安东路",
     "EST: Yan'an East Rd produced north-east from the extract's edge (ways 478271879, 1327579127) to "
     "the Bund carriageway; same point as zs_yanan in the bund graph")
node("j_bund_jinling", "junction", (121.4883, 31.2339), "B",
     "Zhongshan East 2nd Rd at Jinling East Rd", "中山东二路金陵东路",
     "EST: Jinling East Rd produced east-north-east from OSM node 602334140 (way 1255099062); same "
     "point as zs_jinling in the bund graph")
node("j_bund_renmin", "junction", (121.4903, 31.2315), "B",
     "Zhongshan East 2nd Rd at Renmin Rd / Xinkaihe Rd (Shiliupu)", "中山东二路人民路(十六铺)",
     "EST: Renmin Rd produced east from OSM node 152847559 (way 1064398308); same point as zs_shiliupu "
     "in the bund graph")
node("j_zhongshan_s_fuxing_e", "junction", (121.4935, 31.226), "B",
     "Zhongshan South Rd at Fuxing East Rd", "中山南路复兴东路",
     "EST: Fuxing East Rd produced east-north-east from OSM node 475974091 (way 1085107732) to the "
     "riverside road")
node("j_zhongshan_s_dongjiadu", "junction", (121.4958, 31.2172), "B",
     "Zhongshan South Rd at Dongjiadu Rd", "中山南路董家渡路",
     f"EST: riverside road south of the Line 9 track (Xiaonanmen, {TRACKS})")
node("j_zhongshan_s_lujiabang", "junction", (121.4958, 31.2112), "B",
     "Zhongshan South Rd at Lujiabang Rd", "中山南路陆家浜路",
     f"EST: riverside road where the Line 4 track ({TRACKS}) leaves Puxi")
node("j_waibaidu", "junction", (121.4871, 31.2456), "B",
     "Zhongshan East 1st Rd at Waibaidu Bridge", "外白渡桥南堍",
     "EST: south abutment of Waibaidu Bridge; same point as zs_waibaidu in the bund graph")
node("j_daming_wusong", "junction", (121.4898, 31.2483), "B",
     "Daming Rd at Wusong Rd", "大名路吴淞路",
     "EST: 350 m north-east of Waibaidu Bridge along Daming Rd")
node("j_dongdaming_xinjian", "junction", (121.498, 31.2512), "B",
     "Dongdaming Rd at Xinjian Rd", "东大名路新建路",
     "EST: Dongdaming Rd about 150 m from the river, where the Xinjian Road tunnel passes beneath")
node("j_dongdaming_gongping", "junction", (121.5036, 31.2524), "B",
     "Dongdaming Rd at Gongping Rd", "东大名路公平路",
     "EST: Dongdaming Rd at Gongping Rd")
node("j_yangshupu_dalian", "junction", (121.5127, 31.2535), "B",
     "Yangshupu Rd at Dalian Rd", "杨树浦路大连路",
     f"EST: on the Line 4 track under Dalian Rd ({TRACKS}), about 150 m from the river")
node("j_yangshupu_dandong", "junction", (121.5192, 31.2548), "B",
     "Yangshupu Rd at Dandong Rd", "杨树浦路丹东路",
     "EST: Yangshupu Rd 650 m east of Dalian Rd")
# ---- Junctions, Pudong -----------------------------------------------------------------------------------
node("j_century_pudong_s", "junction", (121.508, 31.2366), "B",
     "Century Avenue at Pudong South Rd", "世纪大道浦东南路",
     f"EST: on the Line 2 track under Century Avenue ({TRACKS})")
node("j_pudong_s_pudong_ave", "junction", (121.5064, 31.242), "B",
     "Pudong South Rd at Pudong Avenue", "浦东南路浦东大道",
     "EST: west end of Pudong Avenue, 550 m north of Century Avenue")
node("j_pudong_ave_dongfang", "junction", (121.5148, 31.2432), "B",
     "Pudong Avenue at Dongfang Rd", "浦东大道东方路",
     f"EST: on the Line 4 track ({TRACKS}) 450 m south of the river (Pudong Avenue station)")
node("j_pudong_ave_minsheng", "junction", (121.525, 31.2462), "B",
     "Pudong Avenue at Minsheng Rd", "浦东大道民生路",
     "EST: Pudong Avenue 1 km east-north-east of Dongfang Rd")
node("j_century_ave_station", "junction", (121.525, 31.2292), "B",
     "Century Avenue / Zhangyang Rd / Dongfang Rd", "世纪大道张杨路东方路",
     f"EST: where the Line 2, 4 and 9 tracks meet in the OSM metro layer ({TRACKS}), Century Avenue station")
node("j_dongchang_pudong_s", "junction", (121.5097, 31.2303), "B",
     "Dongchang Rd at Pudong South Rd", "东昌路浦东南路",
     "EST: Pudong South Rd 350 m south of Zhangyang Rd")
node("j_pudong_s_pujian", "junction", (121.5088, 31.2135), "B",
     "Pudong South Rd at Pujian Rd", "浦东南路浦建路",
     f"EST: Pudong South Rd where the Line 4 track ({TRACKS}) turns east to Tangqiao")
node("j_nanmatou", "junction", (121.5068, 31.2088), "B",
     "Pudong South Rd at Nanmatou Rd", "浦东南路南码头路",
     "EST: Pudong South Rd 350 m east of the river at Nanpu Bridge")
# fmt: on

# --------------------------------------------------------------------------------------------- edges
# Each edge lists only its intermediate points: the line is drawn from node u through `via` to node v.

EDGES: list[dict] = []


def edge(
    u: str,
    v: str,
    mode: str,
    name: str,
    *,
    lanes: int,
    speed: float,
    width: float,
    via: Sequence[tuple[float, float]] = (),
    oneway: bool = False,
    length_m: float | None = None,
) -> None:
    EDGES.append(
        {
            "u": u,
            "v": v,
            "mode": mode,
            "name": name,
            "lanes": lanes,
            "speed": speed,
            "width": width,
            "via": list(via),
            "oneway": oneway,
            "length_m": length_m,
        }
    )


def road(
    u: str,
    v: str,
    name: str,
    *,
    lanes: int = 2,
    speed: float = ARTERIAL,
    width: float = 4.0,
    via: Sequence[tuple[float, float]] = (),
) -> None:
    edge(u, v, "road", name, lanes=lanes, speed=speed, width=width, via=via)


def ramp(u: str, v: str, name: str, *, lanes: int, via: Sequence[tuple[float, float]] = ()) -> None:
    """A tunnel approach between a holding point and a portal: open cutting, no footway."""
    edge(u, v, "road", name, lanes=lanes, speed=ARTERIAL, width=0.0, via=via)


def ferry(u: str, v: str, name: str, via: Sequence[tuple[float, float]] = ()) -> None:
    edge(u, v, "ferry", name, lanes=0, speed=FERRY, width=0.0, via=via)


# fmt: off
# ---- Ferry lines (facts.md 1.1; pier positions EST, see the nodes) -------------------------------------
ferry("pier_jinling_e", "pier_dongchang", "Dongjin line 东金线")  # crosses diagonally (facts.md 1.1 sources)
ferry("pier_fuxing_e", "pier_dongchang", "Dongfu line 东复线")
ferry("pier_lujiabang", "pier_nanmatou", "Nanlu line 南陆线")
ferry("pier_gongping", "pier_taitongzhan", "Taigong line 泰公线")
ferry("pier_dandong", "pier_minsheng", "Mindan line 民丹线")

# ---- Yan'an East Road Tunnel: two one-way tubes of 2 lanes (facts.md 1.2) --------------------------------
# South tube (1996, 2,207 m) eastbound; north tube (1988, 2,261 m) westbound: the OSM eastbound tube lies
# south of the westbound one. OSM vertices below are a subset of the tube ways, in travel order.
edge("portal_yanan_puxi", "portal_yanan_pudong", "tunnel",
     "Yan'an East Road Tunnel, south tube (eastbound) 延安东路隧道南线", lanes=2, speed=TUNNEL, width=0.0,
     oneway=True, length_m=2207, via=[
         # ways 479210212, 484295023, 484295022: nodes 654412889, 4272855247, 4075546751, 4075546752,
         # 1889255119, 476797635, 4770389141, 4723535379
         (121.4819787, 31.2328826), (121.4829988, 31.2326972), (121.4835821, 31.2326522),
         (121.4838249, 31.2326674), (121.4843531, 31.2328046), (121.4849616, 31.2330336),
         (121.4853544, 31.2332264), (121.4860395, 31.2336490),
         # EST: under the Bund at Yan'an East Rd, under the river, then along the south side of the Oriental
         # Pearl Tower to Century Avenue
         (121.4880, 31.2350), (121.4930, 31.2368), (121.4960, 31.2382), (121.4990, 31.2389),
     ])
edge("portal_yanan_pudong", "portal_yanan_puxi", "tunnel",
     "Yan'an East Road Tunnel, north tube (westbound) 延安东路隧道北线", lanes=2, speed=TUNNEL, width=0.0,
     oneway=True, length_m=2261, via=[
         (121.4990, 31.2392), (121.4960, 31.2386), (121.4930, 31.2372), (121.4880, 31.2354),  # EST
         # ways 479208647, 479205310, 479205309: nodes 4272855260, 476801467, 4770389138, 4272855256,
         # 4272855255, 4075546754, 476799365
         (121.4862974, 31.2342694), (121.4853698, 31.2338792), (121.4841589, 31.2334178),
         (121.4830145, 31.2329111), (121.4827543, 31.2328760), (121.4825277, 31.2328969),
         (121.4817029, 31.2331744),
     ])

# ---- Fuxing East Road Tunnel: two one-way double-deck tubes, 2 + 1 = 3 lanes each (facts.md 1.2) ---------
# The south tube runs west to east (the 2021 fog escort used "Fuxing Rd (S tube, W->E)", facts.md 1.3).
edge("portal_fuxing_puxi", "portal_fuxing_pudong", "tunnel",
     "Fuxing East Road Tunnel, south tube (eastbound) 复兴东路隧道", lanes=3, speed=TUNNEL, width=0.0,
     oneway=True, length_m=2785, via=[
         # way 50323224: nodes 639308672, 639309882, 3356022890, 639308671
         (121.4847323, 31.2235136), (121.4849630, 31.2235790), (121.4853197, 31.2236295),
         (121.4862995, 31.2236947),
         # EST: along Fuxing East Rd, under Zhongshan South Rd and the river, then east-north-east to
         # Zhangyang Rd
         (121.4900, 31.2247), (121.4935, 31.2257), (121.4966, 31.2267), (121.5000, 31.2279),
         (121.5050, 31.2299), (121.5090, 31.2317),
     ])
edge("portal_fuxing_pudong", "portal_fuxing_puxi", "tunnel",
     "Fuxing East Road Tunnel, north tube (westbound) 复兴东路隧道", lanes=3, speed=TUNNEL, width=0.0,
     oneway=True, length_m=2785, via=[
         (121.5090, 31.2320), (121.5050, 31.2302), (121.5000, 31.2282), (121.4966, 31.2270),  # EST
         (121.4935, 31.2260), (121.4900, 31.2250),  # EST
         # way 50323216: nodes 639308643, 6547379873, 639308644, 639308645
         (121.4862733, 31.2239013), (121.4857060, 31.2238783), (121.4852245, 31.2238256),
         (121.4847032, 31.2237160),
     ])

# ---- Renmin Road Tunnel: two-way, 2 lanes per direction (facts.md 1.2, lanes EST) -------------------------
edge("portal_renmin_puxi", "portal_renmin_pudong", "tunnel", "Renmin Road Tunnel 人民路隧道", lanes=2,
     speed=TUNNEL, width=0.0, via=[
         # ways 1123874584, 49224800 (eastbound tube): nodes 848690457, 848690458, 848690459, 624738901,
         # 624738918, 624738922
         (121.4819283, 31.2305447), (121.4825197, 31.2308257), (121.4828724, 31.2309347),
         (121.4837400, 31.2311491), (121.4848921, 31.2313453), (121.4860612, 31.2314500),
         # EST: under Renmin Rd to Shiliupu, under the river south of Lujiazui, to Pucheng Rd
         (121.4900, 31.2322), (121.4950, 31.2332), (121.5000, 31.2341), (121.5040, 31.2345),
     ])

# ---- Xinjian Road Tunnel: two-way, 2 lanes per direction (published: 2 lanes each way, 40 km/h) ------------
edge("portal_xinjian_puxi", "portal_xinjian_pudong", "tunnel", "Xinjian Road Tunnel 新建路隧道", lanes=2,
     speed=TUNNEL, width=0.0, via=[
         # EST: south along Xinjian Rd, under the river, into Lujiazui
         (121.4980, 31.2525), (121.4990, 31.2497), (121.5002, 31.2455), (121.5022, 31.2420),
         (121.5038, 31.2395),
     ])

# ---- Dalian Road Tunnel: two-way, 2 lanes per direction (facts.md 1.2, lanes EST); main escort tunnel ------
edge("portal_dalian_puxi", "portal_dalian_pudong", "tunnel", "Dalian Road Tunnel 大连路隧道", lanes=2,
     speed=TUNNEL, width=0.0, via=[
         # EST: south along Dalian Rd, under the river, south along Dongfang Rd (the Line 4 corridor)
         (121.5125, 31.2540), (121.5136, 31.2518), (121.5145, 31.2478), (121.5149, 31.2430),
         (121.5156, 31.2404),
     ])

# ---- Tunnel approaches between holding points and portals --------------------------------------------
ramp("hold_yanan_puxi", "portal_yanan_puxi", "Yan'an East Rd tunnel approach 延安东路隧道引道", lanes=2,
     via=[
         # ways 1196008691, 178583153: nodes 1889249347, 1889249299, 1889249303, 654412889
         (121.4797816, 31.2330257), (121.4802738, 31.2330905), (121.4808753, 31.2330728),
         (121.4819787, 31.2328826),
     ])
ramp("hold_renmin_puxi", "portal_renmin_puxi", "Renmin Rd tunnel approach 人民路隧道引道", lanes=2,
     via=[
         # way 71310791: nodes 848690498, 848690501, 4075546742, 848690503, 848690457
         (121.4798992, 31.2295815), (121.4801942, 31.2298268), (121.4803612, 31.2299188),
         (121.4805966, 31.2300310), (121.4819283, 31.2305447),
     ])
ramp("hold_fuxing_puxi", "portal_fuxing_puxi", "Fuxing East Rd tunnel ramp 复兴东路隧道引道", lanes=3,
     via=[
         # way 50323222: nodes 1316236338, 639308672
         (121.4841507, 31.2232824), (121.4847323, 31.2235136),
     ])
ramp("hold_dalian_puxi", "portal_dalian_puxi", "Dalian Rd tunnel approach 大连路隧道引道", lanes=2)
ramp("hold_lujiazui_pudong", "portal_yanan_pudong",
     "Yan'an East Rd tunnel ramp, Century Avenue 延安东路隧道引道", lanes=2)
ramp("hold_lujiazui_pudong", "portal_xinjian_pudong",
     "Xinjian Rd tunnel ramp, Yincheng Middle Rd 新建路隧道引道", lanes=2)
ramp("j_century_pudong_s", "portal_renmin_pudong",
     "Renmin Rd tunnel ramp, Pucheng Rd 人民路隧道引道", lanes=2, via=[(121.5082, 31.2356)])
ramp("hold_fuxing_pudong", "portal_fuxing_pudong",
     "Fuxing East Rd tunnel ramp, Zhangyang Rd 复兴东路隧道引道", lanes=3)
ramp("hold_dalian_pudong", "portal_dalian_pudong",
     "Dalian Rd tunnel ramp, Dongfang Rd 大连路隧道引道", lanes=2)
road("j_dongdaming_xinjian", "portal_xinjian_puxi", "Xinjian Rd 新建路", lanes=2, speed=MINOR, width=3.0,
     via=[(121.4978, 31.2540)])

# ---- Puxi streets read off the OSM extract (vertices are OSM nodes; ids in the comments) ---------------
road("area_bund_nanjing_e", "j_bund_nanjing",
     "Hankou Rd / Zhongshan East 1st Rd 汉口路 / 中山东一路", lanes=1, speed=MINOR, width=3.0,
     via=[
         (121.4857524, 31.2389241),  # node 1883254799 (ways 900279894, 1298040469)
         (121.4855071, 31.2409137),  # node 1883856735 (way 448931481)
     ])
road("area_bund_nanjing_e", "hold_yanan_puxi",
     "Hankou Rd / Henan Middle Rd / Yan'an East Rd 汉口路 / 河南中路 / 延安东路", lanes=2, speed=MINOR,
     width=3.0, via=[
         # ways 1064853460, 1064853461, 1206165293, 1064398288, 1074771166, 1074771165, 46975399,
         # 178583696, 967985513: nodes 267198017, 1315785264, 210704576, 1889249276, 1889249349,
         # 1888344631
         (121.4808319, 31.2378564), (121.4814649, 31.2356356), (121.4820032, 31.2333384),
         (121.4822313, 31.2328285), (121.4808348, 31.2330102), (121.4803992, 31.2330189),
     ])
road("hold_yanan_puxi", "hold_renmin_puxi",
     "Fujian South Rd / Renmin Rd 福建南路 / 人民路", lanes=2, speed=MINOR, width=3.0,
     via=[
         # ways 11631594, 1323097579, 15419906 to node 848690687 (Renmin Rd / Fujian South Rd), then
         # across to the eastbound carriageway (way 49224804): nodes 4075546741, 848690661, 848690659
         (121.4805116, 31.2301876), (121.4804055, 31.2298638), (121.4802532, 31.2297695),
         (121.4800111, 31.2295476),
     ])
road("hold_renmin_puxi", "area_laoximen",
     "Renmin Rd / Huaihai East Rd / Xizang South Rd 人民路 / 淮海东路 / 西藏南路", lanes=2,
     via=[
         # ways 1324405519, 24621218, 39921025, 488788626, 900279868, 1068916337, 1237953497,
         # 1324405511, 1335304375, 1335304374, 475044040, 1272337501, 1064476622: nodes 385113975,
         # 479293261, 601663332, 601663327, 601662226, 1573781768, 1563370154, 601145319
         (121.4792767, 31.2290198), (121.4778224, 31.2311130), (121.4746270, 31.2295240),
         (121.4752966, 31.2285658), (121.4751662, 31.2285080), (121.4756347, 31.2278385),
         (121.4766809, 31.2254058), (121.4771516, 31.2228332),
     ])
road("area_laoximen", "hold_fuxing_puxi", "Fuxing East Rd 复兴东路", lanes=3,
     via=[
         # ways 1067953240, 1254633078, 1067953239: nodes 482732933, 481438664, 76482741, 1573781794,
         # 1316236413
         (121.4785775, 31.2207976), (121.4801932, 31.2209754), (121.4806583, 31.2211412),
         (121.4816952, 31.2217025), (121.4823161, 31.2221903),
     ])
road("hold_renmin_puxi", "j_bund_renmin", "Renmin Rd 人民路", lanes=2,
     via=[
         # ways 49224804, 1085107741, 1123874585, 1064398308: nodes 75355696, 848690453, 624739199,
         # 624739211, 152847559 (the extract's edge); then EST east to the Bund
         (121.4806368, 31.2299782), (121.4829919, 31.2308533), (121.4847231, 31.2312398),
         (121.4859993, 31.2313567), (121.4862999, 31.2314635),
     ])
road("hold_fuxing_puxi", "j_zhongshan_s_fuxing_e", "Fuxing East Rd 复兴东路", lanes=3,
     via=[
         # ways 10629482, 1332638348, 1085107732: nodes 7114595663, 6547379878, 93332051, 475974091
         # (the extract's edge); then EST east-north-east to the riverside road
         (121.4840873, 31.2233404), (121.4847390, 31.2235893), (121.4855182, 31.2237384),
         (121.4861566, 31.2237740), (121.4900, 31.2248),
     ])
road("j_bund_nanjing", "j_bund_yanan", "Zhongshan East 1st Rd 中山东一路", lanes=3,
     via=[
         # ways 448931481, 1298040469, 448931482, 1201643770: nodes 103734983, 13113187951, 1315785483
         # (the extract's edge); then EST to Guangdong Rd (zs_guangdong in the bund graph)
         (121.4858827, 31.2379565), (121.4860625, 31.2374146), (121.4863079, 31.2370036),
         (121.4868, 31.2363),
     ])
road("j_bund_nanjing", "j_waibaidu", "Zhongshan East 1st Rd 中山东一路", lanes=3,
     via=[
         # way 1068447135: node 1722223116 (the extract's edge); then EST via Beijing East Rd
         (121.4855249, 31.2411914), (121.4855, 31.2423), (121.4857, 31.2442),
     ])

# ---- Puxi streets outside the extract (EST) --------------------------------------------------------------
road("j_bund_yanan", "j_bund_jinling", "Zhongshan East 2nd Rd 中山东二路", lanes=3)
road("j_bund_jinling", "pier_jinling_e",
     "Jinling East Rd ferry pier access 金陵东路轮渡站", lanes=1, speed=MINOR, width=3.0)
road("j_bund_jinling", "j_bund_renmin", "Zhongshan East 2nd Rd 中山东二路", lanes=3,
     via=[(121.4893, 31.2328)])
road("j_bund_renmin", "j_zhongshan_s_fuxing_e",
     "Zhongshan East 2nd Rd / Zhongshan South Rd 中山东二路 / 中山南路", lanes=3, via=[(121.4918, 31.2288)])
road("j_zhongshan_s_fuxing_e", "pier_fuxing_e",
     "Fuxing East Rd ferry pier access 复兴东路轮渡站", lanes=1, speed=MINOR, width=3.0)
road("j_zhongshan_s_fuxing_e", "j_zhongshan_s_dongjiadu", "Zhongshan South Rd 中山南路", lanes=3,
     via=[(121.4947, 31.2220)])
road("j_zhongshan_s_dongjiadu", "area_dongjiadu", "Dongjiadu Rd 董家渡路", lanes=1, speed=MINOR, width=3.0)
road("j_zhongshan_s_dongjiadu", "j_zhongshan_s_lujiabang", "Zhongshan South Rd 中山南路", lanes=3)
road("j_zhongshan_s_lujiabang", "pier_lujiabang",
     "Lujiabang Rd ferry pier access 陆家浜路轮渡站", lanes=1, speed=MINOR, width=3.0)
road("area_laoximen", "j_zhongshan_s_lujiabang", "Zhonghua Rd / Lujiabang Rd 中华路 / 陆家浜路", lanes=2,
     via=[(121.4805, 31.2178), (121.4830, 31.2150), (121.4900, 31.2128)])
road("j_waibaidu", "j_daming_wusong", "Waibaidu Bridge / Daming Rd 外白渡桥 / 大名路", lanes=2,
     via=[(121.4875, 31.2465)])
road("j_daming_wusong", "j_dongdaming_xinjian", "Daming Rd / Dongdaming Rd 大名路 / 东大名路", lanes=2,
     via=[(121.4940, 31.2500)])
road("area_north_bund", "j_dongdaming_xinjian", "Dongdaming Rd 东大名路", lanes=2, speed=MINOR, width=3.0)
road("area_north_bund", "j_daming_wusong", "Wusong Rd 吴淞路", lanes=1, speed=MINOR, width=3.0)
road("j_dongdaming_xinjian", "j_dongdaming_gongping", "Dongdaming Rd 东大名路", lanes=2)
road("j_dongdaming_gongping", "pier_gongping", "Gongping Rd 公平路", lanes=1, speed=MINOR, width=3.0)
road("j_dongdaming_gongping", "area_tilanqiao_yangpu",
     "Gongping Rd / Changyang Rd 公平路 / 长阳路", lanes=1, speed=MINOR, width=3.0,
     via=[(121.5040, 31.2555)])
road("j_dongdaming_gongping", "j_yangshupu_dalian",
     "Dongdaming Rd / Yangshupu Rd 东大名路 / 杨树浦路", lanes=2, via=[(121.5080, 31.2531)])
road("j_yangshupu_dalian", "hold_dalian_puxi", "Dalian Rd 大连路", lanes=3)
road("area_tilanqiao_yangpu", "hold_dalian_puxi", "Huimin Rd 惠民路", lanes=1, speed=MINOR, width=3.0,
     via=[(121.5085, 31.2556)])
road("j_yangshupu_dalian", "j_yangshupu_dandong", "Yangshupu Rd 杨树浦路", lanes=2)
road("j_yangshupu_dandong", "pier_dandong", "Dandong Rd 丹东路", lanes=1, speed=MINOR, width=3.0)

# ---- Pudong streets (EST) --------------------------------------------------------------------------------
road("pier_dongchang", "j_dongchang_pudong_s", "Dongchang Rd 东昌路", lanes=1, speed=MINOR, width=3.0,
     via=[(121.5030, 31.2302)])
road("j_dongchang_pudong_s", "hold_fuxing_pudong", "Pudong South Rd 浦东南路", lanes=3)
road("hold_fuxing_pudong", "j_century_pudong_s", "Pudong South Rd 浦东南路", lanes=3)
road("j_century_pudong_s", "area_lujiazui",
     "Yincheng Rd / Lujiazui Ring Rd 银城路 / 陆家嘴环路", lanes=2, speed=MINOR, width=3.0)
road("j_century_pudong_s", "hold_lujiazui_pudong", "Century Avenue 世纪大道", lanes=3,
     via=[(121.5055, 31.2375)])
road("j_century_pudong_s", "j_pudong_s_pudong_ave", "Pudong South Rd 浦东南路", lanes=3,
     via=[(121.5073, 31.2393)])
road("j_pudong_s_pudong_ave", "pier_taitongzhan",
     "Taitongzhan ferry pier access 泰同栈轮渡站", lanes=1, speed=MINOR, width=3.0,
     via=[(121.5066, 31.2445)])
road("j_pudong_s_pudong_ave", "j_pudong_ave_dongfang", "Pudong Avenue 浦东大道", lanes=3,
     via=[(121.5105, 31.2426)])
road("j_pudong_ave_dongfang", "hold_dalian_pudong", "Dongfang Rd (surface lanes) 东方路", lanes=2,
     via=[(121.5160, 31.2408), (121.5180, 31.2378)])
road("hold_dalian_pudong", "j_century_ave_station", "Dongfang Rd 东方路", lanes=3,
     via=[(121.5222, 31.2322)])
road("area_dongchang_weifang", "hold_dalian_pudong", "Weifang Rd 潍坊路", lanes=1, speed=MINOR, width=3.0)
road("area_dongchang_weifang", "hold_fuxing_pudong", "Zhangyang Rd 张杨路", lanes=3,
     via=[(121.5140, 31.2334)])
road("j_pudong_ave_dongfang", "j_pudong_ave_minsheng", "Pudong Avenue 浦东大道", lanes=3,
     via=[(121.5200, 31.2448)])
road("j_pudong_ave_minsheng", "pier_minsheng", "Minsheng Rd 民生路", lanes=2, speed=MINOR, width=3.0)
road("j_pudong_ave_minsheng", "area_yangjing", "Pudong Avenue 浦东大道", lanes=3)
road("area_yangjing", "j_century_ave_station", "Yuanshen Rd / Zhangyang Rd 源深路 / 张杨路", lanes=2,
     via=[(121.5325, 31.2400), (121.5300, 31.2330)])
road("j_dongchang_pudong_s", "j_pudong_s_pujian", "Pudong South Rd 浦东南路", lanes=3,
     via=[(121.5095, 31.2220)])
road("j_pudong_s_pujian", "area_tangqiao", "Pujian Rd 浦建路", lanes=2, speed=MINOR, width=3.0,
     via=[(121.5120, 31.2126)])
road("j_pudong_s_pujian", "j_nanmatou", "Pudong South Rd 浦东南路", lanes=3)
road("j_nanmatou", "pier_nanmatou", "Nanmatou Rd 南码头路", lanes=1, speed=MINOR, width=3.0,
     via=[(121.5050, 31.2080)])
road("area_tangqiao", "j_century_ave_station", "Pujian Rd / Dongfang Rd 浦建路 / 东方路", lanes=3,
     via=[(121.5215, 31.2110), (121.5245, 31.2200)])

# fmt: on
# --------------------------------------------------------------------------------------------- metadata

TITLE = "Huangpu river crossings: ferries, road tunnels and riders' areas on both banks (typhoon escorts)"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
SOURCES = [
    "OpenStreetMap extract shared/data/raw/osm/shanghai-huangpu-central-drive.osm (ODbL 1.0): Puxi "
    "portals, approach ramps and tube ways of the Yan'an East Road, Renmin Road and Fuxing East Road "
    "tunnels; Puxi streets west of 121.4863 E (quality A; node and way ids in tools/graphs/crossings.py "
    "and in the node sources)",
    "OpenStreetMap metro-track layer shared/data/raw/metro/cn-shanghai-metro-tracks-2016.geojson (ODbL "
    "1.0): Lines 2, 4, 9 and 12 as guides for the estimated streets, portals and areas in Pudong, Hongkou "
    "and Yangpu",
    "shared/reference/facts.md 1.1: the Dongjin (Jinling East Rd - Dongchang Rd), Dongfu, Nanlu, Taigong "
    "and Mindan ferry lines",
    "shared/reference/facts.md 1.2: Yan'an East Road tunnel north tube 2,261 m, south tube 2,207 m, "
    "2 lanes each; Fuxing East Road tunnel 2,785 m, double-deck, 2 + 1 lanes per tube; Renmin, Xinjian "
    "and Dalian Road tunnels 2 lanes per direction (EST); design speed 40 km/h",
    "shared/reference/facts.md 1.3: escorted e-bike batches at Dalian Rd (holding point Dalian Rd / "
    "Huimin Rd) and Fuxing Rd (south tube west to east)",
    "shared/reference/landmarks.csv: Yan'an East Rd, Renmin Rd and Fuxing East Rd tunnel Puxi portals "
    "(checked against the OSM nodes); Pudong reference point (Lujiazui)",
    "Portal locations: Yan'an East Road tunnel exits at Yan'an East Rd / Fujian Rd and at Yincheng "
    "Middle Rd, Lujiazui (cnenc.net '延安东路隧道'); Renmin Road tunnel exits at Pucheng Rd or Century "
    "Avenue and joins the Xinjian Road tunnel (home.wangjianshuo.com, 19 Feb 2010); Xinjian Road tunnel "
    "from Hailun Rd / Hailaer Rd along Xinjian Rd to Yincheng Middle Rd, tubes 2,235 m and 2,190 m "
    "(Chinese Wikipedia '新建路隧道', mirrored)",
    "Wikipedia coordinates used as guides only: Nanpu Bridge (31.20750, 121.50083), Dongchang Road "
    "station (31.23327, 121.515556), Shangcheng Road station (31.23306, 121.50972)",
    "tools/graphs/bund.py (the bund graph): the Zhongshan East 1st/2nd Road junctions and the Jinling "
    "East Road pier, so the two graphs agree",
    "Estimates (quality B): all piers, the Pudong portals, the Xinjian Road and Dalian Road portals, and "
    "the junctions and bank areas east of the extract, by the author in WGS-84 (no GCJ-02/BD-09 source)",
]

# --------------------------------------------------------------------------------------------- build


def _point(p: tuple[float, float]) -> list[float]:
    return [round(p[0], 7), round(p[1], 7)]


def _line(e: dict, where: dict[str, tuple[float, float]]) -> list[tuple[float, float]]:
    points = [where[e["u"]], *e["via"], where[e["v"]]]
    out = [points[0]]
    for p in points[1:]:
        if great_circle_m(out[-1], p) > 0.05:  # drop a repeated vertex (a node that is also an OSM vertex)
            out.append(p)
    return out


def check(where: dict[str, tuple[float, float]], bbox: list[float]) -> None:
    """Refuse to write a graph that the loader or the tests would reject."""
    problems = []
    ids = [n[0] for n in NODES]
    problems += [f"duplicate node id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    directed = []
    for e in EDGES:
        for end in (e["u"], e["v"]):
            if end not in where:
                problems.append(f"edge {e['u']}-{e['v']}: unknown node {end}")
        if e["u"] not in where or e["v"] not in where:
            continue
        directed.append((e["u"], e["v"]))
        if not e["oneway"]:
            directed.append((e["v"], e["u"]))
        chord = great_circle_m(where[e["u"]], where[e["v"]])
        length = e["length_m"] or drawn_m(_line(e, where))
        if not chord <= length <= 3 * chord:
            problems.append(
                f"edge {e['u']}-{e['v']}: length {length:.0f} m vs {chord:.0f} m between its ends"
            )
        if e["length_m"] and abs(drawn_m(_line(e, where)) / e["length_m"] - 1) > 0.10:
            problems.append(f"edge {e['u']}-{e['v']}: drawn line more than 10 % off the published length")
    problems += [f"parallel edge {p}" for p in sorted({p for p in directed if directed.count(p) > 1})]
    for i, (lon, lat) in where.items():
        if not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
            problems.append(f"node {i} outside bbox")
    if problems:
        raise SystemExit("crossings graph not written:\n  " + "\n  ".join(problems))


def build() -> dict:
    where = {n[0]: n[4] for n in NODES}
    margin = 0.002  # degrees, about 200 m
    # The box holds every node and every point of every drawn edge (a road's OSM line can bend outside its ends).
    drawn = [*where.values(), *(p for e in EDGES for p in _line(e, where))]
    lons = [p[0] for p in drawn]
    lats = [p[1] for p in drawn]
    bbox = [
        round(math.floor((min(lons) - margin) * 1000) / 1000, 3),
        round(math.floor((min(lats) - margin) * 1000) / 1000, 3),
        round(math.ceil((max(lons) + margin) * 1000) / 1000, 3),
        round(math.ceil((max(lats) + margin) * 1000) / 1000, 3),
    ]
    check(where, bbox)
    features = []
    for node_id, kind, name, name_zh, point, area, quality, source in NODES:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": _point(point)},
                "properties": {
                    "id": node_id,
                    "kind": kind,
                    "name": name,
                    "name_zh": name_zh,
                    "area_m2": area,
                    "quality": quality,
                    "source": source,
                },
            }
        )
    for e in EDGES:
        props = {
            "u": e["u"],
            "v": e["v"],
            "mode": e["mode"],
            "name": e["name"],
            "width_m": e["width"],
            "lanes": e["lanes"],
            "free_speed_mps": e["speed"],
            "oneway": e["oneway"],
        }
        if e["length_m"] is not None:
            props["length_m"] = e["length_m"]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [_point(p) for p in _line(e, where)]},
                "properties": props,
            }
        )
    return {
        "type": "FeatureCollection",
        "yiwang": {
            "name": "crossings",
            "title": TITLE,
            "bbox": bbox,
            "attribution": ATTRIBUTION,
            "sources": SOURCES,
        },
        "features": features,
    }


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(NODES)} nodes, {len(EDGES)} edges)")


if __name__ == "__main__":
    main()
