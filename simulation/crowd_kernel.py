"""The crowd model's step, compiled: the same rules as `CrowdModel`'s NumPy step, as loops over cells and nodes.

`simulation.crowd` keeps the NumPy step as the reference; these kernels do the same arithmetic in the same
order where it matters (sums per node are formed apart and then added, as `np.bincount` does), so that the two
agree to rounding. A NumPy step costs about 150 small array calls whatever the crowd; a compiled step costs one
call and a few passes over the cells.

- `flow_step`: everything a step does after the arrivals join the queues: what cells, doors and origins send
  and receive, metering, receivers sharing their room, leavers at the exits, counter-flow swaps, applying the
  flows; then `absorb` (arrivals start to dwell, leavers are gone, dwell ends).
- `watch_step`: densities after the step, the place densities and peaks, the person-seconds over the KPI
  levels, the threshold levels (the places whose level changed are returned, for the event log), the stall
  check (every few steps) and the people held back by meters.

Determinism: no parallel loops and no fast-math, so results do not depend on threads or on the machine's
vector width beyond what NumPy's own sums do. `cache=True` keeps the compiled code between processes (where
the package folder is writable).

Speed (benchmarks/README.md, "The crowd step, faster to the same bits"): every kernel is compiled with NumPy's
error model (`error_model="numpy"`: a division by zero gives inf or nan, as in the NumPy reference step, instead
of raising; the divisions are guarded, so no run's numbers change), which lets the compiler vectorise the loops
that divide; loops whose sums must keep their order are kept apart from those that can run eight lanes at
once; and nothing per cell is allocated or branched on where a select does.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from scenarios.pedestrian import SFPE_A, SFPE_MIN_DENSITY

WEIDMANN, SFPE = 0, 1  # the kinds of fundamental diagram `fd_flow` knows
EXP_NEGLIGIBLE = 38.0
SPREAD_CHUNK = 1024  # entries of `due` (8 kB) that `spread` adds every kept cohort to before going on
PEND_MAX = 64  # steps of cohorts `run_steps` keeps before spreading them (no more than the shortest dwell)


@numba.njit(cache=True, error_model="numpy", inline="always")
def fd_flow(kind: int, a: float, gamma: float, jam: float, d: float) -> float:
    """Specific flow at density `d`: Weidmann (v0 = a) or SFPE (k = a), as `scenarios.pedestrian` has them."""
    d = min(max(d, 0.0), jam)
    if kind == WEIDMANN:
        x = min(max(d, 1e-12), jam)
        z = gamma * (1.0 / x - 1.0 / jam)
        # Past z = 38, exp(-z) < 2⁻⁵⁴ and 1 − exp(-z) rounds to 1 exactly: skip the exponential (whose
        # underflow at sparse densities is slow).
        return d * (a * (1.0 - math.exp(-z))) if z < EXP_NEGLIGIBLE else d * (a * 1.0)
    x = min(max(d, SFPE_MIN_DENSITY), jam)
    return d * (a * (1.0 - SFPE_A * x))


@numba.njit(cache=True, error_model="numpy", inline="always")
def pushed(f, cap, jam, rho_crit, d, press):
    """The congested supply per metre at density `d`: the walking flow `f`, or where a crowd can be pressed past
    the jam density (`press` above it), the larger of that and capacity·(press − d)/(press − critical)."""
    if press <= jam:
        return f
    return max(f, cap * max(press - d, 0.0) / (press - rho_crit))


@numba.njit(cache=True, error_model="numpy")
def densities(cells, c_twin, inv_area):
    """Per cell: its own people, both directions' people, and the density of both."""
    nc, K = cells.shape
    own = np.empty(nc)
    for c in range(nc):
        s = 0.0
        for k in range(K):
            s += cells[c, k]
        own[c] = s
    both, rho = both_ways(own, c_twin, inv_area)
    return own, both, rho


@numba.njit(cache=True, error_model="numpy")
def both_ways(own, c_twin, inv_area):
    """Per cell, from its own people: both directions' people and their density."""
    both = own.copy()
    rho = np.empty(own.size)
    for c in range(own.size):
        if c_twin[c] >= 0:
            both[c] += own[c_twin[c]]
        rho[c] = both[c] * inv_area[c]
    return both, rho


@numba.njit(cache=True, error_model="numpy", inline="always")
def flow_keys(c, c_exit, L, c_meter):
    """For cell `c`: the class whose flow is its leavers at an exit (-1: none), and its meter (-1: none)."""
    return (L if c_exit[c] else -1), (c_meter[c] if c_meter.size > 0 else -1)


@numba.njit(cache=True, error_model="numpy", inline="always")
def cell_flow(v, g, k, leave_k, leave, j, fac):
    """What a cell holding `v` of class `k` sends: its share `g` (or its leavers at an exit), times its meter."""
    x = leave if k == leave_k else v * g
    if j >= 0:
        x *= fac[j, k]
    return x


@numba.njit(cache=True, error_model="numpy", inline="always")
def left_behind(cells, c, k, g, leave_k, leave, j, fac, frac):
    """What class `k` of cell `c` asked to send and could not: its share of demand less its flow (`cell_flow`)."""
    return max(cells[c, k] * frac - cell_flow(cells[c, k], g, k, leave_k, leave, j, fac), 0.0)


@numba.njit(cache=True, error_model="numpy")
def squeeze(xa, xb, i, ta, tb, cap):
    """Scale row `i` of both sides' remainders (totals `ta`, `tb`) so that each side passes min(ta, tb, cap)."""
    x = min(min(ta, tb), cap)
    ra = x / ta if ta > 0 else 0.0
    rb = x / tb if tb > 0 else 0.0
    for k in range(xa.shape[1]):
        xa[i, k] *= ra
        xb[i, k] *= rb


@numba.njit(cache=True, error_model="numpy")
def add_sums(nodes, sums, sign):
    """Add `sign` × `sums` to `nodes` and clear `sums` (per-node sums are formed apart, as `np.bincount` does)."""
    for n in range(nodes.shape[0]):
        for k in range(nodes.shape[1]):
            nodes[n, k] += sign * sums[n, k]
            sums[n, k] = 0.0


@numba.njit(cache=True, error_model="numpy")
def add_rows(cells, live, n_live, rows, shift, amounts, sign):
    """`cells[rows[live[j]] + shift] += sign × amounts[j]` for the first `n_live` of `live`, in order."""
    for j in range(n_live):
        r = rows[live[j]] + shift
        for k in range(cells.shape[1]):
            cells[r, k] += sign * amounts[j, k]


