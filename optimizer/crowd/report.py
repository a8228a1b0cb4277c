"""What the crowd models' solutions mean: the plan's actions (metering from the flow LP, staff posts from the
staff model) and the rationale (what the flows do, what binds, what the staff can hold)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optimizer.crowd.flow import FlowProblem
from optimizer.crowd.lp import FlowSolution
from optimizer.crowd.options import CrowdOptions
from optimizer.crowd.staff import StaffProblem, StaffSolution, released_at_once
from scenarios.plan import Announce, AssignStaff, CloseStation, HoldArea, MeterFlow
from scenarios.schema import CrowdScenario

RELEASE = 1.25  # a meter no longer holding anyone back in the LP lets in this much more than the LP's rate
METER_NEAR = 0.15  # a meter's LP periods are one run while their rates are this close (a share of the lowest) ...
# ... and while the run's mean rate keeps within this many periods of the LP's entry of the people the LP lets in
# by each period's end (a meter at the run's lowest rate held Bund light show visitors back 14 a minute below
# their arrivals for 54 minutes at Yan'an Road: its holding area, which the LP kept at 2.5 /m², reached 4.29)
METER_DRIFT_PERIODS = 0.25
HOLD_NEAR_PER_MIN = 10.0  # a hold's release rates this close (people a minute) are one wave's ...
HOLD_SHARE = 0.3  # ... or this close as a share of the wave's mean
SKIP_SHARE = 0.5  # trains skip a station in the periods where the LP sends at least this share of its arrivals on


def _meter_actions(problem: FlowProblem, sol: FlowSolution, options: CrowdOptions) -> list[MeterFlow]:
    """Metering where the LP holds people back: its entry rate, per run of periods with rates within
    `METER_NEAR` of each other, at the run's mean rate (as many come in over the run as the LP lets in), the run
    ending before that rate would let in more or fewer than the LP by the end of a period by over
    `METER_DRIFT_PERIODS` periods' entry.

    Once an origin is metered it stays metered: where the LP holds nobody back any more, the meter lets in
    `RELEASE` times the LP's rate, so that whoever is still waiting outside (more than forecast, by chance)
    comes in gradually and not all at once into the entrance."""
    assert sol.entry is not None and sol.queue is not None
    dt, T = problem.period_s, problem.n_periods
    out = []
    for o, name in enumerate(problem.origins):
        # Held back in a period: people outside at its start or its end. A re-plan's LP may let a queue that is
        # already there in within its first period; unmetered, the entrance would let them all in at its full
        # width at once, with the leavers going out through it (light show, closed loop, 6-minute periods:
        # 4.7 /m² at the Yuyuan Garden station exit just after the 22:00 re-plan).
        holding = (np.maximum(sol.queue[o, :-1], sol.queue[o, 1:]) > 0.5) & problem.meterable[o]
        metered = np.cumsum(holding) > 0
        metered &= problem.meterable[o]
        rate = sol.entry[o] / dt * 60  # a meter at an entrance holds only people coming in from outside
        rate = np.minimum(np.where(holding, rate, RELEASE * rate), max(problem.entrance[o], 1.0) / dt * 60)
        t = 0
        while t < T:
            if not metered[t]:
                t += 1
                continue
            start = t
            while t + 1 < T and metered[t + 1]:
                run = rate[start : t + 2]
                mean = float(run.mean())
                drift = float(np.abs(np.cumsum(run - mean)).max())  # people a minute x periods
                if run.max() - run.min() > METER_NEAR * max(float(run.min()), 1.0) or \
                        drift > max(METER_DRIFT_PERIODS * mean, 1.0):  # fmt: skip
                    break
                t += 1
            mean = float(rate[start : t + 1].mean())
            t += 1
            until = problem.start_s + t * dt
            out.append(MeterFlow(at_s=problem.start_s + start * dt, node=name,
                                 rate_per_min=round(max(mean, options.min_meter_per_min), 1),
                                 until_s=until if t < T else None, note="metering (flow LP)"))  # fmt: skip
    return out


def _hold_actions(problem: FlowProblem, sol: FlowSolution) -> list[HoldArea]:
    """Holds where the LP keeps people in place past their time, and in the period after, where it lets the
    last of them go, and in the period a show's hold ends, where it lets people go (`released_at_once`: at its
    rate, not all in the first minutes, when they would pack a junction where streams meet): per run of such
    periods at a viewing area with release rates near each other (within 30% of the run's mean, or
    `HOLD_NEAR_PER_MIN`), at the run's mean rate (so that as many go over the run as the LP lets go). Where a run
    ends, the hold lifts and whoever it still holds goes: released area by area, the runs are the waves.

    A show may end inside a period (`FlowProblem.held_share`): late in the period before the LP lets them go, the hold
    starts with that period (they go at the LP's rate from the show's end, not all at once); early in the LP's
    first period, they go that much later, and the last run in a row ends that much later (never faster than the
    LP's rate, and nobody left for the hold's end)."""
    if sol.held is None or sol.released is None:
        return []
    dt, T = problem.period_s, problem.n_periods
    rate = sol.released / dt * 60
    surge = released_at_once(problem, sol)
    share = problem.held_share if problem.held_share is not None else np.zeros(T)
    out = []
    for d, name in enumerate(problem.destinations):
        held = sol.held[d] > 0.5
        on = held | np.concatenate([[False], held[:-1]]) | surge[d]
        late = 0.0  # seconds a show's end inside a period held back the release the LP spreads over it
        t = 0
        while t < T:
            if not on[t]:
                t += 1
                continue
            start, total = t, rate[d, t]
            while t + 1 < T and on[t + 1] and abs(rate[d, t + 1] - total / (t + 1 - start)) <= max(
                    HOLD_SHARE * total / (t + 1 - start), HOLD_NEAR_PER_MIN):  # fmt: skip
                t += 1
                total += rate[d, t]
            t += 1
            mean = total / (t - start)
            begin = start
            if surge[d, start]:
                if start > 0 and 0 < share[start - 1] < 1:
                    begin = start - 1  # the show ends late in the period before: paced from then on
                late += share[start] * dt  # it ends inside this one: nobody goes until then
            until = None
            if t < T:
                # At the LP's rate, those the show's end held back go when the last run in a row would end.
                until = problem.start_s + t * dt + (0.0 if on[t] else late)
                late = late if on[t] else 0.0
            out.append(HoldArea(at_s=problem.start_s + begin * dt, node=name, rate_per_min=math.floor(mean * 10) / 10,
                                until_s=until, note="hold in place, release in waves (flow LP)"))  # fmt: skip
    return out


def _announce_actions(problem: FlowProblem, sol: FlowSolution) -> list[Announce]:
    """Announcements where the LP tells people not to come: per run of periods at an origin with shares within
    0.1 of each other, the run's highest share (rounded up to a percent)."""
    assert sol.told is not None
    dt, T = problem.period_s, problem.n_periods
    share = np.divide(sol.told, problem.arrivals, out=np.zeros_like(sol.told), where=problem.arrivals > 1e-9)
    share = np.where(sol.told > 0.5, share, 0.0)
    out = []
    for o, name in enumerate(problem.origins):
        t = 0
        while t < T:
            if share[o, t] <= 0:
                t += 1
                continue
            start, top = t, share[o, t]
            while t + 1 < T and share[o, t + 1] > 0 and abs(share[o, t + 1] - top) <= 0.1:
                t += 1
                top = max(top, share[o, t])
            t += 1
            share_up = min(1.0, math.ceil(top * 100) / 100)
            out.append(Announce(at_s=problem.start_s + start * dt, origin=name, share=share_up,
                                until_s=problem.start_s + t * dt if t < T else None,
                                note="the site is full: come another time (flow LP)"))  # fmt: skip
    return out


