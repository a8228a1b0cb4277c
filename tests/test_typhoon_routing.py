"""The typhoon search's two stages (routing first, then lanes and teams): a routed window is exactly the full model
with its routing fixed, the best routing's window is the full model's optimum (brute force over every routing), and
the bound the two-stage search reports holds over the routings it tried."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from ortools.sat.python import cp_model
from typhoon_worlds import small_typhoon, storm

from optimizer import SolveParams
from optimizer.typhoon import TyphoonModel, solve_typhoon, typhoon_problem
from optimizer.typhoon.problem import TyphoonProblem
from optimizer.typhoon.routing import Routing, candidate_routings, routed
from optimizer.typhoon.search import solve_routed
from optimizer.typhoon.static import static_schedules

EXACT = SolveParams(time_limit_s=20.0, workers=1, relative_gap=0.0, seed=0)


def two_tunnels():
    """Two hours of storm (8 periods), two bank areas on the Puxi side, each able to ride to Yan'an or Fuxing going
    east (the Bund nearer Yan'an, Laoximen nearer Fuxing), two escort teams, cars above the open tunnels' capacity
    in the second hour (so a way left open still queues: the routed window's constant)."""
    cars = {"process": "deterministic",
            "periods": [{"from_s": 0, "rate_per_h": 1900}, {"from_s": 3600, "rate_per_h": 3000}]}  # fmt: skip
    tunnels = {name: {"portals": [f"portal_{name}_puxi", f"portal_{name}_pudong"], "lanes_per_direction": 2,
                      "lane_capacity_vph": 1400, "merge_factor": 0.9, "holding_points": holds,
                      "demand_ab": cars, "demand_ba": cars}
               for name, holds in [("yanan", ["hold_yanan_puxi", "hold_lujiazui_pudong"]),
                                   ("fuxing", ["hold_fuxing_puxi", "hold_fuxing_pudong"])]}  # fmt: skip

    def flow(origin: str, destination: str, rates: list[float]) -> dict:
        periods = [{"from_s": 1800 * i, "rate_per_h": r} for i, r in enumerate(rates)]
        return {"origin": origin, "destination": destination,
                "arrivals": {"process": "deterministic", "periods": periods}}  # fmt: skip

    riders = {"flows": [flow("area_bund_nanjing_e", "area_lujiazui", [120, 120, 60, 60]),
                        flow("area_laoximen", "area_dongchang_weifang", [40, 80, 160, 80])],
              "patience": {"dist": "exponential", "mean_s": 1800}}  # fmt: skip
    return small_typhoon(hazard=storm((0, 10, "red")), tunnels=tunnels, riders=riders,
                         clock={"start": "2021-09-13T05:00:00", "horizon_s": 7200},
                         escorts={"count": 2, "batch_size": 20, "setup_s": 60, "return_s": 300},
                         lanes={"min_clear_s": 1800, "changeover_s": 300, "period_s": 900},
                         weights={"rider_wait_per_h": 1.0, "rider_stranded": 2.0, "vehicle_delay_per_h": 0.5})


def exact_optimum(model: TyphoonModel) -> int:
    """The model's optimum (integer units), proven by CP-SAT."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 60
    assert solver.solve(model.m) == cp_model.OPTIMAL
    return round(solver.objective_value)


def every_routing(problem: TyphoonProblem) -> list[Routing]:
    """Each origin sent to one of the ways it reaches, every combination."""
    choices = [[(o, int(w)) for w in range(len(problem.ways)) if problem.reach[o, w]]
               for o in range(len(problem.origins))]  # fmt: skip
    return [tuple(r) for r in itertools.product(*choices)]


def routed_optimum(problem: TyphoonProblem, routing: Routing) -> int:
    """The full window's objective of the best schedule on this routing: the routed window's optimum plus the open
    ways' constant."""
    window = routed(problem, routing)
    return exact_optimum(TyphoonModel(window.problem)) + window.open_cost


@pytest.fixture(scope="module")
def banks() -> TyphoonProblem:
    """The `two_tunnels` window: 2 origins, 2 ways, 8 periods."""
    problem = typhoon_problem(two_tunnels())
    assert (len(problem.origins), len(problem.ways), problem.n_periods) == (2, 2, 8)
    assert problem.reach.all()
    return problem


def test_a_routed_window_is_the_full_model_with_its_routing_fixed(banks):
    """For every routing, the routed window (its ways only, the others' queues a constant) has the optimum of the
    full model with the routing variables fixed to it."""
    routings = every_routing(banks)
    assert len(routings) == 4
    assert max(routed(banks, r).open_cost for r in routings) > 0  # a way left open still queues
    for routing in routings:
        full = TyphoonModel(banks)
        for o, w in routing:
            full.m.add(full.v.y[(o, w)] == 1)
        assert routed_optimum(banks, routing) == exact_optimum(full), routing


def test_the_best_routing_gives_the_full_models_optimum(banks):
    """The least routed optimum over every routing (brute force) is the full model's proven optimum."""
    full = solve_typhoon(banks, params=EXACT)
    assert full.status == "OPTIMAL" and full.cost is not None
    assert min(routed_optimum(banks, r) for r in every_routing(banks)) == full.cost.objective_int


def test_the_two_stage_answer_is_the_best_candidate_and_its_bound_holds_over_them(banks):
    """Asked for a gap of 0, the two-stage search returns the best of its candidate routings' optima, proven: its
    bound is that optimum, and no candidate routing does better."""
    candidates = candidate_routings(banks, (), 3)
    assert len(candidates) == 3  # both to Yan'an, both to Fuxing, each to its nearer
    best = min(routed_optimum(banks, r) for r, _start in candidates)
    solution = solve_routed(banks, params=EXACT, count=3)
    assert solution.routings == 3 and solution.cost is not None and solution.bound is not None
    # Three of the window's four routings: proven over them, which is no proof over the window.
    assert solution.routings_total == 4 and solution.status == "FEASIBLE"
    assert solution.cost.objective_int == best
    assert solution.bound == pytest.approx(best / 1000)
    assert solution.objective == pytest.approx(solution.cost.objective)


def test_candidates_come_from_the_starts_given_then_the_static_schedules(banks):
    """The routings of the schedules given come first, then the static schedules' routings, cheapest first, each
    once."""
    statics = static_schedules(banks)
    last = statics[-1]
    candidates = candidate_routings(banks, (last,), 4)
    keys = [r for r, _ in candidates]
    assert keys[0] == tuple(sorted(last.sent.items()))
    assert len(set(keys)) == len(keys) == 3  # the static schedules have three routings
    seen: list[Routing] = []
    for s in statics:
        key = tuple(sorted(s.sent.items()))
        if key not in seen and key != keys[0]:
            seen.append(key)
    assert keys[1:] == seen[:3]


def test_a_routing_to_a_way_out_of_reach_is_refused(banks):
    """A routing that sends an origin to a way it cannot reach is bad input, named."""
    narrower = replace(banks, reach=np.array([[True, False], [True, True]]))
    with pytest.raises(ValueError, match=r"area_bund_nanjing_e cannot reach .*fuxing"):
        routed(narrower, ((0, 1), (1, 1)))
