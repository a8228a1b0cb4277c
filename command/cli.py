"""The `yiwang` command line: a thin layer over the same functions the console uses.

Exit codes: 0 success, 2 bad input (nothing written), 3 infeasible (with the diagnosis), 1 internal error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError

from command.errors import CommandError, Infeasible
from command.kinds import load_kinds
from command.store import StoreError
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
        except (CommandError, StoreError) as exc:
            _fail(str(exc).splitlines() or [type(exc).__name__], EXIT_BAD_INPUT)
        except OperationalError as exc:  # the store cannot be reached or opened: say so, in one line
            _fail([f"store: cannot use the database: {str(exc.orig).strip().splitlines()[0] if exc.orig else exc}"],
                  EXIT_BAD_INPUT)  # fmt: skip

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


@app.command()
@handles_input_errors
def run(
    ref: Annotated[str, typer.Argument(help="A scenario file or built-in name.", metavar="FILE_OR_NAME")],
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).", min=0)] = None,
    set_: SetOption = None,
    no_optimize: Annotated[bool, typer.Option("--no-optimize", help="Simulate the scenario's own plan only.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write run.json and the plans into this folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    time_limit: Annotated[float, typer.Option(help="Optimiser time limit per model, seconds.", min=0.1)] = 10.0,
) -> None:
    """Simulate the baseline, optimise, simulate the plan, and compare their KPIs."""
    from command.runs import kpi_rows, run_scenario, write_outputs
    from optimizer.result import SolveParams

    console = Console(stderr=True)
    with console.status("starting") as status:
        outcome = run_scenario(
            ref,
            seed=seed,
            overrides=set_ or [],
            optimize=not no_optimize,
            params=SolveParams(time_limit_s=time_limit),
            progress=lambda msg: status.update(msg),
        )
    if out is not None:
        for path in write_outputs(outcome, out):
            console.print(f"wrote {path}")
    if as_json:
        typer.echo(json.dumps(outcome.to_json(), ensure_ascii=False, indent=1))
    else:
        _print_run(outcome, kpi_rows(outcome))
    if outcome.solve is not None and outcome.solve.plan is None:
        raise Infeasible(outcome.solve.diagnosis or outcome.solve.status)


def _print_run(outcome: Any, rows: list[tuple[str, float, float | None]]) -> None:
    s = outcome.scenario
    table = Table(title=f"{s.name}: {s.title} (seed {outcome.seed})")
    table.add_column("KPI")
    table.add_column("default plan", justify="right")
    if outcome.planned is not None:
        table.add_column("optimised plan", justify="right")
        table.add_column("change", justify="right")
    for name, base, planned in rows:
        cells = [name, f"{base:,.2f}"]
        if outcome.planned is not None and planned is not None:
            change = planned - base
            cells += [f"{planned:,.2f}", f"{change:+,.2f}"]
        table.add_row(*cells)
    Console().print(table)
    if outcome.solve is not None:
        typer.echo(outcome.solve.summary())
    stats = outcome.baseline.stats
    typer.echo(f"simulated {stats.sim_s / 3600:.2f} h in {stats.wall_s:.2f} s ({stats.events:,} events) per run")


@app.command()
@handles_input_errors
def sweep(
    ref: Annotated[str, typer.Argument(help="A scenario file or built-in name.", metavar="FILE_OR_NAME")],
    replications: Annotated[int, typer.Option(help="Replications per variant.", min=1)],
    vary: Annotated[list[str] | None, typer.Option(help="field.path=v1,v2,... (repeatable: all combinations).")] = None,
    plan: Annotated[str, typer.Option(help="default, optimised, or a plan JSON file.")] = "default",
    engine: Annotated[str, typer.Option(help="serial, local (processes) or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="A Dask scheduler address (else a LocalCluster).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (local and LocalCluster).", min=1)] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: the scenario's).", min=0)] = None,
    out: Annotated[Path | None, typer.Option(help="Sweep folder (resumed if it holds this sweep).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Monte Carlo KPI distributions per variant; the same seed gives the same numbers on every engine."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from command.sweeps import run_sweep

    folder = out or Path("sweeps") / f"{Path(ref).stem}-seed{seed if seed is not None else 'default'}-n{replications}"
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"sweep {ref} ({engine})", total=None)
        report = run_sweep(ref, replications=replications, out=folder, vary=vary or [], plan=plan, engine=engine,
                           scheduler=scheduler, workers=workers, seed=seed,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    typer.echo(f"{report.ran} replications run, {report.reused} reused; results in {report.out}", err=True)
    if as_json:
        typer.echo(json.dumps(report.summary, ensure_ascii=False, indent=1))
        return
    for variant in report.summary["variants"]:
        table = Table(title=f"{variant['label']}: {variant['replications']} replications")
        for col in ("KPI", "mean", "95% interval", "p5", "p50", "p95"):
            table.add_column(col, justify="left" if col == "KPI" else "right")
        for name, s in variant["kpis"].items():
            table.add_row(name, f"{s['mean']:,.3f}", f"{s['ci_low']:,.3f} – {s['ci_high']:,.3f}", f"{s['p5']:,.3f}",
                          f"{s['p50']:,.3f}", f"{s['p95']:,.3f}")  # fmt: skip
        for name, b in variant["breaches"].items():
            table.add_row(f"P({name})", f"{100 * b['p']:.1f}%", f"{100 * b['ci_low']:.1f}% – {100 * b['ci_high']:.1f}%",
                          "", "", "")  # fmt: skip
        Console().print(table)


@app.command()
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
        _fail([f"{path}: {exc}" if str(path) not in str(exc) else str(exc)], EXIT_BAD_INPUT)
    typer.echo(format_vrplib_solution(result), nl=False)
    typer.echo(result.summary(), err=True)
    if not result.complete:
        _fail([f"infeasible: {len(result.dropped)} customers could not be served: {list(result.dropped)}"],
              EXIT_INFEASIBLE)  # fmt: skip


from command import cli_store  # noqa: E402  (registers the store, incident and plan commands on `app`)

cli_store.register(app, handles_input_errors)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and turn anything unexpected into exit 1 with a message."""
    try:
        load_kinds()  # the built-in kinds and those named in YIWANG_KINDS, before any scenario is read
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