def _station_actions(problem: FlowProblem, sol: FlowSolution) -> list[CloseStation]:
    """Trains skip a station over each run of periods where the LP sends at least `SKIP_SHARE` of its arrivals on
    to the neighbouring stations (the simulation sends them all: a closure is all or nothing)."""
    if sol.skipped is None or not problem.stations:
        return []
    dt, T = problem.period_s, problem.n_periods
    share = np.divide(sol.skipped, problem.arrivals, out=np.zeros_like(sol.skipped), where=problem.arrivals > 1e-9)
    out = []
    for o in problem.stations:
        on = (share[o] >= SKIP_SHARE) & (sol.skipped[o] > 0.5)
        t = 0
        while t < T:
            if not on[t]:
                t += 1
                continue
            start = t
            while t < T and on[t]:
                t += 1
            out.append(CloseStation(at_s=problem.start_s + start * dt, station=problem.origins[o],
                                    until_s=problem.start_s + t * dt if t < T else None,
                                    note="trains skip it: its arrivals go on to the next stations (LP)"))  # fmt: skip
    return out


def _people_line(problem: FlowProblem, sol: FlowSolution, clock: Any) -> str | None:
    """How many the plan holds where (at the most), sends on past skipped stations, and turns away."""
    assert sol.queue is not None
    minutes = problem.period_s / 60
    held = sol.queue[:, 1:]
    if not held.size:
        return None
    total = held.sum(axis=0)
    t_peak = int(np.argmax(total))
    places = [f"{problem.origins[o]} {held[o, t_peak]:,.0f}"
              + (" (in the station)" if o in problem.stations else "")
              for o in np.argsort(-held[:, t_peak])[:4] if held[o, t_peak] > 0.5]  # fmt: skip
    waited = float(held.sum()) * minutes
    skipped = sol.skipped if sol.skipped is not None else np.zeros_like(held)
    beyond = float((skipped.sum(axis=1) * (problem.ride_on if problem.ride_on is not None else 0.0)).sum())
    told = float(sol.told.sum()) if sol.told is not None else 0.0
    if total[t_peak] <= 0.5 and skipped.sum() <= 0.5 and told <= 0.5:
        return None
    where = f" ({', '.join(places)})" if places else ""
    return (f"people: at most {total[t_peak]:,.0f} held before the entrances at once, at "
            f"{clock.label(problem.start_s + (t_peak + 1) * problem.period_s)}{where}, {waited:,.0f} person-minutes "
            f"in all; {float(skipped.sum()):,.0f} sent on by trains skipping their station ({beyond:,.0f} of them "
            f"beyond the area); {told:,.0f} told not to come")  # fmt: skip


