"""One what-if run: simulate the baseline, optimise, simulate the plan, compare.

The same function serves `yiwang run`, the console and the incident loop. It takes callbacks for progress so
that the CLI can show a spinner and the console a progress bar.

Three plans are compared on the same seed:
- `default`: the scenario's own plan (what was done, or would be done, without the optimiser);
- `open_loop`: the optimiser's plan, made once at the start and followed to the end whatever happens;
- `closed_loop` (with `replan_every_s`): the same start, re-planned every interval from the simulated state of
  the plan as carried out so far (`closed_loop`), each re-plan told only what has happened by then, exactly as
  the incident loop re-plans a live incident (`command.loop`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from command.budget import PlanBudget, stage_message
from command.consequences import Consequence, consequences, trade_off_warning
from command.errors import CommandError
from command.kinds import crossings, kind_of, optimise, simulate, state_at
from command.parallel import beside
from optimizer.result import PlanResult, SolveParams
from optimizer.solving import safety_cap
from scenarios import Plan, load_scenario
from scenarios.defaults import default_plan
from scenarios.injects import known_injects
from scenarios.kinds import spec_of
from scenarios.loading import scenario_hash
from scenarios.splice import splice
from simulation.core import SimResult

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Replan:
    """One re-plan of a closed loop: when, what the optimiser said, and whether its plan took over."""

    at_s: float
    status: str
    gap: float | None
    took_over: bool
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"at_s": self.at_s, "status": self.status, "gap": self.gap, "took_over": self.took_over,
                "note": self.note}  # fmt: skip


@dataclass(frozen=True)
class ClosedLoop:
    """The optimised plan re-planned every `every_s` from the simulated state: the plan as carried out (each
    re-plan spliced in at its time) and its run."""

    every_s: float
    plan: Plan
    result: SimResult
    replans: tuple[Replan, ...]

    def to_json(self, *, with_series: bool = False) -> dict[str, Any]:
        return {"every_s": self.every_s, "replans": [r.to_json() for r in self.replans],
                "plan_digest": self.plan.digest(),
                "run": self.result.to_dict(with_series=with_series, with_events=with_series)}  # fmt: skip


@dataclass(frozen=True)
class RunOutcome:
    """A baseline run, and (unless optimisation was skipped) the optimised plan and its run, and (if asked for)
    the closed loop's."""

    scenario: Any
    seed: int
    baseline_plan: Plan
    baseline: SimResult
    solve: PlanResult | None = None
    planned: SimResult | None = None
    closed: ClosedLoop | None = None

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
        kpis: dict[str, Any] = {"default": dict(self.baseline.kpis)}
        if self.planned is not None:
            kpis["open_loop"] = dict(self.planned.kpis)
        if self.closed is not None:
            out["closed_loop"] = self.closed.to_json(with_series=with_series)
            out["closed_loop"]["warnings"] = [w.to_json() for w in self.closed_warnings()]
            kpis["closed_loop"] = dict(self.closed.result.kpis)
            events += self.closed.result.stats.events
            sim_s += self.closed.result.stats.sim_s
            wall_s += self.closed.result.stats.wall_s
        out["kpis"] = kpis
        # Every threshold each run crosses, each time (the warnings below give only the first of each): where and
        # when a replay's crush happens is read here.
        runs = (("baseline", self.baseline), ("planned", self.planned),
                ("closed_loop", self.closed.result if self.closed is not None else None))  # fmt: skip
        for key, result in runs:
            if result is not None:
                target = out[key]["run"] if key == "closed_loop" else out[key]
                target["crossings"] = [{"t_s": b.t_s, "at": self.scenario.clock.label(b.t_s), "kind": b.kind,
                                        "text": b.text} for b in crossings(self.scenario, result)]  # fmt: skip
        out["sim"] = {"events": events, "sim_s": sim_s, "wall_s": round(wall_s, 6)}
        out["warnings"] = [w.to_json() for w in self.warnings()]
        return out

    def closed_warnings(self) -> list[Consequence]:
        """What the closed loop makes worse than the default plan, and the thresholds its run crosses; and the
        trade-off point its plans carry out (every re-plan picks the point the first plan did), with what it makes
        worse."""
        if self.closed is None:
            return []
        out = consequences(self.scenario, self.baseline, self.closed.result)
        points = self.solve.plan.meta.trade_off if self.solve is not None and self.solve.plan is not None else ()
        if len(points) > 1:
            out.append(trade_off_warning(points, [c for c in out if c.kind == "worse"]))
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
    replan_every_s: float | None = None,
) -> RunOutcome:
    """Load a scenario (with what-if overrides), simulate its default plan, optimise, simulate the plan, and
    (with `replan_every_s`) run the closed loop."""
    scenario = load_scenario(ref, overrides=overrides or [])
    outcome = run_loaded(scenario, seed=seed, optimize=optimize, params=params, progress=progress)
    if replan_every_s is None:
        return outcome
    if not optimize:
        raise CommandError("replan_every: a closed loop re-plans with the optimiser; drop --no-optimize")
    closed = closed_loop(scenario, seed=outcome.seed, every_s=replan_every_s, params=params,
                         first=outcome.solve, progress=progress)  # fmt: skip
    return replace(outcome, closed=closed)


