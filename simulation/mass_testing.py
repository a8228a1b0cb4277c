"""Mass testing: visitors walk to test sites, queue, are swabbed by the testers present, and go home.

The actors, each a small SimPy process:
- `site_arrivals`: visitors reach their assigned site (walking time on the park graph after they are told);
- `booth`: one per booth; works while enough testers are present to staff it, serving the site's FIFO queue;
- `tester_group`: a group leaves its district centre (call-up delay and wave), drives and walks to its site,
  works its shift and leaves;
- `bus`: drives from its depot to a bay, then carries riders to destinations as the dispatch policy says.

What a visitor does after the swab is drawn once per visitor from its own random stream (mode home,
destination, swab time), so that a baseline and a plan run with the same seed face the same people.
Walking is at free speed without congestion (the crowd model handles dense flow); metro riders who reach the
station after it closes fall back to the buses.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy

from scenarios.defaults import default_plan as scenario_default_plan
from scenarios.errors import ScenarioError
from scenarios.injects import delay_of, parse_condition
from scenarios.mass_testing import (
    BusState,
    MassTestingGeometry,
    MassTestingState,
    bus_start_bays,
    check_plan,
    mass_testing_state,
    roles_of,
)
from scenarios.plan import AssignStaff, DispatchBus, Plan, RouteVisitors
from scenarios.schema import ArrivalProfile, MassTestingScenario
from simulation.core import (
    Breach,
    CountingEnvironment,
    Recorder,
    RunStats,
    SimResult,
    WallClock,
    even_times,
    poisson_times,
    streams,
)

WALK, CAR, METRO, BUS = 0, 1, 2, 3
_GOLDEN = (math.sqrt(5) - 1) / 2
STREAMS = ("arrivals", "swab", "mode", "destination")
SAMPLE_EVERY_S = 60.0
FCFS_FILL_WAIT_S = 300.0


# ------------------------------------------------------------------------------------------ state


@dataclass
class Site:
    """A test site: its FIFO queue, the testers present by role, and its booths' idle signals."""

    name: str
    booths: int
    queue: deque[int] = field(default_factory=deque)
    present: dict[str, int] = field(default_factory=dict)
    staffed: int = 0
    ready: list[tuple[int, simpy.Event]] = field(default_factory=list)  # idle booths that may work
    off: list[tuple[int, simpy.Event]] = field(default_factory=list)  # idle booths without testers
    max_queue: int = 0

    def wake(self, n: int) -> None:
        """Wake up to `n` idle staffed booths."""
        for _ in range(min(n, len(self.ready))):
            self.ready.pop()[1].succeed()

    def restaff(self, per_booth: dict[str, int]) -> None:
        """Recount staffed booths after testers arrive or leave, and wake booths that can now work."""
        staffed = self.booths
        for role, need in per_booth.items():
            staffed = min(staffed, self.present.get(role, 0) // need)
        self.staffed = staffed
        waiting = self.ready + self.off
        self.ready = [b for b in waiting if b[0] < staffed]
        self.off = [b for b in waiting if b[0] >= staffed]
        self.wake(len(self.queue))


@dataclass
class Filling:
    """A bus at a bay taking riders for one destination until it is full or leaves."""

    riders: list[int]
    room: int
    full: simpy.Event


@dataclass
class Bay:
    """A bus bay: riders queued per destination, buses filling or idle there, and dispatch orders."""

    name: str
    riders: dict[str, deque[tuple[float, int]]]
    idle: deque[simpy.Event] = field(default_factory=deque)  # buses waiting for any rider (FCFS)
    filling: dict[str, deque[Filling]] = field(default_factory=dict)
    orders: list[tuple[float, int, str, float]] = field(default_factory=list)  # heap: (at_s, seq, dest, lapses at)

    def waiting(self) -> int:
        return sum(len(q) for q in self.riders.values())

    def head_destination(self) -> str | None:
        heads = [(q[0][0], q[0][1], d) for d, q in self.riders.items() if q]
        return min(heads)[2] if heads else None

    def arrive(self, now: float, v: int, dest: str) -> None:
        """A rider reaches the bay: boards a bus filling for their destination, or queues and wakes one idle bus."""
        buses = self.filling.get(dest)
        if buses:
            bus = buses[0]
            bus.riders.append(v)
            bus.room -= 1
            if bus.room == 0:
                buses.popleft()
                bus.full.succeed()
            return
        self.riders[dest].append((now, v))
        if self.idle:
            self.idle.popleft().succeed()

    def board(self, dest: str, room: int) -> list[int]:
        queue = self.riders[dest]
        return [queue.popleft()[1] for _ in range(min(room, len(queue)))]


class BusPolicy(Protocol):
    """Decides where an idle bus at a bay goes next (a generator that yields SimPy events while it waits), and
    how long a bus that chose its trip at a given moment waits for more riders once loaded."""

    def next_trip(self, env: simpy.Environment, bay: Bay) -> Generator[simpy.Event, Any, str]: ...

    def fill_wait(self, chosen_s: float) -> float: ...


class FirstComeFirstServed:
    """A bus takes the destination of the rider who has waited longest, and waits up to 5 min to fill."""

    def next_trip(self, env: simpy.Environment, bay: Bay) -> Generator[simpy.Event, Any, str]:
        while (dest := bay.head_destination()) is None:
            ev = env.event()
            bay.idle.append(ev)
            yield ev
        return dest

    def fill_wait(self, chosen_s: float) -> float:
        return FCFS_FILL_WAIT_S


class Scheduled:
    """A bus follows the plan's dispatch orders at its bay from `from_s`; after the last order it falls back to
    first come, first served without waiting to fill.

    Before `from_s` (a plan whose orders took over from first come, first served at a re-plan) buses serve first
    come, first served as they did then, waiting to fill. A bus under an order loads for its destination for the
    load time even when nobody for it is waiting yet: riders who come while it loads board it, as the bus model
    plans them to (`BusOptions.boarding`, "until_departure"); if nobody has boarded by then, the empty bus does
    not leave and is free again. An order that has lapsed (`DispatchBus.until_s`: a re-plan took over before any
    bus was free to carry it out) is dropped; a bus waiting for a cancelled order waits until it lapses.
    """

    def __init__(self, from_s: float = 0.0) -> None:
        self.from_s = from_s
        self.fallback = FirstComeFirstServed()

    def next_trip(self, env: simpy.Environment, bay: Bay) -> Generator[simpy.Event, Any, str]:
        while env.now < self.from_s:
            dest = bay.head_destination()
            if dest is not None:
                return dest
            ev = env.event()
            bay.idle.append(ev)
            yield env.any_of([ev, env.timeout(self.from_s - env.now)])
            if not ev.triggered:
                bay.idle.remove(ev)
        while bay.orders:
            at_s, _, dest, until_s = bay.orders[0]
            if until_s <= env.now:  # lapsed, or cancelled, before a bus could carry it out
                heapq.heappop(bay.orders)
                continue
            if at_s > env.now:
                yield env.timeout(min(at_s, until_s) - env.now)
                continue
            heapq.heappop(bay.orders)
            return dest
        return (yield from self.fallback.next_trip(env, bay))

    def fill_wait(self, chosen_s: float) -> float:
        return FCFS_FILL_WAIT_S if chosen_s < self.from_s else 0.0


# ------------------------------------------------------------------------------------------ the model


class MassTestingModel:
    """One run of a mass-testing scenario under a plan."""

    def __init__(self, scenario: MassTestingScenario, plan: Plan | None = None, *, seed: int | None = None,
                 geometry: MassTestingGeometry | None = None, future: Future | None = None):  # fmt: skip
        """`future`: the world after a moment drawn at another seed (`Future`), the past kept at `seed`."""
        from scenarios.loading import scenario_graph

        self.s = scenario
        self.geo = geometry or MassTestingGeometry(scenario, scenario_graph(scenario))
        self.plan = plan if plan is not None else scenario_default_plan(scenario, self.geo.graph)
        problems = check_plan(self.plan, scenario)
        if problems:
            raise ScenarioError(problems)
        self.seed = scenario.seed if seed is None else seed
        self.future = future
        self.env = CountingEnvironment()
        self.rec = Recorder()
        self.per_booth = roles_of(scenario)
        self.sites = {s.node: Site(s.node, s.booths) for s in scenario.testing.sites}
        buses = scenario.resources.buses
        self.destinations = list(buses.destinations) if buses else []
        self._make_visitors()
        self.bays = {b: Bay(b, {d: deque() for d in self.destinations}) for b in (buses.bays if buses else ())}
        self.metro_free_at = 0.0
        self.finished = 0
        self.bus_km = 0.0
        self.groups: list[tuple[float, int, float]] = []  # (arrival, count, shift end) of tester groups
        self.presence: list[tuple[str, str, str, float, float, int]] = []  # (pool, role, site, from, until, n)
        self.trips: list[tuple[str, float, int]] = []  # (bus, departure, riders)
        self.bus_at: dict[str, tuple[str, float]] = {}  # bus -> (its bay, when it is (or was) idle there)
        self.delays: list[tuple[float, str, float]] = []  # (fired at, pool, seconds) of delay injects
        self.stop = self.env.event()

    # ---------------------------------------------------------------------------------- visitors

    def _make_visitors(self) -> None:
        """Every visitor and what they will do, drawn once from the run's streams (`draw_visitors`); with a
        `future`, those who appear from its moment on are drawn at its seed instead."""
        drawn, self.redrawn = (draw_visitors(self.s, self.seed), None) if self.future is None else \
            self.future.visitors(self.s, self.seed)
        self.zone, self.appear, self.swab, self.mode, self.dest = drawn
        n = self.n = self.zone.size
        self.site_of = np.full(n, -1, dtype=np.int32)
        self.at_site = np.full(n, np.nan)
        self.swab_start = np.full(n, np.nan)
        self.swab_end = np.full(n, np.nan)
        self.departed = np.full(n, np.nan)
        self.final_mode = self.mode.copy()
        self.swab_count = np.zeros(n, dtype=np.int32)  # for the invariant "tested exactly once"
        self.departure_count = np.zeros(n, dtype=np.int32)  # "leaves at most once"

    def _redraw(self, v: int) -> None:
        """Visitor `v`'s swab starts in the `future`: what they do is its draw, not the run's own."""
        assert self.redrawn is not None
        self.swab[v], self.mode[v], self.dest[v] = (a[v] for a in self.redrawn[2:])
        self.final_mode[v] = self.mode[v]

    def _route_visitors(self) -> None:
        """Assign each visitor a site from the plan's routing in force when they appear.

        Within a zone and a routing epoch, visitor k goes to the site where the golden-ratio sequence
        frac((k + 0.5) φ) falls in the cumulative shares: counts match the shares to within a few people and
        consecutive arrivals are spread over the sites, not sent in blocks.
        """
        site_names = list(self.sites)
        index = {name: i for i, name in enumerate(site_names)}
        routes: dict[str, list[RouteVisitors]] = {}
        for act in self.plan.of_type(RouteVisitors):
            routes.setdefault(act.origin, []).append(act)
        for zi, zone in enumerate(z.node for z in self.s.population.zones):
            members = np.flatnonzero(self.zone == zi)
            members = members[np.argsort(self.appear[members], kind="stable")]
            fallback = min(site_names, key=lambda t: (self.geo.walk_zone_site[zone][t], t))
            acts = routes.get(zone, [])
            times = sorted({a.at_s for a in acts})
            epoch = np.searchsorted(np.asarray(times), self.appear[members], side="right") - 1
            for k in np.unique(epoch):
                group = members[epoch == k]
                shares: dict[str, float] = {}
                for a in acts if k >= 0 else ():
                    if a.at_s == times[k]:
                        shares[a.to] = shares.get(a.to, 0.0) + a.share
                rest = 1.0 - sum(shares.values())
                if rest > 1e-9:
                    shares[fallback] = shares.get(fallback, 0.0) + rest
                names = list(shares)
                cum = np.cumsum([shares[n] for n in names])
                cum /= cum[-1]
                u = np.mod((np.arange(group.size) + 0.5) * _GOLDEN, 1.0)
                pick = np.minimum(np.searchsorted(cum, u, side="right"), len(names) - 1)
                sites = np.array([index[n] for n in names], dtype=np.int32)[pick]
                walks = np.array([self.geo.walk_zone_site[zone][n] for n in names])[pick]
                self.site_of[group] = sites
                self.at_site[group] = self.appear[group] + walks

    def _nearest_exits(self) -> None:
        """For each site: the nearest bay and walk, car park walk, station walk (computed once)."""
        fleet_bays = list(self.bays)
        parking = self.s.population.parking
        station = self.s.metro.station if self.s.metro else None
        self.exit_of: dict[str, tuple[str | None, float, float, float]] = {}
        for site in self.sites:
            row = self.geo.walk_site_exit[site]
            bay = min(fleet_bays, key=lambda b: (row[b], b)) if fleet_bays else None
            self.exit_of[site] = (
                bay,
                row[bay] if bay else math.inf,
                min((row[p] for p in parking), default=math.inf),
                row[station] if station else math.inf,
            )

    # ---------------------------------------------------------------------------------- processes

    def site_arrivals(self, site: Site, members: np.ndarray) -> Generator[simpy.Event, Any, None]:
        """Visitors reach the site at their walking-time-later moments and join its queue."""
        env = self.env
        order = members[np.lexsort((members, self.at_site[members]))]
        i = 0
        while i < order.size:
            t = self.at_site[order[i]]
            if t > env.now:
                yield env.timeout(t - env.now)
            j = i
            while j < order.size and self.at_site[order[j]] == t:
                site.queue.append(int(order[j]))
                j += 1
            site.max_queue = max(site.max_queue, len(site.queue))
            site.wake(j - i)
            i = j

    def booth(self, site: Site, i: int) -> Generator[simpy.Event, Any, None]:
        """Booth `i` swabs the next visitor in line whenever it is staffed."""
        env, queue = self.env, site.queue
        while True:
            if i >= site.staffed:
                ev = env.event()
                site.off.append((i, ev))
                yield ev
                continue
            if not queue:
                ev = env.event()
                site.ready.append((i, ev))
                yield ev
                continue
            v = queue.popleft()
            self.swab_count[v] += 1
            self.swab_start[v] = env.now
            if self.redrawn is not None and env.now >= self.future.from_s:  # type: ignore[union-attr]
                self._redraw(v)
            yield env.timeout(self.swab[v])
            self.swab_end[v] = env.now
            self.after_swab(v, site.name)

    def tester_group(self, act: AssignStaff) -> Generator[simpy.Event, Any, None]:
        """A group leaves its centre, travels to its site, works its shift, and goes."""
        env = self.env
        pool = self.s.resources.testers[act.pool]
        travel = self.geo.tester_travel[pool.centre][act.to]
        if not math.isfinite(travel):
            self.rec.event(env.now, "unreachable", f"{act.count} {act.pool} testers cannot reach {act.to}")
            return
        depart = self.geo.tester_departure_s(pool, act.wave, act.at_s)
        if any(inj.kind == "delay" for inj in self.s.injects):
            # Groups that have not left when a delay inject fires leave that much later.
            yield env.timeout(max(0.0, depart - env.now))
            extra = sum(s for fired, p, s in self.delays if p == act.pool and fired <= env.now)
            if extra:
                self.rec.event(env.now, "testers_delayed", f"{act.count} {act.pool} testers leave {extra / 60:g} min "
                               "late (inject)", pool=act.pool, count=act.count, delay_s=extra)  # fmt: skip
            depart = env.now + extra
        yield env.timeout(depart + travel - env.now)
        site = self.sites[act.to]
        until = env.now + pool.shift_s
        if act.until_s is not None:
            until = min(until, max(env.now, act.until_s))
        self.groups.append((env.now, act.count, until))
        self.presence.append((act.pool, act.role, act.to, env.now, until, act.count))
        self.rec.event(env.now, "testers_arrive", f"{act.count} {act.pool} testers ({act.role}) at {act.to}",
                       pool=act.pool, site=act.to, count=act.count, role=act.role)  # fmt: skip
        site.present[act.role] = site.present.get(act.role, 0) + act.count
        site.restaff(self.per_booth)
        yield env.timeout(until - env.now)
        site.present[act.role] -= act.count
        site.restaff(self.per_booth)

    def state(self, quantity: str) -> float | None:
        """The current value of a quantity an inject's condition may read (the sampler's series names)."""
        readers = {
            "queue_total": lambda: sum(len(s.queue) for s in self.sites.values()),
            "queue_max_site": lambda: max((len(s.queue) for s in self.sites.values()), default=0),
            "tested": lambda: int(np.count_nonzero(self.swab_end <= self.env.now)),
            "departed": lambda: int(np.count_nonzero(self.departed <= self.env.now)),
            "booths_staffed": lambda: sum(s.staffed for s in self.sites.values()),
            "bay_waiting": lambda: sum(b.waiting() for b in self.bays.values()),
            "buses_on_road": lambda: self.buses_out,
        }
        reader = readers.get(quantity)
        return None if reader is None else float(reader())

    def injects(self) -> Generator[simpy.Event, Any, None]:
        """Each drill inject at its time: fires if its condition holds on the state then, and takes effect."""
        env = self.env
        for index, inj in sorted(enumerate(self.s.injects), key=lambda p: (p[1].at_s, p[0])):
            yield env.timeout(max(0.0, inj.at_s - env.now))
            condition = parse_condition(inj.condition)
            fired = condition is None or condition.holds(self.state)
            if fired and inj.kind == "delay" and inj.target is not None:
                self.delays.append((env.now, inj.target, delay_of(inj)))
            gate = f" ({condition}: {'yes' if fired else 'no'})" if condition is not None else ""
            self.rec.event(env.now, "inject" if fired else "inject_skipped",
                           f"inject {inj.kind}{' ' + inj.target if inj.target else ''}{gate}: {inj.note}".rstrip(": "),
                           index=index, inject=inj.kind, fired=fired)  # fmt: skip

    def after_swab(self, v: int, site: str) -> None:
        """Send a tested visitor on their way home."""
        mode = self.mode[v]
        now = self.env.now
        if mode == WALK:
            self._depart(v, now)
        elif mode == CAR:
            self._depart(v, now + self.exit_of[site][2])
        elif mode == METRO:
            self._later(self.exit_of[site][3], self._at_station, v)
        else:
            self._to_bay(v, site)

    def _later(self, delay: float, action: Any, v: int) -> None:
        if not math.isfinite(delay):
            self._strand(v)
            return
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _ev: action(v))

    def _at_station(self, v: int) -> None:
        metro, now = self.s.metro, self.env.now
        assert metro is not None
        if (metro.closes_at_s is not None and now >= metro.closes_at_s) or metro.capacity_per_h <= 0:
            if self.bays:
                self.final_mode[v] = BUS
                self._to_bay(v, None, from_station=True)
            else:
                self._strand(v)
            return
        self.metro_free_at = max(now, self.metro_free_at) + 3600 / metro.capacity_per_h
        self._depart(v, self.metro_free_at)

    def _to_bay(self, v: int, site: str | None, *, from_station: bool = False) -> None:
        if not self.bays:
            self._strand(v)
            return
        if from_station:
            bay, delay = self._station_bay
        else:
            bay, delay = self.exit_of[site][0], self.exit_of[site][1]  # type: ignore[index]
        if bay is None:
            self._strand(v)
            return

        def arrive(v: int) -> None:
            self.bays[bay].arrive(self.env.now, v, self.destinations[self.dest[v]])

        self._later(delay, arrive, v)

    def _depart(self, v: int, t: float) -> None:
        self.departure_count[v] += 1
        self.departed[v] = t
        self._finish()

    def _strand(self, v: int) -> None:
        """Visitor `v` cannot leave (no way to their site, or no transport left): finished, not departed."""
        self._finish()

    def _finish(self) -> None:
        self.finished += 1
        if self.finished == self.n and not self.stop.triggered:
            self.stop.succeed()

    def bus(
        self, name: str, depot: str, bay: str, ready_at_s: float, policy: BusPolicy
    ) -> Generator[simpy.Event, Any, None]:
        """A bus drives to its bay, then shuttles riders to destinations as its policy says."""
        env, fleet = self.env, self.s.resources.buses
        assert fleet is not None
        drive = self.geo.bus_drive
        self.bus_at[name] = (bay, ready_at_s + drive[depot][bay])
        yield env.timeout(ready_at_s)
        yield env.timeout(drive[depot][bay])
        self.bus_km += self.geo.bus_distance_m[depot][bay] / 1000
        b = self.bays[bay]
        while True:
            dest = yield from policy.next_trip(env, b)
            chosen, back = env.now, drive[bay][dest] + fleet.unload_time_s + drive[dest][bay]
            riders = b.board(dest, fleet.capacity)
            filling = Filling(riders, fleet.capacity - len(riders), env.event())
            # Away until loaded, there and back (a wait to fill, if any, not foreseen).
            self.bus_at[name] = (bay, chosen + fleet.load_time_s + back)
            if filling.room > 0:  # riders who come while the bus loads (or waits to fill) board it
                b.filling.setdefault(dest, deque()).append(filling)
            yield env.timeout(fleet.load_time_s)
            if filling.room > 0 and (wait := policy.fill_wait(chosen)) > 0:
                self.bus_at[name] = (bay, env.now + wait + back)  # at the latest
                yield env.any_of([filling.full, env.timeout(wait)])
            if filling.room > 0:
                b.filling[dest].remove(filling)
            if not riders:  # nobody came while it loaded: an empty bus does not leave
                self.bus_at[name] = (bay, env.now)
                continue
            self.bus_at[name] = (bay, env.now + back)
            for v in riders:
                self._depart(v, env.now)
            self.trips.append((name, env.now, len(riders)))
            self.rec.event(env.now, "bus_departs", f"{name} leaves {bay} for {dest} with {len(riders)}",
                           bus=name, bay=bay, destination=dest, riders=len(riders))  # fmt: skip
            self.buses_out += 1
            yield env.timeout(self.geo.bus_drive[bay][dest] + fleet.unload_time_s)
            yield env.timeout(self.geo.bus_drive[dest][bay])
            self.buses_out -= 1
            self.bus_km += (self.geo.bus_distance_m[bay][dest] + self.geo.bus_distance_m[dest][bay]) / 1000

    def sampler(self) -> Generator[simpy.Event, Any, None]:
        """Every minute: queues, progress, testers on duty, riders waiting for buses."""
        env, rec = self.env, self.rec
        while True:
            rec.sample("queue_total", env.now, sum(len(s.queue) for s in self.sites.values()))
            rec.sample("queue_max_site", env.now, max((len(s.queue) for s in self.sites.values()), default=0))
            rec.sample("tested", env.now, int(np.count_nonzero(self.swab_end <= env.now)))
            rec.sample("departed", env.now, int(np.count_nonzero(self.departed <= env.now)))
            rec.sample("booths_staffed", env.now, sum(s.staffed for s in self.sites.values()))
            rec.sample("bay_waiting", env.now, sum(b.waiting() for b in self.bays.values()))
            rec.sample("buses_on_road", env.now, self.buses_out)
            for name, site in self.sites.items():  # per site, for the console's map
                rec.sample(f"site_queue:{name}", env.now, len(site.queue))
            yield env.timeout(SAMPLE_EVERY_S)

    # ---------------------------------------------------------------------------------- run

    def _start_buses(self, policy: BusPolicy) -> None:
        fleet = self.s.resources.buses
        if fleet is None or not self.bays:
            return
        expected = {b: 0.0 for b in self.bays}
        riders = np.bincount(self.site_of[np.isin(self.mode, (BUS, METRO)) & (self.site_of >= 0)],
                             minlength=len(self.sites))  # fmt: skip
        for site, n in zip(self.sites, riders, strict=True):
            bay = self.exit_of[site][0]
            if bay is not None:
                expected[bay] += float(n)
        for k, (depot, bay) in enumerate(bus_start_bays(fleet, expected), start=1):
            self.env.process(self.bus(f"bus_{k:03d}", depot.node, bay, depot.ready_at_s, policy))

    def bus_state(self) -> BusState:
        """The buses' side of the state now, for a re-plan: riders queued per bay and destination (not those
        aboard a bus loading), buses idle per bay, and when each bus away (on a trip, loading, or still driving
        from its depot) is idle at its bay again."""
        now = self.env.now
        waiting = {(b, d): len(q) for b, bay in self.bays.items() for d, q in bay.riders.items() if q}
        idle: dict[str, int] = {}
        returning = []
        for name in sorted(self.bus_at):
            bay, at_s = self.bus_at[name]
            if at_s <= now:
                idle[bay] = idle.get(bay, 0) + 1
            else:
                returning.append((bay, at_s))
        return BusState(waiting=waiting, idle=idle, returning=tuple(returning))

    def run(self, until_s: float | None = None) -> SimResult:
        """Run to the end (everybody finished, or the horizon), or only up to `until_s` (a state for a re-plan:
        the result is then that of the run so far)."""
        env = self.env
        self._route_visitors()
        self.buses_out = 0
        station = self.s.metro.station if self.s.metro else None
        self._nearest_exits()
        self._station_bay: tuple[str | None, float] = (None, math.inf)
        if station is not None and self.bays:
            walks = self._station_walk_matrix(station)
            bay = min(walks, key=lambda b: (walks[b], b))
            self._station_bay = (bay, walks[bay])
        names = list(self.sites)
        for idx, name in enumerate(names):
            site = self.sites[name]
            members = np.flatnonzero(self.site_of == idx)
            env.process(self.site_arrivals(site, members))
            for i in range(site.booths):
                env.process(self.booth(site, i))
        for act in self.plan.of_type(AssignStaff):
            env.process(self.tester_group(act))
        orders = self.plan.of_type(DispatchBus)
        from_s = self.plan.meta.dispatch_from_s or 0.0
        policy: BusPolicy = Scheduled(from_s) if orders else FirstComeFirstServed()
        seq = 0
        for act in orders:
            lapses_s = math.inf if act.until_s is None else act.until_s  # not `until_s`: the run's own end
            for _ in range(act.count):
                heapq.heappush(self.bays[act.origin].orders, (act.at_s, seq, act.to, lapses_s))
                seq += 1
        self._start_buses(policy)
        unreachable = np.flatnonzero(~np.isfinite(self.at_site))
        for v in unreachable:
            self._strand(int(v))
        if unreachable.size:
            self.rec.event(0, "unreachable", f"{unreachable.size} visitors cannot reach their test site")
        if self.s.metro and self.s.metro.closes_at_s is not None:
            closes = self.s.metro.closes_at_s
            env.timeout(closes).callbacks.append(
                lambda _e: self.rec.event(closes, "metro_closed", f"{self.s.metro.station} closes")  # type: ignore[union-attr]
            )
        env.process(self.sampler())
        if self.s.injects:
            env.process(self.injects())
        horizon = env.timeout(self.s.clock.horizon_s if until_s is None else min(until_s, self.s.clock.horizon_s))
        if self.n == 0:
            self.stop.succeed()
        with WallClock() as clock:
            env.run(until=env.any_of([self.stop, horizon]))
        return self._result(clock.elapsed)

    def _station_walk_matrix(self, station: str) -> dict[str, float]:
        from scenarios.travel import time_matrix

        row = time_matrix(self.geo.graph, [station], list(self.bays), mover="walk",
                          walk_speed_mps=self.s.testing.walk_speed_mps)[station]  # fmt: skip
        return row

    def _swab_to_bus_min(self, gone: np.ndarray) -> float:
        """The bus riders' mean minutes from the end of their swab to their bus's departure (the walk to the bay
        included; riders turned away by the closed metro station count from their swab too)."""
        riders = gone & (self.final_mode == BUS)
        return float((self.departed[riders] - self.swab_end[riders]).mean() / 60) if riders.any() else 0.0

    def _result(self, wall_s: float) -> SimResult:
        env, s = self.env, self.s
        tested = np.isfinite(self.swab_end)
        departed = np.isfinite(self.departed)
        horizon_min = s.clock.horizon_s / 60
        waits = (self.swab_start - self.at_site)[tested]
        # The longest anyone waited to be swabbed, counting those still waiting at the run's end up to it.
        arrived = np.isfinite(self.at_site)
        waited = np.where(np.isfinite(self.swab_start), self.swab_start, env.now) - self.at_site
        longest = float(waited[arrived].max()) if arrived.any() else 0.0
        end_testing = float(self.swab_end[tested].max()) if tested.all() and self.n else env.now
        tester_hours = sum(n * max(0.0, min(until, end_testing) - arrive) for arrive, n, until in self.groups) / 3600
        kpis = {
            "last_tested_min": float(self.swab_end.max() / 60) if tested.all() and self.n else horizon_min,
            "mean_wait_min": float(waits.mean() / 60) if waits.size else 0.0,
            "p95_wait_min": float(np.percentile(waits, 95) / 60) if waits.size else 0.0,
            "max_wait_min": max(0.0, longest / 60),
            "max_queue": float(max((site.max_queue for site in self.sites.values()), default=0)),
            "last_departed_min": float(self.departed.max() / 60) if departed.all() and self.n else horizon_min,
            "stranded_visitors": float(self.n - int(departed.sum())),
            "swab_to_bus_min": self._swab_to_bus_min(tested & departed),
            "bus_km": round(self.bus_km, 3),
            "tester_hours": round(tester_hours, 3),
        }
        kpis["visitors"] = float(self.n)
        kpis["tested"] = float(tested.sum())
        rec = self.rec
        rec.event(env.now, "end", f"{int(tested.sum())} of {self.n} tested, {int(departed.sum())} departed")
        return SimResult(
            scenario=s.name,
            kind=s.kind,
            seed=self.seed,
            kpis={k: round(v, 6) for k, v in kpis.items()},
            series=rec.series(),
            events=tuple(sorted(rec.events, key=lambda e: e.t_s)),
            stats=RunStats(events=env.events_processed, sim_s=float(env.now), wall_s=wall_s),
            records={
                "zone": self.zone, "site": self.site_of, "appear_s": self.appear, "at_site_s": self.at_site,
                "swab_start_s": self.swab_start, "swab_end_s": self.swab_end, "departed_s": self.departed,
                "mode": self.final_mode, "destination": self.dest, "swab_count": self.swab_count,
                "departure_count": self.departure_count,
                "trip_riders": np.array([t[2] for t in self.trips], dtype=np.int64),
            },
        )  # fmt: skip


