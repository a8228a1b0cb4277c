"""The compiled crowd step (`simulation.crowd_kernel`) against the NumPy reference step, step by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of

from scenarios.loading import load_scenario
from scenarios.plan import AssignStaff, CloseExit, MeterFlow, OneWay
from simulation import crowd_kernel as ck
from simulation.crowd import KERNEL_ENV, CrowdModel

STATE = ("n_cells_arr", "n_nodes_arr", "queue", "dwell_at")


def lockstep(make) -> tuple[CrowdModel, CrowdModel]:  # type: ignore[no-untyped-def]
    """Run a NumPy and a compiled model side by side, asserting after every step that their states agree."""
    ref, fast = make("numpy"), make("numba")
    ref.setup()
    fast.setup()
    for k in range(1, ref.n_steps + 1):
        until = (k - 0.5) * ref.dt  # just after the k-th step (steps are at 0, dt, 2 dt, ...)
        ref.env.run(until=until)
        fast.env.run(until=until)
        assert fast.step_no == ref.step_no == k
        for name in STATE:
            np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=1e-9, atol=1e-9,
                                       err_msg=f"{name} after step {k}")  # fmt: skip
    return ref, fast


def same_results(ref: CrowdModel, fast: CrowdModel) -> None:
    """Finish both runs; the KPIs agree to 1e-9 and the event logs are identical."""
    horizon = ref.s.clock.horizon_s
    ref.env.run(until=horizon)
    fast.env.run(until=horizon)
    a, b = ref.result(0.0), fast.result(0.0)
    assert b.kpis == pytest.approx(a.kpis, rel=1e-9, abs=1e-9)
    assert b.events == a.events
    np.testing.assert_allclose(b.records["place_peak_ppm2"], a.records["place_peak_ppm2"], rtol=1e-9, atol=1e-12)


def _counterflow(tmp: Path, kernel: str) -> CrowdModel:
    """Two crowds cross in a short corridor between two entrances, where a pushing crowd is pressed to 8 /m²:
    counter-flow, swaps, a stall, crossings."""
    nodes = [("a", "entrance", 0, 0, 0), ("b", "entrance", 30, 0, 0), ("va", "viewing_area", 0, 20, 300),
             ("vb", "viewing_area", 30, 20, 300), ("x", "exit", 15, -20, 0)]  # fmt: skip
    edges = [("a", "b", 30, 3.0), ("a", "va", 20, 6.0), ("b", "vb", 20, 6.0), ("a", "x", 30, 2.0),
             ("va", "vb", 200, 1.0, "stair")]  # fmt: skip
    s = crowd_scenario(tmp, nodes, edges, origins={"a": 0.5, "b": 0.5}, destinations={"va": 0.5, "vb": 0.5},
                       exits=["x"], rate_per_h=40_000, horizon_s=600,
                       dwell={"dist": "lognormal", "mean_s": 120, "sd_s": 60},
                       shows=[{"start_s": 200, "duration_s": 120, "attraction": 1}],
                       crush={"places": {"a": 8.0, "b": 8.0}},
                       thresholds={"crush_ppm2": 6.0, "crush_hold_s": 20})  # fmt: skip
    model = CrowdModel(s, plan_of(s), dt=1.0, kernel=kernel)
    # Everyone at `a` heads for `vb` and everyone at `b` for `va`: the corridor carries both directions.
    model.base_split[0] = model.split[0] = np.array([0.0, 1.0, 0.0])
    model.base_split[1] = model.split[1] = np.array([1.0, 0.0, 0.0])
    return model


def _controlled(tmp: Path, kernel: str) -> CrowdModel:
    """Metering at an origin and mid-way, a one-way street, an exit closed for a while, a door, SFPE walking."""
    nodes = [("o", "entrance", 0, 0, 0), ("m", "junction", 40, 0, 0), ("d", "junction", 40.5, 0, 0),
             ("v", "viewing_area", 100, 0, 400), ("x", "exit", 0, -30, 0), ("y", "exit", 100, -30, 0)]  # fmt: skip
    edges = [("o", "m", 40, 4.0), ("m", "d", 0.5, 1.5), ("d", "v", 60, 4.0), ("o", "x", 30, 3.0),
             ("v", "y", 30, 3.0), ("m", "x", 50, 2.0)]  # fmt: skip
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x", "y"],
                       rate_per_h=30_000, horizon_s=500, dwell={"dist": "lognormal", "mean_s": 60, "sd_s": 30},
                       staff={"gate": {"count": 20, "base": "o"}, "mid": {"count": 10, "base": "m"}},
                       walking={"fundamental_diagram": "sfpe", "step_s": 2.0},
                       thresholds={"warning_ppm2": 2.5, "critical_ppm2": 3.0, "crush_ppm2": 3.7})  # fmt: skip
    plan = plan_of(s, AssignStaff(at_s=0, pool="gate", to="o", count=20),
                   AssignStaff(at_s=0, pool="mid", to="m", count=10),
                   MeterFlow(at_s=30, node="o", rate_per_min=200.0), MeterFlow(at_s=60, node="v", rate_per_min=60.0),
                   OneWay(at_s=100, u="d", v="m", until_s=300), CloseExit(at_s=150, node="y", until_s=350))  # fmt: skip
    return CrowdModel(s, plan, kernel=kernel)


@pytest.mark.parametrize("world", [_counterflow, _controlled])
def test_compiled_step_agrees_with_numpy_on_small_worlds(tmp_path, world):
    """On small worlds with counter-flow, metering, one-way control and a closed exit, the compiled step keeps
    the same state as the NumPy step at every step, and the same KPIs and event log."""
    ref, fast = lockstep(lambda kernel: world(tmp_path, kernel))
    same_results(ref, fast)
    assert ref.people()["entered"] > 0


def test_small_worlds_exercise_what_the_kernels_compute(tmp_path):
    """The small worlds above do reach the kernels' special cases: swaps, stalls, meters, crossings, a pressed crowd."""
    cf, _ = lockstep(lambda kernel: _counterflow(tmp_path, kernel))
    same_results(cf, _)
    kinds = {e.kind for e in cf.rec.events}
    assert {"density_warning", "counterflow_stalled", "crush"} <= kinds
    ctl = _controlled(tmp_path, "numba")
    result = ctl.run()
    assert result.kpis["max_metering_queue"] > 0
    assert {e.kind for e in result.events} >= {"control", "exit"}


