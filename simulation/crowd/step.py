"""One vectorised flow step of `dt` seconds (Lebacque's demand/supply form of the cell-transmission model).

- A cell sends at most demand(D)·w·dt and never more than it holds; D is the density of both directions
  together, and each direction sends its own share. A cell receives at most supply(D)·w·dt and never more
  than it has room for up to the jam density: no density is negative or above jam on a moving edge.
- Pressed crowds: where the scenario says a standing crowd can be pushed tighter than walkers jam
  (`crush.places`, up to a pressed density Dp), the congested supply is the larger of flow(D) and the pushing
  supply capacity·(Dp − D)/(Dp − Dc) (Dc the critical density): the crowd behind keeps pressing in, ever more
  slowly, until the place holds Dp per m² (nobody there walks: the diagram's speed is 0 from the jam density).
- Counter-flow: when both directions occupy a cell, its demand and supply shrink by the friction
  1 − κ·(1 − |n₁ − n₂| / (n₁ + n₂)) (κ = `COUNTERFLOW_FRICTION`); a one-way control empties one direction and
  gives the whole width back. Near the jam density with both directions present almost nothing moves: people
  who cannot advance only squeeze past each other at `SWAP_PMPS` per metre (densities unchanged).
- Stairs walk slower: their speeds (so demand and supply) are scaled by `stair_speed_factor` (Weidmann) or
  by the SFPE stair constant.
- A node sends each class over its outgoing edges in the route shares of that class; what enters an edge
  passes its end as through a door: at most specific flow × width a second. A node receives no more than its
  room up to the jam (or pressed) density and, once congested, no more than its congested supply across the
  walkways that meet there.
  Leavers reaching an open exit are gone at once (they take no room there).
- A receiver with less room than is asked of it shares its room in proportion to what is asked (every
  incoming link gets the same fraction); so the amounts that leave one place are exactly the ones that
  enter the next, and people are conserved to rounding.
- Metering caps the inflow of arriving classes through a node (leavers are let through); at an origin it
  caps entry from the outside only, and the people held back wait in that origin's queue.
- Dwell: a class reaching its viewing area stands there for a time drawn from the scenario's dwell
  distribution (as a flow: the cohort is spread over the distribution); dwellers whose time is up stay while
  a show holds them; then they leave. A class whose destination is an exit (a station) leaves on arrival.

The step runs compiled (`simulation.crowd_kernel`, Numba loops over cells and nodes); the NumPy step here is
its reference, run with `CrowdModel(..., kernel="numpy")` or `YIWANG_CROWD_KERNEL=numpy`. Both leave the
densities after the step to the watch (`simulation.crowd.readout.Watch`).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from scenarios.pedestrian import COUNTERFLOW_FRICTION, SFPE
from scenarios.schema import CrowdScenario

if TYPE_CHECKING:
    from simulation.crowd.model import CrowdModel

KERNELS = ("numba", "numpy")  # the compiled step (`simulation.crowd_kernel`) and the NumPy reference
KERNEL_ENV = "YIWANG_CROWD_KERNEL"  # set it to "numpy" to run the reference step
# A step at a time, each step's arrivals are spread over the steps they leave at, at once (no kept cohorts).
NO_PEND, NO_PEND_AT = np.zeros((0, 0)), np.zeros(2, dtype=np.int64)
DWELL_SAMPLES = 200_000


def compiled_kernels(kernel: str | None) -> ModuleType | None:
    """The compiled kernels for `kernel` (the argument, else `YIWANG_CROWD_KERNEL`, else compiled), or None for
    the NumPy step."""
    kernel = kernel or os.environ.get(KERNEL_ENV) or KERNELS[0]
    if kernel not in KERNELS:
        raise ValueError(f"crowd step kernel {kernel!r} (argument or {KERNEL_ENV}): not one of {KERNELS}")
    if kernel != "numba":
        return None
    from simulation import crowd_kernel  # imported here: NumPy-only runs do not load numba

    return crowd_kernel


def diagram_params(m: CrowdModel) -> tuple[float, ...]:
    """The fundamental diagram as the compiled step takes it."""
    fd = m.fd
    if isinstance(fd, SFPE):
        kind, a, gamma = 1.0, fd.k, 0.0
    else:
        kind, a, gamma = 0.0, fd.v0, fd.gamma
    return (kind, a, gamma, m.jam, m.rho_crit, fd.capacity, COUNTERFLOW_FRICTION)


def dwell_kernel(scenario: CrowdScenario, rng: np.random.Generator, dt: float, n_steps: int) -> np.ndarray:
    """The dwell distribution as the share of a cohort that leaves k steps after arriving (k = 0, 1, ...)."""
    draws = np.asarray(scenario.stay.sample(rng, DWELL_SAMPLES), dtype=float)
    steps = np.minimum(np.floor(draws / dt).astype(np.int64) + 1, n_steps + 1)
    pmf = np.bincount(steps, minlength=int(steps.max()) + 1).astype(float)
    return pmf / pmf.sum()


def densities(m: CrowdModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: its own people, both directions' people, and the density of both."""
    lay = m.lay
    if m.kernels is not None:
        return m.kernels.np_densities(m.n_cells_arr, lay.twinned, lay.twin_of, m.geo.inv_area)  # type: ignore[no-any-return]
    own = m.n_cells_arr.sum(axis=1)
    both = own.copy()
    both[lay.twinned] += own[lay.twin_of]
    rho = both * m.geo.inv_area
    return own, both, rho


