"""The `yiwang` commands that work on the store: init, users, grants, incidents, plans, audit, export, demo.

Each command names who is acting (`--user`, or `YIWANG_USER`) and authenticates them (the password from
`YIWANG_PASSWORD`, or a hidden prompt): the CLI keeps no session between commands. The store is
`--db URL`, or `YIWANG_DATABASE_URL`, or `yiwang.db` in the current folder. Every refusal is one line on
standard error and exit 2 (3 when no plan is feasible), with nothing changed in the store.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from command.errors import BadInput, CommandError, NotAuthorised
from command.migrate import check_current, upgrade
from command.security import Actor, authenticate
from command.store import Store, StoreError

PASSWORD_ENV = "YIWANG_PASSWORD"
NEW_PASSWORD_ENV = "YIWANG_NEW_PASSWORD"
DEMO_DB = "sqlite:///yiwang-demo.db"

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="YIWANG_DATABASE_URL", show_envvar=True,
                 help="Store URL (sqlite:///file.db or postgresql://...); default sqlite:///yiwang.db."),
]  # fmt: skip
UserOption = Annotated[
    str | None, typer.Option("--user", "-u", envvar="YIWANG_USER", show_envvar=True, help="Who is acting.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _store(db: str | None) -> Store:
    """An existing store at this code's schema (a SQLite file that is not there is not created)."""
    store = Store(db)
    database = store.engine.url.database
    if store.backend == "sqlite" and database not in (None, "", ":memory:") and not Path(database).is_file():
        raise StoreError(f"{store.safe_url}: no Yiwang store here; run `yiwang init` to create one")
    check_current(store)
    return store


