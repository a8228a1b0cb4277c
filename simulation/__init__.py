"""SimPy models: a scenario and a plan in, KPIs, time series, an event log and run statistics out."""

from __future__ import annotations

from typing import Any

from simulation.core import LogEvent, RunStats, SimResult


def simulate(scenario: Any, plan: Any = None, *, seed: int | None = None) -> SimResult:
    """Run any scenario under a plan (its default plan if none), dispatching on the scenario's kind."""
    if scenario.kind == "mass_testing":
        from simulation.mass_testing import simulate as run_mass_testing

        return run_mass_testing(scenario, plan, seed=seed)
    if scenario.kind == "crowd":
        from simulation.crowd import simulate as run_crowd

        return run_crowd(scenario, plan, seed=seed)
    if scenario.kind == "typhoon":
        from simulation.typhoon import simulate as run_typhoon

        return run_typhoon(scenario, plan, seed=seed)
    raise ValueError(f"no simulation model for scenario kind {scenario.kind!r} yet")


__all__ = ["LogEvent", "RunStats", "SimResult", "simulate"]
