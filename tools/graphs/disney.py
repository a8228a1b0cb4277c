"""Build the built-in city graph for the Shanghai Disney Resort mass-testing scenario.

Scenario: 31 Oct 2021. Entry stopped at about 18:05; the 33,863 people inside were swabbed at the park
exit in about 4.5 h by 600+ testers from Pudong, Huangpu, Xuhui and Jing'an; the Line 11 Disney
Resort station closed at 20:15 (Line 11 cut back to Kangxin Highway) and 220 temporary buses were
sent to the Disney West bus hub (see shared/reference/facts.md, section 2).

Run from the repository root:

    python tools/graphs/disney.py

It writes scenarios/data/graphs/disney.geojson (format: docs/graph-format.md). Standard library only;
the output is deterministic (fixed tables, fixed rounding, fixed key order).

Coordinates are WGS-84. Every table below is written as (lat, lon) because that is how people read
coordinates; the writer turns them into GeoJSON's [lon, lat]. Quality "A" marks a published
coordinate with 4+ decimals; "B" marks an estimate, with what it is based on in `source`.
Nothing here comes from Chinese consumer maps (GCJ-02 / BD-09).

Layout of the park. Two published points fix it: Disney Resort station (Wikipedia, 31.143429 N
121.663737 E, "just east of the gates to Shanghai Disneyland Park", bus terminal on its north side,
Wishing Star Lake to the south) and Enchanted Storybook Castle (Wikipedia, 31.145545 N 121.655683 E).
So Mickey Avenue runs from the gate by the station west-north-west to the castle. The lands are then
placed as on the official park map, which is drawn with the entrance at the bottom: Tomorrowland on
the right (here north-north-east), Adventure Isle and Treasure Cove on the left (south-south-west, the
lake side), Fantasyland behind the castle, Toy Story Land between Tomorrowland and Fantasyland.
Zootopia opened in Dec 2023 and is left out. The OpenStreetMap Line 11 track (shared/data/raw/metro,
ODbL) was used to place Kangxin Highway station and to check that the track reaches Disney Resort
station from the south-west, below the park's lake side.

Roads are schematic: one node per expressway interchange that matters, with waypoints so that each
edge's length is a fair estimate of the driven distance (1.0-1.5 times the straight line).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "scenarios" / "data" / "graphs" / "disney.geojson"

WALK_SPEED = 1.34  # m/s, free walking speed

# The tables below are laid out by hand for reading; keep the formatter off them.
# fmt: off

# ---------------------------------------------------------------------------------------------------
# Nodes: (id, kind, name, name_zh, lat, lon, area_m2, quality, source)
# ---------------------------------------------------------------------------------------------------

PARK_LAYOUT = (
    "estimate: placed from the Disney Resort station and Enchanted Storybook Castle coordinates "
    "(Wikipedia) and the official park map"
)

# Park lands open in Oct 2021. area_m2 is the walkable standing area, about half to two thirds of the
# land's footprint (the rest is buildings, rides, water and planting).
ZONES = [
    ("zone_mickey_avenue", "zone", "Mickey Avenue", "米奇大街", 31.14439, 121.65989, 18000, "B",
     PARK_LAYOUT + "; area estimated"),
    ("zone_gardens_of_imagination", "zone", "Gardens of Imagination", "奇想花园", 31.14460, 121.65750,
     35000, "B",
     PARK_LAYOUT + "; land of 15 acres (about 61,000 m2) per Disney Parks Blog, Jun 2016; walkable share "
     "estimated"),
    ("zone_fantasyland", "zone", "Fantasyland", "梦幻世界", 31.14612, 121.65371, 55000, "B",
     PARK_LAYOUT + " (behind the castle); area estimated"),
    ("zone_tomorrowland", "zone", "Tomorrowland", "明日世界", 31.14812, 121.65943, 45000, "B",
     PARK_LAYOUT + "; area estimated"),
    ("zone_toy_story_land", "zone", "Toy Story Land", "玩具总动员", 31.14867, 121.65578, 20000, "B",
     PARK_LAYOUT + " (between Tomorrowland and Fantasyland, opened Apr 2018); area estimated"),
    ("zone_adventure_isle", "zone", "Adventure Isle", "探险岛", 31.14202, 121.65547, 50000, "B",
     PARK_LAYOUT + "; area estimated"),
    ("zone_treasure_cove", "zone", "Treasure Cove", "宝藏湾", 31.14403, 121.65270, 30000, "B",
     PARK_LAYOUT + "; area estimated"),
    # Outside the park gates.
    ("zone_disneytown", "zone", "Disneytown", "迪士尼小镇", 31.14180, 121.66450, 20000, "B",
     "estimate: lakeside district between the station and Wishing Star Lake; the district covers "
     "46,000 m2 (china.org.cn, 13 Nov 2014), walkable share estimated"),
    ("zone_wishing_star_park", "zone", "Wishing Star Park", "星愿公园", 31.13800, 121.66200, 80000, "B",
     "estimate: park around Wishing Star Lake, south of the station (Wikipedia 'Disney Resort "
     "station'); area estimated"),
]

# The gate, the plazas in front of it and two schematic side exits.
EXITS = [
    ("exit_main_gate", "exit", "Shanghai Disneyland main gate (turnstiles)", "上海迪士尼乐园主入口",
     31.14394, 121.66149, 1500, "B",
     "estimate: just west of Disney Resort station (Wikipedia); landmarks.csv gives the gate as B near "
     "31.1434 N 121.657 E"),
    ("plaza_entrance", "plaza", "Park entrance and exit plaza", None, 31.14375, 121.66219, 12000, "B",
     "estimate: esplanade between the turnstiles and the station, where the exit swabbing was done"),
    ("plaza_station_forecourt", "plaza", "Disney Resort station forecourt", None, 31.14365, 121.66320,
     4000, "B", "estimate: open space on the west side of the station"),
    ("exit_north_service", "exit", "North service gate (Tomorrowland side)", None, 31.14960, 121.66080,
     200, "B", "schematic: an assumed backstage / emergency gate; not a public exit"),
    ("exit_south_lakeside", "exit", "South service gate (lake side)", None, 31.14090, 121.65800, 200,
     "B", "schematic: an assumed backstage / emergency gate towards Wishing Star Park; not a public exit"),
]

TRANSPORT = [
    ("disney_station", "metro", "Disney Resort station (Line 11)", "迪士尼站", 31.143429, 121.663737,
     2000, "A", "Wikipedia 'Disney Resort station' (landmarks.csv, quality A); area estimated"),
    ("west_bus_hub", "plaza", "Disney West bus hub concourse", "迪士尼西公交枢纽", 31.14480, 121.66360,
     5000, "B",
     "estimate: the resort bus terminal on the north side of the station (Wikipedia 'Disney Resort "
     "station'), on Shendi West Rd in the resort core (resort shuttle notice); area estimated"),
    ("parking_car_coach", "parking", "Disney Car and Coach Park", None, 31.14700, 121.66900, 40000, "B",
     "estimate: name from SHINE, 16 Nov 2022; position north-east of the station and area assumed"),
    ("parking_disneytown", "parking", "Disneytown Parking Lot", None, 31.14120, 121.66950, 10000, "B",
     "estimate: name from SHINE, 16 Nov 2022; position east of Disneytown and area assumed"),
]


def _bays() -> list[tuple]:
    """Eight bus bays in a row along the south side of the hub's bus lanes, about 32 m apart."""
    bays = []
    for i in range(8):
        bays.append((f"bay_west_hub_{i + 1}", "bus_bay", f"Disney West bus hub bay {i + 1}", None,
                     31.14530, round(121.66240 + 0.00034 * i, 6), 50, "B",
                     "schematic: bay row at the West bus hub, spacing assumed"))
    return bays


