"""What-if sweeps: N replications of each variant of a scenario, resumable, summarised per KPI.

A sweep lives in a folder: `sweep.json` says what it is (scenario and plan of each variant by hash, the root
seed, the replication count), `plans/` holds each variant's plan as run, and `replications.jsonl` gets one
line per finished replication, flushed to disk as it finishes. Killed midway and started again with the
same arguments, it reads what is there (dropping a half-written last line), runs only what is missing, and
ends with exactly the results an uninterrupted run gives. A folder holding a different sweep is refused.
At the end: `summary.json` (per variant and KPI: mean, 95% interval, percentiles; per threshold: the chance
of breaching it) and `replications.parquet`.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from command.errors import BadInput, Conflict
from command.kinds import kind_of, optimise, simulate
from optimizer.result import SolveParams
from scenarios import Plan, ScenarioError, load_scenario, scenario_hash
from scenarios.defaults import default_plan
from scenarios.loading import scenario_from_document
from simulation.sweep import Job, Metrics, breach_probability, engine_named, summarise, tasks

Progress = Callable[[int, int], None]
ENGINES = ("serial", "local", "dask")


@dataclass(frozen=True)
class Variant:
    label: str
    overrides: tuple[str, ...]


def variants_from(vary: list[str]) -> list[Variant]:
    """`field.path=v1,v2` options (repeatable) as the cartesian product of their values; one variant if none."""
    axes: list[list[str]] = []
    for item in vary:
        path, sep, values = item.partition("=")
        if not sep or not path.strip() or not values.strip():
            raise BadInput(f"--vary {item!r}: expected field.path=v1,v2,...")
        axes.append([f"{path.strip()}={v.strip()}" for v in values.split(",") if v.strip()])
    if not axes:
        return [Variant("base", ())]
    return [Variant(" ".join(combo), tuple(combo)) for combo in itertools.product(*axes)]


@dataclass
class SweepReport:
    """A finished sweep: per variant, the KPI summaries and breach probabilities; where it was written."""

    out: Path
    variants: list[Variant]
    summary: dict[str, Any]
    ran: int
    reused: int
    rows: list[dict[str, Any]] = field(default_factory=list)


def _plan_for(scenario: Any, choice: str | Plan, params: SolveParams) -> Plan:
    if isinstance(choice, Plan):
        return choice
    if choice == "default":
        return default_plan(scenario)
    if choice == "optimised":
        result = optimise(scenario, params)
        if result.plan is None:
            raise Conflict(f"no optimised plan: {result.diagnosis or result.status}")
        return result.plan
    path = Path(choice)
    if not path.is_file():
        raise BadInput(f"--plan {choice!r}: expected default, optimised or a plan JSON file")
    try:
        plan = Plan.from_json(path.read_text(encoding="utf-8"), file=path.name)
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--plan {choice}: cannot read ({exc})") from None
    except ScenarioError as exc:
        raise BadInput("\n".join(str(p) for p in exc.problems)) from None
    return plan


def _read_done(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Finished replications, keyed by (variant, replication); a torn last line is cut off the file."""
    done: dict[tuple[int, int], dict[str, Any]] = {}
    if not path.exists():
        return done
    good = 0
    with path.open("rb") as fh:
        for raw in fh:
            try:
                row = json.loads(raw)
                done[(row["variant"], row["replication"])] = row
            except (ValueError, KeyError):
                break  # the line a killed run was writing
            good += len(raw)
    if good < path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(good)
    return done


def _load(ref: Any, overrides: list[str]) -> Any:
    """A scenario by name or file, or a loaded scenario (with what-if overrides applied to its document)."""
    if isinstance(ref, str | Path):
        return load_scenario(ref, overrides=overrides)
    if not overrides:
        return ref
    return scenario_from_document(ref.model_dump(mode="json"), file=ref.name, overrides=overrides)