def _staff_actions(p: StaffProblem, sol: StaffSolution, scenario: CrowdScenario) -> list[AssignStaff]:
    """One assignment per run of staff periods a pool holds a post."""
    assert sol.x is not None
    out = []
    for i, pool in enumerate(p.pools):
        for j, post in enumerate(p.posts):
            held = sol.x[i, j] > 0
            s = 0
            while s < p.n_periods:
                if not held[s]:
                    s += 1
                    continue
                start = s
                while s < p.n_periods and held[s]:
                    s += 1
                until = p.start_s + s * p.period_s if s < p.n_periods else None
                # The team leaves its base in time to be at its post when the run starts, allowing for the
                # delays that will have held it up by then (one that comes after it has arrived does not).
                leave = p.leave_s(i, j, start)
                out.append(AssignStaff(at_s=leave, pool=pool, to=post, count=p.min_post, until_s=until,
                                       note="holds controls within reach (staff CP-SAT)"))  # fmt: skip
    return out


def _held_line(problem: FlowProblem, sol: FlowSolution, clock: Any) -> str | None:
    """Where the plan holds people in place past their time, how many at the most, when, and for how long."""
    if sol.held is None or not (sol.held > 0.5).any():
        return None
    minutes = problem.period_s / 60
    parts = []
    by = sol.held.max(axis=1)
    for d in np.argsort(-by, kind="stable")[:4]:
        if by[d] <= 0.5:
            break
        periods = np.flatnonzero(sol.held[d] > 0.5)
        first, last = int(periods[0]), int(periods[-1])
        parts.append(f"{problem.destinations[d]} up to {by[d]:,.0f} "
                     f"({clock.label(problem.start_s + first * problem.period_s)}–"
                     f"{clock.label(problem.start_s + (last + 1) * problem.period_s)})")  # fmt: skip
    total = float(sol.held.sum()) * minutes
    return (f"held in place past their time, released in waves: {'; '.join(parts)}; {total:,.0f} person-minutes "
            "held in all")  # fmt: skip


