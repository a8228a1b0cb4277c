"""The `yiwang` command line: a thin layer over the same functions the console uses.

Exit codes: 0 success, 2 bad input (nothing written), 3 infeasible (with the diagnosis), 1 internal error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, NoReturn

import typer

from scenarios import ScenarioError, builtin_graph_names, builtin_scenarios, load_graph, load_scenario, summarise
from scenarios.loading import builtin_scenario_names

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INFEASIBLE = 0, 1, 2, 3

app = typer.Typer(
    name="yiwang",
    help="Yiwang (一网): incident command and resource dispatch for megacity operations centres.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class Infeasible(Exception):
    """A plan cannot meet its constraints; the message is the diagnosis."""


def _fail(lines: list[str], code: int) -> NoReturn:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def handles_input_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Map bad input to exit 2 (one line per problem) and infeasibility to exit 3."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScenarioError as exc:
            _fail([str(p) for p in exc.problems], EXIT_BAD_INPUT)
        except Infeasible as exc:
            _fail([f"infeasible: {exc}"], EXIT_INFEASIBLE)

    return wrapper


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Change a scenario field for a what-if: field.path=value (repeatable)."),
]


@app.command()
@handles_input_errors
def validate(
    refs: Annotated[list[str], typer.Argument(help="Scenario files or built-in names.", metavar="FILE_OR_NAME...")],
    set_: SetOption = None,
) -> None:
    """Check scenarios; print one line per problem (FILE: field.path: reason) and exit 2 if any."""
    problems: list[str] = []
    for ref in refs:
        try:
            scenario = load_scenario(ref, overrides=set_ or [])
        except ScenarioError as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        typer.echo(f"{ref}: valid ({scenario.kind}: {scenario.title})")
    if problems:
        _fail(problems, EXIT_BAD_INPUT)


@app.command("scenarios")
def list_scenarios() -> None:
    """List the built-in scenarios, one line each."""
    infos = builtin_scenarios()
    width = max((len(i.name) for i in infos), default=0)
    for info in infos:
        typer.echo(f"{info.name:<{width}}  {info.kind:<12}  {info.title}")


@app.command()
@handles_input_errors
def graph(
    ref: Annotated[str, typer.Argument(help="A built-in graph or scenario name, or a graph file.", metavar="NAME")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise a city graph: nodes and edges by kind, total lengths, bounding box."""
    if ref not in builtin_graph_names() and ref in builtin_scenario_names():
        ref = load_scenario(ref).graph
    summary = summarise(load_graph(ref))
    if as_json:
        typer.echo(json.dumps(summary.__dict__, ensure_ascii=False, indent=2))
    else:
        for line in summary.lines():
            typer.echo(line)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and turn anything unexpected into exit 1 with a message."""
    try:
        app(args=argv, prog_name="yiwang", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_INTERNAL)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # the last line of defence: a message, not a traceback, and exit 1
        typer.echo(f"yiwang: internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("please report this with the command you ran", err=True)
        return EXIT_INTERNAL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["EXIT_BAD_INPUT", "EXIT_INFEASIBLE", "EXIT_INTERNAL", "EXIT_OK", "Infeasible", "app", "main"]
