"""Crowd staff posts: a control (a metered origin, a one-way stair) is in force only where staff are posted
within reach on foot (the simulation's rule), so a CP-SAT model over periods of `staff_period_s` (15 minutes)
posts the pools (`staff_problem` -> `StaffProblem`, `solve_staff`); the needs it covers come from the flow LP's
metering (`metering_needs`).

Variables: `y[p, n, s]` pool p holds post n in staff period s; `cov[r, s]` requirement r covered.

Constraints, each group a function:
- `add_pool_sizes`: a pool's posts, of `min_post` staff each (a control needs a team, not one person; the
  rest of the pool stays in reserve at its base), hold at most its size at once;
- `add_availability`: a pool reaches a post only after its call-up delay and the walk from its base (a pool
  on duty from the start may hold any post from the start: it was sent there before the clock started);
- `add_continuity`: a post the pool could not yet have walked to is held only if it has been held since then;
- `add_coverage`: a requirement is covered only if some held post reaches it.

Objective: uncovered requirements (weighted by the people the metering holds back), then posts opened or
closed between periods (moves), then metres walked from the bases.

Search: CP-SAT (on one worker, on deterministic time) starts from a greedy posting that keeps every constraint
(`greedy_posts`). Alone, it was slow to find postings that cover every need, and a control it left uncovered
came out of the plan: Bund 2014 at seed 6 had 52 requirement-periods uncovered after its 5 s (a meter lost its
team, and its queue flooded an entrance at 4.03 /m²), 8 after 60 s; the greedy posting covers them all.

A `delay` inject the planner is given makes the pool's teams reach posts they would not yet have reached that
much later.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np
from ortools.sat.python import cp_model

from optimizer.crowd.flow import FlowProblem
from optimizer.crowd.lp import FlowSolution
from optimizer.solving import cp_sat_limits, cp_sat_status
from scenarios.crowd import staff_reach
from scenarios.graphs import walkways
from scenarios.injects import delay_of, facts
from scenarios.pedestrian import walking_model
from scenarios.schema import CrowdScenario


@dataclass(frozen=True)
class StaffProblem:
    """Where controls need staff, when, and who can get there."""

    period_s: float
    n_periods: int
    pools: tuple[str, ...]
    size: tuple[int, ...]
    posts: tuple[str, ...]  # candidate posts: nodes that reach some requirement
    ready: np.ndarray  # (pools, posts) seconds from the start until the pool can hold the post
    walk_m: np.ndarray  # (pools, posts) metres from the pool's base
    requirements: tuple[str, ...]  # nodes a control acts at
    need: np.ndarray  # (requirements, periods) weight (people held back, or 1 for a stair) when needed, else 0
    reach: tuple[frozenset[int], ...]  # for each requirement, the posts that reach it
    min_post: int
    start_s: float
    on_duty: tuple[bool, ...] = ()  # pools with no call-up delay: at any post from the start
    callup: tuple[float, ...] = ()  # each pool's call-up delay, seconds (from `start_s` at the earliest)
    walk_s: np.ndarray | None = None  # (pools, posts) seconds on foot from the pool's base
    delays: tuple[tuple[float, str | None, float], ...] = ()  # (at_s, pool, seconds) of `delay` injects known

    def __post_init__(self) -> None:
        if not self.on_duty:
            object.__setattr__(self, "on_duty", (False,) * len(self.pools))
        if not self.callup:
            object.__setattr__(self, "callup", (0.0,) * len(self.pools))

    def leave_s(self, i: int, j: int, s: int) -> float:
        """When a team of pool `i` sets off from its base to hold post `j` from staff period `s`: its walk and the
        delays known to hold it up by then before the period starts, and never before the plan's start (a team
        already at the post, re-planned, is counted from the start). The plan's assignment starts then
        (`optimizer.crowd.report`), and the pool's size counts the team from then (`add_pool_sizes`)."""
        begin = self.start_s + s * self.period_s
        walk = float(self.walk_s[i, j]) if self.walk_s is not None else float(self.ready[i, j] - self.callup[i])
        late = sum(d for at, who, d in self.delays if who == self.pools[i] and at <= begin)
        return max(self.start_s, begin - walk - late)