def closed_loop(
    scenario: Any,
    *,
    seed: int,
    every_s: float,
    params: SolveParams | None = None,
    first: PlanResult | None = None,
    start: Plan | None = None,
    progress: Progress | None = None,
) -> ClosedLoop:
    """The optimised plan re-planned every `every_s` seconds from the state its run has reached then.

    At each re-plan time t (every_s, 2 every_s, ... before the horizon) the optimiser is given what the incident
    loop would give it: the state at t read off the run of the plan as carried out so far (the kind's
    `state_at`), and the scenario with only the injects that have fired by t (`known_injects`). Its plan takes
    over at t by the splice rule (`scenarios.splice`); what was done before t stands. A re-plan that finds no
    plan leaves the plan in effect as it is, and says so. The first plan is the optimiser's on what is known at
    the start (`first`, the open loop's plan, when nothing is hidden from it: no inject after the start), or the
    plan given as `start` (a sweep's plan, or the default plan: re-planned from its state at the first interval).
    """
    if every_s <= 0:
        raise CommandError(f"replan_every: {every_s:g} s is not a positive interval")
    horizon = float(scenario.clock.horizon_s)
    if every_s >= horizon:
        raise CommandError(f"replan_every: {every_s:g} s is not shorter than the scenario's horizon "
                           f"({horizon:g} s); nothing would be re-planned")  # fmt: skip
    say = progress or (lambda _msg: None)
    run_params = replace(params or SolveParams(), seed=seed)

    def known_world(at_s: float, fired: set[int]) -> Any:
        return scenario.model_copy(update={"injects": known_injects(scenario.injects, at_s=at_s, fired=fired)})

    hidden = any(inj.at_s > 0 or inj.condition for inj in scenario.injects)
    if start is not None:
        in_effect = start
    else:
        if first is None or hidden:
            say("closed loop: optimising on what is known at the start")
            at_start = {i for i, inj in enumerate(scenario.injects) if inj.at_s <= 0 and not inj.condition}
            first = optimise(known_world(0.0, at_start), run_params)
        if first.plan is None:
            raise CommandError(f"closed loop: the optimiser found no plan at the start "
                               f"({first.diagnosis or first.status})")  # fmt: skip
        in_effect = _as_scenarios(first.plan, scenario)
    replans: list[Replan] = []
    k = 1
    while k * every_s < horizon - 1e-9:
        at_s = k * every_s
        say(f"closed loop: re-planning at {scenario.clock.label(at_s)} ({k} of {int((horizon - 1e-9) // every_s)})")
        state = state_at(scenario, in_effect, seed=seed, at_s=at_s)
        solve = optimise(known_world(at_s, set(state.fired)), run_params, state=state)
        if solve.plan is None:
            replans.append(Replan(at_s, solve.status, solve.gap, False,
                                  f"no plan ({solve.diagnosis or solve.status}); the plan in effect carries on"))
        else:
            spliced, problems = take_over(in_effect, _as_scenarios(solve.plan, scenario), at_s, scenario)
            if problems:
                replans.append(Replan(at_s, solve.status, solve.gap, False, f"refused: {problems}; the plan in effect "
                                      "carries on"))  # fmt: skip
            else:
                in_effect = spliced
                replans.append(Replan(at_s, solve.status, solve.gap, True))
        k += 1
    say("closed loop: simulating the plan as carried out")
    result = simulate(scenario, in_effect, seed=seed)
    return ClosedLoop(every_s, in_effect, result, tuple(replans))