@numba.njit(cache=True, error_model="numpy")
def apply_cells(
    cells, c_first, c_edge, c_exit, L, c_meter, touched, g_c, leave_c, fac, f_e, moved_c, need_moved, own_next,
):  # fmt: skip
    """Each cell loses its outflow and gains its inflow, as if from the last cell to the first (each cell's inflow
    is what the cell before held before the step); rounding dust below zero is cleared (no flow exceeds what its
    sender holds), except where swaps still apply (`touched`). `moved_c` gets what each cell sent when
    `need_moved`; `own_next` the people in each cell after (from its first class to its last: where swaps apply,
    they are to be counted again after them).

    Most cells are plain: nobody leaving at an exit and no meter, fed by the cell before (or, an edge's first
    cell, by the edge's entry). Those fed by the cell before go in one tight pass from the last to the first; then
    the first cells; then the others, from a copy of what the cells before them held."""
    nc, K = cells.shape
    # 0: other, 1: plain fed by the cell before, 2: plain first cell (without branches: most cells are plain)
    kind = np.empty(nc, dtype=np.int8)
    metered = c_meter.size > 0
    n_other = 0
    for c in range(nc):
        first = np.int8(c_first[c])
        fed = np.int8(c > 0) & ~np.int8(c_exit[max(c - 1, 0)]) & np.int8(1)
        p = ~np.int8(c_exit[c]) & np.int8(1) & (first | fed)
        kind[c] = p * (np.int8(1) + first)
        n_other += 1 - p
    if metered:
        n_other = 0
        for c in range(nc):
            if kind[c] and (c_meter[c] >= 0 or (kind[c] == 1 and c_meter[c - 1] >= 0)):
                kind[c] = 0
            n_other += kind[c] == 0
    other = np.empty(n_other, dtype=np.int64)
    before = np.empty((n_other, K))  # what the cell before each of them held before the step
    i = 0
    if n_other:
        for c in range(nc):
            if kind[c] == 0:
                other[i] = c
                if not c_first[c]:
                    for k in range(K):
                        before[i, k] = cells[c - 1, k]
                i += 1
    # From the last cell to the second (the first cell is first): `c - 1` needs no wrap-around. Where swaps still
    # apply (`touched`), nothing is cleared yet: the floor is -inf there, without a branch.
    floor = np.empty(nc)
    for c in range(nc):
        floor[c] = -np.inf if touched[c] else 0.0
    if need_moved:
        for c in range(nc - 1, 0, -1):
            if kind[c] != 1:
                continue
            g, g_in, lo = g_c[c], g_c[c - 1], floor[c]
            out_sum = 0.0
            s = 0.0
            for k in range(K):
                v = cells[c, k]
                out = v * g
                x = max((v - out) + cells[c - 1, k] * g_in, lo)
                cells[c, k] = x
                s += x
                out_sum += out
            moved_c[c] = out_sum
            own_next[c] = s
    else:
        for c in range(nc - 1, 0, -1):
            if kind[c] != 1:
                continue
            g, g_in, lo = g_c[c], g_c[c - 1], floor[c]
            s = 0.0
            for k in range(K):
                v = cells[c, k]
                x = max((v - v * g) + cells[c - 1, k] * g_in, lo)
                cells[c, k] = x
                s += x
            own_next[c] = s
    for c in range(nc):
        if kind[c] != 2:
            continue
        g, e, lo = g_c[c], c_edge[c], floor[c]
        out_sum = 0.0
        s = 0.0
        for k in range(K):
            v = cells[c, k]
            out = v * g
            x = max((v - out) + f_e[e, k], lo)
            cells[c, k] = x
            s += x
            out_sum += out
        moved_c[c] = out_sum
        own_next[c] = s
    for i in range(n_other):
        c = other[i]
        lc, jc = flow_keys(c, c_exit, L, c_meter)
        first = c_first[c]
        lp, jp = flow_keys(c - 1, c_exit, L, c_meter) if not first else (-1, -1)
        e = c_edge[c]
        out_sum = 0.0
        s = 0.0
        for k in range(K):
            out = cell_flow(cells[c, k], g_c[c], k, lc, leave_c[c], jc, fac)
            inflow = f_e[e, k] if first else cell_flow(before[i, k], g_c[c - 1], k, lp, leave_c[c - 1], jp, fac)
            x = max((cells[c, k] - out) + inflow, floor[c])
            out_sum += out
            cells[c, k] = x
            s += x
        moved_c[c] = out_sum
        own_next[c] = s


