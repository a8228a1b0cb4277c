"""The staffing model: valid plans, conservation, brute-force optimality, the bound, diagnosis, determinism."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.result import SolveParams
from optimizer.staffing import (
    Assignment,
    StaffingOptions,
    diagnose_staffing,
    fluid_makespan,
    plan_staffing,
    quick_lower_bound,
    score,
    staffing_problem,
)
from scenarios.mass_testing import MassTestingGeometry, check_plan, default_plan, pool_role_counts
from scenarios.plan import AssignStaff, Plan, RouteVisitors
from scenarios.schema import MassTestingScenario
from simulation.mass_testing import simulate

EXACT = SolveParams(time_limit_s=30, relative_gap=1e-6)
QUIET = StaffingOptions(marginal=False)


def world(*, zones: Sequence[tuple[float, float, int]], sites: Sequence[tuple[float, float, int]],
          pools: Sequence[dict[str, Any]], registrars: bool = False, swab: dict[str, Any] | None = None,
          target_s: float | None = None, horizon_s: float = 100_000, arrivals: dict[int, Any] | None = None,
          walk_factor: float = 1.2) -> tuple[MassTestingScenario, MassTestingGeometry]:  # fmt: skip
    """A small mass-testing world on a plane (metres): zones and sites joined on foot, centres to sites by road."""
    pos: dict[str, tuple[float, float]] = {}
    graph = nx.DiGraph()

    def join(u: str, v: str, mode: str, factor: float, speed: float) -> None:
        length = math.dist(pos[u], pos[v]) * factor + 1.0
        graph.add_edge(u, v, mode=mode, length_m=length, free_speed_mps=speed)
        graph.add_edge(v, u, mode=mode, length_m=length, free_speed_mps=speed)

    zone_docs = []
    for i, (x, y, n) in enumerate(zones):
        pos[f"zone_{i}"] = (x, y)
        doc: dict[str, Any] = {"node": f"zone_{i}", "visitors": n}
        if arrivals and i in arrivals:
            doc["arrivals"] = arrivals[i]
        zone_docs.append(doc)
    for i, (x, y, _) in enumerate(sites):
        pos[f"site_{i}"] = (x, y)
        for z in range(len(zones)):
            join(f"zone_{z}", f"site_{i}", "walk", walk_factor, 1.34)
    testers = {}
    for pool in pools:
        centre = f"centre_{pool['name']}"
        pos[centre] = pool["xy"]
        for i in range(len(sites)):
            join(centre, f"site_{i}", "road", 1.3, 10.0)
        testers[pool["name"]] = {
            "centre": centre, "count": pool["count"], "registrar_share": pool.get("registrar_share", 0.0),
            "callup_delay_s": pool.get("delay", 0), "group_size": pool.get("group", 20),
            "group_interval_s": pool.get("interval", 600), "shift_s": pool.get("shift", 4 * 3600),
        }  # fmt: skip
    doc = {
        "name": "staffing_world", "kind": "mass_testing", "title": "staffing test world", "graph": "none",
        "seed": 3, "clock": {"start": "2021-10-31T20:00:00", "horizon_s": horizon_s},
        "population": {"zones": zone_docs},
        "testing": {"swab_time": swab or {"dist": "exponential", "mean_s": 60},
                    "registrars_per_booth": 1 if registrars else 0, "walk_speed_mps": 1.2,
                    "sites": [{"node": f"site_{i}", "booths": b} for i, (_, _, b) in enumerate(sites)]},
        "resources": {"testers": testers},
        "thresholds": {"target_finish_s": target_s},
    }  # fmt: skip
    scenario = MassTestingScenario.model_validate(doc)
    return scenario, MassTestingGeometry(scenario, graph)


@pytest.fixture
def park() -> tuple[MassTestingScenario, MassTestingGeometry]:
    """Six sites of 2–4 booths around three zones (1,500 visitors); two districts of 40 testers, half registrars."""
    zones = [(0, 0, 600), (900, 300, 500), (400, 1000, 400)]
    sites = [(100, 100, 3), (800, 200, 2), (500, 900, 4), (-200, 600, 2), (1000, 900, 3), (300, 400, 2)]
    pools = [
        {"name": "east", "xy": (6000, 0), "count": 40, "registrar_share": 0.5, "delay": 600, "group": 10,
         "interval": 600, "shift": 3 * 3600},
        {"name": "west", "xy": (-9000, 2000), "count": 40, "registrar_share": 0.5, "delay": 300, "group": 8,
         "interval": 900, "shift": 3 * 3600},
    ]  # fmt: skip
    return world(zones=zones, sites=sites, pools=pools, registrars=True)


def test_plan_passes_the_scenario_check(park):
    """The optimised plan names only the scenario's pools, sites, zones and roles, within their counts."""
    scenario, geo = park
    result = plan_staffing(scenario, geo, options=QUIET)
    assert result.feasible and result.plan is not None
    assert check_plan(result.plan, scenario) == []
    assert result.plan.of_type(AssignStaff) and result.plan.of_type(RouteVisitors)