def take_over(in_effect: Plan, new: Plan, at_s: float, scenario: Any) -> tuple[Plan, str]:
    """The new plan spliced into the plan in effect at `at_s` (`scenarios.splice`), and what makes the result
    impossible for the scenario (its kind's plan check, e.g. a team posted twice over), or "" if nothing does.

    A re-plan whose splice cannot be carried out must not take over: the closed loop keeps the plan in effect,
    and an incident's re-plan is refused with the reason."""
    plan = splice(in_effect, new, at_s, scenario=scenario)
    check = spec_of(scenario.kind).check_plan
    problems = check(plan, scenario, file="the re-plan spliced into the plan in effect") if check is not None else []
    return plan, "; ".join(str(p) for p in problems)


@dataclass(frozen=True)
class ClosedLoopRun:
    """A closed loop as a sweep's simulation (`simulation.sweep.Simulate`, picklable for its workers): the plan
    given is the start, re-planned every `every_s` from each replication's own simulated state."""

    every_s: float
    params: SolveParams

    def __call__(self, scenario: Any, plan: Plan, *, seed: int) -> SimResult:
        return closed_loop(scenario, seed=seed, every_s=self.every_s, params=self.params, start=plan).result


def _as_scenarios(plan: Plan, scenario: Any) -> Plan:
    """The plan as belonging to the scenario itself, not to the optimiser's view of it (fewer injects)."""
    return Plan.build(plan.meta.model_copy(update={"scenario_hash": scenario_hash(scenario)}), plan.actions)


def run_loaded(
    scenario: Any,
    *,
    seed: int | None = None,
    optimize: bool = True,
    params: SolveParams | None = None,
    progress: Progress | None = None,
    state: Any = None,
    budget: PlanBudget | None = None,
    forecast: bool = True,
) -> RunOutcome:
    """Simulate a loaded scenario's default plan, optimise, simulate the plan (`state`: re-plan from the state a
    run of the plan in effect reached, `command.kinds.state_at`).

    With a `budget` (`command.budget`), the optimiser's time limit is the budget's, the default plan is
    simulated in a process of its own while the optimiser works (neither needs the other; the result is the
    same as in this process), and each stage's progress says where it is in the budget. `forecast=False`: the
    plan is not simulated here (a re-plan simulates the plan spliced into the one in effect instead)."""
    say = progress or (lambda _msg: None)
    run_seed = scenario.seed if seed is None else seed
    base_plan = default_plan(scenario)
    if budget is None or not optimize:
        say(f"simulating the default plan of {scenario.name} (seed {run_seed})")
        baseline = simulate(scenario, base_plan, seed=run_seed)
        if not optimize:
            return RunOutcome(scenario, run_seed, base_plan, baseline)
        say("optimising")
        solve = optimise(scenario, replace(params or SolveParams(), seed=run_seed), state=state)
    else:
        say(stage_message(budget, "baseline", f"{scenario.name}, seed {run_seed}"))
        # The kind's own simulation is sent (not the registry's door): a spawned process may not know a kind
        # registered at run time.
        with beside(kind_of(scenario).simulate, scenario, base_plan, seed=run_seed) as pending:
            say(stage_message(budget, "optimise", f"time limit {budget.time_limit_s:g} s"))
            limited = replace(params or SolveParams(), seed=run_seed, time_limit_s=budget.time_limit_s)
            # The solves' wall-clock safety cap is the pipeline's, not a multiple of their shorter limit.
            with safety_cap(budget.solve_cap_s):
                solve = optimise(scenario, limited, state=state)
            baseline = pending.result()
    planned = None
    if solve.plan is not None and forecast:
        say(stage_message(budget, "forecast") if budget is not None else "simulating the optimised plan")
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
