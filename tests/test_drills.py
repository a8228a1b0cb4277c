"""Drills: injects fire at their times (conditional ones only when their condition holds), a trainee may take
command of an exercise only, and each decision's score is reproducible from the stored decisions."""

from __future__ import annotations

import pytest
from store_support import DATA, PASSWORD, make_world, tiny_plan

from command.drills import score_drill, start_drill
from command.errors import BadInput, Conflict, NotAuthorised
from command.kinds import simulate
from command.loop import advance
from command.plans import approve_plan, create_plan, reject_plan, revise_plan, view_plan
from scenarios import load_scenario

TINY = str(DATA / "one_site_mmc.yaml")
SCRIPT = [
    {"at_s": 1800, "kind": "delay", "target": "local", "params": {"delay_s": 900}, "note": "testers held up"},
    {"at_s": 3600, "kind": "message", "condition": "queue_total > 100000", "note": "never true here"},
    {"at_s": 5400, "kind": "message", "condition": "tested > 10", "note": "true by then"},
]


def _with(injects):  # type: ignore[no-untyped-def]
    base = load_scenario(TINY)
    doc = base.model_dump(mode="json")
    doc["injects"] = injects
    from scenarios.loading import scenario_from_document

    return scenario_from_document(doc, file="drill")


def test_injects_fire_at_their_times_and_only_when_their_condition_holds():
    """The delay and the true condition fire at their times; the false condition is skipped; nothing else."""
    result = simulate(_with(SCRIPT), None, seed=3)
    told = [(e.t_s, e.kind, e.data["index"]) for e in result.events if e.kind.startswith("inject")]
    assert told == [(1800.0, "inject", 0), (3600.0, "inject_skipped", 1), (5400.0, "inject", 2)]


def test_a_delay_inject_holds_back_only_staff_not_yet_dispatched():
    """Testers dispatched after the delay fires leave later; those already on their way are not delayed."""
    plan = tiny_plan(_with([]))
    staff = plan.actions[1].model_copy(update={"at_s": 3600.0})
    late = plan.model_copy(update={"actions": (plan.actions[0], staff)})
    early = simulate(_with([{**SCRIPT[0], "at_s": 4000}]), late, seed=3)  # fires after the group left
    held = simulate(_with([SCRIPT[0]]), late, seed=3)  # fires before the group leaves at 3600
    arrive = [e.t_s for e in early.events if e.kind == "testers_arrive"]
    arrive_held = [e.t_s for e in held.events if e.kind == "testers_arrive"]
    assert arrive_held[0] == pytest.approx(arrive[0] + 900)


def test_a_malformed_condition_or_delay_is_refused_by_field():
    """A condition that is not QUANTITY OP NUMBER, or a delay without a pool, is refused naming the inject."""
    from scenarios import ScenarioError

    with pytest.raises(ScenarioError, match="injects"):
        _with([{"at_s": 10, "kind": "message", "condition": "queue is long"}])
    with pytest.raises(ScenarioError, match="injects"):
        _with([{"at_s": 10, "kind": "delay", "params": {"delay_s": 60}}])
    with pytest.raises(ScenarioError, match="not a tester pool"):
        _with([{"at_s": 10, "kind": "delay", "target": "nowhere", "params": {"delay_s": 60}}])


@pytest.fixture
def drill(tmp_path):
    """A drill on the tiny scenario with the script above, an observer (trainee) in command."""
    world = make_world(f"sqlite:///{tmp_path / 'drill.db'}")
    iid = start_drill(world.store, world["admin"], TINY, injects=SCRIPT, jurisdiction="pudong", trainee="obs_pudong")
    yield world, iid
    world.store.dispose()


def test_trainees_command_exercises_but_not_real_incidents(drill):
    """A trainee holds the drill; the same trainee cannot be given a real incident."""
    world, iid = drill
    from command.authority import grant_command
    from command.incidents import get_incident, open_incident

    assert get_incident(world.store, world["admin"], iid).holder == "obs_pudong"
    real = open_incident(world.store, world["admin"], load_scenario(TINY), jurisdiction="pudong")
    with pytest.raises(BadInput, match="only an active commander"):
        grant_command(world.store, world["admin"], real, "obs_pudong")
    with pytest.raises(BadInput, match="delay inject needs"):
        start_drill(world.store, world["admin"], TINY, injects=[{"at_s": 5, "kind": "delay"}], jurisdiction="pudong",
                    trainee="obs_pudong")  # fmt: skip


