"""The mass-testing model agrees with queueing theory at a single site.

One site, Poisson arrivals, a fixed number of testers present all the time: with exponential swabs it is
M/M/c, checked against Erlang C (mean wait, probability of waiting, and the waiting-time tail, which tells FIFO
from other disciplines); with deterministic swabs it is M/D/c, checked against Allen–Cunneen. Warm-up: the
first hour is discarded (testers reach the site after about 3 minutes; the queue relaxes within tens of
minutes at these loads), and so is the last hour, whose arrivals may still be queueing at the horizon.
"""

from __future__ import annotations

import numpy as np
import pytest

from scenarios import load_scenario
from simulation.mass_testing import simulate
from simulation.theory import allen_cunneen_wait, erlang_c, mmc_mean_wait, mmc_wait_tail

WARM_UP_S = 3600.0


def waits(path, *, servers, rate_per_h, swab, horizon_s, replications, seed=0):
    """Waits (s) of visitors arriving after warm-up and an hour before the horizon, over replications."""
    overrides = [
        f"testing.sites[0].booths={servers}",
        f"resources.testers.local.count={servers}",
        f"resources.testers.local.group_size={servers}",
        f"resources.testers.local.shift_s={horizon_s}",
        f"population.zones[0].arrivals.periods[0].rate_per_h={rate_per_h}",
        f"testing.swab_time={swab}",
        f"clock.horizon_s={horizon_s}",
    ]
    scenario = load_scenario(path, overrides=overrides)
    per_rep = []
    for r in range(replications):
        rec = simulate(scenario, seed=seed + r).records
        keep = (rec["at_site_s"] > WARM_UP_S) & (rec["at_site_s"] < horizon_s - 3600)
        w = rec["swab_start_s"][keep] - rec["at_site_s"][keep]
        assert np.isfinite(w).all()
        per_rep.append(w)
    return per_rep


def test_erlang_c_matches_known_values():
    """Erlang C reproduces textbook values (c=2, a=1: 1/3; c=1: rho)."""
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert mmc_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)  # M/M/1: rho / (mu - lambda)


@pytest.mark.slow
def test_mmc_at_utilisation_080_matches_erlang_c(one_site_mmc):
    """At utilisation 0.8 (c=8) the mean wait is within 8% of Erlang C, P(wait) within 0.02, tails agree."""
    lam, mu, c = 384 / 3600, 1 / 60, 8
    reps = waits(one_site_mmc, servers=c, rate_per_h=384, swab="{dist: exponential, mean_s: 60}",
                 horizon_s=80_000, replications=30)  # fmt: skip
    w = np.concatenate(reps)
    assert w.mean() == pytest.approx(mmc_mean_wait(c, lam, mu), rel=0.08)
    assert (w > 1e-9).mean() == pytest.approx(erlang_c(c, lam / mu), abs=0.02)
    for t in (15.0, 60.0, 120.0):
        assert (w > t).mean() == pytest.approx(mmc_wait_tail(c, lam, mu, t), abs=0.02)


@pytest.mark.slow
def test_mmc_at_utilisation_095_matches_erlang_c(one_site_mmc):
    """At utilisation 0.95 (c=10) the mean wait is within 10% of Erlang C and P(wait) within 0.02."""
    lam, mu, c = 570 / 3600, 1 / 60, 10
    reps = waits(one_site_mmc, servers=c, rate_per_h=570, swab="{dist: exponential, mean_s: 60}",
                 horizon_s=200_000, replications=40, seed=100)  # fmt: skip
    w = np.concatenate(reps)
    assert w.mean() == pytest.approx(mmc_mean_wait(c, lam, mu), rel=0.10)
    assert (w > 1e-9).mean() == pytest.approx(erlang_c(c, lam / mu), abs=0.02)
    assert (w > 300).mean() == pytest.approx(mmc_wait_tail(c, lam, mu, 300.0), abs=0.02)


@pytest.mark.slow
def test_mdc_at_high_utilisation_matches_allen_cunneen(one_site_mmc):
    """With deterministic swabs at utilisation 0.9 (c=8) the mean wait is within 15% of Allen–Cunneen."""
    lam, mu, c = 432 / 3600, 1 / 60, 8
    reps = waits(one_site_mmc, servers=c, rate_per_h=432, swab="{dist: deterministic, value_s: 60}",
                 horizon_s=100_000, replications=30, seed=200)  # fmt: skip
    w = np.concatenate(reps)
    assert w.mean() == pytest.approx(allen_cunneen_wait(c, lam, mu, ca2=1.0, cs2=0.0), rel=0.15)


def test_fewer_testers_wait_longer(one_site_mmc):
    """Taking one tester away from an M/M/8 site at utilisation 0.8 lengthens the mean wait."""
    kw = dict(rate_per_h=384, swab="{dist: exponential, mean_s: 60}", horizon_s=20_000, replications=3)
    eight = np.concatenate(waits(one_site_mmc, servers=8, **kw)).mean()
    seven = np.concatenate(waits(one_site_mmc, servers=7, **kw)).mean()
    assert seven > eight * 1.5
