"""The Run -> plan budget (`command.budget`): split up front from the scenario alone, the same plan however busy the
machine, the default plan's simulation beside the optimiser giving what it gives in this process, and the plan
job in a process of its own reporting where it is."""

from __future__ import annotations

import functools
import os
import time

import pytest
from store_support import DATA, tiny_scenario

from command.budget import (
    MARGIN,
    MAX_LIMIT_S,
    PROPOSE_S,
    START_S,
    StageCosts,
    StageMessage,
    overrun_note,
    plan_budget,
    split_budget,
    stage_message,
)
from command.incidents import open_incident
from command.kinds import simulate
from command.loop import plan_incident
from command.parallel import beside
from command.plans import view_plan
from command.runs import run_loaded
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan


def test_the_optimiser_gets_what_the_simulations_leave_per_second_of_limit() -> None:
    """A hand-worked split: 15 s less its 10% margin is 13.5 s; less a 2 s forecast and 0.5 s proposing leaves
    11 s; less 1.5 s fixed work at 2 s per second of limit, the limit is 4.75 s, 4.7 s to the tenth below; the
    baseline (2.5 s with its start) runs beside 1.5 + 9.4 = 10.9 s of optimiser, so the estimate is 10.9 + 2 + 0.5
    = 13.4 s."""
    assert MARGIN == 0.1
    costs = StageCosts(simulate_s=2.0, optimise_fixed_s=1.5, per_limit=2.0)
    b = split_budget(costs, 15.0)
    assert b.time_limit_s == 4.7
    assert b.stage("optimise").seconds == pytest.approx(1.5 + 2 * 4.7)
    assert b.stage("baseline").seconds == pytest.approx(START_S + 2.0)
    assert b.estimate_s == pytest.approx(10.9 + 2.0 + PROPOSE_S)
    assert b.fits


def test_a_budget_too_small_keeps_the_least_limit_and_says_by_how_much_it_is_over() -> None:
    """Simulations that alone exceed the budget are run in full; the optimiser keeps its least limit; the
    summary says the estimate and the excess."""
    costs = StageCosts(simulate_s=10.0, optimise_fixed_s=4.0, per_limit=1.0, min_limit_s=3.0)
    b = split_budget(costs, 15.0)
    assert b.time_limit_s == 3.0 and not b.fits
    assert b.estimate_s == pytest.approx(max(4.0 + 3.0, START_S + 10.0) + 10.0 + PROPOSE_S)
    assert "the estimate is 21.0 s, 6.0 s over" in b.summary()


def test_a_generous_budget_gives_no_more_than_the_largest_limit() -> None:
    """However long the budget, the optimiser's limit is at most `MAX_LIMIT_S`."""
    b = split_budget(StageCosts(simulate_s=0.1, optimise_fixed_s=0.0, per_limit=1.0), 600.0)
    assert b.time_limit_s == MAX_LIMIT_S


def test_a_replan_pays_for_the_state_first() -> None:
    """A re-plan halfway through reads the state off half a simulation, which the optimiser's share pays for."""
    costs = StageCosts(simulate_s=2.0, optimise_fixed_s=0.0, per_limit=1.0)
    start, half = split_budget(costs, 8.0), split_budget(costs, 8.0, state_share=0.5)
    assert half.stage("state").seconds == pytest.approx(1.0)
    assert half.time_limit_s == pytest.approx(start.time_limit_s - 1.0)


@pytest.mark.parametrize("total", [0.0, -5.0])
def test_a_budget_that_is_not_positive_is_refused_by_name(total: float) -> None:
    """A zero or negative budget is bad input, named as such."""
    with pytest.raises(ValueError, match=f"budget: {total:g} s is not a positive"):
        split_budget(StageCosts(1.0, 1.0, 1.0), total)


