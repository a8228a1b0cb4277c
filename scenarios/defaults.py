"""The default plan of any scenario: what its kind's `default_plan.rule` says a commander would do."""

from __future__ import annotations

from typing import Any

import networkx as nx

from scenarios.kinds import spec_of
from scenarios.plan import Plan, parse_action


def default_plan(scenario: Any, graph: nx.DiGraph | None = None) -> Plan:
    """Expand the scenario's default rule (its kind's) and add its explicit default actions."""
    plan = spec_of(scenario.kind).default_plan(scenario, graph)
    extra = [parse_action(a) for a in scenario.default_plan.actions]
    return Plan.build(plan.meta, [*plan.actions, *extra]) if extra else plan
