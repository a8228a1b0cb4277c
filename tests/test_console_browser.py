"""The console in a real browser: Debian's Chromium, driven by Playwright, against `yiwang console`.

A module-scoped fixture makes a DEMO store in a temporary folder, opens an incident from the built-in
`disney_mass_testing` scenario in Pudong and gives `pudong_commander` command of it; another starts the real
server (`yiwang console`) on a free port and stops it, with everything it started, at the end. Every request
each page makes is recorded, and any to a host other than the console's own fails the test (it is refused
before it leaves the machine), as does any traceback in the server's output.

Every step leaves a screenshot in `artifacts/browser/<test>_<nn>_<step>.png`. Without Chromium or the
playwright package the tests skip, or fail when CI=true, so CI cannot silently lose them.

Planning the Disney scenario runs the optimiser with the server's default limit, which the fixture sets to
PLAN_LIMIT_S (YIWANG_CONSOLE_TIME_LIMIT_S) so that a busy shared machine still finds a plan; the wait for it is
long (PLAN_TIMEOUT_MS).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from command.audit import entries, verify
from command.authority import grant_command
from command.incidents import get_incident, open_incident
from command.loop import plan_incident
from command.plans import create_plan, list_plans
from command.security import authenticate
from command.store import Decision, PlanRecord, Store, User
from command.users import DEMO_PASSWORD, init_demo_store
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
YIWANG = Path(sys.executable).with_name("yiwang")  # the console command of the venv running the tests
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
SCENARIO = "disney_mass_testing"
START_TIMEOUT_S = 60  # until the server's health check answers
STOP_TIMEOUT_S = 10  # between asking the server to stop and killing it
STEP_TIMEOUT_MS = 60_000  # any one page to render (the incident view simulates the scenario once)
EXPECT_TIMEOUT_MS = 30_000  # an expectation on a page (a map's canvas on a busy machine)
PLAN_LIMIT_S = 40  # the optimiser's limit per model in the console under test
PLAN_TIMEOUT_MS = 300_000  # baseline, optimisation and forecast of the Disney scenario
VIEWPORT = {"width": 1400, "height": 1000}
MAX_SHOT_PX = 6000  # the tallest screenshot taken


def browser_missing() -> str | None:
    """Why these tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (Debian packages chromium and fonts-noto-cjk; scripts/test installs them)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    """Skip without a browser, or fail when CI=true."""
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"a browser is required in CI: {reason}")
        pytest.skip(reason)


@dataclass(frozen=True)
class Demo:
    """The prepared store: its URL, and the incident `pudong_commander` commands."""

    url: str
    incident_id: int
    incident_code: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """A DEMO store with one open Disney mass-testing incident in Pudong, commanded by pudong_commander."""
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'yiwang.db'}"
    store = Store(url)
    try:
        init_demo_store(store)
        admin = authenticate(store, "admin", DEMO_PASSWORD)
        incident_id = open_incident(store, admin, SCENARIO, jurisdiction="pudong")
        grant_command(store, admin, incident_id, "pudong_commander", reason="browser test")
        code = get_incident(store, admin, incident_id).code
    finally:
        store.dispose()
    return Demo(url=url, incident_id=incident_id, incident_code=code)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(base: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(f"{base}/_stcore/health", timeout=2) as answer:
            return answer.read().strip() == b"ok"
    except OSError:
        return False


def _group_alive(server: subprocess.Popen[bytes]) -> bool:
    server.poll()  # reap the leader once it has exited, so that it does not linger as a zombie
    try:
        os.killpg(server.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (`yiwang console` runs Streamlit as a child): ask, then kill."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _group_alive(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _group_alive(server):
            return


@dataclass(frozen=True)
class Server:
    """A running `yiwang console`: its base URL and the file its output goes to."""

    base: str
    log: Path

    def tracebacks(self) -> list[str]:
        """Every server-side traceback in its output so far (the last lines of each)."""
        text = self.log.read_text(errors="replace")
        return [chunk[:2000] for chunk in text.split("Traceback (most recent call last)")[1:]]


@pytest.fixture(scope="module")
def console(browser_ready: None, demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`yiwang console` serving the demo store, on a free port of 127.0.0.1."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("console_log") / "console.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(YIWANG), "console", "--port", str(port), "--address", "127.0.0.1", "--db", demo.url],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "YIWANG_CONSOLE_TIME_LIMIT_S": str(PLAN_LIMIT_S)},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {server.returncode}" if server.poll() is not None else "not healthy"
                pytest.fail(f"yiwang console {state} after {START_TIMEOUT_S} s at most; its output:\n"
                            + log_path.read_text(errors="replace")[-4000:])  # fmt: skip
            time.sleep(0.25)
        yield Server(base=base, log=log_path)
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def browser(browser_ready: None) -> Iterator[Browser]:
    """Debian's Chromium, headless, with a fresh temporary profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


#: Schemes that never reach a network: data inside the page itself.
IN_PAGE_SCHEMES = {"data", "blob", "about"}


def foreign(urls: list[str], base: str) -> list[str]:
    """The URLs among `urls` that leave the console's own host and port (the page's own data excepted)."""
    own = urlsplit(base).netloc
    return sorted({u for u in urls if urlsplit(u).scheme not in IN_PAGE_SCHEMES and urlsplit(u).netloc != own})


def test_foreign_names_every_other_host() -> None:
    """Only the console's own host and port, and data inside the page, count as staying on the machine."""
    base = "http://127.0.0.1:8601"
    urls = [f"{base}/", f"{base}/static/app.js", "ws://127.0.0.1:8601/_stcore/stream", "data:image/png;base64,AA",
            "blob:http://127.0.0.1:8601/x", "https://basemaps.cartocdn.com/gl/positron-gl-style/style.json",
            "http://127.0.0.1:8502/", "http://localhost:8601/", "https://fonts.googleapis.com/css"]  # fmt: skip
    assert foreign(urls, base) == ["http://127.0.0.1:8502/", "http://localhost:8601/",
                                   "https://basemaps.cartocdn.com/gl/positron-gl-style/style.json",
                                   "https://fonts.googleapis.com/css"]  # fmt: skip