@dataclass(frozen=True)
class StaffSolution:
    status: str
    objective: float | None
    bound: float | None
    wall_s: float
    x: np.ndarray | None = None  # (pools, posts, periods) staff posted
    covered: np.ndarray | None = None  # (requirements, periods) bool


def staff_problem(scenario: CrowdScenario, graph: nx.DiGraph, *, need: dict[str, np.ndarray], period_s: float,
                  n_periods: int, min_post: int, start_s: float = 0.0,
                  posted: dict[tuple[str, str], int] | None = None) -> StaffProblem:  # fmt: skip
    """Candidate posts (within reach of a requirement on foot) and when each pool can reach them.

    Re-planned at `start_s` > 0, a pool holds the posts it is at (`posted`, from the state) from the start and
    reaches the others from its base, leaving no earlier than `start_s` (and its call-up)."""
    walk = walkways(graph)
    speed = walking_model(scenario.walking)[0].free_speed
    requirements = tuple(r for r in need if r in walk)
    near: dict[str, dict[str, float]] = {
        r: staff_reach(walk, r) for r in requirements
    }  # fmt: skip
    posts = tuple(sorted({n for d in near.values() for n in d}))
    index = {n: i for i, n in enumerate(posts)}
    pools = tuple(p for p, team in scenario.staff.items() if team.count >= min_post and team.base in walk)
    ready = np.full((len(pools), len(posts)), np.inf)
    walk_m = np.full((len(pools), len(posts)), np.inf)
    delays = tuple((inj.at_s, inj.target, delay_of(inj)) for inj in facts(scenario.injects) if inj.kind == "delay")
    leave = [max(scenario.staff[p].callup_delay_s, start_s) for p in pools]  # the earliest each can set off
    for i, name in enumerate(pools):
        team = scenario.staff[name]
        dist = nx.single_source_dijkstra_path_length(walk, team.base, weight="length_m")
        for j, n in enumerate(posts):
            if n in dist:
                walk_m[i, j] = dist[n]
                # A delay reaches the teams not yet at their posts when it comes (as in the simulation).
                ready[i, j] = _delayed(leave[i] + dist[n] / speed, name, delays)
            if start_s > 0 and (posted or {}).get((name, n), 0) > 0:
                ready[i, j] = start_s  # there already
    return StaffProblem(
        period_s=period_s, n_periods=n_periods, pools=pools, size=tuple(scenario.staff[p].count for p in pools),
        posts=posts, ready=ready, walk_m=walk_m, requirements=requirements,
        need=np.array([need[r] for r in requirements]).reshape(len(requirements), n_periods),
        reach=tuple(frozenset(index[n] for n in near[r]) for r in requirements), min_post=min_post, start_s=start_s,
        on_duty=tuple(scenario.staff[p].callup_delay_s <= 0 and not any(pool == p and at <= start_s
                                                                        for at, pool, _ in delays) for p in pools),
        callup=tuple(float(x) for x in leave), walk_s=walk_m / speed, delays=delays,
    )  # fmt: skip


def _delayed(arrive_s: float, pool: str, delays: tuple[tuple[float, str | None, float], ...]) -> float:
    """When a team of `pool` due at `arrive_s` arrives, after the delays that come before it has arrived (or as
    it arrives: the simulation counts those too)."""
    for at_s, target, late in sorted(delays, key=lambda d: d[0]):
        if target == pool and at_s <= arrive_s:
            arrive_s += late
    return arrive_s


