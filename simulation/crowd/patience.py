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
        self.oldest = np.zeros(n_o, dtype=np.int64)  # no cohort before this one still has anybody
        self.total = np.zeros(n_o)  # cohorts plus those pushing on, per origin
        self.diverted = 0.0
        self.went_home = 0.0
        self.pushed_on = 0.0

    def admit(self, step: int, admitted: np.ndarray) -> None:
        """People who joined the holding areas in `step` (their arrivals at its start)."""
        self.cohort[:, step] += admitted
        self.total += admitted

    def after_step(self) -> None:
        """Take those who went in off the oldest cohorts; those whose patience ran out give up."""
        m = self.m
        k = m.step_no  # steps done: a cohort of step j has waited k - j steps
        nodes = m.n_nodes_arr
        now = nodes[m.holding_node].sum(axis=1)
        for o in range(len(m.origins)):
            gone_in = self.total[o] - now[o]
            if gone_in > 0:
                self._first_out(o, gone_in, k)
            elif gone_in < 0:  # moved in from elsewhere: a cohort of the last step
                self.cohort[o, max(k - 1, 0)] -= gone_in
            self.total[o] = now[o]
            lo = int(self.oldest[o])
            if lo >= k or now[o] <= 0:
                continue
            ages = np.minimum(k - np.arange(lo, k), self.h.size - 1)
            quit_ = self.cohort[o, lo:k] * self.h[ages]
            n_quit = float(quit_.sum())
            if n_quit <= 0:
                continue
            self.cohort[o, lo:k] -= quit_
            self.pressing[o] += n_quit * self.p.push_on
            leave = n_quit * (self.p.other_area + self.p.home)
            self.pushed_on += n_quit * self.p.push_on
            self.diverted += n_quit * self.p.other_area
            self.went_home += n_quit * self.p.home
            row = m.holding_node[o]
            gone = nodes[row] * min(1.0, leave / now[o])
            nodes[row] -= gone
            m.freeflow_s -= float((gone * m.routes.phi0_nodes[row]).sum())  # they will not walk there
            self.total[o] = now[o] - leave
            left = np.flatnonzero(self.cohort[o, lo:k] > 0)
            self.oldest[o] = lo + int(left[0]) if left.size else k

    def _first_out(self, o: int, n: float, k: int) -> None:
        """`n` people went in from origin `o`'s holding area: those pushing on first, then the oldest cohorts."""
        first = min(self.pressing[o], n)
        self.pressing[o] -= first
        n -= first
        lo = int(self.oldest[o])
        if n <= 0 or lo >= k:
            return
        live = self.cohort[o, lo:k]
        cum = np.cumsum(live)
        full = int(np.searchsorted(cum, n - 1e-12))  # cohorts before `full` are all gone in
        if full >= live.size:
            live[:] = 0.0
            self.oldest[o] = k
            return
        taken = n - (cum[full - 1] if full > 0 else 0.0)
        live[:full] = 0.0
        live[full] = max(live[full] - taken, 0.0)
        self.oldest[o] = lo + full

    def in_areas(self) -> np.ndarray:
        """People waiting per origin by this account (what the holding areas hold)."""
        return self.total.copy()


__all__ = ["PATIENCE_SAMPLES", "Waiting", "hazard"]
