"""The store itself: `yiwang init` creates one, `yiwang db upgrade` brings one to this version's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from command.cli.common import NEW_PASSWORD_ENV, DbOption, handles_input_errors, say, secret
from command.errors import BadInput
from command.migrate import upgrade
from command.store import Store

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)


@handles_input_errors
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
        say(f"DEMO store created at {store.safe_url} (not for real incidents)")
        people = ", ".join(f"{u} ({r}, {j})" for u, r, j, *_ in DEMO_USERS)
        say(f"demo users (password {DEMO_PASSWORD!r}): {people}")
        return
    password = secret(NEW_PASSWORD_ENV, f"New password for {admin}", confirm=True)
    init_store(store, admin=admin, password=password)
    say(f"store created at {store.safe_url}; admin {admin!r} can log in")


@db_app.command("upgrade")
@handles_input_errors
def db_upgrade(db_url: DbOption = None) -> None:
    """Bring an existing store to this version's schema."""
    store = Store(db_url)
    if not store.is_initialised():
        raise BadInput(f"{store.safe_url}: no Yiwang store here; run `yiwang init`")
    upgrade(store)
    say(f"{store.safe_url}: schema up to date")