def _secret(env: str, prompt: str, *, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise BadInput(f"password: set {env} or run the command in a terminal to be asked")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def _actor(store: Store, user: str | None, purpose: str) -> Actor:
    if not user:
        raise BadInput("--user: say who is acting (or set YIWANG_USER)")
    return authenticate(store, user, _secret(PASSWORD_ENV, f"Password for {user}"), purpose=f"cli: {purpose}")


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def _out() -> Console:
    return Console(highlight=False)


def _plan_ref(text: str) -> tuple[int, int | None]:
    """`12` or `12:3` (plan 12, version 3)."""
    head, _, tail = text.partition(":")
    try:
        return int(head), int(tail) if tail else None
    except ValueError:
        raise BadInput(f"plan {text!r}: expected PLAN or PLAN:VERSION, e.g. 12 or 12:3") from None


def _kpi_table(title: str, columns: dict[str, dict[str, float] | None]) -> Table:
    table = Table(title=title)
    table.add_column("KPI")
    present = {k: v for k, v in columns.items() if v}
    for name in present:
        table.add_column(name, justify="right")
    keys = list(dict.fromkeys(k for v in present.values() for k in v))
    for k in keys:
        table.add_row(k, *(f"{v[k]:,.2f}" if k in v else "" for v in present.values()))
    return table


def register(app: typer.Typer, guard: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add the store commands to the `yiwang` app; `guard` maps refusals to exit codes."""
    users = typer.Typer(help="Users of the store (admins).", no_args_is_help=True)
    incident = typer.Typer(help="Incidents: open, list, show, plan, advance, log, roster, close.", no_args_is_help=True)
    plan = typer.Typer(help="Plans: propose, list, show, approve, reject, diff.", no_args_is_help=True)
    audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
    export = typer.Typer(help="Paperwork: ICS-204 assignment lists and ICS-214 activity logs.", no_args_is_help=True)
    db = typer.Typer(help="The store's schema.", no_args_is_help=True)
    app.add_typer(users, name="users")
    app.add_typer(incident, name="incident")
    app.add_typer(plan, name="plan")
    app.add_typer(audit_app, name="audit")
    app.add_typer(export, name="export")
    app.add_typer(db, name="db")

    # ------------------------------------------------------------------ init, db

    @app.command("init")
    @guard
    def init_cmd(
        db_url: DbOption = None,
        admin: Annotated[str, typer.Option(help="The first admin's user name.")] = "admin",
        demo: Annotated[bool, typer.Option("--demo", help="A DEMO store: demo users share a known password.")] = False,
    ) -> None:
        """Create a store and its first admin (password from YIWANG_NEW_PASSWORD or a prompt)."""
        from command.users import DEMO_PASSWORD, DEMO_USERS, init_demo_store, init_store

        store = Store(db_url)
        if demo:
            init_demo_store(store)
            typer.echo(f"DEMO store created at {store.safe_url} (not for real incidents)")
            people = ", ".join(f"{u} ({r}, {j})" for u, r, j, *_ in DEMO_USERS)
            typer.echo(f"demo users (password {DEMO_PASSWORD!r}): {people}")
            return
        password = _secret(NEW_PASSWORD_ENV, f"New password for {admin}", confirm=True)
        init_store(store, admin=admin, password=password)
        typer.echo(f"store created at {store.safe_url}; admin {admin!r} can log in")

    @db.command("upgrade")
    @guard
    def db_upgrade(db_url: DbOption = None) -> None:
        """Bring an existing store to this version's schema."""
        store = Store(db_url)
        if not store.is_initialised():
            raise BadInput(f"{store.safe_url}: no Yiwang store here; run `yiwang init`")
        upgrade(store)
        typer.echo(f"{store.safe_url}: schema up to date")

    # ------------------------------------------------------------------ users

    @users.command("add")
    @guard
    def users_add(
        username: Annotated[str, typer.Argument(help="The new user's name.")],
        role: Annotated[str, typer.Option(help="admin, planner, commander or observer.")],
        jurisdiction: Annotated[str, typer.Option(help="Jurisdiction code, e.g. pudong.")],
        display_name: Annotated[str, typer.Option(help="Full name (masked for those who do not need it).")] = "",
        phone: Annotated[str, typer.Option(help="Phone number (masked likewise).")] = "",
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Add a user (the new user's password from YIWANG_NEW_PASSWORD or a prompt)."""
        from command.security import check_username, require_role
        from command.users import add_user

        check_username(username)
        require_role(role)
        store = _store(db_url)
        actor = _actor(store, user, "users add")
        password = _secret(NEW_PASSWORD_ENV, f"New password for {username}", confirm=True)
        add_user(store, actor, username=username, password=password, role=role, jurisdiction=jurisdiction,
                 display_name=display_name, phone=phone)  # fmt: skip
        typer.echo(f"user {username!r} added ({role}, {jurisdiction})")

    @users.command("list")
    @guard
    def users_list(user: UserOption = None, db_url: DbOption = None, as_json: JsonOption = False) -> None:
        """List the users of your jurisdiction (names and phones masked unless you are an admin)."""
        from command.users import list_users

        store = _store(db_url)
        rows = list_users(store, _actor(store, user, "users list"))
        if as_json:
            typer.echo(json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=1))
            return
        table = Table("user", "role", "jurisdiction", "name", "phone", "state")
        for r in rows:
            state = "disabled" if not r.active else ("locked" if r.locked_until else "active")
            state += " DEMO" if r.demo else ""
            table.add_row(r.username, r.role, r.jurisdiction, r.display_name, r.phone, state)
        _out().print(table)

    @users.command("disable")
    @guard
    def users_disable(username: str, user: UserOption = None, db_url: DbOption = None) -> None:
        """Disable a user (they can no longer log in)."""
        from command.users import set_active

        store = _store(db_url)
        set_active(store, _actor(store, user, "users disable"), username, False)
        typer.echo(f"user {username!r} disabled")

    @users.command("enable")
    @guard
    def users_enable(username: str, user: UserOption = None, db_url: DbOption = None) -> None:
        """Enable a user again (and clear a lock-out)."""
        from command.users import set_active

        store = _store(db_url)
        set_active(store, _actor(store, user, "users enable"), username, True)
        typer.echo(f"user {username!r} enabled")

    # ------------------------------------------------------------------ grants

    @app.command("grant")
    @guard
    def grant_cmd(
        incident_id: Annotated[int, typer.Argument(help="Incident id.", metavar="INCIDENT")],
        to: Annotated[str, typer.Argument(help="The commander who takes command.", metavar="USER")],
        hours: Annotated[float, typer.Option(help="How long the grant lasts.")] = 12.0,
        resources: Annotated[str | None, typer.Option(help="Resources they may commit, comma-separated.")] = None,
        jurisdictions: Annotated[str | None, typer.Option(help="Districts whose pools they may use.")] = None,
        reason: Annotated[str, typer.Option(help="Why (e.g. 'on-site command handed to Pudong').")] = "",
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Give a commander command of an incident (transferring it from the current holder, if any)."""
        from command.authority import GrantLimits, grant_command

        store = _store(db_url)
        actor = _actor(store, user, "grant")
        gid = grant_command(store, actor, incident_id, to, hours=hours, reason=reason,
                            limits=GrantLimits(_csv(resources), _csv(jurisdictions)))  # fmt: skip
        typer.echo(f"grant {gid}: {to} holds command of incident {incident_id} for {hours:g} h")

    @app.command("revoke")
    @guard
    def revoke_cmd(
        incident_id: Annotated[int, typer.Argument(help="Incident id.", metavar="INCIDENT")],
        reason: Annotated[str, typer.Option(help="Why (required).")],
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Revoke the command grant in force over an incident."""
        from command.authority import revoke_command

        store = _store(db_url)
        gid = revoke_command(store, _actor(store, user, "revoke"), incident_id, reason=reason)
        typer.echo(f"grant {gid} revoked")

    # ------------------------------------------------------------------ incidents

    @incident.command("open")
    @guard
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
        store = _store(db_url)
        actor = _actor(store, user, "incident open")
        if demo_roster and not actor.can("personal.read"):
            raise NotAuthorised(f"--demo-roster: {actor.username} ({actor.role}) may not attach a roster; "
                                "an admin or the commander can, with `incident roster --import`")  # fmt: skip
        iid = open_incident(store, actor, loaded, jurisdiction=jurisdiction, title=title, exercise=exercise,
                            seed=seed, period_s=None if period_hours is None else period_hours * 3600)  # fmt: skip
        if demo_roster:
            import_roster(store, actor, iid, make_roster(loaded))
        typer.echo(f"incident {iid} opened ({loaded.name}, {jurisdiction}{', EXERCISE' if exercise else ''})")

    @incident.command("list")
    @guard
    def incident_list(
        include_closed: Annotated[bool, typer.Option("--all", help="Include closed incidents.")] = False,
        user: UserOption = None,
        db_url: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """The incidents of your jurisdiction."""
        from command.incidents import list_incidents

        store = _store(db_url)
        rows = list_incidents(store, _actor(store, user, "incident list"), include_closed=include_closed)
        if as_json:
            typer.echo(json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=1))
            return
        table = Table("id", "code", "title", "jurisdiction", "status", "phase", "commander", "active plan", "alarm")
        for r in rows:
            table.add_row(str(r.id), r.code + (" EXERCISE" if r.exercise else ""), r.title, r.jurisdiction, r.status,
                          r.phase, r.holder or "-", str(r.active_plan or "-"), r.needs_replan[:60])  # fmt: skip
        _out().print(table)

    @incident.command("show")
    @guard
    def incident_show(incident_id: int, user: UserOption = None, db_url: DbOption = None,
                      as_json: JsonOption = False) -> None:  # fmt: skip
        """One incident: status, commander, plans."""
        from command.incidents import get_incident
        from command.plans import list_plans

        store = _store(db_url)
        actor = _actor(store, user, "incident show")
        view = get_incident(store, actor, incident_id)
        plans = list_plans(store, actor, incident_id)
        if as_json:
            doc = {**view.__dict__, "plans": [{"id": p.plan_id, "number": p.number, "status": p.status,
                                              "version": p.current_version} for p in plans]}  # fmt: skip
            typer.echo(json.dumps(doc, default=str, ensure_ascii=False, indent=1))
            return
        for key, value in view.__dict__.items():
            typer.echo(f"{key:>14}: {value}")
        for p in plans:
            typer.echo(f"plan {p.plan_id} (#{p.number}) {p.status} v{p.current_version} by {p.created_by}")

    @incident.command("plan")
    @guard
    def incident_plan(
        incident_id: int,
        time_limit: Annotated[float, typer.Option(help="Optimiser time limit per model, seconds.", min=0.1)] = 10.0,
        draft: Annotated[bool, typer.Option("--draft", help="Keep it as a draft instead of proposing it.")] = False,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Simulate the baseline, optimise, simulate the plan, and propose it."""
        from command.loop import plan_incident
        from optimizer.result import SolveParams

        store = _store(db_url)
        actor = _actor(store, user, "incident plan")
        console = Console(stderr=True)
        with console.status("starting") as status:
            pid = plan_incident(store, actor, incident_id, params=SolveParams(time_limit_s=time_limit),
                                progress=lambda m: status.update(m), propose=not draft)  # fmt: skip
        _show_plan(store, actor, pid, None)

    @incident.command("advance")
    @guard
    def incident_advance(
        incident_id: int,
        until: Annotated[float | None, typer.Option(help="Stop at this many seconds after the start, at most.")] = None,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Run the incident forward under the plan in effect to the next decision point."""
        from command.incidents import load_incident_scenario
        from command.loop import advance

        store = _store(db_url)
        actor = _actor(store, user, "incident advance")
        report = advance(store, actor, incident_id, until_s=until)
        clock = load_incident_scenario(store, actor, incident_id).clock
        for line in report.lines(clock.label):
            typer.echo(line)

    @incident.command("log")
    @guard
    def incident_log(incident_id: int, user: UserOption = None, db_url: DbOption = None) -> None:
        """The incident's activity log (ICS 214)."""
        from command.incidents import activity

        store = _store(db_url)
        for a in activity(store, _actor(store, user, "incident log"), incident_id):
            sim = "" if a.sim_s is None else f" [+{a.sim_s / 60:.0f} min]"
            typer.echo(f"{a.at:%Y-%m-%d %H:%M:%S}{sim} {a.actor} {a.kind}: {a.text}")

    @incident.command("roster")
    @guard
    def incident_roster(
        incident_id: int,
        import_file: Annotated[Path | None, typer.Option("--import", help="Replace the roster from a CSV "
                                                         "(team,name,phone,role).")] = None,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Show the roster (masked unless you need the details), or replace it from a CSV file."""
        from command.incidents import import_roster, parse_roster, roster

        store = _store(db_url)
        actor = _actor(store, user, "incident roster")
        if import_file is not None:
            try:
                text = import_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise BadInput(f"{import_file}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
            n = import_roster(store, actor, incident_id, parse_roster(text, file=import_file.name))
            typer.echo(f"roster of incident {incident_id}: {n} people")
            return
        rows, masked = roster(store, actor, incident_id)
        for r in rows:
            typer.echo(f"{r.team:<14} {r.role:<8} {r.name:<20} {r.phone}")
        if masked:
            typer.echo("(names and phone numbers masked)", err=True)

    @incident.command("close")
    @guard
    def incident_close(incident_id: int, reason: Annotated[str, typer.Option(help="Why.")] = "",
                       user: UserOption = None, db_url: DbOption = None) -> None:  # fmt: skip
        """Close an incident (active plan completed, pending plans withdrawn, command ended)."""
        from command.incidents import close_incident

        store = _store(db_url)
        close_incident(store, _actor(store, user, "incident close"), incident_id, reason=reason)
        typer.echo(f"incident {incident_id} closed")

    # ------------------------------------------------------------------ plans

    def _show_plan(store: Store, actor: Actor, plan_id: int, version: int | None, *, as_json: bool = False) -> None:
        from command.incidents import load_incident_scenario
        from command.plans import view_plan

        view = view_plan(store, actor, plan_id, version)
        if as_json:
            doc = {"plan_id": view.plan_id, "incident": view.incident_id, "number": view.number, "status": view.status,
                   "version": view.version, "current_version": view.current_version, "digest": view.digest,
                   "solver": view.solver, "forecast": view.forecast, "exercise": view.exercise,
                   "decisions": [d.__dict__ for d in view.decisions], "plan": json.loads(view.plan.to_json())}
            typer.echo(json.dumps(doc, default=str, ensure_ascii=False, indent=1))
            return
        clock = load_incident_scenario(store, actor, view.incident_id).clock
        out = _out()
        banner = " [EXERCISE]" if view.exercise else ""
        out.print(f"plan {view.plan_id} (#{view.number} of {view.incident_code}){banner}: {view.status}, "
                  f"version {view.version} of {view.current_version}, digest {view.digest[:16]}")  # fmt: skip
        if view.solver:
            gap = view.solver.get("gap")
            out.print(f"solver: {view.solver.get('status')}, objective {view.solver.get('objective')}, "
                      f"bound {view.solver.get('bound')}, gap {'n/a' if gap is None else f'{100 * gap:.2f}%'}")
            for line in view.solver.get("rationale", []):
                out.print(f"  - {line}")
        f = view.forecast
        out.print(_kpi_table("forecast", {"without (default)": f.get("baseline"), "with this plan": f.get("planned"),
                                          "plan in effect": f.get("previous")}))  # fmt: skip
        counts: dict[str, int] = {}
        for a in view.plan.actions:
            counts[a.type] = counts.get(a.type, 0) + 1
        out.print("actions: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        first = view.plan.actions[:12]
        for a in first:
            out.print(f"  {clock.label(a.at_s)} {a.label()}")
        if len(view.plan.actions) > len(first):
            out.print(f"  ... {len(view.plan.actions) - len(first)} more (--json for all)")
        for d in view.decisions:
            out.print(f"{d.decision} v{d.version} by {d.by} at {d.at:%Y-%m-%d %H:%M:%S} UTC {d.reason}")
        if view.status == "proposed":
            out.print(f"to decide: yiwang plan approve {view.plan_id} --version {view.current_version}  "
                      f"(or reject with --reason)")  # fmt: skip

    @plan.command("propose")
    @guard
    def plan_propose(
        incident_id: Annotated[int, typer.Argument(metavar="INCIDENT")],
        file: Annotated[Path, typer.Option("--file", help="A plan JSON file.")],
        draft: Annotated[bool, typer.Option("--draft", help="Keep it as a draft.")] = False,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Propose a plan from a JSON file (its consequences are simulated for the forecast)."""
        from command.incidents import load_incident_scenario
        from command.kinds import simulate
        from command.plans import create_plan, parse_plan_file

        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{file}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        new = parse_plan_file(text, file=file.name)
        store = _store(db_url)
        actor = _actor(store, user, "plan propose")
        scenario = load_incident_scenario(store, actor, incident_id)
        from command.incidents import get_incident
        from command.plans import check_plan_fits
        from scenarios.defaults import default_plan

        check_plan_fits(new, scenario, file=file.name)
        seed = get_incident(store, actor, incident_id).seed
        forecast = {"seed": seed, "baseline": simulate(scenario, default_plan(scenario), seed=seed).kpis,
                    "planned": simulate(scenario, new, seed=seed).kpis}  # fmt: skip
        pid = create_plan(store, actor, incident_id, new, forecast=forecast, propose=not draft, scenario=scenario,
                          solver=new.meta.solver.model_dump() if new.meta.solver else {})  # fmt: skip
        typer.echo(f"plan {pid} {'drafted' if draft else 'proposed'} for incident {incident_id}")

    @plan.command("submit")
    @guard
    def plan_submit(plan_id: Annotated[int, typer.Argument(metavar="PLAN")], user: UserOption = None,
                    db_url: DbOption = None) -> None:  # fmt: skip
        """Propose a draft plan (draft -> proposed)."""
        from command.plans import propose_draft

        store = _store(db_url)
        propose_draft(store, _actor(store, user, "plan submit"), plan_id)
        typer.echo(f"plan {plan_id} proposed")

    @plan.command("list")
    @guard
    def plan_list(incident_id: Annotated[int, typer.Argument(metavar="INCIDENT")], user: UserOption = None,
                  db_url: DbOption = None) -> None:  # fmt: skip
        """The plans of an incident."""
        from command.plans import list_plans

        store = _store(db_url)
        for p in list_plans(store, _actor(store, user, "plan list"), incident_id):
            typer.echo(f"plan {p.plan_id} (#{p.number}) {p.status} v{p.current_version} by {p.created_by} "
                       f"at {p.created_at:%Y-%m-%d %H:%M} UTC, {len(p.plan.actions)} actions")  # fmt: skip

    @plan.command("show")
    @guard
    def plan_show(ref: Annotated[str, typer.Argument(metavar="PLAN[:VERSION]")], user: UserOption = None,
                  db_url: DbOption = None, as_json: JsonOption = False) -> None:  # fmt: skip
        """A plan version: forecasts with and without it, solver, actions, decisions."""
        store = _store(db_url)
        plan_id, version = _plan_ref(ref)
        _show_plan(store, _actor(store, user, "plan show"), plan_id, version, as_json=as_json)

    @plan.command("approve")
    @guard
    def plan_approve(
        plan_id: Annotated[int, typer.Argument(metavar="PLAN")],
        version: Annotated[int, typer.Option(help="The version you reviewed (from `plan show`).")],
        digest: Annotated[str | None, typer.Option(help="The digest you reviewed (a prefix is enough).")] = None,
        note: Annotated[str, typer.Option(help="A note for the log.")] = "",
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Approve a plan version you reviewed and put it into effect (re-enter your password)."""
        from command.loop import approve_and_apply
        from command.plans import Shown, view_plan

        store = _store(db_url)
        actor = _actor(store, user, "plan approve")
        view = view_plan(store, actor, plan_id, version)
        if digest is not None and not view.digest.startswith(digest.lower()):
            raise CommandError(f"plan {plan_id} version {version}: digest {view.digest[:16]} does not start with "
                               f"{digest!r}; review it again")  # fmt: skip
        password = _secret(PASSWORD_ENV, f"Re-enter the password of {actor.username} to approve")
        approve_and_apply(store, actor, plan_id, password=password,
                          shown=Shown(plan_id, version, view.digest, view.forecast), note=note)  # fmt: skip
        typer.echo(f"plan {plan_id} version {version} approved by {actor.username} and in effect")

    @plan.command("reject")
    @guard
    def plan_reject(
        plan_id: Annotated[int, typer.Argument(metavar="PLAN")],
        version: Annotated[int, typer.Option(help="The version you reviewed.")],
        reason: Annotated[str, typer.Option(help="Why (required).")],
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Reject a plan version you reviewed, with a reason (re-enter your password)."""
        from command.plans import Shown, reject_plan, view_plan

        store = _store(db_url)
        actor = _actor(store, user, "plan reject")
        view = view_plan(store, actor, plan_id, version)
        password = _secret(PASSWORD_ENV, f"Re-enter the password of {actor.username} to reject")
        reject_plan(store, actor, plan_id, password=password, reason=reason,
                    shown=Shown(plan_id, version, view.digest, view.forecast))  # fmt: skip
        typer.echo(f"plan {plan_id} version {version} rejected")

    @plan.command("diff")
    @guard
    def plan_diff(
        old: Annotated[str, typer.Argument(metavar="PLAN[:VERSION]")],
        new: Annotated[str, typer.Argument(metavar="PLAN[:VERSION]")],
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """What changed between two plans (or two versions of one)."""
        from command.plans import diff

        store = _store(db_url)
        for line in diff(store, _actor(store, user, "plan diff"), _plan_ref(old), _plan_ref(new)):
            typer.echo(line)

    # ------------------------------------------------------------------ audit, export

    @audit_app.command("verify")
    @guard
    def audit_verify(db_url: DbOption = None) -> None:
        """Check the audit chain; name every edited, inserted, deleted or reordered entry (exit 2 if any)."""
        from command.audit import verify

        store = _store(db_url)
        report = verify(store)
        for line in report.lines():
            typer.echo(line, err=not report.ok)
        if not report.ok:
            raise typer.Exit(2)

    @audit_app.command("head")
    @guard
    def audit_head(db_url: DbOption = None) -> None:
        """Print the chain's head (sequence number and hash), to keep somewhere outside the database."""
        from command.audit import verify

        report = verify(_store(db_url))
        typer.echo(f"{report.head_seq} {report.head_hash}")

    @audit_app.command("log")
    @guard
    def audit_log(
        incident_id: Annotated[int | None, typer.Option("--incident", help="Only this incident's entries.")] = None,
        last: Annotated[int, typer.Option(help="The newest N entries.", min=1)] = 50,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """The newest audit entries (admins)."""
        from command.audit import entries

        store = _store(db_url)
        _actor(store, user, "audit log").require("audit.verify", "read the audit log")
        for e in entries(store, incident_id=incident_id, limit=last):
            typer.echo(f"{e.seq:>6} {e.at} {e.actor:<16} {e.action:<14} {e.subject} {e.details[:100]}")

    @export.command("ics204")
    @guard
    def export_ics204(
        plan_id: Annotated[int, typer.Argument(metavar="PLAN")],
        out: Annotated[Path, typer.Option(help="Folder for the files.")] = Path("."),
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """ICS-204 assignment lists (CSV, printable HTML) of an approved plan, and the ICS-214 activity log."""
        from command.paperwork import export_ics

        store = _store(db_url)
        for path in export_ics(store, _actor(store, user, "export ics204"), plan_id, out):
            typer.echo(f"wrote {path}")

    @app.command("review")
    @guard
    def review_cmd(
        incident_id: Annotated[int, typer.Argument(help="Incident id.", metavar="INCIDENT")],
        out: Annotated[Path, typer.Option(help="The HTML file to write.")],
        counterfactual: Annotated[list[str] | None, typer.Option(
            help="set:field.path=value or shift:ACTION_TYPE:FROM_S:DELTA_S (repeatable).")] = None,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """After-action review of an incident or drill: timeline, decisions, KPIs, counterfactual replays (HTML)."""
        from command.after_action import write_report

        store = _store(db_url)
        path = write_report(store, _actor(store, user, "review"), incident_id, out,
                            counterfactual_specs=counterfactual or [])  # fmt: skip
        typer.echo(f"wrote {path}")

    drill = typer.Typer(help="Training drills: an exercise with injects, a trainee in command, a score.",
                        no_args_is_help=True)  # fmt: skip
    app.add_typer(drill, name="drill")

    @drill.command("start")
    @guard
    def drill_start(
        scenario: Annotated[str, typer.Argument(help="A scenario file or built-in name.", metavar="FILE_OR_NAME")],
        injects: Annotated[str, typer.Option(help="The inject script: a YAML list of injects, or a built-in drill "
                                                  "(disney_testers_delayed, bund_2014_metro_surge, "
                                                  "typhoon_upgraded).", metavar="FILE_OR_NAME")],
        jurisdiction: Annotated[str, typer.Option(help="Jurisdiction code of the exercise.")],
        trainee: Annotated[str, typer.Option(help="The trainee who takes command (a commander or an observer).")],
        hours: Annotated[float, typer.Option(help="How long the trainee holds command.")] = 8.0,
        set_: Annotated[list[str] | None, typer.Option("--set", help="field.path=value (repeatable).")] = None,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Open an EXERCISE incident with the injects and put the trainee in command (admins)."""
        from command.drills import read_injects, start_drill

        script = read_injects(injects)
        store = _store(db_url)
        actor = _actor(store, user, "drill start")
        actor.require("grants.manage", "start drills")
        iid = start_drill(store, actor, scenario, injects=script, jurisdiction=jurisdiction, trainee=trainee,
                          hours=hours, file=Path(injects).name, overrides=set_ or [])  # fmt: skip
        typer.echo(f"exercise incident {iid} opened with {len(script)} injects; {trainee} is in command")

    @drill.command("score")
    @guard
    def drill_score(
        incident_id: Annotated[int, typer.Argument(help="The exercise incident.", metavar="INCIDENT")],
        as_json: JsonOption = False,
        user: UserOption = None,
        db_url: DbOption = None,
    ) -> None:
        """Score each of the trainee's decisions against the optimiser's proposal at that moment."""
        from command.drills import score_drill, scores_json

        store = _store(db_url)
        scores = score_drill(store, _actor(store, user, "drill score"), incident_id)
        if as_json:
            typer.echo(scores_json(scores))
            return
        for s in scores:
            typer.echo(s.line())
        if scores:
            typer.echo(f"mean score {sum(s.score for s in scores) / len(scores):.0f}/100")
        else:
            typer.echo("no decisions yet")

    # ------------------------------------------------------------------ console

    @app.command("console")
    @guard
    def console_cmd(
        port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
        address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        db_url: DbOption = None,
    ) -> None:
        """Start the Streamlit console (offline: no telemetry, no CDN, no map tiles)."""
        from command.console.launch import run_console

        _store(db_url).dispose()  # refuse a missing or outdated store before starting a server
        raise typer.Exit(run_console(port=port, address=address, db_url=db_url))

    # ------------------------------------------------------------------ demo

    @app.command("demo")
    @guard
    def demo_cmd(
        scenario: Annotated[str, typer.Argument(help="A built-in scenario.", metavar="NAME")] = "disney_mass_testing",
        db_url: Annotated[str, typer.Option("--db", help="The DEMO store (created if missing).")] = DEMO_DB,
        out: Annotated[Path, typer.Option(help="Folder for the paperwork.")] = Path("yiwang-demo-out"),
        time_limit: Annotated[float, typer.Option(help="Optimiser time limit per model, seconds.", min=0.1)] = 10.0,
    ) -> None:
        """The whole loop on a DEMO store: open, plan, approve, run to the end, paperwork, audit check."""
        from command.demo import run_demo

        run_demo(scenario, db_url=db_url, out=out, time_limit_s=time_limit, console=_out())


__all__ = ["register"]