def test_every_visitor_routed_and_no_pool_or_wave_over(park):
    """Each zone's shares add up to 1; no pool sends more of a role than it has; no wave more than its group."""
    scenario, geo = park
    plan = plan_staffing(scenario, geo, options=QUIET).plan
    shares: dict[str, float] = defaultdict(float)
    for act in plan.of_type(RouteVisitors):
        assert 0 < act.share <= 1
        shares[act.origin] += act.share
    assert set(shares) == {z.node for z in scenario.population.zones}
    assert all(abs(total - 1) < 1e-9 for total in shares.values())
    sent: dict[tuple[str, str], int] = defaultdict(int)
    wave: dict[tuple[str, int], int] = defaultdict(int)
    for act in plan.of_type(AssignStaff):
        pool = scenario.resources.testers[act.pool]
        assert act.at_s == geo.tester_departure_s(pool, act.wave)
        sent[(act.pool, act.role)] += act.count
        wave[(act.pool, act.wave)] += act.count
    have = pool_role_counts(scenario)
    assert all(n <= have[key] for key, n in sent.items())
    assert sent == have, "by default every tester who can reach a site is sent"
    assert all(n <= scenario.resources.testers[p].group_size for (p, _), n in wave.items())


def test_fluid_makespan_by_hand():
    """Two booths, testers arriving at known times, visitors walking in: the makespan worked out on paper."""
    # One site 10 m from the zone (walk 10 * 1.0 + 1 = 11 m at 1.2 m/s); one pool whose two waves of one tester
    # reach the site at t1 and t1 + 600; 100 visitors, 60 s a swab.
    scenario, geo = world(zones=[(0, 0, 100)], sites=[(10, 0, 2)],
                          pools=[{"name": "a", "xy": (1000, 0), "count": 2, "group": 1, "interval": 600}],
                          swab={"dist": "deterministic", "value_s": 60}, walk_factor=1.0)  # fmt: skip
    problem = staffing_problem(scenario, geo)
    t1 = problem.arrival(0, 0)
    assert t1 == pytest.approx((990 * 1.3 + 1) / 10, rel=1e-9)
    a = Assignment({(0, 0, "any"): 1, (1, 0, "any"): 1}, {(0, 0): 1.0})
    # By t1 + 600 one booth has swabbed 10 visitors; the remaining 90 take two booths 45 min.
    assert score(problem, a).makespan_s == pytest.approx(t1 + 600 + 90 * 60 / 2, rel=1e-9)
    # The first tester alone: 100 swabs of 60 s.
    only = Assignment({(0, 0, "any"): 1}, {(0, 0): 1.0})
    assert score(problem, only).makespan_s == pytest.approx(t1 + 100 * 60, rel=1e-9)


