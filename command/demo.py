"""The README's main job: the whole incident loop on a DEMO store, narrated.

Creates (or reuses) a store marked as a demo, opens a training exercise from a built-in scenario in the
jurisdiction that ran it for real (Disney: Pudong; the Bund: Huangpu), grants command to the demo commander
there, lets the demo planner simulate the baseline, optimise and propose, shows the commander the forecasts
side by side, approves with the commander's (demo) password, runs the world to the end of the horizon under
the plan, writes the ICS-204 and ICS-214 paperwork, and verifies the audit chain. Demo users share a known
password; such a store is for trying Yiwang and for drills, never for a real incident.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from command.audit import verify
from command.authority import grant_command
from command.errors import CommandError
from command.incidents import demo_roster, import_roster, open_incident
from command.kinds import kind_of
from command.loop import advance, approve_and_apply, plan_incident
from command.paperwork import export_ics
from command.plans import view_plan
from command.security import authenticate
from command.store import Store
from command.users import DEMO_PASSWORD, init_demo_store, is_demo
from optimizer.result import SolveParams
from scenarios import load_scenario

MAX_STEPS = 50


def run_demo(scenario_name: str, *, db_url: str, out: Path, time_limit_s: float, console: Console) -> int:
    """Run the loop end to end; the id of the incident it opened."""
    scenario = load_scenario(scenario_name)
    store = Store(db_url)
    if not store.is_initialised():
        init_demo_store(store)
        console.print(f"DEMO store created at {store.safe_url} (demo users share the password "
                      f"{DEMO_PASSWORD!r}; not for real incidents)")  # fmt: skip
    elif not is_demo(store):
        raise CommandError(f"{store.safe_url} is a real store; the demo only runs on a DEMO store "
                           "(pick another --db)")  # fmt: skip
    else:
        from command.migrate import upgrade

        upgrade(store)
        console.print(f"DEMO store {store.safe_url}")
    home = kind_of(scenario).demo  # where the kind's incident belongs, and who commands it in the demo store
    jurisdiction, commander_name = home.get("jurisdiction", "huangpu"), home.get("commander", "bund_chief")
    admin = authenticate(store, "admin", DEMO_PASSWORD, purpose="demo")
    iid = open_incident(store, admin, scenario, jurisdiction=jurisdiction, exercise=True,
                        title=f"[DEMO] {scenario.title}")  # fmt: skip
    import_roster(store, admin, iid, demo_roster(scenario))
    grant_command(store, admin, iid, commander_name, hours=12, reason="on-site command delegated (demo)")
    console.print(f"1. intake: exercise incident {iid} opened from {scenario.name} in {jurisdiction}; "
                  f"command granted to {commander_name}")  # fmt: skip

    planner = authenticate(store, "planner", DEMO_PASSWORD, purpose="demo")
    with console.status("planning") as status:
        pid = plan_incident(store, planner, iid, params=SolveParams(time_limit_s=time_limit_s),
                            progress=lambda m: status.update(m))  # fmt: skip
    commander = authenticate(store, commander_name, DEMO_PASSWORD, purpose="demo")
    view = view_plan(store, commander, pid)
    console.print(f"2. dispatch: plan {pid} proposed by planner ({len(view.plan.actions)} actions; "
                  f"solver {view.solver.get('status')}, gap {_pct(view.solver.get('gap'))})")  # fmt: skip
    _print_forecast(console, view.forecast)
    for w in view.warnings:  # a commander reads each warning and acknowledges it; the demo shows them all
        console.print(f"   warning [{w.number}] {w.key}: {w.message}")
    approve_and_apply(store, commander, pid, password=DEMO_PASSWORD, shown=view.shown(), note="demo approval",
                      acknowledged=[w.key for w in view.warnings])  # fmt: skip
    n = len(view.warnings)
    acked = f", {n} warning{'' if n == 1 else 's'} acknowledged" if n else ""
    console.print(f"3. handling: {commander_name} re-entered the password, approved version {view.version} "
                  f"(digest {view.digest[:12]}{acked}), plan in effect")  # fmt: skip

    steps = 0
    while steps < MAX_STEPS:
        report = advance(store, commander, iid)
        steps += 1
        for line in report.lines(scenario.clock.label):
            console.print(f"4. supervision: {line}")
        if report.finished:
            break
    files = export_ics(store, commander, pid, out)
    console.print(f"5. evaluation: paperwork written: {', '.join(str(f) for f in files)}")
    check = verify(store)
    console.print(f"6. audit: {check.lines()[0]}")
    if not check.ok:
        raise CommandError("the audit chain does not verify: " + "; ".join(check.lines()))
    return iid


def _pct(gap: float | None) -> str:
    return "n/a" if gap is None else f"{100 * gap:.2f}%"


def _print_forecast(console: Console, forecast: dict) -> None:
    from rich.table import Table

    base, planned = forecast.get("baseline") or {}, forecast.get("planned") or {}
    table = Table(title="forecast: the scenario's default plan vs the proposed plan")
    for col in ("KPI", "default plan", "proposed plan", "change"):
        table.add_column(col, justify="left" if col == "KPI" else "right")
    for k, v in base.items():
        p = planned.get(k)
        table.add_row(k, f"{v:,.2f}", "" if p is None else f"{p:,.2f}", "" if p is None else f"{p - v:+,.2f}")
    console.print(table)


__all__ = ["run_demo"]
