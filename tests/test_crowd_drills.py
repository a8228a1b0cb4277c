"""Crowd drills: injects fire at their times on the crowd model (conditional ones only when their condition
holds), and each kind changes the simulated crowd as it says: a surge adds arrivals, a closure moves them, a
delay holds a team back, a show change acts as the plan's would; people are conserved throughout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_crowd_invariants import Books

from scenarios import ScenarioError
from scenarios.loading import load_scenario
from scenarios.plan import AssignStaff, ChangeShow, CloseExit, MeterFlow, Plan
from scenarios.state import ReplanState
from simulation.crowd import CrowdModel, state_at

# Two entrances 200 m apart on either side of a junction, a viewing area and an exit off it.
NODES = [("a", "entrance", 0, 0, 0), ("b", "entrance", 200, 0, 0), ("j", "junction", 100, 0, 0),
         ("v", "viewing_area", 100, 50, 2000), ("x", "exit", 100, -30, 0)]  # fmt: skip
EDGES = [("a", "j", 100, 4.0), ("b", "j", 100, 4.0), ("j", "v", 50, 6.0), ("j", "x", 30, 4.0)]
A, B = 0, 1  # origin indexes
SURGE = {"at_s": 300, "kind": "surge", "target": "a", "params": {"rate_per_h": 7200, "duration_s": 300},
         "note": "a train unloads more people than forecast"}  # fmt: skip


def _world(tmp: Path, injects: list[dict[str, Any]], **extra: Any):  # type: ignore[no-untyped-def]
    """The two-entrance world, 3,600 arrivals an hour split evenly, with these injects."""
    return crowd_scenario(tmp, NODES, EDGES, origins={"a": 0.5, "b": 0.5}, destinations={"v": 1.0}, exits=["x"],
                          rate_per_h=3600, horizon_s=1200, injects=injects, **extra)  # fmt: skip


class ByStep:
    """Per step: arrivals so far at each origin, and the people at each node."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.arrived: list[np.ndarray] = []
        self.at_node: list[np.ndarray] = []

    def __call__(self, m: CrowdModel) -> None:
        self.t.append(m.step_no * m.dt)
        self.arrived.append(m.arrived_at.copy())
        self.at_node.append(m.node_people().copy())


def _run(scenario, plan: Plan | None = None, seed: int = 1) -> tuple[CrowdModel, ByStep, Any]:  # type: ignore[no-untyped-def]
    steps = ByStep()
    model = CrowdModel(scenario, plan if plan is not None else plan_of(scenario), seed=seed, on_step=steps)
    return model, steps, model.run()


def _told(result) -> list[tuple[float, str, int]]:  # type: ignore[no-untyped-def]
    return [(e.t_s, e.kind, e.data["index"]) for e in result.events if e.kind.startswith("inject")]


def test_a_surge_adds_its_arrivals_at_its_origin_from_its_time(tmp_path):
    """A surge of 7,200 an hour for 5 minutes at entrance a brings exactly 600 more people there, from 300 s
    to 600 s, and none anywhere else."""
    _, base, _ = _run(_world(tmp_path, []))
    _, surge, result = _run(_world(tmp_path, [SURGE]))
    assert _told(result) == [(300.0, "inject", 0)]
    extra = np.array(surge.arrived) - np.array(base.arrived)  # per step (after it), per origin
    t = np.array(surge.t)
    assert np.all(extra[t <= 300, A] == 0)  # the step at 300 s is the first with the surge (t is its end)
    assert extra[t == 301, A][0] == pytest.approx(2.0)  # 7,200 an hour is 2 a second
    assert np.all(extra[t >= 600, A] == pytest.approx(600.0))
    assert np.all(extra[:, B] == 0)
    assert result.kpis["visitors"] == pytest.approx(3600 * 1200 / 3600 + 600)


