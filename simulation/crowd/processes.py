"""The SimPy processes of a crowd run, one per actor, each a small generator taking the model.

- Arrivals: the scenario's rate × origin share each step (Poisson counts or expected amounts), split over
  destinations by their shares, join the holding area before their origin (on the graph: `holding:<origin>`,
  `simulation.crowd.network.holding_graph`) and come in through its door no faster than the walkways out of
  the origin carry them; a closed origin's arrivals go to the nearest open one. Those who find the holding
  area full (at the jam density; a metro station: at its capacity, they stay on the train) are turned away before
  they come in (`refused`: gone, never on the graph). While trains skip a station (`CloseStation`), its arrivals
  go to its neighbouring stations (`simulation.crowd.controls`).
  A `surge` inject adds arrivals at its origin (Poisson counts from their own stream).
- `crowd_flow`: the one process that moves everybody, a vectorised step every dt (`simulation.crowd.step`).
- `router`: route shares follow the current walking times (`simulation.crowd.routing`).
- `controller`, `staff_team`: the plan's controls, closures and staff posts at their times
  (`simulation.crowd.controls`); `injector`, `drill_closure`, `drill_walkway`: the drill's injects.
- `sampler`: the minute-by-minute series (`simulation.crowd.readout`; the watch after each step writes the
  density crossings to the event log).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from scenarios.plan import (
    Announce,
    AssignStaff,
    CloseExit,
    CloseRoad,
    CloseStation,
    HoldArea,
    MeterFlow,
    OneWay,
    RouteVisitors,
)
from simulation.crowd.batch import batchable, run_batch, steps_ahead
from simulation.crowd.readout import SAMPLE_EVERY_S, staff_minute, state_now
from simulation.crowd.routing import ROUTE_EVERY_S
from simulation.crowd.step import flow_step

if TYPE_CHECKING:
    from simulation.crowd.model import CrowdModel


def arrive(m: CrowdModel, t: float) -> None:
    """This step's arrivals join their origins' queues, split over destinations."""
    s, dt, ctl = m.s, m.dt, m.ctl
    poisson = s.demand.arrivals.process == "poisson"
    rate = s.demand.arrivals.rate_at(t) / 3600 * dt
    surge = [(o, r) for o, a, b, r in ctl.surges if a <= t < b]
    if rate <= 0 and not surge:
        return
    counts: np.ndarray = np.zeros(len(m.origins))
    if rate > 0:
        mean = rate * m.origin_share
        counts += m.rng["arrivals"].poisson(mean) if poisson else mean
    if surge:
        extra = np.zeros(len(m.origins))
        for o, r in surge:
            extra[o] += r * dt
        counts += m.rng["surge"].poisson(extra) if poisson else extra
    if ctl.redirect is not None:
        counts = np.bincount(ctl.redirect, weights=counts, minlength=counts.size)
    m.arrived_at += counts
    m.entered += float(counts.sum())
    if ctl.told.any():  # an announcement turns a share back before they come
        back = counts * ctl.told
        m.told_away += float(back.sum())
        counts = counts - back
    if ctl.skip is not None:  # trains skip a station: its arrivals go to its neighbours, or ride on beyond
        m.skipped += float(counts[np.diagonal(ctl.skip) < 1].sum())
        beyond = counts * ctl.ride_on
        m.rode_on += float(beyond.sum())
        counts = (counts - beyond) @ ctl.skip
    # They join the holding area before their origin (a station: inside it) while it has room: up to the jam
    # density, and a station up to its capacity.
    hold = m.holding_node
    room = np.maximum(m.hold_cap - m.n_nodes_arr[hold].sum(axis=1), 0.0)
    admitted = np.minimum(counts, room)
    m.refused += float((counts - admitted).sum())
    joining = admitted[:, None] * m.split
    m.n_nodes_arr[hold] += joining
    m.holding_in[:, m.step_no] += admitted
    if m.waiting is not None:
        m.waiting.admit(m.step_no, admitted)
    m.entered_network += float(admitted.sum())
    m.freeflow_s += float((joining * m.routes.phi0_nodes[hold]).sum())


def crowd_flow(m: CrowdModel) -> Generator[simpy.Event, Any, None]:
    """The one process that moves everybody: the step's arrivals, then a vectorised step, every dt; the steps due
    before anything else happens in one compiled call where it can (`simulation.crowd.batch`: the same results)."""
    while m.step_no < m.n_steps:
        if batchable(m):
            n, delay = steps_ahead(m)
            run_batch(m, n)
            yield m.env.timeout(delay)
            continue
        arrive(m, m.step_no * m.dt)
        flow_step(m)
        yield m.env.timeout(m.dt)


def router(m: CrowdModel) -> Generator[simpy.Event, Any, None]:
    """Route shares follow the current walking times, every `ROUTE_EVERY_S`."""
    while True:
        yield m.env.timeout(ROUTE_EVERY_S)
        m.routes.reroute()


def controller(m: CrowdModel) -> Generator[simpy.Event, Any, None]:
    """Apply the plan's controls and closures at their times (and lift them at `until_s`)."""
    env = m.env
    timeline: list[tuple[float, int, str, Any]] = []
    for i, act in enumerate(m.plan.actions):
        if isinstance(act, MeterFlow | OneWay | HoldArea | CloseRoad | CloseExit | RouteVisitors | Announce
                      | CloseStation):  # fmt: skip
            timeline.append((act.at_s, i, "on", act))
            until_s = getattr(act, "until_s", None)  # a `RouteVisitors` has none: it holds to the end
            if until_s is not None:
                timeline.append((until_s, i, "off", act))
    timeline.sort(key=lambda x: (x[0], x[1], x[2] == "on"))
    for at_s, _i, what, act in timeline:
        if at_s > env.now:
            yield env.timeout(at_s - env.now)
        m.ctl.apply(act, what == "on")
        m.ctl.refresh(env.now)


