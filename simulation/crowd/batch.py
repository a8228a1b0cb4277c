"""Many steps at once: the steps due before anything else in a run happens, in one compiled call.

Between two SimPy events of the other processes (the router and the sampler every minute, the controller, staff
teams, injects) nothing but the crowd's own steps happens, so `crowd_flow` runs all the steps due before the next
one in a single call of `simulation.crowd_kernel.run_steps` instead of waking once a step. The result is the same
to the last bit as stepping one at a time:

- the steps run in the same order, each seeing what the step before left; a step due at the same moment as
  another process's event still waits for it exactly as its timeout would have (`steps_ahead`);
- the arrivals' counts are drawn beforehand for the whole batch from the same stream, in the same order (a NumPy
  Poisson draw over an array draws element by element, as one draw a step would);
- the kernel adds its tallies one by one in the order the step by step path does, and sums arrays as NumPy does
  (`simulation.crowd_kernel.np_sum`);
- the event log gets the same entries in the same order (the kernel leaves records; `_log` writes them), and the
  run's event count adds the SimPy events the batch saves (`CrowdModel.moments`).

A run steps one at a time where the batch has no rule for what the step does (the NumPy reference step, an
`on_step` callback, the scenario's `patience`, stations the trains skip, a closed station people were heading for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.crowd.readout import HYSTERESIS_PPM2, STALL_HOLD_S, STALL_SPEED_MPS
from simulation.crowd.step import kernel_dwell, kernel_network

if TYPE_CHECKING:
    from simulation.crowd.model import CrowdModel


def batchable(m: CrowdModel) -> bool:
    """Whether the next steps may run as one compiled call (see the module docstring)."""
    return (m.kernels is not None and m.on_step is None and m.waiting is None and m.ctl.skip is None
            and not m.ctl.shut_stations.size)  # fmt: skip


def steps_ahead(m: CrowdModel) -> tuple[int, float]:
    """The steps due from now (this one, at least) before any other event of the run, and the delay from now to
    the step after them, as the crowd's timeouts of `dt` one after another would reach it."""
    env, dt = m.env, m.dt
    now = env.now
    limit = m.n_steps - m.step_no
    nxt = env.peek()  # the other processes' next event (nothing else runs before it)
    if nxt <= now:  # something else is still due now, after this step: it comes before the next step
        return 1, dt
    n, t = 1, now + dt
    while n < limit and t < nxt:
        n += 1
        t += dt
    delay = t - now
    if now + delay != t:  # the delay would land elsewhere than the timeouts of `dt` would: step by step
        return 1, dt
    return n, delay


