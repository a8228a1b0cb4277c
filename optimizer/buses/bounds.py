"""Schedules without a solver: scoring one, greedy ones to start from, a coarse one carried to a finer grid, and
the lower bounds on the last departure that the search starts from.

- `score_schedule`: board riders first come first served under a schedule and measure what the model's
  objective terms are for it (the search judges every plan so, whichever solver found it);
- `greedy_schedule`: every idle bus leaves at once (two rules); the better of the two is the search's first plan;
- `regrid_schedule`: a coarser grid's plan on a finer grid (a start for the fine search);
- `arrival_bound`, `flow_bound`, `own_bound`: the last rider's arrival plus loading, and the fleet-capacity flow
  bound (trips each bay needs against trips its buses can start), in phase 1's units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from optimizer.buses.forecast import EPS
from optimizer.buses.problem import BusProblem


@dataclass(frozen=True)
class BusScore:
    """A dispatch schedule scored on the model's grid: what the model's objective terms are for it."""

    stranded: int
    last_step: int | None  # first j by which every rider is carried (None if some are stranded)
    last_departure_s: float | None
    wait_rider_s: float  # rider-seconds waited after reaching the bay, from t_j on (the model's measure)
    bus_km: float  # round trips only (the depot-to-bay drives are the same in every plan)
    trips: int
    carried: np.ndarray  # [bay, dest, j]: riders carried by the dispatch at t_j
    fleet_shortfall: int  # most buses a schedule asks for beyond those idle at a bay (0: executable)
    max_out: int  # most buses on trips at once


def score_schedule(problem: BusProblem, dispatch: np.ndarray) -> BusScore:
    """Board riders first come first served under a schedule `dispatch[bay, dest, j]` and score it."""
    p = problem
    b_n, d_n, g = p.riders.shape
    carried = np.zeros_like(p.riders)
    cum = np.zeros((b_n, d_n), dtype=np.int64)
    idle = np.zeros(b_n, dtype=np.int64)
    returns = np.zeros((b_n, g + int(p.cycle.max(initial=1)) + 1), dtype=np.int64)
    short, out, max_out, wait = 0, 0, 0, 0.0
    for j in range(g):
        idle += p.supply[:, j] + returns[:, j]
        out -= int(returns[:, j].sum())
        for i in range(b_n):
            want = int(dispatch[i, :, j].sum())
            short = max(short, want - int(idle[i]))
            idle[i] -= want
            for k in range(d_n):
                n = int(dispatch[i, k, j])
                if n:
                    take = min(n * p.capacity, int(p.riders[i, k, j] - cum[i, k]))
                    carried[i, k, j] = take
                    cum[i, k] += take
                    returns[i, j + p.cycle[i, k]] += n
                    out += n
        max_out = max(max_out, out)
        wait += float((p.riders[:, :, j] - cum).sum()) * p.bucket_s
    stranded = int((p.total - cum).sum())
    done = np.all(np.cumsum(carried, axis=2) >= p.total[:, :, None], axis=(0, 1))
    hits = np.flatnonzero(done)
    last = int(hits[0]) if stranded == 0 and hits.size else None
    if p.riders_total == 0:
        last = None
    return BusScore(
        stranded=stranded,
        last_step=last,
        last_departure_s=None if last is None else p.t(last) + p.load_s,
        wait_rider_s=wait,
        bus_km=float((dispatch * p.trip_km[:, :, None]).sum()),
        trips=int(dispatch.sum()),
        carried=carried,
        fleet_shortfall=max(0, short),
        max_out=max_out,
    )


GreedyRule = Literal["most_waiting", "shortest_cycle"]


def greedy_schedule(problem: BusProblem, rule: GreedyRule = "most_waiting") -> np.ndarray:
    """Every idle bus leaves at once: for the destination with the most riders waiting (full loads first), or,
    by `shortest_cycle`, for the one with riders waiting whose round trip is the shortest (so that the long
    trips come last, when a bus need not come back)."""
    p = problem
    b_n, d_n, g = p.riders.shape
    n = np.zeros_like(p.riders)
    cum = np.zeros((b_n, d_n), dtype=np.int64)
    idle = np.zeros(b_n, dtype=np.int64)
    returns = np.zeros((b_n, g + int(p.cycle.max(initial=1)) + 1), dtype=np.int64)
    for j in range(g):
        idle += p.supply[:, j] + returns[:, j]
        for i in range(b_n):
            waiting = p.riders[i, :, j] - cum[i]
            while idle[i] > 0 and waiting.max(initial=0) > 0:
                if rule == "most_waiting":
                    k = int(np.argmax(waiting))
                else:
                    k = int(np.argmin(np.where(waiting > 0, p.cycle[i], np.iinfo(np.int64).max)))
                n[i, k, j] += 1
                take = min(p.capacity, int(waiting[k]))
                waiting[k] -= take
                cum[i, k] += take
                idle[i] -= 1
                returns[i, j + p.cycle[i, k]] += 1
    return n


def regrid_schedule(dispatch: np.ndarray, coarse: BusProblem, fine: BusProblem) -> np.ndarray:
    """A schedule of `coarse` on `fine`'s grid: every dispatch at the same moment, which must be a moment of the
    fine grid, and not after its last step. When the fine grid's step divides the coarse one's, it rounds round
    trips and returns up less and counts riders from the same moments or later, so the plan stays feasible on
    it and carries at least as many riders by each moment (`solve_buses` checks the fleet all the same)."""
    if (coarse.bays, coarse.destinations) != (fine.bays, fine.destinations):
        raise ValueError("fine: the problems' bays and destinations differ")
    if np.shape(dispatch) != coarse.riders.shape:
        raise ValueError(f"dispatch: shape {np.shape(dispatch)} is not the coarse problem's {coarse.riders.shape}")
    out = np.zeros_like(fine.riders)
    for i, k, j in zip(*np.nonzero(dispatch), strict=True):
        q = (coarse.t(int(j)) - fine.start_s) / fine.bucket_s
        if q < -EPS or abs(q - round(q)) > 1e-6:
            raise ValueError(f"dispatch: the moment {coarse.t(int(j)):g} s is not on the fine grid "
                             f"({fine.bucket_s:g} s from {fine.start_s:g} s)")  # fmt: skip
        if round(q) >= fine.n_steps:
            raise ValueError(f"dispatch: the moment {coarse.t(int(j)):g} s is after the fine grid's last step "
                             f"({fine.t(fine.n_steps - 1):g} s); build it with min_steps")  # fmt: skip
        out[i, k, round(q)] += dispatch[i, k, j]
    return out


def arrival_bound(problem: BusProblem) -> int | None:
    """The first moment everyone can be carried is no earlier than the first by which everyone has arrived."""
    return problem.arrival_step


def flow_bound(problem: BusProblem) -> int | None:
    """Fleet-capacity flow bound: the first j by which each bay's buses can start the trips its riders need.

    A bay needs at least n_d = ceil(riders / capacity) trips to each destination d, and its buses must start
    them all by t_j:
    - by count: a bus first idle at e can start at most floor((j - e) / c) + 1 trips by t_j, c the bay's
      shortest cycle;
    - by busy time: a bus starts its next trip no sooner than a cycle after its last, so every trip but each
      bus's last keeps a bus busy for its whole cycle: sum_d n_d c_d less the cycles of the B longest trips (B
      buses idle by t_j, each with a last trip) is at most sum_b (j - e_b).
    None: never within the grid (so some rider is stranded).
    """
    p = problem
    best = 0
    for i in range(len(p.bays)):
        trips = np.array([math.ceil(t / p.capacity) for t in p.total[i]], dtype=np.int64)
        need = int(trips.sum())
        if need == 0:
            continue
        live = p.cycle[i][p.total[i] > 0]
        if np.any(live == 0):
            return None
        c = int(live.min())
        longest_first = np.sort(np.repeat(p.cycle[i], trips))[::-1]
        busy = int(longest_first.sum())
        starts = np.repeat(np.arange(p.n_steps), p.supply[i])
        found = None
        for j in range(p.n_steps):
            ready = starts[starts <= j]
            enough = int(((j - ready) // c + 1).sum()) >= need
            if enough and int((j - ready).sum()) >= busy - int(longest_first[: ready.size].sum()):
                found = j
                break
        if found is None:
            return None
        best = max(best, found)
    return best


def own_bound(problem: BusProblem) -> tuple[float, str]:
    """A proven lower bound on phase 1 computed here, and what proves it."""
    p = problem
    g = p.n_steps
    late = int((p.total - p.riders[:, :, -1]).sum()) if g else p.riders_total  # reach a bay after the grid
    no_bus = (p.cycle == 0) | (p.buses_at[:, None] == 0)  # no road to the destination, or no bus at the bay
    lost = int(np.where(no_bus, p.riders[:, :, -1], 0).sum()) if g else 0
    if late or lost:
        why = "riders reaching the bays after the horizon" if late else "riders at a bay no bus serves"
        return float((late + lost) * (g + 1) + g), why
    candidates = [(0.0, "trivial")]
    arrive, flow = arrival_bound(p), flow_bound(p)
    if arrive is not None:
        candidates.append((float(arrive), "the last rider's arrival plus loading"))
    if flow is not None:
        candidates.append((float(flow), "the fleet-capacity flow bound"))
    elif g:  # the buses cannot start every trip needed within the grid: a rider at least is stranded
        candidates.append((float(g + 1 + g), "the fleet-capacity flow bound (a rider at least is stranded)"))
    return max(candidates, key=lambda c: c[0])
