"""The plan vocabulary: time-stamped actions, a `Plan` with its provenance, JSON and diff.

A plan is what a commander approves: an ordered list of actions (`at_s` seconds after the scenario's start)
plus metadata saying who or what produced it, from which state, and with what solver result. Plans are
frozen, serialise to JSON losslessly (`Plan.model_validate_json(plan.to_json()) == plan`) and diff by
meaning: `diff_plans(old, new)` pairs each action with its counterpart (same type and same targets) and names
the fields that changed.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from scenarios.errors import ScenarioError, problems_from_validation, register_union_tags
from scenarios.schema import Ident, Model, NodeId, Seconds, Share


class _Action(Model):
    """Base of every action: when it takes effect and a free note for the people carrying it out."""

    #: Fields that say *what* an action acts on; two actions with the same type and key are the same
    #: decision, possibly with other numbers.
    key_fields: ClassVar[tuple[str, ...]] = ()

    at_s: Seconds
    note: str = ""
    if TYPE_CHECKING:  # each action declares its own `type` tag (the union's discriminator), a Literal
        type: str

    def key(self) -> tuple[Any, ...]:
        return (self.type, *(getattr(self, f) for f in self.key_fields))

    def label(self) -> str:
        targets = " ".join(f"{f}={getattr(self, f)}" for f in self.key_fields if getattr(self, f) is not None)
        return f"{self.type} {targets}".rstrip()


class Control(Protocol):
    """An action that holds a state over a time window (`scenarios.splice.CONTROLS`): from `at_s` until `until_s`
    (None: to the end)."""

    @property
    def at_s(self) -> float: ...

    @property
    def until_s(self) -> float | None: ...


class AssignStaff(_Action):
    """Send `count` people of a pool (a district's testers, a security team) to a place, in a given wave."""

    type: Literal["assign_staff"] = "assign_staff"
    key_fields: ClassVar[tuple[str, ...]] = ("pool", "to", "role", "wave")
    pool: Ident
    to: NodeId
    count: int = Field(ge=1, le=1_000_000)
    role: Ident = "any"
    wave: int = Field(default=0, ge=0, le=10_000)
    until_s: Seconds | None = None


class DispatchBus(_Action):
    """Send buses from a bay to a destination (one trip each), optionally a named bus.

    An order no bus has carried out by `until_s` lapses: a re-plan took over then (`scenarios.splice`); one
    with `until_s` before `at_s` was cancelled before it was due (buses waiting for it wait until `until_s`).
    Left out of the JSON when unset, so that plans without one keep the JSON and digest they always had.
    """

    type: Literal["dispatch_bus"] = "dispatch_bus"
    key_fields: ClassVar[tuple[str, ...]] = ("bus", "origin", "to")
    origin: NodeId
    to: NodeId
    count: int = Field(default=1, ge=1, le=100_000)
    bus: str | None = None
    until_s: Seconds | None = Field(default=None, exclude_if=lambda t: t is None)


class RouteVisitors(_Action):
    """Direct a share of the people in a zone to a place (a test site, an exit, a viewing area)."""

    type: Literal["route_visitors"] = "route_visitors"
    key_fields: ClassVar[tuple[str, ...]] = ("origin", "to")
    origin: NodeId
    to: NodeId
    share: Share


class ClearLane(_Action):
    """Clear lanes of a tunnel direction of motor traffic from `at_s` to `until_s`."""

    type: Literal["clear_lane"] = "clear_lane"
    key_fields: ClassVar[tuple[str, ...]] = ("tunnel", "direction")
    tunnel: Ident
    direction: Literal["ab", "ba"]
    lanes: int = Field(default=1, ge=1, le=8)
    until_s: Seconds


class EscortBatch(_Action):
    """An escort team leads up to `max_riders` riders through a cleared lane."""

    type: Literal["escort_batch"] = "escort_batch"
    key_fields: ClassVar[tuple[str, ...]] = ("tunnel", "direction", "team")
    tunnel: Ident
    direction: Literal["ab", "ba"]
    team: Ident
    max_riders: int = Field(ge=1, le=100_000)


class DirectRiders(_Action):
    """Tell riders waiting in an area to go to a crossing point (a pier, a tunnel holding point)."""

    type: Literal["direct_riders"] = "direct_riders"
    key_fields: ClassVar[tuple[str, ...]] = ("origin", "to")
    origin: NodeId
    to: NodeId
    share: Share = 1.0
    until_s: Seconds | None = None


class MeterFlow(_Action):
    """Cap the inflow through a node (an entrance, a metro exit) at `rate_per_min` people a minute."""

    type: Literal["meter_flow"] = "meter_flow"
    key_fields: ClassVar[tuple[str, ...]] = ("node",)
    node: NodeId
    rate_per_min: float = Field(ge=0, le=1_000_000)
    until_s: Seconds | None = None


class Announce(_Action):
    """Tell people on their way to an origin (phones, signs, metro broadcasts: "the riverfront is full") not to
    come: a `share` of the arrivals there turn back before they come, from `at_s` to `until_s`."""

    type: Literal["announce"] = "announce"
    key_fields: ClassVar[tuple[str, ...]] = ("origin",)
    origin: NodeId
    share: Share
    until_s: Seconds | None = None


class HoldArea(_Action):
    """Hold the crowd at a viewing area (a destination of the demand) in place: from `at_s` to `until_s`, of those
    whose time there is up, at most `rate_per_min` a minute may leave (0: nobody); the rest stay where they stand
    (and count in its density) until the hold lifts or lets them go. Released area by area at staggered times,
    it is the police's "release in waves" after a countdown (facts.md 3.2). Like a meter, it holds only where a
    team is posted within reach."""

    type: Literal["hold_area"] = "hold_area"
    key_fields: ClassVar[tuple[str, ...]] = ("node",)
    node: NodeId
    rate_per_min: float = Field(default=0.0, ge=0, le=1_000_000)
    until_s: Seconds | None = None


class OneWay(_Action):
    """Allow walking only from `u` to `v` on the edge between them."""

    type: Literal["one_way"] = "one_way"
    key_fields: ClassVar[tuple[str, ...]] = ("u", "v")
    u: NodeId
    v: NodeId
    until_s: Seconds | None = None


class CloseRoad(_Action):
    """Close a road edge to motor traffic (its carriageway becomes walkable)."""

    type: Literal["close_road"] = "close_road"
    key_fields: ClassVar[tuple[str, ...]] = ("u", "v")
    u: NodeId
    v: NodeId
    until_s: Seconds | None = None


class CloseExit(_Action):
    """Close a node to people (a metro station exit, a gate)."""

    type: Literal["close_exit"] = "close_exit"
    key_fields: ClassVar[tuple[str, ...]] = ("node",)
    node: NodeId
    until_s: Seconds | None = None


class CloseStation(_Action):
    """Trains skip a metro station (one of the crowd scenario's `demand.stations`) from `at_s` to `until_s`:
    nobody gets off or on there; its arrivals go to its neighbouring stations by the scenario's rule
    (`scenarios.schema.Station`), and those already inside still come out."""

    type: Literal["close_station"] = "close_station"
    key_fields: ClassVar[tuple[str, ...]] = ("station",)
    station: NodeId
    until_s: Seconds | None = None


class ChangeShow(_Action):
    """Pause, shorten or cancel a light-show segment."""

    type: Literal["change_show"] = "change_show"
    key_fields: ClassVar[tuple[str, ...]] = ("segment",)
    segment: int = Field(ge=0, le=10_000)
    change: Literal["pause", "shorten", "cancel"]
    minutes: float = Field(default=0, ge=0, le=24 * 60)


Action = Annotated[
    AssignStaff | DispatchBus | RouteVisitors | ClearLane | EscortBatch | DirectRiders | MeterFlow | OneWay
    | CloseRoad | CloseExit | ChangeShow | Announce | CloseStation | HoldArea,
    Field(discriminator="type"),
]  # fmt: skip
ACTION_TYPES = (AssignStaff, DispatchBus, RouteVisitors, ClearLane, EscortBatch, DirectRiders, MeterFlow,
                OneWay, CloseRoad, CloseExit, ChangeShow, Announce, CloseStation, HoldArea)  # fmt: skip
_ACTION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Action)
register_union_tags(*(t.model_fields["type"].default for t in ACTION_TYPES))