# Candidate swab sites: (prefix, name, parent node, count, first lat, first lon, rows, d_lat, d_lon,
# area_m2 each, where). Sites fill a small grid (`rows` rows, columns as needed) starting at the
# first point; each site is linked by a short walkway to its parent.
SITE_GROUPS = [
    ("site_exit_plaza", "Exit plaza swab site", "plaza_entrance", 8, 31.14345, 121.66180, 2, 0.00060,
     0.00030, 300, "on the entrance/exit plaza outside the turnstiles"),
    ("site_gate_inner", "Inside-gate swab site", "zone_mickey_avenue", 4, 31.14395, 121.66085, 2,
     0.00035, 0.00030, 150, "inside the park, between Mickey Avenue and the turnstiles"),
    ("site_station_forecourt", "Station forecourt swab site", "plaza_station_forecourt", 5, 31.14340,
     121.66280, 2, 0.00050, 0.00030, 200, "on the station forecourt"),
    ("site_west_hub", "West bus hub swab site", "west_bus_hub", 6, 31.14455, 121.66280, 2, 0.00045,
     0.00040, 250, "on the West bus hub concourse"),
    ("site_disneytown", "Disneytown swab site", "zone_disneytown", 6, 31.14150, 121.66400, 2, 0.00060,
     0.00040, 200, "on Disneytown's streets and squares"),
    ("site_car_coach_park", "Car and coach park swab site", "parking_car_coach", 6, 31.14660, 121.66840,
     2, 0.00080, 0.00050, 400, "in the Disney Car and Coach Park"),
    ("site_disneytown_parking", "Disneytown parking swab site", "parking_disneytown", 3, 31.14090,
     121.66910, 1, 0.0, 0.00040, 400, "in the Disneytown Parking Lot"),
    ("site_wishing_star_park", "Wishing Star Park swab site", "zone_wishing_star_park", 2, 31.13900,
     121.66280, 1, 0.0, 0.00050, 300, "on the lakeside lawn of Wishing Star Park"),
]


