"""The kind contract is open: a fourth kind registered from outside the product (`tests/shelter_kind.py`) runs
through `yiwang validate`, `yiwang run`, `yiwang sweep`, the incident loop and the console, and nothing in the
product branches on a kind's name."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import shelter_kind  # noqa: F401  (registers the kind in this process)
from console_support import log_in, new_app, no_exception, users_store
from store_support import ADMIN_PASSWORD, DATA, PASSWORD, make_world

from command.authority import grant_command
from command.incidents import activity, open_incident
from command.kinds import kind_of, kinds, optimise, simulate, state_at
from command.loop import advance, approve_and_apply, plan_incident
from command.plans import view_plan
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from simulation.theory import mmc_mean_wait

ROOT = Path(__file__).resolve().parents[1]
SHELTER = DATA / "shelter.yaml"
BUILTIN_KINDS = ("crowd", "mass_testing", "typhoon")


def yiwang(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, told of the fourth kind the way a user would: `YIWANG_KINDS`."""
    env = {**os.environ, "YIWANG_KINDS": "shelter_kind",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "command.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def shelter():  # type: ignore[no-untyped-def]
    return load_scenario(SHELTER)


def test_the_fourth_kind_is_registered_beside_the_built_in_ones(shelter):  # type: ignore[no-untyped-def]
    """The registry lists the built-in kinds and the one a module registered, and finds it from a scenario."""
    assert {k.name for k in kinds()} == {*BUILTIN_KINDS, "shelter"}
    assert kind_of(shelter).spec.title_en == "Shelter intake"
    assert default_plan(shelter).actions[0].count == 6


def test_the_fourth_kinds_optimiser_posts_the_fewest_clerks_that_meet_the_target(shelter):  # type: ignore[no-untyped-def]
    """240 arrivals an hour at 60 s each is 4 Erlangs: 4 clerks never catch up; 5 wait 33 s on average by
    Erlang C, under the 120 s target, so the optimiser posts 5 of the 8."""
    assert mmc_mean_wait(5, 240 / 3600, 1 / 60) == pytest.approx(33.2, abs=0.1)
    result = optimise(shelter, SolveParams(seed=1))
    assert result.status == "OPTIMAL" and result.objective == 5
    assert sum(a.count for a in result.plan.actions) == 5


def test_validate_run_and_sweep_take_the_fourth_kind(tmp_path):  # type: ignore[no-untyped-def]
    """`yiwang validate`, `run --json` and `sweep` (local processes, spawned) work on a scenario of the fourth kind,
    and the sweep's numbers are the same on the serial engine."""
    done = yiwang("validate", str(SHELTER), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "valid (shelter: Shelter intake at the Disney exit plaza)" in done.stdout

    done = yiwang("run", str(SHELTER), "--json", "--seed", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["kind"] == "shelter" and out["solver"]["status"] == "OPTIMAL"
    assert set(out["baseline"]["kpis"]) == set(out["planned"]["kpis"]) == {"mean_wait_min", "registered", "waiting_end"}
    # Five clerks wait longer than eight: the plan says so before anyone signs it (its only headline KPI).
    (worse,) = [w for w in out["warnings"] if w["kind"] == "worse"]
    assert (worse["kpi"], worse["default"], worse["plan"]) == (
        "mean_wait_min", out["baseline"]["kpis"]["mean_wait_min"], out["planned"]["kpis"]["mean_wait_min"])
    assert worse["plan"] > worse["default"] and worse["message"].startswith("Mean wait (min): ")

    summaries = []
    for engine in ("local", "serial"):
        done = yiwang("sweep", str(SHELTER), "--replications", "4", "--engine", engine, "--workers", "2", "--json",
                      "--out", str(tmp_path / engine), cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        summaries.append(json.loads(done.stdout))
    local, serial = summaries
    assert local["variants"][0]["replications"] == 4
    assert local["variants"][0]["kpis"] == serial["variants"][0]["kpis"]
    assert set(local["variants"][0]["breaches"]) == {"misses_target"}


def test_validate_names_an_unknown_kind_and_the_known_ones(tmp_path):  # type: ignore[no-untyped-def]
    """Without the module that registers it, the kind is unknown: exit 2, and the line names the known kinds."""
    env = {k: v for k, v in os.environ.items() if k != "YIWANG_KINDS"}
    done = subprocess.run([sys.executable, "-m", "command.cli", "validate", str(SHELTER)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (f"{SHELTER}: kind: unknown kind 'shelter'; expected one of "
                                   "['crowd', 'mass_testing', 'typhoon']")  # fmt: skip


def test_the_fourth_kind_runs_the_incident_loop_and_is_replanned_from_its_state(tmp_path, shelter):  # type: ignore[no-untyped-def]
    """Open, plan, approve, advance to the inject, re-plan from the state at 21:30, advance to the end: the plan
    in effect at the end is the re-plan, spliced, and the activity log has the inject."""
    world = make_world(f"sqlite:///{tmp_path / 'store.db'}")
    iid = open_incident(world.store, world["admin"], shelter, jurisdiction="pudong")
    grant_command(world.store, world["admin"], iid, "cmd_pudong", hours=4)
    chief = world["cmd_pudong"]
    first = plan_incident(world.store, world["planner"], iid, params=SolveParams(time_limit_s=5))
    shown_first = view_plan(world.store, chief, first)
    approve_and_apply(world.store, chief, first, password=PASSWORD, shown=shown_first.shown(),
                      acknowledged=shown_first.warnings)
    report = advance(world.store, world["planner"], iid)
    assert (report.to_s, report.stopped_for) == (1800, "inject: message")
    assert [w["kpi"] for w in view_plan(world.store, chief, first).forecast["warnings"]] == ["mean_wait_min"]
    second = plan_incident(world.store, world["planner"], iid, params=SolveParams(time_limit_s=5))
    view = view_plan(world.store, chief, second)
    assert view.plan.meta.state_time_s == 1800
    assert [(a.at_s, a.until_s, a.count) for a in view.plan.actions] == [(0.0, None, 5)]  # the same post, carried on
    approve_and_apply(world.store, chief, second, password=PASSWORD, shown=view.shown(), acknowledged=view.warnings)
    end = advance(world.store, world["planner"], iid)
    assert end.finished and end.to_s == 3600
    kinds_logged = [a.kind for a in activity(world.store, world["planner"], iid)]
    assert "inject" in kinds_logged and "evaluation" in kinds_logged
    world.store.dispose()


def test_the_fourth_kinds_state_is_what_its_run_shows(shelter):  # type: ignore[no-untyped-def]
    """`state_at` says its time, and a run stopped there has the same series as the whole run up to then."""
    plan = default_plan(shelter)
    state = state_at(shelter, plan, seed=4, at_s=1200)
    assert state.at_s == 1200 and state.fired == frozenset()
    part, whole = simulate(shelter, plan, seed=4, until_s=1200), simulate(shelter, plan, seed=4)
    t, v = whole.series["queue"]
    assert part.series["queue"] == (tuple(x for x in t if x < 1200), tuple(v[: sum(x < 1200 for x in t)]))


def test_the_console_shows_a_fourth_kind_incident(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The incident page draws the fourth kind's map layer and chart, and the review page shows its plan, with no
    error, in a console that knows the kind only from the registry."""
    path = tmp_path / "console.db"
    store, actors = users_store(path, {"planner": ("planner", "shanghai"), "cmd": ("commander", "pudong")})
    iid = open_incident(store, actors["admin"], load_scenario(SHELTER), jurisdiction="pudong")
    grant_command(store, actors["admin"], iid, "cmd", hours=4)
    pid = plan_incident(store, actors["planner"], iid, params=SolveParams(time_limit_s=5))
    view = view_plan(store, actors["cmd"], pid)
    approve_and_apply(store, actors["cmd"], pid, password=PASSWORD, shown=view.shown(), acknowledged=view.warnings)
    store.dispose()
    monkeypatch.setenv("YIWANG_DATABASE_URL", f"sqlite:///{path}")
    at = log_in(new_app(), "planner", PASSWORD)
    no_exception(at)
    at.session_state["yiwang_goto"] = "incident"
    at.run()
    no_exception(at)
    assert len(at.get("deck_gl_json_chart")) == 1
    assert len(at.get("vega_lite_chart")) == 1
    assert at.selectbox(key="incident_series").value == "queue"
    at.session_state["yiwang_goto"] = "review"
    at.run()
    no_exception(at)
    assert [w.value for w in at.warning if w.value.startswith("比默认方案更差")] == [
        "比默认方案更差：平均等待（分钟），本方案 " + _fmt(view)]
    assert ADMIN_PASSWORD  # the admin signed the store up; nobody else used it


def _kind_branches(path: Path) -> list[str]:
    """`... .kind == "crowd"` (or `!=`, `in`) with a built-in kind's name, and dicts keyed by kind names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            names = [s.value for s in sides if isinstance(s, ast.Constant) and s.value in BUILTIN_KINDS]
            kindish = any((isinstance(s, ast.Attribute) and s.attr == "kind") or (isinstance(s, ast.Name)
                          and s.id == "kind") for s in sides)  # fmt: skip
            if names and kindish:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if len(keys & set(BUILTIN_KINDS)) >= 2:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} (a table keyed by kind)")
    return found


def test_nothing_outside_the_registry_branches_on_a_kinds_name():
    """No module of the four packages compares a kind with a built-in kind's name or keys a table by kind names
    (the registry looks kinds up by name; each kind's own modules declare their `kind` literal)."""
    found = [hit for package in ("command", "optimizer", "simulation", "scenarios")
             for path in sorted((ROOT / package).rglob("*.py")) for hit in _kind_branches(path)]  # fmt: skip
    assert found == []


def test_an_inject_the_scenarios_kind_does_not_know_is_refused_with_its_place():
    """A `surge` in a typhoon scenario would do nothing, so loading refuses it: one line naming the inject's
    place and the kinds of inject a typhoon knows."""
    from scenarios import ScenarioError
    from scenarios.loading import scenario_from_document

    doc = load_scenario("huangpu_typhoon").model_dump(mode="json")
    doc["injects"] = [{"at_s": 600, "kind": "message", "note": "fine"},
                      {"at_s": 900, "kind": "surge", "target": "x", "params": {"rate_per_h": 10, "duration_s": 60}}]
    with pytest.raises(ScenarioError) as caught:
        scenario_from_document(doc, file="storm.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "storm.yaml: injects[1].kind: 'surge' does nothing in a typhoon scenario; "
        "this kind knows delay, forecast, message"]


def _fmt(view) -> str:  # type: ignore[no-untyped-def]
    """The console's Chinese line for the plan's one `worse` warning, from the plan's own forecast."""
    (w,) = view.forecast["warnings"]
    return f"{w['plan']:,.4g}，默认方案 {w['default']:,.4g}"


def test_consequences_name_a_breach_and_a_weak_bound(shelter):  # type: ignore[no-untyped-def]
    """A plan whose run misses the wait target carries a breach; a plan proven only within 40% a weak bound;
    a plan no worse, within 1% and with no breach carries nothing."""
    from command.consequences import consequences
    from optimizer.result import PlanResult

    strict = shelter.model_copy(update={"target_wait_s": 1.0})
    plan = default_plan(strict)
    run = simulate(strict, plan, seed=2)
    loose = PlanResult(plan=plan, status="FEASIBLE", objective=10.0, bound=6.0, wall_s=0.1)
    found = consequences(strict, run, run, loose)
    assert [(c.kind, c.kpi) for c in found] == [("breach", None), ("weak_bound", None)]
    assert found[0].message == "the mean wait misses the target at 22:00"
    assert "within 40% of the best possible only" in found[1].message
    tight = PlanResult(plan=plan, status="OPTIMAL", objective=10.0, bound=9.95, wall_s=0.1)
    assert consequences(shelter, run, run, tight) == []
