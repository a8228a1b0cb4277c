"""Vehicle routing: instance reading, both backends, independent feasibility checks, brute force, formats."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest
import vrplib

import optimizer.routing.solving as solving
from optimizer.routing import (
    BackendRun,
    DistanceConvention,
    InstanceError,
    RoutingProblem,
    RoutingResult,
    evaluate,
    format_vrplib_solution,
    read_instance,
    solve,
)
from optimizer.routing.ortools_router import OrToolsRouter
from optimizer.routing.problem import apply_convention, euclidean

VRP = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "vrp"
BACKENDS = ("ortools", "pyvrp")
OPTIMA = {"E-n22-k4.vrp": 375, "A-n32-k5.vrp": 784}


# --- an independent checker: floats straight from the problem's matrices, no code shared with `evaluate` ---


def assert_feasible(problem: RoutingProblem, result: RoutingResult, *, complete: bool = True) -> None:
    """Every customer at most once (exactly once if `complete`), loads within capacity, windows met."""
    visits = [c for route in result.routes for c in route]
    assert len(visits) == len(set(visits)), "a customer is visited twice"
    assert set(visits) <= set(range(1, problem.size)), "a route visits a non-customer"
    assert set(visits) | set(result.dropped) == set(range(1, problem.size))
    if complete:
        assert sorted(visits) == list(range(1, problem.size))
    if problem.num_vehicles is not None:
        assert len(result.routes) <= problem.num_vehicles
    total = 0.0
    for route in result.routes:
        path = [0, *route, 0]
        total += sum(problem.distances[a, b] for a, b in itertools.pairwise(path))
        if problem.capacity is not None:
            assert sum(problem.demands[c] for c in route) <= problem.capacity
        if problem.time_windows is None:
            continue
        tw = problem.time_windows
        service = problem.service_times if problem.service_times is not None else np.zeros(problem.size)
        travel = problem.travel_times()
        clock = tw[0, 0]
        for prev, node in itertools.pairwise(path):
            clock += service[prev] + travel[prev, node]
            if node != 0:
                clock = max(clock, tw[node, 0])
            assert clock <= tw[node, 1] + 1e-6, f"customer {node} served at {clock}, window {tw[node]}"
    assert result.cost == pytest.approx(total, abs=1e-6)


# --- reading instances --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["E-n22-k4.vrp", "A-n32-k5.vrp"])
def test_read_cvrp_instance_uses_tsplib_nint(name):
    """A TSPLIB EUC_2D CVRP file reads with nearest-integer distances and no vehicle limit."""
    problem = read_instance(VRP / name)
    raw = vrplib.read_instance(VRP / name)
    assert problem.size == raw["dimension"]
    assert problem.capacity == raw["capacity"]
    assert problem.convention is DistanceConvention.NINT and problem.decimals == 0
    assert problem.num_vehicles is None and problem.time_windows is None
    np.testing.assert_array_equal(problem.distances, np.floor(raw["edge_weight"] + 0.5))
    np.testing.assert_array_equal(problem.demands, raw["demand"])


def test_read_rc208_uses_one_decimal_truncation_and_its_solution_costs_776_1():
    """RC208 reads as a VRPTW with truncated one-decimal distances, and its .sol route set costs 776.1."""
    problem = read_instance(VRP / "RC208.vrp")
    assert problem.size == 101 and problem.num_vehicles == 25 and problem.capacity == 1000
    assert problem.convention is DistanceConvention.TRUNC1 and problem.decimals == 1
    assert problem.time_windows is not None and problem.time_windows[0].tolist() == [0, 960]
    assert problem.service_times is not None
    assert problem.service_times[0] == 0 and set(problem.service_times[1:]) == {10}
    routes = vrplib.read_solution(VRP / "RC208.sol")["routes"]
    check = evaluate(problem, routes)
    assert check.violations == () and check.dropped == ()
    assert check.cost_scaled == 7761


@pytest.mark.parametrize("name", ["R101.vrp", "C101.vrp", "RC101.vrp", "R201.vrp"])
def test_read_extra_solomon_instances(name):
    """The extra Solomon instances read as 100-customer VRPTWs in which every customer is servable."""
    problem = read_instance(VRP / name)
    assert problem.size == 101 and problem.has_time_windows and problem.unservable() == {}


def solomon_text(problem: RoutingProblem) -> str:
    """The problem written as a Solomon-format text file (the format of the original distribution)."""
    assert problem.coordinates is not None and problem.time_windows is not None
    assert problem.service_times is not None
    lines = [
        problem.name,
        "",
        "VEHICLE",
        "NUMBER     CAPACITY",
        f"  {problem.num_vehicles}   {problem.capacity}",
        "",
        "CUSTOMER",
        "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME",
        "",
    ]
    for i in range(problem.size):
        (x, y), (a, b) = problem.coordinates[i], problem.time_windows[i]
        row = (i, x, y, problem.demands[i], a, b, problem.service_times[i])
        lines.append("  ".join(str(int(v)) for v in row))
    return "\n".join(lines) + "\n"


def test_solomon_text_format_reads_like_its_vrplib_twin(tmp_path):
    """The same Solomon instance in Solomon text and in VRPLIB form gives the same problem."""
    twin = read_instance(VRP / "R101.vrp")
    path = tmp_path / "r101.txt"
    path.write_text(solomon_text(twin))
    problem = read_instance(path)
    assert problem.convention is DistanceConvention.TRUNC1
    np.testing.assert_array_equal(problem.distances, twin.distances)
    np.testing.assert_array_equal(problem.time_windows, twin.time_windows)
    np.testing.assert_array_equal(problem.service_times, twin.service_times)
    np.testing.assert_array_equal(problem.demands, twin.demands)
    assert (problem.capacity, problem.num_vehicles) == (twin.capacity, twin.num_vehicles)


def test_distance_convention_can_be_overridden():
    """`convention=` replaces the file's implied convention, and the decimals follow it."""
    exact = read_instance(VRP / "E-n22-k4.vrp", convention="exact")
    assert exact.decimals == 3
    assert exact.distances[0, 1] == pytest.approx(math.hypot(151 - 145, 264 - 215), abs=5e-4)
    truncated = read_instance(VRP / "RC208.vrp", convention=DistanceConvention.NINT)
    assert truncated.decimals == 0 and np.all(truncated.distances == np.round(truncated.distances))


