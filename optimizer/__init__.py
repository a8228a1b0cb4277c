"""OR-Tools models: a scenario (and a state) in, a plan with honest solver statistics out."""

from __future__ import annotations

from typing import Any

from optimizer.result import PlanResult, SolveParams


def optimise(scenario: Any, params: SolveParams | None = None) -> PlanResult:
    """Optimise a scenario's decisions, dispatching on its kind."""
    params = params or SolveParams(seed=scenario.seed)
    if scenario.kind == "mass_testing":
        from optimizer.mass_testing import optimise_mass_testing

        return optimise_mass_testing(scenario, params=params)
    if scenario.kind == "typhoon":
        from optimizer.typhoon import optimise_typhoon

        return optimise_typhoon(scenario, params=params)
    if scenario.kind == "crowd":
        from optimizer.crowd import optimise_crowd

        return optimise_crowd(scenario, params=params)
    from scenarios import ScenarioError

    raise ScenarioError.single(scenario.name, "kind", f"no optimisation model for {scenario.kind!r} scenarios yet; "
                               "simulate the scenario's own plan with --no-optimize")  # fmt: skip


__all__ = ["PlanResult", "SolveParams", "optimise"]
