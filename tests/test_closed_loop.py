"""The closed loop (`yiwang run --replan-every`): the optimised plan re-planned from the simulated state at every
interval, each re-plan told only what has happened by then, what was done before each re-plan standing."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner
from typhoon_worlds import small_typhoon

import command.runs as runs
from command.cli import app
from command.cli.runs import duration_s
from command.errors import CommandError
from command.runs import closed_loop, run_loaded
from optimizer.result import SolveParams
from scenarios.plan import EscortBatch, Plan

POISSON = {"process": "poisson", "periods": [{"from_s": 0, "rate_per_h": 240}, {"from_s": 7200, "rate_per_h": 420}]}
CARS = {"process": "poisson", "periods": [{"from_s": 0, "rate_per_h": 1500}]}
STORM = {"timeline": [{"at_s": 0, "wind_force": 6, "warning": "none"},
                      {"at_s": 1800, "wind_force": 10, "warning": "orange"}]}  # fmt: skip
FORECAST = {"at_s": 7200, "kind": "forecast", "note": "upgraded",
            "params": {"from_s": 10_800, "until_s": 18_000, "wind_force": 10, "warning": "red"}}  # fmt: skip
PARAMS = SolveParams(time_limit_s=2)


def _world(*, injects: list[dict] | None = None):  # type: ignore[no-untyped-def]
    tunnels = {"yanan": {"portals": ["portal_yanan_puxi", "portal_yanan_pudong"], "lanes_per_direction": 2,
                         "lane_capacity_vph": 1400, "merge_factor": 0.9,
                         "holding_points": ["hold_yanan_puxi", "hold_lujiazui_pudong"],
                         "demand_ab": CARS, "demand_ba": CARS}}  # fmt: skip
    riders = {"flows": [{"origin": "area_bund_nanjing_e", "destination": "area_lujiazui", "arrivals": POISSON}],
              "patience": {"dist": "exponential", "mean_s": 3600}, "ebike_speed_mps": 5.5}  # fmt: skip
    return small_typhoon(hazard=STORM, tunnels=tunnels, riders=riders, injects=injects or [],
                         escorts={"count": 2, "batch_size": 20, "escort_speed_mps": 5.56, "setup_s": 60,
                                  "return_s": 300})  # fmt: skip


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return _world()


@pytest.fixture(scope="module")
def open_run(world):  # type: ignore[no-untyped-def]
    return run_loaded(world, seed=11, params=PARAMS)


def test_what_was_done_before_the_first_replan_stands(world, open_run):
    """Up to the first re-plan the closed loop is the open loop: the same plan, the same random draws, the same
    trajectory; it may differ only from there."""
    loop = closed_loop(world, seed=11, every_s=3600, params=PARAMS, first=open_run.solve)
    assert [r.at_s for r in loop.replans] == [3600, 7200, 10_800, 14_400]
    for name, (t, v) in open_run.planned.series.items():
        ct, cv = loop.result.series[name]
        before = [i for i, x in enumerate(t) if x < 3600]
        assert before and [ct[i] for i in before] == [t[i] for i in before], name
        assert [cv[i] for i in before] == [v[i] for i in before], name
    # Every re-plan that found a plan took over, and the plan carried out says when it was last re-planned.
    assert all(r.took_over for r in loop.replans)
    assert loop.plan.meta.state_time_s == 14_400


def test_the_closed_loop_is_reproducible(world, open_run):
    """The same scenario, seed and options give the same plan as carried out, bit for bit, and the same KPIs."""
    a = closed_loop(world, seed=11, every_s=5400, params=PARAMS, first=open_run.solve)
    b = closed_loop(world, seed=11, every_s=5400, params=PARAMS, first=open_run.solve)
    assert a.plan.digest() == b.plan.digest()
    assert a.result.kpis == b.result.kpis


def test_each_replan_knows_only_what_has_happened(monkeypatch):
    """An inject at 02:00 is known to the re-plans at 02:00 and later, not to the first plan or the one at 01:00;
    the open loop's optimiser (a what-if with the scenario as written) knows it from the start."""
    world = _world(injects=[FORECAST])
    seen: list[tuple[float, tuple[str, ...]]] = []
    real = runs.optimise

    def spy(scenario, params=None, *, state=None):  # type: ignore[no-untyped-def]
        seen.append((state.at_s if state is not None else 0.0, tuple(i.kind for i in scenario.injects)))
        return real(scenario, params, state=state)

    monkeypatch.setattr(runs, "optimise", spy)
    outcome = run_loaded(world, seed=3, params=PARAMS)
    loop = closed_loop(world, seed=3, every_s=3600, params=PARAMS, first=outcome.solve)
    assert seen == [(0.0, ("forecast",)), (0.0, ()), (3600, ()), (7200, ("forecast",)), (10_800, ("forecast",)),
                    (14_400, ("forecast",))]  # fmt: skip
    assert len(loop.replans) == 4