def test_conventions_round_as_documented():
    """nint rounds halves up, trunc1 keeps exact tenths, ceil rounds up."""
    raw = np.array([[0.0, 2.5, 1.1, 38.07886]])
    assert apply_convention(raw, "nint").tolist() == [[0.0, 3.0, 1.0, 38.0]]
    assert apply_convention(raw, "trunc1").tolist() == [[0.0, 2.5, 1.1, 38.0]]
    assert apply_convention(raw, "ceil").tolist() == [[0.0, 3.0, 2.0, 39.0]]
    assert apply_convention(euclidean([[0, 0], [3, 4]]), "trunc1")[0, 1] == 5.0


# --- bad input ----------------------------------------------------------------------------------------------

GOOD_CVRP = """NAME : tiny
TYPE : CVRP
DIMENSION : 3
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
DEMAND_SECTION
1 0
2 4
3 5
DEPOT_SECTION
1
-1
EOF
"""

GOOD_VRPTW = GOOD_CVRP.replace("TYPE : CVRP", "TYPE : CVRPTW").replace(
    "DEPOT_SECTION", "TIME_WINDOW_SECTION\n1 0 100\n2 0 50\n3 0 50\nDEPOT_SECTION"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD_CVRP.replace("3 5\n", "3 50\n"),
            "customer 2 (node 3 in the file): demand 50 exceeds vehicle capacity 10",
        ),
        (GOOD_VRPTW.replace("3 0 50", "3 0 5"), "closes before the earliest arrival from the depot (10.0)"),
        (GOOD_VRPTW.replace("3 0 50", "3 40 30"), "time window [40.0, 30.0] is empty"),
        (GOOD_VRPTW.replace("1 0 100", "1 0 15"), "back at the depot at 20.0, after it closes at 15.0"),
        (GOOD_CVRP.replace("CAPACITY : 10\n", ""), "CAPACITY is missing"),
        (GOOD_CVRP.replace("3 5\n", ""), "DEMAND_SECTION has 2 values for 3 nodes"),
        (GOOD_CVRP.replace("1\n-1", "1\n2\n-1"), "only one is supported"),
        (GOOD_CVRP.replace("EUC_2D", "GEO"), "EDGE_WEIGHT_TYPE GEO is not supported"),
        ("this is not\na routing instance\n", "not a routing instance"),
        ("", "not a routing instance"),
    ],
)
def test_bad_instance_raises_value_error_naming_file_and_fault(tmp_path, text, expected):
    """An unreadable or inconsistent instance raises a ValueError naming the file and what is wrong."""
    path = tmp_path / "bad.vrp"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"bad\.vrp") as info:
        read_instance(path)
    assert expected in str(info.value)
    assert isinstance(info.value, InstanceError)


