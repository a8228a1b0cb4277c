"""The scenario schema: typed, validated, frozen.

A scenario is one of three kinds — `mass_testing`, `crowd`, `typhoon` — sharing a clock, a city graph, a seed,
drill injects and a default plan. Units are in the field names (`_s`, `_m`, `_mps`, `_per_h`, `_vph`,
`_ppm2`). Times inside a scenario (`at_s`, `from_s`, `until_s`) are seconds after `clock.start`, a real
local time (Asia/Shanghai unless the scenario says otherwise).

Fields that name a node of the city graph are typed `NodeId` (any node) or `node_of(...)` (a node of given
kinds); `node_refs(scenario)` finds them all, so that the loader can check them against the graph.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scenarios.distributions import Deterministic, Distribution
from scenarios.errors import key_path, register_union_tags
from scenarios.pedestrian import DOOR_SPECIFIC_FLOW_PMPS, SFPE_A

MAX_COUNT = 10_000_000
MAX_SECONDS = 31 * 24 * 3600.0


class Model(BaseModel):
    """Base of every schema model: unknown fields are errors, instances are immutable, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class NodeRef:
    """Marks a string field as the id of a graph node, optionally of given kinds."""

    kinds: tuple[str, ...] = ()


NodeId = Annotated[str, NodeRef()]


def node_of(*kinds: str) -> Any:
    """A node id that must name a node of one of these kinds."""
    return Annotated[str, NodeRef(tuple(kinds))]


Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
Share = Annotated[float, Field(ge=0, le=1)]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]


def _check_shares(shares: dict[str, float], what: str) -> None:
    total = sum(shares.values())
    if shares and abs(total - 1.0) > 1e-6:
        raise ValueError(f"{what} must add up to 1 (they add up to {total:.6g})")


# ------------------------------------------------------------------------------------------ shared parts


class Clock(Model):
    """When the scenario happens: a local start time and how long it runs."""

    timezone: str = "Asia/Shanghai"
    start: datetime
    horizon_s: float = Field(gt=0, le=MAX_SECONDS)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime, info: ValidationInfo) -> datetime:
        """A start without a UTC offset is local time in the scenario's time zone."""
        if value.tzinfo is None:
            zone = info.data.get("timezone", "Asia/Shanghai")
            value = value.replace(tzinfo=ZoneInfo(zone))
        return value

    def at(self, t_s: float) -> datetime:
        """The local wall-clock time `t_s` seconds after the start."""
        return (self.start + timedelta(seconds=t_s)).astimezone(ZoneInfo(self.timezone))

    def label(self, t_s: float) -> str:
        """`HH:MM` local time, with `+1d` when it falls on a later day than the start."""
        when = self.at(t_s)
        days = (when.date() - self.start.astimezone(ZoneInfo(self.timezone)).date()).days
        return when.strftime("%H:%M") + (f" +{days}d" if days else "")


class RatePeriod(Model):
    """From `from_s` on (until the next period), arrivals at `rate_per_h`."""

    from_s: Seconds
    rate_per_h: float = Field(ge=0, le=10_000_000)


class ArrivalProfile(Model):
    """A piecewise-constant arrival rate; Poisson or evenly spaced arrivals. Zero before the first period."""

    process: Literal["poisson", "deterministic"] = "poisson"
    periods: tuple[RatePeriod, ...] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _increasing(self) -> ArrivalProfile:
        starts = [p.from_s for p in self.periods]
        for i, (a, b) in enumerate(itertools.pairwise(starts), start=1):
            if b <= a:
                raise ValueError(f"periods[{i}].from_s ({b:g}) must be after periods[{i - 1}].from_s ({a:g})")
        return self

    def rate_at(self, t_s: float) -> float:
        """Arrivals per hour at time `t_s`."""
        rate = 0.0
        for p in self.periods:
            if p.from_s > t_s:
                break
            rate = p.rate_per_h
        return rate

    def expected_count(self, until_s: float, since_s: float = 0.0) -> float:
        """Expected arrivals in `[since_s, until_s)`."""
        total = 0.0
        for i, p in enumerate(self.periods):
            end = self.periods[i + 1].from_s if i + 1 < len(self.periods) else float("inf")
            lo, hi = max(p.from_s, since_s), min(end, until_s)
            if hi > lo:
                total += p.rate_per_h * (hi - lo) / 3600
        return total


class Inject(Model):
    """A drill event at a given time: a message, a delay, a closure, a revised forecast.

    `condition` (e.g. `queue_total > 500`) makes it fire only if the simulated state then says so; the effects
    of each kind are in `scenarios/injects.py`.
    """

    at_s: Seconds
    kind: Ident
    target: str | None = None
    params: dict[str, float | int | str | bool] = Field(default_factory=dict)
    condition: str | None = Field(default=None, max_length=200)
    note: str = ""

    @model_validator(mode="after")
    def _valid(self) -> Inject:
        from scenarios.injects import effect_problem, parse_condition

        parse_condition(self.condition)  # raises ValueError naming the problem
        problem = effect_problem(self.kind, self.target, self.params)
        if problem is not None:
            raise ValueError(problem)
        return self


