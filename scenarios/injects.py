"""Drill injects as data: the conditions that gate them and the effects they have, shared by the simulation
models (which apply the effects to the simulated world at the inject's time) and the command loop.

An inject fires at `at_s` if its `condition` holds then (none: always). A condition reads one quantity of the
simulated state by name (the models' per-minute series names, e.g. `queue_total`, `tested`, `bay_waiting`)
against a number: `queue_total > 500`. Effects by kind:
- `message`: nothing changes; the trainee is told.
- `delay`: the staff of pool `target` not yet dispatched leave `params.delay_s` seconds later
  ("80 testers from Xuhui are delayed by 45 minutes"); in a crowd, the teams of pool `target` not yet at their
  posts arrive that much later.
Crowd scenarios (`simulation/crowd/`) also know:
- `surge`: `params.rate_per_h` more people arrive at origin `target` for `params.duration_s` seconds ("a metro
  station reports overcrowding at 20:10": a train unloads more people than forecast);
- `close_exit`: node `target` (a metro station exit, an entrance) is closed for `params.duration_s` seconds (no
  duration: to the end), as by a plan's `CloseExit`: its arrivals, and those queued outside it, come in at the
  nearest open origin, and the node takes nobody in;
- `show`: the organiser changes light-show segment `params.segment` (`params.change`: `pause`, `shorten` or
  `cancel`; `params.minutes` for the first two), as by a plan's `ChangeShow` at the inject's time;
- `close_walkway`: the walkway between nodes `params.u` and `params.v` is closed both ways for `params.duration_s`
  seconds (no duration: to the end): a street fenced off, a bridge shut ("police close the Chen Yi stair at
  23:00"); nobody steps onto it, those on it walk off;
- `one_way`: from the inject's time (for `params.duration_s`, or to the end) people walk the walkway between
  `params.u` and `params.v` only from `u` to `v`.
Walkway events are facts of the world (whoever fences the street holds it): unlike a plan's `OneWay`, they need
no staff post to be in force. `blocked_ways` says which directions an event blocks, for both sides.
Each scenario kind says which inject kinds it knows (`scenarios.kinds.KindSpec.injects`); a scenario with any
other is refused when it is loaded, so that a drill's inject never silently does nothing.

Planners (`optimizer/`) take the injects in the scenario they are given as facts to plan for, except those
with a condition (which nobody can know in advance: `facts`). The command loop re-plans an incident with the
injects that have fired by then and nothing later (`known_injects`), so a drill's optimiser knows what the
trainee knows and no more.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

CONDITION = re.compile(r"^\s*([a-z][a-z0-9_:]*)\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
}  # fmt: skip
EFFECT_KINDS = ("message", "delay", "surge", "close_exit", "show", "close_walkway", "one_way")
NODE_TARGETS = frozenset({"close_exit"})  # inject kinds whose target is a node of the city graph
WALKWAY_EVENTS = frozenset({"close_walkway", "one_way"})  # inject kinds whose `params.u`, `params.v` name a walkway
ShowChange = Literal["pause", "shorten", "cancel"]  # what a `show` inject does to its segment
SHOW_CHANGES: tuple[ShowChange, ...] = ("pause", "shorten", "cancel")


@dataclass(frozen=True)
class Condition:
    quantity: str
    op: str
    value: float

    def holds(self, read: Callable[[str], float | None]) -> bool:
        """Whether it holds, given a reader of the current state (a quantity it cannot read never holds)."""
        current = read(self.quantity)
        return current is not None and OPERATORS[self.op](current, self.value)

    def __str__(self) -> str:
        return f"{self.quantity} {self.op} {self.value:g}"


def parse_condition(text: str | None) -> Condition | None:
    """`queue_total > 500` as a `Condition`; None for no condition; `ValueError` naming what is wrong."""
    if text is None or not text.strip():
        return None
    m = CONDITION.match(text)
    if m is None:
        raise ValueError(f"condition {text!r}: expected QUANTITY OP NUMBER, e.g. 'queue_total > 500'")
    return Condition(m.group(1), m.group(2), float(m.group(3)))


def number(params: Mapping[str, object], key: str, default: float = 0.0) -> float:
    """A numeric parameter of an inject (`default` if absent or not a number)."""
    value = params.get(key, default)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def delay_of(inject: object) -> float:
    """The delay (seconds) a `delay` inject imposes."""
    return number(getattr(inject, "params", {}) or {}, "delay_s")


def effect_problem(kind: str, target: str | None, params: Mapping[str, object]) -> str | None:
    """What is wrong with an inject's target and params for its kind (None: nothing); kinds not listed in
    `EFFECT_KINDS` are not checked. Whether the target exists in the scenario is the scenario's to check."""

    def positive(key: str) -> bool:
        return number(params, key) > 0

    if kind == "delay" and (not target or not positive("delay_s")):
        return "a delay inject needs a target (the pool) and params.delay_s > 0"
    if kind == "surge" and (not target or not positive("rate_per_h") or not positive("duration_s")):
        return "a surge inject needs a target (the origin), params.rate_per_h > 0 and params.duration_s > 0"
    if kind == "close_exit" and (not target or ("duration_s" in params and not positive("duration_s"))):
        return "a close_exit inject needs a target (the node) and, if given, params.duration_s > 0"
    if kind in WALKWAY_EVENTS:
        u, v = params.get("u"), params.get("v")
        if not isinstance(u, str) or not isinstance(v, str) or not u or not v or u == v:
            return f"a {kind} inject needs params.u and params.v, the two nodes at the ends of a walkway"
        if "duration_s" in params and not positive("duration_s"):
            return f"a {kind} inject's params.duration_s, if given, must be > 0"
    if kind == "show":
        segment, change = params.get("segment"), params.get("change")
        if not isinstance(segment, int) or isinstance(segment, bool) or segment < 0:
            return "a show inject needs params.segment, the index of a show segment (0, 1, ...)"
        if change not in SHOW_CHANGES:
            return f"a show inject needs params.change, one of {', '.join(SHOW_CHANGES)}"
        if change != "cancel" and not positive("minutes"):
            return f"a show inject that is a {change} needs params.minutes > 0"
    return None