def test_missing_file_raises_value_error(tmp_path):
    """A path that does not exist raises a ValueError naming it."""
    with pytest.raises(ValueError, match=r"nowhere\.vrp: cannot read the file"):
        read_instance(tmp_path / "nowhere.vrp")


def test_unservable_customers_can_be_left_to_the_solver(tmp_path):
    """With check=False an unservable customer is read, then dropped by solve with its reason."""
    path = tmp_path / "late.vrp"
    path.write_text(GOOD_VRPTW.replace("3 0 50", "3 0 5"))
    problem = read_instance(path, check=False)
    result = solve(problem, time_limit_s=0.5, backend="ortools")
    assert result.feasible and result.dropped == (2,) and result.routes == ((1,),)
    assert any("customer 2 (node 3 in the file) dropped" in note for note in result.notes)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"distances": np.zeros((3, 2))}, "distances: shape (3, 2)"),
        ({"demands": np.array([0, 1])}, "demands: 2 values for 3 nodes"),
        ({"demands": np.array([0, -1, 1])}, "customer 1 has negative demand -1"),
        ({"time_windows": np.zeros((3, 3))}, "time_windows: shape (3, 3)"),
        ({"num_vehicles": 0}, "num_vehicles: 0"),
        ({"time_windows": np.array([[0, 9], [-1, 5], [0, 9]])}, "time_windows: node 1 has [-1.0, 5.0]"),
    ],
)
def test_problem_constructor_names_the_bad_field(changes, field):
    """A malformed RoutingProblem raises a ValueError naming the field and the bad value."""
    base = {"distances": np.ones((3, 3)) - np.eye(3), "demands": np.array([0, 1, 1]), "capacity": 5}
    with pytest.raises(ValueError) as info:
        RoutingProblem(**(base | changes))
    assert field in str(info.value)


def test_problem_arrays_are_read_only():
    """A RoutingProblem is frozen: its fields cannot be reassigned and its arrays cannot be written."""
    problem = read_instance(VRP / "E-n22-k4.vrp")
    with pytest.raises(ValueError):
        problem.distances[0, 1] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.capacity = 1  # type: ignore[misc]


def test_unknown_backend_is_a_value_error():
    """Asking for a backend that does not exist raises a ValueError listing the known ones."""
    problem = read_instance(VRP / "E-n22-k4.vrp")
    with pytest.raises(ValueError, match="ortools, pyvrp"):
        solve(problem, time_limit_s=1, backend="gurobi")