def parse_action(data: dict[str, Any]) -> Any:
    """Validate one action from a mapping (raises pydantic's `ValidationError`)."""
    return _ACTION_ADAPTER.validate_python(data)


class SolverStats(Model):
    """What the solver said: status, objective, best bound, relative gap, and (in a run's record, never in a plan's
    meta: `optimizer.result.PlanResult.plan_stats`) wall time."""

    status: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = Field(default=None, ge=0)
    wall_s: float | None = Field(default=None, ge=0)


class TradeOffPoint(Model):
    """One schedule of an optimiser's trade-off set (rider wait against car delay), in the optimiser's own model:
    the car-delay weight it was optimised at and what it costs."""

    vehicle_weight: float = Field(ge=0)  # per vehicle-hour of delay
    rider_wait_h: float = Field(ge=0)
    riders_stranded: float = Field(ge=0)
    vehicle_h: float = Field(ge=0)
    cleared_periods: int = Field(ge=0)  # lane-periods cleared, summed over tunnel directions
    cleared_ways: tuple[str, ...] = ()  # the tunnel directions it clears a lane of ("fuxing ba")
    period_s: Seconds = Field(gt=0)
    chosen: bool = False  # the schedule this plan carries out
    # The point's name, what a commander sets to pick it (a typhoon's `weights.trade_off`); left out when empty,
    # so that plans made before it keep their JSON and digest.
    name: str = Field(default="", exclude_if=lambda name: not name)


