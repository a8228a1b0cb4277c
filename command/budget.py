"""The Run -> plan time budget: one total for the whole pipeline (15 s by default), split across its stages up
front, from the scenario alone.

The stages of a plan (`command.loop.plan_incident`, `command.runs.run_loaded`):
1. `state`: a re-plan reads the state at its time off a run of the plan in effect (none at the start);
2. `baseline` and `optimise`, side by side: the default plan's simulation runs in a process of its own while the
   optimiser works, since neither needs the other (the default plan is the scenario's, not the optimiser's);
3. `forecast`: the plan's simulation, in full, at full resolution: the forecast the commander sees;
4. `propose`: the consequences and the store's writes.

How the split is made. Each kind's cost model (`StageCosts`, `Kind.costs` in `command.kinds`) says, from the
scenario's size alone (a crowd's steps x destinations, a typhoon's hours, mass testing's visitors), how long a
simulation takes on the reference machine (2 cores, quiet), how much of the optimiser's work its time limit does
not bound (model building, a flow LP solved to optimality, a judge's simulations) and how many seconds it spends
at most per second of its time limit (the typhoon's trade-off points and its "one more team" solve are shares of
the limit on top of the main solve). The optimiser's time limit is what the total leaves after the simulations
and the fixed work, per second of limit, rounded to a tenth of a second, no less than the kind's least useful
limit. Its solvers count that limit in deterministic units (CP-SAT's deterministic time, `optimizer.solving`),
so the same scenario, seed and budget give the same plan however busy the machine is. The wall clock is only a
safety cap: every solve's inside the pipeline is `SOLVE_CAP` x the budget (`optimizer.solving.safety_cap`: a
short limit's own cap, 10 x the limit plus a second, could still cut a solve short on a busy machine and change the
plan, or leave it with none), and a solve stopped by it says so in the rationale; a run that took longer than
`WALL_CAP` x its budget says so too.

A stage that cannot fit is not cut: the simulations run in full (a forecast over part of the evening would hide
what the plan causes after it). Then the split says the budget is short, and by how much, up front.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The console's Run -> plan budget, and `yiwang incident plan --budget`'s default: seconds, whole pipeline.
DEFAULT_BUDGET_S = 15.0
#: Seconds kept for proposing (consequences, the store's writes) and for starting the baseline's process.
PROPOSE_S = 0.5
START_S = 0.5
#: The pipeline's wall-clock safety cap, as a multiple of its budget: past it, the run says so.
WALL_CAP = 2.0
#: Its solves' wall-clock safety cap, as a multiple of the budget: past it a deterministic solve is cut (and says
#: so). Wide, like the staffing and bus searches' own (10 x): at a load average of 20 on 2 cores the light show's
#: staff model took 17.8 s for what a quiet machine does in about 2 s.
SOLVE_CAP = 10.0
#: The share of the budget the split keeps back for what its cost models do not see (a simulation's run-to-run
#: spread, a busier machine): the stages are planned to fill the rest. Without it a plan met its budget only about
#: half the time (Bund 2014: 15.3 s against 15 on 7 Dec 2026, its estimate 14.9).
MARGIN = 0.1
#: The optimiser's time limit at most (what the console's own limit was before a budget), seconds.
MAX_LIMIT_S = 10.0


@dataclass(frozen=True)
class StageCosts:
    """A kind's cost model for one scenario, in seconds on the reference machine (2 cores, quiet).

    `simulate_s`: one full simulation; `optimise_fixed_s`: the optimiser's work its time limit does not bound;
    `per_limit`: the optimiser's seconds per second of its time limit at most; `min_limit_s`: the least limit
    worth giving it (below it the plan is not worth the name)."""

    simulate_s: float
    optimise_fixed_s: float
    per_limit: float
    min_limit_s: float = 0.5


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline: its key, what it does, and the seconds the split gives it."""

    key: str
    label: str
    seconds: float


