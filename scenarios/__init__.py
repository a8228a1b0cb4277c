"""The domain: scenarios, city graphs and the plan vocabulary. Pure data: no solver, no SimPy, no UI."""

from scenarios.errors import Problem, ScenarioError
from scenarios.graphs import builtin_graph_names, load_graph, summarise
from scenarios.loading import (
    builtin_scenario_names,
    builtin_scenarios,
    load_scenario,
    scenario_graph,
    scenario_hash,
)
from scenarios.plan import Plan, PlanDiff, PlanMeta, SolverStats, diff_plans
from scenarios.schema import CrowdScenario, MassTestingScenario, Scenario, TyphoonScenario

__all__ = [
    "CrowdScenario",
    "MassTestingScenario",
    "Plan",
    "PlanDiff",
    "PlanMeta",
    "Problem",
    "Scenario",
    "ScenarioError",
    "SolverStats",
    "TyphoonScenario",
    "builtin_graph_names",
    "builtin_scenario_names",
    "builtin_scenarios",
    "diff_plans",
    "load_graph",
    "load_scenario",
    "scenario_graph",
    "scenario_hash",
    "summarise",
]
