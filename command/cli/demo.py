"""`yiwang demo`: the whole incident loop on a DEMO store, from opening to paperwork and audit check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from command.cli.common import handles_input_errors, out_console

DEMO_DB = "sqlite:///yiwang-demo.db"


@handles_input_errors
def demo_cmd(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario.", metavar="NAME")] = "disney_mass_testing",
    db_url: Annotated[str, typer.Option("--db", help="The DEMO store (created if missing).")] = DEMO_DB,
    out: Annotated[Path, typer.Option(help="Folder for the paperwork.")] = Path("yiwang-demo-out"),
    time_limit: Annotated[float, typer.Option(help="Optimiser time limit per model, seconds.", min=0.1)] = 10.0,
) -> None:
    """The whole loop on a DEMO store: open, plan, approve, run to the end, paperwork, audit check."""
    from command.demo import run_demo

    run_demo(scenario, db_url=db_url, out=out, time_limit_s=time_limit, console=out_console())
