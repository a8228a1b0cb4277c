"""Drill injects as data: the conditions that gate them and the effects they have, shared by the simulation
models (which apply the effects to the simulated world at the inject's time) and the command loop.

An inject fires at `at_s` if its `condition` holds then (none: always). A condition reads one quantity of the
simulated state by name (the models' per-minute series names, e.g. `queue_total`, `tested`, `bay_waiting`)
against a number: `queue_total > 500`. Effects by kind:
- `message`: nothing changes; the trainee is told.
- `delay`: the staff of pool `target` not yet dispatched leave `params.delay_s` seconds later
  ("80 testers from Xuhui are delayed by 45 minutes").
Other kinds are recorded and shown but change nothing in a model that does not know them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

CONDITION = re.compile(r"^\s*([a-z][a-z0-9_:]*)\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
}  # fmt: skip
EFFECT_KINDS = ("message", "delay")


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


def delay_of(inject: object) -> float:
    """The delay (seconds) a `delay` inject imposes."""
    params = getattr(inject, "params", {}) or {}
    value = params.get("delay_s", 0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


__all__ = ["EFFECT_KINDS", "Condition", "delay_of", "parse_condition"]