class PlanMeta(Model):
    """Where a plan comes from."""

    scenario: str
    scenario_hash: str = ""
    produced_by: str = "default"
    state_time_s: Seconds = 0.0
    seed: int | None = None
    solver: SolverStats | None = None
    objective_terms: dict[str, float] = Field(default_factory=dict)
    note: str = ""
    # Left out of the JSON when empty, so that plans without one keep the JSON and digest they always had.
    trade_off: tuple[TradeOffPoint, ...] = Field(default=(), exclude_if=lambda points: not points)
    # Buses follow the plan's dispatch orders from this time; before it, first come, first served. Set when a
    # plan with orders takes over from one without (a re-plan), so that the buses' past stays what it was.
    # None (left out of the JSON, as above): the orders govern from the start.
    dispatch_from_s: Seconds | None = Field(default=None, exclude_if=lambda t: t is None)


class Plan(Model):
    """Ordered time-stamped actions plus where they come from."""

    meta: PlanMeta
    actions: tuple[Action, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Plan:
        for i in range(1, len(self.actions)):
            if self.actions[i].at_s < self.actions[i - 1].at_s:
                raise ValueError(
                    f"actions[{i}].at_s ({self.actions[i].at_s:g}) is before actions[{i - 1}].at_s "
                    f"({self.actions[i - 1].at_s:g}); use Plan.build to sort"
                )
        return self

    @classmethod
    def build(cls, meta: PlanMeta, actions: Iterable[Any]) -> Plan:
        """A plan from actions in any order (sorted stably by time)."""
        return cls(meta=meta, actions=tuple(sorted(actions, key=lambda a: a.at_s)))

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent, exclude_none=False)

    @classmethod
    def from_json(cls, text: str, *, file: str = "plan.json") -> Plan:
        """Parse a plan, reporting every problem with its field path."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ScenarioError(problems_from_validation(file, exc)) from None

    def digest(self) -> str:
        """SHA-256 of the plan's canonical JSON: what an approval refers to."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def of_type(self, kind: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, kind)]


