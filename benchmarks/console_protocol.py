"""Many users on one console at once, measured at the server: N Streamlit sessions over the console's own websocket
protocol, without browsers, so that the figure is the console's and not twenty Chromiums' on the same two cores.

`console_sessions.py` drives real browsers; on a 2-core machine the twenty browsers take most of the processor and
the figure says more about them than about the console. This script speaks the protocol the browser speaks
(Streamlit's `BackMsg`/`ForwardMsg` protobufs on `/_stcore/stream`): each client opens a session, gets the log-in
form, fills the user name and password into the form's widget states and submits it (the real argon2 check in the
store), then opens the incident view and the plan review by their page hashes, as a click on the sidebar link does.
A step is timed from the message sent to the script run that draws the page's marker finishing; a step fails on
an exception element in the page, a run that ends otherwise, or a marker that never shows (120 s). The run fails
on any traceback the server prints. The baseline is one session alone after a warming walk, in the same run.

What it leaves out is the browser's own drawing of the page (on each user's machine in a real operations centre).

    python benchmarks/console_protocol.py [--sessions 20] [--db URL] [--scenario disney_mass_testing]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

sys.path.insert(0, str(Path(__file__).parent))
from console_sessions import PAGES, PAGES_OF, USERS, console_on, new_store_url, prepare, tracebacks_in

from command.users import DEMO_PASSWORD

TIMEOUT_S = 120.0
BOARD = "本辖区事件"
#: The sidebar links' names, by the page's url path (the console's `_pages`).
URL_PATHS = {"事件态势": "incident", "方案审批": "review", "系统管理": "admin"}


@dataclass
class Session:
    """One protocol session's timings (seconds, by step) and what went wrong in it."""

    user: str
    times: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Client:
    """One Streamlit session over the websocket: send a rerun, read until the run finishes; honour the page's
    self-refreshing fragments (`st.fragment(run_every=...)`) while the user reads, as the browser does."""

    def __init__(self, socket, base: str) -> None:  # type: ignore[no-untyped-def]
        self.socket = socket
        self.base = base
        self.page_hash = ""
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.widgets: dict[str, str] = {}  # widget label -> id, from the last run
        self.refresh: dict[str, float] = {}  # fragment id -> its interval, s
        self.refresh_times: list[float] = []
        self.exceptions: list[str] = []

    async def run(self, *, page_hash: str | None = None, states: list[WidgetState] | None = None,
                  marker: str | None = None, fragment_id: str = "") -> bool:  # fmt: skip
        """Ask for a rerun (of a fragment when given); True when the run finished well and drew `marker`."""
        if page_hash is not None:
            self.page_hash = page_hash
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = bool(fragment_id)
        state.context_info.CopyFrom(ContextInfo(timezone="Asia/Shanghai", timezone_offset=-480, locale="zh-CN",
                                                url=self.base + "/"))  # fmt: skip
        for widget in states or []:
            state.widget_states.widgets.append(widget)
        await self.socket.send(msg.SerializeToString())
        seen = marker is None
        if not fragment_id:
            self.widgets, self.refresh = {}, {}
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            raw = await asyncio.wait_for(self.socket.recv(), timeout=max(0.1, deadline - time.monotonic()))
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
            elif kind == "page_info_changed" or kind == "new_session":
                if kind == "new_session" and fwd.new_session.page_script_hash:
                    self.page_hash = fwd.new_session.page_script_hash
            elif kind == "auto_rerun":
                self.refresh[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
            elif kind == "delta":
                if marker is not None and marker.encode() in raw:
                    seen = True
                if fwd.delta.WhichOneof("type") == "new_element":
                    element = fwd.delta.new_element
                    which = element.WhichOneof("type")
                    if which == "exception":
                        self.exceptions.append(element.exception.message)
                    elif which in {"text_input", "button"}:
                        widget = getattr(element, which)
                        self.widgets[widget.label] = widget.id
            elif kind == "script_finished":
                status = fwd.script_finished
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    if status == ForwardMsg.FINISHED_SUCCESSFULLY or not fragment_id or seen:
                        return seen
                elif status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    return False
                # FINISHED_EARLY_FOR_RERUN: the app asked for another run (st.rerun); read on

    async def read(self, seconds: float) -> None:
        """The user reads the page for `seconds`; its self-refreshing fragments rerun at their intervals."""
        end = time.monotonic() + seconds
        due = {fragment: time.monotonic() + interval for fragment, interval in self.refresh.items()}
        while True:
            nxt = min(due.values(), default=end)
            if nxt >= end:
                await asyncio.sleep(max(0.0, end - time.monotonic()))
                return
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            fragment = min(due, key=due.__getitem__)
            start = time.perf_counter()
            await self.run(fragment_id=fragment)
            self.refresh_times.append(time.perf_counter() - start)
            due = {f: due.get(f, time.monotonic()) for f in self.refresh}  # a full rerun may have replaced them
            if fragment in due:
                due[fragment] = time.monotonic() + self.refresh[fragment]


async def walk(base: str, user: str, *, start_after: float = 0.0, think: float = 0.0, rounds: int = 1,
               rng: random.Random | None = None) -> Session:  # fmt: skip
    """Open a session, log in through the form, then open each page (`rounds` times); time each step to its
    marker. With `think` > 0, the user reads each page for an exponential time of that mean before the next."""
    session = Session(user)
    rng = rng or random.Random(0)
    ws_url = base.replace("http://", "ws://") + "/_stcore/stream"
    await asyncio.sleep(start_after)
    try:
        async with websockets.connect(ws_url, subprotocols=["streamlit"], origin=base,  # type: ignore[list-item,arg-type]
                                      max_size=64 * 2**20) as socket:  # fmt: skip
            client = Client(socket, base)
            if not await client.run(marker="用户名"):
                session.problems.append("no log-in form")
                return session
            if think:
                await client.read(rng.expovariate(1 / think))
            start = time.perf_counter()
            states = [WidgetState(id=client.widgets["用户名"], string_value=user),
                      WidgetState(id=client.widgets["密码"], string_value=DEMO_PASSWORD),
                      WidgetState(id=client.widgets["登录"], trigger_value=True)]  # fmt: skip
            if not await client.run(states=states, marker=BOARD):
                session.problems.append("log-in did not reach the board")
                return session
            session.times.setdefault("log-in -> board", []).append(time.perf_counter() - start)
            for _ in range(rounds):
                for link, marker in PAGES_OF.get(user, PAGES):
                    if think:
                        await client.read(rng.expovariate(1 / think))
                    start = time.perf_counter()
                    if not await client.run(page_hash=client.pages[URL_PATHS[link]], marker=marker):
                        session.problems.append(f"{link}: no {marker!r}")
                        continue
                    session.times.setdefault(link, []).append(time.perf_counter() - start)
            if think:
                await client.read(rng.expovariate(1 / think))
            if client.refresh_times:
                session.times["auto refresh"] = client.refresh_times
            session.problems += [f"exception on the page: {e[:200]}" for e in client.exceptions]
    except Exception as exc:  # the session failed: say how
        session.problems.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return session


async def run_all(base: str, n: int, *, spread: float, think: float, rounds: int,
                  seed: int) -> tuple[Session, list[Session]]:  # fmt: skip
    await walk(base, "planner")  # warm the server: first imports, caches
    alone = await walk(base, "planner")
    rngs = [random.Random(seed * 1000 + i) for i in range(n)]
    together = await asyncio.gather(*(walk(base, USERS[i % len(USERS)], start_after=rngs[i].uniform(0, spread),
                                           think=think, rounds=rounds, rng=rngs[i]) for i in range(n)))  # fmt: skip
    return alone, list(together)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--db", default=None, help="store URL (default: a new SQLite file)")
    parser.add_argument("--scenario", default="disney_mass_testing")
    parser.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="sessions start at seeded uniform times over this many seconds (0: all at once)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean reading time per page, s (exponential, seeded; 0: no pause, no refreshes)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="times each session opens its pages")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    url = new_store_url(args.db)
    prepare(url, args.scenario)
    try:
        with console_on(url) as (base, log):
            alone, together = asyncio.run(
                run_all(base, args.sessions, spread=args.spread, think=args.think, rounds=args.rounds, seed=args.seed)
            )
    except RuntimeError as exc:
        print(exc)
        return 1
    tracebacks = tracebacks_in(log)
    store = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"{args.sessions} protocol sessions on one console ({store} store, {args.scenario}; starts over "
          f"{args.spread:g} s, reading {args.think:g} s a page on average, {args.rounds} round(s)); server tracebacks: "
          f"{tracebacks}; load average at the end: {os.getloadavg()[0]:.1f}")  # fmt: skip
    if alone.problems:
        print(f"the lone session failed: {alone.problems}")
    steps = list(dict.fromkeys(k for s in together for k in s.times))
    print("| step | alone s | median s | p95 s | max s | pages shown | sessions |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for step in steps:
        times = sorted(t for s in together for t in s.times.get(step, ()))
        one = alone.times.get(step)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        first = f"{statistics.median(one):.2f}" if one else "-"
        reached = sum(1 for s in together if step in s.times)
        print(
            f"| {step} | {first} | {statistics.median(times):.2f} | {p95:.2f} | {max(times):.2f} | {len(times)} "
            f"| {reached} |"
        )
    every = [t for s in together for step, ts in s.times.items() if step != "auto refresh" for t in ts]
    if every:
        print(f"pages (not refreshes) over 3 s: {sum(t > 3 for t in every)} of {len(every)}")
    failed = [s for s in together if s.problems]
    print(f"sessions with a problem: {len(failed)} of {len(together)}")
    for s in failed[:10]:
        print(f"  {s.user}: {s.problems[:3]}")
    return 0 if not failed and not alone.problems and tracebacks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
