"""SimPy models: a scenario and a plan in, KPIs, time series, an event log and run statistics out.

One module (or package) per scenario kind, each with `simulate(scenario, plan=None, *, seed=None, until_s=None)`
and `state_at(scenario, plan, *, seed, at_s)`; the shared parts are `core` (the kernel, recording, results) and
`sweep` (replications on any engine). Which model runs a scenario is the kind registry's to say
(`command.kinds.simulate`): nothing here branches on a kind's name.
"""

from __future__ import annotations

from simulation.core import Breach, LogEvent, RunStats, SimResult

__all__ = ["Breach", "LogEvent", "RunStats", "SimResult"]
