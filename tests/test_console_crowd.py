"""The console's path through a crowd incident, driven headless through `streamlit.testing.v1.AppTest`.

`bund_new_year_2014` cut to its first hour (20:00-21:00), where the crowd optimiser takes a few seconds: the
planner plans it on the review page, the review reads the plan's metering, one-way stairs, staff posts and crowd
KPIs, the commander's approved plan colours the incident map, and the what-if page runs a crowd variant.

The module's store holds the users and one incident with one optimised plan already proposed (made once with the
command functions); each test works on its own copy, as in `test_console_app.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from console_support import Template, copy_store, log_in, new_app, no_exception, poll_until_done, users_store
from store_support import ADMIN_PASSWORD, FAST, PASSWORD
from streamlit.testing.v1 import AppTest

from command.authority import grant_command
from command.console import jobs, views
from command.console.i18n import t
from command.console.screens import whatif
from command.incidents import open_incident
from command.kinds import simulate
from command.loop import approve_and_apply, plan_incident
from command.plans import list_plans, view_plan
from command.security import Actor
from command.store import Store
from optimizer.result import SolveParams
from scenarios import Plan, load_scenario
from scenarios.defaults import default_plan
from scenarios.loading import builtin_scenario_names
from scenarios.plan import AssignStaff, HoldArea, MeterFlow, PlanMeta

HOUR = ["clock.horizon_s=3600"]  # the first hour of the evening: the optimiser takes seconds, not half a minute
JOB_TIMEOUT_S = 180  # a wait, not a speed check: a loaded 2-core CI machine can take minutes

#: username -> (role, jurisdiction); `admin` is made by `init_store`.
USERS = {"planner": ("planner", "shanghai"), "cmd_hp": ("commander", "huangpu")}
PASSWORDS = {"admin": ADMIN_PASSWORD} | dict.fromkeys(USERS, PASSWORD)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A Huangpu incident from the first hour of New Year's Eve 2014, commanded by cmd_hp, with an optimised plan."""
    path = tmp_path_factory.mktemp("console_crowd") / "template.db"
    store, actors = users_store(path, USERS)
    scenario = load_scenario("bund_new_year_2014", overrides=HOUR)
    iid = open_incident(store, actors["admin"], scenario, jurisdiction="huangpu")
    grant_command(store, actors["admin"], iid, "cmd_hp", hours=8, reason="on-site command")
    pid = plan_incident(store, actors["planner"], iid, params=SolveParams(time_limit_s=10.0))
    store.dispose()
    return Template(path, iid, pid, actors)


@dataclass
class Console:
    store: Store
    incident_id: int
    plan_id: int
    actors: dict[str, Actor]