def arrival_counts(m: CrowdModel, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The arrivals of the next `n` steps, per step and origin (before any redirect, announcement or room), and
    which steps have any: drawn as `simulation.crowd.processes.arrive` draws them, step after step."""
    s, dt, ctl = m.s, m.dt, m.ctl
    arrivals = s.demand.arrivals
    t = (m.step_no + np.arange(n)) * dt
    starts = np.array([p.from_s for p in arrivals.periods], dtype=float)
    per_h = np.array([p.rate_per_h for p in arrivals.periods], dtype=float)
    # `rate_at`: the rate of the period before the first one that starts after t
    after = starts[:, None] > t[None, :]
    first = np.where(after.any(axis=0), after.argmax(axis=0), starts.size)
    rate = np.where(first > 0, per_h[np.maximum(first - 1, 0)], 0.0) / 3600 * dt
    poisson = arrivals.process == "poisson"
    counts = np.zeros((n, len(m.origins)))
    go = rate > 0
    if go.any():
        mean = rate[go][:, None] * m.origin_share[None, :]
        counts[go] += m.rng["arrivals"].poisson(mean) if poisson else mean
    if ctl.surges:
        for j in range(n):
            surge = [(o, r) for o, a, b, r in ctl.surges if a <= t[j] < b]
            if not surge:
                continue
            go[j] = True
            extra = np.zeros(len(m.origins))
            for o, r in surge:
                extra[o] += r * dt
            counts[j] += m.rng["surge"].poisson(extra) if poisson else extra
    return counts, go


def run_batch(m: CrowdModel, n: int) -> None:
    """Run the next `n` steps (`steps_ahead`) in compiled calls, and write what they tell to the model."""
    ck, net, lay, geo, ctl, w, dt = m.kernels, m.net, m.lay, m.geo, m.ctl, m.watch, m.dt
    assert ck is not None
    counts, go = arrival_counts(m, n)
    cells, nodes = m.n_cells_arr, m.n_nodes_arr
    if m.post is None:
        own, both, rho = ck.densities(cells, net.cell_twin, geo.inv_area)
    else:
        own, both, rho = (a.copy() for a in m.post)
    moved = np.zeros(net.n_cells_total)
    tally = np.zeros(ck.N_TALLY)
    tally[[ck.T_ENTERED, ck.T_TOLD_AWAY, ck.T_REFUSED, ck.T_ENTERED_NETWORK, ck.T_FREEFLOW, ck.T_SERVED,
           ck.T_DEPARTED, ck.T_WALK, ck.T_MAX_QUEUE, ck.T_STATION_PEAK, ck.T_MAX_METER, ck.T_METER_WAIT,
           ck.T_STALLED, ck.T_CRUSH_S, ck.T_CRUSHES, ck.T_PEAK, ck.T_PEAK_T, ck.T_PEAK_AT]] = [
        m.entered, m.told_away, m.refused, m.entered_network, m.freeflow_s, m.served, m.departed,
        m.walk_person_s, m.max_entry_queue, m.station_peak, w.max_meter_queue, w.meter_wait_person_s,
        w.stalled_s, w.crush_s, w.crushes, w.peak[0], w.peak[1], -1]  # fmt: skip
    redirect = ctl.redirect if ctl.redirect is not None else np.zeros(0, dtype=np.int64)
    every_stall = bool(lay.stall_edges.size and lay.canon_cells.size)
    th = m.s.thresholds
    ev_i, ev_f = w.ev_i, w.ev_f
    done = 0
    while done < n:
        k0 = m.step_no + done
        t_steps = (k0 + 1 + np.arange(n - done)) * dt  # when each step ends: `step_no * dt` after it
        ran, n_ev = ck.run_steps(
            n - done, k0, t_steps, go[done:], counts[done:], redirect, ctl.told, bool(ctl.told.any()),
            m.holding_node, m.hold_cap, m.split, m.holding_in, m.holding_now, m.arrived_at, m.routes.phi0_nodes,
            m.station_idx, m.leave_at, tally, w.level_values, every_stall, int(w.stall_every), float(th.crush_ppm2),
            float(th.crush_hold_s), w.crushed, w.crush_run, ev_i, ev_f,
            cells, nodes, m.queue, m.dwelling, own, both, rho, moved, *kernel_network(m), m.moved_c, *kernel_dwell(m),
            geo.inv_area, lay.canon_cells, lay.canon_starts, HYSTERESIS_PPM2, w.kpi_levels, w.over, w.place_level,
            w.place_peak, w.place_rho, w.level_changed, w.level_old, float(th.critical_ppm2), STALL_SPEED_MPS,
            STALL_HOLD_S, lay.canon_two_way, net.cell_len, w.stall_run, w.stalled, w.stall_started,
            w.stall_ended, w.stall_fwd, w.stall_bwd, bool(ctl.meters), *ctl.m_ho, *ctl.m_ci, float(m.rho_crit),
        )  # fmt: skip
        done += ran
        m.step_no = k0 + ran
        _log(m, ev_i[:n_ev], ev_f[:n_ev])
    m.entered, m.told_away, m.refused = (float(tally[i]) for i in (ck.T_ENTERED, ck.T_TOLD_AWAY, ck.T_REFUSED))
    m.entered_network, m.freeflow_s = float(tally[ck.T_ENTERED_NETWORK]), float(tally[ck.T_FREEFLOW])
    m.served, m.departed, m.walk_person_s = (float(tally[i]) for i in (ck.T_SERVED, ck.T_DEPARTED, ck.T_WALK))
    m.max_entry_queue, m.station_peak = float(tally[ck.T_MAX_QUEUE]), float(tally[ck.T_STATION_PEAK])
    w.max_meter_queue, w.meter_wait_person_s = float(tally[ck.T_MAX_METER]), float(tally[ck.T_METER_WAIT])
    w.stalled_s, w.crush_s = float(tally[ck.T_STALLED]), float(tally[ck.T_CRUSH_S])
    w.crushes = int(tally[ck.T_CRUSHES])
    if tally[ck.T_PEAK_AT] >= 0:
        w.peak = (float(tally[ck.T_PEAK]), float(tally[ck.T_PEAK_T]), lay.place_names[int(tally[ck.T_PEAK_AT])])
    for j, name in enumerate(("warning", "critical", "crush")):
        w.crossings[name] += int(tally[ck.T_CROSSED + j])
    w.crushing = np.flatnonzero(w.place_level >= len(w.level_values))
    m.moments += int(tally[ck.T_BREACHES]) + n - 1  # the watcher's wake-ups and the steps' timeouts saved
    m.post = (own, both, rho)
    m.rho_c = rho
    m.last_flow = moved


def _log(m: CrowdModel, ev_i: np.ndarray, ev_f: np.ndarray) -> None:
    """Write the kernel's event records to the log, in their order."""
    from simulation import crowd_kernel as ck

    w = m.watch
    for (kind, p, was, lvl), (t, rho, a, b) in zip(ev_i.tolist(), ev_f.tolist(), strict=True):
        if kind == ck.EV_DENSITY:
            w.log_crossings(t, [(p, was, lvl, rho)])
        elif kind == ck.EV_CRUSH_OVER:
            w.log_crush_over(t, p, rho)
        elif kind == ck.EV_CRUSH:
            w.log_crush(t, p, rho, a)
        elif kind == ck.EV_STALL:
            w.log_stall(t, p, rho, a, b)
        else:
            w.log_moving(t, p)


__all__ = ["arrival_counts", "batchable", "run_batch", "steps_ahead"]