def test_visitors_are_not_swabbed_before_they_arrive():
    """A site staffed early still waits for visitors who walk a long way: the makespan is arrival plus swabs."""
    scenario, geo = world(zones=[(0, 0, 10)], sites=[(6000, 0, 5)],
                          pools=[{"name": "a", "xy": (6000, 10), "count": 5, "group": 5}],
                          swab={"dist": "deterministic", "value_s": 60}, walk_factor=1.0)  # fmt: skip
    problem = staffing_problem(scenario, geo)
    walk = float(problem.walk[0, 0])
    assert problem.arrival(0, 0) < walk
    a = Assignment({(0, 0, "any"): 5}, {(0, 0): 1.0})
    assert score(problem, a).makespan_s == pytest.approx(walk + 10 * 60 / 5, rel=1e-9)


# ------------------------------------------------------------------------------------------ brute force


def brute_force(problem) -> float:
    """The least fluid makespan over every whole assignment of every wave and every one-site-per-zone routing."""
    roles = problem.roles
    cells = [(s, r) for s in range(len(problem.sites)) for r in roles]
    per_wave = []
    for g, wave in enumerate(problem.waves):
        options = []
        for counts in itertools.product(range(wave.size + 1), repeat=len(cells)):
            if sum(counts) <= wave.size:
                options.append({(g, s, r): n for (s, r), n in zip(cells, counts, strict=True) if n})
        per_wave.append(options)
    caps = {(p, r): n for p, pool in enumerate(problem.pools) for r, n in pool.roles}
    best = math.inf
    routings = list(itertools.product(range(len(problem.sites)), repeat=len(problem.zones)))
    for combo in itertools.product(*per_wave):
        x: dict = {}
        for part in combo:
            x.update(part)
        used: dict = defaultdict(int)
        for (g, _, r), n in x.items():
            used[(problem.waves[g].pool, r)] += n
        if any(n > caps[key] for key, n in used.items()):
            continue
        for route in routings:
            y = {(z, s): 1.0 for z, s in enumerate(route) if problem.mass[z] > 0}
            best = min(best, score(problem, Assignment(x, y)).makespan_s)
    return best


SMALL = {
    "two_sites_two_zones": dict(
        zones=[(0, 0, 40), (500, 0, 25)], sites=[(50, 0, 2), (450, 50, 3)],
        pools=[{"name": "near", "xy": (2000, 0), "count": 3, "group": 2, "interval": 900, "delay": 300},
               {"name": "far", "xy": (-6000, 0), "count": 2, "group": 1, "interval": 300}]),
    "registrars": dict(
        zones=[(0, 0, 30), (300, 300, 20)], sites=[(0, 100, 2), (300, 250, 1)], registrars=True,
        pools=[{"name": "near", "xy": (2000, 0), "count": 2, "registrar_share": 0.5, "group": 2},
               {"name": "far", "xy": (-5000, 0), "count": 2, "registrar_share": 0.5, "group": 1,
                "interval": 1200}]),
    "three_sites_short_shifts": dict(
        zones=[(0, 0, 30), (600, 0, 20), (300, 500, 15)], sites=[(0, 50, 1), (600, 50, 2), (300, 450, 1)],
        pools=[{"name": "near", "xy": (1500, 0), "count": 2, "group": 1, "interval": 600, "shift": 1800},
               {"name": "far", "xy": (-4000, 0), "count": 1, "group": 1, "delay": 600}]),
    "late_arrivals": dict(
        zones=[(0, 0, 10), (700, 0, 5)], sites=[(50, 0, 1), (650, 0, 1)],
        arrivals={1: {"process": "deterministic", "periods": [{"from_s": 600, "rate_per_h": 60},
                                                               {"from_s": 1800, "rate_per_h": 0}]}},
        pools=[{"name": "near", "xy": (1000, 0), "count": 2, "group": 1, "interval": 600},
               {"name": "far", "xy": (-3000, 0), "count": 1, "group": 1}]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SMALL))
