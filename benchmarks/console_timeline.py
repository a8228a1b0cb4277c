"""The incident pages' alerts panel and timeline on a long incident, against the panel as it was before the
acknowledgements were stored (the whole activity log read and filtered on every run of the header, every 15 s).

A SQLite store in a temporary folder; the built-in Disney mass testing (12 hours, its own injects) with a 2-minute
wait limit, opened in Pudong, commanded, its default plan approved, then advanced an hour at a time to its horizon
(each advance logs the simulation's events on the way, up to 200). Median of seven reads after one warm-up, all
in the same run:

    PYTHONPATH=$PWD python benchmarks/console_timeline.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from sqlalchemy import func, select

from command.alerts import alerts
from command.audit import entries
from command.authority import grant_command
from command.incidents import activity, open_incident
from command.loop import advance, approve_and_apply
from command.plans import create_plan, view_plan
from command.security import SecurityPolicy, authenticate
from command.store import ActivityEntry, Store
from command.timeline import timeline
from command.users import add_user, init_store
from scenarios import load_scenario
from scenarios.defaults import default_plan

SCENARIO = "disney_mass_testing"
FAST = SecurityPolicy(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
PASSWORD = "benchmark password"
STEP_S = 3600.0


def former_panel(store: Store, actor, incident_id: int) -> list[object]:  # type: ignore[no-untyped-def]
    """The alerts panel's read before this change: every activity line of the incident, filtered in Python."""
    return [a for a in activity(store, actor, incident_id) if a.kind.startswith("breach:") or a.kind == "inject"]


def median_ms(call: Callable[[], object]) -> float:
    call()
    times = []
    for _ in range(7):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/bench.db", policy=FAST)
        init_store(store, admin="admin", password=PASSWORD)
        admin = authenticate(store, "admin", PASSWORD)
        add_user(store, admin, username="cmd", password=PASSWORD, role="commander", jurisdiction="pudong")
        cmd = authenticate(store, "cmd", PASSWORD)
        base = load_scenario(SCENARIO)
        scenario = base.model_copy(update={"thresholds": base.thresholds.model_copy(update={"max_wait_s": 120})})
        iid = open_incident(store, admin, scenario, jurisdiction="pudong")
        grant_command(store, admin, iid, "cmd", hours=12)
        pid = create_plan(store, cmd, iid, default_plan(scenario), scenario=scenario)
        view = view_plan(store, cmd, pid)
        approve_and_apply(store, cmd, pid, password=PASSWORD, shown=view.shown(),
                          acknowledged=[w.number for w in view.warnings])  # fmt: skip
        now_s = 0.0
        while now_s < scenario.clock.horizon_s:
            now_s = advance(store, cmd, iid, until_s=now_s + STEP_S).to_s
        with store.read() as session:
            lines = session.scalar(select(func.count()).select_from(ActivityEntry)
                                   .where(ActivityEntry.incident_id == iid))  # fmt: skip
        chain = len(entries(store, incident_id=iid))
        before = median_ms(lambda: former_panel(store, cmd, iid))
        after = median_ms(lambda: alerts(store, cmd, iid))
        steps = median_ms(lambda: timeline(store, cmd, iid))
        shown = len(timeline(store, cmd, iid))
        print(f"python {sys.version.split()[0]}; incident with {lines} activity lines, {chain} audit entries, "
              f"{len(alerts(store, cmd, iid))} alerts, {shown} timeline steps")  # fmt: skip
        print("| read | median | ratio to the former panel |")
        print("|---|---:|---:|")
        print(f"| alerts panel, former (whole activity log) | {before:.1f} ms | 1.00 |")
        print(f"| alerts panel, `command.alerts.alerts` | {after:.1f} ms | {after / before:.2f} |")
        print(f"| timeline, `command.timeline.timeline` | {steps:.1f} ms | {steps / before:.2f} |")
        store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
