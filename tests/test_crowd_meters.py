"""The plan's meters against the flow LP they come from: a run of periods metered at one rate lets in as many
as the LP does over the run, and never drifts far from it within the run."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.crowd import CrowdOptions, CrowdWeights, FlowProblem, Route
from optimizer.crowd.lp import FlowSolution
from optimizer.crowd.report import METER_DRIFT_PERIODS, METER_NEAR, _meter_actions

PERIOD_S = 360.0  # the light show's LP periods: 6 minutes


def _gate(entry_per_min: list[float]) -> tuple[FlowProblem, FlowSolution]:
    """One gate O whose LP lets in `entry_per_min` people a minute in each 6-minute period while people wait
    outside throughout (so the gate is metered in every period)."""
    n = len(entry_per_min)
    route = Route(nodes=("O", "D"), walkways=(0,), offsets=(0,), lag=0, free_s=60.0)
    problem = FlowProblem(
        start_s=0.0, period_s=PERIOD_S, n_periods=n, origins=("O",), arrivals=np.zeros((1, n)),
        entrance=np.array([1e6]), split=np.array([[1.0]]), destinations=("D",), area=np.array([1e6]),
        routes_in={(0, 0): (route,)}, routes_out={0: ()}, walkways=(("D", "O"),), capacity=np.array([1e6]),
        kernel=np.array([1.0]), hold=np.zeros(n, dtype=bool), target_ppm2=2.5, critical_ppm2=5.0,
        weights=CrowdWeights(), meterable=np.ones((1, n), dtype=bool), one_ways=(),
    )  # fmt: skip
    entry = np.array([entry_per_min]) * PERIOD_S / 60
    sol = FlowSolution("OPTIMAL", 0.0, 0.0, entry=entry, queue=np.full((1, n + 1), 500.0))
    return problem, sol


def _let_in_by_period_end(actions, n: int) -> np.ndarray:
    """People the plan's meters let in by the end of each period."""
    per = np.zeros(n)
    for a in actions:
        until = a.until_s if a.until_s is not None else n * PERIOD_S
        for t in range(int(a.at_s // PERIOD_S), round(until / PERIOD_S)):
            per[t] += a.rate_per_min * PERIOD_S / 60
    return np.cumsum(per)


def test_a_run_of_close_rates_is_metered_at_its_mean_so_that_as_many_come_in_as_the_lp_lets_in():
    """90 a minute, then 100 for four periods: one run (within 15%), at 98 a minute, 2,940 in over 30 minutes as
    in the LP. At its lowest rate (90), the meter let 240 fewer in, and they waited on in the holding area."""
    problem, sol = _gate([90.0, 100.0, 100.0, 100.0, 100.0])
    (meter,) = _meter_actions(problem, sol, CrowdOptions())
    assert meter.rate_per_min == pytest.approx(98.0)
    assert meter.at_s == 0.0 and meter.until_s is None
    assert _let_in_by_period_end([meter], 5)[-1] == pytest.approx(sol.entry.sum())


def test_a_run_ends_before_its_mean_rate_drifts_a_quarter_period_from_the_lp():
    """100 a minute for four periods, then 114 for four: all within 15%, but at one rate of 107 the plan would let
    in 28 a minute x 6 minutes more than the LP by the fourth period's end, more than a quarter period's entry.
    The first seven periods go at 106 (24 a minute-period ahead at most), the last at 114."""
    problem, sol = _gate([100.0] * 4 + [114.0] * 4)
    meters = _meter_actions(problem, sol, CrowdOptions())
    assert [m.rate_per_min for m in meters] == pytest.approx([106.0, 114.0])
    assert [m.at_s for m in meters] == [0.0, 7 * PERIOD_S]


def test_meters_follow_the_lp_within_a_quarter_period_on_random_rates():
    """On 200 random sequences of LP rates, at every period's end the plan's meters have let in as many as the
    LP within a quarter of the period's entry at the run's rate (and 0.1 a minute of rounding), and as many by
    the end of each run."""
    rng = np.random.default_rng(20210701)
    for _ in range(200):
        n = int(rng.integers(1, 20))
        base = float(rng.uniform(20, 300))
        rates = list(base * (1 + rng.choice([0.0, 0.05, 0.1, 0.3], n) * rng.choice([-1, 1], n)))
        problem, sol = _gate(rates)
        meters = _meter_actions(problem, sol, CrowdOptions())
        plan = _let_in_by_period_end(meters, n)
        lp = np.cumsum(sol.entry[0])
        rounding = 0.05 * PERIOD_S / 60 * np.arange(1, n + 1)
        for m in meters:
            start = int(m.at_s // PERIOD_S)
            end = round((m.until_s if m.until_s is not None else n * PERIOD_S) / PERIOD_S)
            run = np.array(rates[start:end])
            assert run.max() - run.min() <= METER_NEAR * max(run.min(), 1.0) + 1e-9
            slack = METER_DRIFT_PERIODS * m.rate_per_min * PERIOD_S / 60 + 1.0
            gap = np.abs(plan[start:end] - lp[start:end])
            assert (gap <= slack + rounding[start:end] + 1e-6).all()
            assert abs(plan[end - 1] - lp[end - 1]) <= rounding[end - 1] + 1e-6