def staff_team(m: CrowdModel, act: AssignStaff) -> Generator[simpy.Event, Any, None]:
    """A team goes from its base to its post (after its call-up delay), holds it, and is stood down.

    A team on duty from the start (no call-up delay) that the plan posts at time 0 is at its post when the
    clock starts: the plan was made, and the team sent, before the evening began. A team taking over a post
    its pool holds when it starts (a re-plan's post where the plan in effect had one) is there already. A
    `delay` inject for its pool that fires before it reaches its post makes it arrive that much later."""
    env, ctl = m.env, m.ctl
    team = m.s.staff[act.pool]
    walk = ctl.staff_walk(team.base, act.to)
    on_duty = act.at_s <= 0 and team.callup_delay_s <= 0
    there = ctl.pool_holds(act)
    arrive = 0.0 if on_duty else act.at_s if there else max(act.at_s, team.callup_delay_s) + walk
    late = 0.0
    while not there:
        if arrive > env.now:
            yield env.timeout(arrive - env.now)
        more = sum(d for _, pool, d in ctl.delays if pool == act.pool) - late
        if more <= 0:
            break
        late += more
        arrive += more
        m.rec.event(env.now, "staff_delayed", f"{act.count} of {act.pool} reach {act.to} "
                    f"{late / 60:g} min late (inject)", team=act.pool, node=act.to, delay_s=late)  # fmt: skip
    if there and arrive > env.now:
        yield env.timeout(arrive - env.now)
    key = next(i for i, a in enumerate(m.plan.actions) if a is act)
    ctl.posted[key] = (act.to, act.count)
    m.rec.event(env.now, "staff_posted", f"{act.count} of {act.pool} posted at {act.to}",
                team=act.pool, node=act.to, count=act.count)  # fmt: skip
    ctl.refresh(env.now)
    if act.until_s is not None:
        if act.until_s > env.now:
            yield env.timeout(act.until_s - env.now)
        if key in ctl.posted:
            del ctl.posted[key]
            m.rec.event(env.now, "staff_stood_down", f"{act.pool} leaves {act.to}", team=act.pool)
            ctl.refresh(env.now)


def sampler(m: CrowdModel) -> Generator[simpy.Event, Any, None]:
    """Every minute: density at every node (the map), totals, queues; and staff utilisation."""
    env, rec = m.env, m.rec
    while True:
        t = env.now
        now, place_rho = state_now(m)
        for name, value in now.items():
            rec.sample(name, t, value)
        m.watch.count(t, now)
        staff_minute(m, place_rho)
        yield env.timeout(SAMPLE_EVERY_S)


def injector(m: CrowdModel) -> Generator[simpy.Event, Any, None]:
    """Each drill inject at its time, before the step due then (all wake-ups are set at the start, so
    they come before the step's own at the same time)."""
    env = m.env
    order = sorted(enumerate(m.s.injects), key=lambda p: (p[1].at_s, p[0]))
    wakes = [env.timeout(max(0.0, inj.at_s - env.now)) for _, inj in order]
    for (index, inj), wake in zip(order, wakes, strict=True):
        if inj.at_s > env.now:
            yield wake
        m.ctl.inject(index, inj)


def drill_closure(m: CrowdModel, node: str, until_s: float) -> Generator[simpy.Event, Any, None]:
    """A node closed by an inject from now until `until_s` (or the end), as a plan's `CloseExit` would."""
    env, ctl = m.env, m.ctl
    ctl.drill_closed[node] = ctl.drill_closed.get(node, 0) + 1
    m.rec.event(env.now, "exit", f"{node} closed (inject)", node=node)
    ctl.refresh(env.now)
    if until_s >= m.s.clock.horizon_s:
        return
    yield env.timeout(until_s - env.now)
    ctl.drill_closed[node] -= 1
    m.rec.event(env.now, "exit", f"{node} reopened (inject)", node=node)
    ctl.refresh(env.now)


def drill_walkway(m: CrowdModel, inj: Any, edges: list[int], until_s: float) -> Generator[simpy.Event, Any, None]:
    """A walkway closed or made one-way by an inject from now until `until_s` (or the end): nobody is sent onto the
    blocked directions (`edges`); those on them walk off."""
    env, ctl = m.env, m.ctl
    u, v = inj.params["u"], inj.params["v"]
    what = f"{u} - {v} closed" if inj.kind == "close_walkway" else f"{u} -> {v} one-way"
    for e in edges:
        ctl.drill_blocked[e] = ctl.drill_blocked.get(e, 0) + 1
    m.rec.event(env.now, "walkway", f"{what} (inject)", u=u, v=v, change=inj.kind)
    ctl.refresh(env.now)
    if until_s >= m.s.clock.horizon_s:
        return
    yield env.timeout(until_s - env.now)
    for e in edges:
        ctl.drill_blocked[e] -= 1
    m.rec.event(env.now, "walkway", f"{u} - {v} open both ways again (inject)", u=u, v=v, change="reopen")
    ctl.refresh(env.now)


def start(m: CrowdModel) -> None:
    """Start every process of a run, in the order that decides who goes first at the same time."""
    env = m.env
    if m.s.injects:
        env.process(injector(m))  # first: an inject at time 0 comes before the first step
    for act in m.plan.of_type(AssignStaff):
        env.process(staff_team(m, act))
    env.process(controller(m))
    env.process(crowd_flow(m))
    env.process(router(m))
    env.process(sampler(m))


__all__ = ["arrive", "controller", "crowd_flow", "drill_closure", "drill_walkway", "injector", "router", "sampler",
           "staff_team", "start"]  # fmt: skip
