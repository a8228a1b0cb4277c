"""The one contract every scenario kind's re-planning state keeps.

A re-plan at time t starts from what the simulation of the plan in effect shows at t. Each kind has its own
state type, a frozen dataclass in its own `scenarios/<kind>.py` (`CrowdState`, `TyphoonState`,
`MassTestingState`), read off a run by the kind's simulation (`state_at`) and taken by the kind's optimiser
(`optimise(scenario, params, state=...)`). Whatever else it holds, it says when it is (`at_s`, seconds after
the scenario's start) and which of the scenario's injects had fired by then (`fired`: indices into
`scenario.injects`; a conditional inject whose condition did not hold is not among them).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ReplanState(Protocol):
    """What every kind's state says: its time, and the injects that had fired by then."""

    @property
    def at_s(self) -> float: ...

    @property
    def fired(self) -> frozenset[int]: ...


__all__ = ["ReplanState"]
