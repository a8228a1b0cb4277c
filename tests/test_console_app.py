"""The Streamlit console driven headless through `streamlit.testing.v1.AppTest`.

Each test gets its own SQLite store, copied from one built once per module with the command functions (much
faster than clicking through the admin page): the admin, a planner, two Pudong commanders (`cmd_a` holds the
incident), a Pudong observer and a Xuhui observer; one incident from the tiny scenario in Pudong, and one
proposed plan. The console opens the store named by `YIWANG_DATABASE_URL` and caches it per URL, so a store
per test means a fresh cache entry per test.

Pages are reached the way a board row's button reaches them: by setting `yiwang_goto` to a page's url path
(`AppTest.switch_page` only knows file pages, and these pages are functions under `st.navigation`).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import console_support as support
import pytest
import yaml
from console_support import Template, copy_store, new_app, no_exception, submit_button, users_store
from sqlalchemy import select
from store_support import ADMIN_PASSWORD, FAST, PASSWORD, tiny_plan, tiny_scenario
from streamlit.testing.v1 import AppTest
from typhoon_worlds import small_typhoon, storm

import command.console.app
import command.loop
from command import audit
from command.authority import grant_command
from command.console import views
from command.console.i18n import TEXT, t
from command.errors import NotAuthorised
from command.incidents import list_incidents, open_incident
from command.loop import approve_and_apply
from command.plans import PlanView, approve_plan, create_plan, list_plans, view_plan
from command.security import Actor, resume_session
from command.store import ROLES, Incident, Store
from scenarios.defaults import default_plan
from scenarios.loading import builtin_scenario_dir
from scenarios.plan import TradeOffPoint

APP = str(Path(command.console.app.__file__))
CONSOLE = Path(command.console.app.__file__).parent
PAGES = ("board", "incident", "review", "whatif", "sweeps", "admin")

#: username -> (role, jurisdiction); `admin` is made by `init_store`.
USERS = {
    "planner": ("planner", "shanghai"),
    "cmd_a": ("commander", "pudong"),
    "cmd_b": ("commander", "pudong"),
    "obs_pd": ("observer", "pudong"),
    "obs_xh": ("observer", "xuhui"),
}
PASSWORDS = {"admin": ADMIN_PASSWORD} | dict.fromkeys(USERS, PASSWORD)

JOB_TIMEOUT_S = 120


@dataclass
class Console:
    """One test's copy of the store: its URL (set as YIWANG_DATABASE_URL), and a handle to check it."""

    url: str
    store: Store
    incident_id: int
    plan_id: int
    actors: dict[str, Actor]

    def plans(self) -> list[PlanView]:
        return list_plans(self.store, self.actors["admin"], self.incident_id)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The users of each role, a Pudong incident commanded by cmd_a, and one proposed plan."""
    path = tmp_path_factory.mktemp("console") / "template.db"
    store, actors = users_store(path, USERS)
    scenario = tiny_scenario()
    iid = open_incident(store, actors["admin"], scenario, jurisdiction="pudong")
    grant_command(store, actors["admin"], iid, "cmd_a", hours=8, reason="on-site command")
    forecast = {"seed": scenario.seed, "baseline": {"queue_total_max": 40.0}, "planned": {"queue_total_max": 12.0}}
    pid = create_plan(store, actors["planner"], iid, tiny_plan(scenario), scenario=scenario, forecast=forecast)
    store.dispose()
    return Template(path, iid, pid, actors)


@pytest.fixture
def console(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A private copy of the template store, named in YIWANG_DATABASE_URL for the console to open."""
    url = copy_store(template.path, tmp_path / "store.db")
    monkeypatch.setenv("YIWANG_DATABASE_URL", url)
    handle = Console(url, Store(url, policy=FAST), template.incident_id, template.plan_id, template.actors)
    yield handle
    handle.store.dispose()


# ------------------------------------------------------------------------------------------ driving the app


def log_in(at: AppTest, username: str, password: str | None = None) -> AppTest:
    return support.log_in(at, username, PASSWORDS[username] if password is None else password)


def signed_in(username: str) -> AppTest:
    return log_in(new_app(), username)


def goto(at: AppTest, page: str) -> AppTest:
    at.session_state["yiwang_goto"] = page
    return at.run()


def keys(widgets) -> set[str]:  # type: ignore[no-untyped-def]
    return {w.key for w in widgets if w.key}


def page_shown(at: AppTest) -> str:
    """Which page the last run rendered, told by a widget only that page has."""
    if submit_button(at, "login") is not None:
        return "login"
    selects = keys(at.selectbox)
    for page, marker in (("admin", "au_role"), ("incident", "incident_choose"), ("review", "review_choose"),
                         ("whatif", "whatif_scenario"), ("sweeps", "sweep_scenario")):  # fmt: skip
        if marker in selects:
            return page
    headings = {h.value for h in at.header}
    if headings & {t("board.heading", "zh"), t("board.heading", "en")}:
        return "board"
    return "?"


def values(elements) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(e.value) for e in elements]


# ------------------------------------------------------------------------------------------ 1. logging in


def test_login_shows_the_board_with_the_role_in_the_sidebar(console: Console) -> None:
    """A right password opens the board, and the sidebar names the user and their role."""
    at = signed_in("planner")
    no_exception(at)
    assert page_shown(at) == "board"
    (caption,) = [c for c in values(at.sidebar.caption) if "planner" in c]
    assert t("role.planner") in caption
    assert "logout" in keys(at.sidebar.button)


def test_failed_login_shows_the_error_and_no_other_page(console: Console) -> None:
    """A wrong password is refused with a message, and no page beyond the login page opens."""
    at = log_in(new_app(), "planner", "not the password at all")
    no_exception(at)
    assert any(e.startswith(t("login.failed", error="")) for e in values(at.error))
    assert "yiwang_token" not in at.session_state
    for page in PAGES:
        assert page_shown(goto(at, page)) == "login"
    assert "logout" not in keys(at.button)


def test_five_wrong_passwords_make_the_console_wait(console: Console) -> None:
    """After wrong passwords from one console (three, the default policy) even the right one is refused until the
    wait is over; one source alone never locks the account (`command.security`)."""
    at = new_app()
    for _ in range(5):
        log_in(at, "cmd_b", "wrong password, again")
        assert page_shown(at) == "login"
    log_in(at, "cmd_b")
    no_exception(at)
    assert page_shown(at) == "login"
    assert any("本终端登录失败次数过多，请等待 " in e for e in values(at.error)), values(at.error)  # LoginThrottled


# ------------------------------------------------------------------------------------------ 2. pages by role


@pytest.mark.parametrize(
    ("username", "pages"),
    [
        ("admin", {"board", "incident", "review", "admin"}),
        ("planner", {"board", "incident", "review", "whatif", "sweeps"}),
        ("cmd_a", {"board", "incident", "review", "whatif", "sweeps"}),
        ("obs_pd", {"board", "incident", "review"}),
    ],
)
def test_each_role_is_offered_its_pages(console: Console, username: str, pages: set[str]) -> None:
    """Everyone gets board, incident and review; planners and commanders what-if; only admins admin."""
    at = signed_in(username)
    reached = set()
    for page in PAGES:
        goto(at, "board")
        shown = page_shown(goto(at, page))
        no_exception(at)
        if shown == page:
            reached.add(page)
        else:
            assert shown == "board", f"{username} asked for {page} and got {shown}"
    assert reached == pages


def test_an_observer_elsewhere_sees_no_pudong_incident(console: Console) -> None:
    """The Xuhui observer gets the same pages, but the Pudong incident is on none of them."""
    at = signed_in("obs_xh")
    no_exception(at)
    assert t("board.none") in values(at.info)
    for page in ("incident", "review"):
        goto(at, page)
        no_exception(at)
        assert t("incident.none") in values(at.info)
        assert not {"incident_choose", "review_choose"} & keys(at.selectbox)


def test_an_observer_sent_to_admin_stays_off_it(console: Console) -> None:
    """An observer who sets `yiwang_goto` to `admin` does not get the admin page."""
    at = signed_in("obs_pd")
    goto(at, "admin")
    no_exception(at)
    assert page_shown(at) == "board"
    assert not {"au_name", "au_password"} & keys(at.text_input)


def test_an_admin_starts_a_built_in_drill_with_a_trainee_in_command(console: Console) -> None:
    """The Drills tab shows the chosen script's injects at the scenario's clock times; starting it opens an
    exercise incident in the jurisdiction chosen, with the trainee holding command."""
    at = goto(signed_in("admin"), "admin")
    no_exception(at)
    at.selectbox(key="dr_scenario").select("bund_new_year_2014")
    at.selectbox(key="dr_script").select("bund_2014_metro_surge")
    at.run()
    shown = next(d.value for d in at.dataframe if t("admin.drill_col.at") in d.value.columns)
    assert list(shown[t("admin.drill_col.at")]) == ["20:10", "21:00", "22:00"]
    at.selectbox(key="dr_jur").select("pudong")
    at.selectbox(key="dr_trainee").select("obs_pd")
    submit_button(at, "admin_drill").click()
    at.run()
    no_exception(at)
    drills = [i for i in list_incidents(console.store, console.actors["admin"]) if i.exercise]
    assert len(drills) == 1 and drills[0].holder == "obs_pd" and drills[0].scenario_name == "bund_new_year_2014"
    with console.store.read() as session:
        injects = json.loads(session.get(Incident, drills[0].id).scenario_json)["injects"]
    assert [i["kind"] for i in injects] == ["surge", "close_exit", "delay"]


# ------------------------------------------------------------------------------------------ 3. approving


