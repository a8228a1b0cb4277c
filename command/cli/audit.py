"""`yiwang audit`: verify the hash-chained audit log, export its head, list its newest entries (admins only).

Each command logs the admin in like every other store command; each verification and each head export is
recorded in the log itself (who, when, the result).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from command.cli.common import DbOption, UserOption, handles_input_errors, log_in, open_store, say
from command.errors import BadInput

app = typer.Typer(help="The hash-chained audit log (admins).", no_args_is_help=True)

HeadOption = Annotated[
    Path | None,
    typer.Option("--head", help="Also check against a head exported earlier (`yiwang audit head --out FILE`).",
                 dir_okay=False),
]  # fmt: skip


@app.command("verify")
@handles_input_errors
def audit_verify(head: HeadOption = None, user: UserOption = None, db_url: DbOption = None) -> None:
    """Check the audit chain and the rows bound to it; name every edited, inserted, deleted or reordered entry or
    row (exit 2 if any). The check is recorded in the log."""
    from command.audit_access import check
    from command.audit_verify import ExportedHead

    exported = ExportedHead.read(head) if head is not None else None
    store = open_store(db_url)
    report = check(store, log_in(store, user, "audit verify"), exported=exported)
    for line in report.lines():
        say(line, err=not report.ok)
    if not report.ok:
        raise typer.Exit(2)


@app.command("head")
@handles_input_errors
def audit_head(
    out: Annotated[Path | None, typer.Option(help="Write the head to this file (JSON), to keep outside the store.",
                                             dir_okay=False)] = None,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """Print the chain's head (sequence number and hash), and write it to --out, to check against later with
    `yiwang audit verify --head FILE`. The export is recorded in the log (and covered by the head exported)."""
    from command.audit_access import export_head

    store = open_store(db_url)
    head = export_head(store, log_in(store, user, "audit head"))
    if out is not None:
        temp = out.with_name(f".{out.name}.part")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
            os.replace(temp, out)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise BadInput(f"--out {out}: cannot write ({exc.strerror})") from None
    say(f"{head['seq']} {head['hash']}")


@app.command("log")
@handles_input_errors
def audit_log(
    incident_id: Annotated[int | None, typer.Option("--incident", help="Only this incident's entries.")] = None,
    last: Annotated[int, typer.Option(help="The newest N entries.", min=1)] = 50,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """The newest audit entries an admin may read (their jurisdiction's incidents and people)."""
    from command.audit_access import readable_entries, shown_details

    store = open_store(db_url)
    actor = log_in(store, user, "audit log")
    for e in readable_entries(store, actor, incident_id=incident_id, limit=last):
        say(f"{e.seq:>6} {e.at} {e.actor:<16} {e.action:<14} {e.subject} {shown_details(e.details)[:100]}")