# ------------------------------------------------------------------------------------------ diff


@dataclass(frozen=True)
class ActionChange:
    """One action present in both plans with different numbers: `(field, old, new)` per changed field."""

    old: Any
    new: Any
    fields: tuple[tuple[str, Any, Any], ...]


@dataclass(frozen=True)
class PlanDiff:
    """What changed from one plan to the next."""

    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()
    changed: tuple[ActionChange, ...] = ()
    meta: tuple[tuple[str, Any, Any], ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.meta)

    def lines(self, time_label: Callable[[float], str] | None = None) -> list[str]:
        """Readable lines: `+` added, `-` removed, `~` changed (with `field: old -> new`)."""
        when = time_label or _seconds_label
        out = [f"~ meta.{name}: {_fmt(a)} -> {_fmt(b)}" for name, a, b in self.meta]
        for act in self.removed:
            out.append(f"- {when(act.at_s)} {act.label()} {_details(act)}".rstrip())
        for act in self.added:
            out.append(f"+ {when(act.at_s)} {act.label()} {_details(act)}".rstrip())
        for ch in self.changed:
            parts = ", ".join(
                f"{name}: {when(a) if name == 'at_s' else _fmt(a)} -> {when(b) if name == 'at_s' else _fmt(b)}"
                for name, a, b in ch.fields
            )
            out.append(f"~ {when(ch.old.at_s)} {ch.old.label()}: {parts}")
        return out or ["(no changes)"]


def _seconds_label(t_s: float) -> str:
    t = round(t_s)
    return f"+{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def _details(action: Any) -> str:
    skip = {"type", "at_s", *action.key_fields}
    return " ".join(f"{k}={_fmt(v)}" for k, v in action.model_dump().items() if k not in skip and v not in (None, ""))


def _field_changes(a: Any, b: Any) -> tuple[tuple[str, Any, Any], ...]:
    da, db = a.model_dump(), b.model_dump()
    return tuple((k, da[k], db[k]) for k in da if da[k] != db[k])


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Pair actions by type and targets; identical ones are unchanged, the rest pair in time order."""
    groups_old: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    groups_new: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for a in old.actions:
        groups_old[a.key()].append(a)
    for a in new.actions:
        groups_new[a.key()].append(a)
    added: list[Any] = []
    removed: list[Any] = []
    changed: list[ActionChange] = []
    for key in [*groups_old, *(k for k in groups_new if k not in groups_old)]:
        left, right = list(groups_old.get(key, ())), list(groups_new.get(key, ()))
        for a in list(left):  # identical actions on both sides are unchanged
            if a in right:
                right.remove(a)
                left.remove(a)
        for a, b in zip(left, right, strict=False):
            changed.append(ActionChange(a, b, _field_changes(a, b)))
        removed.extend(left[len(right) :])
        added.extend(right[len(left) :])
    meta_old, meta_new = old.meta.model_dump(), new.meta.model_dump()
    meta = tuple((k, meta_old[k], meta_new[k]) for k in meta_old if meta_old[k] != meta_new[k])
    by_time = lambda a: a.at_s  # noqa: E731
    return PlanDiff(
        added=tuple(sorted(added, key=by_time)),
        removed=tuple(sorted(removed, key=by_time)),
        changed=tuple(sorted(changed, key=lambda c: c.old.at_s)),
        meta=meta,
    )


__all__ = [
    "ACTION_TYPES",
    "Action",
    "ActionChange",
    "Announce",
    "AssignStaff",
    "ChangeShow",
    "ClearLane",
    "CloseExit",
    "CloseRoad",
    "Control",
    "DirectRiders",
    "DispatchBus",
    "EscortBatch",
    "HoldArea",
    "MeterFlow",
    "OneWay",
    "Plan",
    "PlanDiff",
    "PlanMeta",
    "RouteVisitors",
    "SolverStats",
    "diff_plans",
    "parse_action",
]
