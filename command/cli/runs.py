"""Scenario runs without a store: `yiwang run` (baseline against the optimised plan) and `yiwang sweep`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from command.cli.common import SetOption, handles_input_errors, out_console, say
from command.errors import Infeasible
from command.safe_text import clean
from scenarios.checks import load_checked

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?:in)?)?(?:(\d+(?:\.\d+)?)s)?$")


def duration_s(text: str, *, option: str) -> float:
    """A duration with its unit (`90s`, `15m`, `1h`, `1h30m`) in seconds; a bare number is refused (seconds or
    minutes? the reader of a scenario cannot tell either)."""
    m = _DURATION.match(text.strip().lower())
    if not text.strip() or m is None or not any(m.groups()):
        raise typer.BadParameter(f"{text!r} is not a duration with a unit, e.g. 15m, 1h, 1h30m or 900s",
                                 param_hint=option)  # fmt: skip
    hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return 3600 * hours + 60 * minutes + seconds


@handles_input_errors
def run(
    ref: Annotated[str, typer.Argument(help="A scenario file or built-in name.", metavar="FILE_OR_NAME")],
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).", min=0)] = None,
    set_: SetOption = None,
    no_optimize: Annotated[bool, typer.Option("--no-optimize", help="Simulate the scenario's own plan only.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write run.json and the plans into this folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    time_limit: Annotated[float, typer.Option(help="Optimiser time limit per model, seconds.", min=0.1)] = 10.0,
    replan_every: Annotated[str | None, typer.Option(
        help="Also run the closed loop: re-plan from the simulated state at every interval (e.g. 30m, 1h).",
        metavar="DURATION")] = None,
) -> None:
    """Simulate the baseline, optimise, simulate the plan, and compare their KPIs (with --replan-every, the
    closed loop's too)."""
    from command.runs import kpi_rows, run_scenario, write_outputs
    from optimizer.result import SolveParams

    every_s = duration_s(replan_every, option="--replan-every") if replan_every is not None else None
    console = out_console(stderr=True)
    for finding in load_checked(ref, overrides=set_ or [])[1]:  # what validate refuses (an error) is never run
        say(str(finding), err=True)
    with console.status("starting") as status:
        outcome = run_scenario(
            ref,
            seed=seed,
            overrides=set_ or [],
            optimize=not no_optimize,
            params=SolveParams(time_limit_s=time_limit),
            progress=lambda msg: status.update(msg),
            replan_every_s=every_s,
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
    table = Table(title=clean(f"{s.name}: {s.title} (seed {outcome.seed})"))
    closed = outcome.closed
    table.add_column("KPI")
    table.add_column("default plan", justify="right")
    if outcome.planned is not None:
        table.add_column("optimised plan", justify="right")
        table.add_column("change", justify="right")
    if closed is not None:
        table.add_column(f"closed loop (every {closed.every_s / 60:g} min)", justify="right")
        table.add_column("change", justify="right")
    for name, base, planned in rows:
        cells = [name, f"{base:,.2f}"]
        if outcome.planned is not None:
            cells += [f"{planned:,.2f}", f"{planned - base:+,.2f}"] if planned is not None else ["", ""]
        if closed is not None:
            value = closed.result.kpis.get(name)
            cells += [f"{value:,.2f}", f"{value - base:+,.2f}"] if value is not None else ["", ""]
        table.add_row(*cells)
    out_console().print(table)
    if outcome.solve is not None:
        say(outcome.solve.summary())
    for warning in outcome.warnings():
        say(f"warning ({warning.kind}): {warning.message}")
    if closed is not None:
        took = sum(r.took_over for r in closed.replans)
        say(f"closed loop: {len(closed.replans)} re-plans every {closed.every_s / 60:g} min, {took} took over")
        for r in closed.replans:
            if not r.took_over:
                say(f"  at {outcome.scenario.clock.label(r.at_s)}: {r.note}")
        for warning in outcome.closed_warnings():
            say(f"closed-loop warning ({warning.kind}): {warning.message}")
    stats = outcome.baseline.stats
    say(f"simulated {stats.sim_s / 3600:.2f} h in {stats.wall_s:.2f} s ({stats.events:,} events) per run")


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
    replan_every: Annotated[str | None, typer.Option(
        help="Each replication re-plans the plan from its own simulated state at every interval (e.g. 1h): the "
             "closed loop.", metavar="DURATION")] = None,
) -> None:
    """Monte Carlo KPI distributions per variant; the same seed gives the same numbers on every engine."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from command.sweeps import run_sweep

    every_s = duration_s(replan_every, option="--replan-every") if replan_every is not None else None
    loop = f"-replan{every_s:g}s" if every_s is not None else ""
    root = seed if seed is not None else "default"
    folder = out or Path("sweeps") / f"{Path(ref).stem}-seed{root}-n{replications}{loop}"
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=out_console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"sweep {ref} ({engine})", total=None)
        report = run_sweep(ref, replications=replications, out=folder, vary=vary or [], plan=plan, engine=engine,
                           scheduler=scheduler, workers=workers, seed=seed, replan_every_s=every_s,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    say(f"{report.ran} replications run, {report.reused} reused; results in {report.out}", err=True)
    if as_json:
        typer.echo(json.dumps(report.summary, ensure_ascii=False, indent=1))
        return
    for variant in report.summary["variants"]:
        out_console().print(_variant_table(variant))


def _variant_table(variant: dict[str, Any]) -> Table:
    """One sweep variant: each KPI's mean, 95% interval and percentiles, then each breach probability."""
    table = Table(title=clean(f"{variant['label']}: {variant['replications']} replications"))
    for col in ("KPI", "mean", "95% interval", "p5", "p50", "p95"):
        table.add_column(col, justify="left" if col == "KPI" else "right")
    for name, s in variant["kpis"].items():
        table.add_row(name, f"{s['mean']:,.3f}", f"{s['ci_low']:,.3f} – {s['ci_high']:,.3f}", f"{s['p5']:,.3f}",
                      f"{s['p50']:,.3f}", f"{s['p95']:,.3f}")  # fmt: skip
    for name, b in variant["breaches"].items():
        table.add_row(f"P({name})", f"{100 * b['p']:.1f}%", f"{100 * b['ci_low']:.1f}% – {100 * b['ci_high']:.1f}%",
                      "", "", "")  # fmt: skip
    return table
