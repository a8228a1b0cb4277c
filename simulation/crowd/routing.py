"""Route choice: the walking times on every edge, the shortest times to every destination, and route shares.

- Routes: every `ROUTE_EVERY_S` the shortest times to every destination and to the open exits are
  recomputed from the current speeds (all classes at once, Bellman–Ford on arrays), and each node's route
  shares move halfway towards the fastest next edge (damped, so that two stairs do not swap every minute).
- Viewing areas fill: from the warning density (until back below it by `2.5 × HYSTERESIS_PPM2`) an area is
  full; where people learn of it (the scenario's `full_areas_known`), those heading for it go to the nearest one
  with room within `RETARGET_MAX_S`, or give up and leave (`turned_away`), and newcomers' destination shares
  skip it; where nobody tells them, they keep heading for it.
- The free-flow times (`phi0_*`: from every node and cell to every class's target on empty walkways) measure
  the extra walking time and when people would arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.crowd.readout import HYSTERESIS_PPM2
from simulation.crowd.step import COUNTERFLOW_FRICTION, densities

if TYPE_CHECKING:
    from simulation.crowd.model import CrowdModel

ROUTE_EVERY_S = 60.0
ROUTE_SMOOTHING = 0.5  # share of the way route shares move towards the fastest next edge at each update
MIN_SPEED_MPS = 0.02  # for route costs on jammed cells
RETARGET_MAX_S = 1200.0  # EST: people turned away from a full viewing area walk at most this far to another


class Routes:
    """The route shares of a run (`P`: of class k at an edge's tail, the share sent into it) and the times
    they follow."""

    def __init__(self, model: CrowdModel):
        self.m = model
        net, K = model.net, model.K
        self.P = np.zeros((len(net.edges), K))
        self.phi = np.zeros((net.n_nodes, K))  # seconds from every node to each class's target, now
        self.full = np.zeros(len(model.targets), dtype=bool)  # viewing areas turning newcomers away
        # free-flow seconds to each class's target: from nodes, origins, cells; leavers from the targets
        self.phi0_nodes = self.phi0_origin = self.phi0_leave = self.phi0_cells = np.zeros(0)

    def free_flow(self) -> None:
        """The free-flow times, from the times on empty walkways (at the start, before anyone moves)."""
        m = self.m
        net, lay = m.net, m.lay
        self.phi0_nodes = np.nan_to_num(self.potentials(self.edge_times()), posinf=0.0)
        self.phi0_origin = self.phi0_nodes[m.origin_node]
        self.phi0_leave = self.phi0_nodes[m.target_node, m.LEAVE]
        remain = (net.n_cells[net.cell_edge] - net.cell_pos) * net.cell_len / (m.fd.free_speed * lay.c_factor)
        self.phi0_cells = remain[:, None] + self.phi0_nodes[lay.c_head]

    def edge_times(self) -> np.ndarray:
        """Seconds to walk each directed edge at the current densities (inf where it is blocked)."""
        m = self.m
        net, lay = m.net, m.lay
        own, both, rho = densities(m)
        mixed = np.where(both > 0, np.abs(2 * own - both) / np.where(both > 0, both, 1.0), 1.0)
        v = m.fd.speed(rho) * lay.c_factor * (1.0 - COUNTERFLOW_FRICTION * (1.0 - mixed))
        cell_t = net.cell_len / np.maximum(v, MIN_SPEED_MPS)
        times = net.length / (m.fd.free_speed * net.speed_factor)
        if cell_t.size:
            sums = np.add.reduceat(cell_t, net.first_cell[lay.cell_edges])
            times[lay.cell_edges] = sums
        times = times.copy()
        times[m.ctl.blocked | (net.width <= 0)] = np.inf
        return times

    def potentials(self, times: np.ndarray) -> np.ndarray:
        """Seconds from every node to each class's target (Bellman–Ford on arrays, all classes at once; compiled
        label correcting with the compiled step, the same numbers)."""
        m = self.m
        net, lay, K = m.net, m.lay, m.K
        phi = np.full((net.n_nodes, K), np.inf)
        phi[m.target_node, np.arange(len(m.targets))] = 0.0
        phi[m.ctl.open_exits, m.LEAVE] = 0.0
        fixed = np.isfinite(phi)
        if m.kernels is not None:
            return m.kernels.shortest_times(phi, fixed, np.ascontiguousarray(times, dtype=float), net.head,
                                            lay.tail_nodes, lay.tail_starts)  # fmt: skip
        for _ in range(net.n_nodes + 1):
            cand = times[:, None] + phi[net.head]
            best = np.minimum.reduceat(cand, lay.tail_starts, axis=0) if cand.size else cand
            new = phi.copy()
            new[lay.tail_nodes] = np.minimum(phi[lay.tail_nodes], best)
            new[fixed] = 0.0
            if np.array_equal(new, phi):
                break
            phi = new
        return phi

    def reroute(self, smoothing: float = ROUTE_SMOOTHING) -> None:
        """Move each node's route shares towards its fastest next edge for every class."""
        m = self.m
        net, lay = m.net, m.lay
        times = self.edge_times()
        phi = self.potentials(times)
        self.phi = phi
        cand = times[:, None] + phi[net.head]
        best = np.minimum.reduceat(cand, lay.tail_starts, axis=0)
        seg = lay.tail_seg
        best_e = best[seg]
        choice = (cand <= best_e + 1e-9) & np.isfinite(cand)
        n_best = np.add.reduceat(choice.astype(float), lay.tail_starts, axis=0)[seg]
        aon = np.divide(choice, n_best, out=np.zeros(choice.shape), where=n_best > 0)
        P = (1 - smoothing) * self.P + smoothing * aon
        P[~np.isfinite(cand)] = 0.0
        norm = np.add.reduceat(P, lay.tail_starts, axis=0)[seg]
        P = np.divide(P, norm, out=np.zeros_like(P), where=norm > 0)
        # Nobody is routed away from where they are meant to be: their target, or dwelling.
        home = np.zeros((net.n_nodes, P.shape[1]), dtype=bool)
        home[m.target_node, np.arange(m.target_node.size)] = True
        home[m.ctl.open_exits, m.LEAVE] = True
        P[home[net.tail]] = 0.0
        self.P = P
        self.retarget()

    def retarget(self) -> None:
        """People heading for a full viewing area go to the nearest one with room, or give up and leave.

        A viewing area is full from the critical density until it is back below the warning density. New
        arrivals' destination shares skip full areas while any other has room.
        """
        m = self.m
        if not m.s.full_areas_known:
            return  # nobody tells them: they keep heading for it (and press on where it is full)
        th, t = m.s.thresholds, m.env.now
        rho = m.node_people()[m.target_node] / m.net.node_area[m.target_node]
        full = np.where(self.full, rho >= th.warning_ppm2 - HYSTERESIS_PPM2 * 2.5, rho >= th.warning_ppm2)
        for i in np.flatnonzero(full != self.full):
            text = "full: newcomers turned away" if full[i] else "has room again"
            m.rec.event(t, "viewing_area", f"{m.targets[i]} {text}", node=m.targets[i], full=bool(full[i]))
        self.full = full
        shares = np.where(np.append(full, True), 0.0, m.dest_share)
        shares[m.LEAVE] = 0.0
        if shares.sum() > 0 and full.any() and m.s.demand.nearness_s is not None:
            m.split = _open_split(m.base_split, np.append(full, True), shares)  # each origin's near places with room
        elif shares.sum() > 0 and full.any():
            m.split = np.tile(shares / shares.sum(), (len(m.origins), 1))
        elif not full.any():
            m.split = m.base_split.copy()
        open_ = np.flatnonzero(~full)
        for d in np.flatnonzero(full):
            for arr, heads, phi0 in ((m.n_nodes_arr, np.arange(m.net.n_nodes), self.phi0_nodes),
                                     (m.n_cells_arr, m.lay.c_head, self.phi0_cells)):  # fmt: skip
                moving = arr[:, d].copy()
                if not moving.any():
                    continue
                if open_.size:
                    cost = self.phi[heads][:, open_]
                    pick = open_[np.argmin(cost, axis=1)]
                    best = cost.min(axis=1)
                    pick = np.where(best <= RETARGET_MAX_S, pick, m.LEAVE)
                else:
                    pick = np.full(moving.size, m.LEAVE)
                rows = np.arange(moving.size)
                arr[rows, pick] += moving
                arr[:, d] = 0.0
                m.freeflow_s += float((moving * (phi0[rows, pick] - phi0[:, d])).sum())
                m.turned_away += float(moving[pick == m.LEAVE].sum())


def _open_split(base: np.ndarray, closed: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Each origin's destination shares (`base`, rows) without the `closed` columns, renormalised; an origin whose
    places are all closed takes the open `shares`."""
    split = np.where(closed[None, :], 0.0, base)
    total = split.sum(axis=1, keepdims=True)
    return np.where(total > 0, split / np.where(total > 0, total, 1.0), shares[None, :] / shares.sum())


__all__ = ["MIN_SPEED_MPS", "RETARGET_MAX_S", "ROUTE_EVERY_S", "ROUTE_SMOOTHING", "Routes"]
