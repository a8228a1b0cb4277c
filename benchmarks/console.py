"""Time from "Run" to a shown plan in the console, per built-in scenario, against the bare pipeline.

For each built-in scenario: the bare pipeline (`command.loop.plan_incident`, the very function the console's
Run button starts: simulate the default plan, optimise, simulate the plan, propose) timed on its own, then the
console under Streamlit's AppTest: log in as the planner, open plan review, click Run, poll the page until the
proposed plan is shown. The ratio console / bare is the console's overhead; then the median time of a plain
rerun of the review page and of the incident page (map, charts, logs) once their results are cached, against
the first render of the incident page (which simulates both plans once).

    python benchmarks/console.py [--scenarios disney_mass_testing ...] [--time-limit 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from command.errors import CommandError
from command.incidents import open_incident
from command.loop import plan_incident
from command.security import SecurityPolicy, authenticate
from command.store import Store
from command.users import DEMO_PASSWORD, init_demo_store
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.loading import builtin_scenario_names

FAST = SecurityPolicy(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


def bare(url: str, name: str, time_limit: float) -> float:
    store = Store(url, policy=FAST)
    admin = authenticate(store, "admin", DEMO_PASSWORD)
    iid = open_incident(store, admin, load_scenario(name), jurisdiction="shanghai")
    planner = authenticate(store, "planner", DEMO_PASSWORD)
    start = time.perf_counter()
    plan_incident(store, planner, iid, params=SolveParams(time_limit_s=time_limit))
    return time.perf_counter() - start


def console(url: str, name: str, time_limit: float) -> tuple[float, float, float, float]:
    from importlib.util import find_spec

    from streamlit.testing.v1 import AppTest

    store = Store(url, policy=FAST)
    admin = authenticate(store, "admin", DEMO_PASSWORD)
    iid = open_incident(store, admin, load_scenario(name), jurisdiction="shanghai")
    os.environ["YIWANG_DATABASE_URL"] = url
    at = AppTest.from_file(str(find_spec('command.console.app').origin), default_timeout=600)
    at.run()
    at.text_input(key="login_username").input("planner")
    at.text_input(key="login_password").input(DEMO_PASSWORD)
    next(b for b in at.button if b.form_id == "login").click()
    at.run()
    at.run()
    at.session_state["incident_id"] = iid
    at.session_state["yiwang_time_limit"] = time_limit
    at.session_state["yiwang_goto"] = "review"
    at.run()
    start = time.perf_counter()
    at.button(key="review_run").click()
    at.run()
    while not any("方案 1" in s.value for s in at.subheader):
        time.sleep(0.1)
        at.run()
    shown = time.perf_counter() - start
    reruns = []
    for _ in range(5):
        t0 = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - t0)
    at.session_state["yiwang_goto"] = "incident"
    t0 = time.perf_counter()
    at.run()
    first_incident = time.perf_counter() - t0
    incident_reruns = []
    for _ in range(5):
        t0 = time.perf_counter()
        at.run()
        incident_reruns.append(time.perf_counter() - t0)
    return shown, statistics.median(reruns), first_incident, statistics.median(incident_reruns)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="*", default=builtin_scenario_names())
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="yiwang-bench-"))
    print("| scenario | bare pipeline s | console Run -> plan s | ratio | review rerun s | incident first render s "
          "| incident rerun s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, name in enumerate(args.scenarios):
        url = f"sqlite:///{folder / f'b{i}.db'}"
        init_demo_store(Store(url, policy=FAST))
        try:
            b = bare(url, name, args.time_limit)
        except (CommandError, ValueError) as exc:
            print(f"| {name} | not runnable yet: {str(exc).splitlines()[0]} | | | | | |")
            continue
        shown, rerun, first, again = console(url, name, args.time_limit)
        print(f"| {name} | {b:.2f} | {shown:.2f} | {shown / b:.2f} | {rerun:.3f} | {first:.2f} | {again:.3f} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
