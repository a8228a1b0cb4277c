"""Scenarios: `yiwang validate`, `yiwang scenarios` (city graphs: `command.cli.graph`)."""

from __future__ import annotations

from typing import Annotated

import typer

from command.cli.common import EXIT_BAD_INPUT, SetOption, fail, handles_input_errors, say
from scenarios import ScenarioError, builtin_scenarios
from scenarios.checks import load_checked


@handles_input_errors
def validate(
    refs: Annotated[list[str], typer.Argument(help="Scenario files or built-in names.", metavar="FILE_OR_NAME...")],
    set_: SetOption = None,
) -> None:
    """Check scenarios: the schema, the places named, what people and vehicles can reach, the units. One line per
    problem (FILE: field.path: reason, FILE as given) and exit 2 if any; warnings (FILE: field.path: warning: ...)
    are printed and pass."""
    problems: list[str] = []
    for ref in refs:
        try:
            scenario, warnings = load_checked(ref, overrides=set_ or [])
        except ScenarioError as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        for finding in warnings:
            say(str(finding), err=True)
        say(f"{ref}: valid ({scenario.kind}: {scenario.title})")
    if problems:
        fail(problems, EXIT_BAD_INPUT)


def list_scenarios() -> None:
    """List the built-in scenarios, one line each."""
    infos = builtin_scenarios()
    width = max((len(i.name) for i in infos), default=0)
    for info in infos:
        say(f"{info.name:<{width}}  {info.kind:<12}  {info.title}")