def _sites() -> list[tuple]:
    sites = []
    for prefix, name, _parent, count, lat0, lon0, rows, dlat, dlon, area, where in SITE_GROUPS:
        for i in range(count):
            row, col = i % rows, i // rows
            sites.append((f"{prefix}_{i + 1}", "test_site", f"{name} {i + 1}", None,
                          round(lat0 + row * dlat, 6), round(lon0 + col * dlon, 6), area, "B",
                          f"schematic: candidate sampling point {where}; position and area assumed"))
    return sites


# Where the testers gather: the landmarks.csv district reference points.
CENTRES = [
    ("centre_pudong", "district_centre", "Pudong New Area assembly point (Lujiazui)", "浦东新区",
     31.23472, 121.50639, 0, "B", "landmarks.csv: Pudong New Area reference point (Wikipedia 'Pudong')"),
    ("centre_huangpu", "district_centre", "Huangpu District assembly point", "黄浦区", 31.2331, 121.485,
     0, "B", "landmarks.csv: Huangpu District reference point (Wikipedia 'Huangpu, Shanghai')"),
    ("centre_xuhui", "district_centre", "Xuhui District assembly point", "徐汇区", 31.183, 121.433, 0,
     "B", "landmarks.csv: Xuhui District reference point (Wikipedia 'Xuhui, Shanghai')"),
    ("centre_jingan", "district_centre", "Jing'an District assembly point", "静安区", 31.2314, 121.453,
     0, "B", "landmarks.csv: Jing'an District reference point (Wikipedia 'Jing'an District')"),
]

# Where the buses take visitors: the Line 11 cut-back terminus, metro and rail hubs, city centres.
DESTINATIONS = [
    ("hub_kangxin_highway", "destination", "Kangxin Highway station (Line 11)", "康新公路站", 31.13320,
     121.61250, 1500, "B",
     "estimate: where the OpenStreetMap Line 11 track (shared/data/raw/metro, ODbL) crosses Kangxin "
     "Highway, about 4.9 km west-south-west of Disney Resort station; forecourt area assumed"),
    ("hub_longyang_road", "destination", "Longyang Road hub (Lines 2, 7, 16, Maglev)", "龙阳路站",
     31.203147, 121.556862, 3000, "A", "Wikipedia 'Longyang Road station'; drop-off area assumed"),
    ("dest_peoples_square", "destination", "People's Square", "人民广场", 31.234361, 121.471000, 3000,
     "A", "Wikipedia 'People's Square station'; drop-off area assumed"),
    ("dest_xujiahui", "destination", "Xujiahui", "徐家汇", 31.19454, 121.43790, 3000, "A",
     "Wikipedia 'Xujiahui station'; drop-off area assumed"),
    ("dest_jingan_temple", "destination", "Jing'an Temple", "静安寺", 31.22400, 121.44400, 2000, "B",
     "estimate: Nanjing West Rd at Huashan Rd; Wikipedia's coordinate for the station is tagged as "
     "taken from Gaode (GCJ-02) and is not used"),
    ("hub_hongqiao", "destination", "Hongqiao hub (Shanghai Hongqiao railway station)", "上海虹桥站",
     31.196306, 121.316139, 5000, "A", "Wikipedia 'Shanghai Hongqiao railway station'; area assumed"),
    ("hub_shanghai_south", "destination", "Shanghai South railway station", "上海南站", 31.154425,
     121.42416, 4000, "A", "Wikipedia 'Shanghai South railway station'; area assumed"),
    ("hub_shanghai_railway", "destination", "Shanghai railway station", "上海站", 31.251552, 121.450446,
     4000, "A", "Wikipedia 'Shanghai railway station'; area assumed"),
]