class DefaultPlan(Model):
    """What a commander would do without the optimiser: a named rule of the scenario kind, plus actions.

    The rule is expanded by the scenario kind's own code (e.g. `nearest`: testers to the nearest sites in
    proportion, visitors to the nearest site, buses first come first served).
    """

    rule: Ident = "nearest"
    actions: tuple[dict[str, Any], ...] = ()


# ------------------------------------------------------------------------------------------ graph overlays

OverlayId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")]


class OverlayNode(Model):
    """A node the scenario adds to its graph (with `at`) or retypes and annotates (an id the graph has).

    `walk` and `road` join a node to the walking or road network: `nearest` (the nearest junction of the main
    network) or the ids of the nodes to join it to, by a straight two-way link."""

    id: OverlayId
    at: tuple[float, float] | None = None  # (lon, lat) in degrees, for a new node
    kind: str | None = None
    name: str | None = Field(default=None, max_length=200)
    name_zh: str | None = Field(default=None, max_length=200)
    area_m2: float | None = Field(default=None, ge=0, le=1e9)
    walk: Literal["nearest"] | tuple[OverlayId, ...] = ()
    road: Literal["nearest"] | tuple[OverlayId, ...] = ()
    link_width_m: float = Field(default=4.0, gt=0, le=500)


class OverlayEdge(Model):
    """An edge the scenario adds (`mode` needed), retypes or annotates (both directions, unless `oneway`), makes
    one-way (`oneway: true`: only `u -> v` is left) or closes (`closed: true`)."""

    u: OverlayId
    v: OverlayId
    mode: Literal["walk", "stair", "road", "tunnel", "ferry", "metro"] | None = None
    width_m: float | None = Field(default=None, ge=0, le=1000)
    lanes: int | None = Field(default=None, ge=0, le=20)
    free_speed_mps: float | None = Field(default=None, gt=0, le=100)
    length_m: float | None = Field(default=None, gt=0, le=1e6)
    name: str | None = Field(default=None, max_length=200)
    oneway: bool | None = None
    closed: bool = False


class GraphOverlay(Model):
    """What a scenario adds to or changes in the graph it names: places, kinds, widths, areas, names, one-ways,
    closures (applied by `scenarios.graphs.overlay`, in order: nodes, then edges)."""

    nodes: tuple[OverlayNode, ...] = Field(default=(), max_length=10_000)
    edges: tuple[OverlayEdge, ...] = Field(default=(), max_length=10_000)


class ScenarioBase(Model):
    """What every scenario has."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    sources: tuple[str, ...] = ()
    clock: Clock
    graph: str = Field(min_length=1, max_length=500)
    overlay: GraphOverlay | None = None
    seed: int = Field(ge=0, le=2**63 - 1)
    injects: tuple[Inject, ...] = ()
    default_plan: DefaultPlan = DefaultPlan()

    @model_validator(mode="after")
    def _injects_in_horizon(self) -> ScenarioBase:
        for i, inj in enumerate(self.injects):
            if inj.at_s > self.clock.horizon_s:
                raise ValueError(f"injects[{i}].at_s: {inj.at_s:g} s is after the horizon ({self.clock.horizon_s:g} s)")
        return self


# ------------------------------------------------------------------------------------------ mass testing


class Zone(Model):
    """People in a place at the start, and (optionally) more arriving there over time."""

    node: NodeId
    visitors: Count = 0
    arrivals: ArrivalProfile | None = None


class TestSite(Model):
    """A place where swab booths can stand."""

    node: Annotated[str, NodeRef(("test_site",))]
    booths: int = Field(ge=1, le=1000)


class Testing(Model):
    """How testing works on site."""

    swab_time: Distribution
    swabbers_per_booth: int = Field(default=1, ge=1, le=10)
    registrars_per_booth: int = Field(default=0, ge=0, le=10)
    walk_speed_mps: float = Field(default=1.2, gt=0, le=5)
    sites: tuple[TestSite, ...] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_sites(self) -> Testing:
        seen: set[str] = set()
        for i, site in enumerate(self.sites):
            if site.node in seen:
                raise ValueError(f"sites[{i}].node: {site.node!r} is listed twice")
            seen.add(site.node)
        return self


class TesterPool(Model):
    """A district's testers: how many, where they gather, how soon, in which groups, for how long."""

    centre: Annotated[str, NodeRef(("district_centre",))]
    count: Count
    registrar_share: Share = 0.0
    callup_delay_s: Seconds = 0.0
    group_size: int = Field(default=20, ge=1, le=10_000)
    group_interval_s: Seconds = 600.0
    shift_s: float = Field(default=4 * 3600, gt=0, le=MAX_SECONDS)


class BusDepot(Model):
    node: Annotated[str, NodeRef(("depot", "bus_bay", "parking", "destination"))]
    count: Count
    ready_at_s: Seconds = 0.0


