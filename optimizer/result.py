"""The one result type every optimisation model returns, and the shared tunables.

Like `pyvrp.Result`: the plan (already translated into plan actions; no solver object leaves `optimizer/`),
the solver's status, objective, best bound, relative gap and wall time, the seed, a short rationale (what
binds, what one more unit of a resource would buy), and a diagnosis when the problem is infeasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scenarios.plan import Plan, SolverStats

#: The solvers take a seed below 2^31 (CP-SAT's and HiGHS's `random_seed` are 32-bit signed integers); a run's
#: seed may be any non-negative integer (a sweep's replication seeds have 62 bits), so it is folded into range.
SOLVER_SEEDS = 2**31 - 1


@dataclass(frozen=True)
class SolveParams:
    """Tunables read the same way by the CLI, the console and the tests. `seed` is kept in the solvers' range
    (`SOLVER_SEEDS`): a larger one is folded into it, the same one every time."""

    time_limit_s: float = 10.0
    workers: int = 2
    relative_gap: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.seed < SOLVER_SEEDS:
            object.__setattr__(self, "seed", self.seed % SOLVER_SEEDS)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, tiny): 0 when proven optimal, None when either is unknown."""
    if objective is None or bound is None or not (math.isfinite(objective) and math.isfinite(bound)):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


@dataclass(frozen=True)
class PlanResult:
    """What an optimisation model returns."""

    plan: Plan | None
    status: str
    objective: float | None
    bound: float | None
    wall_s: float
    seed: int = 0
    rationale: tuple[str, ...] = ()
    diagnosis: str | None = None
    details: dict[str, float] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """The objective's relative gap to its bound; for a plan of several sub-models, the largest of theirs
        (`details["gap_<sub-model>"]`, each proven on its own objective), so that FEASIBLE comes with the gap
        that made it so."""
        own = relative_gap(self.objective, self.bound)
        subs = [v for k, v in self.details.items() if k.startswith("gap_")]
        return own if own is None or not subs else max(own, *subs)

    @property
    def feasible(self) -> bool:
        return self.plan is not None and self.status in {"OPTIMAL", "FEASIBLE"}

    def stats(self) -> SolverStats:
        """What the solver said, with its wall time (for the run's record)."""
        return SolverStats(status=self.status, objective=self.objective, bound=self.bound, gap=self.gap,
                           wall_s=round(self.wall_s, 6))  # fmt: skip

    def plan_stats(self) -> SolverStats:
        """What the solver said, as a plan carries it: without the wall time, which a busier machine changes and
        which would make the same plan's digest differ from run to run."""
        return SolverStats(status=self.status, objective=self.objective, bound=self.bound, gap=self.gap)

    def summary(self) -> str:
        gap = "n/a" if self.gap is None else f"{100 * self.gap:.2f}%"
        obj = "n/a" if self.objective is None else f"{self.objective:.6g}"
        bound = "n/a" if self.bound is None else f"{self.bound:.6g}"
        lines = [f"{self.status}: objective {obj}, bound {bound}, gap {gap}, {self.wall_s:.2f} s"]
        if self.diagnosis:
            lines.append(f"diagnosis: {self.diagnosis}")
        lines.extend(f"- {r}" for r in self.rationale)
        return "\n".join(lines)
