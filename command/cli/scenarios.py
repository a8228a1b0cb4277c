"""Scenarios and city graphs: `yiwang validate`, `yiwang scenarios`, `yiwang graph`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from command.cli.common import EXIT_BAD_INPUT, SetOption, fail, handles_input_errors, say
from scenarios import ScenarioError, builtin_graph_names, builtin_scenarios, load_graph, load_scenario, summarise
from scenarios.loading import builtin_scenario_names


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
        say(f"{ref}: valid ({scenario.kind}: {scenario.title})")
    if problems:
        fail(problems, EXIT_BAD_INPUT)


def list_scenarios() -> None:
    """List the built-in scenarios, one line each."""
    infos = builtin_scenarios()
    width = max((len(i.name) for i in infos), default=0)
    for info in infos:
        say(f"{info.name:<{width}}  {info.kind:<12}  {info.title}")


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
            say(line)
