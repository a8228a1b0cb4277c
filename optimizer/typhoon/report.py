"""What a typhoon solution means: the plan's actions (`plan_actions`: lanes cleared, escort batches, riders'
orders), the rationale (what the schedule does and what binds, what one more team would buy), and the
trade-off points (`trade_off`: what one more cleared period costs, for the plan's `meta.trade_off`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Literal

import numpy as np

from optimizer.typhoon.cost import FluidCost
from optimizer.typhoon.problem import TyphoonProblem, Way
from optimizer.typhoon.search import TradeOffRun, TyphoonSolution
from scenarios.plan import ClearLane, DirectRiders, EscortBatch, TradeOffPoint
from scenarios.schema import TyphoonScenario, TyphoonWeights
from scenarios.typhoon import TyphoonGeometry, team_names


def _direction(d: str) -> Literal["ab", "ba"]:
    """A way's direction as a plan action takes it."""
    if d == "ab":
        return "ab"
    if d == "ba":
        return "ba"
    raise ValueError(f"way direction: {d!r} is neither 'ab' nor 'ba'")


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs `[a, b)` of True in a row."""
    out, start = [], None
    for p, on in enumerate([*row.tolist(), False]):
        if on and start is None:
            start = p
        elif not on and start is not None:
            out.append((start, p))
            start = None
    return out


def _team_intervals(teams: np.ndarray, names: list[str],
                    prior: dict[str, int] | None = None) -> list[tuple[str, int, int, int]]:  # fmt: skip
    """`(team, way, first period, end period)`: teams kept where they are as long as the count there allows; a
    team joining a way is one that was there at the state's time (`prior`: team -> way) if one is free, else the
    first free team by name."""
    W, P = teams.shape
    prior = prior or {}
    at: dict[str, int | None] = dict.fromkeys(names)
    since: dict[str, int] = dict.fromkeys(names, 0)
    out = []
    for p in range(P + 1):
        want = teams[:, p] if p < P else np.zeros(W, dtype=np.int64)
        here = {w: [t for t in names if at[t] == w] for w in range(W)}
        for w in range(W):
            for t in here[w][int(want[w]) :]:  # too many here: release the last ones
                out.append((t, w, since[t], p))
                at[t] = None
        free = [t for t in names if at[t] is None]
        need = {w: int(want[w]) - min(len(here[w]), int(want[w])) for w in range(W)}
        for w in range(W):  # the teams that were at w at the state's time go back to it first
            for t in [t for t in free if prior.get(t) == w][: need[w]]:
                free.remove(t)
                at[t], since[t] = w, p
                need[w] -= 1
        for w in range(W):
            for _ in range(need[w]):
                t = free.pop(0)
                at[t], since[t] = w, p
    return out


def _largest_gap_phase(phases: list[float], cycle: float) -> float:
    """The middle of the largest gap between `phases` on a circle of length `cycle`."""
    ring = sorted(x % cycle for x in phases)
    gaps = [((ring[(i + 1) % len(ring)] - x) % cycle or cycle, x) for i, x in enumerate(ring)]
    size, after = max(gaps, key=lambda g: (g[0], -g[1]))
    return (after + size / 2) % cycle


def batch_starts(problem: TyphoonProblem, w: int, a: int, members: list[str], *, ready_s: float,
                 cycle_s: float) -> dict[str, float]:  # fmt: skip
    """Each member's first batch start (`at_s`) on way w from period a, the lane ready from `ready_s`.

    A team that was leading batches through this way at the state's time and joins it at the window's start
    carries on in its cycle: its next batch when it is next free (the state's `EscortAt.free_s`), as the plan in
    effect had it. The others start no earlier than the lane is ready and they are free, evenly staggered over a
    cycle: from the lane's readiness when none carries on (the earliest free taking the earliest slots), else in
    the middle of the largest gap between the teams already there."""
    way = problem.ways[w]
    at0 = {e.team: e for e in problem.escorts0}
    free = {t: at0[t].free_s if t in at0 else -math.inf for t in members}
    going = {t: free[t] for t in members if a == 0 and t in at0 and at0[t].way == way
             and at0[t].free_s >= problem.start_s - 1e-6}  # fmt: skip
    starts: dict[str, float] = dict(going)
    others = sorted((t for t in members if t not in going), key=lambda t: (max(ready_s, free[t]), members.index(t)))
    if not going:
        for j, t in enumerate(others):
            starts[t] = max(ready_s + j * cycle_s / len(members), free[t])
        return starts
    phases = list(going.values())
    for t in others:
        phase = _largest_gap_phase(phases, cycle_s)
        earliest = max(ready_s, free[t])
        starts[t] = earliest + (phase - earliest) % cycle_s
        phases.append(phase)
    return starts


def plan_actions(problem: TyphoonProblem, scenario: TyphoonScenario, geo: TyphoonGeometry, *, clear: np.ndarray,
                 teams: np.ndarray, sent: dict[str, Way]) -> list[Any]:  # fmt: skip
    """Clear-lane, escort-batch and direct-riders actions that carry out a schedule, from the teams' places in
    their cycles at the window's start (`problem.escorts0`)."""
    pr, e = problem, scenario.escorts
    actions: list[Any] = []
    clear_runs: dict[int, list[tuple[float, float]]] = {}
    for w, (tunnel, d) in enumerate(pr.ways):
        clear_runs[w] = [(pr.t(a), pr.t(b)) for a, b in _runs(clear[w])]
        for a, b in clear_runs[w]:
            actions.append(ClearLane(at_s=a, tunnel=tunnel, direction=_direction(d), lanes=1, until_s=b))
    # Each team leads batches back to back while it is assigned to a cleared way (`batch_starts` for the first).
    groups: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    prior = {x.team: pr.ways.index(x.way) for x in pr.escorts0 if x.way in pr.ways}
    for team, w, a, b in _team_intervals(teams, team_names(scenario), prior):
        groups[(w, a)].append((team, b))
    changeover = scenario.lanes.changeover_s
    for (w, a), members in sorted(groups.items()):
        tunnel, d = pr.ways[w]
        transit, cycle = geo.transit_s(tunnel, d), geo.cycle_s(tunnel, d)
        lane_a, lane_b = next((lo, hi) for lo, hi in clear_runs[w] if lo <= pr.t(a) < hi)
        # A lane cleared since before the window (the splice carries its clearing on) needs no changeover.
        carried = a == 0 and lane_a == pr.t(0) and bool(pr.cleared0[w])
        ready = pr.t(a) if carried else max(pr.t(a), lane_a + changeover - e.setup_s)
        starts = batch_starts(pr, w, a, [t for t, _ in members], ready_s=ready, cycle_s=cycle)
        for team, b in members:
            at = starts[team]
            while at + e.setup_s + transit <= min(pr.t(b), lane_b) + 1e-9:
                actions.append(EscortBatch(at_s=round(at, 3), tunnel=tunnel, direction=_direction(d), team=team,
                                           max_riders=e.batch_size))  # fmt: skip
                at += cycle
    # Riders of each origin are sent to the way the model chose for them for each of their suspensions in the
    # window in which it is cleared at all; they wait there for the next batch (as the fluid backlog does).
    for o, origin in enumerate(pr.origins):
        way = sent.get(origin)
        if way is None:
            continue
        w = pr.ways.index(way)
        node = geo.points[geo.point_index[f"escort:{way[0]}:{way[1]}"]].node
        for a, b in _runs(pr.suspended[o]):
            if clear[w, a:b].any():
                actions.append(DirectRiders(at_s=pr.t(a), origin=origin, to=node, share=1.0, until_s=pr.t(b)))
    return actions


def _way(w: Way) -> str:
    return f"{w[0]} {w[1]}"


def describe_schedule(problem: TyphoonProblem, scenario: TyphoonScenario, sol: TyphoonSolution) -> list[str]:
    """What the schedule does and what binds."""
    assert sol.clear is not None and sol.teams is not None and sol.cost is not None
    lines = []
    for w, way in enumerate(problem.ways):
        runs = _runs(sol.clear[w])
        if not runs:
            continue
        when = ", ".join(f"{scenario.clock.label(problem.t(a))}-{scenario.clock.label(problem.t(b))}"
                         for a, b in runs)  # fmt: skip
        room = problem.team_rate[w] * sol.teams[w]
        used = sol.cost.carried[:, w, :].sum(axis=0)
        full = int(((room > 0) & (used >= room)).sum())
        lines.append(f"clear one lane of {_way(way)} {when}, {sol.teams[w].max()} team(s) at most; escort capacity "
                     f"full in {full} of {int(sol.clear[w].sum())} periods")  # fmt: skip
    if not lines:
        lines.append("clear nothing: the weighted car delay outweighs the riders' waiting")
    return lines


def describe_cost(problem: TyphoonProblem, scenario: TyphoonScenario, cost: FluidCost) -> str:
    """The fluid model's outcome for the plan's schedule, in one line."""
    return (f"fluid model: {cost.rider_wait_h:.0f} rider-hours waiting, {cost.stranded:.0f} riders stranded, "
            f"{cost.vehicle_h:.0f} vehicle-hours of delay over {problem.n_periods} periods of "
            f"{problem.period_s / 60:g} min from {scenario.clock.label(problem.start_s)}")  # fmt: skip


def describe_extra_team(problem: TyphoonProblem, sol: TyphoonSolution, more: TyphoonSolution,
                        time_limit_s: float) -> tuple[dict[str, float], list[str]]:  # fmt: skip
    """What one more escort team would buy (`more`: the window solved with it), as details and a rationale line;
    nothing if either solve found no schedule."""
    if more.objective is None or sol.objective is None:
        return {}, []
    gain = sol.objective - more.objective
    return ({"extra_team_objective": more.objective},
            [f"one more escort team ({problem.teams + 1}) would lower the objective by {gain:.1f} "
             f"to {more.objective:.1f} ({more.status}, {time_limit_s:g} s)"])  # fmt: skip


def trade_off(problem: TyphoonProblem, weights: TyphoonWeights, runs: list[TradeOffRun], chosen: TradeOffRun,
              dropped: list[TradeOffRun]) -> tuple[dict[str, float], list[TradeOffPoint], list[str]]:  # fmt: skip
    """The trade-off points offered (rider-hours waiting, riders stranded, vehicle-hours, lane-periods cleared;
    the one this plan carries out marked) as details, the plan's `meta.trade_off` and rationale lines: which
    point the plan carries out, how to pick another, and the points left out as dominated or repeated."""
    details: dict[str, float] = {}
    points: list[TradeOffPoint] = []
    lines: list[str] = []
    for run in runs:
        i, point, clear = run.index, run.cost, run.clear
        weight = weights.vehicle_delay_per_h * run.factor
        cleared = int(clear.sum())
        cleared_ways = tuple(_way(way) for k, way in enumerate(problem.ways) if clear[k].any())
        details.update({f"pareto_{i}_vehicle_weight": weight,
                        f"pareto_{i}_rider_wait_h": point.rider_wait_h,
                        f"pareto_{i}_riders_stranded": float(point.stranded),
                        f"pareto_{i}_vehicle_h": point.vehicle_h,
                        f"pareto_{i}_cleared_periods": float(cleared)})  # fmt: skip
        points.append(TradeOffPoint(vehicle_weight=weight, rider_wait_h=point.rider_wait_h,
                                    riders_stranded=float(point.stranded), vehicle_h=point.vehicle_h,
                                    cleared_periods=cleared, cleared_ways=cleared_ways, period_s=problem.period_s,
                                    chosen=run is chosen, name=run.name))  # fmt: skip
        mark = " (this plan)" if run is chosen else ""
        lines.append(f"trade-off point '{run.name}'{mark}, car delay weighted {weight:g}/h: "
                     f"{point.rider_wait_h:.0f} rider-hours waiting, {point.stranded:.0f} stranded, "
                     f"{point.vehicle_h:.0f} vehicle-hours, {cleared} lane-periods cleared")  # fmt: skip
    others = [r.name for r in runs if r is not chosen]
    if others:
        lines.insert(0, f"this plan is the trade-off point '{chosen.name}' (rider wait against car delay); to carry "
                        f"out another, set weights.trade_off to {' or '.join(repr(n) for n in others)}")  # fmt: skip
    for run in dropped:
        same = next((r for r in runs if np.allclose(r.outcome, run.outcome, rtol=0, atol=1e-9)), None)
        why = (f"the same outcome as '{same.name}'" if same is not None else
               "another point is no worse in rider wait, riders stranded and car delay, and better in one")
        lines.append(f"trade-off point '{run.name}' not offered: {why}")
    return details, points, lines
