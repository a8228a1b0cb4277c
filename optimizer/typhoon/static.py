"""The search's first schedules: "static" ones, a set of up to `teams` ways cleared for the whole suspension,
teams split by riders, each origin sent to its nearest way in the set (`static_schedule`), and the best of them
(`best_static_schedule`), from which CP-SAT starts; all of them, cheapest first (`static_schedules`), whose
routings the two-stage search tries (`optimizer.typhoon.routing`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from optimizer.typhoon.cost import FluidCost, fluid_cost
from optimizer.typhoon.problem import TyphoonProblem


@dataclass(frozen=True)
class Schedule:
    """A schedule in the model's terms: lanes, teams and each origin's way (indexes)."""

    clear: np.ndarray
    teams: np.ndarray
    sent: dict[int, int]
    cost: FluidCost


def static_schedule(problem: TyphoonProblem, ways: tuple[int, ...]) -> Schedule | None:
    """Clear these ways from a period before the first suspension to the end of the last, each origin sent to
    the nearest of them within reach (fewest giving up on the ride), teams split by the riders expected; None if
    no suspension, or if one of the ways would get no riders (the same set without it is the better start)."""
    P, W = problem.n_periods, len(problem.ways)
    if not ways or len(ways) > problem.teams:
        return None
    sent = {o: min((w for w in ways if problem.reach[o, w]), key=lambda w: problem.give_up_riding[o, w])
            for o in range(len(problem.origins)) if any(problem.reach[o, w] for w in ways)}  # fmt: skip
    if not sent or set(sent.values()) != set(ways):  # a way no one is sent to only costs a team and car delay
        return None
    busy = np.flatnonzero(problem.suspended.any(axis=0))
    if busy.size == 0:  # no suspension in this window (a rolling window before or after the storm)
        return None
    a, b = max(0, int(busy[0]) - 1), int(busy[-1]) + 1
    if b - a < problem.min_clear:
        a = max(0, b - problem.min_clear)
        if b - a < problem.min_clear:
            return None
    clear = np.zeros((W, P), dtype=bool)
    clear[list(ways), a:b] = True
    load = {w: 1 + sum(int(problem.arrivals[o].sum()) for o, ww in sent.items() if ww == w) for w in ways}
    split = _largest_remainder(problem.teams, load)
    teams = np.zeros((W, P), dtype=np.int64)
    for w in ways:
        teams[w, a:b] = split[w]
    return Schedule(clear, teams, sent, fluid_cost(problem, clear, teams, sent=sent))


def _largest_remainder(count: int, weights: dict[int, int]) -> dict[int, int]:
    """`count` whole teams in proportion to the weights, each key at least one (count >= keys)."""
    keys = list(weights)
    out = dict.fromkeys(keys, 1)
    rest, total = count - len(keys), sum(weights.values())
    raw = {k: rest * weights[k] / total for k in keys}
    for k in keys:
        out[k] += math.floor(raw[k])
    for k in sorted(keys, key=lambda k: math.floor(raw[k]) - raw[k])[: count - sum(out.values())]:
        out[k] += 1
    return out


def static_schedules(problem: TyphoonProblem) -> list[Schedule]:
    """Every `static_schedule` over the sets of up to `teams` ways, cheapest first (ties: in the sets' order)."""
    found = []
    for size in range(1, min(problem.teams, len(problem.ways)) + 1):
        for ways in itertools.combinations(range(len(problem.ways)), size):
            schedule = static_schedule(problem, ways)
            if schedule is not None:
                found.append(schedule)
    return sorted(found, key=lambda x: x.cost.objective_int)


def best_static_schedule(problem: TyphoonProblem) -> Schedule | None:
    """The best `static_schedule` over every set of up to `teams` ways (the search's first schedule)."""
    return next(iter(static_schedules(problem)), None)