def blocked_ways(inject: Any) -> tuple[tuple[str, str], ...]:
    """The directed walkway steps `(from, to)` a walkway event blocks while it is in force: both directions for a
    `close_walkway`, `v -> u` for a `one_way` (only `u -> v` is left); none for any other inject."""
    if inject.kind not in WALKWAY_EVENTS:
        return ()
    u, v = str(inject.params["u"]), str(inject.params["v"])
    return ((v, u),) if inject.kind == "one_way" else ((u, v), (v, u))


def in_force(inject: Any) -> tuple[float, float]:
    """When an inject with a duration is in force: `[at_s, at_s + params.duration_s)` (no duration: to the end)."""
    return inject.at_s, inject.at_s + number(inject.params, "duration_s", math.inf)


def facts(injects: Iterable[Any]) -> list[Any]:
    """The injects a planner can count on: those without a condition, in time order."""
    return sorted((inj for inj in injects if not inj.condition), key=lambda inj: inj.at_s)


def known_injects(injects: Iterable[Any], *, at_s: float, fired: Collection[int]) -> tuple[Any, ...]:
    """What a planner knows at `at_s`: the injects (by index) that fired by then, as facts (their conditions
    held, so they are dropped)."""
    return tuple(inj.model_copy(update={"condition": None}) for i, inj in enumerate(injects)
                 if i in fired and inj.at_s <= at_s)  # fmt: skip


__all__ = [
    "EFFECT_KINDS", "NODE_TARGETS", "SHOW_CHANGES", "WALKWAY_EVENTS", "Condition", "ShowChange", "blocked_ways",
    "delay_of", "effect_problem", "facts", "in_force", "known_injects", "number", "parse_condition",
]  # fmt: skip
