"""`yiwang incident`: open, list, show, plan, advance, log, timeline, roster and close incidents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from command.cli.common import (
    DbOption,
    JsonOption,
    UserOption,
    cells,
    handles_input_errors,
    log_in,
    open_store,
    out_console,
    read_text,
    say,
)
from command.cli.plans import show_plan
from command.errors import NotAuthorised

app = typer.Typer(
    help="Incidents: open, list, show, plan, advance, log, timeline, roster, close.", no_args_is_help=True
)


@app.command("open")
@handles_input_errors
def incident_open(
    scenario: Annotated[str, typer.Argument(help="A scenario file or built-in name.", metavar="FILE_OR_NAME")],
    jurisdiction: Annotated[str, typer.Option(help="Jurisdiction code the incident belongs to.")],
    title: Annotated[str | None, typer.Option(help="Title (default: the scenario's).")] = None,
    exercise: Annotated[bool, typer.Option("--exercise", help="Mark as a training exercise.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).", min=0)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="field.path=value (repeatable).")] = None,
    period_hours: Annotated[float | None, typer.Option(help="Operational period length.")] = None,
    demo_roster: Annotated[bool, typer.Option("--demo-roster", help="Attach a fictitious roster.")] = False,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Open an incident from a scenario."""
    from command.incidents import demo_roster as make_roster
    from command.incidents import import_roster, open_incident
    from scenarios import load_scenario

    loaded = load_scenario(scenario, overrides=set_ or [])
    store = open_store(db_url)
    actor = log_in(store, user, "incident open")
    if demo_roster and not actor.can("personal.read"):
        raise NotAuthorised(f"--demo-roster: {actor.username} ({actor.role}) may not attach a roster; "
                            "an admin or the commander can, with `incident roster --import`")  # fmt: skip
    iid = open_incident(store, actor, loaded, jurisdiction=jurisdiction, title=title, exercise=exercise,
                        seed=seed, period_s=None if period_hours is None else period_hours * 3600)  # fmt: skip
    if demo_roster:
        import_roster(store, actor, iid, make_roster(loaded))
    say(f"incident {iid} opened ({loaded.name}, {jurisdiction}{', EXERCISE' if exercise else ''})")


