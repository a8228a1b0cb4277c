"""OR-Tools models: a scenario (and a re-planning state) in, a plan with honest solver statistics out.

One module (or package) per decision; each scenario kind's entry point is `optimise(scenario, params=None, *,
state=None)` (`optimise_mass_testing`, `optimise_crowd`, `optimise_typhoon`), the state being the kind's
`scenarios.state.ReplanState` at the time the plan takes over. Which optimiser serves a scenario is the kind
registry's to say (`command.kinds.optimise`): nothing here branches on a kind's name.
"""

from __future__ import annotations

from optimizer.result import PlanResult, SolveParams

__all__ = ["PlanResult", "SolveParams"]