def test_a_conditional_inject_fires_only_when_its_condition_holds(tmp_path):
    """A surge gated on `entry_queue > 100` fires when the trainee's plan meters entrance a (people queue
    outside it) and is skipped when nothing is metered; only the fired one adds arrivals."""
    gated = {**SURGE, "at_s": 600, "condition": "entry_queue > 100"}
    s = _world(tmp_path, [gated], staff={"team": {"count": 10, "base": "a"}})
    metered = plan_of(s, AssignStaff(at_s=0, pool="team", to="a", count=10),
                      MeterFlow(at_s=0, node="a", rate_per_min=5))  # fmt: skip
    _, _, held = _run(s, metered)
    _, _, free = _run(s, plan_of(s, AssignStaff(at_s=0, pool="team", to="a", count=10)))
    assert _told(held) == [(600.0, "inject", 0)]
    assert _told(free) == [(600.0, "inject_skipped", 0)]
    assert "entry_queue > 100: yes" in next(e.text for e in held.events if e.kind == "inject")
    assert held.kpis["visitors"] == pytest.approx(free.kpis["visitors"] + 600)


def test_state_at_says_which_injects_fired_by_then(tmp_path):
    """`state_at` fills `fired` with the injects that fired by `at_s`, those due at `at_s` whose condition holds
    included, and leaves out a conditional one whose condition did not hold and those not yet due."""
    gated = {**SURGE, "at_s": 600, "condition": "entry_queue > 100"}
    later = {**SURGE, "at_s": 900}
    s = _world(tmp_path, [SURGE, gated, later])
    plan = plan_of(s)
    assert state_at(s, plan, seed=1, at_s=300).fired == frozenset({0})  # due then, no condition: fires
    assert state_at(s, plan, seed=1, at_s=299).fired == frozenset()
    state = state_at(s, plan, seed=1, at_s=800)
    assert state.fired == frozenset({0}) and state.at_s == 800  # the gated surge was skipped (no queue)
    assert isinstance(state, ReplanState)
    assert state_at(s, plan, seed=1, at_s=1000).fired == frozenset({0, 2})


def test_a_closed_entrance_sends_its_arrivals_to_the_nearest_open_one_and_takes_nobody_in(tmp_path):
    """While entrance a is closed (300-600 s) its arrivals come in at b, nobody enters a, and it empties; after
    it reopens, arrivals come in at a again."""
    close = {"at_s": 300, "kind": "close_exit", "target": "a", "params": {"duration_s": 300}}
    model, steps, result = _run(_world(tmp_path, [close]))
    t, arrived = np.array(steps.t), np.array(steps.arrived)
    people_a = np.array(steps.at_node)[:, model.net.index["a"]]
    shut = (t > 300) & (t <= 600)
    assert np.all(np.diff(arrived[shut, A]) == 0)
    assert np.all(np.diff(arrived[shut, B]) == pytest.approx(1.0))  # both halves of 3,600 an hour
    assert np.all(np.diff(people_a[shut]) <= 1e-12)  # nobody enters a closed node
    assert people_a[t == 600][0] == pytest.approx(0.0, abs=1e-9)
    assert arrived[-1, A] > arrived[t == 600][0, A]
    exits = [(e.t_s, e.text) for e in result.events if e.kind == "exit"]
    assert exits == [(300.0, "a closed (inject)"), (600.0, "a reopened (inject)")]


def test_a_close_exit_inject_acts_like_the_plans_close_exit(tmp_path):
    """Closing entrance a by an inject gives the same KPIs and series as a plan that closes it then."""
    close = {"at_s": 300, "kind": "close_exit", "target": "a", "params": {"duration_s": 300}}
    by_inject = _run(_world(tmp_path, [close]))[2]
    s = _world(tmp_path, [])
    by_plan = _run(s, plan_of(s, CloseExit(at_s=300, node="a", until_s=600)))[2]
    assert by_inject.kpis == by_plan.kpis
    assert by_inject.series == by_plan.series


def test_people_queued_outside_a_closing_entrance_go_to_the_nearest_open_one(tmp_path):
    """People held in the holding area of a metered entrance when it closes wait at the nearest open entrance's
    instead (it has room for them all)."""
    close = {"at_s": 300, "kind": "close_exit", "target": "a"}
    s = _world(tmp_path, [close], staff={"team": {"count": 10, "base": "a"}})
    plan = plan_of(s, AssignStaff(at_s=0, pool="team", to="a", count=10), MeterFlow(at_s=0, node="a", rate_per_min=5))
    queued: dict[float, np.ndarray] = {}
    model = CrowdModel(s, plan, seed=1, on_step=lambda m: queued.setdefault(
        m.step_no * m.dt, m.n_nodes_arr[m.holding_node].sum(axis=1)))  # fmt: skip
    model.run()
    assert queued[300.0][A] > 100  # the meter held them back
    assert queued[301.0][A] == 0.0
    assert queued[301.0][B] > queued[300.0][B] + 0.9 * queued[300.0][A]  # less one step's entry at b