def test_whole_routing_matches_brute_force(name):
    """With one site per zone, the solver's makespan is the brute-force optimum and its bound is below it."""
    scenario, geo = world(**SMALL[name])
    problem = staffing_problem(scenario, geo)
    best = brute_force(problem)
    result = plan_staffing(scenario, geo, params=EXACT, options=StaffingOptions(split_zones=False, marginal=False))
    assert result.objective == pytest.approx(best, rel=1e-5)
    assert result.bound <= best * (1 + 1e-9)
    assert fluid_makespan(problem, result.plan).makespan_s == pytest.approx(result.objective, rel=1e-9)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_split_routing_is_no_worse_and_its_bound_holds(name):
    """Splitting zones over sites never loses to the best whole routing, and the bound stays below both."""
    scenario, geo = world(**SMALL[name])
    problem = staffing_problem(scenario, geo)
    best = brute_force(problem)
    result = plan_staffing(scenario, geo, params=EXACT, options=QUIET)
    assert result.objective <= best * (1 + 1e-6)
    assert result.bound <= result.objective * (1 + 1e-9)
    assert result.bound >= quick_lower_bound(problem) - 1e-6


# ------------------------------------------------------------------------------------------ against the default


def default_in_waves(scenario: MassTestingScenario, geo: MassTestingGeometry) -> Plan:
    """The scenario's default plan, its testers re-cut into waves of at most `group_size` across roles.

    (`default_plan` numbers waves per role, so with registrars a wave can carry two groups; that breaks the
    call-up rule the optimiser keeps, and would let the default send testers earlier than any allowed plan.)
    """
    plan = default_plan(scenario, geo.graph)
    actions: list[Any] = list(plan.of_type(RouteVisitors))
    by_pool: dict[str, list[AssignStaff]] = defaultdict(list)
    for act in plan.of_type(AssignStaff):
        by_pool[act.pool].append(act)
    for name, acts in by_pool.items():
        pool = scenario.resources.testers[name]
        wave, room = 0, pool.group_size
        for act in sorted(acts, key=lambda a: (a.wave, a.role)):
            left = act.count
            while left:
                take = min(left, room)
                actions.append(act.model_copy(update={"count": take, "wave": wave,
                                                      "at_s": geo.tester_departure_s(pool, wave)}))  # fmt: skip
                left, room = left - take, room - take
                if room == 0:
                    wave, room = wave + 1, pool.group_size
    return Plan.build(plan.meta, actions)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimised_plan_is_no_worse_than_the_default(seed):
    """Scored by the same fluid formula, the optimised makespan never exceeds the default plan's."""
    import numpy as np

    rng = np.random.default_rng(seed)
    zones = [(float(x), float(y), int(n)) for x, y, n in zip(rng.uniform(0, 1500, 4), rng.uniform(0, 1500, 4),
                                                            rng.integers(100, 600, 4), strict=True)]  # fmt: skip
    sites = [(float(x), float(y), int(b)) for x, y, b in zip(rng.uniform(-300, 1800, 7), rng.uniform(-300, 1800, 7),
                                                            rng.integers(1, 5, 7), strict=True)]  # fmt: skip
    pools = [{"name": f"d{i}", "xy": (float(rng.uniform(-9000, 9000)), float(rng.uniform(-9000, 9000))),
              "count": int(rng.integers(5, 30)), "registrar_share": 0.5, "group": int(rng.integers(3, 10)),
              "delay": int(rng.integers(0, 1800)), "interval": 600, "shift": 4 * 3600} for i in range(3)]  # fmt: skip
    scenario, geo = world(zones=zones, sites=sites, pools=pools, registrars=bool(seed % 2))
    problem = staffing_problem(scenario, geo)
    default = fluid_makespan(problem, default_in_waves(scenario, geo)).makespan_s
    result = plan_staffing(scenario, geo, options=QUIET)
    assert result.objective <= default * (1 + 1e-9)
    assert result.bound <= result.objective
    if not scenario.testing.registrars_per_booth:  # then the default keeps the waves as it is
        assert default == fluid_makespan(problem, default_plan(scenario, geo.graph)).makespan_s


# ------------------------------------------------------------------------------------------ diagnosis