def flow_step(m: CrowdModel) -> None:
    """Advance every cell and node by one step (after the step's arrivals)."""
    if m.kernels is not None:
        _step_compiled(m)
    else:
        _step_numpy(m)
    _holding(m)
    if m.on_step is not None:
        m.on_step(m)


def _holding(m: CrowdModel) -> None:
    """The people in each holding area after the step (their time waiting is not walking); the cumulative
    admissions carried on to the next step (whose arrivals add to them)."""
    k = m.step_no  # steps done
    now = m.n_nodes_arr[m.holding_node].sum(axis=1)
    m.walk_person_s -= float(now.sum()) * m.dt
    if m.waiting is not None:  # those whose patience ran out give up (the scenario's `patience`)
        m.waiting.after_step()
        now = m.n_nodes_arr[m.holding_node].sum(axis=1)
    m.holding_now[:, k] = now
    m.holding_in[:, k] = m.holding_in[:, k - 1]
    total = float(now.sum())
    if m.station_idx.size:
        m.station_peak = max(m.station_peak, float(now[m.station_idx].sum()))
    if total > m.max_entry_queue:
        m.max_entry_queue = total


def kernel_network(m: CrowdModel) -> tuple[object, ...]:
    """The compiled flow step's arguments from the diagram to the swaps' capacities, in its order
    (`crowd_kernel.flow_step`; `crowd_kernel.run_steps` takes them in the same order)."""
    net, lay, geo, ctl = m.net, m.lay, m.geo, m.ctl
    return (m.fd_params, m.dt, m.LEAVE,
            net.cell_edge, lay.c_first, lay.c_last, lay.c_head, net.cell_twin, lay.last_idx,
            ctl.c_exit, geo.c_factor_w, geo.area_c,
            m.routes.P, net.tail, net.head, net.first_cell, geo.cap_e, ctl.e_exit,
            net.node_area, geo.node_width, ctl.node_closed, m.origin_node, m.routes.phi0_origin, geo.cap_g,
            m.press_c, m.press_n,
            ctl.m_rate, *ctl.m_lc, *ctl.m_de, *ctl.m_go,
            lay.sw_a, lay.sw_b, geo.sw_cap, lay.se_edge, lay.se_first, lay.se_opp, lay.se_node, geo.se_cap)  # fmt: skip


