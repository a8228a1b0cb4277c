"""`yiwang plan`: propose, submit, list, show, approve, reject and diff the plans of an incident."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from command.cli.common import (
    PASSWORD_ENV,
    DbOption,
    JsonOption,
    UserOption,
    client_source,
    csv_items,
    handles_input_errors,
    log_in,
    open_store,
    out_console,
    read_text,
    say,
    secret,
)
from command.errors import BadInput, CommandError
from command.safe_text import clean
from command.security import Actor
from command.store import Store

app = typer.Typer(help="Plans: propose, list, show, approve, reject, diff.", no_args_is_help=True)

AckOption = Annotated[
    list[str] | None,
    typer.Option("--ack", help="Acknowledge each of the plan's warnings, by number or key as `plan show` lists them "
                               "(repeatable, or comma-separated)."),
]  # fmt: skip


def _plan_ref(text: str) -> tuple[int, int | None]:
    """`12` or `12:3` (plan 12, version 3)."""
    head, _, tail = text.partition(":")
    try:
        return int(head), int(tail) if tail else None
    except ValueError:
        raise BadInput(f"plan {text!r}: expected PLAN or PLAN:VERSION, e.g. 12 or 12:3") from None


def _kpi_table(title: str, columns: dict[str, dict[str, float] | None]) -> Table:
    table = Table(title=clean(title))
    table.add_column("KPI")
    present = {k: v for k, v in columns.items() if v}
    for name in present:
        table.add_column(name, justify="right")
    keys = list(dict.fromkeys(k for v in present.values() for k in v))
    for k in keys:
        table.add_row(k, *(f"{v[k]:,.2f}" if k in v else "" for v in present.values()))
    return table


def show_plan(store: Store, actor: Actor, plan_id: int, version: int | None, *, as_json: bool = False) -> None:
    """Print a plan version: status, solver, forecasts with and without it, actions, decisions (or JSON)."""
    from command.incidents import load_incident_scenario
    from command.plans import view_plan

    view = view_plan(store, actor, plan_id, version)
    if as_json:
        doc = {"plan_id": view.plan_id, "incident": view.incident_id, "number": view.number, "status": view.status,
               "version": view.version, "current_version": view.current_version, "digest": view.digest,
               "solver": view.solver, "forecast": view.forecast, "exercise": view.exercise,
               "decisions": [d.__dict__ for d in view.decisions], "plan": json.loads(view.plan.to_json()),
               "warnings": [w.to_json() for w in view.warnings]}
        typer.echo(json.dumps(doc, default=str, ensure_ascii=False, indent=1))
        return
    clock = load_incident_scenario(store, actor, view.incident_id).clock
    console = out_console()
    banner = " [EXERCISE]" if view.exercise else ""
    console.print(f"plan {view.plan_id} (#{view.number} of {view.incident_code}){banner}: {view.status}, "
                  f"version {view.version} of {view.current_version}, digest {view.digest[:16]}")  # fmt: skip
    if view.solver:
        gap = view.solver.get("gap")
        console.print(f"solver: {view.solver.get('status')}, objective {view.solver.get('objective')}, "
                      f"bound {view.solver.get('bound')}, gap {'n/a' if gap is None else f'{100 * gap:.2f}%'}")
        for line in view.solver.get("rationale", []):
            console.print(f"  - {line}")
    f = view.forecast
    console.print(_kpi_table("forecast", {"without (default)": f.get("baseline"), "with this plan": f.get("planned"),
                                          "plan in effect": f.get("previous")}))  # fmt: skip
    for w in view.warnings:  # before sign-off: what this plan makes worse, breaches, a weak bound
        console.print(f"warning [{w.number}] {w.key}: {w.message}")
    counts: dict[str, int] = {}
    for a in view.plan.actions:
        counts[a.type] = counts.get(a.type, 0) + 1
    console.print("actions: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    first = view.plan.actions[:12]
    for a in first:
        console.print(f"  {clock.label(a.at_s)} {a.label()}")
    if len(view.plan.actions) > len(first):
        console.print(f"  ... {len(view.plan.actions) - len(first)} more (--json for all)")
    for d in view.decisions:
        console.print(f"{d.decision} v{d.version} by {d.by} at {d.at:%Y-%m-%d %H:%M:%S} UTC {d.reason}")
        if d.acknowledged:
            console.print("  acknowledged: " + ", ".join(f"[{w.get('number')}] {w.get('key')}" for w in d.acknowledged))
    if view.status == "proposed":
        acks = ",".join(str(w.number) for w in view.warnings) if view.version == view.current_version else ""
        console.print(f"to decide: yiwang plan approve {view.plan_id} --version {view.current_version}"
                      + (f" --ack {acks}  (each warning above, once read)" if acks else "")
                      + "  (or reject with --reason)")  # fmt: skip


@app.command("propose")
@handles_input_errors
def plan_propose(
    incident_id: Annotated[int, typer.Argument(metavar="INCIDENT")],
    file: Annotated[Path, typer.Option("--file", help="A plan JSON file.")],
    draft: Annotated[bool, typer.Option("--draft", help="Keep it as a draft.")] = False,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Propose a plan from a JSON file (its consequences are simulated for the forecast, with its warnings)."""
    from command.incidents import get_incident, load_incident_scenario
    from command.plans import check_plan_fits, create_plan, forecast_plan, parse_plan_file

    new = parse_plan_file(read_text(file), file=file.name)
    store = open_store(db_url)
    actor = log_in(store, user, "plan propose")
    scenario = load_incident_scenario(store, actor, incident_id)
    check_plan_fits(new, scenario, file=file.name)
    seed = get_incident(store, actor, incident_id).seed
    forecast = forecast_plan(scenario, new, seed=seed)
    pid = create_plan(store, actor, incident_id, new, forecast=forecast, propose=not draft, scenario=scenario,
                      solver=new.meta.solver.model_dump() if new.meta.solver else {})  # fmt: skip
    say(f"plan {pid} {'drafted' if draft else 'proposed'} for incident {incident_id}")


