"""The typhoon model against hand calculations: stranding, batch crossing (bulk service) and a deterministic
motor-traffic queue."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typhoon_worlds import NO_TRAFFIC, small_typhoon, storm

from scenarios.loading import scenario_graph
from scenarios.plan import ClearLane, Plan, PlanMeta
from scenarios.typhoon import TyphoonGeometry, default_plan
from simulation.typhoon import simulate

HOUR = 3600.0


def no_plan(scenario) -> Plan:
    """The do-nothing plan: no lane cleared, no escort, no orders."""
    return Plan(meta=PlanMeta(scenario=scenario.name))


def riders(rate_per_h: float, *, process: str = "deterministic", start_s: float = 0.0, stop_s: float | None = None,
           patience: dict | None = None) -> dict:  # fmt: skip
    """A riders section: one flow from the Bund to Lujiazui at a constant rate from `start_s` to `stop_s`."""
    periods = [{"from_s": 0, "rate_per_h": 0}] if start_s > 0 else []
    periods.append({"from_s": start_s, "rate_per_h": rate_per_h})
    if stop_s is not None:
        periods.append({"from_s": stop_s, "rate_per_h": 0})
    return {"flows": [{"origin": "area_bund_nanjing_e", "destination": "area_lujiazui",
                       "arrivals": {"process": process, "periods": periods}}],
            "patience": patience or {"dist": "deterministic", "value_s": 1_000_000}}  # fmt: skip


def geometry(scenario) -> TyphoonGeometry:
    return TyphoonGeometry(scenario, scenario_graph(scenario))


# ------------------------------------------------------------------------------------------ stranding

# Wind force 8 from 06:00 to 08:00, then calm; the line resumes half an hour later, at 08:30 (12,600 s), which
# is also a departure (every 600 s from 0). Nothing is cleared, so riders can only wait for the ferry.
STORM = storm((0, 3, "none"), (3600, 8, "orange"), (10_800, 4, "blue"))
RESUME_S = 12_600.0


def test_riders_strand_while_their_patience_runs_out_before_the_ferry_resumes():
    """Evenly arriving riders with a fixed patience D strand at the arrival rate over [suspension, resume - D)."""
    rate, patience_s = 120.0, 1800.0
    patience = {"dist": "deterministic", "value_s": patience_s}
    scenario = small_typhoon(hazard=STORM, riders=riders(rate, start_s=3600, stop_s=15_000, patience=patience))
    result = simulate(scenario, no_plan(scenario))
    rec = result.records
    expected = rate * (RESUME_S - patience_s - 3600) / HOUR  # 240 riders
    assert result.kpis["riders_stranded"] == pytest.approx(expected, abs=1)
    gave_up = rec["state"] == 3
    assert np.all(rec["appear_s"][gave_up] < RESUME_S - patience_s)
    assert np.allclose(rec["gave_up_s"][gave_up], rec["appear_s"][gave_up] + patience_s)
    assert result.kpis["riders_crossed"] == result.kpis["riders"] - expected
    assert np.all(rec["start_s"][~gave_up] >= RESUME_S), "nobody crosses while the line is suspended"


def test_poisson_riders_with_exponential_patience_strand_as_the_integral_says():
    """With Poisson arrivals and exponential patience (mean m), the stranded count is λ∫(1 - e^{-(R-t)/m})dt."""
    rate, mean_s, start, stop = 600.0, 1800.0, 3600.0, 12_000.0
    patience = {"dist": "exponential", "mean_s": mean_s}
    flow = riders(rate, process="poisson", start_s=start, stop_s=stop, patience=patience)
    scenario = small_typhoon(hazard=STORM, riders=flow)
    assert geometry(scenario).ride_s["area_bund_nanjing_e"]["pier_jinling_e"] < RESUME_S - stop
    result = simulate(scenario, no_plan(scenario))
    expected = rate / HOUR * ((stop - start) - mean_s * (math.exp(-(RESUME_S - stop) / mean_s)
                                                       - math.exp(-(RESUME_S - start) / mean_s)))  # fmt: skip
    assert result.kpis["riders_stranded"] == pytest.approx(expected, abs=4 * math.sqrt(expected))


# ------------------------------------------------------------------------------------------ batch crossing

ALL_DAY_STORM = storm((0, 10, "red"))


def escort_case(rate_per_h: float, *, process: str, hours: float, batch: int) -> tuple:
    """Ferries stopped all day, one lane of Yan'an eastbound cleared throughout, one team leading batches back
    to back; returns the scenario, its cycle time and the run."""
    scenario = small_typhoon(hazard=ALL_DAY_STORM, riders=riders(rate_per_h, process=process),
                             clock={"start": "2021-09-13T00:00:00", "horizon_s": hours * HOUR},
                             escorts={"count": 1, "batch_size": batch, "setup_s": 60, "return_s": 300})  # fmt: skip
    cycle = geometry(scenario).cycle_s("yanan", "ab")
    return scenario, cycle, simulate(scenario, sample_every_s=600)


@pytest.mark.parametrize("rate_per_h", [60.0, 150.0])
def test_escort_throughput_is_the_lesser_of_arrivals_and_batch_capacity(rate_per_h):
    """Steady arrivals and a fixed escort cycle carry min(arrival rate, batch size / cycle time) riders an hour."""
    batch = 20
    _scenario, cycle, result = escort_case(rate_per_h, process="deterministic", hours=30, batch=batch)
    start = result.records["start_s"]
    lo, hi = 2 * HOUR, 29 * HOUR
    carried = np.count_nonzero((start >= lo) & (start < hi)) / ((hi - lo) / HOUR)
    assert carried == pytest.approx(min(rate_per_h, batch / cycle * HOUR), rel=0.02)
    assert result.records["escorted"][np.isfinite(start)].all()


def bulk_service_wait_s(rate_per_s: float, batch: int, cycle_s: float) -> float:
    """Mean wait of Poisson arrivals taken away in batches of up to `batch` at fixed intervals `cycle_s`.

    The number left behind after a departure is a Markov chain, Q' = max(Q + A - batch, 0) with A Poisson of
    mean λ·cycle; between departures the queue holds Q plus the arrivals so far, λ·cycle/2 on average; by
    Little's law W = (E[Q] + λ·cycle/2) / λ.
    """
    a = rate_per_s * cycle_s
    size = int(a + 60 * math.sqrt(a) + 50 * batch)
    k = np.arange(2 * size)
    pmf = np.exp(-a + k * math.log(a) - np.array([math.lgamma(i + 1) for i in k]))
    step = np.zeros((size, size))
    for q in range(size):
        nxt = np.maximum(q + k - batch, 0)
        np.add.at(step[q], np.minimum(nxt, size - 1), pmf)
    pi = np.full(size, 1 / size)
    for _ in range(20_000):
        new = pi @ step
        if np.abs(new - pi).sum() < 1e-13:
            break
        pi = new
    return float((np.arange(size) @ pi) / rate_per_s + cycle_s / 2)


def test_escort_wait_matches_the_bulk_service_queue():
    """Poisson riders at 80% of the batch capacity wait as long as the bulk-service chain predicts (within 5%)."""
    batch, hours = 10, 400
    probe = small_typhoon(hazard=ALL_DAY_STORM)
    cycle = geometry(probe).cycle_s("yanan", "ab")
    rate_per_h = 0.8 * batch / cycle * HOUR
    _scenario, _cycle, result = escort_case(rate_per_h, process="poisson", hours=hours, batch=batch)
    rec = result.records
    steady = (rec["appear_s"] > 5 * HOUR) & (rec["appear_s"] < (hours - 5) * HOUR)
    assert np.isfinite(rec["start_s"][steady]).all()
    theory = bulk_service_wait_s(rate_per_h / HOUR, batch, cycle)
    assert theory > cycle / 2 * 1.2, "the case should queue beyond the half-cycle wait"
    assert rec["wait_s"][steady].mean() == pytest.approx(theory, rel=0.05)


# ------------------------------------------------------------------------------------------ motor traffic


def traffic_case(*, cleared: bool) -> tuple:
    """Eastbound Yan'an demand 1,500 veh/h for two hours then 600 veh/h (evenly spaced), no riders; optionally one
    of its two 1,400 veh/h lanes cleared all day (leaving 1 x 1,400 x 0.9 = 1,260 veh/h)."""
    surge = [{"from_s": 0, "rate_per_h": 1500}, {"from_s": 7200, "rate_per_h": 600}]
    demand = {"process": "deterministic", "periods": surge}
    tunnel = {"portals": ["portal_yanan_puxi", "portal_yanan_pudong"], "lanes_per_direction": 2,
              "lane_capacity_vph": 1400, "merge_factor": 0.9, "holding_points": ["hold_yanan_puxi"],
              "demand_ab": demand, "demand_ba": NO_TRAFFIC}  # fmt: skip
    scenario = small_typhoon(tunnels={"yanan": tunnel}, riders=riders(0.0),
                             clock={"start": "2021-09-13T05:00:00", "horizon_s": 6 * HOUR})  # fmt: skip
    actions = [ClearLane(at_s=0, tunnel="yanan", direction="ab", lanes=1, until_s=6 * HOUR)] if cleared else []
    return scenario, simulate(scenario, Plan.build(PlanMeta(scenario=scenario.name), actions))


def test_motor_delay_with_a_lane_removed_is_the_deterministic_queue_triangle():
    """Demand above the reduced capacity for two hours builds a queue whose delay is the triangle's area."""
    _scenario, result = traffic_case(cleared=True)
    capacity, surge, after, period = 1260.0, 1500.0, 600.0, 2.0
    peak = (surge - capacity) * period  # 480 vehicles at 07:00
    clearing = peak / (capacity - after)  # hours to dissolve it
    assert result.kpis["max_vehicle_queue"] == pytest.approx(peak, abs=2)
    assert result.kpis["vehicle_delay_h"] == pytest.approx(peak * (period + clearing) / 2, rel=0.01)
    queue = result.records["veh_queue"][0]
    assert queue[-1] == 0, "the queue has cleared by the end"


def test_no_motor_delay_when_demand_stays_below_full_capacity():
    """With both lanes open, 1,500 evenly spaced vehicles an hour never queue at 2,800 an hour."""
    _scenario, result = traffic_case(cleared=False)
    assert result.kpis["vehicle_delay_h"] == 0
    assert result.kpis["max_vehicle_queue"] == 0


def test_default_plan_escorts_back_to_back_through_the_whole_suspension():
    """Under an all-day storm the default plan clears eastbound Yan'an only (riders go east) for the whole day."""
    scenario = small_typhoon(hazard=ALL_DAY_STORM)
    plan = default_plan(scenario)
    (clear,) = plan.of_type(ClearLane)
    assert (clear.tunnel, clear.direction, clear.at_s, clear.until_s) == ("yanan", "ab", 0, scenario.clock.horizon_s)
    cycle = geometry(scenario).cycle_s("yanan", "ab")
    starts = [a.at_s for a in plan.actions if a.type == "escort_batch"]
    assert np.allclose(np.diff(starts), cycle, atol=1e-2)