@numba.njit(cache=True, error_model="numpy")
def flow_step(
    cells, nodes, queue, dwelling, own, both, rho,
    fd, dt, L,
    c_edge, c_first, c_last, c_head, c_twin, last_idx, c_exit, c_factor_w, area_c,
    P, tail, head, first_cell, cap_e, e_exit,
    node_area, node_width, node_closed, origin_node, phi0_origin, cap_g,
    press_c, press_n,
    m_rate, m_lc_ptr, m_lc, m_de_ptr, m_de, m_go_ptr, m_go,
    sw_a, sw_b, sw_cap, se_edge, se_first, se_opp, se_node, se_cap,
    moved, moved_c, own_next,
    k_step, hold, due, dwell_pmf, pmf_lo, pmf_hi, dwell_at, held, target_node, open_exits, phi0_leave,
    release_cap, pend, pend_at, need_moved=True,
):  # fmt: skip
    """One step of flows, in place; returns the bookkeeping sums (see `CrowdModel.step` for the rules).

    `fd` is (kind, a, gamma, jam, critical density, capacity, counter-flow friction). `moved`, `moved_c` and
    `own_next` are filled: what each cell sent before the exit and meter adjustments, what it sent in the end,
    and the people in it after the step.
    Returns (entered the network, free-flow seconds of the entries, free-flow seconds of those who stop
    dwelling, served, departed, people inside walking).
    """
    kind, a_fd, gamma, jam, rho_crit, cap, kappa = fd
    kind = int(kind)
    nc, K = cells.shape
    m = tail.size
    nn = nodes.shape[0]
    n_o = queue.shape[0]
    # Cells: counter-flow friction, what each sends (its share of demand) and can receive (supply and room).
    # First the walking flow at each cell's density (the two directions of a cell share their density: one
    # flow(D) does for both); then the rest, a loop without calls or branches that the compiler can vectorise.
    frac_c = np.empty(nc)
    send = np.empty(nc)
    recv = np.empty(nc)
    flow_c = np.empty(nc)
    for c in range(nc):
        t = c_twin[c]
        flow_c[c] = flow_c[t] if 0 <= t < c and rho[t] == rho[c] else fd_flow(kind, a_fd, gamma, jam, rho[c])
    for c in range(nc):
        b = both[c]
        some = b > 0
        fric = 1.0 - kappa * (1.0 - abs(2 * own[c] - b) / (b if some else 1.0))
        fric = fric if c_twin[c] >= 0 else 1.0
        base = c_factor_w[c] * fric * dt
        f = flow_c[c]
        below = rho[c] < rho_crit
        per = ((f if below else cap) * base) / (b if some else 1.0)
        frac = min(per if some else 0.0, 1.0)
        frac_c[c] = frac
        send[c] = own[c] * frac
        recv[c] = min((cap if below else pushed(f, cap, jam, rho_crit, rho[c], press_c[c])) * base,
                      max(press_c[c] * area_c[c] - b, 0.0))
    # Nodes send each class over their out-edges in the route shares; an edge's end passes at most its door
    # capacity.
    dem_e = np.empty((m, K))
    tot_e = np.empty(m)
    for e in range(m):
        s = 0.0
        for k in range(K):
            dem_e[e, k] = nodes[tail[e], k] * P[e, k]
            s += dem_e[e, k]
        if s > cap_e[e]:
            r = cap_e[e] / s
            for k in range(K):
                dem_e[e, k] *= r
            s = cap_e[e]
        tot_e[e] = s
    dem_g = queue.copy()
    # An entrance lets people in no faster than its walkways out carry them (specific flow x their width).
    for o in range(n_o):
        s = 0.0
        for k in range(K):
            s += dem_g[o, k]
        if s > cap_g[o]:
            r = cap_g[o] / s
            for k in range(K):
                dem_g[o, k] *= r
    # Metering: arriving classes into a metered node get at most its rate; leavers pass.
    n_m = m_rate.size
    fac = np.ones((n_m, K))
    m_on = np.zeros(n_m, dtype=np.bool_)
    any_m = False
    for j in range(n_m):
        s1 = 0.0
        for i in range(m_lc_ptr[j], m_lc_ptr[j + 1]):
            c = m_lc[i]
            for k in range(K):
                if k != L:
                    s1 += cells[c, k] * frac_c[c]
        s2 = 0.0
        for i in range(m_de_ptr[j], m_de_ptr[j + 1]):
            for k in range(K):
                if k != L:
                    s2 += dem_e[m_de[i], k]
        s3 = 0.0
        for i in range(m_go_ptr[j], m_go_ptr[j + 1]):
            for k in range(K):
                if k != L:
                    s3 += dem_g[m_go[i], k]
        asked = s1 + s2 + s3
        budget = m_rate[j] * dt
        if asked <= budget:
            continue
        m_on[j] = True
        any_m = True
        for k in range(K):
            if k != L:
                fac[j, k] = budget / asked
        for i in range(m_de_ptr[j], m_de_ptr[j + 1]):
            for k in range(K):
                dem_e[m_de[i], k] *= fac[j, k]
        for i in range(m_go_ptr[j], m_go_ptr[j + 1]):
            for k in range(K):
                dem_g[m_go[i], k] *= fac[j, k]
    if any_m:
        for e in range(m):
            s = 0.0
            for k in range(K):
                s += dem_e[e, k]
            tot_e[e] = s
        for j in range(n_m):
            if m_on[j]:
                for i in range(m_lc_ptr[j], m_lc_ptr[j + 1]):
                    c = m_lc[i]
                    s = 0.0
                    for k in range(K):
                        s += cells[c, k] * frac_c[c] * fac[j, k]
                    send[c] = s
    # Receivers share their room in proportion to what is asked of them.
    in_c = np.empty(nc)
    for c in range(nc):
        in_c[c] = tot_e[c_edge[c]] if c_first[c] else send[c - 1]
    r_cell = np.empty(nc)
    for c in range(nc):
        asked = in_c[c]
        if c_twin[c] >= 0:
            asked += in_c[c_twin[c]]
        r_cell[c] = recv[c] / asked if asked > recv[c] else 1.0
    # Leavers reaching an open exit are gone at once: they take no room there.
    leave_c = np.zeros(nc)
    a_last = np.zeros(nn)
    for c in last_idx:
        sn = send[c]
        if c_exit[c]:
            leave_c[c] = cells[c, L] * frac_c[c]
            sn -= leave_c[c]
        a_last[c_head[c]] += sn
    a_door = np.zeros(nn)
    for e in range(m):
        if first_cell[e] < 0:
            a_door[head[e]] += tot_e[e] - dem_e[e, L] if e_exit[e] else tot_e[e]
    a_orig = np.zeros(nn)
    for o in range(n_o):
        s = 0.0
        for k in range(K):
            s += dem_g[o, k]
        a_orig[origin_node[o]] += s
    # A node receives no more than its room; once congested, no more than flow(D) across its walkways.
    r_node = np.empty(nn)
    for n in range(nn):
        s = 0.0
        for k in range(K):
            s += nodes[n, k]
        tot = s + dwelling[n]
        rho_n = tot / node_area[n]
        room = press_n[n] * node_area[n] - tot
        if rho_n < rho_crit:
            nr = room
        else:
            fn = pushed(fd_flow(kind, a_fd, gamma, jam, rho_n), cap, jam, rho_crit, rho_n, press_n[n])
            nr = min(fn * node_width[n] * dt, room)
        nr = max(nr, 0.0)
        if node_closed[n]:
            nr = 0.0
        asked = a_last[n] + a_door[n] + a_orig[n]
        r_node[n] = nr / asked if asked > nr else 1.0
    # The flows: what each sender may send times the share its receiver can take. A cell's outflow is
    # `cell_flow` of its people before the step; it is not stored, so that a step reads the cells once.
    g_c = np.empty(nc)
    for c in range(nc):
        rd = r_node[c_head[c]] if c_last[c] else r_cell[c + 1]
        g_c[c] = frac_c[c] * rd
        moved[c] = send[c] * rd
    c_meter = np.empty(0, dtype=np.int64)
    if any_m:
        c_meter = np.full(nc, -1, dtype=np.int64)
        for j in range(n_m):
            if m_on[j]:
                for i in range(m_lc_ptr[j], m_lc_ptr[j + 1]):
                    c_meter[m_lc[i]] = j
    f_e = np.empty((m, K))
    for e in range(m):
        fc = first_cell[e]
        r = r_cell[fc] if fc >= 0 else r_node[head[e]]
        for k in range(K):
            f_e[e, k] = dem_e[e, k] * r
        if e_exit[e]:
            f_e[e, L] = dem_e[e, L]
    f_g = np.empty((n_o, K))
    for o in range(n_o):
        r = r_node[origin_node[o]]
        for k in range(K):
            f_g[o, k] = dem_g[o, k] * r
    # Counter-flow swaps, where both sides of a boundary are held up (computed before the flows apply). Only the
    # live boundaries are kept (`sw_live`, `se_live`: their indices, in order), with the cells they touch.
    touched = np.zeros(nc, dtype=np.bool_)
    n_sw = sw_a.size
    sw_live = np.empty(n_sw, dtype=np.int64)
    n_swl = 0
    for i in range(n_sw):
        a, b = sw_a[i], sw_b[i]
        if send[a] - moved[a] > 0 and send[b] - moved[b] > 0:
            sw_live[n_swl] = i
            n_swl += 1
    n_se = se_edge.size
    se_live = np.empty(n_se, dtype=np.int64)
    n_sel = 0
    for i in range(n_se):
        o = se_opp[i]
        if send[o] - moved[o] > 0:
            se_live[n_sel] = i
            n_sel += 1
    t_list = np.empty(4 * n_swl + 2 * n_sel, dtype=np.int64)  # the touched cells (some more than once)
    xa = np.empty((n_swl, K))
    xb = np.empty((n_swl, K))
    for j in range(n_swl):
        i = sw_live[j]
        a, b = sw_a[i], sw_b[i]
        touched[a] = touched[a + 1] = touched[b] = touched[b + 1] = True
        t_list[4 * j], t_list[4 * j + 1], t_list[4 * j + 2], t_list[4 * j + 3] = a, a + 1, b, b + 1
        ta = 0.0
        tb = 0.0
        la, ja = flow_keys(a, c_exit, L, c_meter)
        lb, jb = flow_keys(b, c_exit, L, c_meter)
        for k in range(K):
            xa[j, k] = left_behind(cells, a, k, g_c[a], la, leave_c[a], ja, fac, frac_c[a])
            ta += xa[j, k]
            xb[j, k] = left_behind(cells, b, k, g_c[b], lb, leave_c[b], jb, fac, frac_c[b])
            tb += xb[j, k]
        squeeze(xa, xb, j, ta, tb, sw_cap[i])
    ye = np.empty((n_sel, K))
    yo = np.empty((n_sel, K))
    for j in range(n_sel):
        i = se_live[j]
        o = se_opp[i]
        touched[o] = touched[se_first[i]] = True
        t_list[4 * n_swl + 2 * j], t_list[4 * n_swl + 2 * j + 1] = o, se_first[i]
        e = se_edge[i]
        te = 0.0
        to = 0.0
        lo_, jo = flow_keys(o, c_exit, L, c_meter)
        for k in range(K):
            ye[j, k] = max(dem_e[e, k] - f_e[e, k], 0.0)
            te += ye[j, k]
            yo[j, k] = left_behind(cells, o, k, g_c[o], lo_, leave_c[o], jo, fac, frac_c[o])
            to += yo[j, k]
        squeeze(ye, yo, j, te, to, se_cap[i])
    # Apply them: what leaves one place enters the next. Nodes first (they need the cells before the step).
    tmp = np.zeros((nn, K))
    for e in range(m):
        for k in range(K):
            tmp[tail[e], k] += f_e[e, k]
    add_sums(nodes, tmp, -1.0)
    for c in last_idx:
        lc, jc = flow_keys(c, c_exit, L, c_meter)
        for k in range(K):
            tmp[c_head[c], k] += cell_flow(cells[c, k], g_c[c], k, lc, leave_c[c], jc, fac)
    add_sums(nodes, tmp, 1.0)
    for e in range(m):
        if first_cell[e] < 0:
            for k in range(K):
                tmp[head[e], k] += f_e[e, k]
    add_sums(nodes, tmp, 1.0)
    entered = 0.0
    freeflow = 0.0
    for o in range(n_o):
        for k in range(K):
            tmp[origin_node[o], k] += f_g[o, k]
            queue[o, k] -= f_g[o, k]
            entered += f_g[o, k]
            freeflow += f_g[o, k] * phi0_origin[o, k]
    add_sums(nodes, tmp, 1.0)
    # Cells, from the last to the first (so that the cell before still holds what it had): each loses its
    # outflow and gains its inflow; rounding dust below zero is cleared (no flow exceeds what its sender
    # holds), except where swaps still apply.
    apply_cells(
        cells, c_first, c_edge, c_exit, L, c_meter, touched, g_c, leave_c, fac, f_e, moved_c, need_moved, own_next,
    )  # fmt: skip
    # The swaps: each side hands its share over the boundary (the people on either side stay as many).
    add_rows(cells, sw_live, n_swl, sw_a, 0, xa, -1.0)
    add_rows(cells, sw_live, n_swl, sw_a, 1, xa, 1.0)
    add_rows(cells, sw_live, n_swl, sw_b, 0, xb, -1.0)
    add_rows(cells, sw_live, n_swl, sw_b, 1, xb, 1.0)
    add_rows(cells, se_live, n_sel, se_first, 0, ye, 1.0)
    add_rows(cells, se_live, n_sel, se_opp, 0, yo, -1.0)
    for j in range(n_sel):
        for k in range(K):
            tmp[se_node[se_live[j]], k] += yo[j, k] - ye[j, k]
    add_sums(nodes, tmp, 1.0)
    for c in t_list:  # clearing (and counting) is the same however often a cell is met
        s = 0.0
        for k in range(K):
            x = max(cells[c, k], 0.0)
            cells[c, k] = x
            s += x
        own_next[c] = s
    in_cells = 0.0
    for c in range(nc):
        in_cells += own_next[c]
    released, served, departed = absorb(
        nodes, k_step, hold, due, dwell_pmf, pmf_lo, pmf_hi, dwell_at, held, target_node, open_exits, phi0_leave,
        release_cap, dwelling, L, pend, pend_at,
    )  # fmt: skip
    walking = 0.0
    for n in range(nn):
        for k in range(K):
            walking += nodes[n, k]
    return entered, freeflow, released, served, departed, walking + in_cells