class BusFleet(Model):
    """Buses, where they start, how many they carry and how long they take at each end."""

    count: Count
    capacity: int = Field(ge=1, le=500)
    load_time_s: Seconds = 300.0
    unload_time_s: Seconds = 180.0
    depots: tuple[BusDepot, ...] = ()
    bays: tuple[Annotated[str, NodeRef(("bus_bay",))], ...] = Field(min_length=1)
    destinations: dict[Annotated[str, NodeRef(("destination",))], Share] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> BusFleet:
        placed = sum(d.count for d in self.depots)
        if placed != self.count:
            raise ValueError(f"depots hold {placed} buses but count is {self.count}")
        _check_shares(self.destinations, "destinations shares")
        return self


class MassTestingResources(Model):
    testers: dict[Ident, TesterPool] = Field(min_length=1)
    buses: BusFleet | None = None


class HomeModes(Model):
    """How tested visitors leave: shares by mode (adding up to 1); `walk` leaves on foot, unmodelled."""

    metro: Share = 0.0
    car: Share = 0.0
    bus: Share = 0.0
    walk: Share = 1.0

    @model_validator(mode="after")
    def _sum(self) -> HomeModes:
        shares = {"metro": self.metro, "car": self.car, "bus": self.bus, "walk": self.walk}
        _check_shares(shares, "home mode shares")
        return self


class MetroService(Model):
    station: Annotated[str, NodeRef(("metro",))]
    closes_at_s: Seconds | None = None
    capacity_per_h: float = Field(default=20_000, ge=0, le=MAX_COUNT)


class Population(Model):
    zones: tuple[Zone, ...] = Field(min_length=1)
    home_modes: HomeModes = HomeModes()
    parking: tuple[Annotated[str, NodeRef(("parking",))], ...] = ()


class MassTestingThresholds(Model):
    target_finish_s: Seconds | None = None
    max_wait_s: Seconds | None = None
    max_queue: Count | None = None


class MassTestingScenario(ScenarioBase):
    """Everyone in an area is swabbed before leaving; testers are called in, buses take people home."""

    kind: Literal["mass_testing"]
    population: Population
    testing: Testing
    resources: MassTestingResources
    metro: MetroService | None = None
    thresholds: MassTestingThresholds = MassTestingThresholds()

    @model_validator(mode="after")
    def _modes_have_means(self) -> MassTestingScenario:
        if self.default_plan.rule != "nearest":
            raise ValueError(f"default_plan.rule: unknown rule {self.default_plan.rule!r}; expected 'nearest'")
        modes = self.population.home_modes
        if modes.metro > 0 and self.metro is None:
            raise ValueError("population.home_modes.metro is > 0 but the scenario has no metro section")
        if modes.car > 0 and not self.population.parking:
            raise ValueError("population.home_modes.car is > 0 but population.parking lists no car park")
        if modes.bus > 0 and (self.resources.buses is None or self.resources.buses.count == 0):
            raise ValueError("population.home_modes.bus is > 0 but the scenario has no buses")
        for i, inj in enumerate(self.injects):
            if inj.kind == "delay" and inj.target not in self.resources.testers:
                raise ValueError(f"injects[{i}].target: {inj.target!r} is not a tester pool of the scenario "
                                 f"({', '.join(self.resources.testers)})")  # fmt: skip
        return self

    @property
    def total_testers(self) -> int:
        return sum(p.count for p in self.resources.testers.values())

    @property
    def initial_visitors(self) -> int:
        return sum(z.visitors for z in self.population.zones)


# ------------------------------------------------------------------------------------------ crowd


class Release(Model):
    """A crowd let out at once (a venue emptying, people already there at the start): `people` come out of the
    origins from `at_s`, evenly over `over_s` (the arrivals it stands for: `profile`)."""

    at_s: Seconds = 0.0
    people: Count
    over_s: float = Field(default=600.0, gt=0, le=24 * 3600)

    def profile(self) -> ArrivalProfile:
        """The deterministic arrival profile of the release."""
        return ArrivalProfile(process="deterministic", periods=(
            RatePeriod(from_s=self.at_s, rate_per_h=self.people * 3600 / self.over_s),
            RatePeriod(from_s=min(self.at_s + self.over_s, MAX_SECONDS), rate_per_h=0.0)))  # fmt: skip


#: Where a crowd can head: places to stand (viewing areas, squares), or ways out (stations, exits, piers), where
#: people who head there leave as they arrive (a destination that is one of the scenario's `exits`).
DESTINATION_KINDS = ("viewing_area", "square", "promenade", "plaza", "zone", "metro", "metro_exit", "exit", "pier")
LEAVING_KINDS = ("metro", "metro_exit", "exit", "pier")


class Station(Model):
    """A metro station whose exit is an origin of the demand: the people its trains bring wait inside it (on its
    platforms and in its concourse: `area_m2`, else the origin's holding area) up to `capacity` (and never past
    the jam density of that area) before they come out; arrivals past it stay on the train (`refused_full`).

    When trains skip it (a plan's `close_station`), its arrivals go to its `neighbours` (stations of the same
    scenario, each with its own capacity) by one rule: in equal shares over those whose trains still stop; when
    trains skip every one of them too, they ride on out of the area (`diverted`). Those already inside still come
    out. `source`: where the capacity comes from (or `EST: ...`)."""

    capacity: int = Field(gt=0, le=MAX_COUNT)
    area_m2: float | None = Field(default=None, gt=0, le=1e7)
    neighbours: tuple[NodeId, ...] = ()
    source: str = ""


