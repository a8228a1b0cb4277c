"""The riders' routing decided before the lanes: the two-stage search's first stage.

Why. The full model's LP relaxation sends each bank area's riders to two or three tunnel directions at once, each
cleared a fraction of the time; with every area's direction fixed, the same LP is within a few thousandths of the
optimum (issue 18, measured on the rolling day's 03:00 window: 302.773 against 302.775). So the search fixes the
routing first and proves the lanes and teams under it, which CP-SAT does in well under a second where the full
model's bound stays 10-65% short.

Stage 1 (`candidate_routings`): the distinct routings (each bank area to one tunnel direction, `Routing`) of the
schedules given (a previous solution, say) and then of every static schedule (`static_schedules`: a set of up to
`teams` ways, each area sent to the nearest), in the order of their cheapest schedule's fluid cost, the first
`count`; each comes with that schedule, the start of its second stage.
Stage 2 (`routed`): the window on the routing's ways only, each area reaching only its own way; the CP-SAT model on
it is the full model with the routing variables fixed (`y[o, w]` = 1 on the routing) and the ways no area is sent
to left open (their queues a constant, `Routed.open_cost`).

How the stages relate to the full model: each second stage is the full model with more constraints, so its optimum
is at least the full model's; the bound the search reports is the least of the candidates' bounds, a proven bound
on the best plan over the candidate routings, not over every routing. How far that is from the full model's
optimum is measured, not proven: `benchmarks/typhoon_rolling.py --full-check S` solves the full model with a long
limit on each window (benchmarks/README.md, "Typhoon rolling windows: the riders' routing first").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimizer.typhoon.cost import fluid_cost
from optimizer.typhoon.problem import TyphoonProblem
from optimizer.typhoon.static import Schedule, static_schedules

Routing = tuple[tuple[int, int], ...]  # (origin, way) index pairs, by origin


def routing_of(schedule: Schedule) -> Routing:
    """A schedule's routing: where each origin it sends anywhere is sent."""
    return tuple(sorted(schedule.sent.items()))


@dataclass(frozen=True)
class Routed:
    """A window with its routing fixed: `problem` holds only the routing's ways (`ways`, their indexes in the full
    window), each origin reaching only its own; the other ways stay open and cost `open_cost` (objective units:
    their vehicle queues, whatever the schedule), so a schedule's full objective is its objective here plus that."""

    problem: TyphoonProblem
    ways: tuple[int, ...]
    open_cost: int

    def narrow(self, schedule: Schedule) -> Schedule:
        """A full window's schedule (on this routing) in this problem's terms."""
        ways = list(self.ways)
        sent = {o: ways.index(w) for o, w in schedule.sent.items()}
        clear, teams = schedule.clear[ways], schedule.teams[ways]
        return Schedule(clear, teams, sent, fluid_cost(self.problem, clear, teams, sent=sent))

    def widen(self, full: TyphoonProblem, clear: np.ndarray, teams: np.ndarray,
              carried: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """A schedule here (lanes, teams, riders carried) as the full window's arrays, the other ways open."""
        W, P, ways = len(full.ways), full.n_periods, list(self.ways)
        wide_clear, wide_teams = np.zeros((W, P), dtype=bool), np.zeros((W, P), dtype=np.int64)
        wide_carried = np.zeros((len(full.origins), W, P), dtype=np.int64)
        wide_clear[ways], wide_teams[ways], wide_carried[:, ways] = clear, teams, carried
        return wide_clear, wide_teams, wide_carried


def routed(problem: TyphoonProblem, routing: Routing) -> Routed:
    """The window with its routing fixed (an origin the routing leaves out reaches nothing: its riders wait, give
    up or cross by ferry once the ferries run), on the routing's ways only."""
    for o, w in routing:
        if not problem.reach[o, w]:
            raise ValueError(f"routing: origin {problem.origins[o]} cannot reach {problem.ways[w]}")
    ways = tuple(sorted({w for _o, w in routing}))
    reach = np.zeros((len(problem.origins), len(ways)), dtype=bool)
    for o, w in routing:
        reach[o, ways.index(w)] = True
    k = list(ways)
    sub = replace(problem, ways=tuple(problem.ways[w] for w in ways), reach=reach, cycle_s=problem.cycle_s[k],
                  give_up_riding=problem.give_up_riding[:, k], give_up_batch=problem.give_up_batch[k],
                  team_rate=problem.team_rate[k], first_rate=problem.first_rate[k], demand=problem.demand[k],
                  cap_open=problem.cap_open[k], cap_cleared=problem.cap_cleared[k], queued0=problem.queued0[k],
                  cleared0=problem.cleared0[k])  # fmt: skip
    others = [w for w in range(len(problem.ways)) if w not in ways]
    return Routed(sub, ways, problem.coefficients[2] * open_queue_units(problem, others))


def open_queue_units(problem: TyphoonProblem, ways: list[int]) -> int:
    """Vehicle-half-periods queued at these ways left open all window (the fluid queue, as `fluid_cost` counts)."""
    q = problem.queued0[ways].astype(np.int64)
    units = 0
    for p in range(problem.n_periods):
        nq = np.maximum(0, q + problem.demand[ways, p] - problem.cap_open[ways, p])
        units += int(q.sum() + nq.sum())
        q = nq
    return units


def candidate_routings(problem: TyphoonProblem, starts: tuple[Schedule, ...], count: int,
                       ) -> list[tuple[Routing, Schedule]]:  # fmt: skip
    """Stage 1: up to `count` distinct routings, those of `starts` first (in the order given) and then those of the
    static schedules (cheapest first), each with the cheapest schedule seen for it under this problem (the second
    stage's start)."""
    out: dict[Routing, Schedule] = {}
    given = [replace(s, cost=fluid_cost(problem, s.clear, s.teams, sent=s.sent)) for s in starts]
    for schedule in [*given, *static_schedules(problem)]:
        key = routing_of(schedule)
        if key in out:
            if schedule.cost.objective_int < out[key].cost.objective_int:
                out[key] = schedule
            continue
        if len(out) < count:
            out[key] = schedule
    return list(out.items())
