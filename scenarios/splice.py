"""A new plan taking over from the plan in effect at time t: one rule for every scenario kind.

- What the plan in effect did before t stands.
- Its controls (actions that hold a state over a window: `CONTROLS`, plus the kind's own, e.g. a crowd's staff
  post) still in force at t end at t, unless the new plan has the same control (same action and target, same
  settings) in force at t too, in which case it simply carries on to the new plan's end. A control the kind
  says must last a minimum time once started (a typhoon lane clearing: its minimum, and until the batches led
  on it before t are out of the tunnel) is cut no shorter than that.
- The new plan's controls in force at t start at t; its later actions follow.
- One-off actions (a bus dispatched, a batch led, a tester group sent) are never moved.
- A bus dispatch order of the plan in effect that no bus has carried out by t lapses at t
  (`DispatchBus.until_s`): the new plan was made for the buses as they are then. Buses under orders wait for
  the next one, so each bay's first order after t is kept too, cancelled at t: until t they wait as they did
  (`orders_until`).
- The kind may cut the new plan's actions to what its resources have left after the kept ones (tester groups:
  `scenarios.mass_testing.fit_tester_groups`).
- A plan whose dispatch orders take over from first come, first served says from when
  (`PlanMeta.dispatch_from_s`), so that the buses run first come, first served before t, as they did.
"""

from __future__ import annotations

from typing import Any

from scenarios.kinds import SpliceRules
from scenarios.plan import (
    Action,
    ClearLane,
    CloseExit,
    CloseRoad,
    Control,
    DirectRiders,
    DispatchBus,
    MeterFlow,
    OneWay,
    Plan,
)

#: Actions that hold a state over a time window (a control), which can end or start at any moment. A tester
#: group's `AssignStaff` is not one: it is a group of people leaving their centre once (`wave`), and a plan
#: counts each group once; a crowd's `AssignStaff` is a post held for a time, and the crowd kind adds it.
CONTROLS: tuple[type[Control], ...] = (MeterFlow, OneWay, CloseRoad, CloseExit, DirectRiders, ClearLane)


def in_force(
    action: object, at_s: float, controls: tuple[type[Control], ...] = CONTROLS, *, since: bool = False
) -> bool:
    """Whether a control started before `at_s` (or at it, with `since`) is in force at it."""
    if not isinstance(action, controls) or action.at_s > at_s or (action.at_s == at_s and not since):
        return False
    return action.until_s is None or action.until_s > at_s


def same_control(a: Any, b: Any) -> bool:
    """The same control with the same settings (whenever it starts and ends)."""
    skip = {"at_s", "until_s", "note"}
    return bool(a.key() == b.key() and a.model_dump(exclude=skip) == b.model_dump(exclude=skip))


def splice(done: Plan, new: Plan, at_s: float, *, scenario: Any = None, rules: SpliceRules | None = None) -> Plan:
    """The new plan taking over from the plan in effect `done` at `at_s` (see the module's docstring); `rules`
    are the scenario kind's (`KindSpec.splice`; by default the scenario's kind's, if a scenario is given)."""
    if rules is None and scenario is not None:
        from scenarios.kinds import spec_of

        rules = spec_of(scenario.kind).splice
    rules = rules or SpliceRules()
    controls = (*CONTROLS, *rules.controls)
    # The new plan's controls in force at t: carried on from the old ones where they are the same, else from t.
    carried = [a for a in new.actions if isinstance(a, controls) and in_force(a, at_s, controls, since=True)]
    kept = orders_until(done, at_s)
    for a in done.actions:
        if a.at_s >= at_s or isinstance(a, DispatchBus):
            continue
        if isinstance(a, controls) and in_force(a, at_s, controls):
            same = next((b for b in carried if same_control(a, b)), None)
            if same is not None:
                a = a.model_copy(update={"until_s": same.until_s})
                carried.remove(same)
            else:
                hold = rules.min_hold_s(scenario, a, done, at_s) if rules.min_hold_s is not None else 0.0
                end = max(at_s, a.at_s + hold)  # at t, or at the end of the minimum the control must last
                a = a.model_copy(update={"until_s": end if a.until_s is None else min(a.until_s, end)})
        kept.append(a)
    taken: list[Action] = [a.model_copy(update={"at_s": at_s}) for a in carried]
    taken += [a for a in new.actions if a.at_s >= at_s and not in_force(a, at_s, controls, since=True)]
    if rules.fit is not None:
        taken = rules.fit(scenario, kept, taken)
    note = f"re-planned at {at_s:g} s; earlier actions kept from the plan in effect"
    update: dict[str, Any] = {"state_time_s": at_s, "note": note}
    if any(isinstance(a, DispatchBus) for a in kept + taken):
        # Dispatch orders govern the buses from when they did under the plan in effect; if they did not (first
        # come, first served), from now, so that the buses' past stays what it was.
        had = any(isinstance(a, DispatchBus) for a in done.actions)
        update["dispatch_from_s"] = (done.meta.dispatch_from_s if had else at_s) or None
    meta = new.meta.model_copy(update=update)
    return Plan.build(meta, kept + taken)


def orders_until(done: Plan, at_s: float) -> list[Any]:
    """The bus dispatch orders of the plan in effect, as they stand once a re-plan takes over at `at_s`.

    A bus under orders waits at its bay for the next one, so the orders dated after t shaped what the buses did
    before t. Kept, so that the buses' past stays what it was: every order dated before t, lapsing at t if no
    bus has carried it out by then; any order that lapsed by t; and, at each bay, the first order still live
    after t, cancelled at t (buses waiting for it wait until t, and then the new plan's orders govern).
    """
    out, waited_for = [], set()
    for a in done.of_type(DispatchBus):
        live_at_t = a.until_s is None or a.until_s > at_s
        if a.at_s < at_s:
            out.append(a.model_copy(update={"until_s": at_s}) if live_at_t else a)
        elif not live_at_t:
            out.append(a)
        elif a.origin not in waited_for:
            waited_for.add(a.origin)
            out.append(a.model_copy(update={"until_s": at_s, "note": f"cancelled by the re-plan at {at_s:g} s"}))
    return out


__all__ = ["CONTROLS", "in_force", "orders_until", "same_control", "splice"]