def busy_from(p: StaffProblem, keys: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int, int], int]:
    """For each (pool, post, period) a team may hold, the first staff period its pool counts the team as busy:
    when it leaves the base (`StaffProblem.leave_s`), or the period itself."""
    return {(i, j, s): min(s, int((p.leave_s(i, j, s) - p.start_s) // p.period_s)) for i, j, s in keys}


def add_pool_sizes(model: cp_model.CpModel, y: dict, p: StaffProblem) -> None:
    # A pool's posts (of `min_post` staff each) hold at most its size at once, counting a post from when its
    # team leaves the base (`StaffProblem.leave_s`, the same time the plan's assignment starts: the plan must
    # never post more than a pool has, whatever the splice or the check that reads it). A pool on duty at the
    # start is there; a team already at a post when re-planned is counted from the start.
    first_busy = busy_from(p, y)
    ahead = max((s - b for (_i, _j, s), b in first_busy.items()), default=0)
    for i, size in enumerate(p.size):
        for s in range(p.n_periods):
            busy = []
            for j in range(len(p.posts)):
                window = [y[i, j, t] for t in range(s, min(s + ahead + 1, p.n_periods))
                          if (i, j, t) in y and first_busy[i, j, t] <= s]  # fmt: skip
                if len(window) == 1:
                    busy.append(window[0])
                elif window:
                    either = model.new_bool_var("")
                    model.add_max_equality(either, window)
                    busy.append(either)
            model.add(p.min_post * sum(busy) <= size)


def add_availability(p: StaffProblem) -> list[tuple[int, int, int]]:
    # A pool holds a post only from the period after its call-up delay and walk are over (so no variable
    # exists for the periods before); a pool on duty from the start holds any post from the start (it was
    # sent there before the clock started).
    out = []
    for i in range(len(p.pools)):
        for j in range(len(p.posts)):
            for s in range(p.n_periods):
                at = p.start_s + s * p.period_s
                if p.ready[i, j] <= at + 1e-9 or (p.on_duty[i] and p.start_s <= 0 and np.isfinite(p.ready[i, j])):
                    out.append((i, j, s))
    return out


def add_continuity(model: cp_model.CpModel, y: dict, p: StaffProblem) -> None:
    # A post a team could not yet have walked to is held only by a team that has held it since the start.
    for (i, j, s), var in y.items():
        if s > 0 and p.ready[i, j] > p.start_s + s * p.period_s + 1e-9:
            model.add_implication(var, y[i, j, s - 1])


def add_coverage(model: cp_model.CpModel, y: dict, cov: dict, p: StaffProblem) -> None:
    # A requirement is covered in a period only if some held post reaches it.
    for (r, s), var in cov.items():
        model.add_bool_or([y[i, j, s] for i in range(len(p.pools)) for j in p.reach[r] if (i, j, s) in y] +
                        [var.Not()])  # fmt: skip


def greedy_posts(p: StaffProblem, keys: Iterable[tuple[int, int, int]]) -> tuple[set[tuple[int, int, int]], np.ndarray]:
    """A posting that satisfies every constraint of the model, built period by period: while some requirement
    needed in the period is uncovered, post the team (pool, post) that covers the most uncovered need, a team
    already there before a new one, then the shorter walk. Returns the posts held and the requirements covered.

    CP-SAT starts from it (`solve_staff`): on one worker, its own search is slow to find postings that cover
    every need (Bund 2014 at seed 6: 52 requirement-periods left uncovered after 5 s, 8 after 60 s, where this
    covers all in a tenth of a second)."""
    avail = set(keys)
    first_busy = busy_from(p, avail)
    teams = [size // p.min_post for size in p.size]
    busy: list[list[set[int]]] = [[set() for _ in range(p.n_periods)] for _ in p.pools]
    covers: list[list[int]] = [[] for _ in p.posts]
    for r, posts in enumerate(p.reach):
        for j in posts:
            covers[j].append(r)
    held: set[tuple[int, int, int]] = set()
    covered = np.zeros(p.need.shape, dtype=bool)
    for s in range(p.n_periods):
        at = p.start_s + s * p.period_s

        def fits(i: int, j: int, s: int = s, at: float = at) -> bool:
            k = (i, j, s)
            if k not in avail or k in held:
                return False
            if s > 0 and p.ready[i, j] > at + 1e-9 and (i, j, s - 1) not in held:
                return False  # `add_continuity`
            return all(j in busy[i][t] or len(busy[i][t]) < teams[i] for t in range(first_busy[k], s + 1))

        def gain(j: int, s: int = s) -> float:
            return float(sum(p.need[r, s] for r in covers[j] if p.need[r, s] > 0 and not covered[r, s]))

        # Lazy greedy: a team's gain only falls as others cover its requirements, so a heap of stale gains (upper
        # bounds) gives the best team once its top entry is current; ties go to the lower (post, pool), as a
        # scan of every team would choose. A team that no longer fits never fits again in this period.
        heap = []
        for j in range(len(p.posts)):
            g = gain(j)
            if g > 0:
                for i in range(len(p.pools)):
                    if (i, j, s) in avail:
                        heap.append((-g, (i, j, s - 1) not in held, float(p.walk_m[i, j]), j, i))
        heapq.heapify(heap)
        while heap:
            stale, away, walk, j, i = heapq.heappop(heap)
            g = gain(j)
            if g <= 0:
                continue
            if g < -stale:
                heapq.heappush(heap, (-g, away, walk, j, i))
                continue
            if not fits(i, j):
                continue
            held.add((i, j, s))
            for t in range(first_busy[i, j, s], s + 1):
                busy[i][t].add(j)
            for r in covers[j]:
                covered[r, s] |= bool(p.need[r, s] > 0)
    return held, covered


def staff_model(p: StaffProblem) -> tuple[cp_model.CpModel, dict, dict]:
    """The CP-SAT model, its posts `y[pool, post, period]` and its coverage `cov[requirement, period]`.

    Objective: uncovered need (scaled to integers), then posts opened or closed (moves), then metres walked."""
    model = cp_model.CpModel()
    y = {k: model.new_bool_var(f"y{k}") for k in add_availability(p)}
    cov = {(r, s): model.new_bool_var(f"c{r},{s}") for r in range(len(p.requirements)) for s in range(p.n_periods)
           if p.need[r, s] > 0}  # fmt: skip
    add_pool_sizes(model, y, p)
    add_continuity(model, y, p)
    add_coverage(model, y, cov, p)
    top = max(1.0, float(p.need.max()) if p.need.size else 1.0)
    uncovered = [max(1, round(1000 * p.need[r, s] / top)) * (1 - var) for (r, s), var in cov.items()]
    moves = []
    for (i, j, s), var in y.items():
        prev = y.get((i, j, s - 1))
        if prev is None:
            moves.append(var)
            continue
        change = model.new_bool_var("")
        model.add(change >= var - prev)
        model.add(change >= prev - var)
        moves.append(change)
    walked = [int(p.walk_m[i, j] // 100) * y[i, j, s] for (i, j, s) in y]
    model.minimize(1_000_000 * sum(uncovered) + 1_000 * sum(moves) + sum(walked))
    return model, y, cov


def solve_staff(p: StaffProblem, *, time_limit_s: float = 10.0, workers: int = 2, seed: int = 0,
                deterministic: bool = True) -> StaffSolution:  # fmt: skip
    """Post the pools so that every control is staffed when it is needed, with few moves and short walks,
    starting from the greedy posting (`greedy_posts`)."""
    started = time.perf_counter()
    model, y, cov = staff_model(p)
    start, start_cov = greedy_posts(p, y)
    for k, var in y.items():
        model.add_hint(var, k in start)
    for (r, s), var in cov.items():
        model.add_hint(var, bool(start_cov[r, s]))
    solver = cp_model.CpSolver()
    cp_sat_limits(solver.parameters, time_limit_s, workers=workers, deterministic=deterministic)
    solver.parameters.random_seed = seed
    code = solver.solve(model)
    status = cp_sat_status(code)
    wall = time.perf_counter() - started
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return StaffSolution(status, None, solver.best_objective_bound, wall)
    xs = np.zeros((len(p.pools), len(p.posts), p.n_periods), dtype=np.int64)
    for (i, j, s), var in y.items():
        xs[i, j, s] = p.min_post * solver.value(var)
    covered = np.zeros(p.need.shape, dtype=bool)
    for (r, s), var in cov.items():
        covered[r, s] = bool(solver.value(var))
    return StaffSolution(status, solver.objective_value, solver.best_objective_bound, wall, xs, covered)


def staff_periods(problem: FlowProblem, t: int, staff_period_s: float, n_staff: int) -> range:
    """The staff periods LP period t overlaps."""
    a = problem.period_s * t
    b = problem.period_s * (t + 1) - 1e-6
    return range(min(n_staff - 1, int(a // staff_period_s)), min(n_staff - 1, int(b // staff_period_s)) + 1)


def metering_needs(problem: FlowProblem, sol: FlowSolution, staff_period_s: float, n_staff: int,
                   lead: int = 2) -> dict[str, np.ndarray]:  # fmt: skip
    """People held back per origin and staff period (at a period's start or end), from `lead` staff periods before
    the LP first holds people back there (the team walks from its base first) to the end (the meter stays on:
    `optimizer.crowd.report`)."""
    assert sol.queue is not None
    need: dict[str, np.ndarray] = {}
    for o, name in enumerate(problem.origins):
        # Held back in a period: at its start or its end (a queue the LP lets in within one period still wants a
        # meter to let it in at the LP's rate: `optimizer.crowd.report._meter_actions`).
        held = np.maximum(sol.queue[o, :-1], sol.queue[o, 1:])
        holding = np.flatnonzero((held > 0.5) & problem.meterable[o])
        if not holding.size:
            continue
        need[name] = _need(problem, held, range(int(holding[0]), problem.n_periods), staff_period_s, n_staff, lead)
    return need


def _need(problem: FlowProblem, people: np.ndarray, periods: Iterable[int], staff_period_s: float, n_staff: int,
          lead: int) -> np.ndarray:  # fmt: skip
    """Per staff period, the most `people` (at least 1) in the LP periods `periods` it overlaps, and from `lead`
    staff periods before each (the team walks there first)."""
    weights = np.zeros(n_staff)
    for t in periods:
        claim = max(float(people[t]), 1.0)
        for s in staff_periods(problem, int(t), staff_period_s, n_staff):
            weights[max(0, s - lead) : s + 1] = np.maximum(weights[max(0, s - lead) : s + 1], claim)
    return weights


def covered_periods(problem: FlowProblem, covered: np.ndarray | None, staff_period_s: float,
                    n_staff: int) -> np.ndarray:  # fmt: skip
    """Per LP period, whether a requirement's `covered` staff periods (None: it has none) cover all it overlaps."""
    out = np.zeros(problem.n_periods, dtype=bool)
    if covered is not None:
        for t in range(problem.n_periods):
            out[t] = all(bool(covered[s]) for s in staff_periods(problem, t, staff_period_s, n_staff))
    return out


def holding_needs(problem: FlowProblem, sol: FlowSolution, staff_period_s: float, n_staff: int,
                  lead: int = 2) -> dict[str, np.ndarray]:  # fmt: skip
    """People held in place per viewing area and staff period, where the LP holds them past their time (not a
    show: it holds them whatever the plan does), or lets them go in the period a show ends (`released_at_once`),
    from `lead` staff periods before (the team walks there first) to the last period it holds anyone there."""
    if sol.held is None or sol.released is None:
        return {}
    need: dict[str, np.ndarray] = {}
    surge = released_at_once(problem, sol)
    for d, name in enumerate(problem.destinations):
        people = np.maximum(sol.held[d], np.where(surge[d], sol.released[d], 0.0))
        holding = np.flatnonzero((sol.held[d] > 0.5) | surge[d])
        if not holding.size:
            continue
        need[name] = _need(problem, people, holding, staff_period_s, n_staff, lead)
    return need


def released_at_once(problem: FlowProblem, sol: FlowSolution) -> np.ndarray:
    """(destinations, periods): where the LP lets people go in the period a show's hold ends (`FlowProblem.surges`)
    at a place the plan may hold them: without a hold they would all go in its first minutes, where the LP spreads
    them over the period, so a hold lets them go at the LP's rate, and a team must be there to hold it."""
    if sol.released is None or problem.holdable is None:
        return np.zeros((len(problem.destinations), problem.n_periods), dtype=bool)
    return problem.surges() & problem.holdable & (sol.released > 0.5)
