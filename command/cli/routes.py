"""`yiwang routes`: solve a standard vehicle-routing instance (VRPLIB or Solomon) to check the router."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from command.cli.common import EXIT_BAD_INPUT, EXIT_INFEASIBLE, fail, say


def routes(
    path: Annotated[Path, typer.Argument(help="A VRPLIB (.vrp) or Solomon instance file.", metavar="FILE")],
    time_limit: Annotated[float, typer.Option(help="Search time limit, seconds.", min=0.1)] = 10.0,
    backend: Annotated[str, typer.Option(help="auto, pyvrp or ortools.")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed for the search.", min=0)] = 0,
) -> None:
    """Solve a standard vehicle-routing instance; print the routes in VRPLIB solution format."""
    from optimizer.routing import InstanceError, format_vrplib_solution, read_instance, solve

    try:
        problem = read_instance(path)
        result = solve(problem, time_limit_s=time_limit, backend=backend, seed=seed)
    except (InstanceError, ValueError) as exc:
        fail([f"{path}: {exc}" if str(path) not in str(exc) else str(exc)], EXIT_BAD_INPUT)
    say(format_vrplib_solution(result), nl=False)
    say(result.summary(), err=True)
    if not result.complete:
        fail([f"infeasible: {len(result.dropped)} customers could not be served: {list(result.dropped)}"],
             EXIT_INFEASIBLE)  # fmt: skip