@numba.njit(cache=True, error_model="numpy", inline="always")
def spread_four(row, pend, i, b, k, s, e, pmf, lo, hi):
    """Add cohorts `b` to `b + 3` of target `i` (arrived at steps `k` to `k + 3`) to `row[s:e]`, each entry getting
    them in that order, as four passes would; one pass reads and writes the row. A cohort of nobody adds 0.0,
    which leaves an entry as it is (`due` is never -0.0), so none is skipped."""
    g0, g1, g2, g3 = pend[i, b], pend[i, b + 1], pend[i, b + 2], pend[i, b + 3]
    u0, u1 = max(s, k + lo), min(e, k + 3 + hi)  # where any of the four adds
    a, z = max(s, k + 3 + lo), min(e, k + hi)  # where all four add
    if z <= a:
        a = z = u1
    for x in range(u0, a):  # the edges, entry by entry, in the cohorts' order
        for q in range(4):
            if k + q + lo <= x < k + q + hi:
                row[x] += pend[i, b + q] * pmf[x - k - q]
    at, n = np.uint64(a), np.uint64(max(z - a, 0))
    o0 = np.uint64(a - k)
    for j in range(np.uint64(0), n):
        r = row[at + j]
        r += g0 * pmf[o0 + j]
        r += g1 * pmf[o0 + j - np.uint64(1)]
        r += g2 * pmf[o0 + j - np.uint64(2)]
        r += g3 * pmf[o0 + j - np.uint64(3)]
        row[at + j] = r
    for x in range(max(z, u0), u1):
        for q in range(4):
            if k + q + lo <= x < k + q + hi:
                row[x] += pend[i, b + q] * pmf[x - k - q]


