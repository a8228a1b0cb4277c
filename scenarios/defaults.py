"""The default plan of any scenario: what its kind's `default_plan.rule` says a commander would do."""

from __future__ import annotations

from typing import Any

import networkx as nx

from scenarios.errors import ScenarioError
from scenarios.plan import Plan, parse_action


def default_plan(scenario: Any, graph: nx.DiGraph | None = None) -> Plan:
    """Expand the scenario's default rule and add its explicit default actions."""
    if scenario.kind == "mass_testing":
        from scenarios.mass_testing import default_plan as rule_plan
    elif scenario.kind == "crowd":
        from scenarios.crowd import default_plan as rule_plan
    elif scenario.kind == "typhoon":
        from scenarios.typhoon import default_plan as rule_plan
    else:
        raise ScenarioError.single(scenario.name, "kind", f"no default plan rule for {scenario.kind!r} scenarios yet")
    plan = rule_plan(scenario, graph)
    extra = [parse_action(a) for a in scenario.default_plan.actions]
    return Plan.build(plan.meta, [*plan.actions, *extra]) if extra else plan