# Bus depots in Pudong that could field the 220 buses. Sites not researched: schematic.
DEPOTS = [
    ("depot_chuansha", "depot", "Chuansha bus depot (schematic)", None, 31.19000, 121.70000, 0, "B",
     "schematic: a depot assumed near Chuansha town, north-east of the resort"),
    ("depot_zhangjiang", "depot", "Zhangjiang bus depot (schematic)", None, 31.20300, 121.62000, 0, "B",
     "schematic: a depot assumed by the Outer Ring east of Zhangjiang"),
    ("depot_kangqiao", "depot", "Kangqiao bus depot (schematic)", None, 31.14700, 121.57800, 0, "B",
     "schematic: a depot assumed in Kangqiao, near the S2 / Outer Ring interchange"),
]

ROAD_NODE_SOURCE = "estimate: interchange position from own knowledge of the Shanghai road network"

JUNCTIONS = [
    # Resort roads.
    ("jct_resort_entrance", "Resort road entrance (Shendi North Rd / Shendi West Rd)", 31.15300, 121.66680),
    ("jct_west_hub_loop", "West bus hub access loop (Shendi West Rd)", 31.14620, 121.66520),
    ("jct_shendi_west_mid", "Shendi West Rd at Disneytown", 31.14150, 121.66720),
    ("jct_shendi_xiupu", "Shendi West Rd / Xiupu Rd", 31.13450, 121.66700),
    # Pudong expressways.
    ("jct_s1_resort", "S1 Yingbin Expressway resort interchange", 31.16250, 121.67000),
    ("jct_s1_outer_ring", "S1 Yingbin Expressway / S20 Outer Ring interchange", 31.17900, 121.61600),
    ("jct_huaxia_luoshan", "Huaxia Rd elevated / Luoshan Rd elevated (Middle Ring east end)", 31.17700,
     121.58900),
    ("jct_s2_outer_ring", "S2 Hulu Expressway / S20 Outer Ring / Luoshan Rd interchange", 31.15800,
     121.58950),
    ("jct_s2_xiupu", "S2 Hulu Expressway at Xiupu Rd", 31.13220, 121.59750),
    ("jct_xiupu_kangxin", "Xiupu Rd / Kangxin Highway", 31.13200, 121.61350),
    ("jct_luoshan_longyang", "Luoshan Rd / Longyang Rd interchange", 31.20400, 121.58000),
    ("jct_longyang_station", "Longyang Rd at Longyang Road station", 31.20400, 121.55900),
    ("jct_nanpu_pudong", "Nanpu Bridge, Pudong approach", 31.20500, 121.50600),
    ("jct_shangzhong_pudong", "Shangzhong Rd Tunnel, Pudong portal (Middle Ring)", 31.16600, 121.49600),
    # Puxi.
    ("jct_nanpu_puxi", "Nanpu Bridge, Puxi approach", 31.20850, 121.49000),
    ("jct_luban", "Inner Ring / North-South elevated (Luban Rd interchange)", 31.20100, 121.47450),
    ("jct_yanan_ns", "Yan'an elevated / North-South elevated interchange", 31.22750, 121.47350),
    ("jct_yanan_jingan", "Yan'an elevated at the Jing'an Temple ramps", 31.22250, 121.44900),
    ("jct_yanan_inner_west", "Yan'an elevated / Inner Ring (Zhongshan West Rd)", 31.21650, 121.42400),
    ("jct_inner_xujiahui", "Inner Ring at Xujiahui (Caoxi Rd / Humin elevated)", 31.18900, 121.43800),
    ("jct_middle_ring_humin", "Middle Ring / Humin elevated", 31.16200, 121.44000),
    ("jct_shangzhong_puxi", "Shangzhong Rd Tunnel, Puxi portal (Middle Ring)", 31.16400, 121.47000),
]


def _junction_nodes() -> list[tuple]:
    return [(nid, "junction", name, None, lat, lon, 0, "B", ROAD_NODE_SOURCE)
            for nid, name, lat, lon in JUNCTIONS]


# ---------------------------------------------------------------------------------------------------
# Walkways: (u, v, width_m, name, [waypoints as (lat, lon)]). All two-way, free speed 1.34 m/s.
# Widths are estimates of the clear walking width.
# ---------------------------------------------------------------------------------------------------