@dataclass(frozen=True)
class PlanBudget:
    """A pipeline's budget split up front: the stages in order (`baseline` and `optimise` side by side), the
    optimiser's time limit, and whether the estimate fits the total."""

    total_s: float
    time_limit_s: float
    stages: tuple[Stage, ...]
    estimate_s: float

    @property
    def wall_cap_s(self) -> float:
        """The pipeline's wall-clock safety cap (`WALL_CAP` x the total): past it, the run says so."""
        return WALL_CAP * self.total_s

    @property
    def solve_cap_s(self) -> float:
        """Every deterministic solve's wall-clock safety cap inside the pipeline (`SOLVE_CAP` x the total)."""
        return SOLVE_CAP * self.total_s

    @property
    def fits(self) -> bool:
        return self.estimate_s <= self.total_s + 1e-9

    def stage(self, key: str) -> Stage:
        return next(s for s in self.stages if s.key == key)

    def start_of(self, key: str) -> float:
        """The share of the estimate done when stage `key` starts (the progress bar's place)."""
        done = 0.0
        for s in self.stages:
            if s.key == key:
                break
            if s.key != "baseline":  # it runs beside the optimiser
                done += s.seconds
        return min(1.0, done / max(self.estimate_s, 1e-9))

    def summary(self) -> str:
        """One line: the split and whether it fits."""
        parts = ", ".join(f"{s.key} {s.seconds:.1f} s" for s in self.stages if s.seconds > 0)
        head = f"budget {self.total_s:g} s: {parts}; optimiser limit {self.time_limit_s:g} s"
        if self.fits:
            return f"{head} (estimate {self.estimate_s:.1f} s)"
        return (f"{head}: the estimate is {self.estimate_s:.1f} s, {self.estimate_s - self.total_s:.1f} s over, "
                "the simulations run in full all the same")  # fmt: skip


def split_budget(costs: StageCosts, total_s: float, *, state_share: float = 0.0) -> PlanBudget:
    """The budget `total_s` split for a scenario with these costs; `state_share`: the share of a simulation a
    re-plan's state costs (its time / the horizon; 0 at the start)."""
    if not total_s > 0:
        raise ValueError(f"budget: {total_s:g} s is not a positive number of seconds")
    state_s = costs.simulate_s * max(0.0, state_share)
    forecast_s = costs.simulate_s
    window = total_s * (1.0 - MARGIN) - state_s - forecast_s - PROPOSE_S
    raw = (window - costs.optimise_fixed_s) / costs.per_limit
    limit = min(MAX_LIMIT_S, max(costs.min_limit_s, math.floor(10 * raw + 1e-9) / 10))
    optimise_s = costs.optimise_fixed_s + costs.per_limit * limit
    baseline_s = START_S + costs.simulate_s
    stages = (Stage("state", "reading the state now", state_s),
              Stage("baseline", "simulating the default plan (beside the optimiser)", baseline_s),
              Stage("optimise", "optimising", max(optimise_s, baseline_s)),
              Stage("forecast", "simulating the plan (the forecast, in full)", forecast_s),
              Stage("propose", "proposing", PROPOSE_S))  # fmt: skip
    estimate = state_s + max(optimise_s, baseline_s) + forecast_s + PROPOSE_S
    return PlanBudget(total_s, limit, stages, estimate)


class StageMessage(str):
    """A progress message that says where the pipeline is: a plain string to whoever prints it, with the share of
    the estimated work done (`fraction`) for a progress bar."""

    fraction: float

    def __new__(cls, text: str, fraction: float) -> StageMessage:
        out = super().__new__(cls, text)
        out.fraction = max(0.0, min(1.0, fraction))
        return out


def stage_message(budget: PlanBudget, key: str, text: str | None = None) -> StageMessage:
    """'[2/4] optimising (6.2 s of 15 s): ...', with the stage's place for a progress bar (the default plan's
    simulation has the optimiser's number: they run side by side)."""
    keys = [s.key for s in budget.stages if s.seconds > 0 and s.key != "baseline"]
    stage = budget.stage(key)
    n = keys.index("optimise" if key == "baseline" else key) + 1
    head = f"[{n}/{len(keys)}] {stage.label} ({stage.seconds:.1f} s of {budget.total_s:g} s)"
    return StageMessage(f"{head}: {text}" if text else head, budget.start_of(key))