class Patience(Model):
    """How long people held before an entrance wait before they give up (`wait`, a duration distribution), and
    what they do then, in shares that add up to 1: go to another viewing area outside the modelled site
    (`other_area`: the `diverted` KPI), go home (`home`), or push on (`push_on`: they stay and press on, and wait
    on without giving up again). `source`: where the figures come from, or `EST: ...` for an estimate."""

    wait: Distribution
    other_area: Share
    home: Share
    push_on: Share
    source: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _shares_add_up(self) -> Patience:
        total = self.other_area + self.home + self.push_on
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the shares other_area + home + push_on must add up to 1 (they add up to {total:.6g})")
        return self


class CrowdDemand(Model):
    """People arriving per hour in all, where they come in (origin shares) and where they head (destinations).

    `release` instead of `arrivals` lets a crowd out at a time (it is written as the arrivals it stands for). A
    destination that is one of the scenario's `exits` (a station a venue's crowd walks to) is where they leave:
    gone as they arrive, no dwell."""

    arrivals: ArrivalProfile
    release: Release | None = None
    origins: dict[Annotated[str, NodeRef(("entrance", "metro_exit", "metro", "pier"))], Share] = Field(min_length=1)
    destinations: dict[Annotated[str, NodeRef(DESTINATION_KINDS)], Share] = Field(min_length=1)
    # Where people wait before they come in (held by the entrance's width, a meter, a closure or a full place):
    # the space upstream of each origin (the street behind a gate, a station's concourse), m² per origin; an
    # origin not listed has `holding_default_m2`.
    holding_m2: dict[Annotated[str, NodeRef(("entrance", "metro_exit", "metro", "pier"))], Annotated[float, Field(
        gt=0, le=1e7)]] = Field(default_factory=dict)
    holding_default_m2: float = Field(default=500.0, gt=0, le=1e7)  # EST: 25 m of a 20 m street
    # Metro stations whose exits are origins: how many each holds inside, and where its arrivals go when trains
    # skip it (`Station`). An origin not listed waits in its holding area only.
    stations: dict[Annotated[str, NodeRef(("metro_exit", "metro"))], Station] = Field(default_factory=dict)
    # Place choice by nearness (`scenarios.crowd.place_choice`): where given, each origin's newcomers weigh each
    # destination's share by exp(-t / nearness_s), t their free-flow walk to it, so that people come in near the
    # place they mean to watch from; absent, every origin sends its people to the same shares.
    nearness_s: float | None = Field(default=None, gt=0, le=86_400)

    @model_validator(mode="before")
    @classmethod
    def _arrivals_of_release(cls, data: Any) -> Any:
        """A valid `release` stands for its arrivals (left to the field checks if it is not valid)."""
        if not isinstance(data, dict) or data.get("release") is None:
            return data
        try:
            computed = Release.model_validate(data["release"]).profile().model_dump(mode="json")
        except ValueError:
            return {"arrivals": {"periods": [{"from_s": 0, "rate_per_h": 0}]}, **data}
        given = data.get("arrivals")
        if given is not None and given != computed:
            raise ValueError("give demand.arrivals or demand.release, not both")
        return {**data, "arrivals": computed}

    @model_validator(mode="after")
    def _shares(self) -> CrowdDemand:
        _check_shares(self.origins, "origins shares")
        _check_shares(self.destinations, "destinations shares")
        stray = [o for o in self.holding_m2 if o not in self.origins]
        if stray:
            raise ValueError(f"holding_m2.{stray[0]}: not an origin of the demand ({', '.join(self.origins)})")
        for name, station in self.stations.items():
            if name not in self.origins:
                raise ValueError(f"stations.{name}: not an origin of the demand ({', '.join(self.origins)})")
            for i, other in enumerate(station.neighbours):
                if other == name or other not in self.stations:
                    why = "is the station itself" if other == name else (
                        f"is not a station of the demand ({', '.join(self.stations)})")  # fmt: skip
                    raise ValueError(f"stations.{name}.neighbours[{i}]: {other!r} {why}")
        return self


class ShowSegment(Model):
    """A light-show performance that draws people to the viewing areas."""

    start_s: Seconds
    duration_s: float = Field(gt=0, le=24 * 3600)
    attraction: float = Field(default=1.0, ge=0, le=100)


class Walking(Model):
    """The pedestrian flow model's parameters."""

    fundamental_diagram: Literal["weidmann", "sfpe"] = "weidmann"
    free_speed_mps: float = Field(default=1.34, gt=0, le=5)
    jam_density_ppm2: float = Field(default=5.4, gt=0, le=12)
    weidmann_gamma: float = Field(default=1.913, gt=0, le=10)
    specific_flow_pmps: float = Field(default=DOOR_SPECIFIC_FLOW_PMPS, gt=0, le=5)  # doors: scenarios.pedestrian
    stair_speed_factor: float = Field(default=0.5, gt=0, le=1)
    step_s: float = Field(default=1.0, gt=0, le=60)