def run_sweep(
    ref: Any,
    *,
    replications: int,
    out: Path,
    vary: list[str] | None = None,
    plan: str | Plan = "default",
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    seed: int | None = None,
    params: SolveParams | None = None,
    metrics: Metrics | None = None,
    progress: Progress | None = None,
    replan_every_s: float | None = None,
) -> SweepReport:
    """Run (or resume) a sweep into `out`; see the module docstring. With `replan_every_s`, each replication
    runs the closed loop from the plan (`command.runs.closed_loop`): re-planned from its own simulated state at
    every interval, so that the sweep measures the plan as a commander would carry it out."""
    if not 1 <= replications <= 1_000_000:
        raise BadInput(f"--replications: {replications} must be between 1 and 1,000,000")
    if engine not in ENGINES:
        raise BadInput(f"--engine: {engine!r} is not one of {', '.join(ENGINES)}")
    variants = variants_from(vary or [])
    scenarios = [_load(ref, list(v.overrides)) for v in variants]
    root = scenarios[0].seed if seed is None else seed
    out.mkdir(parents=True, exist_ok=True)
    manifest_path, lines_path, plans_dir = out / "sweep.json", out / "replications.jsonl", out / "plans"
    plans: list[Plan] = []
    if manifest_path.exists():  # resuming: the plans as first run, not a new (time-limited) search
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        plans = [Plan.model_validate_json((plans_dir / f"variant{i}.json").read_text(encoding="utf-8"))
                 for i in range(len(variants))] if plans_dir.is_dir() else []  # fmt: skip
    else:
        manifest = None
    if len(plans) != len(variants):
        plans = [_plan_for(s, plan, params or SolveParams(seed=root)) for s in scenarios]
    identity = {
        "scenario": scenarios[0].name, "kind": scenarios[0].kind, "seed": root, "replications": replications,
        "variants": [{"label": v.label, "overrides": list(v.overrides), "scenario_hash": scenario_hash(s),
                      "plan_digest": p.digest()} for v, s, p in zip(variants, scenarios, plans, strict=True)],
        "plan": plan if isinstance(plan, str) else "given",
    }  # fmt: skip
    if replan_every_s is not None:
        identity["replan_every_s"] = replan_every_s
    if manifest is not None and manifest != identity:
        raise Conflict(f"{out} holds a different sweep ({manifest.get('scenario')}, seed {manifest.get('seed')}, "
                       f"{manifest.get('replications')} replications); pick another --out")  # fmt: skip
    if manifest is None:
        plans_dir.mkdir(exist_ok=True)
        for i, p in enumerate(plans):
            (plans_dir / f"variant{i}.json").write_text(p.to_json(), encoding="utf-8")
        manifest_path.write_text(json.dumps(identity, indent=1, ensure_ascii=False), encoding="utf-8")
    done = _read_done(lines_path)
    todo = [t for t in tasks(root, len(variants), replications) if (t.variant, t.replication) not in done]
    reused, total = len(done), len(variants) * replications
    say = progress or (lambda _done, _total: None)
    say(reused, total)
    run: Any = simulate
    if replan_every_s is not None:
        from command.runs import ClosedLoopRun

        run = ClosedLoopRun(replan_every_s, replace(params or SolveParams(), seed=root))
    jobs = [Job(s, p, run, metrics) for s, p in zip(scenarios, plans, strict=True)]
    with lines_path.open("a", encoding="utf-8") as fh:
        for task, kpis in engine_named(engine, scheduler=scheduler, workers=workers).map(jobs, todo):
            row = {"variant": task.variant, "replication": task.replication, "seed": task.seed, "kpis": kpis}
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            done[(task.variant, task.replication)] = row
            say(len(done), total)
    rows = [done[k] for k in sorted(done)]
    summary = _summarise(variants, scenarios, rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    _write_parquet(out / "replications.parquet", variants, rows)
    return SweepReport(out, variants, summary, ran=len(todo), reused=reused, rows=rows)


def _summarise(variants: list[Variant], scenarios: list[Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"variants": []}
    for v, (variant, scenario) in enumerate(zip(variants, scenarios, strict=True)):
        mine = [r["kpis"] for r in rows if r["variant"] == v]
        keys = list(dict.fromkeys(k for kpis in mine for k in kpis))
        checks = kind_of(scenario).spec.breach_checks
        breaches = {}
        for name, check in checks.items():
            p, lo, hi = breach_probability([bool(check(scenario, k)) for k in mine])
            breaches[name] = {"p": p, "ci_low": lo, "ci_high": hi}
        out["variants"].append({
            "label": variant.label, "overrides": list(variant.overrides), "replications": len(mine),
            "kpis": {k: summarise([kpis[k] for kpis in mine if k in kpis]).to_json() for k in keys},
            "breaches": breaches,
        })  # fmt: skip
    return out


def _write_parquet(path: Path, variants: list[Variant], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = list(dict.fromkeys(k for r in rows for k in r["kpis"]))
    columns: dict[str, list[Any]] = {
        "variant": [variants[r["variant"]].label for r in rows],
        "replication": [r["replication"] for r in rows],
        "seed": [r["seed"] for r in rows],
    }
    for k in keys:
        columns[k] = [r["kpis"].get(k) for r in rows]
    pq.write_table(pa.table(columns), path)


def risk(scenario_ref: Any, plans: dict[str, Plan], *, replications: int, seed: int, folder: Path,
         engine: str = "local", progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Breach probabilities and KPI summaries of several plans on the same seeds (common random numbers).

    Each plan's sweep is kept under `folder` by its identity, so asking again costs nothing.
    """
    out: dict[str, dict[str, Any]] = {}
    seeds: dict[str, dict[int, dict[str, float]]] = {}
    for label, plan in plans.items():
        where = folder / f"{plan.digest()[:16]}-seed{seed}-n{replications}"
        report = run_sweep(scenario_ref, replications=replications, out=where, plan=plan, seed=seed,
                           engine=engine, progress=progress)  # fmt: skip
        out[label] = report.summary["variants"][0]
        seeds[label] = {int(r["seed"]): r["kpis"] for r in report.rows}
    if "default" in seeds:
        scenario = _load(scenario_ref, [])
        for label in out:
            if label != "default":
                out[label]["worse_on"] = seeds_worse(scenario, seeds["default"], seeds[label])
    return out


def seeds_worse(scenario: Any, default: dict[int, dict[str, float]],
                plan: dict[int, dict[str, float]]) -> dict[str, dict[str, int]]:  # fmt: skip
    """Per headline KPI of the scenario's kind: on how many of the seeds both were run on the plan is worse than
    the default plan, seed by seed (common random numbers), in the KPI's own direction."""
    common = sorted(set(default) & set(plan))
    out: dict[str, dict[str, int]] = {}
    for kpi in kind_of(scenario).spec.headline:
        pairs = [(default[s][kpi.name], plan[s][kpi.name]) for s in common
                 if kpi.name in default[s] and kpi.name in plan[s]]  # fmt: skip
        if pairs:
            out[kpi.name] = {"seeds": sum(kpi.worse(a, b) for a, b in pairs), "of": len(pairs)}
    return out


__all__ = ["SweepReport", "Variant", "risk", "run_sweep", "seeds_worse", "variants_from"]