def kernel_dwell(m: CrowdModel) -> tuple[object, ...]:
    """The compiled flow step's arguments for dwelling and leaving, from the holds to the leavers' free-flow
    times, in its order (`run_steps` takes them in the same order)."""
    lo, hi = m.kernel_span
    return (m.hold, m.due, m.kernel, lo, hi, m.dwell_at, m.held, m.target_node, m.ctl.open_exits,
            m.routes.phi0_leave, m.ctl.release_cap)  # fmt: skip


def _step_compiled(m: CrowdModel) -> None:
    """The step by the compiled kernels: the same rules as `_step_numpy`."""
    ck, net, geo, dt = m.kernels, m.net, m.geo, m.dt
    assert ck is not None
    cells, nodes = m.n_cells_arr, m.n_nodes_arr
    own, both, rho = m.post if m.post is not None else ck.densities(cells, net.cell_twin, geo.inv_area)
    moved, own_next = np.empty(net.n_cells_total), np.empty(net.n_cells_total)
    entered, ff_in, ff_out, served, departed, inside = ck.flow_step(
        cells, nodes, m.queue, m.dwelling, own, both, rho, *kernel_network(m), moved, m.moved_c, own_next,
        m.step_no, *kernel_dwell(m), NO_PEND, NO_PEND_AT,
    )  # fmt: skip
    m.entered_network += entered
    m.freeflow_s += ff_in
    m.served += served
    m.departed += departed
    m.freeflow_s += ff_out
    m.walk_person_s += inside * dt
    m.step_no += 1
    m.last_flow = moved
    _leave_on_arrival(m)
    m.watch.after_compiled(m.step_no * dt, own_next)