def one_crew(count: int, target_s: float) -> tuple[MassTestingScenario, MassTestingGeometry]:
    """120 visitors next to one big site; one wave of `count` testers; 60 s swabs."""
    return world(zones=[(0, 0, 120)], sites=[(10, 0, 50)],
                 pools=[{"name": "only", "xy": (3000, 0), "count": count, "group": 100, "delay": 0}],
                 swab={"dist": "deterministic", "value_s": 60}, target_s=target_s)  # fmt: skip


def test_diagnosis_names_the_testers_needed():
    """A target the testers cannot meet says how many it needs: here 120 swabs of 60 s in the time after arrival."""
    scenario, geo = one_crew(3, 0.0)
    arrive = staffing_problem(scenario, geo).arrival(0, 0)
    target = arrive + 1200.0  # 20 swabs per tester by then: 6 testers
    scenario, geo = one_crew(3, target)
    result = plan_staffing(scenario, geo, options=QUIET)
    assert result.feasible and result.objective > target
    label = scenario.clock.label(target)
    assert result.diagnosis == f"needs at least 6 testers to finish by {label}; 3 are available"
    diag = diagnose_staffing(scenario, geo, finish_by_s=target)
    assert (diag.needed, diag.found, diag.available) == (6, 6, 3)
    enough, geo6 = one_crew(6, target)
    assert plan_staffing(enough, geo6, options=QUIET).objective <= target + 1e-6


def test_diagnosis_when_no_number_of_testers_suffices():
    """A target before the first tester can arrive cannot be met by any number of testers."""
    scenario, geo = one_crew(3, 60.0)
    result = plan_staffing(scenario, geo, options=QUIET)
    assert result.diagnosis is not None
    assert result.diagnosis.startswith(f"cannot finish by {scenario.clock.label(60.0)} with any number of testers")


def test_no_testers_at_all_is_infeasible_with_a_diagnosis():
    """With nobody to swab, there is no plan, and the diagnosis says how many testers the horizon needs."""
    scenario, geo = one_crew(0, None)
    result = plan_staffing(scenario, geo, options=QUIET)
    assert result.plan is None and result.status == "INFEASIBLE"
    assert result.diagnosis is not None and result.diagnosis.startswith("needs at least 1 tester to finish by")


# ------------------------------------------------------------------------------------------ more properties


def test_same_inputs_give_the_same_plan(park):
    """Solving twice gives the same actions and the same numbers."""
    scenario, geo = park
    first = plan_staffing(scenario, geo, options=QUIET)
    second = plan_staffing(scenario, geo, options=QUIET)
    assert first.plan.actions == second.plan.actions
    assert (first.objective, first.bound) == (second.objective, second.bound)


def test_rationale_says_what_binds_and_what_more_buys(park):
    """The rationale names the bound, the bottleneck, walking and the value of more testers and booths."""
    scenario, geo = park
    result = plan_staffing(scenario, geo)
    text = "\n".join(result.rationale)
    assert "no plan finishes before" in text
    assert "bottleneck:" in text
    assert "more east testers" in text and "more west testers" in text
    assert result.gap is not None and result.gap <= SolveParams().relative_gap + 1e-9


def test_simulation_of_the_plan_agrees_with_the_fluid_makespan():
    """With fixed swab times, the simulated last swab lands within a few swabs of the fluid makespan."""
    scenario, geo = world(zones=[(0, 0, 300), (800, 0, 200)], sites=[(100, 0, 3), (700, 0, 2), (400, 300, 2)],
                          pools=[{"name": "a", "xy": (4000, 0), "count": 5, "group": 2, "interval": 300},
                                 {"name": "b", "xy": (-4000, 0), "count": 4, "group": 4, "delay": 900}],
                          swab={"dist": "deterministic", "value_s": 45})  # fmt: skip
    result = plan_staffing(scenario, geo, options=QUIET)
    run = simulate(scenario, result.plan, geometry=geo)
    assert run.kpis["tested"] == run.kpis["visitors"] == 500
    assert run.kpis["last_tested_min"] * 60 == pytest.approx(result.objective, abs=4 * 45)


