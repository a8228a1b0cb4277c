"""OR-Tools models: a scenario (and a state) in, a plan with honest solver statistics out."""

from __future__ import annotations

from typing import Any

from optimizer.result import PlanResult, SolveParams


def optimise(scenario: Any, params: SolveParams | None = None, *, start_s: float = 0.0,
             state: Any = None) -> PlanResult:  # fmt: skip
    """Optimise a scenario's decisions, dispatching on its kind.

    `state` re-plans from what is in force at a time: a `scenarios.typhoon.TyphoonState` or a
    `scenarios.crowd.CrowdState` (each carries its time, `at_s`) is the simulated state then (`start_s` without
    a state starts a typhoon window from an empty state then); for mass testing a
    `scenarios.mass_testing.MassTestingState` (the routing in force and the groups sent), which the plan keeps
    (the loop keeps what was done before: `command.loop`)."""
    params = params or SolveParams(seed=scenario.seed)
    if scenario.kind == "mass_testing":
        from optimizer.mass_testing import optimise_mass_testing

        return optimise_mass_testing(scenario, params=params, state=state)
    if scenario.kind == "typhoon":
        from optimizer.typhoon import optimise_typhoon
        from scenarios.typhoon import TyphoonState

        # The state carries its time (`at_s`); a bare `start_s` (no state) is an empty state then.
        if state is None and start_s:
            state = TyphoonState(at_s=start_s)
        return optimise_typhoon(scenario, params, state=state)
    if scenario.kind == "crowd":
        from optimizer.crowd import optimise_crowd

        return optimise_crowd(scenario, params, state=state)
    from scenarios import ScenarioError

    raise ScenarioError.single(scenario.name, "kind", f"no optimisation model for {scenario.kind!r} scenarios yet; "
                               "simulate the scenario's own plan with --no-optimize")  # fmt: skip


__all__ = ["PlanResult", "SolveParams", "optimise"]