@pytest.fixture
def console(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A private copy of the template store, named in YIWANG_DATABASE_URL for the console to open."""
    url = copy_store(template.path, tmp_path / "store.db")
    monkeypatch.setenv("YIWANG_DATABASE_URL", url)
    handle = Console(Store(url, policy=FAST), template.incident_id, template.plan_id, template.actors)
    yield handle
    handle.store.dispose()


def signed_in(username: str) -> AppTest:
    return log_in(new_app(JOB_TIMEOUT_S), username, PASSWORDS[username])


def goto(at: AppTest, page: str, lang: str = "zh") -> AppTest:
    """Open a page, in a language. The language is set on the new page: AppTest formats the options of a widget
    already drawn with the text of the default language (the board's radio), so it is changed off the board."""
    at.session_state["yiwang_goto"] = page
    at.run()
    if lang != "zh":
        at.session_state["yiwang_lang"] = lang
        at.run()
    return at


def values(elements) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(e.value) for e in elements]


def wait_for(at: AppTest, job) -> None:  # type: ignore[no-untyped-def]
    poll_until_done(at, job, JOB_TIMEOUT_S)
    assert job.error is None, job.error


def frame(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The data of the one table with this column."""
    (table,) = [d.value for d in at.dataframe if column in d.value.columns]
    return table


# ------------------------------------------------------------------------------------------ plan review


def test_planning_a_crowd_incident_proposes_a_plan_whose_controls_the_review_reads(console: Console) -> None:
    """The planner's run optimises the crowd incident and the review shows the new plan's metering (per entrance,
    from-until and rates), its one-way stairs, its staff posts and the crowd KPIs against the default plan."""
    at = goto(signed_in("planner"), "review", "en")
    at.session_state["yiwang_time_limit"] = 10
    at.button(key="review_run").click()
    at.run()
    wait_for(at, at.session_state["yiwang_jobs"][f"plan:{console.incident_id}"])
    plans = list_plans(console.store, console.actors["admin"], console.incident_id)
    assert len(plans) == 2
    new = plans[-1]
    assert at.selectbox(key="review_plan").value == new.plan_id
    assert new.plan.meta.produced_by == "optimizer:crowd"

    markdown = values(at.markdown)
    meters = frame(at, "Lowest rate (people/min)")
    metered = {a.node for a in new.plan.actions if isinstance(a, MeterFlow)}
    assert t("review.crowd.metering", "en", n=len(metered)) in markdown
    assert {n.rsplit("(", 1)[1].rstrip(")") for n in meters["Place"]} == metered
    assert list(meters.columns) == ["Place", "From", "Until", "Lowest rate (people/min)",
                                    "Highest rate (people/min)", "Rate steps"]  # fmt: skip
    assert all(re.fullmatch(r"2[01]:\d\d", x) for x in meters["From"])
    assert meters["Rate steps"].sum() == len([a for a in new.plan.actions if isinstance(a, MeterFlow)])

    ways = frame(at, "Walkway (this way only)")
    assert any("chen_yi_stair_landing" in w for w in ways["Walkway (this way only)"])
    posts = frame(at, "Pool")
    staffed = [a for a in new.plan.actions if isinstance(a, AssignStaff)]
    assert len(posts) == len(staffed) and set(posts["Pool"]) <= {"police_on_duty", "reinforcements"}
    assert posts["Count"].sum() == sum(a.count for a in staffed)
    assert any(c.startswith("Most of each pool on post at once") and "police_on_duty" in c for c in values(at.caption))

    kpis = frame(at, "Change")
    rows = kpis.set_index("Field")
    for key in ("peak_density_ppm2", "minutes_over_4ppm2", "minutes_over_5ppm2", "max_metering_queue",
                "visitors_served"):  # fmt: skip
        assert rows.loc[key, "Default plan"] == round(new.forecast["baseline"][key], 2)
        assert rows.loc[key, "This plan"] == round(new.forecast["planned"][key], 2)
    assert rows.loc["minutes_over_4ppm2", "KPI"] == "Time above 4 /m² (person-minutes)"  # the crowd KPI table
    assert rows.loc["minutes_over_4ppm2", "This plan"] < rows.loc["minutes_over_4ppm2", "Default plan"]

    rationale = [m for m in markdown if m.startswith("- ")]
    for start in ("- flow LP", "- meter ", "- binds:", "- staff:"):
        assert any(m.startswith(start) for m in rationale), start
    (peak,) = [c for c in values(at.caption) if c.startswith("Density peak: default plan")]
    assert peak.count("peak density") == 2
    assert at.selectbox(key=f"review_series_{new.plan_id}").value == "peak_density_now"


def test_the_crowd_review_reads_in_chinese(console: Console) -> None:
    """The same review in Chinese: crowd KPI names, control headings and columns have Chinese text."""
    at = goto(signed_in("cmd_hp"), "review")
    no_exception(at)
    assert t("review.crowd", "zh") in " ".join(values(at.markdown))
    kpis = frame(at, "变化")
    assert {"峰值密度（人/m²）", "超过每平方米4人的时间（人·分钟）"} <= set(kpis["指标"])  # the kind's KPI table
    posts = frame(at, "队伍")
    assert list(posts.columns) == ["队伍", "岗位", "人数", "起", "止"]
    assert t("review.crowd.end", "zh") in set(posts["止"])  # some teams are posted to the end of the horizon


# ------------------------------------------------------------------------------------------ incident view


def test_an_approved_crowd_plan_colours_the_map_by_density_level(console: Console) -> None:
    """With the optimised plan in effect the map shows that plan's densities (not the default plan's), each place
    coloured by its level of service, and the density legend."""
    commander = console.actors["cmd_hp"]
    view = view_plan(console.store, commander, console.plan_id)
    approve_and_apply(console.store, commander, console.plan_id, password=PASSWORD, shown=view.shown(),
                      acknowledged=view.warnings)
    at = goto(signed_in("cmd_hp"), "incident")
    no_exception(at)
    minute = 45
    at.slider(key=f"incident_minute_{console.incident_id}").set_value(minute)
    at.run()
    no_exception(at)
    assert any(c.endswith(t("incident.legend_density")) for c in values(at.caption))

    (chart,) = at.get("deck_gl_json_chart")
    points = {p["node"]: p for p in json.loads(chart.proto.json)["layers"][1]["data"]}
    scenario = load_scenario("bund_new_year_2014", overrides=HOUR)
    planned = simulate(scenario, view.plan, seed=scenario.seed)
    baseline = simulate(scenario, default_plan(scenario), seed=scenario.seed)
    density = {k.split(":", 1)[1]: views.value_at((tuple(x / 60 for x in t_), v), minute)
               for k, (t_, v) in planned.series.items() if k.startswith("density:")}  # fmt: skip
    before = {k.split(":", 1)[1]: views.value_at((tuple(x / 60 for x in t_), v), minute)
              for k, (t_, v) in baseline.series.items() if k.startswith("density:")}  # fmt: skip
    assert density != before
    assert max(density.values()) > 0.5
    for node, value in density.items():
        label, colour = views.density_level(value)
        assert points[node]["tip"].endswith(f" · {views.density_label(value, 'zh')}")
        assert views.density_label(value, "zh").startswith(f"{value:.2f} 人/m²（服务水平 {label[0]}")
        assert points[node]["colour"] == colour
    assert at.selectbox(key="incident_series").value == "peak_density_now"


# ------------------------------------------------------------------------------------------ what-if


def test_a_crowd_what_if_runs_the_optimiser_against_the_default_plan(console: Console) -> None:
    """The what-if page offers the crowd scenarios with their fields; a one-hour run with fewer police and no
    counter-flow control in the default plan shows both plans' crowd KPIs and what the optimiser said."""
    at = goto(signed_in("planner"), "whatif", "en")
    at.session_state["yiwang_time_limit"] = 10
    scenario = at.selectbox(key="whatif_scenario")
    assert {"bund_light_show", "bund_new_year_2014"} <= set(scenario.options)
    scenario.set_value("bund_new_year_2014")
    at.run()
    no_exception(at)
    at.number_input(key="wf_bund_new_year_2014_horizon").set_value(60)
    at.number_input(key="wf_bund_new_year_2014_staff_police_on_duty").set_value(500)
    at.number_input(key="wf_bund_new_year_2014_rate_0").set_value(50000)
    assert at.checkbox(key="wf_bund_new_year_2014_counterflow").value is False
    assert at.number_input(key="wf_bund_new_year_2014_critical_ppm2").value == 5.0
    at.text_input(key="whatif_label").input("fewer police")
    next(b for b in at.button if b.form_id == "whatif_form").click()
    at.run()
    job = at.session_state["yiwang_jobs"]["whatif"]
    wait_for(at, job)
    at.run()
    no_exception(at)
    (table,) = at.dataframe
    rows = table.value.set_index("Field")
    assert list(rows.columns) == ["KPI", "fewer police · Default plan", "fewer police · This plan"]
    for key in ("peak_density_ppm2", "minutes_over_5ppm2", "max_metering_queue", "visitors_served"):
        assert rows.loc[key, "fewer police · This plan"] == round(job.result["planned"][key], 2)
    assert job.result["solver"].startswith(("OPTIMAL", "FEASIBLE"))
    assert any(r.startswith("staff:") for r in job.result["rationale"])
    assert [e.label for e in at.expander] == [t("whatif.solver", "en", label="fewer police")]


# ------------------------------------------------------------------------------------------ reading a plan


def test_meter_spells_join_a_node_s_back_to_back_steps_and_split_at_a_gap() -> None:
    """Meter actions at one node that start as the one before ends are one spell; a gap starts another."""
    meta = PlanMeta(scenario="x")
    steps = [MeterFlow(at_s=0, node="a", rate_per_min=10, until_s=120),
             MeterFlow(at_s=120, node="a", rate_per_min=30, until_s=240),
             MeterFlow(at_s=600, node="a", rate_per_min=20, until_s=None),
             MeterFlow(at_s=120, node="b", rate_per_min=5, until_s=240)]  # fmt: skip
    spells = views.meter_spells(Plan.build(meta, steps))
    assert spells == [views.MeterSpell("a", 0, 240, (10, 30)), views.MeterSpell("b", 120, 240, (5,)),
                      views.MeterSpell("a", 600, None, (20,))]  # fmt: skip
    assert (spells[0].low, spells[0].high) == (10, 30)
    # Holds in place are read apart, the same way (the rate: who may leave a minute).
    waves = [*steps, HoldArea(at_s=600, node="v", rate_per_min=0, until_s=780),
             HoldArea(at_s=780, node="v", rate_per_min=40, until_s=900)]  # fmt: skip
    assert views.meter_spells(Plan.build(meta, waves)) == spells
    assert views.meter_spells(Plan.build(meta, waves), HoldArea) == [views.MeterSpell("v", 600, 900, (0, 40))]


def test_most_on_post_counts_only_posts_held_at_the_same_time() -> None:
    """A pool's people on two posts at once add up; a post that ended before another began does not."""
    posts = [AssignStaff(at_s=0, pool="p", to="a", count=20, until_s=600),
             AssignStaff(at_s=0, pool="p", to="b", count=10),
             AssignStaff(at_s=600, pool="p", to="c", count=40),
             AssignStaff(at_s=0, pool="q", to="a", count=5)]  # fmt: skip
    assert views.most_on_post(posts) == {"p": 50, "q": 5}


@pytest.mark.parametrize("name", builtin_scenario_names())
def test_the_what_if_fields_left_alone_give_back_the_scenario(
    console: Console, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Submitting a scenario's what-if form unchanged runs the scenario itself: every field the form offers
    writes back the value it showed, validly, and none keeps the value of the scenario the page opened on."""
    asked: list[list[str]] = []
    real = whatif.load_scenario

    def recording(ref, *, overrides=None):  # type: ignore[no-untyped-def]
        if overrides is not None:
            asked.append(overrides)
        return real(ref, overrides=overrides)

    monkeypatch.setattr(whatif, "load_scenario", recording)
    monkeypatch.setattr(jobs, "start", lambda *args, **kwargs: None)  # nothing is run
    at = goto(signed_in("planner"), "whatif")
    at.selectbox(key="whatif_scenario").set_value(name)
    at.run()
    next(b for b in at.button if b.form_id == "whatif_form").click()
    at.run()
    no_exception(at)
    assert not at.error, values(at.error)
    (overrides,) = asked
    assert overrides
    assert real(name, overrides=overrides) == real(name)
