"""Many users on one console at once: N browser sessions (planners, commanders, observers, an admin) each log in
and open the board, the incident view and the plan review, all at the same time, against one `yiwang console`.

Each session is its own Chromium context (Debian's /usr/bin/chromium, driven by Playwright's async API), so N
sessions are N Streamlit sessions on one server. For every page the time from the click to the page's marker
being drawn is recorded; a session fails on any exception the page shows, any request to another host (refused
before it leaves the machine) or any traceback the server prints. The baseline is the same walk by one session
alone (after one walk to warm the server), measured in the same run first: the ratio says what sharing the
console costs. The browsers run on the same machine as the server, so their own work counts too.

    python benchmarks/console_sessions.py [--sessions 20] [--db URL] [--scenario disney_mass_testing]

Without `--db` the store is a new SQLite file; with a PostgreSQL URL (`postgresql+psycopg://...`) it is made
there (the database must exist and be empty).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from command.authority import grant_command
from command.incidents import open_incident
from command.loop import plan_incident
from command.security import authenticate
from command.store import Store
from command.users import DEMO_PASSWORD, init_demo_store
from optimizer.result import SolveParams

CHROMIUM = "/usr/bin/chromium"
YIWANG = Path(sys.executable).with_name("yiwang")
#: Who the sessions log in as, in turn (the demo store's users), and the pages each opens with the text that says
#: the page is drawn (the Xuhui observer sees no Pudong incident: its pages say so).
USERS = ("planner", "pudong_commander", "trainee", "planner", "pudong_commander", "xuhui_observer", "admin")
PAGES = (("事件态势", "态势图"), ("方案审批", "方案"))
PAGES_OF = {"admin": (("系统管理", "用户"),), "xuhui_observer": (("事件态势", "没有可查看的事件"),)}


@dataclass
class Session:
    """One session's timings (seconds, by step) and what went wrong in it."""

    user: str
    times: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(base: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base}/_stcore/health", timeout=2) as answer:
            return answer.read().strip() == b"ok"
    except OSError:
        return False


@contextlib.contextmanager
def console_on(url: str) -> Iterator[tuple[str, Path]]:
    """A `yiwang console` on the store at `url`, on a free local port, until the block ends: its base URL and its
    log file (for counting tracebacks after). Raises RuntimeError with the log's tail when it never gets healthy."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="yiwang-load-")) / "console.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(YIWANG), "console", "--port", str(port), "--address", "127.0.0.1", "--db", url],
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not _healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text(errors="replace")[-3000:])
            time.sleep(0.25)
        yield base, log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def tracebacks_in(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback (most recent call last)")


def new_store_url(db: str | None) -> str:
    """The store URL given, or a new SQLite file's."""
    return db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='yiwang-load-')) / 'yiwang.db'}"


def prepare(url: str, scenario: str) -> None:
    """The demo store with one Pudong incident, commanded by pudong_commander, with a proposed plan."""
    store = Store(url)
    try:
        init_demo_store(store)
        admin = authenticate(store, "admin", DEMO_PASSWORD)
        iid = open_incident(store, admin, scenario, jurisdiction="pudong")
        grant_command(store, admin, iid, "pudong_commander", reason="load test")
        plan_incident(store, authenticate(store, "planner", DEMO_PASSWORD), iid, params=SolveParams(time_limit_s=40))
    finally:
        store.dispose()


async def walk(browser, base: str, user: str) -> Session:  # type: ignore[no-untyped-def]
    """Log in, then open each page; time each step to its marker."""
    session = Session(user)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(120_000)
    own = urlsplit(base).netloc

    async def refuse(route) -> None:  # type: ignore[no-untyped-def]
        await route.abort()

    context.on("request", lambda request: session.requests.append(request.url))
    await context.route(lambda u: urlsplit(u).scheme not in {"data", "blob", "about"} and urlsplit(u).netloc != own,
                        refuse)  # fmt: skip
    try:
        page = await context.new_page()
        start = time.perf_counter()
        await page.goto(base)
        await page.get_by_label("用户名").fill(user)
        await page.get_by_label("密码").fill(DEMO_PASSWORD)
        await page.get_by_role("button", name="登录").click()
        await page.get_by_role("heading", name="本辖区事件").wait_for()
        session.times["log-in -> board"] = time.perf_counter() - start
        for link, marker in PAGES_OF.get(user, PAGES):
            start = time.perf_counter()
            await page.get_by_role("link", name=link).click()
            await page.get_by_text(marker, exact=True).first.wait_for()
            await page.wait_for_timeout(0)
            session.times[link] = time.perf_counter() - start
        if await page.get_by_test_id("stException").count():
            session.problems.append(await page.get_by_test_id("stException").first.inner_text())
    except Exception as exc:  # a page that never showed: the session failed
        session.problems.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()
    foreign = sorted({u for u in session.requests if urlsplit(u).scheme not in {"data", "blob", "about"}
                      and urlsplit(u).netloc != own})  # fmt: skip
    session.problems += [f"request to {u}" for u in foreign]
    return session


async def run_all(base: str, n: int) -> tuple[list[Session], list[Session]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            await walk(browser, base, "planner")  # warm the server: first imports, first simulation, caches
            alone = [await walk(browser, base, "planner")]
            together = await asyncio.gather(*(walk(browser, base, USERS[i % len(USERS)]) for i in range(n)))
        finally:
            await browser.close()
    return alone, list(together)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--db", default=None, help="store URL (default: a new SQLite file)")
    parser.add_argument("--scenario", default="disney_mass_testing")
    args = parser.parse_args()
    url = new_store_url(args.db)
    prepare(url, args.scenario)
    try:
        with console_on(url) as (base, log):
            alone, together = asyncio.run(run_all(base, args.sessions))
    except RuntimeError as exc:
        print(exc)
        return 1
    tracebacks = tracebacks_in(log)
    store = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"{args.sessions} sessions at once on one console ({store} store, {args.scenario}); "
          f"server tracebacks: {tracebacks}")  # fmt: skip
    steps = list(dict.fromkeys(k for s in together for k in s.times))
    print("| step | alone s | median s | max s | max / alone | sessions that reached it |")
    print("|---|---:|---:|---:|---:|---:|")
    for step in steps:
        times = [s.times[step] for s in together if step in s.times]
        one = alone[0].times.get(step)
        ratio = f"{max(times) / one:.1f}" if one else "-"
        print(f"| {step} | {one:.2f} | {statistics.median(times):.2f} | {max(times):.2f} | {ratio} | {len(times)} |"
              if one else f"| {step} | - | {statistics.median(times):.2f} | {max(times):.2f} | - | {len(times)} |")
    failed = [s for s in together if s.problems]
    print(f"sessions with a problem: {len(failed)} of {len(together)}")
    for s in failed[:10]:
        print(f"  {s.user}: {s.problems[:3]}")
    return 0 if not failed and tracebacks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