def test_the_split_depends_on_the_scenario_alone() -> None:
    """The same scenario and budget give the same split in any state of the machine: no stage estimate reads a
    clock; a bigger crowd (a longer evening) leaves the optimiser less."""
    crowd = load_scenario("bund_new_year_2014")
    assert plan_budget(crowd, 15.0) == plan_budget(crowd, 15.0)
    longer = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=21600"])
    assert plan_budget(longer, 15.0).stage("forecast").seconds > plan_budget(crowd, 15.0).stage("forecast").seconds
    assert plan_budget(longer, 15.0).time_limit_s <= plan_budget(crowd, 15.0).time_limit_s


def test_stage_messages_say_the_stage_and_move_the_bar_forward() -> None:
    """Each stage's message names it with its number and share, is a plain string, and its place in the bar
    never goes back; the default plan's simulation shares the optimiser's number."""
    b = split_budget(StageCosts(simulate_s=2.0, optimise_fixed_s=1.0, per_limit=1.0), 15.0)
    said = [stage_message(b, key) for key in ("baseline", "optimise", "forecast", "propose")]
    assert all(isinstance(m, str) and isinstance(m, StageMessage) for m in said)
    assert [m.split("]")[0] for m in said] == ["[1/3", "[1/3", "[2/3", "[3/3"]
    places = [m.fraction for m in said]
    assert places == sorted(places) and places[0] == 0.0 and places[-1] < 1.0
    assert "(2.0 s of 15 s)" in said[2]


def test_the_wall_clock_cap_is_said_only_when_passed() -> None:
    """Past twice its budget a run says so (and that the plan is the one a quiet machine makes); within, not."""
    b = split_budget(StageCosts(1.0, 1.0, 1.0), 15.0)
    assert overrun_note(b, 29.0) is None
    note = overrun_note(b, 41.0)
    assert note is not None and "41 s against a budget of 15 s" in note


def test_inside_a_budget_no_solve_is_cut_before_the_pipelines_cap() -> None:
    """A 1 s deterministic limit is capped at 10 x 1 + 1 = 11 s on its own, at the pipeline's 10 x 15 = 150 s inside
    a 15 s budget's `safety_cap`, and at its own again after it; a longer limit keeps its own, later cap."""
    from optimizer.solving import Budget, safety_cap, wall_cap_s

    b = split_budget(StageCosts(1.0, 1.0, 1.0), 15.0)
    assert wall_cap_s(1.0) == 11.0
    with safety_cap(b.solve_cap_s):
        assert wall_cap_s(1.0) == 150.0 and wall_cap_s(60.0) == 601.0
        assert Budget(1.0, deterministic=True).wall_cap_s == 150.0
    assert wall_cap_s(1.0) == 11.0


def _fails(x: int) -> int:
    raise KeyError(f"no such thing: {x}")


def test_work_beside_gives_what_it_gives_here_and_raises_what_it_raises() -> None:
    """The default plan's simulation in a process of its own is the one made in this process; an exception in
    the work comes back as itself."""
    scenario = tiny_scenario()
    with beside(simulate, scenario, default_plan(scenario), seed=11) as pending:
        there = pending.result()
    here = simulate(scenario, default_plan(scenario), seed=11)
    assert there.kpis == here.kpis and there.events == here.events
    assert pending.where != "here"
    with beside(_fails, 3) as pending, pytest.raises(KeyError, match="no such thing: 3"):
        pending.result()


def test_a_budgeted_run_is_the_run_without_a_budget_at_the_budgets_limit() -> None:
    """With a budget the baseline, the plan and its forecast are those of the plain run at the limit the budget
    gave: running the baseline beside the optimiser changes nothing."""
    scenario = tiny_scenario()
    budget = plan_budget(scenario, 6.0)
    said: list[str] = []
    on_budget = run_loaded(scenario, seed=5, budget=budget, progress=said.append)
    plain = run_loaded(scenario, seed=5, params=SolveParams(time_limit_s=budget.time_limit_s))
    assert on_budget.baseline.kpis == plain.baseline.kpis
    assert on_budget.solve is not None and plain.solve is not None
    assert on_budget.solve.plan is not None and plain.solve.plan is not None
    assert on_budget.solve.plan.digest() == plain.solve.plan.digest()
    assert on_budget.planned is not None and plain.planned is not None
    assert on_budget.planned.kpis == plain.planned.kpis
    assert [m.fraction for m in said if isinstance(m, StageMessage)] == sorted(
        m.fraction for m in said if isinstance(m, StageMessage))  # fmt: skip