def test_the_holder_approves_on_the_review_page(console: Console) -> None:
    """The commander holding the incident sees the approve form, and approving puts the plan into effect."""
    at = goto(signed_in("cmd_a"), "review")
    assert page_shown(at) == "review"
    button = submit_button(at, "approve_")
    assert button is not None
    at.text_input(key="approve_password").input(PASSWORD)
    button.click()
    at.run()
    no_exception(at)
    assert t("review.approved", plan=console.plan_id, version=1) in values(at.success)
    assert submit_button(at, "approve_") is None

    view = view_plan(console.store, console.actors["cmd_a"], console.plan_id)
    assert view.status == "active"
    (decision,) = view.decisions
    assert (decision.decision, decision.version, decision.by) == ("approved", 1, "cmd_a")
    assert decision.shown["digest"] == view.digest
    trail = [(e.action, e.actor, e.subject) for e in audit.entries(console.store, incident_id=console.incident_id)]
    approved = trail.index(("plan_approve", "cmd_a", f"plan {console.plan_id}"))
    assert ("plan_activate", "cmd_a", f"plan {console.plan_id}") in trail[approved:]
    assert audit.verify(console.store).ok


@pytest.mark.parametrize("username", ["cmd_b", "obs_pd", "planner"])
def test_no_approve_form_for_anyone_else(console: Console, username: str) -> None:
    """The other commander, an observer and the planner see the plan but no approve or reject form."""
    at = goto(signed_in(username), "review")
    no_exception(at)
    assert page_shown(at) == "review"
    assert submit_button(at, "approve_") is None
    assert submit_button(at, "reject_") is None
    assert "approve_password" not in keys(at.text_input)
    assert console.plans()[0].status == "proposed"


def test_a_wrong_password_in_the_approve_form_is_refused(console: Console) -> None:
    """The holder's approval with a wrong password is refused on the page and the plan stays proposed."""
    at = goto(signed_in("cmd_a"), "review")
    at.text_input(key="approve_password").input("not my password")
    submit_button(at, "approve_").click()
    at.run()
    no_exception(at)
    assert any(e.startswith(t("review.refused", error="")) for e in values(at.error))
    assert view_plan(console.store, console.actors["admin"], console.plan_id).status == "proposed"


def test_each_wrong_approval_password_says_how_many_more_make_the_console_wait(console: Console) -> None:
    """At each wrong approval password the holder is told, before it happens, how many more make this console wait
    (the store's count: three free failures per source), then how long; the account itself is not locked."""
    at = goto(signed_in("cmd_a"), "review")
    for wrong in (1, 2):
        at.text_input(key="approve_password").input("not my password")
        submit_button(at, "approve_").click()
        at.run()
        no_exception(at)
        assert t("review.lockout_warning", "zh", wrong=wrong, left=3 - wrong) in values(at.warning)
    at.text_input(key="approve_password").input("not my password")
    submit_button(at, "approve_").click()
    at.run()
    no_exception(at)
    assert t("review.lockout_wait", "zh", wrong=3, seconds="30") in values(at.warning)
    with console.store.read() as session:
        from command.store import User

        holder = session.scalars(select(User).where(User.username == "cmd_a")).one()
        assert holder.locked_until is None


# ------------------------------------------------------------------------------------------ 4. forging


def test_a_forged_token_signs_the_session_out(console: Console) -> None:
    """A session token the store does not know is dropped: the login page shows, with the expiry notice."""
    at = signed_in("cmd_a")
    at.session_state["yiwang_token"] = "forged-" + "x" * 40
    at.run()
    no_exception(at)
    assert page_shown(at) == "login"
    assert t("app.session_expired") in values(at.warning)
    assert page_shown(goto(at, "review")) == "login"


def test_an_observer_cannot_approve_whatever_the_session_state_says(console: Console) -> None:
    """The identity behind an observer's token is refused by `approve_plan`, and keys a naive app might trust
    (a role, a user name) change neither the page nor the plan."""
    at = signed_in("obs_pd")
    who = resume_session(console.store, at.session_state["yiwang_token"])
    assert (who.username, who.role) == ("obs_pd", "observer")
    shown = view_plan(console.store, who, console.plan_id).shown()
    with pytest.raises(NotAuthorised):
        approve_plan(console.store, who, console.plan_id, password=PASSWORD, shown=shown)

    for key, value in {"role": "commander", "username": "cmd_a", "user": "cmd_a", "yiwang_role": "commander",
                       "yiwang_user": "cmd_a", "actor": console.actors["cmd_a"]}.items():  # fmt: skip
        at.session_state[key] = value
    goto(at, "review")
    no_exception(at)
    assert page_shown(at) == "review"
    assert submit_button(at, "approve_") is None
    assert t("review.not_holder", holder="cmd_a") in values(at.info)
    assert any("obs_pd" in c for c in values(at.sidebar.caption))
    assert page_shown(goto(at, "admin")) == "review"  # the request is ignored: it stays where it was
    assert view_plan(console.store, console.actors["admin"], console.plan_id).status == "proposed"


# ------------------------------------------------------------------------------------------ 5. running a plan


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Hold the plan job after its first progress report until the test sets the returned event. The job runs in
    the server's process here (YIWANG_CONSOLE_JOBS=thread) so that the hold reaches it; the browser tests plan in
    the job's own process."""
    monkeypatch.setenv("YIWANG_CONSOLE_JOBS", "thread")
    event = threading.Event()
    real = command.loop.run_loaded

    def gated(*args, progress, **kwargs):  # type: ignore[no-untyped-def]
        progress("waiting for the test")
        event.wait(JOB_TIMEOUT_S)
        return real(*args, progress=progress, **kwargs)

    monkeypatch.setattr(command.loop, "run_loaded", gated)
    yield event
    event.set()  # never leave a job thread waiting


def start_plan_job(console: Console):  # type: ignore[no-untyped-def]
    at = goto(signed_in("planner"), "review")
    at.session_state["yiwang_time_limit"] = 2
    at.button(key="review_run").click()
    at.run()
    no_exception(at)
    job = at.session_state["yiwang_jobs"][f"plan:{console.incident_id}"]
    return at, job


def poll_until_done(at: AppTest, job) -> None:  # type: ignore[no-untyped-def]
    support.poll_until_done(at, job, JOB_TIMEOUT_S)


def test_plan_it_runs_in_the_background_with_progress(console: Console, gate: threading.Event) -> None:
    """The planner's run shows progress while it works, then proposes a new plan."""
    at, job = start_plan_job(console)
    end = time.monotonic() + JOB_TIMEOUT_S
    while "waiting for the test" not in job.messages and time.monotonic() < end:  # then it waits at the gate
        time.sleep(0.05)
    at.run()
    assert job.running
    (bar,) = at.get("progress")
    assert bar.text == "waiting for the test"
    assert f"cancel_plan:{console.incident_id}" in keys(at.button)
    assert "review_run" not in keys(at.button)

    gate.set()
    poll_until_done(at, job)
    assert (job.error, job.cancelled) == (None, False)
    # Held by the gate, the job ran in the server's process; tests/test_budget.py and the browser tests plan in a
    # process of the job's own.
    assert "proposing" in job.messages[-1]
    plans = console.plans()
    assert [p.plan_id for p in plans] == [console.plan_id, job.result]
    assert plans[-1].status == "proposed"
    assert plans[-1].created_by == "planner"
    assert t("review.done", plan=job.result) in values(at.success)


def test_after_a_run_an_earlier_plan_can_still_be_chosen(console: Console, gate: threading.Event) -> None:
    """The finished run opens its new plan once; choosing the earlier plan afterwards is not undone."""
    at, job = start_plan_job(console)
    gate.set()
    poll_until_done(at, job)
    assert at.selectbox(key="review_plan").value == job.result
    at.selectbox(key="review_plan").set_value(console.plan_id)
    at.run()
    at.run()
    no_exception(at)
    assert at.selectbox(key="review_plan").value == console.plan_id


def test_a_cancelled_run_proposes_nothing(console: Console, gate: threading.Event) -> None:
    """Cancel stops the run at its next step, the page says so, and no plan is added."""
    at, job = start_plan_job(console)
    at.button(key=f"cancel_plan:{console.incident_id}").click()
    at.run()
    gate.set()
    poll_until_done(at, job)
    assert job.cancelled
    assert job.result is None
    assert t("review.cancelled") in values(at.warning)
    assert [p.plan_id for p in console.plans()] == [console.plan_id]
    assert "run" not in [e.action for e in audit.entries(console.store, incident_id=console.incident_id)]


# ------------------------------------------------------------------------------------------ 6. uploading


def broken_upload(**edits: object) -> bytes:
    """The Disney scenario as a YAML upload, with `edits` applied (`path.to.field` -> value)."""
    doc = yaml.safe_load((builtin_scenario_dir() / "disney_mass_testing.yaml").read_text(encoding="utf-8"))
    for path, value in edits.items():
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value
    return yaml.safe_dump(doc, allow_unicode=True).encode()


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ({"population.zones.0.visitors": -5, "resources.testers.pudong.count": -3},
         ["broken.yaml: population.zones[0].visitors: must be >= 0 (got -5)",
          "broken.yaml: resources.testers.pudong.count: must be >= 0 (got -3)"]),
        ({"testing.sites.0.node": "no_such_node"},
         ["broken.yaml: testing.sites[0].node: unknown node 'no_such_node' (not in graph 'disney')"]),
    ],
    ids=["out-of-range", "unknown-node"],
)  # fmt: skip
def test_a_broken_upload_shows_one_error_per_field(
    console: Console, edits: dict[str, object], expected: list[str]
) -> None:
    """Each problem in an uploaded scenario is its own `FILE: field.path: reason` line; nothing is opened."""
    before = list_incidents(console.store, console.actors["admin"], include_closed=True)
    at = signed_in("planner")
    at.radio(key="board_source").set_value("upload")
    at.run()
    at.file_uploader(key="board_upload").set_value(("broken.yaml", broken_upload(**edits), "application/x-yaml"))
    at.run()
    at.button(key="board_open").click()
    at.run()
    no_exception(at)
    errors = values(at.error)
    assert errors == [t("board.scenario_errors", n=len(expected)), *expected]
    assert all(re.fullmatch(r"broken\.yaml: [\w.\[\]]+: .+", line) for line in errors[1:])
    assert not at.success
    assert list_incidents(console.store, console.actors["admin"], include_closed=True) == before