@pytest.fixture
def page(browser: Browser, console: Server) -> Iterator[Page]:
    """A new browser context (its own Streamlit session) on the console's start page.

    Every request the page makes (and every web socket it opens) is recorded; one to any other host is refused
    before it leaves the machine, and fails the test, as does any traceback the server printed meanwhile or any
    exception the page shows.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    context.route(lambda url: bool(foreign([url], console.base)), lambda route: route.abort())
    before = len(console.tracebacks())
    try:
        tab = context.new_page()
        tab.on("websocket", lambda socket: requested.append(socket.url))
        tab.goto(console.base)
        yield tab
        assert tab.get_by_test_id("stException").count() == 0, tab.get_by_test_id("stException").first.inner_text()
    finally:
        context.close()
    assert len(requested) > 3, "no requests were recorded"
    assert foreign(requested, console.base) == []
    assert console.tracebacks()[before:] == []


class Shots:
    """Screenshots of one test's steps, numbered in order: `<test>_<nn>_<step>.png`, each of the whole page.

    Streamlit scrolls its main area inside the window, so a "full page" screenshot would show only the window:
    the window is made as tall as the main area's content for the picture, then set back.
    """

    def __init__(self, test: str) -> None:
        self.test, self.count = test, 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, step: str) -> None:
        self.count += 1
        page.wait_for_timeout(500)  # let Streamlit finish painting the last rerun
        size = page.viewport_size
        assert size is not None
        content = int(page.get_by_test_id("stMain").evaluate("main => main.scrollHeight"))
        page.set_viewport_size({"width": size["width"], "height": min(max(content, size["height"]), MAX_SHOT_PX)})
        page.wait_for_timeout(300)
        try:
            page.screenshot(path=SCREENSHOTS / f"{self.test}_{self.count:02d}_{step}.png")
        finally:
            page.set_viewport_size(size)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    """Screenshots named after the test."""
    return Shots(request.node.name)


def log_in(page: Page, username: str) -> None:
    """Sign in on the login page and wait for the incident board."""
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.get_by_role("heading", name="本辖区事件").wait_for()


def open_page(page: Page, link: str, *, ready: str) -> None:
    """Follow a sidebar link and wait for a heading or text of the page."""
    page.get_by_role("link", name=link).click()
    page.get_by_text(ready, exact=True).first.wait_for()


def approve(page: Page, *, button: str = "批准并执行", password: str = "重新输入密码以确认",
            read: str = "已阅读并确认第", done: str = "已批准方案") -> None:
    """Approve the plan shown (acknowledging each of its warnings, when it has any), with the password, and wait
    for the confirmation, which must be in view where the decision was made."""
    from playwright.sync_api import expect

    approve_form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name=button))
    expect(approve_form).to_be_in_viewport()  # the decision bar is at the top of the review
    warnings = approve_form.get_by_text(read)
    for i in range(warnings.count()):
        warnings.nth(i).click()
    approve_form.get_by_label(password).fill(DEMO_PASSWORD)
    approve_form.get_by_role("button", name=button).click()
    confirmation = page.get_by_text(done).first
    expect(confirmation).to_be_visible()
    expect(confirmation).to_be_in_viewport()


def advance_and_follow(page: Page, *, button: str, done: str, map_at: str, start: str) -> None:
    """Advance the incident on its page and see the map's time and the logs follow the new incident clock."""
    from playwright.sync_api import expect

    page.get_by_role("button", name=button).click()
    message = page.get_by_text(done).first
    expect(message).to_be_visible(timeout=PLAN_TIMEOUT_MS)
    expect(message).to_be_in_viewport()
    caption = page.get_by_text(map_at).first
    expect(caption).to_be_visible()
    at_start = re.compile(r"(?<![0-9])" + re.escape(start))  # "0 min after the start", not "30 min after the start"
    # the map is no longer at the start; Streamlit streams the rerun's elements, so the caption may still show the
    # start for a moment after the message: the expectation retries until it follows (or times out)
    expect(caption).not_to_contain_text(at_start)
    expect(page.get_by_test_id("stDeckGlJsonChart").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").nth(1)).to_be_visible()


def test_commander_plans_and_approves(page: Page, shot: Shots, demo: Demo) -> None:
    """The incident's commander plans it, reviews the forecast and approves, which puts the plan in effect."""
    from playwright.sync_api import expect

    log_in(page, "pudong_commander")
    expect(page.get_by_text(demo.incident_code).first).to_be_attached()
    shot(page, "board")

    open_page(page, "事件态势", ready="态势图")
    expect(page.get_by_test_id("stDeckGlJsonChart").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    shot(page, "incident")

    page.get_by_role("link", name="方案审批").click()
    page.get_by_role("button", name="生成方案（模拟+优化）").click()
    finished = page.get_by_text("已生成方案").or_(page.get_by_text("失败：")).or_(page.get_by_text("已取消"))
    expect(finished.first).to_be_visible(timeout=PLAN_TIMEOUT_MS)
    assert "已生成方案" in finished.first.inner_text(), finished.first.inner_text()
    expect(page.get_by_text("预测结果对比")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    shot(page, "proposed")

    approve(page)
    expect(page.get_by_role("button", name="批准并执行")).to_have_count(0)
    shot(page, "approved")

    open_page(page, "事件态势", ready="态势图")
    advance_and_follow(page, button="推进到下一决策点", done="已推进：", map_at="地图时刻：", start="开始后 0 分钟")
    shot(page, "advanced")

    store = Store(demo.url)
    try:
        with store.read() as session:
            plans = session.scalars(select(PlanRecord).where(PlanRecord.incident_id == demo.incident_id)).all()
            newest = max(plans, key=lambda p: p.id)
            decisions = session.execute(select(Decision.decision, User.username)
                                        .join(User, Decision.user_id == User.id)
                                        .where(Decision.plan_id == newest.id)).all()  # fmt: skip
        log = entries(store, incident_id=demo.incident_id)
        chain = verify(store)
    finally:
        store.dispose()
    assert newest.status == "active"
    assert [tuple(d) for d in decisions] == [("approved", "pudong_commander")]
    assert any(e.action == "plan_approve" and e.actor == "pudong_commander" and e.subject == f"plan {newest.id}"
               for e in log)  # fmt: skip
    assert chain.ok, chain.lines()


def test_observer_cannot_plan_or_decide(page: Page, shot: Shots, demo: Demo) -> None:
    """An observer sees a proposed plan on the review page but gets no planning, approval or password controls."""
    from playwright.sync_api import expect

    store = Store(demo.url)
    try:
        planner = authenticate(store, "planner", DEMO_PASSWORD)
        if not any(p.status == "proposed" for p in list_plans(store, planner, demo.incident_id)):
            create_plan(store, planner, demo.incident_id, default_plan(load_scenario(SCENARIO)))
    finally:
        store.dispose()

    log_in(page, "trainee")
    shot(page, "board")
    open_page(page, "方案审批", ready="预测结果对比")
    expect(page.get_by_text("只有本事件的现场指挥可以审批")).to_be_visible()
    expect(page.get_by_text("待审批").first).to_be_attached()
    shot(page, "review")

    expect(page.get_by_role("button", name="生成方案（模拟+优化）")).to_have_count(0)
    expect(page.get_by_role("button", name="批准并执行")).to_have_count(0)
    expect(page.get_by_role("button", name="驳回")).to_have_count(0)
    expect(page.get_by_label("重新输入密码以确认")).to_have_count(0)
    expect(page.locator("input[type=password]")).to_have_count(0)


def test_admin_sees_audit_chain_intact(page: Page, shot: Shots) -> None:
    """The admin page's audit verification reports the chain intact."""
    from playwright.sync_api import expect

    log_in(page, "admin")
    open_page(page, "系统管理", ready="用户")
    page.get_by_role("tab", name="审计链校验").click()
    page.get_by_role("button", name="校验审计链").click()
    expect(page.get_by_text("audit chain intact")).to_be_visible()
    shot(page, "audit")


def test_bund_chief_reviews_a_crowd_plan_and_sees_it_on_the_map(page: Page, shot: Shots, demo: Demo) -> None:
    """The Bund police chief reviews an optimised plan for New Year's Eve 2014 (its first hour): the crowd KPIs,
    metering, one-way stairs and staff posts are shown; approved, the map colours its densities by level of
    service, with its legend and the resource status board beneath."""
    from playwright.sync_api import expect

    store = Store(demo.url)
    try:
        admin = authenticate(store, "admin", DEMO_PASSWORD)
        scenario = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=3600"])
        incident_id = open_incident(store, admin, scenario, jurisdiction="huangpu")
        grant_command(store, admin, incident_id, "bund_chief", reason="browser test")
        plan_incident(store, authenticate(store, "planner", DEMO_PASSWORD), incident_id,
                      params=SolveParams(time_limit_s=10.0))  # fmt: skip
    finally:
        store.dispose()

    log_in(page, "bund_chief")
    open_page(page, "方案审批", ready="人群管控措施")
    # The crowd KPI table's labels, with their units.
    for text in ("峰值密度（人/m²）", "超过每平方米5人的时间（人·分钟）", "限流处最大排队人数（人）"):
        expect(page.get_by_text(text, exact=True).first).to_be_attached()
    for heading in ("限流（", "单向通行（", "人员岗位（"):
        expect(page.get_by_text(heading).first).to_be_visible()
    expect(page.get_by_text("密度峰值：默认方案").first).to_be_visible()
    shot(page, "review")

    approve(page)

    open_page(page, "事件态势", ready="态势图")
    expect(page.get_by_text("人群密度服务水平", exact=False).first).to_be_visible()
    expect(page.get_by_test_id("stDeckGlJsonChart").locator("canvas").first).to_be_visible()
    # The legend, the resource status board with the plan's police teams, all drawn without a request elsewhere
    # (the page fixture fails the test on any).
    expect(page.get_by_text("图例：", exact=False).first).to_be_visible()
    expect(page.get_by_role("heading", name="资源状态")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    shot(page, "map")


#: The words the walk clicks and waits for, in each language (literal, so that a lost translation fails here).
WALK_WORDS = {
    "zh": {"incident": "事件态势", "map": "态势图", "review": "方案审批", "plan": "生成方案（模拟+优化）",
           "planned": "已生成方案", "failed": "失败：", "forecast": "预测结果对比", "approve": "批准并执行",
           "password": "重新输入密码以确认", "read": "已阅读并确认第", "approved": "已批准方案",
           "advance": "推进到下一决策点", "advanced": "已推进：", "map_at": "地图时刻：", "start": "开始后 0 分钟"},
    "en": {"incident": "Incident view", "map": "Map", "review": "Plan review",
           "plan": "Plan it (simulate and optimise)", "planned": "proposed", "failed": "Failed:",
           "forecast": "Forecast consequences", "approve": "Approve and put into effect",
           "password": "Re-enter your password to confirm", "read": "I have read and acknowledge warning",
           "approved": "approved and in effect", "advance": "Advance to the next decision point",
           "advanced": "Advanced", "map_at": "Map at:", "start": "0 min after the start"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("scenario", "overrides", "language"),
    [("huangpu_typhoon", ["clock.horizon_s=7200"], "zh"), ("huangpu_typhoon", ["clock.horizon_s=7200"], "en"),
     ("bund_new_year_2014", ["clock.horizon_s=1800"], "zh"), ("bund_new_year_2014", ["clock.horizon_s=1800"], "en")],
    ids=["typhoon-zh", "typhoon-en", "crowd-zh", "crowd-en"],
)  # fmt: skip
def test_the_whole_walk_for_each_kind(page: Page, shot: Shots, demo: Demo, scenario: str, overrides: list[str],
                                      language: str) -> None:  # fmt: skip
    """For the typhoon and the crowd kinds (the Disney walk is above), in Chinese and in English: the on-site
    commander logs in, sees the board, opens the incident view, plans the incident from the console, reads the
    forecast, approves (acknowledging every warning), advances the incident and sees the map and the logs at the
    new incident clock; the store records the approval by that commander and the audit chain verifies."""
    from playwright.sync_api import expect

    words = WALK_WORDS[language]
    store = Store(demo.url)
    try:
        admin = authenticate(store, "admin", DEMO_PASSWORD)
        incident_id = open_incident(store, admin, load_scenario(scenario, overrides=overrides), jurisdiction="huangpu")
        grant_command(store, admin, incident_id, "bund_chief", reason=f"browser test, {scenario}, {language}")
        code = get_incident(store, admin, incident_id).code
    finally:
        store.dispose()

    log_in(page, "bund_chief")
    if language == "en":
        page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="English").click()
        page.get_by_role("heading", name="Incidents in your jurisdiction").wait_for()
    expect(page.get_by_text(code).first).to_be_attached()

    open_page(page, words["incident"], ready=words["map"])  # the newest incident first: this one
    end = words["start"].replace(" 0 ", f" {int(overrides[0].split('=')[1]) // 60} ")
    expect(page.get_by_text(end, exact=True).first).to_be_visible()  # this incident's horizon on the map's slider
    expect(page.get_by_test_id("stDeckGlJsonChart").locator("canvas").first).to_be_visible()

    page.get_by_role("link", name=words["review"]).click()
    page.get_by_role("button", name=words["plan"]).click()
    finished = page.get_by_text(words["planned"]).or_(page.get_by_text(words["failed"]))
    expect(finished.first).to_be_visible(timeout=PLAN_TIMEOUT_MS)
    assert words["planned"] in finished.first.inner_text(), finished.first.inner_text()
    expect(page.get_by_text(words["forecast"])).to_be_visible()
    shot(page, "proposed")

    approve(page, button=words["approve"], password=words["password"], read=words["read"], done=words["approved"])
    shot(page, "approved")

    open_page(page, words["incident"], ready=words["map"])
    advance_and_follow(page, button=words["advance"], done=words["advanced"], map_at=words["map_at"],
                       start=words["start"])  # fmt: skip
    shot(page, "advanced")

    store = Store(demo.url)
    try:
        plans = list_plans(store, authenticate(store, "admin", DEMO_PASSWORD), incident_id)
        active = [p for p in plans if p.status == "active"]
        assert len(active) == 1, [(p.plan_id, p.status) for p in plans]
        with store.read() as session:
            decisions = session.execute(select(Decision.decision, User.username)
                                        .join(User, Decision.user_id == User.id)
                                        .where(Decision.plan_id == active[0].plan_id)).all()  # fmt: skip
        chain = verify(store)
    finally:
        store.dispose()
    assert [tuple(d) for d in decisions] == [("approved", "bund_chief")]
    assert chain.ok, chain.lines()


def test_a_reload_keeps_the_session_and_logging_out_ends_it(page: Page, shot: Shots) -> None:
    """After logging in, a reload (a new Streamlit session) opens the board without the login page, from the
    httpOnly session cookie; after logging out, a reload shows the login page."""
    from playwright.sync_api import expect

    log_in(page, "planner")
    deadline = time.monotonic() + 15  # the page posts its ticket for the cookie just after the board shows
    while not (cookie := next((c for c in page.context.cookies() if c["name"] == "yiwang_session"), None)):
        assert time.monotonic() < deadline, "no session cookie was set"
        page.wait_for_timeout(200)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("yiwang_session") == -1  # never readable by the page's scripts
    page.reload()
    page.get_by_role("heading", name="本辖区事件").wait_for()
    expect(page.get_by_role("button", name="登录", exact=True)).to_have_count(0)
    shot(page, "reloaded")
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("button", name="登录", exact=True).wait_for()
    page.reload()
    page.get_by_role("button", name="登录", exact=True).wait_for()
    expect(page.get_by_role("heading", name="本辖区事件")).to_have_count(0)
    shot(page, "logged_out")


def test_the_walk_in_english(page: Page, shot: Shots, demo: Demo) -> None:
    """In English the commander reviews a proposed plan, approves it, advances the incident and sees the map and the
    logs at the new incident clock; nothing on the way is left in Chinese but names."""
    from playwright.sync_api import expect

    store = Store(demo.url)
    try:
        admin = authenticate(store, "admin", DEMO_PASSWORD)
        incident_id = open_incident(store, admin, SCENARIO, jurisdiction="pudong")
        grant_command(store, admin, incident_id, "pudong_commander", reason="browser test, English")
        create_plan(store, authenticate(store, "planner", DEMO_PASSWORD), incident_id,
                    default_plan(load_scenario(SCENARIO)))  # fmt: skip
        code = get_incident(store, admin, incident_id).code
    finally:
        store.dispose()

    log_in(page, "pudong_commander")
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="English").click()
    page.get_by_role("heading", name="Incidents in your jurisdiction").wait_for()
    expect(page.get_by_text(code).first).to_be_attached()
    shot(page, "board")

    open_page(page, "Plan review", ready="Incident")  # the newest incident first: this one, whose plan awaits
    approve(page, button="Approve and put into effect", password="Re-enter your password to confirm",
            read="I have read and acknowledge warning", done="approved and in effect")  # fmt: skip
    shot(page, "approved")

    open_page(page, "Incident view", ready="Map")
    advance_and_follow(page, button="Advance to the next decision point", done="Advanced", map_at="Map at:",
                       start="0 min after the start")  # fmt: skip
    expect(page.get_by_text("Incident clock").first).to_be_visible()
    shot(page, "advanced")


def test_an_alert_acknowledged_stays_so_and_the_timeline_shows_the_steps(page: Page, shot: Shots, demo: Demo) -> None:
    """The commander acknowledges the plan awaiting their decision in the alerts panel: it is gone, and stays gone
    after a reload (the acknowledgement is stored, with who and when, and audited: the chain verifies); the incident
    view's timeline shows the plan proposed and the command granted, all without a request leaving the machine."""
    from playwright.sync_api import expect

    from command.store import AlertAck

    store = Store(demo.url)
    try:
        admin = authenticate(store, "admin", DEMO_PASSWORD)
        incident_id = open_incident(store, admin, SCENARIO, jurisdiction="pudong")
        grant_command(store, admin, incident_id, "pudong_commander", reason="browser test, alerts")
        create_plan(store, authenticate(store, "planner", DEMO_PASSWORD), incident_id,
                    default_plan(load_scenario(SCENARIO)))  # fmt: skip
    finally:
        store.dispose()

    log_in(page, "pudong_commander")
    open_page(page, "事件态势", ready="态势图")  # the newest incident first: this one
    awaiting = page.get_by_text("有 1 个方案等待您审批")
    expect(awaiting).to_be_visible()
    expect(page.get_by_role("heading", name="事件时间线")).to_be_visible()
    timeline = page.get_by_test_id("stDataFrame").filter(has_text="事项")
    expect(timeline).to_be_visible()
    for step in ("提交方案 1", "阶段：接报 → 调度", "授权 pudong_commander 任现场指挥"):
        expect(timeline.get_by_text(step).first).to_be_attached()
    shot(page, "alert")

    page.get_by_test_id("stHorizontalBlock").filter(has=awaiting).get_by_role("button", name="知悉").click()
    expect(awaiting).to_have_count(0)
    expect(page.get_by_text("已知悉 1 条告警").first).to_be_visible()
    shot(page, "acknowledged")

    page.reload()
    page.get_by_role("heading", name="本辖区事件").or_(page.get_by_text("态势图", exact=True)).first.wait_for()
    open_page(page, "事件态势", ready="态势图")
    expect(page.get_by_text("已知悉 1 条告警").first).to_be_visible()
    expect(page.get_by_text("有 1 个方案等待您审批")).to_have_count(0)
    shot(page, "reloaded")

    store = Store(demo.url)
    try:
        with store.read() as session:
            acks = session.execute(select(User.username, AlertAck.alert_key).join(User, AlertAck.user_id == User.id)
                                   .where(AlertAck.incident_id == incident_id)).all()  # fmt: skip
        log = entries(store, incident_id=incident_id)
        chain = verify(store)
    finally:
        store.dispose()
    assert [tuple(a) for a in acks] == [("pudong_commander", "awaiting:1")]
    assert log[-1].action == "alert_ack" and log[-1].actor == "pudong_commander"
    assert chain.ok, chain.lines()
