"""One what-if run: simulate the baseline, optimise, simulate the plan, compare.

The same function serves `yiwang run`, the console and the incident loop. It takes callbacks for progress so
that the CLI can show a spinner and the console a progress bar.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from command.consequences import Consequence, consequences
from command.kinds import optimise, simulate
from optimizer.result import PlanResult, SolveParams
from scenarios import Plan, load_scenario
from scenarios.defaults import default_plan
from scenarios.loading import scenario_hash
from simulation.core import SimResult

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunOutcome:
    """A baseline run, and (unless optimisation was skipped) the optimised plan and its run."""

    scenario: Any
    seed: int
    baseline_plan: Plan
    baseline: SimResult
    solve: PlanResult | None = None
    planned: SimResult | None = None

    def to_json(self, *, with_series: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "kind": self.scenario.kind,
            "seed": self.seed,
            "scenario_hash": scenario_hash(self.scenario),
            "baseline": self.baseline.to_dict(with_series=with_series, with_events=with_series),
        }
        sim = self.baseline.stats
        events, sim_s, wall_s = sim.events, sim.sim_s, sim.wall_s
        if self.solve is not None:
            plan = self.solve.plan
            out["solver"] = self.solve.stats().model_dump()
            out["solver"]["diagnosis"] = self.solve.diagnosis
            out["solver"]["rationale"] = list(self.solve.rationale)
            out["plan"] = json.loads(plan.to_json()) if plan is not None else None
        if self.planned is not None:
            out["planned"] = self.planned.to_dict(with_series=with_series, with_events=with_series)
            events += self.planned.stats.events
            sim_s += self.planned.stats.sim_s
            wall_s += self.planned.stats.wall_s
        else:
            out["plan"] = out.get("plan") or json.loads(self.baseline_plan.to_json())
        out["sim"] = {"events": events, "sim_s": sim_s, "wall_s": round(wall_s, 6)}
        out["warnings"] = [w.to_json() for w in self.warnings()]
        return out

    def warnings(self) -> list[Consequence]:
        """What the plan makes worse than the default plan, the thresholds its run crosses, a weak bound
        (`command.consequences`); with no plan, the thresholds the default plan's run crosses."""
        return consequences(self.scenario, self.baseline, self.planned, self.solve)


def solve_params(time_limit_s: float, **tunables: Any) -> SolveParams:
    """The optimiser's tunables for a time limit (what the console's settings give), the rest at their defaults."""
    return SolveParams(time_limit_s=time_limit_s, **tunables)


def run_scenario(
    ref: str,
    *,
    seed: int | None = None,
    overrides: list[str] | None = None,
    optimize: bool = True,
    params: SolveParams | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Load a scenario (with what-if overrides), simulate its default plan, optimise, simulate the plan."""
    scenario = load_scenario(ref, overrides=overrides or [])
    return run_loaded(scenario, seed=seed, optimize=optimize, params=params, progress=progress)


def run_loaded(
    scenario: Any,
    *,
    seed: int | None = None,
    optimize: bool = True,
    params: SolveParams | None = None,
    progress: Progress | None = None,
    state: Any = None,
) -> RunOutcome:
    """Simulate a loaded scenario's default plan, optimise, simulate the plan (`state`: re-plan from the state a
    run of the plan in effect reached, `command.kinds.state_at`)."""
    say = progress or (lambda _msg: None)
    run_seed = scenario.seed if seed is None else seed
    say(f"simulating the default plan of {scenario.name} (seed {run_seed})")
    base_plan = default_plan(scenario)
    baseline = simulate(scenario, base_plan, seed=run_seed)
    if not optimize:
        return RunOutcome(scenario, run_seed, base_plan, baseline)
    say("optimising")
    solve = optimise(scenario, replace(params or SolveParams(), seed=run_seed), state=state)
    planned = None
    if solve.plan is not None:
        say("simulating the optimised plan")
        planned = simulate(scenario, solve.plan, seed=run_seed)
    return RunOutcome(scenario, run_seed, base_plan, baseline, solve, planned)


def write_outputs(outcome: RunOutcome, out_dir: Path) -> list[Path]:
    """Write `run.json` (with series and events) and the plans as JSON into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    run = out_dir / "run.json"
    run.write_text(json.dumps(outcome.to_json(with_series=True), ensure_ascii=False, indent=1), encoding="utf-8")
    written.append(run)
    base = out_dir / "baseline_plan.json"
    base.write_text(outcome.baseline_plan.to_json(), encoding="utf-8")
    written.append(base)
    if outcome.solve is not None and outcome.solve.plan is not None:
        plan = out_dir / "plan.json"
        plan.write_text(outcome.solve.plan.to_json(), encoding="utf-8")
        written.append(plan)
    return written


def kpi_rows(outcome: RunOutcome) -> list[tuple[str, float, float | None]]:
    """`(kpi, baseline, planned)` rows in the scenario kind's KPI order."""
    planned = outcome.planned.kpis if outcome.planned is not None else {}
    return [(k, v, planned.get(k)) for k, v in outcome.baseline.kpis.items()]
