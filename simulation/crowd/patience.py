"""How held people behave: who waits in each holding area, in the order they came, and who gives up.

Opt-in from the scenario (`patience`, `scenarios.schema.Patience`); without it nobody gives up, as before.

People admitted to a holding area in a step form a cohort (per origin, per step). Those who go in through the
entrance leave the area first in, first out: those who have pushed on first (they have waited longest), then the
oldest cohorts. Every `every` steps (`PATIENCE_RESOLUTION` of the mean patience, at least one step), a cohort that
has waited `a` steps loses the share of it whose patience ran out since the last time,
`1 − S(a) / S(a − every)` with `S(a) = P(patience > a steps)`, from a fixed sample of the scenario's patience
distribution (the run's `patience` stream). Of those whose patience runs out,
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
PATIENCE_RESOLUTION = 0.01  # who gives up is settled every this share of the mean patience (at least every step)


def survival(patience: Patience, rng: np.random.Generator, dt: float, n_steps: int) -> np.ndarray:
    """`S[a]`: the share of people whose patience lasts more than `a` steps (a fixed sample of the distribution,
    each draw rounded up to whole steps, at least one; `S[0]` is 1, the last entry 0)."""
    draws = np.asarray(patience.wait.sample(rng, PATIENCE_SAMPLES), dtype=float)
    steps = np.clip(np.ceil(draws / dt - 1e-9).astype(np.int64), 1, n_steps + 1)
    counts = np.bincount(steps, minlength=int(steps.max()) + 2)
    return (steps.size - np.cumsum(counts)) / steps.size  # whole numbers over the sample: exactly 0 at the end


class Waiting:
    """The cohorts in each holding area and the tallies of those who gave up (see the module docstring)."""

    def __init__(self, model: CrowdModel, patience: Patience):
        self.m = model
        self.p = patience
        n_o = len(model.origins)
        self.S = survival(patience, model.rng["patience"], model.dt, model.n_steps)
        # Who gives up is settled every `every` steps: a cohort that has waited `a` steps then loses the share whose
        # patience ran out since the last time, 1 − S[a] / S[a − every] (exact in the totals; each gives up at
        # most `every` − 1 steps late).
        self.every = max(1, int(PATIENCE_RESOLUTION * patience.wait.mean_s / model.dt))
        self.cohort = np.zeros((n_o, model.n_steps + 2))  # people admitted in each step, still waiting
        self.pressing = np.zeros(n_o)  # people whose patience ran out and who pushed on
        self.oldest = 0  # no cohort before this step's still has anybody, in any holding area
        self.total = np.zeros(n_o)  # cohorts plus those pushing on, per origin
        self.gone_in = np.zeros(n_o)  # people who went in since the last settling (off the front, then)
        self.diverted = 0.0
        self.went_home = 0.0
        self.pushed_on = 0.0

    def admit(self, step: int, admitted: np.ndarray) -> None:
        """People who joined the holding areas in `step` (their arrivals at its start)."""
        self.cohort[:, step] += admitted
        self.total += admitted

    def after_step(self) -> None:
        """Count who went in since the last step; every `every` steps, take them off the front of each area's
        queue, and those whose patience ran out give up.

        All holding areas at once, over the steps since the oldest cohort anybody is still waiting from."""
        m = self.m
        k = m.step_no  # steps done: a cohort of step j has waited k - j steps
        nodes, rows = m.n_nodes_arr, m.holding_node
        now = nodes[rows].sum(axis=1)
        change = self.total - now
        moved = change < 0  # moved in from elsewhere (a closed entrance's area): a cohort of the last step
        if moved.any():
            self.cohort[moved, max(k - 1, 0)] -= change[moved]
        self.gone_in += np.maximum(change, 0.0)
        self.total = now
        if k % self.every:
            return
        first = np.minimum(self.pressing, self.gone_in)  # those pushing on go in first
        self.pressing -= first
        rest = self.gone_in - first
        self.gone_in[:] = 0.0
        lo = self.oldest
        win = self.cohort[:, lo:k]  # a view: changed in place
        if not win.shape[1]:
            return
        front = np.flatnonzero(rest > 0)
        if front.size:  # then the oldest cohorts: what remains of each is what the running total leaves
            left = np.maximum(np.cumsum(win[front], axis=1) - rest[front, None], 0.0)
            win[front] = np.diff(left, axis=1, prepend=0.0)
        top = self.S.size - 1
        ages = k - np.arange(lo, k)
        before = self.S[np.minimum(np.maximum(ages - self.every, 0), top)]
        share = 1.0 - np.divide(self.S[np.minimum(ages, top)], before, out=np.zeros_like(before), where=before > 0)
        quit_ = win * share
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
        out = np.divide(leave, now, out=np.zeros_like(now), where=now > 0)
        gone = nodes[rows] * np.minimum(out, 1.0)[:, None]
        nodes[rows] -= gone
        m.freeflow_s -= float((gone * m.routes.phi0_nodes[rows]).sum())  # they will not walk there
        self.total = now - leave


__all__ = ["PATIENCE_RESOLUTION", "PATIENCE_SAMPLES", "Waiting", "survival"]