# ------------------------------------------------------------------------------------------ 7. languages


def test_switching_to_english_shows_english_text(console: Console) -> None:
    """Choosing English in the sidebar turns the board and the sidebar into English."""
    at = signed_in("planner")
    assert t("board.heading", "zh") in values(at.header)
    at.selectbox(key="yiwang_lang").set_value("en")
    at.run()
    no_exception(at)
    assert "Incidents in your jurisdiction" in values(at.header)
    assert t("app.signed_in", "en", user="planner", role="planner", jurisdiction="Shanghai") in values(
        at.sidebar.caption
    )
    assert at.button(key="logout").label == "Log out"


#: `tr("key")`, `t("key")` and the f-string forms `tr(f"role.{...}")` in the console's source.
TEXT_KEY = re.compile(r"""\b(?:tr|t)\(\s*(f?)(["'])(.+?)\2""")


def test_every_text_key_has_both_languages_and_every_used_key_exists() -> None:
    """Every interface text has Chinese and English, and every key the console's code asks for is defined."""
    missing_language = [k for k, (zh, en) in TEXT.items() if not zh.strip() or not en.strip()]
    assert not missing_language

    used: dict[str, list[str]] = {}
    for path in sorted(CONSOLE.rglob("*.py")):
        for is_f, _, key in TEXT_KEY.findall(path.read_text(encoding="utf-8")):
            used.setdefault(key if not is_f else "f:" + key, []).append(path.name)
    assert len(used) > 50, "the pattern no longer finds the console's text keys"
    literal = {k for k in used if not k.startswith("f:")}
    assert not sorted(literal - TEXT.keys())
    for template in (k[2:] for k in used if k.startswith("f:")):  # every f-string key matches some key
        pattern = re.compile(re.sub(r"\\\{.*?\\\}", r"[\\w.]+", re.escape(template)))
        assert any(pattern.fullmatch(k) for k in TEXT), template
    assert {f"role.{r}" for r in ROLES} <= TEXT.keys()
    assert {f"page.{p}" for p in (*PAGES, "login")} <= TEXT.keys()
    assert {"board.source.builtin", "board.source.upload"} <= TEXT.keys()


# ------------------------------------------------------------------------------------------ 8. the incident view