def unpaced_line(problem: FlowProblem, sol: FlowSolution, may_hold: np.ndarray | None, clock: Any) -> str | None:
    """Where a show's end lets people go that the plan would pace (`optimizer.crowd.staff.released_at_once`) but
    no team can hold the area then: they go at once, and the LP spreads them over the period."""
    if may_hold is None or sol.released is None or problem.holdable is None:
        return None
    unpaced = problem.surges() & may_hold & ~problem.holdable & (sol.released > 0.5)
    if not unpaced.any():
        return None
    at = [clock.label(problem.start_s + t * problem.period_s) for t in range(problem.n_periods)]
    parts = [f"{problem.destinations[d]} {sol.released[d, t]:,.0f} ({at[t]})" for d, t in zip(*np.nonzero(unpaced),
                                                                                             strict=True)]  # fmt: skip
    return (f"warning: let go at once when a show ends, with no team to pace them: {'; '.join(parts[:6])}"
            f"{f' and {len(parts) - 6} more' if len(parts) > 6 else ''} (the flow LP spreads them over the period; "
            "where their ways out meet, it may pack)")  # fmt: skip


def _counterflow_line(problem: FlowProblem, final: FlowSolution, clock: Any) -> str | None:
    """Where the plan charged counter-flow its friction (`FlowProblem.counterflow`): how many walkway-periods, and
    the walkway where people cross it both ways the most, when."""
    if problem.counterflow is None or final.way_loads is None or not problem.counterflow.any():
        return None
    both = np.minimum(final.way_loads[0], final.way_loads[1]) * (problem.counterflow != 0)
    w, t = np.unravel_index(int(np.argmax(both)), both.shape)
    line = (f"counter-flow charged its friction ({problem.friction:.0%} of a walkway's capacity when balanced) on "
            f"{int((problem.counterflow != 0).sum())} walkway-periods where the flows first crossed both ways with "
            "no room for it")  # fmt: skip
    if both[w, t] > 0.5:
        u, v = problem.walkways[w]
        a, b = final.way_loads[0, w, t], final.way_loads[1, w, t]
        line += (f"; the most crossing both ways: {u} - {v} at {clock.label(problem.start_s + t * problem.period_s)} "
                 f"({a:,.0f} one way, {b:,.0f} the other in {problem.period_s / 60:g} min)")  # fmt: skip
    return line