Visitors = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def draw_visitors(scenario: MassTestingScenario, seed: int) -> Visitors:
    """Every visitor of a run at `seed`: (zone index, appearance time, swab time, mode home, destination index),
    zone by zone, each drawn from its own stream (`STREAMS`) so that plans run at one seed face the same people."""
    s, rng = scenario, streams(seed, STREAMS)
    zone_of, appear = [], []
    for zi, zone in enumerate(s.population.zones):
        zone_of.append(np.full(zone.visitors, zi))
        appear.append(np.zeros(zone.visitors))
        if zone.arrivals is not None:
            times = arrival_times(zone.arrivals, s.clock.horizon_s, rng["arrivals"])
            zone_of.append(np.full(times.size, zi))
            appear.append(times)
    zones = np.concatenate(zone_of).astype(np.int32)
    return zones, np.concatenate(appear), *draw_what_they_do(scenario, rng, zones.size)


def draw_what_they_do(scenario: MassTestingScenario, rng: dict[str, np.random.Generator],
                      n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """What `n` visitors do once they reach the booth: swab time, mode home, destination index."""
    swab = np.asarray(scenario.testing.swab_time.sample(rng["swab"], n), dtype=float).reshape(n)
    m = scenario.population.home_modes
    mode = rng["mode"].choice(4, size=n, p=_normalised([m.walk, m.car, m.metro, m.bus]))
    buses = scenario.resources.buses
    if buses is not None and buses.destinations:
        shares = buses.destinations
        dest = rng["destination"].choice(len(shares), size=n, p=_normalised(list(shares.values())))
    else:
        dest = np.zeros(n, dtype=np.int64)
    return swab, mode, dest


@dataclass(frozen=True)
class Future:
    """Another future from a moment `from_s`, drawn at `seed`: the visitors who appear from then on (how many,
    when) and, for every visitor whose swab starts from then on, what they do (swab time, mode home,
    destination); the rest as the run's own seed drew it. From 0, it is simply the run at `seed`.

    Runs of one seed with the same `Future` share their past up to `from_s` while their plans up to then are the
    same (nothing before `from_s` depends on what is drawn for after it), and then face the same other future:
    common random numbers for judging plans from one state on futures other than the run's own. A visitor's swab
    time, mode and destination are unknown to a planner until the swab starts, so they are drawn anew from
    then; the arrivals after `from_s` are a fresh draw of the same (memoryless) process.
    """

    seed: int
    from_s: float = 0.0

    def visitors(self, scenario: MassTestingScenario, seed: int) -> tuple[Visitors, Visitors | None]:
        """The run's visitors (its own before `from_s`, this future's from it) and what each does if their swab
        starts from `from_s` on (None when the future starts at 0: the run is this future's seed's)."""
        if self.from_s <= 0:
            return draw_visitors(scenario, self.seed), None
        own, other = draw_visitors(scenario, seed), draw_visitors(scenario, self.seed)
        mine, theirs = own[1] < self.from_s, other[1] >= self.from_s
        drawn = tuple(np.concatenate([a[mine], b[theirs]]) for a, b in zip(own, other, strict=True))
        rng = streams(self.seed, ("future", *STREAMS))
        zones = drawn[0]
        return drawn, (zones, drawn[1], *draw_what_they_do(scenario, rng, zones.size))  # type: ignore[return-value]


def arrival_times(profile: ArrivalProfile, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times up to the horizon for a piecewise-constant profile."""
    starts = [p.from_s for p in profile.periods]
    ends = [*starts[1:], horizon_s]
    pieces = [(a, min(b, horizon_s), p.rate_per_h) for a, b, p in zip(starts, ends, profile.periods, strict=True)]
    if profile.process == "poisson":
        return poisson_times(rng, iter(pieces))
    return even_times(iter(pieces))


def _normalised(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def simulate(scenario: MassTestingScenario, plan: Plan | None = None, *, seed: int | None = None,
             until_s: float | None = None, geometry: MassTestingGeometry | None = None,
             future: Future | None = None) -> SimResult:  # fmt: skip
    """Run a mass-testing scenario under a plan (the scenario's default plan if none), to the end or only up to
    `until_s` (the result is then that of the run so far); `future`: the visitors from a moment on drawn at
    another seed (`Future`)."""
    return MassTestingModel(scenario, plan, seed=seed, geometry=geometry, future=future).run(until_s=until_s)


def state_at(scenario: MassTestingScenario, plan: Plan, *, seed: int, at_s: float) -> MassTestingState:
    """What a re-plan at `at_s` starts from, read off a run of `plan` up to then: the routing in force, the tester
    groups, the buses where they are (with a fleet), and the injects that fired by then."""
    model = MassTestingModel(scenario, plan, seed=seed)
    so_far = model.run(until_s=at_s)
    fired = frozenset(int(e.data["index"]) for e in so_far.events if e.kind == "inject" and e.t_s <= at_s)
    buses = model.bus_state() if scenario.resources.buses is not None else None
    return mass_testing_state(plan, scenario, at_s, model.geo, buses=buses, fired=fired)


def breaches(scenario: MassTestingScenario, result: SimResult) -> list[Breach]:
    """The thresholds a run crosses: a visitor waiting longer than the maximum wait (first when it happens), and
    visitors still untested at the target finish time."""
    out: list[Breach] = []
    rec, th = result.records, scenario.thresholds
    at_site, start = rec.get("at_site_s"), rec.get("swab_start_s")
    if at_site is not None and start is not None and th.max_wait_s is not None and at_site.size:
        waited = np.where(np.isfinite(start), start, np.inf) - at_site
        over = np.isfinite(at_site) & (waited > th.max_wait_s)
        if over.any():
            first = float((at_site[over] + th.max_wait_s).min())
            out.append(Breach(first, "wait", f"a visitor has waited more than {th.max_wait_s / 60:g} min "
                                             f"({int(over.sum())} visitors will)"))  # fmt: skip
    end = rec.get("swab_end_s")
    late = th.target_finish_s is not None and end is not None and end.size > 0 and (
        not np.all(np.isfinite(end)) or float(end.max()) > th.target_finish_s)
    if late:
        assert end is not None and th.target_finish_s is not None  # `late` says so
        left = int(np.count_nonzero(~(end <= th.target_finish_s)))
        out.append(Breach(th.target_finish_s, "finish", f"{left} visitors still untested at the target finish time"))
    return out
