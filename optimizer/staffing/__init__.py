"""Staffing the test sites: which testers go to which site in which wave, and which zones go to which site.

    result = plan_staffing(scenario, geometry, params=SolveParams(time_limit_s=10), options=StaffingOptions())

One module per job:
- `problem`: the frozen data (`StaffingProblem`, built once by `staffing_problem`), the tunables
  (`StaffingOptions`) and a staffing as numbers (`Assignment`);
- `fluid`: the fluid model that scores a staffing or any plan (`score`, `fluid_makespan`); its rules are there;
- `model`: the same model as a MIP at a trial makespan (`FluidModel`), one function per constraint group;
- `search`: the least makespan with a proven bound (bisection: LP relaxation, then MIP probes), then walking
  and travel with it fixed;
- `explain`: the plan actions, the rationale, what more would buy, and the diagnosis (`diagnose_staffing`);
- `planning`: the entry point, `plan_staffing`.

The search is deterministic by default (`StaffingOptions.deterministic`): its MIPs stop on a node limit and are
charged a fixed share of the time limit whatever they took, so the same input gives the same plan however busy
the machine is; the wall clock is only a safety cap, and the rationale says when it was hit (`search`).

The formulations measured against the bisection (a direct time-grid MIP, CP-SAT probes) are not part of the
product: they live in benchmarks/staffing_formulations.py and plug in as a `Formulation`.
"""

from optimizer.staffing.explain import (
    StaffingDiagnosis,
    diagnose,
    diagnose_staffing,
    marginal_values,
    rationale,
    to_plan,
)
from optimizer.staffing.fluid import (
    Crew,
    FluidOutcome,
    crews_of,
    fluid_makespan,
    plan_crews_and_shares,
    score,
    score_crews,
)
from optimizer.staffing.model import FluidModel
from optimizer.staffing.planning import plan_staffing
from optimizer.staffing.problem import (
    DEFAULT_OPTIONS,
    DEFAULT_PARAMS,
    Assignment,
    Backend,
    PoolSpec,
    StaffingOptions,
    StaffingProblem,
    Timeline,
    Wave,
    assignment_of,
    staffing_problem,
)
from optimizer.staffing.search import (
    ABS_TOL_S,
    BISECTION,
    Bisection,
    Formulation,
    LpSearch,
    Probe,
    ProbeFactory,
    Search,
    SecondPhase,
    quick_lower_bound,
    search_makespan,
    second_phase,
    send_spares,
)

__all__ = [
    "ABS_TOL_S",
    "BISECTION",
    "DEFAULT_OPTIONS",
    "DEFAULT_PARAMS",
    "Assignment",
    "Backend",
    "Bisection",
    "Crew",
    "FluidModel",
    "FluidOutcome",
    "Formulation",
    "LpSearch",
    "PoolSpec",
    "Probe",
    "ProbeFactory",
    "Search",
    "SecondPhase",
    "StaffingDiagnosis",
    "StaffingOptions",
    "StaffingProblem",
    "Timeline",
    "Wave",
    "assignment_of",
    "crews_of",
    "diagnose",
    "diagnose_staffing",
    "fluid_makespan",
    "marginal_values",
    "plan_crews_and_shares",
    "plan_staffing",
    "quick_lower_bound",
    "rationale",
    "score",
    "score_crews",
    "search_makespan",
    "second_phase",
    "send_spares",
    "staffing_problem",
    "to_plan",
]