def test_the_incident_page_draws_the_map_and_chart_without_resimulating(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The map and the KPI chart are drawn, and reruns, a slider move or another series simulate nothing."""
    view = view_plan(console.store, console.actors["cmd_a"], console.plan_id)
    approve_and_apply(console.store, console.actors["cmd_a"], console.plan_id, password=PASSWORD, shown=view.shown(),
                      acknowledged=view.warnings)
    calls: list[str] = []
    real = views.simulate

    def counting(scenario, plan, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(plan.meta.produced_by)
        return real(scenario, plan, **kwargs)

    monkeypatch.setattr(views, "simulate", counting)
    views.run.clear()  # other tests in this process may have filled the cache

    at = goto(signed_in("planner"), "incident")
    no_exception(at)
    assert page_shown(at) == "incident"
    assert len(at.get("deck_gl_json_chart")) == 1
    assert len(at.get("vega_lite_chart")) == 1
    assert len(calls) == 2  # the default plan and the plan in effect, once each

    for _ in range(3):
        at.run()
    at.slider(key=f"incident_minute_{console.incident_id}").set_value(120)
    at.run()
    series = at.selectbox(key="incident_series")
    other = next(o for o in series.options if o != series.value)
    series.set_value(other)
    at.run()
    no_exception(at)
    assert len(at.get("deck_gl_json_chart")) == 1
    assert len(calls) == 2


def test_a_sweep_runs_in_the_background_and_shows_intervals(console: Console) -> None:
    """A planner's sweep of two variants runs off the script thread and shows means, intervals and breaches."""
    at = goto(signed_in("planner"), "sweeps")
    at.selectbox(key="sweep_scenario").set_value("disney_mass_testing")
    at.number_input(key="sweep_n").set_value(2)
    at.text_input(key="sweep_vary").input("resources.testers.xuhui.count=60,120")
    submit_button(at, "sweep_form").click()
    at.run()
    job = at.session_state["yiwang_jobs"]["sweep"]
    assert job.wait(JOB_TIMEOUT_S), "the sweep did not finish"
    at.run()
    no_exception(at)
    assert job.error is None, job.error
    (table,) = at.dataframe
    frame = table.value
    assert list(frame.columns)[1:] == ["resources.testers.xuhui.count=60", "resources.testers.xuhui.count=120"]
    assert "P(misses_target_finish)" in set(frame.iloc[:, 0])


# ------------------------------------------------------------------------------------------ 9. the trade-off


#: A typhoon plan's trade-off set: the chosen schedule, one that clears the same tunnels longer (cars cheaper), one
#: that clears them shorter.
WAYS = ("fuxing ba", "renmin ab")
TRADE_OFF = (
    TradeOffPoint(vehicle_weight=0.125, rider_wait_h=7.0, riders_stranded=3, vehicle_h=26.0, cleared_periods=10,
                  cleared_ways=WAYS, period_s=900),
    TradeOffPoint(vehicle_weight=0.5, rider_wait_h=10.0, riders_stranded=4, vehicle_h=20.0, cleared_periods=8,
                  cleared_ways=WAYS, period_s=900, chosen=True),
    TradeOffPoint(vehicle_weight=2.0, rider_wait_h=16.0, riders_stranded=9, vehicle_h=5.0, cleared_periods=4,
                  cleared_ways=WAYS, period_s=900),
)  # fmt: skip


def typhoon_incident(console: Console, trade_off: tuple[TradeOffPoint, ...] = TRADE_OFF) -> int:
    """A small typhoon incident in Pudong with one proposed plan that carries a trade-off set; its id."""
    scenario = small_typhoon(hazard=storm((0, 9, "red")))
    iid = open_incident(console.store, console.actors["admin"], scenario, jurisdiction="pudong")
    plan = default_plan(scenario)
    plan = plan.model_copy(update={"meta": plan.meta.model_copy(update={"trade_off": trade_off})})
    create_plan(console.store, console.actors["planner"], iid, plan, scenario=scenario)
    return iid


def chart_rows(at: AppTest) -> list[list[dict]]:
    """The rows of data of each chart drawn (Streamlit sends them as Arrow tables beside the Vega-Lite spec)."""
    import pyarrow as pa

    charts = at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")
    return [[row for d in e.proto.datasets for row in pa.ipc.open_stream(d.data.data).read_all().to_pylist()]
            for e in charts]  # fmt: skip


def test_a_typhoon_plan_shows_its_trade_off_with_the_plan_marked_and_the_price_of_a_period(console: Console) -> None:
    """The review of a typhoon plan draws the trade-off set with this plan marked, and reads what one more cleared
    period costs off the chosen point and the next one that clears more (6 vehicle-hours and 3 rider-hours over
    2 periods: 3.0 vehicle-hours and 90 rider-minutes a period)."""
    iid = typhoon_incident(console)
    at = goto(signed_in("planner"), "review")
    at.selectbox(key="review_choose").set_value(iid)
    at.run()
    no_exception(at)
    assert t("review.trade_off") in " ".join(values(at.markdown))
    (rows,) = [rows for rows in chart_rows(at) if rows and "rider_wait_h" in rows[0]]
    assert len(rows) == 3
    (chosen,) = [r for r in rows if r["chosen"]]
    assert (chosen["vehicle_h"], chosen["rider_wait_h"], chosen["kind"]) == (20.0, 10.0, t("review.trade_off.chosen"))
    reading = t("review.trade_off.reading", minutes="15", vehicle_h="3.0", rider_min="90")
    assert reading in values(at.markdown)


def test_a_plan_without_a_trade_off_shows_none(console: Console) -> None:
    """The tiny mass-testing plan carries no trade-off set, so the review draws none."""
    at = goto(signed_in("planner"), "review")
    no_exception(at)
    assert t("review.trade_off") not in " ".join(values(at.markdown))


def test_the_price_of_a_period_falls_back_to_the_point_that_clears_less() -> None:
    """When the plan clears the most, the price is the slope from the nearest point that clears the same tunnels
    less; when every point clears as long, or the others clear other tunnels, there is no price."""
    most = tuple(p.model_copy(update={"chosen": p.cleared_periods == 10}) for p in TRADE_OFF)
    price = views.cleared_period_price(most)
    assert price is not None
    assert (price.vehicle_h, price.rider_min, price.period_min) == (3.0, 90.0, 15.0)
    flat = tuple(p.model_copy(update={"cleared_periods": 8}) for p in TRADE_OFF)
    assert views.cleared_period_price(flat) is None
    elsewhere = tuple(p if p.chosen else p.model_copy(update={"cleared_ways": ("yanan ab",)}) for p in TRADE_OFF)
    assert views.cleared_period_price(elsewhere) is None


def test_a_set_that_differs_in_tunnels_says_what_less_car_delay_costs(console: Console) -> None:
    """When the other schedules clear other tunnels (as on huangpu_typhoon), the review says what the nearest one
    with less car delay clears, saves and costs instead (15 vehicle-hours for 360 rider-minutes and 5 riders)."""
    elsewhere = tuple(p if p.chosen else p.model_copy(update={"cleared_ways": ("yanan ab",)}) for p in TRADE_OFF)
    step = views.step_to_less_car_delay(elsewhere)
    assert step == views.TradeStep(vehicle_weight=2.0, cleared_periods=4, cleared_ways=("yanan ab",), vehicle_h=15.0,
                                   rider_min=360.0, stranded=5.0)  # fmt: skip
    iid = typhoon_incident(console, elsewhere)
    at = goto(signed_in("planner"), "review")
    at.selectbox(key="review_choose").set_value(iid)
    at.run()
    no_exception(at)
    reading = t("review.trade_off.step", weight="2", ways="yanan ab", periods=4, chosen_periods=8, vehicle_h="15",
                rider_min="360", stranded="5")  # fmt: skip
    assert reading in values(at.markdown)


@pytest.mark.parametrize("graph", ["/etc/passwd", str(builtin_scenario_dir().parent / "graphs" / "disney.geojson"),
                                   "/no/such/file.geojson"])  # fmt: skip
def test_an_upload_cannot_name_a_file_on_the_server(console: Console, graph: str) -> None:
    """An uploaded scenario's graph must be a built-in one: a path, whether it exists or not, is refused with the
    same line (nothing read, nothing told), and no incident is opened (issue 21, item 7)."""
    before = list_incidents(console.store, console.actors["admin"], include_closed=True)
    at = signed_in("planner")
    at.radio(key="board_source").set_value("upload")
    at.run()
    at.file_uploader(key="board_upload").set_value(("up.yaml", broken_upload(graph=graph), "application/x-yaml"))
    at.run()
    at.button(key="board_open").click()
    at.run()
    no_exception(at)
    assert values(at.error) == [t("board.scenario_errors", n=1),
                                "up.yaml: graph: not a built-in graph (one of bund, crossings, disney, "
                                "huangpu_central); an uploaded scenario cannot name a file"]  # fmt: skip
    assert list_incidents(console.store, console.actors["admin"], include_closed=True) == before


# ------------------------------------------------------------------------------------------ 10. the map, offline


@pytest.mark.parametrize("name", ["disney_mass_testing", "bund_new_year_2014", "huangpu_typhoon"])
def test_the_map_asks_for_no_base_map_and_every_tooltip_field_is_filled(name: str) -> None:
    """The map names no provider and leaves pydeck's "no style chosen" mark, which Streamlit's front end reads as "no
    base map" (without it, it fetches its default style from a CDN); every pickable object carries each field its
    tooltip names, in words (no `{field}` left for deck.gl to print)."""
    from scenarios import load_scenario

    scenario = load_scenario(name)
    spec = json.loads(views.deck(scenario, {}, 0.0, words={"road": "道路"}).to_json())
    assert "mapProvider" not in spec
    assert spec["mapStyle"] == "__MAP_STYLE__"  # a missing mapStyle is what makes Streamlit fetch its default
    assert "http" not in json.dumps(spec)
    fields = re.findall(r"\{(\w+)\}", views.TOOLTIP["text"])
    for layer in spec["layers"]:
        if layer.get("pickable"):
            for obj in layer["data"]:
                assert all(str(obj.get(f, "")).strip() for f in fields), (layer["@@type"], obj)
    tips = [obj["tip"] for layer in spec["layers"] for obj in layer["data"]
            if layer["@@type"] == "PathLayer" and layer.get("pickable")]
    assert any("道路" in tip for tip in tips)


# ------------------------------------------------------------------------------------------ 11. defects of a walk


def _mixed_table() -> None:
    import streamlit as st

    st.dataframe([{"plan": 3}, {"plan": "-"}])


def test_the_arrow_catcher_sees_a_column_mixing_numbers_and_text() -> None:
    """A table whose column mixes numbers and "-" is what the catcher reports (so its silence below means something)."""
    with support.arrow_fallbacks() as caught:
        AppTest.from_function(_mixed_table, default_timeout=60).run()
    assert caught.records


def test_the_board_sends_its_table_as_it_is_with_and_without_a_plan_in_effect(console: Console) -> None:
    """With one incident under a plan and one without, the board's table goes to the browser with no type fix (the
    ArrowTypeError of every board render) and names the plan in effect as text."""
    view = view_plan(console.store, console.actors["cmd_a"], console.plan_id)
    approve_and_apply(console.store, console.actors["cmd_a"], console.plan_id, password=PASSWORD, shown=view.shown())
    open_incident(console.store, console.actors["admin"], tiny_scenario(), jurisdiction="pudong")
    with support.arrow_fallbacks() as caught:
        at = signed_in("planner")
        no_exception(at)
    assert not caught.records, [r.getMessage() for r in caught.records]
    table = at.dataframe[0].value
    plans = list(table[t("board.col.plan", "zh")])
    assert sorted(plans) == ["#1", "-"]


def test_a_new_incident_is_on_the_board_at_once(console: Console) -> None:
    """An incident opened on the board is in the board's table in the run that opened it (not the one after)."""
    at = signed_in("planner")
    before = len(at.dataframe[0].value)
    at.selectbox(key="board_scenario").set_value("disney_mass_testing")
    at.button(key="board_open").click()
    at.run()
    no_exception(at)
    codes = list(at.dataframe[0].value[t("board.col.code", "zh")])
    assert len(codes) == before + 1
    newest = list_incidents(console.store, console.actors["admin"])[0]
    assert newest.code in codes
    assert any(newest.code in s for s in values(at.success))


def test_the_grant_list_offers_only_who_may_hold_command_of_the_incident(console: Console) -> None:
    """The admin's grant list offers the active commanders of the incident's district and the city above it, never
    another district's commander (whom `grant_command` would refuse) nor an observer."""
    from command.users import add_user

    admin = console.actors["admin"]
    for name, jurisdiction in (("cmd_xh", "xuhui"), ("cmd_sh", "shanghai")):
        add_user(console.store, admin, username=name, password=PASSWORD, role="commander", jurisdiction=jurisdiction,
                 display_name=f"李{name}", phone="13800138000")  # fmt: skip
    at = goto(signed_in("admin"), "admin")
    no_exception(at)
    assert at.selectbox(key="grant_to").options == ["cmd_a", "cmd_b", "cmd_sh"]
    with pytest.raises(Exception, match="outside their jurisdiction"):  # the rule the list follows
        grant_command(console.store, admin, console.incident_id, "cmd_xh", reason="the list must not offer this")


def test_refusals_read_in_chinese() -> None:
    """The command layer's refusals a user meets (outside the jurisdiction, a wrong password, locked, advanced
    meanwhile) read in Chinese, naming who; one no pattern knows says its kind in Chinese and keeps the detail."""
    from command.console.words import refusal
    from command.errors import AccountLocked, AuthFailed, BadInput, Conflict

    cases = {
        BadInput("user 'cmd_xh' cannot see incident 1 (outside their jurisdiction)"):
            "cmd_xh 不在本事件所属辖区，不能授权",
        AuthFailed("wrong user name or password"): "用户名或密码错误",
        AccountLocked("account 'cmd_b' is locked until 2026-12-06 18:00:00 UTC after repeated failed logins"):
            "账户 cmd_b 因多次登录失败已锁定，至 2026-12-06 18:00:00（UTC）",
        Conflict("incident 3 was advanced by someone else meanwhile; look again"):
            "事件已被他人推进，请刷新后重试",
    }  # fmt: skip
    for exc, said in cases.items():
        assert refusal(exc, "zh") == said
        assert refusal(exc, "en") == str(exc)
    other = BadInput("hours: 0 must be more than 0")
    assert refusal(other, "zh") == "输入有误（系统说明：hours: 0 must be more than 0）"


def test_the_what_if_takes_a_bus_count_its_depots_hold() -> None:
    """The Disney what-if form offers each depot's count beside the fleet's, and a fleet of 120 split over the depots
    validates (the form's fields as `--set` overrides), where 120 with the depots left at 220 is refused naming it."""
    from command.kinds import whatif_fields
    from scenarios import ScenarioError, load_scenario

    base = load_scenario("disney_mass_testing")
    fields = {f.key: f for f in whatif_fields(base)}
    depots = [k for k in fields if k.startswith("depot_")]
    assert len(depots) == len(base.resources.buses.depots) == 3
    shown = {k: f.value for k, f in fields.items()} | {"buses": 120, "depot_0": 40, "depot_1": 40, "depot_2": 40}
    scenario = load_scenario("disney_mass_testing", overrides=[fields[k].override(v) for k, v in shown.items()])
    assert scenario.resources.buses.count == 120
    assert [d.count for d in scenario.resources.buses.depots] == [40, 40, 40]
    alone = {k: f.value for k, f in fields.items()} | {"buses": 120}
    with pytest.raises(ScenarioError, match=r"resources\.buses"):
        load_scenario("disney_mass_testing", overrides=[fields[k].override(v) for k, v in alone.items()])


def _advance(console: Console, until_s: float) -> None:
    command.loop.advance(console.store, console.actors["planner"], console.incident_id, until_s=until_s)


def test_the_time_slider_and_the_map_follow_the_incident_clock(console: Console) -> None:
    """After each advance (by anyone, or on this page) the slider, the map's time and the logs are at the new
    incident clock, though the slider keeps its own state between runs; a move of the slider still holds."""
    at = goto(signed_in("planner"), "incident")
    key = f"incident_minute_{console.incident_id}"
    assert at.slider(key=key).value == 0
    _advance(console, 3600)
    at.run()
    clock = support.incident(console.store, console.actors["admin"], console.incident_id).sim_time_s
    assert clock > 0
    assert at.slider(key=key).value == int(clock // 60)
    at.slider(key=key).set_value(30)
    at.run()
    assert at.slider(key=key).value == 30  # the user's look back holds until the clock moves again
    at.button(key="incident_advance").click()
    at.run()
    no_exception(at)
    later = support.incident(console.store, console.actors["admin"], console.incident_id).sim_time_s
    assert later > clock
    assert at.slider(key=key).value == int(later // 60)
    shown = " ".join(values(at.caption))
    assert f"开始后 {later / 60:,.0f} 分钟" in shown


def test_the_replan_alarm_stands_until_the_horizon_and_not_after(console: Console) -> None:
    """An incident that needs a re-plan shows the alarm on the board and in its header; at its horizon it shows
    none (there is nothing left to re-plan)."""
    from sqlalchemy import update

    def set_incident(**fields: object) -> None:
        with console.store.write() as session:
            session.execute(update(Incident).where(Incident.id == console.incident_id).values(**fields))

    set_incident(needs_replan="inject delay at 19:00", sim_time_s=3600.0)
    at = signed_in("cmd_a")
    assert list(at.dataframe[0].value[t("board.col.alarm", "zh")]) == [t("board.replan", "zh")]
    at = goto(at, "incident")
    assert t("alert.replan", "zh") in values(at.error)
    set_incident(sim_time_s=36000.0)  # the tiny scenario's horizon
    at = signed_in("cmd_a")
    assert list(at.dataframe[0].value[t("board.col.alarm", "zh")]) == [""]
    at = goto(at, "incident")
    no_exception(at)
    assert t("alert.replan", "zh") not in values(at.error)


def test_the_decision_comes_first_and_its_confirmation_at_the_top() -> None:
    """On the review page the warnings and the approve form come before the forecast table, and after approval the
    confirmation is the first thing on the page (in view, where the decision was made)."""
    source = (CONSOLE / "screens" / "review.py").read_text(encoding="utf-8")
    body = source[source.index("def render("):source.index("def _run_controls(")]
    assert body.index("_warnings(view") < body.index("_decide(") < body.index("_forecast(view")


def _in_order(node) -> list:  # type: ignore[no-untyped-def]
    """The elements under an AppTest node, in the order the page draws them."""
    children = getattr(node, "children", None)
    if not isinstance(children, dict) or not children:
        return [node]
    return [e for key in sorted(children) for e in _in_order(children[key])]


def test_the_approval_confirmation_is_shown_where_the_decision_was_made(console: Console) -> None:
    """Approving on the review page shows the confirmation where the decision bar was (above the forecast) and as a
    toast, so that it is in view wherever the page was scrolled when the button was pressed."""
    at = goto(signed_in("cmd_a"), "review")
    at.text_input(key="approve_password").input(PASSWORD)
    submit_button(at, "approve_").click()
    at.run()
    no_exception(at)
    said = t("review.approved", "zh", plan=console.plan_id, version=1)
    assert said in values(at.toast)
    shown = [str(getattr(e, "value", "")) for e in _in_order(at.main)]
    assert shown.index(said) < shown.index(f"**{t('review.forecast', 'zh')}**")


def test_a_series_has_one_colour_in_both_languages() -> None:
    """The default plan's line and the plan's line keep their colours whichever language labels them."""
    import pandas as pd

    frame = {lang: pd.DataFrame({t("incident.default_label", lang): [1.0, 2.0],
                                 t("incident.plan_label", lang): [1.0, 1.5]}, index=[0.0, 5.0])
             for lang in ("zh", "en")}  # fmt: skip
    colours = {}
    for lang in ("zh", "en"):
        labels = (t("incident.default_label", lang), t("incident.plan_label", lang))
        spec = views.series_chart(frame[lang], labels, x="x", y="y").to_dict()
        scale = spec["encoding"]["color"]["scale"]
        colours[lang] = dict(zip(scale["domain"], scale["range"], strict=True))
        assert colours[lang][labels[0]] == views.SERIES_COLOURS[0]
        assert colours[lang][labels[1]] == views.SERIES_COLOURS[1]


# ------------------------------------------------------------------------------------------ 12. Chinese throughout

#: Words that stay as they are in Chinese text: units, standards, names of things and of the product.
KEPT = {"UTC", "LOS", "ICS", "KPI", "OpenStreetMap", "ODbL", "HTML", "CSV", "YAML", "Fruin", "Yiwang", "English",
        "Language", "EXERCISE", "CP-SAT", "min", "Mbps"}  # fmt: skip
#: An identifier (a user, a node, a field path, an incident code) or a number: not words of the interface.
IDENTIFIER = re.compile(r"\b[\w-]*(?:_|\d)[\w-]*\b|\b\w+(?:\.\w+)+")
#: Columns that carry text as its authors wrote it: the engines' one-line texts (the simulation's events, the
#: activity log; their kind is in words beside them) and a drill script's notes.
ENGINE_TEXT = {t("incident.col.text", "zh"), t("admin.drill_col.note", "zh")}


def english_words(text: str, names: set[str]) -> list[str]:
    """The words of `text` that are neither Chinese nor one of the kept words, identifiers or names."""
    for name in sorted(names, key=len, reverse=True):  # a whole name, not a part of a field path
        text = re.sub(rf"(?<![A-Za-z0-9_.]){re.escape(name)}(?![A-Za-z0-9_.])", " ", text)
    text = IDENTIFIER.sub(" ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", text) if w not in KEPT]


def shown_text(node) -> list[str]:  # type: ignore[no-untyped-def]
    """Every piece of interface text under an AppTest node: labels, values, options, table headers and cells."""
    out: list[str] = []
    kind = type(node).__name__
    if kind == "Dataframe":
        frame = node.value
        columns = [str(c) for c in frame.columns]
        out += columns
        for column in columns:
            if column not in ENGINE_TEXT:
                out += [str(v) for v in frame[column] if isinstance(v, str)]
        return out
    for attribute in ("label", "placeholder", "help"):
        value = getattr(node, attribute, None)
        if isinstance(value, str):
            out.append(value)
    if kind in {"Markdown", "Caption", "Header", "Subheader", "Title", "Success", "Info", "Warning", "Error", "Text"}:
        out.append(str(node.value))
    if kind in {"Selectbox", "Radio", "Multiselect"}:
        out += [str(o) for o in node.options]
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            out += shown_text(child)
    return out


def untranslated(at: AppTest, names: set[str]) -> dict[str, list[str]]:
    """The pieces of text on the page (main area and sidebar) with English words in them, and those words."""
    found = {}
    for text in shown_text(at.main) + shown_text(at.sidebar):
        words_ = english_words(text, names)
        if words_:
            found[text] = words_
    return found


def test_english_words_finds_english_and_passes_chinese_names_and_units() -> None:
    """The checker flags an English word and passes Chinese, identifiers, numbers, kept words and given names."""
    names = {"One site M/M/8 at utilisation 0.8"}
    assert english_words("已推进：10-31 18:00 → 10-31 19:00（指定时刻）", names) == []
    assert english_words("PD-2026-001 · One site M/M/8 at utilisation 0.8 · cmd_a 20.5 人/m²（UTC+8）", names) == []
    assert english_words("阶段：supervision", names) == ["supervision"]
    assert english_words("Plan 3 proposed", names) == ["Plan", "proposed"]


def test_every_page_reads_in_chinese(console: Console) -> None:
    """In Chinese mode every page a planner, the commander and the admin open (the board, an advanced incident with
    its alarm, advance message, logs and map, the review with its forecast and decision bar, the what-if, sweeps
    and admin pages) shows no English word beyond kept words, identifiers and the names of people and things."""
    from command.drills import builtin_drill_names, read_injects
    from command.store import User
    from command.users import list_jurisdictions
    from scenarios import scenario_graph
    from scenarios.loading import builtin_scenario_names

    command.loop.advance(console.store, console.actors["planner"], console.incident_id, until_s=3600)
    with console.store.read() as session:
        users = {u.username for u in session.scalars(select(User))}
    # The names of people and things: users, incidents, places and teams of the scenarios, jurisdiction codes, the
    # grant's reason as the admin typed it, the drills' targets.
    titles = {r.title for r in list_incidents(console.store, console.actors["admin"], include_closed=True)}
    scenario = tiny_scenario()
    places = {str(d["name"]) for _, d in scenario_graph(scenario).nodes(data=True) if d.get("name")}
    teams = set(scenario.resources.testers)
    codes = {c for c, _, _ in list_jurisdictions(console.store)}
    targets = {str(i.get("target")) for n in builtin_drill_names() for i in read_injects(n) if i.get("target")}
    names = users | titles | places | teams | codes | targets | set(builtin_scenario_names()) | {"on-site command"}
    problems: dict[str, dict[str, list[str]]] = {}
    for username, pages in (("planner", ("board", "incident", "review", "whatif", "sweeps")),
                            ("cmd_a", ("board", "incident", "review")), ("admin", ("admin",))):  # fmt: skip
        at = signed_in(username)
        for page in pages:
            at = goto(at, page)
            no_exception(at)
            if page == "incident" and username == "planner":
                at.button(key="incident_advance").click()
                at.run()
                no_exception(at)
            found = untranslated(at, names)
            if found:
                problems[f"{username}/{page}"] = found
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


# ------------------------------------------------------------------------------------------ 13. the session cookie


def test_a_ticket_opens_the_cookie_once_and_only_while_valid() -> None:
    """A ticket is swapped for its token once; a second use, an unknown ticket or one past its time gets nothing."""
    from command.console import cookies

    ticket = cookies.issue_ticket("token-a", now=100.0)
    assert cookies.redeem(ticket, now=101.0) == "token-a"
    assert cookies.redeem(ticket, now=101.0) is None
    assert cookies.redeem("no-such-ticket", now=101.0) is None
    late = cookies.issue_ticket("token-b", now=100.0)
    assert cookies.redeem(late, now=100.0 + cookies.TICKET_TTL_S + 1) is None
    assert "token" not in cookies.set_script(cookies.issue_ticket("token-c"))  # the page sees the ticket only


def test_the_routes_set_an_httponly_cookie_for_a_ticket_and_clear_it() -> None:
    """The session route answers a valid ticket with an httpOnly, SameSite=Strict cookie holding the token, refuses
    any other body, and the sign-out route clears the cookie."""
    import asyncio

    from starlette.applications import Starlette

    from command.console import cookies

    app = Starlette(routes=cookies.routes())

    def post(path: str, body: bytes = b"") -> tuple[int, dict[str, str]]:
        """POST through the ASGI interface; the status and the headers of the answer."""
        sent: list[dict] = []  # type: ignore[type-arg]

        async def receive() -> dict:  # type: ignore[type-arg]
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:  # type: ignore[type-arg]
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [], "scheme": "http", "server": ("127.0.0.1", 8501), "root_path": ""}  # fmt: skip
        asyncio.run(app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}

    ticket = cookies.issue_ticket("the-token")
    status, headers = post(cookies.SESSION_PATH, ticket.encode())
    assert status == 204
    said = headers["set-cookie"]
    assert said.startswith(f"{cookies.COOKIE}=the-token;")
    assert "HttpOnly" in said and "SameSite=strict" in said and "Path=/" in said
    assert post(cookies.SESSION_PATH, ticket.encode())[0] == 403  # once only
    cleared = post(cookies.SIGNOUT_PATH)[1]["set-cookie"]
    assert cleared.startswith(f'{cookies.COOKIE}="";') and "Max-Age=0" in cleared


def test_assignment_details_and_log_kinds_read_in_chinese() -> None:
    """The particulars `command.ics` writes for each action and the activity log's kinds read in Chinese; a note
    is kept as written."""
    from command.console.words import activity_kind, detail

    assert detail("sampler, wave 2", "zh") == "第 2 批（采样员）"
    assert detail("wave 0", "zh") == "第 0 批"
    assert detail("40% of visitors; by the west gate", "zh") == "游客的 40%；by the west gate"
    assert detail("2 lanes", "zh") == "2 条车道"
    assert detail("at most 120 people/min", "zh") == "每分钟至多 120 人"
    assert detail("wave 0", "en") == "wave 0"
    assert activity_kind("dispatch", "zh") == "调度"
    assert activity_kind("sim:bus_departs", "zh") == "模拟：大巴发车"
    assert activity_kind("breach:critical", "zh") == "越限：危险密度"
    assert activity_kind("plan_approve", "en") == "plan approved"


def test_an_advance_reads_in_words() -> None:
    """An advance that stopped for a breach reads in Chinese: from when to when, why, what happened, what follows."""
    from command.console.words import advance_text
    from command.loop import AdvanceReport
    from scenarios import load_scenario

    clock = load_scenario("disney_mass_testing").clock
    report = AdvanceReport(from_s=0.0, to_s=3660.0, stopped_for="threshold breach: wait", events={"bus_departs": 3},
                           kpis_at_end={}, needs_replan="a visitor waited over 60 min", finished=False)  # fmt: skip
    assert advance_text(report, clock, "zh") == ("已推进：10-31 18:05 → 10-31 19:06（越过阈值：等待超过上限）；"
                                                 "期间事件：大巴发车 3；需要重新规划")  # fmt: skip
    assert advance_text(report, clock, "en").startswith("Advanced 10-31 18:05 -> 10-31 19:06 (threshold crossed: ")


# ------------------------------------------------------------------------------------------ 14. a map to read


TINY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" copyright="OpenStreetMap and contributors">
 <node id="1" lat="31.2300" lon="121.4700"/><node id="2" lat="31.2300" lon="121.4710"/>
 <node id="3" lat="31.2310" lon="121.4710"/><node id="4" lat="31.2310" lon="121.4700"/>
 <node id="5" lat="31.2320" lon="121.4700"/><node id="6" lat="31.2320" lon="121.4720"/>
 <node id="7" lat="31.2330" lon="121.4720"/><node id="8" lat="31.2330" lon="121.4700"/>
 <node id="9" lat="31.2340" lon="121.4700"/><node id="10" lat="31.2340" lon="121.4730"/>
 <way id="100"><nd ref="9"/><nd ref="10"/><tag k="highway" v="trunk"/><tag k="name" v="延安高架路"/>
  <tag k="name:en" v="Yan'an Elevated Road"/></way>
 <way id="101"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/><tag k="name" v="丽水路"/></way>
 <way id="102"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/><tag k="building" v="yes"/></way>
 <way id="103"><nd ref="5"/><nd ref="6"/><nd ref="7"/></way>
 <way id="104"><nd ref="7"/><nd ref="8"/><nd ref="5"/></way>
 <relation id="200"><member type="way" ref="103" role="outer"/><member type="way" ref="104" role="outer"/>
  <tag k="type" v="multipolygon"/><tag k="natural" v="water"/></relation>
 <way id="105"><nd ref="4"/><nd ref="8"/><tag k="waterway" v="canal"/></way>
</osm>
"""


def test_the_osm_base_draws_roads_by_class_water_buildings_and_one_label_per_road(tmp_path: Path) -> None:
    """An extract's roads are drawn by class (a trunk road wider than a residential street), its building and its
    water (a closed way, a multipolygon of two ways, a canal) as such, with one label per named road in the
    language asked for (a name:en in English) and the OSM attribution."""
    from command.console import basemap

    path = tmp_path / "tiny.osm"
    path.write_text(TINY_OSM, encoding="utf-8")
    zh = basemap.osm_base(str(path), "zh")
    assert zh.counts() == {"roads": 3, "water": 1, "buildings": 1, "green": 0, "labels": 2}
    widths = {r["tip"].splitlines()[0]: r["width"] for r in zh.roads if r["what"] != "water"}
    assert widths == {"延安高架路": 14.0, "丽水路": 6.0}
    assert [r["what"] for r in zh.roads].count("water") == 1  # the canal, a line of water
    assert sorted(label["text"] for label in zh.labels) == ["丽水路", "延安高架路"]
    assert sorted(label["text"] for label in basemap.osm_base(str(path), "en").labels) == ["Yan'an Elevated Road",
                                                                                            "丽水路"]  # fmt: skip
    # The label sits halfway along its road: 121.4700 to 121.4730 at 31.2340.
    trunk = next(label for label in zh.labels if label["text"] == "延安高架路")
    assert trunk["position"] == pytest.approx([121.4715, 31.2340])
    assert "OpenStreetMap" in zh.attribution
    water = next(a for a in zh.areas if a["what"] == "water")
    # Nodes 5 6 7, then 8 and back to 5: the relation's two ways joined into one closed ring.
    assert water["polygon"] == [[121.47, 31.232], [121.472, 31.232], [121.472, 31.233], [121.47, 31.233],
                                [121.47, 31.232]]  # fmt: skip


def test_the_built_in_extract_is_drawn_whole() -> None:
    """The shipped extract's base holds every way tagged highway=* (counted here by a plain XML read) and one label
    for every distinct road name."""
    import xml.etree.ElementTree as ET

    from command.console import basemap

    path = basemap.osm_file("huangpu_central")
    assert path is not None and path.name == "huangpu_central.osm"
    assert basemap.osm_file("bund") is None  # a GeoJSON graph has no extract behind it
    roads, names = 0, set()
    for way in ET.parse(path).getroot().iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if "highway" in tags:
            roads += 1
            if tags.get("name"):
                names.add(tags["name"])
    base = basemap.osm_base(str(path), "zh")
    assert (len(base.roads), len(base.labels)) == (roads, len(names))
    assert roads == 796  # SOURCE.txt: 796 ways


@pytest.mark.parametrize(("span_m", "length"), [(10.0, 20), (999.0, 100), (1000.0, 200), (2499.0, 200),
                                                 (2500.0, 500), (60_000.0, 10_000)])  # fmt: skip
def test_the_scale_bar_is_the_longest_round_length_within_a_fifth_of_the_span(span_m: float, length: int) -> None:
    """The scale bar's length is the longest of 20, 50, 100, 200, 500 m, 1, 2, 5, 10 ... km no more than a fifth of
    the framed span (20 m when even that is too long)."""
    from command.console import basemap

    assert basemap.scale_length_m(span_m) == length


def test_the_scale_bar_measures_its_length_on_the_ground() -> None:
    """The bar drawn at the Bund's latitude is as long on the ground (great-circle distance) as its label says."""
    from command.console import basemap
    from scenarios.graphs.geometry import haversine_m

    path, label = basemap.scale_bar(121.47, 31.22, 121.50, 31.25)  # about 2.85 km wide: a 500 m bar
    (x0, y0), (x1, y1) = path["path"]
    assert label["text"] == "500 m" and path["length_m"] == 500
    assert haversine_m(x0, y0, x1, y1) == pytest.approx(500, rel=1e-4)


def test_a_scenario_on_the_osm_extract_is_drawn_on_it_offline(tmp_path: Path) -> None:
    """A scenario on the shipped extract (the mass-testing one of docs/own-event.md) is drawn on the extract's roads,
    with road names as labels in Chinese characters, a scale bar, no provider, no address and every pickable object
    with its tooltip; the built-in Bund scenario is drawn on its own graph's edges."""
    from command.console import basemap
    from scenarios import load_scenario

    page = (Path(__file__).resolve().parents[1] / "docs" / "own-event.md").read_text(encoding="utf-8")
    text = next(b for b in re.findall(r"^```yaml\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
                if b.startswith("# file: block_testing.yaml"))  # fmt: skip
    (tmp_path / "block_testing.yaml").write_text(text, encoding="utf-8")
    scenario = load_scenario(tmp_path / "block_testing.yaml")
    spec = json.loads(views.deck(scenario, {}, 0.0, lang="zh").to_json())
    assert "mapProvider" not in spec and "http" not in json.dumps(spec)
    roads = next(layer for layer in spec["layers"] if layer["@@type"] == "PathLayer" and layer.get("pickable"))
    assert len(roads["data"]) == len(basemap.osm_base(str(basemap.osm_file("huangpu_central")), "zh").roads)
    texts = [obj["text"] for layer in spec["layers"] if layer["@@type"] == "TextLayer" for obj in layer["data"]]
    assert "中山东一路" in texts and any(t.endswith(" m") or t.endswith(" km") for t in texts)
    # Plain strings, not "@@=" expressions (pydeck's default for a string), which deck.gl would evaluate.
    assert all(layer.get("characterSet") == "auto" for layer in spec["layers"] if layer["@@type"] == "TextLayer")
    assert roads["widthUnits"] == "meters"
    for layer in spec["layers"]:
        if layer.get("pickable"):
            assert all(str(obj.get("tip", "")).strip() for obj in layer["data"]), layer["@@type"]
    bund = json.loads(views.deck(load_scenario("bund_new_year_2014"), {}, 0.0, lang="zh").to_json())
    bund_texts = [o["text"] for layer in bund["layers"] if layer["@@type"] == "TextLayer" for o in layer["data"]]
    assert "陈毅广场" in bund_texts  # the graph's own places, by their Chinese names


def _line_graph():  # type: ignore[no-untyped-def]
    """A -100 m- B -200 m- C at 10 m/s, both ways; P -556 m- Q, a tunnel."""
    import networkx as nx

    graph = nx.DiGraph()
    for node, lon in (("A", 121.0), ("B", 121.001), ("C", 121.003), ("P", 121.01), ("Q", 121.016)):
        graph.add_node(node, lon=lon, lat=31.0, name=f"place {node}")
    for u, v, length in (("A", "B", 100.0), ("B", "C", 200.0), ("P", "Q", 556.0)):
        graph.add_edge(u, v, length_m=length, free_speed_mps=10.0)
        graph.add_edge(v, u, length_m=length, free_speed_mps=10.0)
    return graph


def test_a_bus_is_placed_along_its_route_by_the_time_travelled() -> None:
    """A bus leaving A for C at 100 s (300 m at 10 m/s: 30 s) waits at A before, is 150 m along (a quarter of the
    way from B to C) at 115 s, on its way until 130 s, and has arrived at C after."""
    from command.console import resources
    from scenarios.plan import DispatchBus, Plan, PlanMeta

    graph = _line_graph()
    plan = Plan.build(PlanMeta(scenario="line"), [DispatchBus(at_s=100, origin="A", to="C", count=2)])
    (before,) = resources.bus_status(plan, graph, 50)
    assert (before.doing, before.node, before.until_s, before.to) == ("waiting", "A", 100, "C")
    (moving,) = resources.bus_status(plan, graph, 115)
    assert (moving.doing, moving.until_s, moving.count) == ("en_route", 130, 2)
    assert (moving.lon, moving.lat) == pytest.approx((121.001 + 0.25 * 0.002, 31.0))
    (after,) = resources.bus_status(plan, graph, 131)
    assert (after.doing, after.node, after.lon) == ("arrived", "C", 121.003)


def test_a_teams_posts_add_up_per_place_until_the_last_leaves() -> None:
    """Two waves of one pool at one place are one row of their sum, until the later end (none: to the end of the
    plan); a pool whose post has not started is waiting for it; one whose posts all ended is idle."""
    from command.console import resources
    from scenarios.plan import AssignStaff, Plan, PlanMeta

    graph = _line_graph()
    plan = Plan.build(PlanMeta(scenario="line"), [
        AssignStaff(at_s=0, pool="east", to="B", count=3, until_s=500),
        AssignStaff(at_s=100, pool="east", to="B", count=4, wave=1),
        AssignStaff(at_s=900, pool="west", to="C", count=5),
        AssignStaff(at_s=0, pool="north", to="A", count=1, until_s=60)])  # fmt: skip
    rows = {(s.name, s.doing): s for s in resources.staff_status(plan, graph, 200)}
    assert sorted(rows) == [("east", "post"), ("north", "idle"), ("west", "waiting")]
    assert (rows["east", "post"].count, rows["east", "post"].until_s) == (7, None)
    assert (rows["west", "waiting"].to, rows["west", "waiting"].until_s) == ("C", 900)
    later = resources.staff_status(plan, graph, 600)
    assert [(s.name, s.count) for s in later if s.doing == "post"] == [("east", 4)]


def test_an_escort_team_sets_up_crosses_at_its_pace_and_waits_at_the_far_portal() -> None:
    """A batch from P at 1000 s with 120 s to set up and 556 m at 5.56 m/s (100 s): at P setting up until 1120 s,
    halfway through the tunnel at 1170 s, at Q after 1220 s; the other direction starts from Q."""
    from command.console import resources
    from scenarios.plan import EscortBatch, Plan, PlanMeta

    graph = _line_graph()
    plan = Plan.build(PlanMeta(scenario="line"), [
        EscortBatch(at_s=1000, tunnel="t", direction="ab", team="e1", max_riders=150),
        EscortBatch(at_s=1000, tunnel="t", direction="ba", team="e2", max_riders=150)])  # fmt: skip

    def at(t_s: float) -> dict[str, resources.Status]:
        found = resources.escort_status(plan, graph, t_s, portals={"t": ("P", "Q")}, speed_mps=5.56, setup_s=120)
        return {s.name: s for s in found}

    assert (at(900)["e1"].doing, at(900)["e1"].node, at(900)["e2"].node) == ("waiting", "P", "Q")
    assert (at(1050)["e1"].doing, at(1050)["e1"].until_s) == ("setup", 1120)
    halfway = at(1170)
    assert halfway["e1"].doing == "escorting" and halfway["e1"].until_s == pytest.approx(1220)
    assert halfway["e1"].lon == pytest.approx(121.013) and halfway["e2"].lon == pytest.approx(121.013)
    assert (at(1300)["e1"].doing, at(1300)["e1"].node, at(1300)["e2"].node) == ("escorted", "Q", "P")


def test_the_board_rows_say_where_what_and_until_in_each_language() -> None:
    """The status board names the kind, the team, its place's name, what it does with how many, and the local clock
    time it does so until; a bus on its way says from where to where."""
    from command.console import resources
    from scenarios.plan import DispatchBus, Plan, PlanMeta
    from scenarios.schema import Clock

    graph = _line_graph()
    clock = Clock.model_validate({"start": "2021-10-31T18:00:00", "horizon_s": 3600})
    names = {n: str(d["name"]) for n, d in graph.nodes(data=True)}
    plan = Plan.build(PlanMeta(scenario="line"), [DispatchBus(at_s=100, origin="A", to="C", count=2, bus="b1")])
    found = resources.bus_status(plan, graph, 115)
    assert resources.board_rows(found, names=names, clock=clock, lang="zh") == [
        {"类别": "公交车组", "名称": "b1", "位置": "途中：place A → place C", "在做什么": "行驶中，2 辆前往place C",
         "直至": "10-31 18:02"}]  # fmt: skip
    (row,) = resources.board_rows(found, names=names, clock=clock, lang="en")
    assert row["Doing"] == "on the way to place C, 2 bus(es)" and row["Until"] == "10-31 18:02"
    (point,) = resources.map_rows(found, names=names, clock=clock, lang="zh", colours=views.RESOURCE_COLOURS)
    assert point["colour"] == views.RESOURCE_COLOURS["bus"] and "b1" in point["tip"] and "18:02" in point["tip"]


def test_the_incident_view_shows_the_resource_board_and_the_legend(console: Console) -> None:
    """The incident view lists each team of the plan at the map's time (the tiny scenario's testers on post at
    its site), says the legend and that the base is the scenario's own network (it has no OSM data)."""
    at = goto(signed_in("planner"), "incident")
    no_exception(at)
    assert t("incident.resources", "zh") in [s.value for s in at.subheader]
    captions = [c.value for c in at.caption]
    assert t("incident.legend_map", "zh") in captions and t("incident.base_graph", "zh") in captions
    board = next(frame.value for frame in at.dataframe if "在做什么" in frame.value.columns)
    assert list(board["类别"]) == ["队伍"] and list(board["名称"]) == ["local"]
    assert board["在做什么"][0].startswith("驻守")
    assert len(at.get("deck_gl_json_chart")) == 1


def test_labels_that_would_overlap_give_way_to_the_more_important() -> None:
    """Of the built-in extract's road names at the Bund's framing, no two kept labels' boxes overlap, and each left
    out overlaps one kept that ranks before it (checked pair by pair)."""
    from command.console import basemap

    base = basemap.osm_base(str(basemap.osm_file("huangpu_central")), "zh")
    zoom, lat = 15.0, 31.23
    kept = basemap.declutter(base.labels, zoom=zoom, latitude=lat)
    per_px = 360.0 / (512.0 * 2**zoom)

    def overlap(a: dict, b: dict) -> bool:  # type: ignore[type-arg]
        half = (13 * len(a["text"]) + 8 + 13 * len(b["text"]) + 8) / 2 * per_px
        return (abs(a["position"][0] - b["position"][0]) < half
                and abs(a["position"][1] - b["position"][1]) < 18 * per_px * math.cos(math.radians(lat)))  # fmt: skip

    assert 10 < len(kept) < len(base.labels)
    assert not any(overlap(a, b) for i, a in enumerate(kept) for b in kept[i + 1:])
    for label in base.labels:
        if label not in kept:
            assert any(overlap(label, k) and k["rank"] <= label["rank"] for k in kept), label["text"]


# ------------------------------------------------------------------------------------------ 14. timeline, alerts


def _frame_with(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The first table on the page with a column of this name."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_incident_view_shows_the_timeline_newest_first_in_both_languages(console: Console) -> None:
    """The incident view's timeline lists the plan proposed, the phase change, the grant and the opening, newest
    first, with who did each, in Chinese and in English."""
    at = goto(signed_in("obs_pd"), "incident")
    no_exception(at)
    assert t("timeline.heading", "zh") in values(at.subheader)
    frame = _frame_with(at, t("timeline.col.what", "zh"))
    what = list(frame[t("timeline.col.what", "zh")])
    assert what[:2] == ["阶段：接报 → 调度", "提交方案 1"]
    assert what[2].startswith("授权 cmd_a 任现场指挥，至 ") and what[2].endswith("（北京时间，UTC+8）")
    assert what[3].startswith("立案：YW-") and len(what) == 4
    assert list(frame[t("incident.col.actor", "zh")]) == ["planner", "planner", "admin", "admin"]
    assert list(frame[t("timeline.col.category", "zh")]) == ["阶段", "方案", "指挥权", "事件"]
    at.session_state["yiwang_lang"] = "en"
    at.run()
    frame = _frame_with(at, t("timeline.col.what", "en"))
    assert list(frame[t("timeline.col.what", "en")])[:2] == ["phase: intake → dispatch", "plan 1 proposed"]


def test_every_timeline_step_has_words_in_both_languages() -> None:
    """Every kind of timeline step and category has its words in both languages (none falls back to English)."""
    from datetime import UTC, datetime

    from command.console import words
    from command.timeline import CATEGORIES, EVENTS, TimelineEntry

    assert {f"timeline.category.{c}" for c in CATEGORIES} <= TEXT.keys()
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    for event in EVENTS:
        for why in ("plan", "horizon"):
            moved = {"from": "intake", "to": "dispatch"} if event == "phase" else {"from": "cmd_a", "to": "cmd_b"}
            entry = TimelineEntry(now, 0.0, "plan", event, "admin", "ENGLISH FALLBACK", plan=1, version=2,
                                  values=moved | {"kind": "surge", "why": why, "holder": "cmd_a", "by": "3",
                                                  "code": "YW-1"}, until=now)  # fmt: skip
            zh = words.timeline_text(entry, "Asia/Shanghai", "zh")
            assert zh != "ENGLISH FALLBACK" and not english_words(zh, {"cmd_a", "cmd_b", "YW-1"}), (event, zh)
            assert words.timeline_text(entry, "Asia/Shanghai", "en") != "ENGLISH FALLBACK", event


def test_an_alert_acknowledged_is_stored_audited_and_no_longer_new_for_that_user(console: Console) -> None:
    """The commander acknowledges the plan awaiting their decision: it leaves their alerts panel, a new session of
    theirs does not show it again, the store records who acknowledged which alert and when, and the audit chain
    verifies; the re-plan alarm stays new for the observer, who has acknowledged nothing."""
    from sqlalchemy import update

    from command.store import AlertAck

    with console.store.write() as session:
        session.execute(update(Incident).where(Incident.id == console.incident_id)
                        .values(needs_replan="inject delay at 19:00", sim_time_s=3600.0))  # fmt: skip
    at = goto(signed_in("cmd_a"), "incident")
    awaiting = t("alert.awaiting", "zh", n=1)
    assert awaiting in values(at.warning) and t("alert.replan", "zh") in values(at.error)
    at.button(key=f"ack_{console.incident_id}_awaiting:1").click()
    at.run()
    no_exception(at)
    assert awaiting not in values(at.warning)
    assert t("alert.seen_line", "zh", n=1) in values(at.caption)
    again = goto(signed_in("cmd_a"), "incident")
    assert awaiting not in values(again.warning) and t("alert.replan", "zh") in values(again.error)
    with console.store.read() as session:
        rows = session.scalars(select(AlertAck)).all()
    assert [(r.user_id, r.alert_key, r.sim_s) for r in rows] == [(console.actors["cmd_a"].id, "awaiting:1", 3600.0)]
    last = audit.entries(console.store, incident_id=console.incident_id)[-1]
    assert (last.action, last.actor) == ("alert_ack", "cmd_a")
    assert audit.verify(console.store).ok
    observer = goto(signed_in("obs_pd"), "incident")
    assert t("alert.replan", "zh") in values(observer.error)
    assert awaiting not in values(observer.warning)  # a plan awaits the holder's decision only


def test_an_alert_that_no_longer_stands_is_refused_in_chinese(console: Console) -> None:
    """Acknowledging an alert that has gone (the plan decided meanwhile) is refused by the store, in words."""
    from command.alerts import acknowledge
    from command.console import words
    from command.errors import Conflict

    with pytest.raises(Conflict) as gone:
        acknowledge(console.store, console.actors["cmd_a"], console.incident_id, "awaiting:7")
    assert words.refusal(gone.value, "zh") == t("refusal.alert_gone", "zh")


def test_a_plan_jobs_progress_reads_in_chinese(tmp_path: Path) -> None:
    """Every line a plan job reports reads in Chinese (and in English as it was written): the budget's split,
    fitting and over; each stage; a re-plan's injects, state and splice; the overrun; the what-if's lines without
    a budget and the closed loop's. The lines come from the real pipeline, not copies of its formats."""
    from store_support import make_world

    from command.budget import overrun_note, plan_budget
    from command.console.words import progress
    from command.loop import advance, plan_incident
    from command.runs import closed_loop, run_loaded
    from optimizer.result import SolveParams
    from scenarios.schema import Inject

    scenario = tiny_scenario()
    scenario = scenario.model_copy(update={"injects": (
        Inject(at_s=600, kind="delay", target="local", params={"delay_s": 600}),)})  # fmt: skip
    world = make_world(f"sqlite:///{tmp_path / 'progress.db'}")
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    said: list[str] = []
    plan_incident(world.store, world["planner"], iid, budget_s=8.0, progress=said.append)
    advance(world.store, world["cmd_pudong"], iid, until_s=1800.0)
    plan_incident(world.store, world["planner"], iid, budget_s=0.5, progress=said.append)  # over, from a state
    fast = SolveParams(time_limit_s=1.0)
    run_loaded(scenario, seed=1, optimize=True, params=fast, progress=said.append)
    closed_loop(scenario, seed=1, every_s=4 * 3600.0, params=fast, progress=said.append)
    note = overrun_note(plan_budget(scenario, 0.5), 100.0)
    assert note is not None
    said.append(note)
    kinds = {line.split(" ")[0] for line in said}
    assert {"budget", "planning", "keeping", "simulating", "optimising", "closed", "took"} <= kinds | {
        line.split("] ")[-1].split(" ")[0] for line in said}  # fmt: skip
    assert any("inject(s) that have happened" in line for line in said)
    assert any("s over" in line for line in said) and any("(estimate" in line for line in said)
    for line in said:
        assert progress(line, "en") == line
        assert english_words(progress(line, "zh"), {scenario.name}) == [], line
    world.store.dispose()


def test_a_plans_threshold_warnings_read_in_chinese() -> None:
    """Every threshold warning the simulations write (a crowd's warning and critical densities and its crushes,
    mass testing's wait over the limit), taken from real runs, reads in Chinese in the review with no English
    word left; in English it is as written."""
    from command.consequences import consequences
    from command.console.words import breach_text
    from scenarios import load_scenario, scenario_graph
    from simulation.crowd import simulate as simulate_crowd
    from simulation.mass_testing import simulate as simulate_mass_testing

    crowd = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=10800"])
    run = simulate_crowd(crowd, seed=crowd.seed)
    testing = load_scenario("disney_mass_testing")
    tested = simulate_mass_testing(testing, seed=testing.seed)
    said = [w.message for s, r in ((crowd, run), (testing, tested)) for w in consequences(s, r, r)
            if w.kind == "breach"]  # fmt: skip
    assert {m.split(":")[0] for m in said} >= {"warning density", "critical density", "crush"}
    assert any(m.startswith("a visitor has waited") for m in said)
    places = {n for s in (crowd, testing) for n in scenario_graph(s).nodes}
    for message in said:
        assert breach_text(message, "en") == message
        assert english_words(breach_text(message, "zh"), places) == [], message
    # The review names the place (its Chinese name, the id beside it; a walkway by both ends' names).
    from command.console.views import place_names
    from command.console.words import with_places

    names = place_names(crowd, "zh")
    first = next(m for m in said if m.startswith("warning density: "))
    node = first.split(": ")[1]
    assert f"{names[node]} ({node})" in with_places(breach_text(first, "zh"), names)
    crush = next(m for m in said if m.startswith("crush: "))
    u, v = crush.removeprefix("crush: crush at ").split(":")[0].split("~")
    assert f"{names[u]} – {names[v]}" in with_places(breach_text(crush, "zh"), names)
