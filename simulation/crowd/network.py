"""The walkway network a crowd runs on: the graph's walkable edges cut into cells, its nodes as holding areas.

- Every walkable edge (walk, stair, and road edges a plan closes to traffic) is cut into cells as long as a
  free walker goes in one step, or `MIN_CELL_M` if that is longer (stairs keep one-step cells); an edge
  shorter than one free step is a door: it holds nobody and passes at most specific flow × width per second.
  Both directions of a two-way edge share its cells.
- Every node is a holding area: its `area_m2` (squares, promenade bays, landings, viewing areas), or, for a
  point node, a junction box of the two widest walkways meeting there (width × width).

`CrowdNetwork` holds the arrays of the graph; `Layout` the index sets the step works with (first and last
cells, doors, the canonical direction of each physical cell, the places watched for density, the swap
interfaces); `Geometry` what follows from the widths now (areas, door and entrance capacities), rebuilt when a
road is closed to traffic and opens to walkers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from scenarios.graphs import PEDESTRIAN_MODES
from scenarios.pedestrian import Bottleneck

MIN_CELL_M = 10.0  # cells are at least this long (a free step is 1.34-2.7 m; long streets need no finer grid)
SWAP_PMPS = 0.15  # EST: at a standstill, counter-flowing people squeeze past each other this fast (per metre)


@dataclass
class CrowdNetwork:
    """The arrays of a city graph cut into cells: built once per run, changed only by closures and controls."""

    nodes: list[str]
    node_area: np.ndarray
    edges: list[tuple[str, str]]  # directed walkable edges, sorted by tail node
    tail: np.ndarray
    head: np.ndarray
    length: np.ndarray
    width: np.ndarray  # walkable width now (0 for a road still open to traffic)
    full_width: np.ndarray  # walkable width when open (carriageway for roads)
    speed_factor: np.ndarray  # 1 on the level, less on stairs
    twin: np.ndarray  # the reverse edge, or -1
    n_cells: np.ndarray
    first_cell: np.ndarray  # index of the edge's first cell (or -1 for a door)
    is_road: np.ndarray
    # cells, edge by edge
    cell_edge: np.ndarray
    cell_len: np.ndarray
    cell_pos: np.ndarray
    cell_twin: np.ndarray
    index: dict[str, int] = field(default_factory=dict)
    edge_index: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_cells_total(self) -> int:
        return int(self.cell_edge.size)


def build_network(graph: nx.DiGraph, *, dt: float, free_speed: float, stair_factor: float,
                  roads: frozenset[frozenset[str]] = frozenset(), cell_m: float = 0.0) -> CrowdNetwork:  # fmt: skip
    """Cut the walkable part of a graph (plus the named roads, closed to walkers for now) into cells.

    A cell is as long as a free walker goes in one step, or `cell_m` if that is longer (stairs keep one-step
    cells: they are short, and they are where crowds crush); an edge shorter than one free step is a door
    (no cells).
    """
    chosen = []
    for u, v, data in graph.edges(data=True):
        if data["mode"] in PEDESTRIAN_MODES and data.get("width_m", 0) > 0:
            chosen.append((u, v, float(data["width_m"]), data["mode"] == "stair", False))
        elif data["mode"] == "road" and frozenset((u, v)) in roads and data.get("carriageway_m", 0) > 0:
            chosen.append((u, v, float(data["carriageway_m"]), False, True))
    names = sorted({u for u, *_ in chosen} | {v for _, v, *_ in chosen})
    index = {n: i for i, n in enumerate(names)}
    chosen.sort(key=lambda e: (index[e[0]], index[e[1]]))
    edges = [(u, v) for u, v, *_ in chosen]
    edge_index = {e: i for i, e in enumerate(edges)}
    m = len(edges)
    tail = np.array([index[u] for u, _ in edges], dtype=np.int64)
    head = np.array([index[v] for _, v in edges], dtype=np.int64)
    length = np.array([graph.edges[e]["length_m"] for e in edges], dtype=float)
    full_width = np.array([c[2] for c in chosen], dtype=float)
    is_road = np.array([c[4] for c in chosen], dtype=bool)
    width = np.where(is_road, 0.0, full_width)
    speed_factor = np.array([stair_factor if c[3] else 1.0 for c in chosen], dtype=float)
    twin = np.array([edge_index.get((v, u), -1) for u, v in edges], dtype=np.int64)
    # Both directions of an edge get the same cells: the longer of the two lengths decides (they are equal in
    # practice), and a cell is at least as long as a free walker goes in one step (the CFL condition).
    paired = np.where(twin >= 0, np.maximum(length, length[np.maximum(twin, 0)]), length)
    step_m = free_speed * speed_factor * dt
    stair = speed_factor < 1.0
    n_cells = np.floor(paired / np.where(stair, step_m, np.maximum(step_m, cell_m)) + 1e-9).astype(np.int64)
    n_cells = np.where(paired >= step_m - 1e-9, np.maximum(n_cells, 1), 0)
    first = np.full(m, -1, dtype=np.int64)
    cell_edge: list[int] = []
    cell_len: list[float] = []
    cell_pos: list[int] = []
    for e in range(m):
        if n_cells[e] == 0:
            continue
        first[e] = len(cell_edge)
        for j in range(n_cells[e]):
            cell_edge.append(e)
            cell_len.append(paired[e] / n_cells[e])
            cell_pos.append(j)
    cell_edge_a = np.array(cell_edge, dtype=np.int64)
    cell_pos_a = np.array(cell_pos, dtype=np.int64)
    cell_twin = np.full(cell_edge_a.size, -1, dtype=np.int64)
    for c in range(cell_edge_a.size):
        e = cell_edge_a[c]
        t = twin[e]
        if t >= 0 and n_cells[t] > 0:
            cell_twin[c] = first[t] + n_cells[e] - 1 - cell_pos_a[c]
    area = np.zeros(len(names))
    widest: dict[int, list[float]] = {i: [] for i in range(len(names))}
    for e in range(m):
        widest[int(tail[e])].append(full_width[e])
        widest[int(head[e])].append(full_width[e])
    for i, name in enumerate(names):
        given = float(graph.nodes[name].get("area_m2", 0.0) or 0.0)
        ws = [*sorted(widest[i], reverse=True), 1.0, 1.0]
        area[i] = given if given > 0 else max(1.0, ws[0] * ws[1])
    return CrowdNetwork(
        nodes=names, node_area=area, edges=edges, tail=tail, head=head, length=length, width=width,
        full_width=full_width, speed_factor=speed_factor, twin=twin, n_cells=n_cells, first_cell=first,
        is_road=is_road, cell_edge=cell_edge_a, cell_len=np.array(cell_len, dtype=float), cell_pos=cell_pos_a,
        cell_twin=cell_twin, index=index, edge_index=edge_index,
    )  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """The index sets of a network that the step, the routes and the watch work with: fixed for a run."""

    c_first: np.ndarray  # per cell: the first of its edge
    c_last: np.ndarray  # per cell: the last of its edge
    c_head: np.ndarray  # per cell: its edge's head node
    c_factor: np.ndarray  # per cell: its edge's speed factor
    has_twin: np.ndarray  # per cell: the other direction shares it
    twin_safe: np.ndarray  # per cell: its twin, or 0
    door_edges: np.ndarray  # edges without cells
    cell_edges: np.ndarray  # edges with cells
    first_idx: np.ndarray  # first cells: their inflow comes from their edge's entry
    first_edge: np.ndarray  # the edge of each first cell
    nonfirst: np.ndarray  # the other cells: their inflow comes from the cell before
    last_idx: np.ndarray  # last cells
    last_head: np.ndarray  # the node each last cell leads into
    nonlast: np.ndarray
    twinned: np.ndarray  # cells with a twin
    twin_of: np.ndarray  # and their twins
    door_head: np.ndarray  # the node each door leads into
    canon_edges: np.ndarray  # one direction of each physical edge with cells
    canon_cells: np.ndarray  # their cells
    canon_starts: np.ndarray  # where each canonical edge starts in `canon_cells`
    canon_two_way: np.ndarray  # per canonical edge: two-way
    place_names: list[str]  # nodes, then physical edges
    stall_edges: np.ndarray  # positions in `canon_edges` of two-way edges
    tail_nodes: np.ndarray  # edges are sorted by tail: the nodes with out-edges
    tail_starts: np.ndarray  # and where each one's out-edges start
    tail_seg: np.ndarray  # per edge: which of `tail_nodes` it leaves from
    inc_node: np.ndarray  # (node, place) pairs: the physical edges meeting at each node
    inc_place: np.ndarray
    given_area: np.ndarray  # per node: its area is given (not a junction box)
    sw_a: np.ndarray  # swap interfaces inside two-way edges: a canonical cell and the next one
    sw_b: np.ndarray  # the other direction's cell across the same boundary
    se_edge: np.ndarray  # swap interfaces at a node: two-way edges with cells both ways
    se_first: np.ndarray
    se_opp: np.ndarray
    se_node: np.ndarray


def layout(net: CrowdNetwork, graph: nx.DiGraph) -> Layout:
    """The index sets of `net` (see `Layout`)."""
    m, nc = len(net.edges), net.n_cells_total
    ce = net.cell_edge
    c_first = net.cell_pos == 0
    c_last = net.cell_pos == net.n_cells[ce] - 1 if nc else np.zeros(0, dtype=bool)
    c_head = net.head[ce]
    has_twin = net.cell_twin >= 0
    door_edges = np.flatnonzero(net.n_cells == 0)
    first_idx = np.flatnonzero(c_first)
    last_idx = np.flatnonzero(c_last)
    twinned = np.flatnonzero(has_twin)
    # canonical cells (one direction of each physical cell) and places (nodes, then physical edges)
    canon_edge = (net.twin < 0) | (np.arange(m) < np.maximum(net.twin, 0)) | (net.n_cells[np.maximum(net.twin, 0)] == 0)
    canon_edge &= net.n_cells > 0
    canon_edges = np.flatnonzero(canon_edge)
    canon_cells = np.flatnonzero(canon_edge[ce]) if nc else np.zeros(0, dtype=np.int64)
    starts = net.first_cell[canon_edges]
    tail_nodes, tail_starts = np.unique(net.tail, return_index=True)
    # incident physical edges of each node (for the map's density per node)
    inc_node, inc_place = [], []
    for p, e in enumerate(canon_edges):
        for n in (net.tail[e], net.head[e]):
            inc_node.append(n)
            inc_place.append(net.n_nodes + p)
    # Swap interfaces: inside two-way edges (canonical side), and at each end between node and edge.
    inner = canon_cells[(~c_last[canon_cells]) & has_twin[canon_cells]]
    se = np.flatnonzero((net.n_cells > 0) & (net.twin >= 0))
    se = se[net.n_cells[net.twin[se]] > 0]
    se_first = net.first_cell[se]
    return Layout(
        c_first=c_first, c_last=c_last, c_head=c_head, c_factor=net.speed_factor[ce], has_twin=has_twin,
        twin_safe=np.where(has_twin, net.cell_twin, 0), door_edges=door_edges,
        cell_edges=np.flatnonzero(net.n_cells > 0), first_idx=first_idx, first_edge=ce[first_idx],
        nonfirst=np.flatnonzero(~c_first), last_idx=last_idx, last_head=c_head[last_idx],
        nonlast=np.flatnonzero(~c_last), twinned=twinned, twin_of=net.cell_twin[twinned],
        door_head=net.head[door_edges], canon_edges=canon_edges, canon_cells=canon_cells,
        canon_starts=np.searchsorted(canon_cells, starts), canon_two_way=net.twin[canon_edges] >= 0,
        place_names=[*net.nodes, *(f"{net.edges[e][0]}~{net.edges[e][1]}" for e in canon_edges)],
        stall_edges=np.flatnonzero(net.twin[canon_edges] >= 0), tail_nodes=tail_nodes, tail_starts=tail_starts,
        tail_seg=np.repeat(np.arange(tail_nodes.size), np.diff(np.append(tail_starts, len(net.edges)))),
        inc_node=np.array(inc_node, dtype=np.int64), inc_place=np.array(inc_place, dtype=np.int64),
        given_area=np.array([float(graph.nodes[n].get("area_m2", 0) or 0) > 0 for n in net.nodes]),
        sw_a=inner, sw_b=net.cell_twin[inner + 1], se_edge=se, se_first=se_first, se_opp=net.cell_twin[se_first],
        se_node=net.tail[se],
    )  # fmt: skip


@dataclass(frozen=True)
class Geometry:
    """What follows from the walkable widths now: rebuilt whenever a width changes."""

    area_c: np.ndarray  # per cell: its area
    inv_area: np.ndarray  # and its inverse (0 for a cell of no width)
    c_factor_w: np.ndarray  # per cell: speed factor × width
    cap_e: np.ndarray  # per edge: people its end passes in a step (a door)
    node_width: np.ndarray  # per node: the width of the walkways meeting there (each physical walkway once)
    cap_g: np.ndarray  # per origin: people its entrance lets in a step
    sw_cap: np.ndarray  # per swap interface inside an edge: people who may swap in a step
    se_cap: np.ndarray  # per swap interface at a node


def geometry(net: CrowdNetwork, lay: Layout, *, door: Bottleneck, dt: float, origin_node: np.ndarray) -> Geometry:
    """Cell areas, their inverses, speed factor × width, and door capacities at the widths now."""
    width = net.width[net.cell_edge]
    area_c = net.cell_len * width
    out_width = np.bincount(net.tail, weights=net.width, minlength=net.n_nodes)
    # The walkways meeting at a node: every edge into it, and every one-way edge out of it (a two-way edge out
    # is already counted by its twin coming in). A node with one-way walkways out only (an entrance fed from
    # outside) still has their width to move its crowd through.
    one_way_out = np.where(net.twin < 0, net.width, 0.0)
    meeting = np.bincount(net.head, weights=net.width, minlength=net.n_nodes)
    meeting += np.bincount(net.tail, weights=one_way_out, minlength=net.n_nodes)
    return Geometry(
        area_c=area_c,
        inv_area=np.divide(1.0, area_c, out=np.zeros_like(area_c), where=area_c > 0),
        c_factor_w=lay.c_factor * width,
        cap_e=door.capacity(net.width) * dt,
        node_width=meeting,
        cap_g=door.capacity(out_width[origin_node]) * dt,
        sw_cap=SWAP_PMPS * net.width[net.cell_edge[lay.sw_a]] * net.speed_factor[net.cell_edge[lay.sw_a]] * dt,
        se_cap=SWAP_PMPS * net.width[lay.se_edge] * net.speed_factor[lay.se_edge] * dt,
    )


HOLDING = "holding:"  # a holding area's node is named after its origin: "holding:<origin>"


def holding_graph(graph: nx.DiGraph, areas: dict[str, float], *, door_m: float) -> nx.DiGraph:
    """The graph with a holding area before each origin: where people wait before they come in.

    Each `areas` origin gets a node `holding:<origin>` (kind `holding`, the given area, at the origin's place)
    and a one-way door of `door_m` into the origin as wide as the origin's walkways out (the entrance passes
    specific flow × that width, as an entrance always has). Those waiting stand on the graph: their density is
    watched, counted and reported like any place's."""
    out = graph.copy()
    for origin, area in areas.items():
        node = f"{HOLDING}{origin}"
        data = graph.nodes[origin]
        width = sum(d.get("width_m", 0.0) for _, _, d in graph.out_edges(origin, data=True)
                    if d["mode"] in PEDESTRIAN_MODES) or 1.0  # fmt: skip
        out.add_node(node, kind="holding", area_m2=float(area), lat=data.get("lat"), lon=data.get("lon"),
                     name=f"waiting to enter at {origin}")  # fmt: skip
        out.add_edge(node, origin, mode="walk", width_m=float(width), length_m=door_m, lanes=0,
                     free_speed_mps=1.34, carriageway_m=0.0, oneway=True, name="entrance")  # fmt: skip
    return out


def pressed(net: CrowdNetwork, places: dict[str, float], jam: float) -> tuple[np.ndarray, np.ndarray]:
    """The most each node and each cell can hold per m²: the walking jam density, or where a standing, pushing
    crowd is pressed tighter (`scenarios.schema.CrowdCrush`: a listed node, and a walkway between two listed
    nodes at the lesser of their figures), that figure (never below the jam density)."""
    node = np.full(net.n_nodes, jam)
    for name, density in places.items():
        if name in net.index:
            node[net.index[name]] = max(jam, density)
    listed = np.zeros(net.n_nodes, dtype=bool)
    listed[[net.index[n] for n in places if n in net.index]] = True
    edge = np.where(listed[net.tail] & listed[net.head], np.minimum(node[net.tail], node[net.head]), jam)
    return node, edge[net.cell_edge]


__all__ = [
    "HOLDING",
    "MIN_CELL_M",
    "SWAP_PMPS",
    "CrowdNetwork",
    "Geometry",
    "Layout",
    "build_network",
    "geometry",
    "holding_graph",
    "layout",
    "pressed",
]  # fmt: skip