# --- solving ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "optimum"), sorted(OPTIMA.items()))
def test_default_backend_reaches_cvrp_optimum_in_seconds(name, optimum):
    """The default backend finds the proven optimum of E-n22-k4 (375) and A-n32-k5 (784) within 3 s."""
    problem = read_instance(VRP / name)
    result = solve(problem, time_limit_s=3, seed=0)
    assert result.status == "FEASIBLE"
    assert result.cost == optimum
    assert_feasible(problem, result)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["E-n22-k4.vrp", "A-n32-k5.vrp", "RC208.vrp"])
def test_backend_returns_feasible_route_set(name, backend):
    """Each backend returns a route set that serves every customer once within capacity and time windows."""
    problem = read_instance(VRP / name)
    result = solve(problem, time_limit_s=2, backend=backend, seed=1)
    assert result.feasible and result.complete and result.backend == backend
    assert_feasible(problem, result)


@pytest.mark.slow
def test_rc208_within_two_percent_of_best_known_in_30_s():
    """The default backend gets RC208 within 2% of its best-known 776.1 in 30 s."""
    problem = read_instance(VRP / "RC208.vrp")
    result = solve(problem, time_limit_s=30, seed=0)
    assert_feasible(problem, result)
    assert result.cost <= 776.1 * 1.02


def random_problem(seed: int, *, customers: int, time_windows: bool) -> RoutingProblem:
    """A small random CVRP or VRPTW in which every customer is servable; integer or one-decimal distances."""
    rng = np.random.default_rng(seed)
    while True:
        coords = rng.integers(0, 50, size=(customers + 1, 2))
        convention = "trunc1" if time_windows else "nint"
        distances = apply_convention(euclidean(coords), convention)
        demands = np.concatenate([[0], rng.integers(1, 8, size=customers)])
        windows = service = None
        if time_windows:
            centre = rng.uniform(20, 140, size=customers + 1)
            width = rng.uniform(15, 60, size=customers + 1)
            windows = np.column_stack([np.maximum(0, np.floor(centre - width)), np.ceil(centre + width)])
            windows[0] = [0, 220]
            service = np.concatenate([[0], rng.integers(1, 10, size=customers)])
        problem = RoutingProblem.from_matrices(
            distances,
            demands=demands,
            capacity=int(rng.integers(10, 20)),
            time_windows=windows,
            service_times=service,
            coordinates=coords,
            decimals=1 if time_windows else 0,
        )
        if not problem.unservable():
            return problem