def overrun_note(budget: PlanBudget, wall_s: float) -> str | None:
    """What to say when the pipeline's wall time passed its safety cap, else None."""
    if wall_s <= budget.wall_cap_s:
        return None
    return (f"took {wall_s:.0f} s against a budget of {budget.total_s:g} s (safety cap {WALL_CAP:g}x): the machine "
            "is slower or busier than the budget's reference; unless a solve says it was stopped by its safety cap, "
            "the plan is the one a quiet machine makes")  # fmt: skip


# The built-in kinds' cost models, in CPU seconds of one process on the project's 2-core machine (measured by
# `benchmarks/console_stages.py`, figures in benchmarks/README.md, section "Run -> plan on a budget"). CPU seconds,
# because the wall clock of a shared machine measures the other users too.

# A crowd simulation: a fixed part (the graph, the compiled kernels' load, the routes), then per step a part for the
# walkways and one per destination (and leavers): the light show's 28,800 steps with 9 classes took 5.3-6.6 s and
# Bund 2014's 18,000 with 20 classes 5.4 s (7 Dec 2026, quiet machine), with the steps between events in one
# compiled call.
CROWD_SIM_FIXED_S, CROWD_STEP_S, CROWD_CLASS_STEP_S = 1.2, 1.13e-4, 6.0e-6
# The optimiser's work its limit does not bound: the flow LP (three flow problems, built from arrays, solved by
# GLOP up to three times) grows with its periods and its walkways x classes (`optimizer.crowd.flow.lp_size` is
# their product): 2.3 CPU s at the light show's 85 periods x 1,629 (6-minute periods), 29.2 at its 255 x 1,629
# (2-minute ones), 3.7 at Bund 2014's 83 x 3,620 (4-minute ones, 20 classes): about the 2.4th power of the periods
# and the 0.6th of the walkways x classes. And the staff model's build and presolve, about a millisecond per post,
# pool and 15-minute period (posts: the entrances and the stairs): 3.25 s for the light show's 23 x 4 x 34. Its
# search then takes 0.5-0.9 CPU s per second of its limit (CP-SAT's deterministic time). Measured on 7 Dec 2026
# (benchmarks/README.md, "The flow LP's period" and "Bund 2014 on its record").
CROWD_LP_REF_S, CROWD_LP_REF_PERIODS, CROWD_LP_REF_WIDTH = 2.3, 85.0, 1_629.0
CROWD_LP_PERIODS_EXPONENT, CROWD_LP_WIDTH_EXPONENT = 2.4, 0.6
# Since the flow LP charges counter-flow its friction (`optimizer.crowd.optimise._solve_with_friction`), the kept
# variant is solved again up to twice, and a staffed re-solve once or twice: 5 GLOP solves where there were 3, and
# the LP's part about twice as long (the light show's 4.4 s, Bund 2014's 7.9 s; 7 Dec 2026, fifth session).
CROWD_LP_ROUNDS_FACTOR = 2.0
CROWD_STAFF_BUILD_S = 1.05e-3
CROWD_STAFF_PER_LIMIT = 0.8
# The staff model's least limit. It was set when the light show's plan at 1 s left posts unstaffed; since the model
# starts from a greedy posting that covers the need (`optimizer.crowd.staff.greedy_posts`), both crowd built-ins
# make the same plan at 1 s as at 2 s (7 Dec 2026, seventh session). Kept at 2 s until a larger scenario shows what
# 1 s would cost in moves and metres walked (not measured).
CROWD_MIN_LIMIT_S = 2.0
TYPHOON_SIM_S_PER_H = 0.05  # a typhoon simulation's seconds per hour of horizon: 0.5 s for 12 h
TYPHOON_FIXED_S = 2.0  # the typhoon optimiser's static schedules, models and costings
TYPHOON_PER_SOLVE = 0.55  # seconds per second of limit of each CP-SAT solve (0.5 deterministic units)
MASS_TESTING_SIM_S = 3.0e-5  # a mass-testing simulation's seconds per visitor: 1.0 s for Disney's 33,863
MASS_TESTING_PER_LIMIT = 0.3  # the staffing and bus models' seconds per second of limit (they stop early)