WALKWAYS = [
    # Inside the park: Mickey Avenue to the Gardens hub, then a path to each land and a loop round them.
    ("exit_main_gate", "zone_mickey_avenue", 20, "Mickey Avenue (gate end)", [(31.14415, 121.66070)]),
    ("zone_mickey_avenue", "zone_gardens_of_imagination", 20, "Mickey Avenue (garden end)",
     [(31.14452, 121.65870)]),
    ("zone_gardens_of_imagination", "zone_fantasyland", 12, "castle passage", [(31.14554, 121.65568)]),
    ("zone_gardens_of_imagination", "zone_tomorrowland", 14, "Gardens to Tomorrowland",
     [(31.14640, 121.65880)]),
    ("zone_gardens_of_imagination", "zone_adventure_isle", 12, "Gardens to Adventure Isle",
     [(31.14320, 121.65650)]),
    ("zone_adventure_isle", "zone_treasure_cove", 10, "Adventure Isle to Treasure Cove",
     [(31.14280, 121.65380)]),
    ("zone_treasure_cove", "zone_fantasyland", 8, "Treasure Cove to Fantasyland", [(31.14510, 121.65290)]),
    ("zone_tomorrowland", "zone_toy_story_land", 10, "Tomorrowland to Toy Story Land",
     [(31.14870, 121.65760)]),
    ("zone_toy_story_land", "zone_fantasyland", 10, "Toy Story Land to Fantasyland",
     [(31.14760, 121.65450)]),
    # Side exits (emergency / backstage).
    ("zone_tomorrowland", "exit_north_service", 6, "Tomorrowland service gate", []),
    ("exit_north_service", "parking_car_coach", 6, "backstage road to the car and coach park",
     [(31.14900, 121.66500)]),
    ("zone_adventure_isle", "exit_south_lakeside", 6, "Adventure Isle service gate", []),
    ("exit_south_lakeside", "zone_wishing_star_park", 6, "lakeside path", [(31.13950, 121.66000)]),
    # Outside the gate.
    ("exit_main_gate", "plaza_entrance", 40, "turnstile line", []),
    ("plaza_entrance", "plaza_station_forecourt", 25, "entrance plaza to station forecourt", []),
    ("plaza_station_forecourt", "disney_station", 15, "station west entrance", []),
    ("disney_station", "west_bus_hub", 10, "station north exit to the bus terminal", []),
    ("plaza_station_forecourt", "west_bus_hub", 12, "forecourt to West bus hub", [(31.14420, 121.66350)]),
    ("plaza_station_forecourt", "zone_disneytown", 15, "forecourt to Disneytown", [(31.14280, 121.66400)]),
    ("plaza_entrance", "zone_disneytown", 12, "entrance plaza to Disneytown", [(31.14260, 121.66300)]),
    ("zone_disneytown", "zone_wishing_star_park", 10, "Disneytown to Wishing Star Park",
     [(31.13980, 121.66350)]),
    ("zone_disneytown", "parking_disneytown", 8, "Disneytown to its parking lot", []),
    ("west_bus_hub", "parking_car_coach", 8, "West bus hub to the car and coach park",
     [(31.14600, 121.66700)]),
]


def _bay_walkways() -> list[tuple]:
    return [("west_bus_hub", f"bay_west_hub_{i + 1}", 4, f"bay {i + 1} boarding", []) for i in range(8)]


def _site_walkways() -> list[tuple]:
    ways = []
    for prefix, _name, parent, count, *_rest in SITE_GROUPS:
        for i in range(count):
            ways.append((parent, f"{prefix}_{i + 1}", 6, "to swab site", []))
    return ways


# ---------------------------------------------------------------------------------------------------
# Roads: (u, v, mode, lanes per direction, free_speed_mps, name, [waypoints as (lat, lon)]).
# All two-way. Night free-flow speeds: expressways 80 km/h (22.2 m/s), elevated city expressways
# 60-65 km/h (16.7-18 m/s), arterials 50 km/h (13.9 m/s), city streets 40 km/h (11.1 m/s), spurs and
# bus lanes 20 km/h (5.6 m/s).
# ---------------------------------------------------------------------------------------------------

