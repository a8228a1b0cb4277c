"""Which bus orders a plan carries: the simulation judges the candidates on futures other than the run's own.

The bus model plans against a forecast of expected riders, open loop; first come, first served reacts to the
riders who are there, so with a binding fleet the model's orders can be worse in the simulation than in the
model. So the plan's bus orders are chosen by simulating every candidate, as it will run, by a `PlanJudge` (the
kind's simulation, which the optimiser cannot import: `command.kinds` hands it in). The candidates
(`candidates`):

- `NEW`: the bus model's new orders;
- `FCFS`: no orders from now, the buses first come, first served (at the start: the default bus rule);
- `CARRIED_ON` (a re-plan only, when the plan in effect has orders from then on): the plan in effect's orders
  carried on, restated in the new plan.

At a re-plan each candidate is spliced into the plan in effect at the re-plan's time (`scenarios.splice`), as
the loop will splice it, so all of them start from the same state: the past that ran, the riders waiting, the
buses where they are. Each is simulated on `JUDGE_FUTURES` futures drawn at seeds other than the run's own
(`judge_seeds`): the world up to the re-plan as it ran, the visitors' swabs from then on, and who they are, drawn
anew (at the start: whole other seeds). Every candidate faces the same futures (common random numbers), so the
differences are the plans'; and the run's own seed is never among them, so a plan shown no worse here is no
worse on futures it was not chosen on, not by construction on the run it is measured by.

The rule (`choose`): the status quo is the plan in effect carried on (at the start, and when the plan in effect
has no orders left, first come, first served). The first candidate, in the order new orders, first come, first
served, carried on, that is no worse than every other on the mean of every one of `BUS_KPIS` over the futures is
kept; failing one, the first that is no worse than the status quo; failing that too, the status quo.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from scenarios.plan import DispatchBus, Plan
from scenarios.splice import splice

#: What the bus orders must be no worse on, in the simulation (lower is better).
BUS_KPIS = ("stranded_visitors", "last_departed_min", "swab_to_bus_min")
#: How many futures other than the run's own each candidate is simulated on.
JUDGE_FUTURES = 3

NEW, FCFS, CARRIED_ON = "new orders", "first come, first served", "the orders in effect carried on"
_TOL = 1e-9


class PlanJudge(Protocol):
    """Simulates a whole plan in the run's world up to `from_s` and, from then on, in the future drawn at seed
    `future` (`simulation.mass_testing.Future`; from 0: the run at that seed), and returns its KPIs."""

    def __call__(self, plan: Plan, *, future: int, from_s: float) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class Candidate:
    """One choice of bus orders: `plan`, what the optimiser would return (from the re-plan's time), and `runs`,
    the plan as it will run (spliced into the plan in effect)."""

    name: str
    plan: Plan
    runs: Plan


@dataclass(frozen=True)
class Verdict:
    """The candidate chosen, each candidate's mean KPIs over the futures, the futures' seeds, and the rationale."""

    chosen: Candidate
    means: dict[str, dict[str, float]]
    seeds: tuple[int, ...]
    line: str


def judge_seeds(seed: int, n: int = JUDGE_FUTURES) -> tuple[int, ...]:
    """`n` seeds for the judge's futures, drawn from the run's seed and never equal to it (nor to each other)."""
    out: list[int] = []
    for word in np.random.SeedSequence([seed, 0x6A756467]).generate_state(n + 2, dtype=np.uint32):
        if int(word) != seed and int(word) not in out:
            out.append(int(word))
    return tuple(out[:n])


def candidates(with_orders: Plan, without: Plan, *, in_effect: Plan | None, at_s: float | None,
               scenario: Any) -> list[Candidate]:  # fmt: skip
    """The new orders, first come, first served, and (a re-plan whose plan in effect has orders from `at_s` on)
    those orders carried on: each as returned and as it will run (module docstring). `without`: the new plan
    with no orders (its staffing)."""
    if at_s is None or in_effect is None:  # at the start, or no plan in effect to splice into: as they are
        new = with_orders
        if at_s is not None:  # the orders take over at the re-plan, first come, first served before it
            new = Plan.build(with_orders.meta.model_copy(update={"dispatch_from_s": at_s}), with_orders.actions)
        return [Candidate(NEW, with_orders, new), Candidate(FCFS, without, without)]

    def spliced(plan: Plan) -> Plan:
        return splice(in_effect, plan, at_s, scenario=scenario)

    out = [Candidate(NEW, with_orders, spliced(with_orders)), Candidate(FCFS, without, spliced(without))]
    later = [a for a in in_effect.of_type(DispatchBus) if a.at_s >= at_s and (a.until_s is None or a.until_s > at_s)]
    if later:  # restated in the new plan: the splice lets the plan in effect's own lapse at the re-plan
        restated = Plan.build(without.meta, [*without.actions, *later])
        out.append(Candidate(CARRIED_ON, restated, spliced(restated)))
    return out


def choose(cands: Sequence[Candidate], judge: PlanJudge, *, seed: int, from_s: float,
           label: str = "") -> Verdict:  # fmt: skip
    """The candidate kept by the rule of the module docstring, each simulated on the futures of `judge_seeds`
    from `from_s` (the re-plan's time; 0 at the start). `label`: when, for the rationale."""
    seeds = judge_seeds(seed)
    means: dict[str, dict[str, float]] = {}
    for c in cands:
        runs = [judge(c.runs, future=s, from_s=from_s) for s in seeds]
        means[c.name] = {k: statistics.fmean(float(r.get(k, 0.0)) for r in runs) for k in BUS_KPIS}
    status_quo = next((c for c in cands if c.name == CARRIED_ON), next(c for c in cands if c.name == FCFS))

    def no_worse(a: Candidate, b: Candidate) -> bool:
        return all(means[a.name][k] <= means[b.name][k] + _TOL for k in BUS_KPIS)

    order = sorted(cands, key=lambda c: (NEW, FCFS, CARRIED_ON).index(c.name))
    chosen = next((c for c in order if all(no_worse(c, o) for o in cands)), None)
    why = "no worse than the other candidates"
    if chosen is None:
        chosen = next(c for c in order if no_worse(c, status_quo))
        why = "no worse than the status quo" if chosen is not status_quo else "the status quo (nothing is no worse)"
    shown = "; ".join(f"{c.name}: " + ", ".join(f"{k} {means[c.name][k]:.2f}" for k in BUS_KPIS) for c in order)
    when = f" from {label}" if label else ""
    line = (f"buses: {chosen.name} kept ({why}): each candidate simulated as it will run{when} on "
            f"{len(seeds)} futures other than the run's own (seeds {', '.join(map(str, seeds))}, the same for "
            f"every candidate); means: {shown}")  # fmt: skip
    return Verdict(chosen, means, seeds, line)


__all__ = ["BUS_KPIS", "CARRIED_ON", "FCFS", "JUDGE_FUTURES", "NEW", "Candidate", "PlanJudge", "Verdict",
           "candidates", "choose", "judge_seeds"]  # fmt: skip