def test_a_replan_the_scenario_cannot_carry_out_does_not_take_over(monkeypatch, world, open_run):
    """A re-plan whose plan, spliced into the one in effect, breaks the scenario's plan check (here a batch led by
    a team the scenario does not have; in the light show's closed loop, a team posted twice over) is refused with
    the reason, and the plan in effect carries on: the loop neither crashes nor carries out an impossible plan."""
    real = runs.optimise

    def impossible(scenario, params=None, *, state=None):  # type: ignore[no-untyped-def]
        solve = real(scenario, params, state=state)
        if state is None or solve.plan is None:
            return solve
        extra = EscortBatch(at_s=state.at_s + 60, tunnel="yanan", direction="ab", team="escort_9", max_riders=5)
        return replace(solve, plan=Plan.build(solve.plan.meta, [*solve.plan.actions, extra]))

    monkeypatch.setattr(runs, "optimise", impossible)
    loop = closed_loop(world, seed=11, every_s=3600, params=PARAMS, first=open_run.solve)
    assert [r.took_over for r in loop.replans] == [False] * 4
    for r in loop.replans:
        assert r.note.startswith("refused:") and "escort_9" in r.note, r.note
        assert r.note.endswith("the plan in effect carries on"), r.note
    assert loop.plan.digest() == runs._as_scenarios(open_run.solve.plan, world).digest()
    assert loop.result.kpis == open_run.planned.kpis


def test_intervals_that_replan_nothing_are_refused(world, open_run):
    with pytest.raises(CommandError, match="not shorter than the scenario's horizon"):
        closed_loop(world, seed=1, every_s=18_000, params=PARAMS, first=open_run.solve)
    with pytest.raises(CommandError, match="not a positive interval"):
        closed_loop(world, seed=1, every_s=0, params=PARAMS, first=open_run.solve)


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("1h", 3600), ("1h30m", 5400), ("90s", 90),
                                               ("0.5h", 1800), ("2min", 120)])  # fmt: skip
def test_durations_carry_their_unit(text, seconds):
    assert duration_s(text, option="--replan-every") == seconds


def test_the_cli_reports_the_three_plans_side_by_side(tmp_path):
    """`yiwang run --json --replan-every` gives default, open-loop and closed-loop KPIs; a duration without a
    unit is refused with exit 2, naming the option."""
    path = tmp_path / "small.yaml"
    doc = _world().model_dump(mode="json", exclude_none=True)
    import yaml

    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    runner = CliRunner()
    bad = runner.invoke(app, ["run", str(path), "--replan-every", "30"])
    assert bad.exit_code == 2 and "--replan-every" in bad.output and "unit" in bad.output
    done = runner.invoke(app, ["run", str(path), "--json", "--seed", "4", "--time-limit", "2",
                               "--replan-every", "2h"])  # fmt: skip
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout[done.stdout.index("{"):])
    assert set(out["kpis"]) == {"default", "open_loop", "closed_loop"}
    assert out["kpis"]["default"] == out["baseline"]["kpis"]
    assert out["kpis"]["open_loop"] == out["planned"]["kpis"]
    assert [r["at_s"] for r in out["closed_loop"]["replans"]] == [7200, 14_400]
    assert isinstance(out["closed_loop"]["warnings"], list)


def test_a_closed_loop_sweep_is_the_closed_loop_at_each_seed_on_every_engine(tmp_path, world):
    """`sweep --replan-every`: each replication is the closed loop from the plan at its own seed, the same numbers
    serial or in worker processes; the sweep's identity says it re-plans, so a kept open-loop sweep is not
    mistaken for it."""
    from command.errors import Conflict
    from command.sweeps import run_sweep
    from scenarios.defaults import default_plan

    start = default_plan(world)
    serial = run_sweep(world, replications=2, out=tmp_path / "serial", plan=start, engine="serial", seed=9,
                       params=PARAMS, replan_every_s=7200)  # fmt: skip
    local = run_sweep(world, replications=2, out=tmp_path / "local", plan=start, engine="local", workers=2, seed=9,
                      params=PARAMS, replan_every_s=7200)  # fmt: skip
    assert [r["kpis"] for r in serial.rows] == [r["kpis"] for r in local.rows]
    for row in serial.rows:
        direct = closed_loop(world, seed=row["seed"], every_s=7200, params=PARAMS, start=start)
        assert row["kpis"] == {k: float(v) for k, v in direct.result.kpis.items()}
    with pytest.raises(Conflict, match="holds a different sweep"):
        run_sweep(world, replications=2, out=tmp_path / "serial", plan=start, engine="serial", seed=9, params=PARAMS)


def test_any_run_seed_reaches_the_solvers_in_their_range():
    """A 62-bit seed (a sweep's replication) is folded below 2^31 for the solvers, the same way every time."""
    from optimizer.result import SOLVER_SEEDS

    big = 6_777_943_947_154_308_942
    assert SolveParams(seed=big).seed == big % SOLVER_SEEDS == SolveParams(seed=big).seed
    assert SolveParams(seed=12).seed == 12
