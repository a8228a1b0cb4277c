"""The `yiwang` command line: a thin layer over the same functions the console uses.

Exit codes: 0 success, 2 bad input (nothing written), 3 infeasible (with the diagnosis), 1 internal error.

One module per noun; this one assembles them into `app`, in the order `yiwang --help` lists them, and
holds the console-script entry point `main`. What the commands share is in `command.cli.common`.
"""

from __future__ import annotations

import typer

from command.cli import (
    audit,
    console,
    demo,
    drills,
    grants,
    graph,
    incidents,
    paperwork,
    plans,
    review,
    routes,
    runs,
    scenarios,
    store,
    users,
)
from command.cli.common import EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_INTERNAL, EXIT_OK, say
from command.errors import Infeasible
from command.kinds import load_kinds

app = typer.Typer(
    name="yiwang",
    help="Yiwang (一网): incident command and resource dispatch for megacity operations centres.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Scenarios, runs and routes: no store needed.
app.command("validate")(scenarios.validate)
app.command("scenarios")(scenarios.list_scenarios)
app.command("graph")(graph.graph)
app.command("run")(runs.run)
app.command("sweep")(runs.sweep)
app.command("routes")(routes.routes)
# The store, who commands what, and what is done with it.
app.command("init")(store.init_cmd)
app.command("grant")(grants.grant_cmd)
app.command("revoke")(grants.revoke_cmd)
app.command("review")(review.review_cmd)
app.command("console")(console.console_cmd)
app.command("demo")(demo.demo_cmd)
app.add_typer(users.app, name="users")
app.add_typer(incidents.app, name="incident")
app.add_typer(plans.app, name="plan")
app.add_typer(audit.app, name="audit")
app.add_typer(paperwork.app, name="export")
app.add_typer(store.db_app, name="db")
app.add_typer(drills.app, name="drill")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and turn anything unexpected into exit 1 with a message."""
    try:
        load_kinds()  # the built-in kinds and those named in YIWANG_KINDS, before any scenario is read
        app(args=argv, prog_name="yiwang", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_INTERNAL)
    except KeyboardInterrupt:
        say("interrupted", err=True)
        return 130
    except Exception as exc:  # the last line of defence: a message, not a traceback, and exit 1
        say(f"yiwang: internal error: {type(exc).__name__}: {exc}", err=True)
        say("please report this with the command you ran", err=True)
        return EXIT_INTERNAL
    return EXIT_OK


__all__ = ["EXIT_BAD_INPUT", "EXIT_INFEASIBLE", "EXIT_INTERNAL", "EXIT_OK", "Infeasible", "app", "main"]