@numba.njit(cache=True, error_model="numpy")
def spread(due, pend, pend_at, pmf, lo, hi):
    """Spread the cohorts kept in `pend` (one column a step, from step `pend_at[1]`, `pend_at[0]` of them) over the
    steps they are due to leave at, in the dwell distribution's shares, and empty `pend`.

    Each entry of `due` gets the cohorts' shares in the order of their steps, as if each had been spread at its
    own step (the same sums to the last bit); but `due` is gone over once a chunk at a time, not once a step."""
    n_pend, k_first = pend_at[0], pend_at[1]
    n_col = due.shape[1]
    x0, x1 = k_first + lo, min(k_first + n_pend - 1 + hi, n_col)
    for i in range(due.shape[0]):
        row = due[i]
        for s in range(x0, x1, SPREAD_CHUNK):
            e = min(s + SPREAD_CHUNK, x1)
            four = n_pend - n_pend % 4
            for b in range(0, four, 4):  # four cohorts in one pass over the chunk
                spread_four(row, pend, i, b, k_first + b, s, e, pmf, lo, hi)
            for b in range(four, n_pend):
                got = pend[i, b]
                if got == 0.0:
                    continue
                k = k_first + b
                a, z = max(s, k + lo), min(e, k + hi)
                # Unsigned indices: no wrap-around for negative ones to check, so that the loop vectorises.
                at, off = np.uint64(a), np.uint64(a - k)
                for j in range(np.uint64(0), np.uint64(max(z - a, 0))):
                    row[at + j] += got * pmf[off + j]
        for b in range(n_pend):
            pend[i, b] = 0.0
    pend_at[0] = 0


@numba.njit(cache=True, error_model="numpy")
def absorb(
    nodes, k_step, hold, due, pmf, lo, hi, dwell_at, held, target_node, open_exits, phi0_leave, release_cap,
    dwelling, L, pend, pend_at,
):  # fmt: skip
    """Arrivals at their viewing area start to dwell; leavers at an open exit are gone; dwell ends (where a hold
    is in force, for no more than `release_cap` a step: the rest wait on).

    Each step's arrivals leave over the coming steps, in the dwell distribution's shares (`due`). Nobody leaves
    sooner than `lo` steps after arriving, so with room in `pend` (no more than `lo` columns) they are kept there
    and spread together (`spread`) when it is full; with none (`pend` has no columns), at once.

    Returns (free-flow seconds of those who stop dwelling, served, departed); `dwelling` is refilled."""
    n_t = target_node.size
    served = 0.0
    kept = pend.shape[1] > 0
    if kept and pend_at[0] == 0:
        pend_at[1] = k_step
    for i in range(n_t):
        got = nodes[target_node[i], i]
        nodes[target_node[i], i] = 0.0
        dwell_at[i] += got
        served += got
        if kept:
            pend[i, pend_at[0]] = got
        elif got != 0.0:  # the cohort leaves over the coming steps, in the dwell distribution's shares
            row = due[i, k_step + lo : k_step + hi]
            share = pmf[lo:hi]
            for j in range(row.size):
                row[j] += got * share[j]
    if kept:
        pend_at[0] += 1
        if pend_at[0] == pend.shape[1]:
            spread(due, pend, pend_at, pmf, lo, hi)
    departed = 0.0
    for x in open_exits:
        departed += nodes[x, L]
        nodes[x, L] = 0.0
    released = 0.0
    if hold[k_step]:
        for i in range(n_t):
            held[i] += due[i, k_step]
    else:
        for i in range(n_t):
            free = min(due[i, k_step] + held[i], dwell_at[i])
            r = min(free, release_cap[i])
            held[i] = free - r
            dwell_at[i] -= r
            nodes[target_node[i], L] += r
            released += r * phi0_leave[i]
    dwelling[:] = 0.0
    for i in range(n_t):
        dwelling[target_node[i]] += dwell_at[i]
    return released, served, departed


