"""What every `yiwang` command shares: exit codes, error handling, the store, who is acting, output.

Exit codes: 0 success, 2 bad input (nothing written), 3 infeasible (with the diagnosis), 1 internal error.

A store command names who is acting (`--user`, or `YIWANG_USER`) and authenticates them (the password from
`YIWANG_PASSWORD`, or a hidden prompt): the CLI keeps no session between commands. The store is `--db URL`,
or `YIWANG_DATABASE_URL`, or `yiwang.db` in the current folder. Every refusal is one line on standard error
and exit 2 (3 when no plan is feasible), with nothing changed in the store.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError

from command.errors import BadInput, CommandError, Infeasible
from command.migrate import check_current
from command.safe_text import clean
from command.security import Actor, authenticate
from command.store import Store, StoreError
from scenarios import ScenarioError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INFEASIBLE = 0, 1, 2, 3
PASSWORD_ENV = "YIWANG_PASSWORD"
NEW_PASSWORD_ENV = "YIWANG_NEW_PASSWORD"
SOURCE_ENV = "YIWANG_SOURCE"

# ------------------------------------------------------------------ options several commands share

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Change a scenario field for a what-if: field.path=value (repeatable)."),
]
DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="YIWANG_DATABASE_URL", show_envvar=True,
                 help="Store URL (sqlite:///file.db or postgresql://...); default sqlite:///yiwang.db."),
]  # fmt: skip
UserOption = Annotated[
    str | None, typer.Option("--user", "-u", envvar="YIWANG_USER", show_envvar=True, help="Who is acting.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

# ------------------------------------------------------------------ errors and exit codes


def fail(lines: list[str], code: int) -> NoReturn:
    """Print each line on standard error (made harmless: `say`) and exit with `code`."""
    for line in lines:
        say(line, err=True)
    raise typer.Exit(code)


def say(text: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Print a line that may carry stored or user-supplied text: control characters are shown as escapes, never
    acted on by the terminal (`command.safe_text.clean`)."""
    typer.echo(clean(text), err=err, nl=nl)


def handles_input_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Map bad input to exit 2 (one line per problem) and infeasibility to exit 3."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScenarioError as exc:
            fail([str(p) for p in exc.problems], EXIT_BAD_INPUT)
        except Infeasible as exc:
            fail([f"infeasible: {exc}"], EXIT_INFEASIBLE)
        except (CommandError, StoreError) as exc:
            fail(str(exc).splitlines() or [type(exc).__name__], EXIT_BAD_INPUT)
        except OperationalError as exc:  # the store cannot be reached or opened: say so, in one line
            fail([f"store: cannot use the database: {str(exc.orig).strip().splitlines()[0] if exc.orig else exc}"],
                 EXIT_BAD_INPUT)  # fmt: skip

    return wrapper


# ------------------------------------------------------------------ the store and who is acting


def open_store(db: str | None) -> Store:
    """An existing store at this code's schema (a SQLite file that is not there is not created)."""
    store = Store(db)
    database = store.engine.url.database
    if store.backend == "sqlite" and database not in (None, "", ":memory:") and not Path(database).is_file():
        raise StoreError(f"{store.safe_url}: no Yiwang store here; run `yiwang init` to create one")
    check_current(store)
    return store


def secret(env: str, prompt: str, *, confirm: bool = False) -> str:
    """A password from the environment variable `env`, else a hidden prompt (refused without a terminal)."""
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise BadInput(f"password: set {env} or run the command in a terminal to be asked")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def client_source() -> str:
    """Where this command runs, for the log-in back-off (`command.security`): `YIWANG_SOURCE` if set (e.g. by a
    wrapper that knows the remote client), else `cli:` and the operating-system user and host."""
    named = os.environ.get(SOURCE_ENV, "").strip()
    if named:
        return named[:200]
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "?"
    return f"cli:{who}@{socket.gethostname()}"[:200]


def log_in(store: Store, user: str | None, purpose: str) -> Actor:
    """Authenticate the acting user for one command (`purpose` names it in the audit log)."""
    if not user:
        raise BadInput("--user: say who is acting (or set YIWANG_USER)")
    return authenticate(store, user, secret(PASSWORD_ENV, f"Password for {user}"), purpose=f"cli: {purpose}",
                        source=client_source())  # fmt: skip


# ------------------------------------------------------------------ input and output


def csv_items(text: str | None) -> tuple[str, ...]:
    """`a, b,,c` -> ('a', 'b', 'c')."""
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def read_text(path: Path) -> str:
    """A UTF-8 file's text; a file that cannot be read is bad input."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


class SafeConsole(Console):
    """A Rich console for text that may come from the store or a file: no markup is interpreted (`[/x]` is shown,
    not parsed), nothing is highlighted, and control characters in strings are shown as escapes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, highlight=False, **kwargs)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(clean(o) if isinstance(o, str) else o for o in objects), **kwargs)


def out_console(*, stderr: bool = False) -> Console:
    """The console for tables, plan views and progress (standard output, or standard error)."""
    return SafeConsole(stderr=stderr)


def cells(*values: object) -> list[str]:
    """Table cells made harmless (a Rich table renders its cells through the console: see `SafeConsole`)."""
    return [clean(v) for v in values]
