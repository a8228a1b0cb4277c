"""Many crowd steps in one compiled call (`simulation.crowd.batch`) against the same run one step at a time."""

from __future__ import annotations

import numpy as np
import pytest
from test_crowd_kernel import _controlled, _counterflow

from scenarios.loading import load_scenario, scenario_from_document
from simulation.crowd import CrowdModel
from simulation.crowd_kernel import np_densities, np_sum, row_sums


def step_by_step(model: CrowdModel) -> CrowdModel:
    """The model with a (no-op) per-step callback: it steps one at a time, as before batching."""
    model.on_step = lambda m: None
    return model


def assert_same_run(batched: CrowdModel, single: CrowdModel, until_s: float | None = None) -> None:
    """The two runs agree to the last bit: KPIs, series, event log, event count, and the state at the end."""
    a, b = batched.run(until_s), single.run(until_s)
    assert a.kpis == b.kpis
    assert a.series == b.series
    assert a.events == b.events
    assert a.stats.events == b.stats.events
    assert batched.state() == single.state()
    np.testing.assert_array_equal(a.records["place_peak_ppm2"], b.records["place_peak_ppm2"])
    assert batched.moments > single.moments  # the batched run did run steps together


def test_np_sum_adds_as_numpy_does():
    """`np_sum` gives `ndarray.sum()` to the last bit at every length (pairwise blocks of 8, halves above 128), and
    `row_sums` gives `sum(axis=1)` of the rows it picks."""
    rng = np.random.default_rng(17)
    for n in [*range(0, 300), 1000, 4196, 37_764]:
        a = rng.random(n) * 10.0 ** rng.integers(-6, 6, n)
        assert np_sum(a, 0, n) == float(a.sum()), n
        if n > 3:
            assert np_sum(a, 3, n - 3) == float(a[3:].sum()), n
    x = rng.random((40, 9)) * 10.0 ** rng.integers(-6, 6, (40, 9))
    rows = np.array([5, 0, 39, 5], dtype=np.int64)
    np.testing.assert_array_equal(row_sums(x, rows), x[rows].sum(axis=1))
    # `np_densities` (the routes' and the sampler's densities) as `simulation.crowd.step.densities` sums in NumPy.
    for k in (3, 8, 9, 17, 130):
        cells = rng.random((40, k)) * 10.0 ** rng.integers(-6, 6, (40, k))
        twinned, twin_of, inv_area = np.arange(0, 40, 2), np.arange(1, 40, 2), rng.random(40)
        own, both, rho = np_densities(cells, twinned, twin_of, inv_area)
        np.testing.assert_array_equal(own, cells.sum(axis=1))
        ref = cells.sum(axis=1)
        ref[twinned] += ref[twin_of]
        np.testing.assert_array_equal(both, ref)
        np.testing.assert_array_equal(rho, ref * inv_area)


@pytest.mark.parametrize("world", [_counterflow, _controlled])
def test_steps_together_give_the_same_run_as_one_at_a_time(tmp_path, world):
    """On small worlds with counter-flow, swaps, stalls, a crush, meters, one-way control, a closed exit and a 2 s
    step, running the steps between events together changes nothing: not a bit of a KPI, a series or the log."""
    assert_same_run(world(tmp_path, "numba"), step_by_step(world(tmp_path, "numba")))


def test_steps_together_stop_where_a_run_is_asked_to():
    """A run stopped part-way (as `state_at` does) is the same batched or not, at a time between two steps."""
    s = load_scenario("bund_light_show", overrides=["clock.horizon_s=1800"])
    assert_same_run(CrowdModel(s), step_by_step(CrowdModel(s)), until_s=1234.5)


def test_steps_together_with_a_drills_surge_and_injects():
    """The built-in metro surge drill (a surge of arrivals from its own stream, an exit closure on a condition):
    the same run batched or not, to the last bit."""
    from command.drills import read_injects

    doc = load_scenario("bund_new_year_2014").model_dump(mode="json")
    doc["clock"]["horizon_s"] = 3700  # the surge at 600 s and the conditional exit closure at 3600 s
    doc["injects"] = [i for i in [*doc.get("injects", []), *read_injects("bund_2014_metro_surge")] if i["at_s"] < 3700]
    s = scenario_from_document(doc, file="bund_2014_metro_surge")
    batched, single = CrowdModel(s), step_by_step(CrowdModel(s))
    assert_same_run(batched, single)
    assert any(e.kind == "inject" for e in batched.rec.events)