ROADS = [
    # Resort roads and the West bus hub.
    ("jct_resort_entrance", "jct_s1_resort", "road", 2, 13.9, "Shendi West Rd to the S1 ramps",
     [(31.15800, 121.66720)]),
    ("jct_resort_entrance", "jct_west_hub_loop", "road", 2, 11.1, "Shendi West Rd", [(31.14950, 121.66690)]),
    ("jct_west_hub_loop", "jct_shendi_west_mid", "road", 2, 11.1, "Shendi West Rd", [(31.14450, 121.66700)]),
    ("jct_shendi_west_mid", "jct_shendi_xiupu", "road", 2, 11.1, "Shendi West Rd", []),
    ("jct_west_hub_loop", "parking_car_coach", "road", 1, 5.6, "car and coach park access", []),
    ("jct_shendi_west_mid", "parking_disneytown", "road", 1, 5.6, "Disneytown parking access", []),
    # S1 Yingbin Expressway and the Middle Ring / Luoshan Rd corridor to Longyang Road.
    ("jct_s1_resort", "jct_s1_outer_ring", "road", 3, 22.2, "S1 Yingbin Expressway",
     [(31.16600, 121.65600), (31.17200, 121.63800), (31.17700, 121.62400)]),
    ("jct_s1_outer_ring", "jct_huaxia_luoshan", "road", 3, 18.0, "Huaxia Rd elevated",
     [(31.17850, 121.60500)]),
    ("jct_huaxia_luoshan", "jct_luoshan_longyang", "road", 3, 18.0, "Luoshan Rd elevated",
     [(31.19000, 121.58500)]),
    ("jct_luoshan_longyang", "jct_longyang_station", "road", 3, 13.9, "Longyang Rd",
     [(31.20420, 121.57000)]),
    ("jct_longyang_station", "hub_longyang_road", "road", 1, 5.6, "Longyang Road station bus stands", []),
    # Xiupu Rd west to Kangxin Highway and the S2.
    ("jct_shendi_xiupu", "jct_xiupu_kangxin", "road", 2, 13.9, "Xiupu Rd",
     [(31.13500, 121.64800), (31.13380, 121.63000)]),
    ("jct_xiupu_kangxin", "hub_kangxin_highway", "road", 1, 5.6, "Kangxin Highway station forecourt", []),
    ("jct_xiupu_kangxin", "jct_s2_xiupu", "road", 2, 13.9, "Xiupu Rd", [(31.13220, 121.60500)]),
    ("jct_s2_xiupu", "jct_s2_outer_ring", "road", 3, 22.2, "S2 Hulu Expressway",
     [(31.14000, 121.59450), (31.15000, 121.59150)]),
    ("jct_s2_outer_ring", "jct_huaxia_luoshan", "road", 3, 18.0, "Luoshan Rd elevated (south part)",
     [(31.16800, 121.58900)]),
    ("jct_s2_outer_ring", "jct_s1_outer_ring", "road", 3, 22.2, "S20 Outer Ring",
     [(31.16400, 121.60000), (31.17200, 121.61000)]),
    # Depots.
    ("depot_chuansha", "jct_s1_resort", "road", 2, 13.9, "Chuansha Rd and S1 ramps (schematic)",
     [(31.17800, 121.69900), (31.16600, 121.68500)]),
    ("depot_zhangjiang", "jct_s1_outer_ring", "road", 3, 22.2, "S20 Outer Ring (schematic access)",
     [(31.19000, 121.61900)]),
    ("depot_kangqiao", "jct_s2_outer_ring", "road", 2, 11.1, "Xiuyan Rd (schematic access)",
     [(31.15300, 121.58200)]),
    # Pudong to Puxi: Inner Ring over Nanpu Bridge, Middle Ring through the Shangzhong Rd Tunnel.
    ("jct_longyang_station", "jct_nanpu_pudong", "road", 3, 16.7, "Inner Ring (Pudong section)",
     [(31.20100, 121.54000), (31.20000, 121.52000), (31.20300, 121.51100)]),
    ("jct_nanpu_pudong", "jct_nanpu_puxi", "road", 3, 16.7, "Nanpu Bridge", [(31.20600, 121.49900)]),
    ("jct_nanpu_puxi", "jct_luban", "road", 3, 16.7, "Inner Ring elevated (Zhongshan South Rd)",
     [(31.20400, 121.48300)]),
    ("jct_huaxia_luoshan", "jct_shangzhong_pudong", "road", 3, 18.0, "Middle Ring (Huaxia Rd)",
     [(31.17400, 121.55500), (31.17000, 121.52000)]),
    ("jct_shangzhong_pudong", "jct_shangzhong_puxi", "tunnel", 4, 22.2, "Shangzhong Rd Tunnel",
     [(31.16500, 121.48300)]),
    ("jct_shangzhong_puxi", "jct_middle_ring_humin", "road", 3, 18.0, "Middle Ring (Puxi south)",
     [(31.16400, 121.45500)]),
    # Puxi expressways.
    ("jct_luban", "jct_yanan_ns", "road", 3, 16.7, "North-South elevated",
     [(31.21000, 121.47100), (31.22000, 121.47150)]),
    ("jct_luban", "jct_inner_xujiahui", "road", 3, 16.7, "Inner Ring elevated (Zhongshan South 2nd Rd)",
     [(31.19600, 121.46400), (31.19100, 121.45100)]),
    ("jct_inner_xujiahui", "jct_yanan_inner_west", "road", 3, 16.7, "Inner Ring elevated (Zhongshan West Rd)",
     [(31.19900, 121.43000), (31.20800, 121.42450)]),
    ("jct_yanan_ns", "jct_yanan_jingan", "road", 3, 16.7, "Yan'an elevated",
     [(31.22620, 121.46400), (31.22400, 121.45600)]),
    ("jct_yanan_jingan", "jct_yanan_inner_west", "road", 3, 16.7, "Yan'an elevated", [(31.22050, 121.43800)]),
    ("jct_inner_xujiahui", "jct_middle_ring_humin", "road", 3, 16.7, "Humin elevated (Caoxi Rd)",
     [(31.17600, 121.44000)]),
    # Destinations.
    ("jct_yanan_ns", "dest_peoples_square", "road", 2, 11.1, "Xizang Middle Rd / Renmin Ave",
     [(31.23000, 121.47300)]),
    ("jct_yanan_jingan", "dest_jingan_temple", "road", 2, 11.1, "Huashan Rd", [(31.22320, 121.44650)]),
    ("jct_inner_xujiahui", "dest_xujiahui", "road", 2, 11.1, "Caoxi North Rd", [(31.19200, 121.43780)]),
    ("jct_middle_ring_humin", "hub_shanghai_south", "road", 2, 11.1, "Humin Rd to Shanghai South station",
     [(31.15800, 121.43200)]),
    ("jct_yanan_inner_west", "hub_hongqiao", "road", 3, 18.0, "Yan'an West Rd elevated to Hongqiao hub",
     [(31.21200, 121.40000), (31.20600, 121.37500), (31.20000, 121.35000), (31.19750, 121.33000)]),
    ("jct_yanan_ns", "hub_shanghai_railway", "road", 3, 16.7, "North-South elevated and Tianmu West Rd",
     [(31.23600, 121.47000), (31.24500, 121.46400), (31.24900, 121.45600)]),
    # District assembly points.
    ("centre_huangpu", "jct_yanan_ns", "road", 2, 11.1, "Yan'an East Rd",
     [(31.23000, 121.48100), (31.22850, 121.47700)]),
    ("centre_huangpu", "jct_nanpu_puxi", "road", 3, 11.1, "Zhongshan East 2nd Rd / Zhongshan South Rd",
     [(31.22800, 121.49000), (31.21800, 121.49300)]),
    ("centre_pudong", "jct_luoshan_longyang", "road", 4, 13.9, "Century Avenue",
     [(31.22900, 121.52000), (31.22000, 121.54200), (31.21000, 121.56500)]),
    ("centre_pudong", "jct_nanpu_pudong", "road", 2, 11.1, "Pudong South Rd",
     [(31.22500, 121.50800), (31.21500, 121.50500)]),
    ("centre_xuhui", "jct_inner_xujiahui", "road", 2, 11.1, "Caoxi North Rd", [(31.18600, 121.43600)]),
    ("centre_jingan", "jct_yanan_jingan", "road", 2, 11.1, "Changde Rd / Yan'an ramps",
     [(31.22700, 121.45100)]),
]


