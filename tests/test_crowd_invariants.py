"""Crowd model invariants (conservation, bounds), controls and staff, thresholds, and the built-in scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
from crowd_builders import crowd_scenario, plan_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.crowd import default_plan
from scenarios.loading import load_scenario
from scenarios.plan import AssignStaff, CloseExit, MeterFlow, OneWay, Plan
from simulation.crowd import CrowdModel, simulate

KPIS = ("peak_density_ppm2", "minutes_over_4ppm2", "minutes_over_5ppm2", "max_metering_queue",
        "mean_extra_walk_min", "staff_utilisation", "visitors_served")  # fmt: skip


class Books:
    """Checks after every step: nobody appears or vanishes, nothing negative, nothing above the jam density (or,
    where a pushing crowd is pressed tighter, that place's pressed density)."""

    def __init__(self) -> None:
        self.steps = 0
        self.worst = 0.0

    def __call__(self, m: CrowdModel) -> None:
        p = m.people()
        # People in = on the graph (waiting in a holding area, walking, dwelling) + gone (left by an exit, or
        # turned away from a full holding area before coming in); nobody waits off the graph.
        gap = abs(p["entered"] - p["queued"] - p["inside"] - p["departed"] - p["refused"])
        assert gap <= 1e-9 * max(1.0, p["entered"]), f"step {m.step_no}: {gap} people unaccounted for"
        assert p["off_graph"] == 0.0
        held = m.n_nodes_arr[m.holding_node].sum(axis=1)
        assert (held <= m.jam * m.holding_area * (1 + 1e-9)).all()  # a holding area holds its jam density at most
        assert m.n_cells_arr.min() >= -1e-12 and m.n_nodes_arr.min() >= -1e-12 and m.queue.min() >= -1e-12
        assert (m.rho_c <= m.press_c + 1e-9).all()
        assert (m.node_people() / m.net.node_area <= m.press_n + 1e-9).all()
        self.worst = max(self.worst, gap)
        self.steps += 1


@st.composite
def worlds(draw):
    """A random small crowd world: a chain from an entrance to a viewing area, an exit, demand and controls."""
    n = draw(st.integers(3, 6))
    nodes, edges, x = [("n0", "entrance", 0.0, 0.0, 0)], [], 0.0
    for i in range(1, n):
        gap = draw(st.sampled_from([0.5, 3.0, 12.0, 40.0, 75.0]))
        x += gap
        kind = "viewing_area" if i == n - 1 else draw(st.sampled_from(["junction", "square", "stair"]))
        area = draw(st.sampled_from([50, 400])) if kind == "viewing_area" else draw(st.sampled_from([0, 0, 18, 300]))
        nodes.append((f"n{i}", kind, x, 0.0, area))
        mode = draw(st.sampled_from(["walk", "walk", "stair"])) if gap > 1 else "walk"
        edges.append(
            (f"n{i - 1}", f"n{i}", gap + draw(st.floats(0, 0.5)), draw(st.sampled_from([0.8, 3.0, 10.0])), mode)
        )
    at = draw(st.integers(0, n - 1))
    nodes.append(("x", "exit", 0.0, -20.0 - 5 * at, 0))
    edges.append((f"n{at}", "x", 20.0 + 5 * at + 0.5 * at * 40 + x, draw(st.sampled_from([1.0, 4.0]))))
    if n > 3 and draw(st.booleans()):  # a second way round
        edges.append(("n0", f"n{n - 2}", 2 * x + 10, 2.0))
    staff_at = f"n{draw(st.integers(0, n - 1))}"
    extra = {
        "dwell": {"dist": "lognormal", "mean_s": draw(st.sampled_from([20, 120])), "sd_s": 30},
        "shows": [{"start_s": draw(st.sampled_from([30, 120])), "duration_s": 60,
                   "attraction": draw(st.sampled_from([0, 1, 2]))}],
        "staff": {"team": {"count": 5, "base": staff_at, "callup_delay_s": draw(st.sampled_from([0, 60]))}},
        "walking": {"fundamental_diagram": draw(st.sampled_from(["weidmann", "sfpe"])),
                    "step_s": draw(st.sampled_from([1.0, 2.0]))},
    }  # fmt: skip
    pressed = draw(st.lists(st.sampled_from([f"n{i}" for i in range(n)]), max_size=3, unique=True))
    if pressed:  # places a pushing crowd is pressed into (past the jam density)
        extra["crush"] = {"places": dict.fromkeys(pressed, draw(st.sampled_from([6.0, 9.0])))}
    rate = draw(st.sampled_from([0.0, 3_000.0, 40_000.0, 150_000.0]))
    actions = [("staff", staff_at)]
    if draw(st.booleans()):
        i = draw(st.integers(0, n - 2))
        actions.append(("one_way", (f"n{i}", f"n{i + 1}") if draw(st.booleans()) else (f"n{i + 1}", f"n{i}")))
    if draw(st.booleans()):
        actions.append(("meter", (f"n{draw(st.integers(0, n - 1))}", draw(st.sampled_from([0.0, 30.0, 300.0])))))
    if draw(st.booleans()):
        actions.append(("close", "x"))
    return nodes, edges, rate, extra, actions, draw(st.integers(0, 2**32))


def _plan(s, actions) -> Plan:
    out = []
    for what, arg in actions:
        if what == "staff":
            out.append(AssignStaff(at_s=0, pool="team", to=arg, count=5))
        elif what == "one_way":
            out.append(OneWay(at_s=20, u=arg[0], v=arg[1], until_s=200))
        elif what == "meter":
            out.append(MeterFlow(at_s=10, node=arg[0], rate_per_min=arg[1]))
        else:
            out.append(CloseExit(at_s=50, node=arg, until_s=150))
    return plan_of(s, *out)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_people_are_conserved_and_densities_bounded_at_every_step(tmp_path_factory, world):
    """On random small worlds and plans, people are conserved to 1e-9 at every step, no amount is negative and
    no density exceeds the jam density (the pressed density where a pushing crowd is pressed tighter)."""
    nodes, edges, rate, extra, actions, seed = world
    tmp = tmp_path_factory.mktemp("world")
    s = crowd_scenario(tmp, nodes, edges, origins={"n0": 1.0}, destinations={nodes[-2][0]: 1.0}, exits=["x"],
                       rate_per_h=rate, horizon_s=300, **extra)  # fmt: skip
    books = Books()
    model = CrowdModel(s, _plan(s, actions), seed=seed, on_step=books)
    result = model.run()
    assert books.steps == model.n_steps
    assert result.kpis["visitors"] == pytest.approx(model.entered)


def test_a_run_stopped_at_until_s_tells_what_the_whole_run_had_told_by_then():
    """`simulate(..., until_s=t)` stops at t: its series and events are the whole run's before t (bar the
    closing `peak_density` and `end` events), its visitors are those who had come by then, and it says when it
    stopped."""
    s = load_scenario("bund_light_show", overrides=["clock.horizon_s=1800"])
    whole = simulate(s, seed=s.seed)
    part = simulate(s, seed=s.seed, until_s=900)
    assert part.stats.sim_s == 900 and whole.stats.sim_s == 1800
    for name, (times, values) in part.series.items():
        t_all, v_all = whole.series[name]
        assert times == t_all[: len(times)] and values == v_all[: len(values)] and max(times) < 900
    closing = ("peak_density", "end")
    told = [e for e in part.events if e.kind not in closing]
    assert told == [e for e in whole.events if e.kind not in closing and e.t_s < 900]
    assert 0 < part.kpis["visitors"] < whole.kpis["visitors"]
    assert simulate(s, seed=s.seed, until_s=5000).kpis == whole.kpis  # past the horizon: the whole run


def test_without_a_plan_a_run_follows_the_scenarios_default_plan():
    """With no plan, a crowd run simulates `scenarios.defaults.default_plan(scenario)`: the rule and the
    scenario's explicit default actions."""
    from scenarios.defaults import default_plan as full_default

    close = '[{"type": "close_exit", "at_s": 300, "node": "entrance_yanan_west"}]'
    s = load_scenario("bund_light_show", overrides=["clock.horizon_s=900", f"default_plan.actions={close}"])
    plan = full_default(s)
    assert any(a.type == "close_exit" for a in plan.actions)
    run = simulate(s, seed=3)
    assert run.kpis == simulate(s, plan, seed=3).kpis
    assert any(e.kind == "exit" and "entrance_yanan_west closed" in e.text for e in run.events)


def _jammed_corridor(tmp: Path, **kw) -> CrowdModel:
    """An entrance feeding a corridor that ends in a narrow door: the corridor jams."""
    nodes = [("o", "entrance", 0, 0, 0), ("m", "junction", 60, 0, 0), ("x", "exit", 60.5, 0, 0),
             ("v", "viewing_area", 0, 30, 500)]  # fmt: skip
    edges = [("o", "m", 60, 4.0), ("m", "x", 0.5, 0.5), ("o", "v", 30, 2)]
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"], **kw)
    return CrowdModel(s, plan_of(s), dt=1.0)


def test_threshold_crossings_are_logged_and_counted(tmp_path):
    """Every rise through the warning and critical densities is a logged event, and the KPIs count them."""
    model = _jammed_corridor(tmp_path, horizon_s=900)
    i = model.origins.index("o")

    def push(m: CrowdModel) -> None:
        m.queue[i, m.LEAVE] += 6.0

    model.on_step = push
    result = model.run()
    kinds = [e.kind for e in result.events]
    assert kinds.count("density_warning") == result.kpis["warning_crossings"] > 0
    assert kinds.count("density_critical") == result.kpis["critical_crossings"] > 0
    assert result.kpis["peak_density_ppm2"] >= model.s.thresholds.critical_ppm2
    assert result.kpis["minutes_over_5ppm2"] > 0


def _metered(tmp: Path, *, staffed: bool) -> tuple[CrowdModel, object]:
    nodes = [("o", "entrance", 0, 0, 0), ("v", "viewing_area", 50, 0, 2000), ("x", "exit", 0, -30, 0)]
    edges = [("o", "v", 50, 6.0), ("o", "x", 30, 6.0)]
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"],
                       rate_per_h=20_000, horizon_s=1200, staff={"gate": {"count": 20, "base": "o"}})  # fmt: skip
    actions = [MeterFlow(at_s=0, node="o", rate_per_min=60)]
    if staffed:
        actions.append(AssignStaff(at_s=0, pool="gate", to="o", count=20))
    model = CrowdModel(s, plan_of(s, *actions))
    return model, model.run()


