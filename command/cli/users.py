"""`yiwang users`: add, list, disable, enable, unlock, reset and change the role of the users of a store (admins,
within their jurisdiction); change your own password (everyone)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from command.cli.common import (
    NEW_PASSWORD_ENV,
    PASSWORD_ENV,
    DbOption,
    JsonOption,
    UserOption,
    cells,
    client_source,
    handles_input_errors,
    log_in,
    open_store,
    out_console,
    say,
    secret,
)
from command.errors import BadInput

app = typer.Typer(help="Users of the store (admins).", no_args_is_help=True)


@app.command("add")
@handles_input_errors
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
    store = open_store(db_url)
    actor = log_in(store, user, "users add")
    password = secret(NEW_PASSWORD_ENV, f"New password for {username}", confirm=True)
    add_user(store, actor, username=username, password=password, role=role, jurisdiction=jurisdiction,
             display_name=display_name, phone=phone)  # fmt: skip
    say(f"user {username!r} added ({role}, {jurisdiction})")


@app.command("list")
@handles_input_errors
def users_list(user: UserOption = None, db_url: DbOption = None, as_json: JsonOption = False) -> None:
    """List the users of your jurisdiction (names and phones masked unless you are an admin)."""
    from command.users import list_users

    store = open_store(db_url)
    rows = list_users(store, log_in(store, user, "users list"))
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=1))
        return
    table = Table("user", "role", "jurisdiction", "name", "phone", "state")
    for r in rows:
        state = "disabled" if not r.active else ("locked" if r.locked_until else "active")
        state += " DEMO" if r.demo else ""
        table.add_row(*cells(r.username, r.role, r.jurisdiction, r.display_name, r.phone, state))
    out_console().print(table)


@app.command("disable")
@handles_input_errors
def users_disable(username: str, user: UserOption = None, db_url: DbOption = None) -> None:
    """Disable a user (they can no longer log in)."""
    from command.users import set_active

    store = open_store(db_url)
    set_active(store, log_in(store, user, "users disable"), username, False)
    say(f"user {username!r} disabled")


@app.command("enable")
@handles_input_errors
def users_enable(username: str, user: UserOption = None, db_url: DbOption = None) -> None:
    """Enable a user again (and clear a lock-out)."""
    from command.users import set_active

    store = open_store(db_url)
    set_active(store, log_in(store, user, "users enable"), username, True)
    say(f"user {username!r} enabled")


@app.command("unlock")
@handles_input_errors
def users_unlock(
    username: str,
    reason: Annotated[str, typer.Option(help="Why (for the audit log).")] = "",
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Unlock a locked account at once, and clear every source's wait under its name (another admin)."""
    from command.users import unlock_user

    store = open_store(db_url)
    unlock_user(store, log_in(store, user, "users unlock"), username, reason=reason)
    say(f"user {username!r} unlocked")


@app.command("password")
@handles_input_errors
def users_password(user: UserOption = None, db_url: DbOption = None) -> None:
    """Change your own password: the current one from YIWANG_PASSWORD or a prompt, the new one from
    YIWANG_NEW_PASSWORD or a prompt (your open sessions end)."""
    from command.users import change_password

    if not user:
        raise BadInput("--user: say whose password this is (or set YIWANG_USER)")
    store = open_store(db_url)
    old = secret(PASSWORD_ENV, f"Current password for {user}")
    new = secret(NEW_PASSWORD_ENV, f"New password for {user}", confirm=True)
    change_password(store, user, old_password=old, new_password=new, source=client_source())
    say(f"password of {user!r} changed; log in again with the new one")


@app.command("reset")
@handles_input_errors
def users_reset(
    username: str,
    reason: Annotated[str, typer.Option(help="Why (for the audit log).")] = "",
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Set a new password for someone else (the new password from YIWANG_NEW_PASSWORD or a prompt); clears a
    lock-out and ends their sessions."""
    from command.users import reset_password

    store = open_store(db_url)
    actor = log_in(store, user, "users reset")
    password = secret(NEW_PASSWORD_ENV, f"New password for {username}", confirm=True)
    reset_password(store, actor, username, new_password=password, reason=reason)
    say(f"password of {username!r} reset")


@app.command("role")
@handles_input_errors
def users_role(
    username: str,
    role: Annotated[str, typer.Argument(help="admin, planner, commander or observer.")],
    reason: Annotated[str, typer.Option(help="Why (for the audit log).")] = "",
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Change a user's role (not while they hold command of an incident)."""
    from command.security import require_role
    from command.users import set_role

    require_role(role)
    store = open_store(db_url)
    set_role(store, log_in(store, user, "users role"), username, role, reason=reason)
    say(f"user {username!r} is now {role}")