@app.command("list")
@handles_input_errors
def incident_list(
    include_closed: Annotated[bool, typer.Option("--all", help="Include closed incidents.")] = False,
    user: UserOption = None,
    db_url: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The incidents of your jurisdiction."""
    from command.incidents import list_incidents

    store = open_store(db_url)
    rows = list_incidents(store, log_in(store, user, "incident list"), include_closed=include_closed)
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=1))
        return
    table = Table("id", "code", "title", "jurisdiction", "status", "phase", "commander", "active plan", "alarm")
    for r in rows:
        table.add_row(*cells(str(r.id), r.code + (" EXERCISE" if r.exercise else ""), r.title, r.jurisdiction, r.status,
                      r.phase, r.holder or "-", str(r.active_plan or "-"), r.needs_replan[:60]))  # fmt: skip
    out_console().print(table)


@app.command("show")
@handles_input_errors
def incident_show(incident_id: int, user: UserOption = None, db_url: DbOption = None,
                  as_json: JsonOption = False) -> None:  # fmt: skip
    """One incident: status, commander, plans."""
    from command.incidents import get_incident
    from command.plans import list_plans

    store = open_store(db_url)
    actor = log_in(store, user, "incident show")
    view = get_incident(store, actor, incident_id)
    plans = list_plans(store, actor, incident_id)
    if as_json:
        doc = {**view.__dict__, "plans": [{"id": p.plan_id, "number": p.number, "status": p.status,
                                          "version": p.current_version} for p in plans]}  # fmt: skip
        typer.echo(json.dumps(doc, default=str, ensure_ascii=False, indent=1))
        return
    for key, value in view.__dict__.items():
        say(f"{key:>14}: {value}")
    for p in plans:
        say(f"plan {p.plan_id} (#{p.number}) {p.status} v{p.current_version} by {p.created_by}")


@app.command("plan")
@handles_input_errors
def incident_plan(
    incident_id: int,
    time_limit: Annotated[float, typer.Option(help="Optimiser time limit per model, seconds.", min=0.1)] = 10.0,
    budget: Annotated[float | None, typer.Option(
        help="The whole Run -> plan time budget, seconds (15 is the console's): split across the stages up "
             "front; the optimiser's time limit is then the budget's, not --time-limit.", min=1.0)] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Keep it as a draft instead of proposing it.")] = False,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Simulate the baseline, optimise, simulate the plan, and propose it."""
    from command.loop import plan_incident
    from optimizer.result import SolveParams

    store = open_store(db_url)
    actor = log_in(store, user, "incident plan")
    console = out_console(stderr=True)
    with console.status("starting") as status:
        pid = plan_incident(store, actor, incident_id, params=SolveParams(time_limit_s=time_limit),
                            progress=lambda m: status.update(m), propose=not draft, budget_s=budget)  # fmt: skip
    show_plan(store, actor, pid, None)


@app.command("advance")
@handles_input_errors
def incident_advance(
    incident_id: int,
    until: Annotated[float | None, typer.Option(help="Stop at this many seconds after the start, at most.")] = None,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Run the incident forward under the plan in effect to the next decision point."""
    from command.incidents import load_incident_scenario
    from command.loop import advance

    store = open_store(db_url)
    actor = log_in(store, user, "incident advance")
    report = advance(store, actor, incident_id, until_s=until)
    clock = load_incident_scenario(store, actor, incident_id).clock
    for line in report.lines(clock.label):
        say(line)


@app.command("log")
@handles_input_errors
def incident_log(incident_id: int, user: UserOption = None, db_url: DbOption = None) -> None:
    """The incident's activity log (ICS 214)."""
    from command.incidents import activity

    store = open_store(db_url)
    for a in activity(store, log_in(store, user, "incident log"), incident_id):
        sim = "" if a.sim_s is None else f" [+{a.sim_s / 60:.0f} min]"
        say(f"{a.at:%Y-%m-%d %H:%M:%S}{sim} {a.actor} {a.kind}: {a.text}")


@app.command("timeline")
@handles_input_errors
def incident_timeline(
    incident_id: int,
    last: Annotated[int | None, typer.Option(help="The newest N steps only.", min=1)] = None,
    user: UserOption = None,
    db_url: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The incident's timeline, newest first: injects, decisions, plan changes, alarms, phase changes."""
    from command.incidents import load_incident_scenario
    from command.timeline import timeline

    store = open_store(db_url)
    actor = log_in(store, user, "incident timeline")
    steps = timeline(store, actor, incident_id, limit=last)
    if as_json:
        typer.echo(json.dumps([{**s.__dict__, "values": dict(s.values)} for s in steps], default=str,
                              ensure_ascii=False, indent=1))  # fmt: skip
        return
    clock = load_incident_scenario(store, actor, incident_id).clock
    for s in steps:
        sim = "" if s.sim_s is None else f" [{clock.label(s.sim_s)}]"
        say(f"{s.at:%Y-%m-%d %H:%M:%S} UTC{sim} {s.category:<8} {s.actor}: {s.text}")


@app.command("roster")
@handles_input_errors
def incident_roster(
    incident_id: int,
    import_file: Annotated[Path | None, typer.Option("--import", help="Replace the roster from a CSV "
                                                     "(team,name,phone,role).")] = None,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Show the roster (masked unless you need the details), or replace it from a CSV file."""
    from command.incidents import import_roster, parse_roster, roster

    store = open_store(db_url)
    actor = log_in(store, user, "incident roster")
    if import_file is not None:
        text = read_text(import_file)
        n = import_roster(store, actor, incident_id, parse_roster(text, file=import_file.name))
        say(f"roster of incident {incident_id}: {n} people")
        return
    rows, masked = roster(store, actor, incident_id)
    for r in rows:
        say(f"{r.team:<14} {r.role:<8} {r.name:<20} {r.phone}")
    if masked:
        say("(names and phone numbers masked)", err=True)


@app.command("close")
@handles_input_errors
def incident_close(incident_id: int, reason: Annotated[str, typer.Option(help="Why.")] = "",
                   user: UserOption = None, db_url: DbOption = None) -> None:  # fmt: skip
    """Close an incident (active plan completed, pending plans withdrawn, command ended)."""
    from command.incidents import close_incident

    store = open_store(db_url)
    close_incident(store, log_in(store, user, "incident close"), incident_id, reason=reason)
    say(f"incident {incident_id} closed")