def _step_numpy(m: CrowdModel) -> None:
    """The step in NumPy: the reference for the compiled kernels."""
    net, lay, geo, ctl, dt, fd = m.net, m.lay, m.geo, m.ctl, m.dt, m.fd
    nodes, cells, queue = m.n_nodes_arr, m.n_cells_arr, m.queue
    own, both, rho = m.post if m.post is not None else densities(m)
    node_tot = nodes.sum(axis=1) + m.dwelling
    # Counter-flow friction: 1 with one direction, 1 − κ when both directions are equal.
    fric = np.ones_like(own)
    tw = lay.twinned
    if tw.size:
        bt = both[tw]
        fric[tw] = 1.0 - COUNTERFLOW_FRICTION * (1.0 - np.abs(2 * own[tw] - bt) / np.where(bt > 0, bt, 1.0))
    base = geo.c_factor_w * fric * dt  # speed factor × width × friction × dt
    # Each cell sends at most demand(D)·w·dt (its own direction's share), never more than it holds; its
    # share of both directions' demand is own/both, so per person it sends demand(D)·base/both.
    flow = fd.flow(rho)
    below = rho < m.rho_crit
    cap = fd.capacity
    per = np.divide(np.where(below, flow, cap) * base, both, out=np.zeros_like(both), where=both > 0)
    frac_c = np.minimum(per, 1.0)
    send = own * frac_c
    # Each physical cell receives at most supply(D)·w·dt and no more than its room up to the jam (or pressed)
    # density.
    recv = np.minimum(np.where(below, cap, pushed(m, rho, flow, m.press_c)) * base,
                      np.maximum(m.press_c * geo.area_c - both, 0.0))  # fmt: skip
    # Each node sends class k over its out-edges in the route shares; an edge's end passes at most
    # specific flow × width per second (a door).
    dem_e = nodes[net.tail] * m.routes.P
    tot_e = dem_e.sum(axis=1)
    over = tot_e > geo.cap_e
    if over.any():
        dem_e[over] *= (geo.cap_e[over] / tot_e[over])[:, None]
        tot_e[over] = geo.cap_e[over]
    dem_g = queue.copy()  # metering scales it; the queue keeps whoever is held back
    # An entrance lets people in no faster than its walkways out carry them.
    tot_g = dem_g.sum(axis=1)
    over_g = tot_g > geo.cap_g
    if over_g.any():
        dem_g[over_g] *= (geo.cap_g[over_g] / tot_g[over_g])[:, None]
    # Metering: arriving classes into a metered node get at most its rate; leavers pass.
    meter = _meter(m, cells, frac_c, dem_e, dem_g) if ctl.meters else {}
    if meter:
        tot_e = dem_e.sum(axis=1)
        for _node, (lc, r) in meter.items():
            send[lc] = (cells[lc] * frac_c[lc, None] * r).sum(axis=1)
    # Receivers share their room in proportion to what is asked of them.
    in_c = np.empty_like(send)
    in_c[lay.nonfirst] = send[lay.nonfirst - 1]
    in_c[lay.first_idx] = tot_e[lay.first_edge]
    asked = in_c.copy()
    asked[tw] += in_c[lay.twin_of]
    r_cell = np.divide(recv, asked, out=np.ones_like(asked), where=asked > recv)
    nn = net.n_nodes
    last = lay.last_idx
    # Leavers reaching an open exit are gone at once: they take no room there.
    xl, xd, L = ctl.exit_last, ctl.exit_doors, m.LEAVE
    leave_c = cells[xl, L] * frac_c[xl] if xl.size else np.zeros(0)
    leave_d = dem_e[xd, L] if xd.size else np.zeros(0)
    send_n = send[last].copy()
    send_n[ctl.exit_last_pos] -= leave_c
    asked_n = np.bincount(lay.last_head, weights=send_n, minlength=nn)
    if lay.door_edges.size:
        tot_d = tot_e[lay.door_edges].copy()
        tot_d[ctl.exit_door_pos] -= leave_d
        asked_n += np.bincount(lay.door_head, weights=tot_d, minlength=nn)
    asked_n += np.bincount(m.origin_node, weights=dem_g.sum(axis=1), minlength=nn)
    # A node receives no more than its room; once it is congested, no more than flow(D) across the
    # walkways that meet there (so it fills towards jam only as fast as the crowd there can move).
    rho_n = node_tot / net.node_area
    room = m.press_n * net.node_area - node_tot
    node_supply = pushed(m, rho_n, fd.flow(rho_n), m.press_n)
    node_room = np.where(rho_n < m.rho_crit, room, np.minimum(node_supply * geo.node_width * dt, room))
    node_room = np.maximum(node_room, 0.0)
    node_room[ctl.closed_idx] = 0.0
    r_node = np.divide(node_room, asked_n, out=np.ones_like(asked_n), where=asked_n > node_room)
    # The flows: what each sender may send times the share its receiver can take.
    r_down = np.empty_like(send)
    r_down[lay.nonlast] = r_cell[lay.nonlast + 1]
    r_down[last] = r_node[lay.last_head]
    f_c = cells * (frac_c * r_down)[:, None]
    f_c[xl, L] = leave_c
    for _node, (lc, r) in meter.items():
        f_c[lc] *= r
    r_e = np.ones(len(net.edges))
    r_e[lay.cell_edges] = r_cell[net.first_cell[lay.cell_edges]]
    r_e[lay.door_edges] = r_node[lay.door_head]
    f_e = dem_e * r_e[:, None]
    f_e[xd, L] = leave_d
    f_g = dem_g * r_node[m.origin_node][:, None]
    moved = send * r_down  # per cell, before the exit and meter adjustments (for swaps and stalls)
    swaps = _swaps(m, cells, frac_c, f_c, dem_e, f_e, send - moved)
    # Apply them: what leaves one place enters the next.
    cells -= f_c
    cells[lay.nonfirst] += f_c[lay.nonfirst - 1]
    cells[lay.first_idx] += f_e[lay.first_edge]
    nodes -= _sum_rows(f_e, net.tail, nn)
    nodes += _sum_rows(f_c[last], lay.last_head, nn)
    if lay.door_edges.size:
        nodes += _sum_rows(f_e[lay.door_edges], lay.door_head, nn)
    nodes += _sum_rows(f_g, m.origin_node, nn)
    queue -= f_g
    _apply_swaps(m, swaps)
    m.entered_network += float(f_g.sum())
    m.freeflow_s += float((f_g * m.routes.phi0_nodes[m.origin_node]).sum())
    np.maximum(cells, 0.0, out=cells)  # rounding dust only: no flow exceeds what its sender holds
    _absorb(m)
    m.walk_person_s += (nodes.sum() + cells.sum()) * dt
    m.step_no += 1
    m.last_flow = moved
    m.watch.after_numpy(m.step_no * dt, f_c)


