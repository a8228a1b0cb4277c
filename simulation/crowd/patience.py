"""How held people behave: who waits in each holding area, in the order they came, and who gives up.

Opt-in from the scenario (`patience`, `scenarios.schema.Patience`); without it nobody gives up, as before.

People admitted to a holding area in a step form a cohort (per origin, per step). Those who go in through the
entrance leave the area first in, first out: those who have pushed on first (they have waited longest), then the
oldest cohorts. After each step, a cohort that has waited `a` steps loses the share of it whose patience runs
out in that step: the hazard `h[a] = P(patience in ((a-1)·dt, a·dt]) / P(patience > (a-1)·dt)`, from a fixed
sample of the scenario's patience distribution (the run's `patience` stream). Of those whose patience runs out,
the scenario's shares go to another viewing area outside the modelled site (`diverted`, gone), go home
(`went_home`, gone), or push on (`pushed_on`): they stay where they are, press on, and never give up again.

People moved into an area by anything else (a closed entrance's waiting crowd sent to the nearest open one)
join it as a cohort of the step they were moved in. The books balance at every step: the people in an area are
its cohorts plus those pushing on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scenarios.schema import Patience
    from simulation.crowd.model import CrowdModel

PATIENCE_SAMPLES = 100_000


def hazard(patience: Patience, rng: np.random.Generator, dt: float, n_steps: int) -> np.ndarray:
    """`h[a]`: the share of those still waiting after `a - 1` steps whose patience runs out in step `a` (`h[0]`
    is 0: nobody gives up before they have waited a step; the last entry is 1)."""
    draws = np.asarray(patience.wait.sample(rng, PATIENCE_SAMPLES), dtype=float)
    steps = np.clip(np.ceil(draws / dt - 1e-9).astype(np.int64), 1, n_steps + 1)
    pmf = np.bincount(steps, minlength=int(steps.max()) + 1).astype(float)
    still = np.cumsum(pmf[::-1])[::-1]  # still[a]: draws of a or more steps
    return np.divide(pmf, still, out=np.zeros_like(pmf), where=still > 0)


class Waiting:
    """The cohorts in each holding area and the tallies of those who gave up (see the module docstring)."""

    def __init__(self, model: CrowdModel, patience: Patience):
        self.m = model
        self.p = patience
        n_o = len(model.origins)
        self.h = hazard(patience, model.rng["patience"], model.dt, model.n_steps)
        self.cohort = np.zeros((n_o, model.n_steps + 2))  # people admitted in each step, still waiting
        self.pressing = np.zeros(n_o)  # people whose patience ran out and who pushed on
        self.oldest = 0  # no cohort before this step's still has anybody, in any holding area
        self.total = np.zeros(n_o)  # cohorts plus those pushing on, per origin
        self.diverted = 0.0
        self.went_home = 0.0
        self.pushed_on = 0.0

    def admit(self, step: int, admitted: np.ndarray) -> None:
        """People who joined the holding areas in `step` (their arrivals at its start)."""
        self.cohort[:, step] += admitted
        self.total += admitted

    def after_step(self) -> None:
        """Take those who went in off the front of each area's queue; those whose patience ran out give up.

        All holding areas at once, over the steps since the oldest cohort anybody is still waiting from."""
        m = self.m
        k = m.step_no  # steps done: a cohort of step j has waited k - j steps
        nodes, rows = m.n_nodes_arr, m.holding_node
        now = nodes[rows].sum(axis=1)
        gone_in = self.total - now
        moved = gone_in < 0  # moved in from elsewhere (a closed entrance's area): a cohort of the last step
        if moved.any():
            self.cohort[moved, max(k - 1, 0)] -= gone_in[moved]
        gone_in = np.maximum(gone_in, 0.0)
        first = np.minimum(self.pressing, gone_in)  # those pushing on go in first
        self.pressing -= first
        rest = gone_in - first
        self.total = now
        lo = self.oldest
        win = self.cohort[:, lo:k]  # a view: changed in place
        if not win.shape[1]:
            return
        front = np.flatnonzero(rest > 0)
        if front.size:  # then the oldest cohorts: what remains of each is what the running total leaves
            left = np.maximum(np.cumsum(win[front], axis=1) - rest[front, None], 0.0)
            win[front] = np.diff(left, axis=1, prepend=0.0)
        ages = np.minimum(k - np.arange(lo, k), self.h.size - 1)
        quit_ = win * self.h[ages]
        n_quit = quit_.sum(axis=1)
        win -= quit_
        live = np.flatnonzero(win.any(axis=0))
        self.oldest = lo + (int(live[0]) if live.size else k - lo)
        if not n_quit.any():
            return
        p = self.p
        self.pressing += n_quit * p.push_on
        self.pushed_on += float(n_quit.sum()) * p.push_on
        self.diverted += float(n_quit.sum()) * p.other_area
        self.went_home += float(n_quit.sum()) * p.home
        leave = n_quit * (p.other_area + p.home)
        share = np.divide(leave, now, out=np.zeros_like(now), where=now > 0)
        gone = nodes[rows] * np.minimum(share, 1.0)[:, None]
        nodes[rows] -= gone
        m.freeflow_s -= float((gone * m.routes.phi0_nodes[rows]).sum())  # they will not walk there
        self.total = now - leave


__all__ = ["PATIENCE_SAMPLES", "Waiting", "hazard"]
