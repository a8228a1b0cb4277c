"""Command authority over an incident: `yiwang grant` and `yiwang revoke`."""

from __future__ import annotations

from typing import Annotated

import typer

from command.cli.common import DbOption, UserOption, csv_items, handles_input_errors, log_in, open_store, say


@handles_input_errors
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

    store = open_store(db_url)
    actor = log_in(store, user, "grant")
    gid = grant_command(store, actor, incident_id, to, hours=hours, reason=reason,
                        limits=GrantLimits(csv_items(resources), csv_items(jurisdictions)))  # fmt: skip
    say(f"grant {gid}: {to} holds command of incident {incident_id} for {hours:g} h")


@handles_input_errors
def revoke_cmd(
    incident_id: Annotated[int, typer.Argument(help="Incident id.", metavar="INCIDENT")],
    reason: Annotated[str, typer.Option(help="Why (required).")],
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Revoke the command grant in force over an incident."""
    from command.authority import revoke_command

    store = open_store(db_url)
    gid = revoke_command(store, log_in(store, user, "revoke"), incident_id, reason=reason)
    say(f"grant {gid} revoked")
