"""`yiwang audit`: verify the hash-chained audit log, print its head, list its newest entries."""

from __future__ import annotations

from typing import Annotated

import typer

from command.cli.common import DbOption, UserOption, handles_input_errors, log_in, open_store, say

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
@handles_input_errors
def audit_verify(db_url: DbOption = None) -> None:
    """Check the audit chain; name every edited, inserted, deleted or reordered entry (exit 2 if any)."""
    from command.audit import verify

    store = open_store(db_url)
    report = verify(store)
    for line in report.lines():
        say(line, err=not report.ok)
    if not report.ok:
        raise typer.Exit(2)


@app.command("head")
@handles_input_errors
def audit_head(db_url: DbOption = None) -> None:
    """Print the chain's head (sequence number and hash), to keep somewhere outside the database."""
    from command.audit import verify

    report = verify(open_store(db_url))
    say(f"{report.head_seq} {report.head_hash}")


@app.command("log")
@handles_input_errors
def audit_log(
    incident_id: Annotated[int | None, typer.Option("--incident", help="Only this incident's entries.")] = None,
    last: Annotated[int, typer.Option(help="The newest N entries.", min=1)] = 50,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """The newest audit entries (admins)."""
    from command.audit import entries

    store = open_store(db_url)
    log_in(store, user, "audit log").require("audit.verify", "read the audit log")
    for e in entries(store, incident_id=incident_id, limit=last):
        say(f"{e.seq:>6} {e.at} {e.actor:<16} {e.action:<14} {e.subject} {e.details[:100]}")