def test_a_delay_inject_postpones_a_team_not_yet_at_its_post(tmp_path):
    """Reinforcements called up at 600 s reach their post 15 minutes later when a delay inject fires before
    they arrive; a delay that fires after they are posted changes nothing."""
    staff = {"reinforcements": {"count": 20, "base": "x", "callup_delay_s": 600}}
    delay = {"at_s": 300, "kind": "delay", "target": "reinforcements", "params": {"delay_s": 900}}

    def posted(injects: list[dict[str, Any]]) -> list[float]:
        s = _world(tmp_path, injects, staff=staff, clock={"start": "2021-07-01T19:00:00", "horizon_s": 3000})
        result = _run(s, plan_of(s, AssignStaff(at_s=0, pool="reinforcements", to="j", count=20)))[2]
        return [e.t_s for e in result.events if e.kind == "staff_posted"]

    on_time = posted([])
    assert on_time == [pytest.approx(600 + 30 / 1.34)]  # call-up, then 30 m on foot
    assert posted([delay]) == [pytest.approx(on_time[0] + 900)]
    assert posted([{**delay, "at_s": 1000}]) == on_time


def test_a_show_inject_acts_like_the_plans_show_change(tmp_path):
    """The organiser pausing a show segment by an inject gives the same run as a plan that pauses it then."""
    shows = [{"start_s": 600, "duration_s": 300, "attraction": 1.0}]
    dwell = {"dist": "lognormal", "mean_s": 400, "sd_s": 100}
    pause = {"at_s": 700, "kind": "show", "params": {"segment": 0, "change": "pause", "minutes": 5}}
    by_inject = _run(_world(tmp_path, [pause], shows=shows, dwell=dwell))[2]
    s = _world(tmp_path, [], shows=shows, dwell=dwell)
    by_plan = _run(s, plan_of(s, ChangeShow(at_s=700, segment=0, change="pause", minutes=5)))[2]
    unchanged = _run(s)[2]
    assert by_inject.kpis == by_plan.kpis
    assert by_inject.series == by_plan.series
    assert by_inject.series["departed"] != unchanged.series["departed"]


def test_crowd_inject_targets_and_params_are_checked(tmp_path):
    """A surge not at an origin, a closure of an unknown node, a delay of an unknown team, a show segment the
    scenario lacks, and a surge without a rate are refused with the inject's field path and the reason."""
    bad = [
        ({**SURGE, "target": "j"}, "injects[0].target", "not an origin"),
        ({"at_s": 5, "kind": "close_exit", "target": "nowhere"}, "injects[0].target", "unknown node 'nowhere'"),
        ({"at_s": 5, "kind": "delay", "target": "nobody", "params": {"delay_s": 60}}, "injects[0].target",
         "not a staff team"),
        ({"at_s": 5, "kind": "show", "params": {"segment": 0, "change": "cancel"}}, "injects[0].params.segment",
         "no show segment 0"),
        ({"at_s": 5, "kind": "show", "params": {"segment": 0, "change": "pause"}}, "injects[0]", "minutes > 0"),
        ({**SURGE, "params": {"duration_s": 60}}, "injects[0]", "rate_per_h > 0"),
    ]  # fmt: skip
    for inject, path, reason in bad:
        with pytest.raises(ScenarioError) as info:
            _world(tmp_path, [inject])
        [problem] = info.value.problems
        assert problem.path == path and reason in problem.reason