@app.command("submit")
@handles_input_errors
def plan_submit(plan_id: Annotated[int, typer.Argument(metavar="PLAN")], user: UserOption = None,
                db_url: DbOption = None) -> None:  # fmt: skip
    """Propose a draft plan (draft -> proposed)."""
    from command.plans import propose_draft

    store = open_store(db_url)
    propose_draft(store, log_in(store, user, "plan submit"), plan_id)
    say(f"plan {plan_id} proposed")


@app.command("list")
@handles_input_errors
def plan_list(incident_id: Annotated[int, typer.Argument(metavar="INCIDENT")], user: UserOption = None,
              db_url: DbOption = None) -> None:  # fmt: skip
    """The plans of an incident."""
    from command.plans import list_plans

    store = open_store(db_url)
    for p in list_plans(store, log_in(store, user, "plan list"), incident_id):
        say(f"plan {p.plan_id} (#{p.number}) {p.status} v{p.current_version} by {p.created_by} "
                   f"at {p.created_at:%Y-%m-%d %H:%M} UTC, {len(p.plan.actions)} actions")  # fmt: skip


@app.command("show")
@handles_input_errors
def plan_show(ref: Annotated[str, typer.Argument(metavar="PLAN[:VERSION]")], user: UserOption = None,
              db_url: DbOption = None, as_json: JsonOption = False) -> None:  # fmt: skip
    """A plan version: forecasts with and without it, solver, actions, decisions."""
    store = open_store(db_url)
    plan_id, version = _plan_ref(ref)
    show_plan(store, log_in(store, user, "plan show"), plan_id, version, as_json=as_json)


@app.command("approve")
@handles_input_errors
def plan_approve(
    plan_id: Annotated[int, typer.Argument(metavar="PLAN")],
    version: Annotated[int, typer.Option(help="The version you reviewed (from `plan show`).")],
    digest: Annotated[str | None, typer.Option(help="The digest you reviewed (a prefix is enough).")] = None,
    note: Annotated[str, typer.Option(help="A note for the log.")] = "",
    ack: AckOption = None,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Approve a plan version you reviewed and put it into effect (re-enter your password); each warning it carries
    must be acknowledged with --ack."""
    from command.loop import approve_and_apply
    from command.plans import Shown, view_plan

    store = open_store(db_url)
    actor = log_in(store, user, "plan approve")
    view = view_plan(store, actor, plan_id, version)
    if digest is not None and not view.digest.startswith(digest.lower()):
        raise CommandError(f"plan {plan_id} version {version}: digest {view.digest[:16]} does not start with "
                           f"{digest!r}; review it again")  # fmt: skip
    password = secret(PASSWORD_ENV, f"Re-enter the password of {actor.username} to approve")
    acknowledged = [item for text in ack or [] for item in csv_items(text)]
    approve_and_apply(store, actor, plan_id, password=password,
                      shown=Shown(plan_id, version, view.digest, view.forecast), note=note,
                      acknowledged=acknowledged, source=client_source())  # fmt: skip
    n = len(view.warnings)
    said = f" ({n} warning{'' if n == 1 else 's'} acknowledged)" if n else ""
    say(f"plan {plan_id} version {version} approved by {actor.username} and in effect{said}")


@app.command("activate")
@handles_input_errors
def plan_activate(
    plan_id: Annotated[int, typer.Argument(metavar="PLAN")],
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Put a plan that was approved but is not in effect into effect (the incident's commander; for plans approved
    before approval and activation became one step)."""
    from command.plans import activate_plan

    store = open_store(db_url)
    actor = log_in(store, user, "plan activate")
    activate_plan(store, actor, plan_id)
    say(f"plan {plan_id} in effect")


@app.command("reject")
@handles_input_errors
def plan_reject(
    plan_id: Annotated[int, typer.Argument(metavar="PLAN")],
    version: Annotated[int, typer.Option(help="The version you reviewed.")],
    reason: Annotated[str, typer.Option(help="Why (required).")],
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Reject a plan version you reviewed, with a reason (re-enter your password)."""
    from command.plans import Shown, reject_plan, view_plan

    store = open_store(db_url)
    actor = log_in(store, user, "plan reject")
    view = view_plan(store, actor, plan_id, version)
    password = secret(PASSWORD_ENV, f"Re-enter the password of {actor.username} to reject")
    reject_plan(store, actor, plan_id, password=password, reason=reason,
                shown=Shown(plan_id, version, view.digest, view.forecast), source=client_source())  # fmt: skip
    say(f"plan {plan_id} version {version} rejected")


@app.command("diff")
@handles_input_errors
def plan_diff(
    old: Annotated[str, typer.Argument(metavar="PLAN[:VERSION]")],
    new: Annotated[str, typer.Argument(metavar="PLAN[:VERSION]")],
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """What changed between two plans (or two versions of one)."""
    from command.plans import diff

    store = open_store(db_url)
    for line in diff(store, log_in(store, user, "plan diff"), _plan_ref(old), _plan_ref(new)):
        say(line)