class StaffTeam(Model):
    """A team that can be posted: security, police, volunteers."""

    count: Count
    base: NodeId
    callup_delay_s: Seconds = 0.0


class CrowdThresholds(Model):
    """Density levels (persons per m²) that raise events: warning, critical, crush; a place at or above the
    crush density for `crush_hold_s` is a crush (the `crush` event)."""

    warning_ppm2: float = Field(default=4.0, gt=0, le=12)
    critical_ppm2: float = Field(default=5.0, gt=0, le=12)
    crush_ppm2: float = Field(default=7.0, gt=0, le=12)
    crush_hold_s: float = Field(default=60.0, gt=0, le=3600)  # EST: a minute pressed at crush density

    @model_validator(mode="after")
    def _ordered(self) -> CrowdThresholds:
        if not (self.warning_ppm2 < self.critical_ppm2 < self.crush_ppm2):
            raise ValueError("thresholds must rise: warning_ppm2 < critical_ppm2 < crush_ppm2")
        return self


class CrowdCrush(Model):
    """Where a standing, pushing crowd packs tighter than walkers jam: per node, the density (persons per m²)
    it can be pressed to (`scenarios.pedestrian` for the sources). A listed node's standing area, and every
    walkway between two listed nodes (the lesser of their two figures), compress up to it; elsewhere the
    walking jam density (`walking.jam_density_ppm2`) is the most a place holds."""

    places: dict[NodeId, Annotated[float, Field(gt=0, le=12)]] = Field(default_factory=dict)


class CrowdScenario(ScenarioBase):
    """People walk to viewing areas for an event, dwell, and leave; staff and controls keep densities safe."""

    kind: Literal["crowd"]
    evenings: int = Field(default=1, ge=1, le=31)
    demand: CrowdDemand
    exits: tuple[NodeId, ...] = Field(min_length=1)
    # How long people stay at a destination where they do not leave; none needed when every destination is an exit.
    dwell: Distribution | None = None
    shows: tuple[ShowSegment, ...] = ()
    walking: Walking = Walking()
    counterflow_control: bool = True
    staff: dict[Ident, StaffTeam] = Field(default_factory=dict)
    thresholds: CrowdThresholds = CrowdThresholds()
    crush: CrowdCrush = CrowdCrush()
    # The staff a post needs to hold a control (a meter, a one-way stair): EST, a police squad of about 20 holds
    # a gate or a stair's two ends; a pool smaller than this is kept at its base by the optimiser.
    staff_post: int = Field(default=20, ge=1, le=100_000)
    # Whether people learn that a viewing area is full before they reach it (signs, stewards, phones): they go
    # to another or home. Where nobody tells them (the Bund in 2014), they keep heading for it and press on.
    full_areas_known: bool = True
    # How long people held before an entrance wait, and what they do then (`Patience`); None: they wait on.
    patience: Patience | None = None
    # The places a record's head-count covers (a police boundary, such as the Bund waterfront area): the people at
    # these nodes and on the walkways between two of them are the count `peak_on_site` reports (the series
    # `on_site_counted`); empty, everyone on the graph who has come in (not those waiting to come in).
    count_area: tuple[NodeId, ...] = ()
    # The optimiser's flow LP plans this scenario in periods of this many seconds, where the period its size alone
    # gives hides what the plan must see (the 2014 countdown's egress: 9-minute periods peaked at 6.6 /m², 4-minute
    # ones kept every place under 4 at 20 seeds; benchmarks/README.md, "The 2014 stair's head"). A period chosen
    # for a scenario is one its simulation has judged. None: `optimizer.crowd.flow.lp_period_s` sizes it.
    plan_period_s: float | None = Field(default=None, ge=60, le=3600)

    @model_validator(mode="after")
    def _crush_reachable(self) -> CrowdScenario:
        """The crush density the scenario writes is one some place can reach: the walking jam density, or a place's
        pressed one (the default, 7 /m², is the literature's: where no place is pressed, no crush can happen)."""
        if "crush_ppm2" not in self.thresholds.model_fields_set:
            return self
        jam = 1 / SFPE_A if self.walking.fundamental_diagram == "sfpe" else self.walking.jam_density_ppm2
        densest = max([jam, *self.crush.places.values()])
        if self.thresholds.crush_ppm2 > densest:
            where = "the walking jam density" if densest == jam else "the densest place in crush.places"
            raise ValueError(f"thresholds.crush_ppm2: {self.thresholds.crush_ppm2:g} /m² is above what any place can "
                             f"reach ({densest:g} /m², {where}); list the places where a standing crowd is pressed "
                             "tighter in crush.places, or lower the threshold")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _dwell_where_people_stay(self) -> CrowdScenario:
        """A dwell is given when some destination is a place to stay (not one of the exits)."""
        staying = [d for d in self.demand.destinations if d not in self.exits]
        if self.dwell is None and staying:
            raise ValueError(f"dwell: required: people stay at {staying[0]!r} (a destination that is not one of "
                             "the exits) and the scenario does not say for how long")  # fmt: skip
        return self

    @property
    def stay(self) -> Distribution:
        """The dwell at destinations (no time at all when every destination is an exit and none is given)."""
        return self.dwell if self.dwell is not None else Deterministic(value_s=0.0)

    @model_validator(mode="after")
    def _inject_targets(self) -> CrowdScenario:
        """A surge is at an origin of the demand, a delay holds up a staff team, a show inject names a segment
        (a closure's node is checked against the graph when the scenario is loaded)."""
        for i, inj in enumerate(self.injects):
            if inj.kind == "surge" and inj.target not in self.demand.origins:
                raise ValueError(f"injects[{i}].target: {inj.target!r} is not an origin of the demand "
                                 f"({', '.join(self.demand.origins)})")  # fmt: skip
            if inj.kind == "delay" and inj.target not in self.staff:
                raise ValueError(f"injects[{i}].target: {inj.target!r} is not a staff team of the scenario "
                                 f"({', '.join(self.staff) or 'none'})")  # fmt: skip
            segment = inj.params.get("segment")
            if inj.kind == "show" and isinstance(segment, int) and segment >= len(self.shows):
                raise ValueError(f"injects[{i}].params.segment: no show segment {segment} "
                                 f"(the scenario has {len(self.shows)})")  # fmt: skip
        return self