@st.composite
def drills(draw):  # type: ignore[no-untyped-def]
    """A random script of crowd injects on the two-entrance world, some conditional."""
    out = []
    for _ in range(draw(st.integers(1, 5))):
        at = float(draw(st.sampled_from([0, 1, 59.5, 150, 299])))
        kind = draw(st.sampled_from(["surge", "close_exit", "delay", "show", "message"]))
        inj: dict[str, Any] = {"at_s": at, "kind": kind}
        if kind == "surge":
            inj.update(target=draw(st.sampled_from(["a", "b"])),
                       params={"rate_per_h": draw(st.sampled_from([100.0, 50_000.0])),
                               "duration_s": draw(st.sampled_from([1.0, 90.0, 1e5]))})  # fmt: skip
        elif kind == "close_exit":
            inj["target"] = draw(st.sampled_from(["a", "b", "x", "j", "v"]))
            if draw(st.booleans()):
                inj["params"] = {"duration_s": draw(st.sampled_from([1.0, 100.0]))}
        elif kind == "delay":
            inj.update(target="team", params={"delay_s": 120})
        elif kind == "show":
            inj["params"] = {"segment": 0, "change": draw(st.sampled_from(["pause", "shorten", "cancel"])),
                             "minutes": 2}  # fmt: skip
        if draw(st.booleans()):
            inj["condition"] = draw(st.sampled_from(["on_site > 20", "density:j >= 0.01", "entry_queue < 5"]))
        out.append(inj)
    return out, draw(st.sampled_from(["poisson", "deterministic"])), draw(st.integers(0, 2**32))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drill=drills())
def test_people_are_conserved_with_injects_and_runs_repeat(tmp_path_factory, drill):
    """With random injects (surges, closures of entrances, the exit and inner nodes, delays, show changes), people
    are conserved to 1e-9 at every step and nothing goes negative; the same seed gives the same run."""
    injects, process, seed = drill
    tmp = tmp_path_factory.mktemp("drill")
    s = _world(tmp, injects, staff={"team": {"count": 5, "base": "x", "callup_delay_s": 60}},
               shows=[{"start_s": 100, "duration_s": 120, "attraction": 1.0}],
               dwell={"dist": "lognormal", "mean_s": 90, "sd_s": 30}, clock={"start": "2021-07-01T19:00:00",
               "horizon_s": 300})  # fmt: skip
    s = s.model_copy(update={"demand": s.demand.model_copy(update={
        "arrivals": s.demand.arrivals.model_copy(update={"process": process})})})  # fmt: skip
    plan = plan_of(s, AssignStaff(at_s=0, pool="team", to="j", count=5), MeterFlow(at_s=0, node="j", rate_per_min=60))
    books = Books()
    model = CrowdModel(s, plan, seed=seed, on_step=books)
    first = model.run()
    assert books.steps == model.n_steps
    assert first.kpis["visitors"] == pytest.approx(float(model.arrived_at.sum()))
    again = CrowdModel(s, plan, seed=seed).run()
    assert again.kpis == first.kpis and again.series == first.series
    assert len(_told(first)) == len(injects)


def test_bund_2014_metro_surge_at_2010():
    """On bund_new_year_2014 (30 minutes), a metro exit reporting 20,000 an hour more from 20:10 for 10 minutes
    brings about 3,333 more people there and leaves every other origin's arrivals as they were."""
    name, over = "bund_new_year_2014", ["clock.horizon_s=1800"]
    surge = {"at_s": 600, "kind": "surge", "target": "enr_exit_henan_north",
             "params": {"rate_per_h": 20_000, "duration_s": 600}, "note": "Henan Rd metro overcrowded"}  # fmt: skip
    base = CrowdModel(load_scenario(name, overrides=over))
    base.run()
    drilled = load_scenario(name, overrides=[*over, f"injects=[{json.dumps(surge)}]"])  # JSON is YAML
    model = CrowdModel(drilled)
    result = model.run()
    told = [(e.t_s, drilled.clock.label(e.t_s), e.kind) for e in result.events if e.kind.startswith("inject")]
    assert told == [(600.0, drilled.clock.label(600.0), "inject")] and "20:10" in told[0][1]
    i = model.origins.index("enr_exit_henan_north")
    extra = model.arrived_at - base.arrived_at
    assert extra[i] == pytest.approx(20_000 * 600 / 3600, abs=5 * (20_000 * 600 / 3600) ** 0.5)  # Poisson
    assert np.all(np.delete(extra, i) == 0)  # the surge has its own random stream