@numba.njit(cache=True, error_model="numpy")
def watch_step(
    own, cells, nodes, dwelling, c_twin, inv_area, node_area, canon_cells, canon_starts, levels, hysteresis,
    kpi_levels, over, place_level, place_peak, peak, dt, place_rho, changed, old_level,
    stall, crit, stall_speed, stall_hold, every, canon_two_way, cell_len, moved_c, stall_run, stalled,
    started, ended, fwd, bwd,
    meter_on, m_go_ptr, m_go, m_ci_ptr, m_ci, queue, rho_crit,
):  # fmt: skip
    """Densities after a step (`own`: each cell's people), against the thresholds and KPI levels; stalls when
    `stall`; meter queues.

    Fills `place_rho` (nodes, then canonical edges), `changed` and `old_level` (the places whose level
    changed, their level before; `place_level` holds the new ones), and with `stall`: `started`, `ended`,
    `fwd`, `bwd`. Returns (both, rho, the new peak place or -1, changes, stalls started, stalls ended,
    edges stalled now, people held back by meters).
    """
    both, rho = both_ways(own, c_twin, inv_area)
    nn, K = nodes.shape
    n_e = canon_starts.size
    n_cc = canon_cells.size
    node_tot = np.empty(nn)
    for n in range(nn):
        s = 0.0
        for k in range(K):
            s += nodes[n, k]
        node_tot[n] = s + dwelling[n]
        place_rho[n] = node_tot[n] / node_area[n]
    for p in range(n_e):
        stop = canon_starts[p + 1] if p + 1 < n_e else n_cc
        r = rho[canon_cells[canon_starts[p]]]
        for i in range(canon_starts[p] + 1, stop):
            r = max(r, rho[canon_cells[i]])
        place_rho[nn + p] = r
    n_p = place_rho.size
    top = 0
    for p in range(n_p):
        place_peak[p] = max(place_peak[p], place_rho[p])
        if place_rho[p] > place_rho[top]:
            top = p
    new_peak = -1
    if n_p and place_rho[top] > peak + 1e-12:
        new_peak = top
    # Person-seconds at places denser than each KPI level (two levels: one pass for both, each sum in its order).
    if kpi_levels.size == 2:
        lv0, lv1 = kpi_levels[0], kpi_levels[1]
        # (Adding 0.0 where a place is not over leaves a sum as it is: no branches to mispredict.)
        s10 = s11 = 0.0
        for n in range(nn):
            s10 += node_tot[n] if place_rho[n] > lv0 else 0.0
            s11 += node_tot[n] if place_rho[n] > lv1 else 0.0
        s20 = s21 = 0.0
        for i in range(n_cc):
            c = canon_cells[i]
            s20 += both[c] if rho[c] > lv0 else 0.0
            s21 += both[c] if rho[c] > lv1 else 0.0
        over[0] += (s10 + s20) * dt
        over[1] += (s11 + s21) * dt
    else:
        for j in range(kpi_levels.size):
            s1 = 0.0
            for n in range(nn):
                if place_rho[n] > kpi_levels[j]:
                    s1 += node_tot[n]
            s2 = 0.0
            for i in range(n_cc):
                c = canon_cells[i]
                if rho[c] > kpi_levels[j]:
                    s2 += both[c]
            over[j] += (s1 + s2) * dt
    # Threshold levels: up at a crossing, down only past the hysteresis.
    n_changed = 0
    for p in range(n_p):
        up = 0
        keep = 0
        for j in range(levels.size):
            if place_rho[p] >= levels[j]:
                up += 1
            if place_rho[p] + hysteresis >= levels[j]:
                keep += 1
        old = place_level[p]
        new = up if up > old else (keep if keep < old else old)
        if new != old:
            changed[n_changed] = p
            old_level[n_changed] = old
            place_level[p] = new
            n_changed += 1
    n_started = n_ended = n_now = 0
    if stall:
        for p in range(n_e):
            lo = canon_starts[p]
            hi = canon_starts[p + 1] if p + 1 < n_e else n_cc
            f = 0.0
            total = 0.0
            mv = 0.0
            for i in range(lo, hi):
                c = canon_cells[i]
                f += own[c]
                total += both[c]
                mc = moved_c[c] + (moved_c[c_twin[c]] if c_twin[c] >= 0 else 0.0)
                mv += mc * cell_len[c]
            speed = mv / (total * dt) if total > 0 else np.inf
            b = total - f
            fwd[p] = f
            bwd[p] = b
            now = (place_rho[nn + p] >= crit) and (min(f, b) >= max(1.0, 0.1 * total)) and (speed < stall_speed)
            now = now and canon_two_way[p]
            stall_run[p] = stall_run[p] + every if now else 0.0
            if now:
                n_now += 1
            if stall_run[p] >= stall_hold and not stalled[p]:
                started[n_started] = p
                n_started += 1
            if not now and stalled[p]:
                ended[n_ended] = p
                n_ended += 1
            stalled[p] = (stalled[p] or stall_run[p] >= stall_hold) if now else False
    q = 0.0
    if meter_on:
        for j in range(m_go_ptr.size - 1):
            s = 0.0
            for i in range(m_go_ptr[j], m_go_ptr[j + 1]):
                for k in range(K):
                    s += queue[m_go[i], k]
            q += s
            s = 0.0
            for i in range(m_ci_ptr[j], m_ci_ptr[j + 1]):
                c = m_ci[i]
                if rho[c] >= rho_crit:
                    for k in range(K):
                        s += cells[c, k]
            q += s
    return both, rho, new_peak, n_changed, n_started, n_ended, n_now, q


@numba.njit(cache=True, error_model="numpy")
def shortest_times(phi, fixed, times, head, tail_nodes, tail_starts):
    """Seconds from every node to each class's target, in place (`CrowdModel.potentials`' rule).

    `phi` holds 0 at the targets (`fixed`) and inf elsewhere; every other node takes, class by class, the
    least `times[e] + phi[head[e]]` over its out-edges, until nothing changes (label correcting, in place).
    The result is the least fixed point of those equations, the same numbers the NumPy reference's Jacobi
    sweeps reach, whatever the order of the updates."""
    n_seg = tail_nodes.size
    n_edges = times.size
    K = phi.shape[1]
    for _ in range(phi.shape[0] + 1):
        changed = False
        for s in range(n_seg):
            node = tail_nodes[s]
            end = tail_starts[s + 1] if s + 1 < n_seg else n_edges
            for k in range(K):
                if fixed[node, k]:
                    continue
                best = phi[node, k]
                for e in range(tail_starts[s], end):
                    c = times[e] + phi[head[e], k]
                    if c < best:
                        best = c
                if best < phi[node, k]:
                    phi[node, k] = best
                    changed = True
        if not changed:
            break
    return phi


# ---------------------------------------------------------------------------------- many steps at once
#
# `run_steps` runs the steps due before anything else in the run happens (the next SimPy event): each step's
# arrivals (their counts drawn beforehand, in NumPy, from the same stream in the same order), `flow_step`,
# those who leave on arrival, `watch_step` and what the watch does with it (threshold levels, crushes, stalls,
# meter queues), and the holding areas' head-counts. Its sums of NumPy arrays are NumPy's (`np_sum`: pairwise, as
# `ndarray.sum` adds a contiguous run), so that a run gives the same numbers to the last bit as the step by step
# path in `simulation.crowd`. What the event log is to say is left in `ev_i`/`ev_f` for Python to write.

# the kinds of event record `run_steps` leaves (`ev_i[:, 0]`), in the order the step by step path logs them
EV_DENSITY, EV_CRUSH_OVER, EV_CRUSH, EV_STALL, EV_MOVING = 0, 1, 2, 3, 4
# the run's tallies (`tally`), added to one by one in the order the step by step path adds them
(T_ENTERED, T_TOLD_AWAY, T_REFUSED, T_ENTERED_NETWORK, T_FREEFLOW, T_SERVED, T_DEPARTED, T_WALK, T_MAX_QUEUE,
 T_STATION_PEAK, T_MAX_METER, T_METER_WAIT, T_STALLED, T_CRUSH_S, T_CRUSHES, T_PEAK, T_PEAK_T, T_PEAK_AT,
 T_BREACHES, T_CROSSED) = range(20)  # fmt: skip
N_TALLY = T_CROSSED + 3  # the crossings of the warning, critical and crush levels last