# ------------------------------------------------------------------------------------------ typhoon

def _level_text(value: Any) -> Any:
    """A warning level written as a number in YAML (Hong Kong's signal 8) is its name ("8")."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


#: A level of a warning scale: a colour, a signal number, a word.
LevelName = Annotated[str, BeforeValidator(_level_text), Field(pattern=r"^[A-Za-z0-9_+-]{1,32}$")]
#: The word for "no warning in force", the bottom of every scale (whatever the scale calls its lowest level).
NO_WARNING = "none"


class WarningScale(Model):
    """An ordered warning scale, lowest first: its first level is "no warning in force" (`none` is that level on
    every scale). `aliases` are other names of a level (Hong Kong's `8NE` is signal 8); `ferries_stop` is the
    level from which a ferry line stops unless it says otherwise (None: each line must say); `source` says
    where the scale is defined."""

    name: Ident
    levels: tuple[LevelName, ...] = Field(min_length=2, max_length=50)
    aliases: dict[LevelName, LevelName] = Field(default_factory=dict)
    ferries_stop: LevelName | None = None
    source: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> WarningScale:
        seen: set[str] = set()
        for i, level in enumerate(self.levels):
            if level in seen:
                raise ValueError(f"levels[{i}]: {level!r} is listed twice")
            if level == NO_WARNING and i > 0:
                raise ValueError(f"levels[{i}]: {NO_WARNING!r} means no warning; it can only be the first level")
            seen.add(level)
        for alias, level in self.aliases.items():
            if alias in seen or alias == NO_WARNING:
                raise ValueError(f"aliases.{alias}: {alias!r} is already a level of the scale")
            if level not in seen:
                raise ValueError(f"aliases.{alias}: {level!r} is not a level of the scale ({', '.join(self.levels)})")
        if self.ferries_stop is not None:
            self.rank(self.ferries_stop, where="ferries_stop")
        return self

    def rank(self, level: str, *, where: str = "warning") -> int:
        """The level's place on the scale (0: no warning); `ValueError` naming the scale's levels if it has none
        of that name."""
        name = self.aliases.get(level, level)
        if name == NO_WARNING:
            return 0
        if name not in self.levels:
            known = ", ".join([*self.levels, *self.aliases])
            raise ValueError(f"{where}: {level!r} is not a level of the {self.name} scale ({known})")
        return self.levels.index(name)


#: The built-in scales, by name; a scenario names one (`hazard.warning_scale`) or defines its own.
WARNING_SCALES: dict[str, WarningScale] = {
    scale.name: scale
    for scale in (
        # China Meteorological Administration, 突发气象灾害预警信号发布试行办法 (16 Aug 2004), typhoon signals: blue
        # (force 6+ within 24 h), yellow (force 8+ within 24 h), orange (force 10+ within 12 h), red (force 12+
        # within 6 h). Ferries on the Huangpu: no published rule; orange is the estimate in facts.md 1.1.
        WarningScale(name="china_typhoon", levels=("none", "blue", "yellow", "orange", "red"), ferries_stop="orange",
                     source="CMA typhoon warning signals (2004); Huangpu ferries at orange: EST, facts.md 1.1"),
        # Hong Kong Observatory, tropical cyclone warning signals: 1 (standby), 3 (strong wind), 8 NE/NW/SE/SW
        # (gale or storm), 9 (increasing gale or storm), 10 (hurricane). Ferry services stop under signal 8
        # (Roke, 23 Jul 2017: livemint; Ma-on, 24-25 Aug 2022: Hong Kong Free Press, ferries back after the 8
        # was lowered).
        WarningScale(name="hong_kong_tc", levels=("none", "1", "3", "8", "9", "10"),
                     aliases={"T1": "1", "T3": "3", "T8": "8", "8NE": "8", "8NW": "8", "8SE": "8", "8SW": "8",
                              "T9": "9", "T10": "10"},
                     ferries_stop="8", source="Hong Kong Observatory tropical cyclone warning signals"),
        # US National Weather Service products, least to most serious: an advisory (less serious conditions), a
        # watch (the hazard is possible), a warning (it is occurring or imminent). No ferry rule: each line says.
        WarningScale(name="us_nws", levels=("none", "advisory", "watch", "warning"),
                     source="US National Weather Service: advisory, watch, warning"),
    )
}  # fmt: skip
#: China's typhoon colours: the scale of a scenario that names none.
CHINA_TYPHOON = WARNING_SCALES["china_typhoon"]


#: A scale by name (a built-in one) or written out: a string is a name, a mapping a scale.
ScaleRef = Annotated[
    Annotated[Ident, Tag("builtin_scale")] | Annotated[WarningScale, Tag("own_scale")],
    Discriminator(lambda v: "builtin_scale" if isinstance(v, str) else "own_scale"),
]
register_union_tags("builtin_scale", "own_scale")


class HazardPoint(Model):
    """From `at_s` on: the wind on the river (Beaufort force) and the warning in force (a level of the scenario's
    scale, `hazard.warning_scale`)."""

    at_s: Seconds
    wind_force: int = Field(ge=0, le=17)
    warning: LevelName = NO_WARNING


class Hazard(Model):
    """The wind and warning timeline, its warnings on a scale: a built-in one by name (`WARNING_SCALES`: China's
    typhoon colours unless the scenario says otherwise) or one the scenario defines."""

    warning_scale: ScaleRef = "china_typhoon"
    timeline: tuple[HazardPoint, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> Hazard:
        for i in range(1, len(self.timeline)):
            if self.timeline[i].at_s <= self.timeline[i - 1].at_s:
                raise ValueError(f"timeline[{i}].at_s must be after timeline[{i - 1}].at_s")
        if isinstance(self.warning_scale, str) and self.warning_scale not in WARNING_SCALES:
            raise ValueError(f"warning_scale: no built-in scale {self.warning_scale!r} ({', '.join(WARNING_SCALES)}); "
                             "name one or define it (name, levels)")  # fmt: skip
        for i, point in enumerate(self.timeline):
            self.scale.rank(point.warning, where=f"timeline[{i}].warning")
        return self

    @property
    def scale(self) -> WarningScale:
        """The warning scale itself (a built-in one looked up by name)."""
        ws = self.warning_scale
        return WARNING_SCALES[ws] if isinstance(ws, str) else ws


class FerryLine(Model):
    """A cross-river ferry between two piers and the conditions that stop it."""

    piers: tuple[Annotated[str, NodeRef(("pier",))], Annotated[str, NodeRef(("pier",))]]
    name: str = ""
    headway_s: float = Field(gt=0, le=24 * 3600)
    crossing_s: float = Field(gt=0, le=24 * 3600)
    riders_per_trip: int = Field(ge=0, le=10_000)
    service_from_s: Seconds = 0.0
    service_until_s: Seconds = MAX_SECONDS
    suspend_wind_force: int = Field(default=7, ge=0, le=17)
    # The warning level (of the scenario's scale) from which the line stops; None: the scale's `ferries_stop`; the
    # lowest level (`none`): warnings alone never stop it.
    suspend_warning: LevelName | None = None
    resume_delay_s: Seconds = 1800.0


class Tunnel(Model):
    """A cross-river road tunnel: portals, lanes per direction and motor demand per direction."""

    portals: tuple[Annotated[str, NodeRef(("tunnel_portal",))], Annotated[str, NodeRef(("tunnel_portal",))]]
    name: str = ""
    lanes_per_direction: int = Field(ge=1, le=8)
    lane_capacity_vph: float = Field(gt=0, le=5000)
    merge_factor: float = Field(default=0.9, gt=0, le=1)
    demand_ab: ArrivalProfile
    demand_ba: ArrivalProfile
    holding_points: tuple[NodeId, ...] = ()


class RiderFlow(Model):
    origin: Annotated[str, NodeRef(("bank_area",))]
    destination: Annotated[str, NodeRef(("bank_area",))]
    arrivals: ArrivalProfile


class Riders(Model):
    flows: tuple[RiderFlow, ...] = Field(min_length=1)
    patience: Distribution
    ebike_speed_mps: float = Field(default=5.5, gt=0, le=15)


class EscortTeams(Model):
    """Police units that lead batches of riders through a cleared lane.

    `tunnels` and `batch_interval_s` are the default plan's (what police did without the optimiser): the tunnels
    escorted through (empty: the scenario's first), and the time between two batches one team leads (0: back to
    back, one cycle; never less than a cycle). The optimiser chooses its own.
    """

    count: Count
    batch_size: int = Field(ge=1, le=10_000)
    escort_speed_mps: float = Field(default=5.56, gt=0, le=30)
    setup_s: Seconds = 120.0
    return_s: Seconds = 600.0
    tunnels: tuple[Ident, ...] = ()
    batch_interval_s: Seconds = 0.0


class LaneRules(Model):
    min_clear_s: Seconds = 1800.0
    changeover_s: Seconds = 300.0
    period_s: float = Field(default=900.0, gt=0, le=24 * 3600)


#: The trade-off points a typhoon plan offers, by name, and the factor each puts on the car-delay weight.
TRADE_OFF_FACTORS: dict[str, float] = {"riders": 0.25, "balanced": 1.0, "cars": 4.0}


class TyphoonWeights(Model):
    """The optimiser's objective, in the scenario and shown in the plan.

    `trade_off` is the commander's pick among the points the optimiser offers (rider wait against car delay):
    the schedule optimised with the car-delay weight x `TRADE_OFF_FACTORS[trade_off]` (riders first x 0.25,
    balanced x 1, cars first x 4). Every pick solves the same points, so the point picked is the point offered.
    """

    rider_wait_per_h: float = Field(default=1.0, ge=0)
    rider_stranded: float = Field(default=2.0, ge=0)
    vehicle_delay_per_h: float = Field(default=0.5, ge=0)
    trade_off: Literal["riders", "balanced", "cars"] = "balanced"


class TyphoonScenario(ScenarioBase):
    """Ferries stop for a storm; riders cross in escorted batches through a cleared tunnel lane."""

    kind: Literal["typhoon"]
    hazard: Hazard
    ferries: dict[Ident, FerryLine] = Field(min_length=1)
    tunnels: dict[Ident, Tunnel] = Field(min_length=1)
    riders: Riders
    escorts: EscortTeams
    lanes: LaneRules = LaneRules()
    weights: TyphoonWeights = TyphoonWeights()

    @model_validator(mode="after")
    def _ferry_levels(self) -> TyphoonScenario:
        """Each ferry line stops at a level of the scenario's warning scale (its own, or the scale's)."""
        scale = self.hazard.scale
        for name, line in self.ferries.items():
            where = f"ferries.{name}.suspend_warning"
            if line.suspend_warning is not None:
                scale.rank(line.suspend_warning, where=where)
            elif scale.ferries_stop is None:
                raise ValueError(f"{where}: the {scale.name} scale says no level at which ferries stop; give "
                                 f"the line's ({', '.join(scale.levels)}; {NO_WARNING!r}: warnings never stop it)")
        return self

    @model_validator(mode="after")
    def _escorted_tunnels_exist(self) -> TyphoonScenario:
        for i, name in enumerate(self.escorts.tunnels):
            if name not in self.tunnels:
                raise ValueError(f"escorts.tunnels[{i}]: {name!r} is not a tunnel of the scenario "
                                 f"({', '.join(self.tunnels)})")  # fmt: skip
        return self


#: The built-in kinds' scenarios. A kind added later has its own schema model (a `ScenarioBase` with a
#: `kind` literal), registered with its `scenarios.kinds.KindSpec`.
Scenario = MassTestingScenario | CrowdScenario | TyphoonScenario


def scenario_hash(scenario: Any) -> str:
    """SHA-256 of the scenario's canonical JSON: which exact scenario a plan or a run was made from."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ node refs