def test_compiled_step_agrees_with_numpy_on_bund_new_year_2014():
    """The built-in Bund New Year's Eve scenario (first 15 minutes): the same state at every step, the same
    KPIs and event log with either step."""
    s = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=900"])
    ref, fast = lockstep(lambda kernel: CrowdModel(s, kernel=kernel))
    same_results(ref, fast)
    assert ref.entered > 0


def test_compiled_runs_repeat_exactly(tmp_path):
    """The same seed gives the same results, to the last bit, run after run."""
    a = _counterflow(tmp_path, "numba").run()
    b = _counterflow(tmp_path, "numba").run()
    assert a.kpis == b.kpis and a.events == b.events


def test_kernel_is_chosen_by_argument_or_environment(tmp_path, monkeypatch):
    """`kernel=` picks the step; without it `YIWANG_CROWD_KERNEL` does, and the compiled step is the default."""
    assert _counterflow(tmp_path, None).compiled  # type: ignore[arg-type]
    monkeypatch.setenv(KERNEL_ENV, "numpy")
    assert not _counterflow(tmp_path, None).compiled  # type: ignore[arg-type]
    assert _counterflow(tmp_path, "numba").compiled
    with pytest.raises(ValueError, match="fortran"):
        _counterflow(tmp_path, "fortran")


def test_cohorts_spread_together_give_the_same_leaving_times_to_the_last_bit():
    """A batch keeps each step's arrivals (`absorb` with room in `pend`) and spreads them together (`spread`, four
    cohorts a pass): every entry of `due` is what spreading each cohort at its own step gives, bit for bit, with
    cohorts of nobody, dwell spans shorter than four steps, and cohorts running past the end of `due`."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        n_t, lo, span = int(rng.integers(1, 4)), int(rng.integers(2, 12)), int(rng.integers(1, 40))
        hi, n_col = lo + span, int(rng.integers(30, 200))
        pmf = np.zeros(hi)
        pmf[lo:] = rng.random(span)
        pmf /= pmf.sum()
        width = min(lo, ck.PEND_MAX)
        at_once, together = np.zeros((n_t, n_col)), np.zeros((n_t, n_col))
        pend, pend_at = np.zeros((n_t, width)), np.zeros(2, dtype=np.int64)
        k0 = int(rng.integers(0, 20))
        for k in range(k0, k0 + int(rng.integers(1, 3 * width + 2))):
            got = rng.random(n_t) * (rng.random(n_t) < 0.7)
            for i in range(n_t):
                if got[i] != 0.0:
                    row = at_once[i, k + lo : k + hi]
                    row += got[i] * pmf[lo : lo + row.size]
            if pend_at[0] == 0:
                pend_at[1] = k
            pend[:, pend_at[0]] = got
            pend_at[0] += 1
            if pend_at[0] == width:
                ck.spread(together, pend, pend_at, pmf, lo, hi)
        if pend_at[0]:
            ck.spread(together, pend, pend_at, pmf, lo, hi)
        np.testing.assert_array_equal(together, at_once)
        assert not pend.any() and pend_at[0] == 0