def brute_force_optimum(problem: RoutingProblem) -> float:
    """The exact optimum: the best single route for every customer subset, then set partitioning."""
    customers = list(problem.customers)
    k = len(customers)
    d, t = problem.distances, problem.travel_times()
    tw = problem.time_windows
    service = problem.service_times if problem.service_times is not None else np.zeros(problem.size)

    def route_cost(order: tuple[int, ...]) -> float:
        path = (0, *order, 0)
        if tw is not None:
            clock = tw[0, 0]
            for prev, node in itertools.pairwise(path):
                clock += service[prev] + t[prev, node]
                if node:
                    clock = max(clock, tw[node, 0])
                if clock > tw[node, 1] + 1e-9:
                    return math.inf
        return float(sum(d[a, b] for a, b in itertools.pairwise(path)))

    single = [math.inf] * (1 << k)
    for mask in range(1, 1 << k):
        members = [customers[i] for i in range(k) if mask >> i & 1]
        if problem.capacity is not None and sum(problem.demands[m] for m in members) > problem.capacity:
            continue
        single[mask] = min(route_cost(order) for order in itertools.permutations(members))
    best = [math.inf] * (1 << k)
    best[0] = 0.0
    for mask in range(1, 1 << k):
        low = mask & -mask  # the lowest customer left must be on some route: enumerate that route
        rest = mask ^ low
        sub = rest
        while True:
            route = sub | low
            best[mask] = min(best[mask], single[route] + best[mask ^ route])
            if sub == 0:
                break
            sub = (sub - 1) & rest
    return best[(1 << k) - 1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("seed", "customers", "time_windows"),
    [(1, 5, False), (2, 6, False), (3, 7, False), (4, 5, True), (5, 6, True), (6, 7, True)],
)
def test_small_instances_match_brute_force(seed, customers, time_windows, backend):
    """On random 5-7 customer CVRPs and VRPTWs each backend's cost equals the enumerated optimum."""
    problem = random_problem(seed, customers=customers, time_windows=time_windows)
    optimum = brute_force_optimum(problem)
    result = solve(problem, time_limit_s=0.5, backend=backend, seed=seed)
    assert_feasible(problem, result)
    assert result.cost == pytest.approx(optimum, abs=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_impossible_window_is_dropped_and_reported(backend):
    """A customer whose window closes before any vehicle arrives is dropped and reported; others served."""
    distances = np.array([[0, 10, 10, 10], [10, 0, 5, 15], [10, 5, 0, 12], [10, 15, 12, 0]], dtype=float)
    windows = np.array([[0, 100], [0, 100], [0, 4], [0, 100]], dtype=float)
    problem = RoutingProblem.from_matrices(distances, demands=[0, 1, 1, 1], capacity=10, time_windows=windows)
    result = solve(problem, time_limit_s=0.5, backend=backend)
    assert result.feasible and result.status == "PARTIAL"
    assert result.dropped == (2,)
    assert_feasible(problem, result, complete=False)
    assert "dropped: 2" in result.summary()
    assert any("closes before the earliest arrival" in note for note in result.notes)


def test_ortools_model_drops_an_impossible_visit_itself():
    """Even unscreened, the OR-Tools model returns routes and leaves the impossible visit out."""
    distances = np.array([[0, 10, 10], [10, 0, 5], [10, 5, 0]], dtype=float)
    windows = np.array([[0, 100], [0, 100], [0, 4]], dtype=float)
    problem = RoutingProblem.from_matrices(distances, demands=[0, 1, 1], capacity=10, time_windows=windows)
    run = OrToolsRouter().solve(problem, time_limit_s=0.5)
    assert run.routes == ((1,),)


@pytest.mark.parametrize("backend", BACKENDS)
def test_too_small_fleet_drops_a_visit_instead_of_failing(backend):
    """One vehicle, two far-apart customers due at once: one is dropped and the plan stays feasible."""
    distances = np.array([[0, 10, 10], [10, 0, 20], [10, 20, 0]], dtype=float)
    windows = np.array([[0, 100], [10, 12], [10, 12]], dtype=float)
    problem = RoutingProblem.from_matrices(
        distances, demands=[0, 1, 1], capacity=10, num_vehicles=1, time_windows=windows
    )
    assert problem.unservable() == {}  # each customer alone is fine; together they clash
    result = solve(problem, time_limit_s=1, backend=backend)
    assert result.feasible and result.status == "PARTIAL" and len(result.dropped) == 1
    assert_feasible(problem, result, complete=False)


def test_travel_time_matrix_in_seconds_with_windows():
    """A problem built from a travel-time matrix in seconds is solved with its windows and service times."""
    rng = np.random.default_rng(7)
    travel_s = rng.integers(60, 900, size=(9, 9)).astype(float)
    travel_s = np.minimum(travel_s, travel_s.T)
    np.fill_diagonal(travel_s, 0)
    windows = np.array([[0, 4 * 3600]] + [[0, 3 * 3600]] * 8, dtype=float)
    problem = RoutingProblem.from_matrices(
        travel_s,
        demands=[0] + [10] * 8,
        capacity=40,
        time_windows=windows,
        service_times=[0] + [120] * 8,
        decimals=0,
    )
    result = solve(problem, time_limit_s=1)
    assert result.complete and result.decimals == 0
    assert_feasible(problem, result)


def test_evaluate_reports_each_broken_rule():
    """`evaluate` lists an overload, a late arrival, a repeated visit and a fleet overrun."""
    distances = np.array([[0, 10, 10], [10, 0, 20], [10, 20, 0]], dtype=float)
    windows = np.array([[0, 100], [0, 100], [0, 15]], dtype=float)
    problem = RoutingProblem.from_matrices(
        distances, demands=[0, 6, 6], capacity=10, num_vehicles=1, time_windows=windows
    )
    check = evaluate(problem, [(1, 2, 1)])
    text = " | ".join(check.violations)
    assert "customer 1 is visited more than once" in text
    assert "load 18 exceeds capacity 10" in text
    assert "service at customer 2 starts at 30, after its window closes at 15" in text
    assert "2 routes but only 1 vehicles" in " | ".join(evaluate(problem, [(1,), (2,)]).violations)


# --- output -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "pattern"), [("E-n22-k4.vrp", r"Cost \d+\n"), ("RC208.vrp", r"Cost \d+\.\d\n")])
def test_vrplib_solution_round_trip(tmp_path, name, pattern):
    """What format_vrplib_solution prints, vrplib reads back, and its cost matches the matrix."""
    problem = read_instance(VRP / name)
    result = solve(problem, time_limit_s=1, backend="pyvrp")
    text = format_vrplib_solution(result)
    assert text.startswith("Route #1: ")
    assert re.search(pattern + r"\Z", text)
    path = tmp_path / "out.sol"
    path.write_text(text)
    read = vrplib.read_solution(path)
    assert [tuple(r) for r in read["routes"]] == list(result.routes)
    recomputed = sum(problem.distances[a, b] for r in read["routes"] for a, b in itertools.pairwise([0, *r, 0]))
    assert read["cost"] == pytest.approx(recomputed, abs=1e-9)


def test_summary_states_status_cost_and_service():
    """summary() gives the status, backend, cost with the instance's decimals and customers served."""
    result = RoutingResult(
        routes=((1, 2),),
        cost=776.1,
        feasible=True,
        dropped=(3,),
        backend="pyvrp",
        status="PARTIAL",
        wall_s=1.23,
        time_limit_s=2,
        decimals=1,
        num_customers=3,
        instance="x",
    )
    first, second = result.summary().splitlines()[:2]
    assert first == "x: PARTIAL (pyvrp, seed 0): cost 776.1, 1 routes, 2/3 customers served, 1.23 s of 2 s"
    assert second == "dropped: 3"
    assert format_vrplib_solution(result) == "Route #1: 1 2\nCost 776.1\n"


class OverloadingRouter:
    """A backend that puts every customer on one route, whatever the capacity."""

    name = "overloading"

    def solve(self, problem: RoutingProblem, *, time_limit_s: float, seed: int) -> BackendRun:
        return BackendRun(routes=(tuple(problem.customers),), detail="one route for all")


def test_solve_checks_what_a_backend_returns():
    """A backend's route set that breaks capacity is reported INFEASIBLE with the violation, not trusted."""
    problem = read_instance(VRP / "E-n22-k4.vrp")
    result = solve(problem, time_limit_s=1, backend=OverloadingRouter())
    assert not result.feasible and result.status == "INFEASIBLE"
    assert "exceeds capacity 6000" in result.violations[0]


def test_auto_falls_back_to_ortools_when_its_choice_is_infeasible(monkeypatch):
    """If the default backend returns an infeasible route set, 'auto' returns OR-Tools' feasible plan."""
    monkeypatch.setitem(solving.BACKENDS, "overloading", OverloadingRouter)
    monkeypatch.setattr(solving, "DEFAULT_BACKEND", "overloading")
    problem = read_instance(VRP / "E-n22-k4.vrp")
    result = solve(problem, time_limit_s=1)
    assert result.complete and result.backend == "ortools"
    assert "auto: overloading returned INFEASIBLE" in result.notes[-1]
    assert_feasible(problem, result)
