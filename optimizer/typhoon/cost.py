"""The typhoon model's objective for a given schedule, as a pure function (`fluid_cost`), and the rules a
schedule must keep (`schedule_feasible`).

The same objective as the CP-SAT model (`optimizer.typhoon.model`), evaluated by walking the fluid model
forward: the brute-force tests check the model against it, and the search costs its first schedules with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.typhoon.problem import PER_MILLE, SCALE, TyphoonProblem


@dataclass(frozen=True)
class FluidCost:
    """The fluid model's outcome for one schedule."""

    objective_int: int
    rider_wait_h: float  # in the backlog and waiting for the next batch
    stranded: float  # gave up in the backlog, or (expected) on the way to a batch
    vehicle_h: float
    carried: np.ndarray  # [O, W, P]
    backlog: np.ndarray  # [O, P + 1]
    gave_up: np.ndarray  # [O, P]
    queue: np.ndarray  # [W, P + 1]

    @property
    def objective(self) -> float:
        return self.objective_int / SCALE


def schedule_feasible(problem: TyphoonProblem, clear: np.ndarray) -> bool:
    """Whether a lane schedule `clear[w, p]` keeps the minimum clearing time inside the window and clears no more
    lanes at once than there are teams."""
    n, m = problem.n_periods, problem.min_clear
    clear = np.asarray(clear, dtype=bool)
    starts = clearing_starts(problem, clear)
    for k in range(1, m):  # a clearing that starts in p is still on in p + k, inside the window
        on = np.zeros_like(clear)
        on[:, : max(0, n - k)] = clear[:, k:]
        if (starts & ~on).any():
            return False
    return bool((clear.sum(axis=0) <= problem.teams).all())  # each cleared lane needs a team


def clearing_starts(problem: TyphoonProblem, clear: np.ndarray) -> np.ndarray:
    """Where a clearing starts: a way cleared in p and not in p - 1 (or, for p = 0, not at the window's start)."""
    before = np.concatenate([problem.cleared0[:, None], clear[:, :-1]], axis=1) if clear.size else clear
    return clear & ~before


def even_teams(problem: TyphoonProblem, clear: np.ndarray) -> np.ndarray:
    """Teams split as evenly as possible over the ways cleared in each period (earlier ways get the remainder)."""
    teams = np.zeros(clear.shape, dtype=np.int64)
    for p in range(problem.n_periods):
        on = np.flatnonzero(clear[:, p])
        for j, w in enumerate(on):
            teams[w, p] = problem.teams // len(on) + (1 if j < problem.teams % len(on) else 0)
    return teams


def fluid_cost(problem: TyphoonProblem, clear: np.ndarray, teams: np.ndarray | None = None,
               carried: np.ndarray | None = None, sent: dict[int, int] | None = None) -> FluidCost:  # fmt: skip
    """The model's objective for a schedule, as a pure function.

    `teams` defaults to `even_teams`; `sent` (origin index -> way index) to each origin's first way within
    reach; `carried[o, w, p]` defaults to carrying as many as possible, origins in order. That greedy carrying
    is the model's optimum for the schedule when one origin uses one way with a constant team count and the
    window ends while the ferries are still suspended (carrying now then never costs more than later); otherwise
    it is a feasible, possibly dearer, choice.
    Raises ValueError if the schedule breaks the model's rules.
    """
    P, W, NO = problem.n_periods, len(problem.ways), len(problem.origins)
    clear = np.asarray(clear, dtype=bool).reshape(W, P)
    if not schedule_feasible(problem, clear):
        raise ValueError("clear: a clearing is shorter than the minimum or runs past the window")
    teams = even_teams(problem, clear) if teams is None else np.asarray(teams, dtype=np.int64)
    if (teams[~clear] > 0).any() or (teams[clear] < 1).any() or (teams.sum(axis=0) > problem.teams).any():
        raise ValueError("teams: teams at an open way or more teams than there are")
    starts = clearing_starts(problem, clear)
    room = np.where(starts, problem.first_rate[:, None] * teams, problem.team_rate[:, None] * teams)
    wait_c, strand_c, veh_c = problem.coefficients
    if sent is None:
        sent = {o: int(np.flatnonzero(problem.reach[o])[0]) for o in range(NO) if problem.reach[o].any()}
    # Where each origin's riders may be carried, in the order they are tried (plain ints: this runs in loops).
    where = [[w for w in range(W) if problem.reach[o, w] and w == sent.get(o, w)] for o in range(NO)]
    suspended, arrivals, rooms = problem.suspended.tolist(), problem.arrivals.tolist(), room.T.tolist()
    given = carried.tolist() if carried is not None else None
    rate = problem.abandon_per_mille
    out = np.zeros((NO, W, P), dtype=np.int64)
    backlog, gave_up = np.zeros((NO, P + 1), dtype=np.int64), np.zeros((NO, P), dtype=np.int64)
    b = [int(v) for v in problem.waiting0]
    backlog[:, 0] = b
    wait_units, stranded = 0, 0
    for p in range(P):
        left = rooms[p]
        nxt = [0] * NO
        for o in range(NO):
            if not suspended[o][p]:
                continue  # the ferries run: the backlog crosses by ferry
            give_up = (rate * b[o]) // PER_MILLE
            gave_up[o, p] = give_up
            stranded += give_up
            avail = b[o] - give_up + arrivals[o][p]
            for w in where[o]:
                take = given[o][w][p] if given is not None else min(avail, left[w])
                if take > left[w] or take > avail or take < 0:
                    raise ValueError(f"carried[{o}, {w}, {p}]: {take} is more than the room or the riders")
                out[o, w, p] = take
                left[w] -= take
                avail -= take
            nxt[o] = avail
        wait_units += sum(b) + sum(nxt)
        b = nxt
        backlog[:, p + 1] = b
    stranded += sum(b)  # still waiting at the window's end, the ferries still suspended
    queue = np.zeros((W, P + 1), dtype=np.int64)
    q = queue[:, 0] = problem.queued0.astype(np.int64).copy()
    veh_units = 0
    for p in range(P):
        cap = np.where(clear[:, p], problem.cap_cleared[:, p], problem.cap_open[:, p])
        nq = np.maximum(0, q + problem.demand[:, p] - cap)
        veh_units += int(q.sum() + nq.sum())
        q = queue[:, p + 1] = nq
    through, per_way, ways = out.sum(axis=0), out.sum(axis=2), np.arange(W)[:, None]
    t = problem.per_rider
    batch = int((t.batch_cost[ways, teams] * through).sum())
    batch_h = float((t.batch_wait_h[ways, teams] * through).sum())
    ride = int((t.ride_cost * per_way).sum())
    lost = float((problem.give_up_riding * per_way).sum()) + float((t.batch_lost[ways, teams] * through).sum())
    objective = wait_c * wait_units + strand_c * stranded + veh_c * veh_units + batch + ride
    half_h = problem.period_s / 7200
    return FluidCost(objective_int=int(objective), rider_wait_h=float(wait_units * half_h + batch_h),
                     stranded=float(stranded + lost),
                     vehicle_h=veh_units * half_h, carried=out, backlog=backlog, gave_up=gave_up,
                     queue=queue)  # fmt: skip