def _hub_roads() -> list[tuple]:
    return [("jct_west_hub_loop", f"bay_west_hub_{i + 1}", "road", 1, 5.6, "West bus hub bus lane", [])
            for i in range(8)]


# ---------------------------------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------------------------------

TITLE = "Shanghai Disney Resort and the roads to Pudong, Huangpu, Xuhui and Jing'an"
ATTRIBUTION = "© OpenStreetMap contributors (Line 11 track used to place Kangxin Highway station)"
SOURCES = [
    "landmarks.csv: Disney Resort station (Wikipedia, quality A) and the Pudong, Huangpu, Xuhui and "
    "Jing'an district reference points (quality B)",
    "facts.md section 2: Disney timeline, 220 buses to the Disney West bus hub, Line 11 cut back to "
    "Kangxin Highway, bus travel-distance estimates",
    "Wikipedia 'Disney Resort station': station just east of the park gates, bus terminal on its north "
    "side, Wishing Star Lake and Park to the south",
    "Wikipedia 'Enchanted Storybook Castle': 31.1455449 N 121.6556832 E (fixes the park's orientation)",
    "Wikipedia station articles: Longyang Road, People's Square, Xujiahui, Shanghai Hongqiao railway "
    "station, Shanghai South railway station, Shanghai railway station (coordinates, quality A)",
    "Disney Parks Blog, Jun 2016: Gardens of Imagination covers fifteen acres",
    "Theme Park University, 2016: Toy Story Land site lies between Tomorrowland and Fantasyland",
    "china.org.cn, 13 Nov 2014: Disneytown covers 46,000 m2",
    "SHINE, 16 Nov 2022: names of the Disney Car and Coach Park and the Disneytown Parking Lot",
    "resort shuttle notice (nanmuxuan.com repost): the West bus hub (西公交枢纽) in the resort core, "
    "shuttle routes on Shendi West Rd and Shendi North Rd",
    "OpenStreetMap Line 11 and Line 16 tracks, Jan 2016 (shared/data/raw/metro, ODbL 1.0): position of "
    "Kangxin Highway station, Line 11 approach to Disney Resort station, S2 corridor",
    "own knowledge of the resort layout and the Shanghai expressway network: every quality-B position, "
    "all road geometry, widths, lanes and speeds (estimates)",
]