def describe(problem: FlowProblem, first: FlowSolution, final: FlowSolution, staff: StaffSolution | None,
             sp: StaffProblem | None, clock: Any) -> list[str]:  # fmt: skip
    """The rationale: what the flows do, what binds, and whether the staff can hold every control."""
    lines = []
    t = final.terms
    lines.append(f"flow LP ({problem.n_periods} periods of {problem.period_s / 60:g} min): "
                 f"{t['let_in']:,.0f} let in, {t['held_at_end']:,.0f} still held back at the end, "
                 f"{t['queue_person_min']:,.0f} person-minutes waiting outside, "
                 f"{t['over_critical_person_min']:,.0f} person-minutes beyond critical density or a walkway's "
                 "capacity")  # fmt: skip
    single = [a for a in problem.one_ways if a.note.startswith("single stair")]
    paired = len(problem.one_ways) - len(single)
    if paired:
        lines.append(f"paired stairs one-way, one up and one down ({paired} flights): counter-flow costs a stair "
                     "capacity and can stall it at high density")  # fmt: skip
    if single:
        lines.append(f"single stairs up only ({len(single)} flights): people leave the platform by the paired "
                     "stairs, ramps and ends (the flow LP's optimum is lower than with them two-way)")  # fmt: skip
    cross = _counterflow_line(problem, final, clock)
    if cross is not None:
        lines.append(cross)
    assert final.queue is not None
    held = final.queue[:, 1:].max(axis=1)
    minutes = problem.period_s / 60
    for o in np.argsort(-held)[:3]:
        if held[o] > 0.5:
            t_peak = int(np.argmax(final.queue[o, 1:]))
            where = ""
            if problem.holding_area is not None:
                area = float(problem.holding_area[o])
                where = f" in its holding area ({area:,.0f} m², {held[o] / area:.1f} /m² at most)"
            person_min = float(final.queue[o, 1:].sum()) * minutes
            let_in = float(final.entry[o].sum()) if final.entry is not None else 0.0
            lines.append(f"meter {problem.origins[o]}: up to {held[o]:,.0f} held back{where} (at "
                         f"{clock.label(problem.start_s + (t_peak + 1) * problem.period_s)}); "
                         f"{person_min:,.0f} person-minutes waiting there, "
                         f"{person_min / max(let_in, 1.0):.1f} min for each person let in")  # fmt: skip
    people = _people_line(problem, final, clock)
    if people is not None:
        lines.append(people)
    held_line = _held_line(problem, final, clock)
    if held_line is not None:
        lines.append(held_line)
    if final.skipped is not None:
        for o in problem.stations:
            sent = float(final.skipped[o].sum())
            assert problem.station_cap is not None and problem.skip_to is not None
            inside = float(final.queue[o, 1:].max())
            to = [problem.origins[j] for j in np.flatnonzero(problem.skip_to[o] > 0)]
            if sent > 0.5 or inside > 0.5:
                lines.append(f"station {problem.origins[o]}: up to {inside:,.0f} inside (it holds "
                             f"{problem.station_cap[o]:,.0f}); {sent:,.0f} of its arrivals sent on "
                             f"{'to ' + ', '.join(to) if to else 'beyond the area'}")  # fmt: skip
    told = float(final.told.sum()) if final.told is not None else 0.0
    if told > 0.5:
        assert final.told is not None
        by = final.told.sum(axis=1)
        top = ", ".join(f"{problem.origins[o]} {by[o]:,.0f}" for o in np.argsort(-by)[:4] if by[o] > 0.5)
        lines.append(f"not possible with everyone: the site cannot take all who come at a safe density; it takes "
                     f"telling {told:,.0f} people not to come before they set off (announcements: {top})")  # fmt: skip
    for way, t_, dual in final.binding[:3]:
        u, v = problem.walkways[way]
        lines.append(f"binds: walkway {u} - {v} at {clock.label(problem.start_s + t_ * problem.period_s)}; one more "
                     f"person through it in that period is worth {dual:.1f} in the objective")  # fmt: skip
    for d in range(len(problem.destinations)):
        assert final.dwellers is not None
        peak = final.dwellers[d].max() / problem.area[d]
        if peak >= problem.target_ppm2 - 1e-6:
            lines.append(f"binds: viewing area {problem.destinations[d]} full at {problem.target_ppm2:g} /m² "
                         f"({problem.area[d]:,.0f} m²)")  # fmt: skip
    if staff is not None and sp is not None and staff.covered is not None:
        missing = [(sp.requirements[r], s) for r, s in zip(*np.nonzero((sp.need > 0) & ~staff.covered), strict=True)]
        if missing:
            names = sorted({m[0] for m in missing})
            cost = (final.objective or 0) - (first.objective or 0)
            gain = (f"more staff there would lower the objective by up to {cost:,.0f}" if cost > 0.5 else
                    "the flow LP does as well without them")  # fmt: skip
            lines.append(f"staff: {len(missing)} control-periods at {', '.join(names[:4])} cannot be staffed; {gain}")
        else:
            assert staff.x is not None  # a staff solution has posts whenever it has coverage
            lines.append(f"staff: every control staffed ({int(staff.x.sum() // max(1, sp.min_post))} post-periods "
                         f"of {sp.min_post}; the rest of each pool in reserve at its base)")  # fmt: skip
    return lines