def test_planning_on_a_budget_twice_proposes_the_same_plan(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same incident planned twice on the same budget gives the same plan (digest) and forecast, and the
    plan records the budget it was made on."""
    from store_support import make_world

    world = make_world(f"sqlite:///{tmp_path / 'budget.db'}")
    scenario = load_scenario(DATA / "one_site_mmc.yaml")
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    said: list[str] = []
    first = plan_incident(world.store, world["planner"], iid, budget_s=8.0, progress=said.append)
    second = plan_incident(world.store, world["planner"], iid, budget_s=8.0)
    a, b = view_plan(world.store, world["admin"], first), view_plan(world.store, world["admin"], second)
    assert a.plan.digest() == b.plan.digest()
    assert a.forecast["planned"] == b.forecast["planned"] and a.forecast["baseline"] == b.forecast["baseline"]
    assert a.solver["budget"] == {"total_s": 8.0, "time_limit_s": plan_budget(scenario, 8.0).time_limit_s,
                                  "estimate_s": round(plan_budget(scenario, 8.0).estimate_s, 3)}  # fmt: skip
    assert said[0].startswith("budget 8 s:") and "proposing" in said[-1]
    world.store.dispose()


def _slow_work(report):  # type: ignore[no-untyped-def]
    report(StageMessage("halfway", 0.5))
    for _ in range(400):
        time.sleep(0.05)
        report("still going")
    return os.getpid()


def test_a_process_job_reports_where_it_is_and_stops_when_cancelled() -> None:
    """A job in its own process moves the bar to where its reports say, and a cancel stops it at its next
    report, with no result."""
    from command.console import jobs

    jobs.st.session_state.clear()
    job = jobs.start("t", "test", _slow_work, steps=4, process=True)
    end = time.monotonic() + 60
    while "halfway" not in job.messages and time.monotonic() < end:
        time.sleep(0.02)
    assert job.running and job.fraction == 0.5
    assert job.pid is not None and job.pid != os.getpid()
    job.cancel()
    assert job.wait(60)
    assert job.cancelled and job.result is None and job.error is None


def _one_report_then_pid(report):  # type: ignore[no-untyped-def]
    report("one")
    return os.getpid()


def _fails_as_a_job(n, report):  # type: ignore[no-untyped-def]
    return _fails(n)


def test_a_process_job_returns_its_result_or_its_error() -> None:
    """The work's return value comes back from its process; its exception as one line of error."""
    from command.console import jobs

    jobs.st.session_state.clear()
    done = jobs.start("a", "test", _one_report_then_pid, steps=1, process=True)
    failed = jobs.start("b", "test", functools.partial(_fails_as_a_job, 7), steps=1, process=True)
    assert done.wait(60) and failed.wait(60)
    assert done.result == done.pid and done.result != os.getpid() and done.messages == ["one"]
    assert failed.error == "'no such thing: 7'" and failed.result is None


def test_a_kind_registered_at_run_time_is_planned_on_a_budget_beside_other_threads() -> None:
    """With other threads running (the console's case: the default plan's simulation is then spawned, not forked),
    a kind registered in this process only (the shelter of tests/shelter_kind.py) plans on a budget as it does
    without one: its own simulation is what the new process runs."""
    import threading

    import shelter_kind  # noqa: F401  (registers the kind in this process)

    scenario = load_scenario(DATA / "shelter.yaml")
    budget = plan_budget(scenario, 6.0)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        on_budget = run_loaded(scenario, seed=3, budget=budget)
    finally:
        stop.set()
    plain = run_loaded(scenario, seed=3, params=SolveParams(time_limit_s=budget.time_limit_s))
    assert on_budget.baseline.kpis == plain.baseline.kpis
    assert on_budget.planned is not None and plain.planned is not None
    assert on_budget.planned.kpis == plain.planned.kpis