@numba.njit(cache=True, error_model="numpy")
def block_sum(a, lo, n):
    """`a[lo:lo + n].sum()` for n <= 128, as NumPy adds it (eight partial sums a block, then the rest)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True, error_model="numpy")
def np_sum(a, lo, n):
    """`a[lo:lo + n].sum()` as NumPy adds a contiguous run of float64: blocks of at most 128 (`block_sum`), halved
    (at a multiple of 8) and added pairwise above that. Written without recursion (Numba's cache does not keep
    recursive functions safely): a stack of the halves still to add."""
    if n <= 128:
        return block_sum(a, lo, n)
    depth = 64
    los = np.empty(depth, dtype=np.int64)
    ns = np.empty(depth, dtype=np.int64)
    left = np.empty(depth)  # the left half's sum, once known
    state = np.zeros(depth, dtype=np.int64)  # 0: split it; 1: its left half is being summed; 2: its right half
    top = 0
    los[0] = lo
    ns[0] = n
    while True:
        if state[top] == 0 and ns[top] > 128:
            half = ns[top] // 2
            half -= half % 8
            state[top] = 1
            los[top + 1] = los[top]
            ns[top + 1] = half
            state[top + 1] = 0
            top += 1
            continue
        v = block_sum(a, los[top], ns[top]) if state[top] == 0 else left[top]
        # hand `v` up: a left half waits for its right half; a right half completes its parent
        while True:
            if top == 0:
                return v
            top -= 1
            if state[top] == 1:
                left[top] = v
                state[top] = 2
                half = ns[top] // 2
                half -= half % 8
                los[top + 1] = los[top] + half
                ns[top + 1] = ns[top] - half
                state[top + 1] = 0
                top += 1
                break
            v = left[top] + v


@numba.njit(cache=True, error_model="numpy")
def row_sums(arr, rows):
    """`arr[rows].sum(axis=1)`."""
    out = np.empty(rows.size)
    for i in range(rows.size):
        out[i] = np_sum(arr[rows[i]], 0, arr.shape[1])
    return out


@numba.njit(cache=True, error_model="numpy")
def np_densities(cells, twinned, twin_of, inv_area):
    """`simulation.crowd.step.densities` to the last bit (each row summed as NumPy sums it), for the routes and
    the sampler: per cell its own people, both directions' people, and their density."""
    nc, K = cells.shape
    own = np.empty(nc)
    flat = cells.ravel()  # one view, not one a row
    for c in range(nc):
        own[c] = block_sum(flat, c * K, K) if K <= 128 else np_sum(flat, c * K, K)
    both = own.copy()
    for i in range(twinned.size):
        both[twinned[i]] += own[twin_of[i]]
    return own, both, both * inv_area