@st.composite
def small_worlds(draw) -> dict[str, Any]:
    """Arguments of `world` for 1–3 zones, 1–3 sites and 1–2 pools of up to 8 testers, sometimes with roles."""
    coord = st.integers(-1500, 1500)
    zones = [(draw(coord), draw(coord), draw(st.integers(0, 200))) for _ in range(draw(st.integers(1, 3)))]
    sites = [(draw(coord), draw(coord), draw(st.integers(1, 3))) for _ in range(draw(st.integers(1, 3)))]
    registrars = draw(st.booleans())
    pools = [{"name": f"p{i}", "xy": (draw(st.integers(-9000, 9000)), draw(st.integers(-9000, 9000))),
              "count": draw(st.integers(0, 8)), "registrar_share": 0.5 if registrars else 0.0,
              "group": draw(st.integers(1, 4)), "interval": draw(st.integers(0, 900)),
              "delay": draw(st.integers(0, 1800)), "shift": draw(st.sampled_from([1800, 3600, 14400]))}
             for i in range(draw(st.integers(1, 2)))]  # fmt: skip
    return {"zones": zones, "sites": sites, "pools": pools, "registrars": registrars}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_worlds())
def test_random_worlds_keep_the_invariants(args):
    """On random small worlds: a valid plan that routes everyone, scores as reported, and beats the default."""
    scenario, geo = world(**args)
    problem = staffing_problem(scenario, geo)
    default = fluid_makespan(problem, default_in_waves(scenario, geo)).makespan_s
    result = plan_staffing(scenario, geo, options=QUIET)
    if result.plan is None:
        assert result.status == "INFEASIBLE" and result.diagnosis
        assert math.isinf(default)
        return
    assert check_plan(result.plan, scenario) == []
    shares: dict[str, float] = defaultdict(float)
    for act in result.plan.of_type(RouteVisitors):
        shares[act.origin] += act.share
    assert all(abs(total - 1) < 1e-9 for total in shares.values())
    assert fluid_makespan(problem, result.plan).makespan_s == pytest.approx(result.objective, rel=1e-9, abs=1e-6)
    assert result.bound <= result.objective + 1e-6
    assert result.objective <= default * (1 + 1e-9) + 1e-6


@st.composite
def tiny_worlds(draw) -> dict[str, Any]:
    """Worlds small enough to enumerate: 1–2 zones, 1–2 sites, 1–2 pools of at most 3 testers in waves of 1–2."""
    args = draw(small_worlds())
    args["zones"], args["sites"] = args["zones"][:2], args["sites"][:2]
    for pool in args["pools"]:
        pool["count"], pool["group"] = min(pool["count"], 3), min(pool["group"], 2)
    return args


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_worlds())
def test_random_tiny_worlds_match_brute_force(args):
    """On random tiny worlds, one site per zone: the solver's makespan is the enumerated optimum, above its bound."""
    scenario, geo = world(**args)
    best = brute_force(staffing_problem(scenario, geo))
    result = plan_staffing(scenario, geo, params=EXACT, options=StaffingOptions(split_zones=False, marginal=False))
    if math.isinf(best):
        assert result.plan is None
        return
    assert result.objective == pytest.approx(best, rel=1e-6, abs=0.02)
    assert result.bound <= best + 1e-6


def test_disney_is_planned_to_a_proven_one_percent():
    """The built-in Disney scenario (33,863 visitors, 610 testers, 40 sites) is solved to 1% and beats the default."""
    from scenarios import builtin_scenario_names, load_scenario
    from scenarios.loading import scenario_graph

    assert "disney_mass_testing" in builtin_scenario_names()
    scenario = load_scenario("disney_mass_testing")
    assert isinstance(scenario, MassTestingScenario)
    geo = MassTestingGeometry(scenario, scenario_graph(scenario))
    result = plan_staffing(scenario, geo, options=QUIET)
    assert result.status == "OPTIMAL" and result.gap is not None and result.gap <= 0.01
    assert result.details["phase1_s"] < 10
    assert check_plan(result.plan, scenario) == []
    default = fluid_makespan(staffing_problem(scenario, geo), default_in_waves(scenario, geo)).makespan_s
    assert result.objective < default