# fmt: on

# ---------------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------------


def _pt(lat: float, lon: float) -> list[float]:
    return [round(lon, 6), round(lat, 6)]


def all_nodes() -> list[tuple]:
    return (
        ZONES + EXITS + TRANSPORT + _bays() + _sites() + CENTRES + DESTINATIONS + DEPOTS + _junction_nodes()
    )


def node_feature(row: tuple) -> dict:
    nid, kind, name, name_zh, lat, lon, area, quality, source = row
    props: dict = {"id": nid, "kind": kind, "name": name}
    if name_zh:
        props["name_zh"] = name_zh
    props.update({"area_m2": area, "quality": quality, "source": source})
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": _pt(lat, lon)},
        "properties": props,
    }


def edge_feature(u: str, v: str, where: dict, waypoints: list, props: dict) -> dict:
    line = [_pt(*where[u])] + [_pt(lat, lon) for lat, lon in waypoints] + [_pt(*where[v])]
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": line},
        "properties": {"u": u, "v": v, **props, "oneway": False},
    }


def bbox(nodes: list[tuple], margin: float = 0.005) -> list[float]:
    """Smallest box on a 0.01-degree grid holding every node with `margin` degrees to spare."""
    lats = [n[4] for n in nodes]
    lons = [n[5] for n in nodes]
    return [
        math.floor((min(lons) - margin) * 100) / 100,
        math.floor((min(lats) - margin) * 100) / 100,
        math.ceil((max(lons) + margin) * 100) / 100,
        math.ceil((max(lats) + margin) * 100) / 100,
    ]


def build() -> dict:
    nodes = all_nodes()
    ids = [n[0] for n in nodes]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate node id")
    where = {n[0]: (n[4], n[5]) for n in nodes}

    features = [node_feature(n) for n in nodes]
    for u, v, width, name, waypoints in WALKWAYS + _bay_walkways() + _site_walkways():
        features.append(
            edge_feature(
                u,
                v,
                where,
                waypoints,
                {"mode": "walk", "width_m": width, "lanes": 0, "free_speed_mps": WALK_SPEED, "name": name},
            )
        )
    for u, v, mode, lanes, speed, name, waypoints in ROADS + _hub_roads():
        features.append(
            edge_feature(
                u,
                v,
                where,
                waypoints,
                {"mode": mode, "width_m": 0, "lanes": lanes, "free_speed_mps": speed, "name": name},
            )
        )

    return {
        "type": "FeatureCollection",
        "yiwang": {
            "name": "disney",
            "title": TITLE,
            "bbox": bbox(nodes),
            "attribution": ATTRIBUTION,
            "sources": SOURCES,
        },
        "features": features,
    }


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        json.dump(build(), f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