@numba.njit(cache=True, error_model="numpy")
def run_steps(
    n_run, k0, t_steps, arrive, counts, redirect, told, any_told, hold_node, hold_cap, split, holding_in,
    holding_now, arrived_at, phi0_nodes, station_idx, leave_at, tally, levels_at, every_stall, stall_every,
    crush_ppm2, crush_hold_s, crushed, crush_run, ev_i, ev_f,
    cells, nodes, queue, dwelling, own_out, both_out, rho_out, moved,
    fd, dt, L,
    c_edge, c_first, c_last, c_head, c_twin, last_idx, c_exit, c_factor_w, area_c,
    P, tail, head, first_cell, cap_e, e_exit,
    node_area, node_width, node_closed, origin_node, phi0_origin, cap_g,
    press_c, press_n,
    m_rate, m_lc_ptr, m_lc, m_de_ptr, m_de, m_go_ptr, m_go,
    sw_a, sw_b, sw_cap, se_edge, se_first, se_opp, se_node, se_cap,
    moved_c,
    hold, due, dwell_pmf, pmf_lo, pmf_hi, dwell_at, held, target_node, open_exits, phi0_leave, release_cap,
    inv_area, canon_cells, canon_starts, hysteresis, kpi_levels, over, place_level, place_peak, place_rho,
    changed, old_level, crit, stall_speed, stall_hold, canon_two_way, cell_len, stall_run, stalled,
    started, ended, fwd, bwd, meter_on, m_ho_ptr, m_ho, m_ci_ptr, m_ci, rho_crit,
):  # fmt: skip
    """Run up to `n_run` steps from step `k0` (see above); returns the steps run and the event records left.

    Stops early, after a whole step, when the event buffers might not hold the next step's records. `t_steps[j]`
    is the time step `k0 + j` ends at; `arrive[j]` says whether it has arrivals (`counts[j]`, per origin, before
    any redirect, announcement or room)."""
    n_o = hold_node.size
    K = nodes.shape[1]
    n_p = place_rho.size
    own, both, rho = own_out.copy(), both_out.copy(), rho_out.copy()  # the densities before each step
    n_e = canon_starts.size
    n_ev = 0
    room_needed = 2 * n_p + 2 * n_e + 2
    crush = levels_at.size
    n_crushing = 0  # places at the crush level
    for p in range(n_p):
        if place_level[p] >= crush:
            n_crushing += 1
    # Each step's arrivals at their viewing areas are kept for up to `PEND_MAX` steps (no more than the shortest
    # dwell) and spread over the steps they leave at together (`absorb`, `spread`): the same sums.
    pend = np.zeros((target_node.size, min(pmf_lo, PEND_MAX) if pmf_lo >= 2 else 0))
    pend_at = np.zeros(2, dtype=np.int64)
    ran = 0
    for j in range(n_run):
        if n_ev + room_needed > ev_i.shape[0]:
            break
        k = k0 + j
        # The step's arrivals join the holding areas before their origins while they have room.
        if arrive[j]:
            c = counts[j].copy()
            if redirect.size:
                r = np.zeros(n_o)
                for i in range(n_o):
                    r[redirect[i]] += c[i]
                c = r
            for i in range(n_o):
                arrived_at[i] += c[i]
            tally[T_ENTERED] += np_sum(c, 0, n_o)
            if any_told:
                back = c * told
                tally[T_TOLD_AWAY] += np_sum(back, 0, n_o)
                c = c - back
            now = row_sums(nodes, hold_node)
            admitted = np.empty(n_o)
            gap = np.empty(n_o)
            for i in range(n_o):
                admitted[i] = min(c[i], max(hold_cap[i] - now[i], 0.0))
                gap[i] = c[i] - admitted[i]
            tally[T_REFUSED] += np_sum(gap, 0, n_o)
            ff = np.empty(n_o * K)
            for i in range(n_o):
                h = hold_node[i]
                for kk in range(K):
                    x = admitted[i] * split[i, kk]
                    nodes[h, kk] += x
                    ff[i * K + kk] = x * phi0_nodes[h, kk]
                holding_in[i, k] += admitted[i]
            tally[T_ENTERED_NETWORK] += np_sum(admitted, 0, n_o)
            tally[T_FREEFLOW] += np_sum(ff, 0, n_o * K)
        # The flows (what each cell sent is wanted only for the stall check after the step).
        need_moved = every_stall and (k + 1) % stall_every == 0
        own_next = np.empty(own.size)
        entered, ff_in, ff_out, served, departed, inside = flow_step(
            cells, nodes, queue, dwelling, own, both, rho,
            fd, dt, L,
            c_edge, c_first, c_last, c_head, c_twin, last_idx, c_exit, c_factor_w, area_c,
            P, tail, head, first_cell, cap_e, e_exit,
            node_area, node_width, node_closed, origin_node, phi0_origin, cap_g,
            press_c, press_n,
            m_rate, m_lc_ptr, m_lc, m_de_ptr, m_de, m_go_ptr, m_go,
            sw_a, sw_b, sw_cap, se_edge, se_first, se_opp, se_node, se_cap,
            moved, moved_c, own_next,
            k, hold, due, dwell_pmf, pmf_lo, pmf_hi, dwell_at, held, target_node, open_exits, phi0_leave,
            release_cap, pend, pend_at, need_moved,
        )  # fmt: skip
        tally[T_ENTERED_NETWORK] += entered
        tally[T_FREEFLOW] += ff_in
        tally[T_SERVED] += served
        tally[T_DEPARTED] += departed
        tally[T_FREEFLOW] += ff_out
        tally[T_WALK] += inside * dt
        k += 1  # steps done
        t = t_steps[j]
        # Those who reached a destination that is an exit are gone.
        if leave_at.size:
            g = np.empty(leave_at.size)
            anyone = False
            for i in range(leave_at.size):
                g[i] = dwell_at[leave_at[i]]
                anyone = anyone or g[i] != 0.0
            if anyone:
                tally[T_DEPARTED] += np_sum(g, 0, g.size)
                for i in range(leave_at.size):
                    x = leave_at[i]
                    dwell_at[x] = 0.0
                    due[x, :] = 0.0
                    pend[x, :] = 0.0
                    held[x] = 0.0
                dwelling[:] = 0.0
                for i in range(target_node.size):
                    dwelling[target_node[i]] += dwell_at[i]
        # The watch: densities against the thresholds and KPI levels, stalls, meter queues.
        stall = every_stall and k % stall_every == 0
        every = stall_every * dt
        b2, r2, top, n_changed, n_started, n_ended, n_now, q = watch_step(
            own_next, cells, nodes, dwelling, c_twin, inv_area, node_area, canon_cells, canon_starts, levels_at,
            hysteresis, kpi_levels, over, place_level, place_peak, tally[T_PEAK], dt, place_rho, changed,
            old_level, stall, crit, stall_speed, stall_hold, every, canon_two_way, cell_len, moved_c, stall_run,
            stalled, started, ended, fwd, bwd, meter_on, m_ho_ptr, m_ho, m_ci_ptr, m_ci, nodes, rho_crit,
        )  # fmt: skip
        own, both, rho = own_next, b2, r2  # the densities after the step, for the next
        if top >= 0:
            tally[T_PEAK] = place_rho[top]
            tally[T_PEAK_T] = t
            tally[T_PEAK_AT] = top
        if n_changed:
            tally[T_BREACHES] += 1
            for i in range(n_changed):
                p = changed[i]
                for lv in range(old_level[i] + 1, place_level[p] + 1):
                    tally[T_CROSSED + lv - 1] += 1
            for p in range(n_p):
                if place_level[p] < crush and (crushed[p] or crush_run[p] > 0):
                    if crushed[p]:
                        ev_i[n_ev, 0] = EV_CRUSH_OVER
                        ev_i[n_ev, 1] = p
                        ev_f[n_ev, 0] = t
                        ev_f[n_ev, 1] = place_rho[p]
                        n_ev += 1
                    crushed[p] = False
                    crush_run[p] = 0.0
            n_crushing = 0
            for p in range(n_p):
                if place_level[p] >= crush:
                    n_crushing += 1
        # Crushes: a place held at or above the crush density for `crush_hold_s`, logged once.
        if n_crushing:
            n_crushed = 0
            for p in range(n_p):
                if place_level[p] >= crush:
                    crush_run[p] = crush_run[p] + dt if place_rho[p] >= crush_ppm2 else 0.0
                    if crushed[p]:
                        n_crushed += 1
            tally[T_CRUSH_S] += float(n_crushed) * dt
            for p in range(n_p):
                if place_level[p] >= crush and crush_run[p] >= crush_hold_s - 1e-9 and not crushed[p]:
                    crushed[p] = True
                    tally[T_CRUSHES] += 1
                    ev_i[n_ev, 0] = EV_CRUSH
                    ev_i[n_ev, 1] = p
                    ev_f[n_ev, 0] = t
                    ev_f[n_ev, 1] = place_rho[p]
                    ev_f[n_ev, 2] = crush_run[p]
                    n_ev += 1
        if stall:
            tally[T_STALLED] += float(n_now) * every
            nn = nodes.shape[0]
            for i in range(n_started):
                p = started[i]
                ev_i[n_ev, 0] = EV_STALL
                ev_i[n_ev, 1] = p
                ev_f[n_ev, 0] = t
                ev_f[n_ev, 1] = place_rho[nn + p]
                ev_f[n_ev, 2] = fwd[p]
                ev_f[n_ev, 3] = bwd[p]
                n_ev += 1
            for i in range(n_ended):
                ev_i[n_ev, 0] = EV_MOVING
                ev_i[n_ev, 1] = ended[i]
                ev_f[n_ev, 0] = t
                n_ev += 1
        if meter_on:
            tally[T_MAX_METER] = max(tally[T_MAX_METER], q)
            tally[T_METER_WAIT] += q * dt
        for i in range(n_changed):  # the crossings, as the threshold watcher logs them after the step
            p = changed[i]
            ev_i[n_ev, 0] = EV_DENSITY
            ev_i[n_ev, 1] = p
            ev_i[n_ev, 2] = old_level[i]
            ev_i[n_ev, 3] = place_level[p]
            ev_f[n_ev, 0] = t
            ev_f[n_ev, 1] = place_rho[p]
            n_ev += 1
        # The holding areas after the step.
        now = row_sums(nodes, hold_node)
        tally[T_WALK] -= np_sum(now, 0, n_o) * dt
        for i in range(n_o):
            holding_now[i, k] = now[i]
            holding_in[i, k] = holding_in[i, k - 1]
        total = np_sum(now, 0, n_o)
        if station_idx.size:
            st = np.empty(station_idx.size)
            for i in range(station_idx.size):
                st[i] = now[station_idx[i]]
            tally[T_STATION_PEAK] = max(tally[T_STATION_PEAK], np_sum(st, 0, st.size))
        if total > tally[T_MAX_QUEUE]:
            tally[T_MAX_QUEUE] = total
        ran += 1
    if pend_at[0]:
        spread(due, pend, pend_at, dwell_pmf, pmf_lo, pmf_hi)
    own_out[:] = own
    both_out[:] = both
    rho_out[:] = rho
    return ran, n_ev