def pushed(m: CrowdModel, rho: np.ndarray, flow: np.ndarray, press: np.ndarray) -> np.ndarray:
    """The congested supply per metre: flow(D), or where a crowd can be pressed past the jam density (`press`
    above it), the larger of that and capacity·(Dp − D)/(Dp − Dc)."""
    over = press > m.jam
    if not over.any():
        return flow
    push = m.fd.capacity * np.maximum(press - rho, 0.0) / np.where(over, press - m.rho_crit, 1.0)
    return np.where(over, np.maximum(flow, push), flow)


def _swaps(m: CrowdModel, cells: np.ndarray, frac_c: np.ndarray, f_c: np.ndarray, dem_e: np.ndarray,
           f_e: np.ndarray, blocked: np.ndarray) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Counter-flowing people who could not move squeeze past each other (at most `SWAP_PMPS` a metre).

    Across every boundary between two stretches of a two-way edge (and between a node and the edge's
    end), what one direction still wants to send and what the other still wants to send the other way
    are exchanged, up to the swap capacity: neither side's number of people changes, so no density rises,
    but a stall at the jam density drains slowly instead of locking for ever. `blocked` (people a cell
    could not send this step) picks the few boundaries where both sides are held up."""
    lay, geo = m.lay, m.geo
    live = np.flatnonzero((blocked[lay.sw_a] > 0) & (blocked[lay.sw_b] > 0))
    a, b = lay.sw_a[live], lay.sw_b[live]
    rem_a = np.maximum(cells[a] * frac_c[a, None] - f_c[a], 0.0)
    rem_b = np.maximum(cells[b] * frac_c[b, None] - f_c[b], 0.0)
    ta, tb = rem_a.sum(axis=1), rem_b.sum(axis=1)
    x = np.minimum(np.minimum(ta, tb), geo.sw_cap[live])
    xa, xb = rem_a * _ratio(x, ta)[:, None], rem_b * _ratio(x, tb)[:, None]
    ends = np.flatnonzero(blocked[lay.se_opp] > 0)
    e, o = lay.se_edge[ends], lay.se_opp[ends]
    rem_e = np.maximum(dem_e[e] - f_e[e], 0.0)
    rem_o = np.maximum(cells[o] * frac_c[o, None] - f_c[o], 0.0)
    te, to = rem_e.sum(axis=1), rem_o.sum(axis=1)
    y = np.minimum(np.minimum(te, to), geo.se_cap[ends])
    ye, yo = rem_e * _ratio(y, te)[:, None], rem_o * _ratio(y, to)[:, None]
    return a, b, xa, xb, ends, ye, yo


def _apply_swaps(m: CrowdModel, swaps: tuple[np.ndarray, ...]) -> None:
    a, b, xa, xb, ends, ye, yo = swaps
    cells, nodes, nn, lay = m.n_cells_arr, m.n_nodes_arr, m.net.n_nodes, m.lay
    cells[a] -= xa
    cells[a + 1] += xa
    cells[b] -= xb
    cells[b + 1] += xb
    if ends.size:
        cells[lay.se_first[ends]] += ye
        cells[lay.se_opp[ends]] -= yo
        nodes += _sum_rows(yo - ye, lay.se_node[ends], nn)


def _meter(m: CrowdModel, cells: np.ndarray, frac_c: np.ndarray, dem_e: np.ndarray,
           dem_g: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Cap the arriving classes' inflow into each metered node at its rate (leavers are let through).

    Door and origin demands are scaled in place; for the last cells into a metered node the per-class
    factors are returned, to scale those cells' flows."""
    ctl = m.ctl
    out = {}
    arriving = np.ones(m.K, dtype=bool)
    arriving[m.LEAVE] = False
    for node, rate in ctl.meters.items():
        lc, de, go = ctl.last_cells_into[node], ctl.doors_into[node], ctl.origins_at[node]
        dem_lc = cells[lc] * frac_c[lc, None]
        asked = dem_lc[:, arriving].sum() + dem_e[de][:, arriving].sum() + dem_g[go][:, arriving].sum()
        budget = rate * m.dt
        if asked <= budget:
            continue
        factor = np.where(arriving, budget / asked, 1.0)
        if de.size:
            dem_e[de] *= factor
        if go.size:
            dem_g[go] *= factor
        out[node] = (lc, factor)
    return out


