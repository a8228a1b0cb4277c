"""What a crowd run tells: thresholds watched after every step, the KPIs, the series, the events, the state.

- Thresholds (the scenario's warning, critical and crush densities) are watched at every node and every
  edge; each crossing upwards (and each clearing, with a hysteresis of `HYSTERESIS_PPM2`) is written to the event
  log after the step's other entries and counted by the KPIs. An edge at critical density
  with both directions present moving slower than `STALL_SPEED_MPS` for `STALL_HOLD_S` is logged as stalled.
- The sampler's series every minute (`state_now`): density at every node (for the map), people on site,
  dwelling and walking, the entry queue, served, departed, the peak density now, people over 4 /m²; the same
  names are what an inject's condition reads (`readings`).
- The state a re-plan starts from (`crowd_state`: `scenarios.crowd.CrowdState`), and the run's result.

KPIs: `peak_on_site` (the most people at once, read each minute, in the scenario's `count_area`: a record's
counting boundary; when `peak_on_site_min`) beside `peak_on_graph` (the same on the whole graph, those waiting to
come in apart), `peak_density_ppm2` (where and when: the `peak_density` event and `peak_density_min`),
`minutes_over_4ppm2` and `minutes_over_5ppm2` (person-minutes at places denser than 4 and 5 /m²),
`max_metering_queue` (people held back by meters in force: origin queues and congested cells feeding a
metered node), `mean_extra_walk_min` (walking time beyond the free-flow shortest time, per visitor who came
in), `staff_utilisation` (share of posted staff-minutes whose zone had a control in force or a place at the
warning density), `visitors_served` (reached a viewing area); and more (`visitors`, `departed`,
`turned_away`, `stalled_edge_min`, the crossing counts, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scenarios.crowd import CrowdState
from scenarios.plan import HoldArea, MeterFlow
from simulation.core import Breach, RunStats, SimResult, event_breaches
from simulation.crowd.step import densities

if TYPE_CHECKING:
    from simulation.crowd.model import CrowdModel

SAMPLE_EVERY_S = 60.0
HYSTERESIS_PPM2 = 0.2  # a place is back below a threshold once it is this far under it
STALL_SPEED_MPS = 0.1  # a two-way edge at critical density moving slower than this is stalled
STALL_HOLD_S = 30.0
STALL_CHECK_S = 5.0
KPI_LEVELS = (4.0, 5.0)  # the person-minute KPIs are named after these densities
EVENT_ROWS = 4096  # event records the many-steps kernel may leave a call (it stops early, after a step, when short)
LEVEL_NAMES = ("clear", "warning", "critical", "crush")


class Watch:
    """Densities after each step against the thresholds, the KPI integrals, stalls and queues behind meters."""

    def __init__(self, model: CrowdModel):
        self.m = model
        lay = model.lay
        n_places, n_canon = len(lay.place_names), lay.canon_edges.size
        self.place_level = np.zeros(n_places, dtype=np.int64)  # 0 clear, 1 warning, 2 critical, 3 crush
        self.place_peak = np.zeros(n_places)
        self.peak = (0.0, 0.0, "")  # density, time, place
        self.over = np.zeros(len(KPI_LEVELS))  # person-seconds above 4 and 5 /m²
        self.crossings = dict.fromkeys(LEVEL_NAMES[1:], 0)
        self.stall_run = np.zeros(n_canon)  # seconds each edge has been stalling
        self.stall_every = max(1, round(STALL_CHECK_S / model.dt))
        self.stalled = np.zeros(n_canon, dtype=bool)
        self.stalled_s = 0.0
        self.max_meter_queue = 0.0
        self.meter_wait_person_s = 0.0
        self.staff_posted_s = 0.0
        self.staff_busy_s = 0.0
        # what the compiled watch fills in
        self.place_rho = np.zeros(n_places)
        self.level_changed = np.zeros(n_places, dtype=np.int64)
        self.level_old = np.zeros(n_places, dtype=np.int64)
        self.stall_started = np.zeros(n_canon, dtype=np.int64)
        self.stall_ended = np.zeros(n_canon, dtype=np.int64)
        self.stall_fwd = np.zeros(n_canon)
        self.stall_bwd = np.zeros(n_canon)
        # what the many-steps kernel leaves for the event log (`simulation.crowd.batch`)
        self.ev_i = np.zeros((max(EVENT_ROWS, 4 * (n_places + n_canon) + 8), 4), dtype=np.int64)
        self.ev_f = np.zeros((self.ev_i.shape[0], 4))
        th = model.s.thresholds
        self.level_values = np.array([th.warning_ppm2, th.critical_ppm2, th.crush_ppm2])
        self.kpi_levels = np.array(KPI_LEVELS)
        # crushes: places at the crush level (watched each step), how long each has been at or above the crush
        # density, and whether its crush has been logged
        self.crushing = np.zeros(0, dtype=np.int64)
        self.crush_run = np.zeros(n_places)
        self.crushed = np.zeros(n_places, dtype=bool)
        self.crushes = 0
        self.crush_s = 0.0  # place-seconds in a crush (from the moment it is one)
        # the most people at once, read each minute: on the graph (come in), and in the scenario's `count_area`
        self.peak_on_graph = 0.0
        self.peak_on_site = (0.0, 0.0)  # people, time

    def count(self, t: float, now: dict[str, float]) -> None:
        """The minute's head-counts against the most so far (the sampler's readings `now`)."""
        self.peak_on_graph = max(self.peak_on_graph, now["on_site"])
        if now["on_site_counted"] > self.peak_on_site[0]:
            self.peak_on_site = (now["on_site_counted"], t)

    def after_numpy(self, t: float, f_c: np.ndarray) -> None:
        """After the NumPy step (`f_c`: the cells' flows)."""
        m = self.m
        net, lay, dt = m.net, m.lay, m.dt
        own, both, rho = m.post = densities(m)
        m.rho_c = rho
        node_tot = m.node_people()
        rho_n = node_tot / net.node_area
        cc = lay.canon_cells
        rho_e = np.maximum.reduceat(rho[cc], lay.canon_starts) if cc.size else np.zeros(0)
        place_rho = np.concatenate([rho_n, rho_e])
        np.maximum(self.place_peak, place_rho, out=self.place_peak)
        top = int(np.argmax(place_rho)) if place_rho.size else 0
        if place_rho.size and place_rho[top] > self.peak[0] + 1e-12:
            self.peak = (float(place_rho[top]), t, lay.place_names[top])
        for i, level in enumerate(KPI_LEVELS):
            self.over[i] += (node_tot[rho_n > level].sum() + both[cc][rho[cc] > level].sum()) * dt
        crossed = self._levels(t, place_rho)
        if self.crushing.size:
            self._crush(t, place_rho)
        if lay.stall_edges.size and cc.size and m.step_no % self.stall_every == 0:
            self._stalls(t, own, both, rho, f_c, rho_e)
        if m.ctl.meters:
            q = self._meter_queue(rho)
            self.max_meter_queue = max(self.max_meter_queue, q)
            self.meter_wait_person_s += q * dt
        self.log_crossings(t, crossed)

    def after_compiled(self, t: float, own: np.ndarray) -> None:
        """`after_numpy` by the compiled kernel; the event log and the peak's name are written here."""
        m = self.m
        ck, net, lay, ctl, dt = m.kernels, m.net, m.lay, m.ctl, m.dt
        assert ck is not None
        stall = bool(lay.stall_edges.size and lay.canon_cells.size and m.step_no % self.stall_every == 0)
        every = self.stall_every * dt
        both, rho, top, n_changed, n_started, n_ended, n_now, q = ck.watch_step(
            own, m.n_cells_arr, m.n_nodes_arr, m.dwelling, net.cell_twin, m.geo.inv_area, net.node_area,
            lay.canon_cells, lay.canon_starts, self.level_values, HYSTERESIS_PPM2,
            self.kpi_levels, self.over, self.place_level, self.place_peak, self.peak[0], dt, self.place_rho,
            self.level_changed, self.level_old,
            stall, m.s.thresholds.critical_ppm2, STALL_SPEED_MPS, STALL_HOLD_S, every, lay.canon_two_way,
            net.cell_len, m.moved_c, self.stall_run, self.stalled,
            self.stall_started, self.stall_ended, self.stall_fwd, self.stall_bwd,
            bool(ctl.meters), *ctl.m_ho, *ctl.m_ci, m.n_nodes_arr, m.rho_crit,
        )  # fmt: skip
        m.post = (own, both, rho)
        m.rho_c = rho
        place_rho = self.place_rho
        if top >= 0:
            self.peak = (float(place_rho[top]), t, lay.place_names[top])
        crossed: list[tuple[int, int, int, float]] = []
        if n_changed:
            changed = self.level_changed[:n_changed]
            crossed = self._level_events(t, changed, self.level_old[:n_changed], self.place_level[changed], place_rho)
        if self.crushing.size:
            self._crush(t, place_rho)
        if stall:
            self.stalled_s += float(n_now) * every
            rho_e = place_rho[net.n_nodes :]
            self._stall_events(t, self.stall_started[:n_started], self.stall_ended[:n_ended], rho_e,
                               self.stall_fwd, self.stall_bwd)  # fmt: skip
        if ctl.meters:
            self.max_meter_queue = max(self.max_meter_queue, q)
            self.meter_wait_person_s += q * dt
        self.log_crossings(t, crossed)

    def _levels(self, t: float, place_rho: np.ndarray) -> list[tuple[int, int, int, float]]:
        th = self.m.s.thresholds
        levels = np.array([th.warning_ppm2, th.critical_ppm2, th.crush_ppm2])
        up = (place_rho[:, None] >= levels[None, :]).sum(axis=1)
        keep = ((place_rho[:, None] + HYSTERESIS_PPM2) >= levels[None, :]).sum(axis=1)
        old = self.place_level
        new = np.where(up > old, up, np.where(keep < old, keep, old))
        changed = np.flatnonzero(new != old)
        if not changed.size:
            return []
        self.place_level = new
        return self._level_events(t, changed, old[changed], new[changed], place_rho)

    def _level_events(self, t: float, changed: np.ndarray, old: np.ndarray, new: np.ndarray,
                      place_rho: np.ndarray) -> list[tuple[int, int, int, float]]:  # fmt: skip
        """Count the crossings of the places whose level changed and return them (place, level before, level now,
        density) for the log, which writes them after the step's other events (as a watcher process did)."""
        out = []
        for p, was, lvl in zip(changed.tolist(), old.tolist(), new.tolist(), strict=True):
            if lvl > was:
                for j in range(was + 1, lvl + 1):
                    self.crossings[LEVEL_NAMES[j]] += 1
            out.append((p, was, lvl, float(place_rho[p])))
        self.m.moments += 1  # the watcher process's wake-up, once a SimPy event
        crush = len(LEVEL_NAMES) - 1
        self.crushing = np.flatnonzero(self.place_level >= crush)
        left = np.flatnonzero((self.place_level < crush) & (self.crushed | (self.crush_run > 0)))
        for p in left.tolist():
            if self.crushed[p]:
                self.log_crush_over(t, p, float(place_rho[p]))
        self.crushed[left] = False
        self.crush_run[left] = 0.0
        return out

    # ---------------------------------------------------------------------------------- the event log

    def log_crossings(self, t: float, crossed: list[tuple[int, int, int, float]]) -> None:
        """Places that crossed a threshold (`_level_events`' records), up or back down."""
        for p, was, lvl, rho in crossed:
            place, level, rising = self.m.lay.place_names[p], LEVEL_NAMES[lvl], lvl > was
            kind = f"density_{level}" if rising else f"density_down_{level}"
            text = (f"{place}: {rho:.2f} /m² reaches {level}" if rising
                    else f"{place}: {rho:.2f} /m², back to {level}")  # fmt: skip
            self.m.rec.event(t, kind, text, place=place, density=round(rho, 3))

    def log_crush_over(self, t: float, p: int, rho: float) -> None:
        name = self.m.lay.place_names[p]
        self.m.rec.event(t, "crush_over", f"{name}: the crush eases ({rho:.2f} /m²)", place=name)

    def log_crush(self, t: float, p: int, rho: float, run_s: float) -> None:
        m = self.m
        th, name = m.s.thresholds, m.lay.place_names[p]
        m.rec.event(t, "crush", f"crush at {name}: {rho:.2f} /m² for {run_s:.0f} s "
                    f"(at or above {th.crush_ppm2:g} /m² since {m.s.clock.label(t - run_s)})",
                    place=name, density=round(rho, 3), since_s=round(t - run_s, 3))  # fmt: skip

    def log_stall(self, t: float, p: int, rho: float, fwd: float, bwd: float) -> None:
        net = self.m.net
        u, v = net.edges[self.m.lay.canon_edges[p]]
        self.m.rec.event(t, "counterflow_stalled", f"counter-flow stalled on {u} - {v} "
                         f"({rho:.2f} /m², {fwd:.0f} one way and {bwd:.0f} the other)",
                         u=u, v=v, density=round(rho, 3))  # fmt: skip

    def log_moving(self, t: float, p: int) -> None:
        net = self.m.net
        u, v = net.edges[self.m.lay.canon_edges[p]]
        self.m.rec.event(t, "counterflow_moving", f"{u} - {v} moving again", u=u, v=v)

    def _crush(self, t: float, place_rho: np.ndarray) -> None:
        """Places at the crush level: a crush once one has stayed at or above the crush density for the
        scenario's `crush_hold_s` (logged once, until it is back under the crush level)."""
        m = self.m
        th = m.s.thresholds
        p = self.crushing
        at = place_rho[p] >= th.crush_ppm2
        self.crush_run[p] = np.where(at, self.crush_run[p] + m.dt, 0.0)
        self.crush_s += float(self.crushed[p].sum()) * m.dt
        for q in p[(self.crush_run[p] >= th.crush_hold_s - 1e-9) & ~self.crushed[p]].tolist():
            self.crushed[q] = True
            self.crushes += 1
            self.log_crush(t, q, float(place_rho[q]), float(self.crush_run[q]))

    def _stalls(self, t: float, own: np.ndarray, both: np.ndarray, rho: np.ndarray, f_c: np.ndarray,
                rho_e: np.ndarray) -> None:  # fmt: skip
        """Two-way edges at critical density where both directions are present and nobody gets anywhere."""
        m = self.m
        net, lay = m.net, m.lay
        cc, starts = lay.canon_cells, lay.canon_starts
        moved_c = f_c.sum(axis=1)
        tw = lay.twin_safe[cc]
        moved = (moved_c[cc] + np.where(lay.has_twin[cc], moved_c[tw], 0.0)) * net.cell_len[cc]
        fwd = np.add.reduceat(own[cc], starts)
        total = np.add.reduceat(both[cc], starts)
        speed = np.divide(np.add.reduceat(moved, starts), total * m.dt, out=np.full(total.shape, np.inf),
                          where=total > 0)  # fmt: skip
        bwd = total - fwd
        crit = m.s.thresholds.critical_ppm2
        now = (rho_e >= crit) & (np.minimum(fwd, bwd) >= np.maximum(1.0, 0.1 * total)) & (speed < STALL_SPEED_MPS)
        now &= net.twin[lay.canon_edges] >= 0
        every = self.stall_every * m.dt
        self.stall_run = np.where(now, self.stall_run + every, 0.0)
        self.stalled_s += float(now.sum()) * every
        started = np.flatnonzero((self.stall_run >= STALL_HOLD_S) & ~self.stalled)
        ended = np.flatnonzero(~now & self.stalled)
        self._stall_events(t, started, ended, rho_e, fwd, bwd)
        self.stalled = np.where(now, self.stalled | (self.stall_run >= STALL_HOLD_S), False)

    def _stall_events(self, t: float, started: np.ndarray, ended: np.ndarray, rho_e: np.ndarray, fwd: np.ndarray,
                      bwd: np.ndarray) -> None:  # fmt: skip
        """Log the edges where counter-flow has just stalled, and those moving again."""
        for p in started.tolist():
            self.log_stall(t, p, float(rho_e[p]), float(fwd[p]), float(bwd[p]))
        for p in ended.tolist():
            self.log_moving(t, p)

    def _meter_queue(self, rho: np.ndarray) -> float:
        """People held back by meters: origin queues at metered origins, and congested cells feeding a meter."""
        m, ctl = self.m, self.m.ctl
        total = 0.0
        for node in ctl.meters:
            total += float(m.n_nodes_arr[ctl.holding_at[node]].sum())
            cells = ctl.cells_into[node]
            if cells.size:
                jammed = cells[rho[cells] >= m.fd.critical_density]
                total += float(m.n_cells_arr[jammed].sum())
        return total


def staff_minute(m: CrowdModel, place_rho: np.ndarray) -> None:
    """A posted team is busy this minute if its zone has a control in force or a place at warning."""
    warn = m.s.thresholds.warning_ppm2
    net, ctl, watch = m.net, m.ctl, m.watch
    hot = {net.nodes[i] for i in np.flatnonzero(place_rho[: net.n_nodes] >= warn)}
    for p in np.flatnonzero(place_rho[net.n_nodes :] >= warn):
        u, v = net.edges[m.lay.canon_edges[p]]
        hot |= {u, v}
    controlled: set[str] = set()
    for c in ctl.controls:
        if c.enforced:
            a = c.action
            controlled |= {a.node} if isinstance(a, MeterFlow | HoldArea) else {a.u, a.v}
    for node, count in ctl.posted.values():
        zone = ctl.reach(node)
        watch.staff_posted_s += count * SAMPLE_EVERY_S
        if zone & (hot | controlled):
            watch.staff_busy_s += count * SAMPLE_EVERY_S


def state_now(m: CrowdModel) -> tuple[dict[str, float], np.ndarray]:
    """The sampler's series now, and the density of every place (nodes, then physical edges)."""
    net, lay = m.net, m.lay
    own, both, rho = densities(m)
    node_tot = m.node_people()
    rho_n = node_tot / net.node_area
    cc = lay.canon_cells
    rho_e = np.maximum.reduceat(rho[cc], lay.canon_starts) if cc.size else np.zeros(0)
    place_rho = np.concatenate([rho_n, rho_e])
    edge_max = np.zeros(net.n_nodes)
    np.maximum.at(edge_max, lay.inc_node, place_rho[lay.inc_place])
    shown = np.where(lay.given_area, rho_n, np.maximum(rho_n, edge_max))
    hold = set(m.holding_node.tolist())
    out = {f"density:{name}": round(float(shown[i]), 4) for i, name in enumerate(net.nodes) if i not in hold}
    for o, i in zip(m.origins, m.holding_node.tolist(), strict=True):  # holding areas: by their origin
        out[f"waiting_density:{o}"] = round(float(rho_n[i]), 4)
    dwelling = float(m.dwell_at.sum())
    waiting = float(node_tot[m.holding_node].sum())  # in the holding areas, not yet in
    on_site = float(node_tot.sum() + own.sum()) - waiting
    counted = on_site if m.count_nodes is None else float(node_tot[m.count_nodes].sum() + own[m.count_cells].sum())
    people_over = node_tot[rho_n > KPI_LEVELS[0]].sum() + both[cc][rho[cc] > KPI_LEVELS[0]].sum()
    out.update({
        "on_site": on_site,
        "on_site_counted": counted,
        "dwelling": dwelling,
        "walking": on_site - dwelling,
        "entry_queue": waiting,
        "served": m.served,
        "departed": m.departed,
        "peak_density_now": float(place_rho.max()) if place_rho.size else 0.0,
        "people_over_4ppm2": float(people_over),
    })  # fmt: skip
    return out, place_rho


def readings(m: CrowdModel) -> dict[str, float]:
    """The state now, by series name: what the sampler records and what an inject's condition may read."""
    return state_now(m)[0]


def people(m: CrowdModel) -> dict[str, float]:
    """Where everybody is: waiting in the holding areas (on the graph), walking or dwelling inside, gone (left by
    an exit, or turned away from a full holding area before they came in); off the graph (none, by construction:
    `held_off_graph`); and how many came."""
    waiting = float(m.n_nodes_arr[m.holding_node].sum())
    on_graph = float(m.n_nodes_arr.sum() + m.n_cells_arr.sum() + m.dwell_at.sum())
    w = m.waiting
    return {
        "queued": waiting,
        "in_stations": float(m.n_nodes_arr[m.holding_node[m.station_idx]].sum()),  # of those queued
        "inside": on_graph - waiting,
        "departed": m.departed,
        "refused": m.refused + m.told_away,
        "diverted": m.rode_on + (w.diverted if w is not None else 0.0),
        "went_home": w.went_home if w is not None else 0.0,
        "off_graph": float(m.queue.sum()),
        "entered": m.entered,
    }


def held_off_graph(m: CrowdModel) -> float:
    """People who came and are neither on the graph nor gone: those who came less those on the graph (waiting,
    in the stations among them), those who left by an exit, those turned away before they came in (a full holding
    area or station, an announcement) and those who gave up waiting or rode on past skipped stations (another
    viewing area, home) (0 to rounding: nobody waits off the graph)."""
    p = people(m)
    return p["entered"] - p["queued"] - p["inside"] - p["departed"] - p["refused"] - p["diverted"] - p["went_home"]


def waits_min(m: CrowdModel) -> tuple[np.ndarray, np.ndarray]:
    """Minutes people admitted to a holding area waited there (first in, first out), at 200 evenly spaced
    quantiles of each area's admissions, and how many people each stands for. Those still waiting at the end
    count with their wait so far; those who gave up waiting (the scenario's `patience`) count as leaving the front
    of the queue when they did."""
    k = m.step_no
    none = (np.zeros(0), np.zeros(0))
    if k == 0:
        return none
    times = np.arange(k + 1) * m.dt
    waits, weights = [], []
    for o in range(len(m.origins)):
        cum_in = m.holding_in[o, : k + 1]  # admitted by the arrivals of each step (at its start)
        total = float(cum_in[-1])
        if total <= 1e-9:
            continue
        cum_out = np.concatenate([[0.0], cum_in[:-1] - m.holding_now[o, 1 : k + 1]])  # gone in by each time
        cum_out = np.maximum.accumulate(np.clip(cum_out, 0.0, None))
        n = (np.arange(200) + 0.5) / 200 * total
        t_in = np.interp(n, cum_in, times)
        t_out = np.where(n <= cum_out[-1], np.interp(n, cum_out, times), times[-1])
        waits.append(np.maximum(t_out - t_in, 0.0) / 60)
        weights.append(np.full(n.size, total / n.size))
    if not waits:
        return none
    return np.concatenate(waits), np.concatenate(weights)


def p95_wait_min(m: CrowdModel) -> float:
    """The 95th percentile of the minutes people waited in a holding area before they came in."""
    w, weight = waits_min(m)
    if not w.size:
        return 0.0
    order = np.argsort(w)
    cum = np.cumsum(weight[order])
    return float(w[order][np.searchsorted(cum, 0.95 * cum[-1])])


def crowd_state(m: CrowdModel, fired: frozenset[int]) -> CrowdState:
    """Where the people are now (see `scenarios.crowd.CrowdState`), after the steps run so far."""
    names = m.targets
    waiting = m.n_nodes_arr[m.holding_node]  # per origin and class: in the holding area, not yet in
    walking = m.n_nodes_arr.sum(axis=0) + m.n_cells_arr.sum(axis=0) - waiting.sum(axis=0)  # per class

    def per_minute(people: np.ndarray, after_s: np.ndarray) -> tuple[float, ...]:
        bins = np.bincount((after_s // 60).astype(np.int64), weights=people) if people.size else people
        last = int(np.flatnonzero(bins > 1e-6)[-1]) + 1 if (bins > 1e-6).any() else 0
        return tuple(float(x) for x in bins[:last])

    due, arriving = {}, {}
    phi0_nodes, phi0_cells = m.routes.phi0_nodes, m.routes.phi0_cells
    for i, name in enumerate(names):
        future = m.due[i, m.step_no :].copy()
        if future.size:
            future[0] += m.held[i]  # held by a show: due as soon as it lets them go
        total = float(future.sum())
        if total > 0:
            future *= float(m.dwell_at[i]) / total  # exactly those present
        due[name] = per_minute(future, np.arange(future.size) * m.dt)
        # Those walking there, by when they would arrive at free walking speed.
        at_nodes = m.n_nodes_arr[:, i].copy()
        at_nodes[m.holding_node] = 0.0  # those waiting to come in are `outside`
        people = np.concatenate([at_nodes, m.n_cells_arr[:, i]])
        eta = np.concatenate([phi0_nodes[:, i], phi0_cells[:, i]])
        arriving[name] = per_minute(people[people > 0], eta[people > 0])
    posted: dict[tuple[str, str], int] = {}
    for key, (node, count) in m.ctl.posted.items():
        pool = m.plan.actions[key].pool  # type: ignore[union-attr]
        posted[(pool, node)] = posted.get((pool, node), 0) + count
    return CrowdState(
        at_s=m.step_no * m.dt,
        outside={o: float(m.queue[i].sum() + waiting[i].sum()) for i, o in enumerate(m.origins)},
        heading={t: float(walking[i]) for i, t in enumerate(names)},
        present={t: float(m.dwell_at[i]) for i, t in enumerate(names)},
        due=due, leaving=float(walking[m.LEAVE]), posted=posted, arriving=arriving, fired=fired,
    )  # fmt: skip


def result(m: CrowdModel, wall_s: float) -> SimResult:
    """The run's KPIs, series, events and statistics, as of now (logging the peak and the end)."""
    env, s, w = m.env, m.s, m.watch
    phi0_nodes, phi0_cells = m.routes.phi0_nodes, m.routes.phi0_cells
    remaining_ff = float((m.n_nodes_arr * phi0_nodes).sum() + (m.n_cells_arr * phi0_cells).sum())
    extra_s = m.walk_person_s - m.freeflow_s + remaining_ff
    peak, peak_t, peak_place = w.peak
    held_end = float(m.n_nodes_arr[m.holding_node].sum())
    kpis = {
        "peak_density_ppm2": peak,
        "minutes_over_4ppm2": w.over[0] / 60,
        "minutes_over_5ppm2": w.over[1] / 60,
        "max_metering_queue": w.max_meter_queue,
        "mean_extra_walk_min": extra_s / max(m.entered_network, 1.0) / 60,
        "staff_utilisation": w.staff_busy_s / w.staff_posted_s if w.staff_posted_s else 0.0,
        "visitors_served": m.served,
        "peak_density_min": peak_t / 60,
        "visitors": m.entered,
        "departed": m.departed,
        "on_site_end": float(m.n_nodes_arr.sum() + m.n_cells_arr.sum() + m.dwell_at.sum()) - held_end,
        "peak_on_site": w.peak_on_site[0],
        "peak_on_site_min": w.peak_on_site[1] / 60,
        "peak_on_graph": w.peak_on_graph,
        "entry_queue_end": held_end,
        "max_entry_queue": m.max_entry_queue,
        "held_off_graph": abs(held_off_graph(m)),
        "held_peak": m.max_entry_queue,
        "held_p95_wait_min": p95_wait_min(m),
        "refused_full": m.refused,
        "turned_away_by_control": m.told_away,
        "diverted": m.rode_on + (m.waiting.diverted if m.waiting is not None else 0.0),
        "went_home": m.waiting.went_home if m.waiting is not None else 0.0,
        "pushed_on": m.waiting.pushed_on if m.waiting is not None else 0.0,
        "station_skipped": m.skipped,
        "station_held_peak": m.station_peak,
        "metering_wait_person_min": w.meter_wait_person_s / 60,
        "stalled_edge_min": w.stalled_s / 60,
        "turned_away": m.turned_away,
        "warning_crossings": float(w.crossings["warning"]),
        "critical_crossings": float(w.crossings["critical"]),
        "crush_crossings": float(w.crossings["crush"]),
        "crushes": float(w.crushes),
        "crush_place_min": w.crush_s / 60,
    }
    m.rec.event(peak_t, "peak_density", f"peak density {peak:.2f} /m² at {peak_place} ({s.clock.label(peak_t)})",
                place=peak_place, density=round(peak, 3))  # fmt: skip
    m.rec.event(env.now, "end", f"{m.entered:,.0f} arrived, {m.served:,.0f} reached a viewing area, "
                f"{m.departed:,.0f} left")  # fmt: skip
    return SimResult(
        scenario=s.name,
        kind=s.kind,
        seed=m.seed,
        kpis={k: round(float(v), 6) for k, v in kpis.items()},
        series=m.rec.series(),
        events=tuple(sorted(m.rec.events, key=lambda e: e.t_s)),
        stats=RunStats(events=env.events_processed + m.moments, sim_s=float(env.now), wall_s=wall_s),
        records={"place": np.array(m.lay.place_names), "place_peak_ppm2": w.place_peak.copy()},
    )


__all__ = ["HYSTERESIS_PPM2", "KPI_LEVELS", "SAMPLE_EVERY_S", "STALL_CHECK_S", "STALL_HOLD_S", "STALL_SPEED_MPS",
           "Watch", "crowd_state", "held_off_graph", "p95_wait_min", "people", "readings", "result", "state_now",
           "waits_min"]  # fmt: skip


#: The crowd's threshold breaches: the first place to reach the critical density, and the first crush (a place
#: held at the crush density for the scenario's `crush_hold_s`) (event kind -> (breach kind, threshold)).
BREACH_EVENTS = {"density_critical": ("critical", "critical density"), "crush": ("crush", "crush")}


def breaches(scenario: Any, result: SimResult) -> list[Breach]:
    """The thresholds a crowd run crosses, as the simulation logged them."""
    return event_breaches(result, BREACH_EVENTS)


def crossings(scenario: Any, result: SimResult) -> list[Breach]:
    """Every critical-density crossing and every crush of a run, earliest first (`breaches` gives the first of
    each): the record a replay is read against (the 2014 crush's place and time)."""
    return event_breaches(result, BREACH_EVENTS, every=True)


def cautions(scenario: Any, result: SimResult) -> list[Breach]:
    """The warning density (4 /m² by default), the level a crowd plan aims to stay under: a plan whose forecast
    crosses it says so before sign-off, where and when first (it does not stop an incident's clock)."""
    return event_breaches(result, {"density_warning": ("warning", "warning density")})