def crowd_costs(scenario: Any) -> StageCosts:
    """A crowd: the simulation steps every walkway for every destination; the flow LP (solved to optimality, five
    times or so: `CROWD_LP_ROUNDS_FACTOR`) grows faster than its size; the staff model's build grows with its
    posts, pools and periods, and its search spends its limit."""
    from optimizer.crowd.flow import lp_period_s, lp_size
    from optimizer.crowd.options import DEFAULT_OPTIONS
    from scenarios.crowd import stairs
    from scenarios.loading import scenario_graph

    classes = len(scenario.demand.destinations) + 1
    steps = scenario.clock.horizon_s / scenario.walking.step_s
    graph = scenario_graph(scenario)
    period = lp_period_s(scenario, graph)
    periods = max(1, math.ceil((scenario.clock.horizon_s + DEFAULT_OPTIONS.lookahead_s) / period - 1e-9))
    width = lp_size(scenario, graph, period) / periods  # walkways x classes
    lp_s = (CROWD_LP_ROUNDS_FACTOR * CROWD_LP_REF_S * (periods / CROWD_LP_REF_PERIODS) ** CROWD_LP_PERIODS_EXPONENT
            * (width / CROWD_LP_REF_WIDTH) ** CROWD_LP_WIDTH_EXPONENT)  # fmt: skip
    posts = len(scenario.demand.origins) + len(stairs(graph))
    staff_periods = math.ceil((scenario.clock.horizon_s + DEFAULT_OPTIONS.lookahead_s) / DEFAULT_OPTIONS.staff_period_s)
    staff_s = CROWD_STAFF_BUILD_S * posts * len(scenario.staff) * staff_periods
    sim_s = CROWD_SIM_FIXED_S + steps * (CROWD_STEP_S + CROWD_CLASS_STEP_S * classes)
    return StageCosts(simulate_s=sim_s, optimise_fixed_s=lp_s + staff_s,
                      per_limit=CROWD_STAFF_PER_LIMIT, min_limit_s=CROWD_MIN_LIMIT_S)  # fmt: skip


def typhoon_costs(scenario: Any) -> StageCosts:
    """A typhoon: a small simulation; the main CP-SAT solve, then each trade-off point and the "one more team"
    solve at `side_share` of the limit each."""
    from optimizer.typhoon.problem import DEFAULT_OPTIONS as T

    solves = 1.0 + T.side_share * (len(T.pareto_factors) + int(T.extra_team))
    return StageCosts(simulate_s=TYPHOON_SIM_S_PER_H * scenario.clock.horizon_s / 3600,
                      optimise_fixed_s=TYPHOON_FIXED_S, per_limit=TYPHOON_PER_SOLVE * solves,
                      min_limit_s=1.0)  # fmt: skip


def mass_testing_costs(scenario: Any) -> StageCosts:
    """Mass testing: the simulation grows with the visitors; the optimiser's judge simulates two candidate plans
    (a re-plan's sometimes three) on `JUDGE_FUTURES` futures each (`optimizer.buses.judge`)."""
    from optimizer.buses.judge import JUDGE_FUTURES

    visitors = sum(zone.visitors for zone in scenario.population.zones)
    sim = MASS_TESTING_SIM_S * max(visitors, 1)
    return StageCosts(simulate_s=sim, optimise_fixed_s=1.0 + 2 * JUDGE_FUTURES * sim,
                      per_limit=MASS_TESTING_PER_LIMIT, min_limit_s=1.0)  # fmt: skip


#: A kind without a cost model: a second's simulation, the optimiser's limit spent once.
FALLBACK = StageCosts(simulate_s=1.0, optimise_fixed_s=1.0, per_limit=1.0)

CostModel = Callable[[Any], StageCosts]



def plan_budget(scenario: Any, total_s: float, *, at_s: float = 0.0) -> PlanBudget:
    """The budget `total_s` split for this scenario by its kind's cost model (a re-plan at `at_s` first reads
    the state then)."""
    from command.kinds import kind_of

    model = kind_of(scenario).costs
    costs = model(scenario) if model is not None else FALLBACK
    horizon = float(scenario.clock.horizon_s)
    return split_budget(costs, total_s, state_share=min(1.0, at_s / horizon) if horizon > 0 else 0.0)


__all__ = ["DEFAULT_BUDGET_S", "FALLBACK", "PlanBudget", "Stage", "StageCosts", "StageMessage", "crowd_costs",
           "mass_testing_costs", "overrun_note", "plan_budget", "split_budget", "stage_message",
           "typhoon_costs"]  # fmt: skip