def _absorb(m: CrowdModel) -> None:
    """Arrivals at their viewing area start to dwell; leavers at an open exit are gone; dwell ends."""
    nodes, k, open_exits = m.n_nodes_arr, m.step_no, m.ctl.open_exits
    tn, idx = m.target_node, m.target_cls
    got = nodes[tn, idx].copy()
    nodes[tn, idx] = 0.0
    m.dwell_at += got
    m.served += float(got.sum())
    m.due[:, k : k + m.kernel.size] += got[:, None] * m.kernel[None, :]
    if open_exits.size:
        m.departed += float(nodes[open_exits, m.LEAVE].sum())
        nodes[open_exits, m.LEAVE] = 0.0
    if m.hold[k]:
        m.held += m.due[:, k]
    else:
        # Those whose time is up go, but where a hold is in force no more than it lets go; the rest wait on.
        free = np.minimum(m.due[:, k] + m.held, m.dwell_at)
        release = np.minimum(free, m.ctl.release_cap)
        m.held[:] = free - release
        m.dwell_at -= release
        nodes[tn, m.LEAVE] += release
        m.freeflow_s += float((release * m.routes.phi0_nodes[tn, m.LEAVE]).sum())
    m.dwelling = np.bincount(tn, weights=m.dwell_at, minlength=m.net.n_nodes)
    _leave_on_arrival(m)


def _leave_on_arrival(m: CrowdModel) -> None:
    """Those who reached a destination that is an exit (a station they walked to) are gone: they neither dwell
    nor take room there (as leavers reaching an exit). Those heading for such a station while it is closed become
    leavers: they make for the nearest open exit."""
    diverted = m.ctl.shut_stations
    if diverted.size:  # their station is closed: they leave by the nearest open exit
        for arr, phi0 in ((m.n_nodes_arr, m.routes.phi0_nodes), (m.n_cells_arr, m.routes.phi0_cells)):
            moving = arr[:, diverted]
            arr[:, m.LEAVE] += moving.sum(axis=1)
            arr[:, diverted] = 0.0
            m.freeflow_s += float((moving * (phi0[:, [m.LEAVE]] - phi0[:, diverted])).sum())
    gone = m.leave_at
    if not gone.size or not m.dwell_at[gone].any():
        return
    m.departed += float(m.dwell_at[gone].sum())
    m.dwell_at[gone] = 0.0
    m.due[gone] = 0.0
    m.held[gone] = 0.0
    m.dwelling[:] = np.bincount(m.target_node, weights=m.dwell_at, minlength=m.net.n_nodes)


def _ratio(x: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0)


def _sum_rows(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Add rows of `values` into an (n, K) array at `rows` (repeated rows add up)."""
    k = values.shape[1]
    flat = (rows[:, None] * k + np.arange(k)[None, :]).ravel()
    return np.bincount(flat, weights=values.ravel(), minlength=n * k).reshape(n, k)


__all__ = ["COUNTERFLOW_FRICTION", "DWELL_SAMPLES", "KERNELS", "KERNEL_ENV", "compiled_kernels", "densities",
           "diagram_params", "dwell_kernel", "flow_step", "pushed"]  # fmt: skip