def test_metering_holds_only_where_staff_are_posted(tmp_path):
    """A meter with a team posted caps entry and queues people; without staff it is logged and not in force."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, r1 = _metered(tmp_path / "a", staffed=True)
    _, r2 = _metered(tmp_path / "b", staffed=False)
    assert r1.kpis["visitors_served"] <= 60 * 20 + 1
    assert r1.kpis["max_metering_queue"] > 1000
    assert r2.kpis["max_metering_queue"] == 0
    assert r2.kpis["visitors_served"] > 3 * r1.kpis["visitors_served"]
    assert any(e.kind == "control_unstaffed" for e in r2.events)
    assert not any(e.kind == "control_unstaffed" for e in r1.events)


def test_default_plans_follow_counterflow_control():
    """The light show's default plan makes the paired Chen Yi Square stairs one-way; 2014's has no one-way."""
    show, ny = load_scenario("bund_light_show"), load_scenario("bund_new_year_2014")
    p_show, p_ny = default_plan(show), default_plan(ny)
    ways = {(a.u, a.v) for a in p_show.of_type(OneWay)}
    assert ("chen_yi_stair_foot", "chen_yi_stair_landing") in ways and (
        "prom_chen_yi_north",
        "stair_chen_yi_ne",
    ) in ways
    assert not p_ny.of_type(OneWay)
    assert {a.pool for a in p_ny.of_type(AssignStaff)} == set(ny.staff)
    assert Plan.from_json(p_show.to_json()) == p_show


@pytest.mark.parametrize("name", ["bund_light_show", "bund_new_year_2014"])
def test_builtin_crowd_scenarios_run_under_their_default_plans(name):
    """Each built-in crowd scenario runs a short horizon under its default plan and reports the named KPIs."""
    s = load_scenario(name, overrides=["clock.horizon_s=1200"])
    result = simulate(s, seed=3)
    assert result.kind == "crowd" and result.stats.sim_s == 1200
    assert set(KPIS) <= set(result.kpis)
    assert result.kpis["visitors"] > 0
    assert "density:chen_yi_stair_landing" in result.series
    again = simulate(s, default_plan(s), seed=3)
    assert again.kpis == result.kpis


@pytest.mark.slow
def test_the_2014_replay_crushes_on_the_chen_yi_stair_when_the_record_says():
    """Under the plan as it happened, at the scenario's seed: the people inside the area at 21:00, 22:00, 23:00 and
    23:35 are the investigation report's counts (120,000, 160,000, 240,000, 310,000) within 2%; the Chen Yi
    stair's first crush falls within 15 minutes of the fall at 23:35 (facts.md 3.2), with none on it before 23:20
    (the record has it jammed from 23:23) and the stair crossing no threshold by 22:00."""
    s = load_scenario("bund_new_year_2014")
    inside: dict[str, float] = {}

    def count(m: CrowdModel) -> None:
        label = s.clock.label(m.step_no * m.dt)
        if m.step_no % 60 == 0 and label in ("21:00", "22:00", "23:00", "23:35"):
            inside[label] = m.people()["inside"]

    model = CrowdModel(s, on_step=count)
    result = model.run()
    report = {"21:00": 120_000, "22:00": 160_000, "23:00": 240_000, "23:35": 310_000}
    assert inside.keys() == report.keys()
    assert all(inside[k] == pytest.approx(v, rel=0.02) for k, v in report.items()), inside
    stair = [e for e in result.events if "chen_yi_stair" in str(e.data.get("place", "")) and "square" not in
             str(e.data.get("place", ""))]  # fmt: skip
    crushes = [e.t_s for e in stair if e.kind == "crush"]
    fall, jam = 12_900.0, 12_000.0  # 23:35 and 23:20, seconds after 20:00
    assert crushes and abs(crushes[0] - fall) <= 900, [s.clock.label(t) for t in crushes]
    assert not [t for t in crushes if t < jam]
    assert not [e for e in stair if e.t_s < 7200 and e.kind.startswith("density_")]