def test_advance_stops_at_each_inject_and_says_whether_it_fired(drill):
    """The drill's clock stops at each inject; the log says which fired and which were skipped."""
    world, iid = drill
    stops = [advance(world.store, world["planner"], iid) for _ in range(3)]
    assert [s.to_s for s in stops] == [1800.0, 3600.0, 5400.0]
    assert "inject delay" in stops[0].needs_replan
    assert stops[1].needs_replan == ""  # the skipped inject asks for nothing
    from command.incidents import activity

    kinds = [a.kind for a in activity(world.store, world["admin"], iid) if a.kind.startswith("inject")]
    assert kinds == ["inject", "inject_skipped", "inject"]


def test_scores_are_reproducible_and_reward_the_optimisers_choice(drill):
    """Approving the optimiser's proposal scores 100; a worse revision or a rejection scores less; the same
    stored decisions always give the same scores."""
    world, iid = drill
    scenario = load_scenario(TINY)
    trainee = world["obs_pudong"]
    best = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    approve_plan(world.store, trainee, best, password=PASSWORD, shown=view_plan(world.store, trainee, best).shown())
    worse = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    revise_plan(world.store, world["planner"], worse, tiny_plan(scenario, count=6))
    approve_plan(world.store, trainee, worse, password=PASSWORD, shown=view_plan(world.store, trainee, worse).shown())
    third = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    reject_plan(world.store, trainee, third, password=PASSWORD, reason="trainee said no",
                shown=view_plan(world.store, trainee, third).shown())  # fmt: skip
    scores = score_drill(world.store, world["admin"], iid)
    assert [s.decision for s in scores] == ["approved", "approved", "rejected"]
    assert scores[0].score == pytest.approx(100.0)
    assert scores[1].score < 100.0 and scores[2].score < 100.0  # the rejection left the worse plan in effect
    assert score_drill(world.store, world["admin"], iid) == scores
    fourth = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    with pytest.raises(NotAuthorised):  # in a drill, the trainee in command decides, not another commander
        approve_plan(world.store, world["cmd_pudong"], fourth, password=PASSWORD,
                     shown=view_plan(world.store, world["admin"], fourth).shown())  # fmt: skip


def test_only_exercises_are_scored(tmp_path):
    """Scoring a real incident is refused."""
    world = make_world(f"sqlite:///{tmp_path / 'real.db'}")
    from command.incidents import open_incident

    real = open_incident(world.store, world["admin"], load_scenario(TINY), jurisdiction="pudong")
    with pytest.raises(Conflict, match="not an exercise"):
        score_drill(world.store, world["admin"], real)
    world.store.dispose()


BUILT_IN = [("disney_testers_delayed", "disney_mass_testing"), ("bund_2014_metro_surge", "bund_new_year_2014"),
            ("typhoon_upgraded", "huangpu_typhoon")]  # fmt: skip


@pytest.mark.parametrize(("drill_name", "scenario_name"), BUILT_IN)
def test_the_built_in_drills_are_valid_for_the_scenario_they_name(drill_name, scenario_name):
    """Each built-in inject script names its scenario and passes that scenario's checks (targets, params)."""
    from command.drills import builtin_drill_dir, builtin_drill_names, read_injects
    from scenarios.loading import scenario_from_document

    assert drill_name in builtin_drill_names()
    assert f"Drill for {scenario_name}" in (builtin_drill_dir() / f"{drill_name}.yaml").read_text(encoding="utf-8")
    script = read_injects(drill_name)
    doc = load_scenario(scenario_name).model_dump(mode="json")
    doc["injects"] = script
    assert len(scenario_from_document(doc, file=drill_name).injects) == len(script) >= 3


def test_the_disney_drill_holds_back_xuhuis_testers_and_an_unknown_drill_is_named():
    from command.drills import read_injects

    doc = load_scenario("disney_mass_testing").model_dump(mode="json")
    doc["injects"] = read_injects("disney_testers_delayed")
    from scenarios.loading import scenario_from_document

    result = simulate(scenario_from_document(doc, file="drill"), None, seed=1)
    late = [e for e in result.events if e.kind == "testers_delayed"]
    assert late and {e.data["pool"] for e in late} == {"xuhui"} and all(e.data["delay_s"] == 2700 for e in late)
    with pytest.raises(BadInput, match=r"not a built-in drill .*bund_2014_metro_surge"):
        read_injects("no_such_drill")