def _walk(annotation: Any, value: Any, path: str, refs: tuple[NodeRef, ...]) -> Iterator[tuple[str, str, NodeRef]]:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *meta = get_args(annotation)
        found = tuple(m for m in meta if isinstance(m, NodeRef))
        yield from _walk(inner, value, path, refs + found)
        return
    if value is None:
        return
    if refs and isinstance(value, str):
        yield path, value, refs[-1]
        return
    if isinstance(value, BaseModel):
        yield from node_refs(value, path)
        return
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            base = get_args(arg)[0] if get_origin(arg) is Annotated else arg
            if isinstance(base, type) and isinstance(value, base):
                yield from _walk(arg, value, path, refs)
                return
        return
    if origin in (tuple, list) and isinstance(value, tuple | list):
        args = get_args(annotation)
        for i, item in enumerate(value):
            arg = args[0] if (len(args) == 2 and args[1] is Ellipsis) or len(args) == 1 else args[min(i, len(args) - 1)]
            yield from _walk(arg, item, f"{path}[{i}]", ())
        return
    if origin is dict and isinstance(value, dict):
        key_t, val_t = get_args(annotation)
        for key, item in value.items():
            yield from _walk(key_t, key, key_path(path, key), ())
            yield from _walk(val_t, item, key_path(path, key), ())


def node_refs(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str, NodeRef]]:
    """Every `(field path, node id, NodeRef)` in a model, recursively."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        marks = tuple(m for m in info.metadata if isinstance(m, NodeRef))
        yield from _walk(info.annotation, value, path, marks)
