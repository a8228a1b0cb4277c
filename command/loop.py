"""The incident loop: intake -> dispatch -> handling -> supervision -> evaluation -> archive.

The same functions serve the CLI and the console:
- `plan_incident`: simulate the baseline (the scenario's default plan), optimise, simulate the plan, and
  propose it with both forecasts and the solver's word; the run itself is audited.
- `approve_and_apply`: the commander's approval (see `command.plans.approve_plan`), then the plan goes into
  effect.
- `advance`: run the simulated world forward under the plan in effect to the next decision point — the next
  inject, the first threshold breach the plan's own simulation shows, the end of the operational period, or
  a time asked for — and write what happened on the way into the activity log. An inject, or a breach the plan
  in effect did not forecast, marks the incident for re-planning; a breach its forecast showed (and the
  commander saw before approving it: a `breach` warning) is logged as foreseen and raises no alarm, since a
  re-plan on the same knowledge would find the same plan. The alarm is cleared when a new plan takes effect or
  the horizon is reached (nothing is left to re-plan).

A simulation run is a pure function of the scenario, the plan and the seed, so advancing replays the plan
from the start with the incident's seed and reads the trajectory up to the new time: the state at time t is
the same whichever way it is reached.

Re-planning at time t:
- The optimiser is told what has happened by t and nothing later: the injects that fired by t (under the
  plan in effect), as facts (`scenarios.injects.known_injects`). A drill's script stays hidden from it, as from
  the trainee.
- It plans from the state at t, read off a run of the plan in effect by the scenario kind's `state_at`
  (`command.kinds`): a crowd's people outside each entrance, walking and present at each viewing area, and
  teams at their posts; a typhoon's riders waiting, vehicles queued and lanes cleared; mass testing's routing
  and tester groups in force and the buses where they are. Each state says its time and the injects fired by
  then (`scenarios.state.ReplanState`).
- The new plan takes over at t by one rule for every kind (`scenarios.splice`): what the plan in effect did
  before t stands, its controls in force at t end there or carry on, one-off actions are never moved, and the
  kind's own rules apply (a lane clearing's minimum, tester groups cut to what the pools have left).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import select

from command import audit
from command.audit import log_activity
from command.authority import incident_for
from command.budget import overrun_note, plan_budget, stage_message
from command.consequences import consequences
from command.errors import CommandError, Conflict, Infeasible
from command.incidents import scenario_of, set_phase
from command.kinds import breaches, kind_of, simulate, state_at
from command.plans import Shown, WarningRef, active_plan, approve_plan, create_plan
from command.runs import run_loaded, take_over
from command.security import Actor
from command.store import ActivityEntry, Incident, OperationalPeriod, Store
from optimizer.result import SolveParams
from scenarios import Plan, scenario_hash
from scenarios.defaults import default_plan
from scenarios.injects import known_injects
from simulation.core import Breach, SimResult

Progress = Callable[[str], None]


def _kpis(result: SimResult | None) -> dict[str, float] | None:
    return None if result is None else dict(result.kpis)


def plan_incident(
    store: Store,
    actor: Actor,
    incident_id: int,
    *,
    params: SolveParams | None = None,
    progress: Progress | None = None,
    propose: bool = True,
    budget_s: float | None = None,
) -> int:
    """Baseline, optimise, simulate, propose: the new plan's id (`Infeasible` with the diagnosis if none).

    With `budget_s`, the whole pipeline's time budget (`command.budget`): split across its stages up front from
    the scenario's size alone, the optimiser's time limit the budget's (not `params.time_limit_s`), the default
    plan simulated beside the optimiser, and each stage's progress saying where it is in the budget."""
    actor.require("plan.propose", "propose plans")
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    with store.read() as session:
        incident = incident_for(session, actor, incident_id)
        if incident.status != "open":
            raise Conflict(f"incident {incident_id} is {incident.status}; no new plans")
        scenario, seed, now_s = scenario_of(incident), incident.seed, incident.sim_time_s
    previous = active_plan(store, actor, incident_id)
    in_effect = previous.plan if previous is not None else default_plan(scenario)
    budget = plan_budget(scenario, budget_s, at_s=now_s) if budget_s is not None else None
    if budget is not None:
        say(budget.summary())
        if now_s > 0:
            say(stage_message(budget, "state", scenario.clock.label(now_s)))
    known, state = _what_has_happened(scenario, in_effect, seed, now_s)
    if known:
        say(f"planning for {len(known)} inject(s) that have happened: "
            + ", ".join(f"{i.kind} at {scenario.clock.label(i.at_s)}" for i in known))  # fmt: skip
    if state is not None:
        what = kind_of(scenario).spec.state_label
        buses = ", with the buses where they are then" if getattr(state, "buses", None) is not None else ""
        say(f"planning from {what} at {scenario.clock.label(now_s)}{buses}")
    # What the planner knows: the scenario with the injects that have happened, and none still to come. The
    # forecasts are made on it too (they must not show the effect of what nobody knows yet).
    known_world = scenario.model_copy(update={"injects": known})
    # A re-plan's forecast is the plan spliced into the one in effect (below): the optimiser's own plan is not
    # simulated on its own first.
    outcome = run_loaded(known_world, seed=seed, optimize=True, params=replace(params or SolveParams(), seed=seed),
                         progress=say, state=state, budget=budget, forecast=now_s <= 0)  # fmt: skip
    solve = outcome.solve
    assert solve is not None
    if solve.plan is None:
        _audit_run(store, actor, incident_id, outcome)
        raise Infeasible(solve.diagnosis or f"the optimiser found no plan ({solve.status})")
    plan, planned = solve.plan, outcome.planned
    # The plan belongs to the incident's scenario, not to the optimiser's view of it.
    plan = Plan.build(plan.meta.model_copy(update={"scenario_hash": scenario_hash(scenario)}), plan.actions)
    if now_s > 0:
        done = f"plan {previous.number}" if previous is not None else "the default plan"
        say(f"keeping what {done} already did before {scenario.clock.label(now_s)}")
        plan, problems = take_over(in_effect, plan, now_s, scenario)
        if problems:
            _audit_run(store, actor, incident_id, outcome)
            raise Infeasible(f"the re-plan at {scenario.clock.label(now_s)} cannot take over from {done}: "
                             f"{problems}; {done} stays in effect")  # fmt: skip
        if budget is not None:
            say(stage_message(budget, "forecast", "the new plan spliced into the one in effect"))
        planned = simulate(known_world, plan, seed=seed)
        outcome = replace(outcome, planned=planned)
    _audit_run(store, actor, incident_id, outcome)
    forecast = {
        "seed": seed,
        "baseline": _kpis(outcome.baseline),
        "planned": _kpis(planned),
        "previous": previous.forecast.get("planned") if previous is not None else None,
        "previous_plan": previous.plan_id if previous is not None else None,
        "rationale": list(solve.rationale),
        # Before sign-off, what this plan makes worse than the default plan, the thresholds it crosses, a weak
        # bound (`command.consequences`), on what is known now.
        "warnings": [w.to_json() for w in consequences(known_world, outcome.baseline, planned, solve)],
        # The breaches its forecast shows (kind and time), so that `advance` can tell a foreseen one from news.
        "breaches": [{"kind": b.kind, "t_s": b.t_s, "text": b.text}
                     for b in breaches(known_world, planned if planned is not None else outcome.baseline)],
    }
    solver = {**solve.stats().model_dump(), "diagnosis": solve.diagnosis, "rationale": list(solve.rationale)}
    if budget is not None:
        solver["budget"] = {"total_s": budget.total_s, "time_limit_s": budget.time_limit_s,
                            "estimate_s": round(budget.estimate_s, 3)}  # fmt: skip
        say(stage_message(budget, "propose"))
        if (note := overrun_note(budget, time.perf_counter() - started)) is not None:
            say(note)
    else:
        say("proposing")
    return create_plan(store, actor, incident_id, plan, forecast=forecast, solver=solver, state_time_s=now_s,
                       state_hash=_state_hash(scenario.name, seed, now_s, previous), propose=propose,
                       scenario=scenario)  # fmt: skip


def _what_has_happened(scenario: Any, plan: Plan, seed: int, now_s: float) -> tuple[tuple[Any, ...], Any]:
    """From the simulation of the plan in effect: the injects that have fired by `now_s` (conditional ones only
    if their condition held), and the state at `now_s` to plan from (its kind's `state_at`; None at the start)."""
    if now_s > 0:
        state = state_at(scenario, plan, seed=seed, at_s=now_s)
        return known_injects(scenario.injects, at_s=now_s, fired=state.fired), state
    if not any(inj.at_s <= now_s for inj in scenario.injects):
        return (), None
    # Only the injects at the start matter here: the run up to a second after it says which fired.
    result = simulate(scenario, plan, seed=seed, until_s=now_s + 1.0)
    fired = {int(e.data["index"]) for e in result.events if e.kind == "inject" and e.t_s <= now_s}
    return known_injects(scenario.injects, at_s=now_s, fired=fired), None


def _state_hash(name: str, seed: int, at_s: float, previous: Any) -> str:
    basis = json.dumps([name, seed, at_s, previous.digest if previous is not None else None])
    return hashlib.sha256(basis.encode()).hexdigest()


def _audit_run(store: Store, actor: Actor, incident_id: int, outcome: Any) -> None:
    with store.write() as session:
        now = store.now()
        solve = outcome.solve
        audit.record(session, at=now, actor=actor.username, user_id=actor.id, action="run", incident_id=incident_id,
                     subject=outcome.scenario.name,
                     details={"seed": outcome.seed, "baseline": outcome.baseline.kpis,
                              "planned": outcome.planned.kpis if outcome.planned is not None else None,
                              "solver": solve.stats().model_dump() if solve is not None else None},
                     text="simulated the default plan and optimised "
                          f"({solve.summary().splitlines()[0] if solve else 'n/a'})")  # fmt: skip


def approve_and_apply(store: Store, actor: Actor, plan_id: int, *, password: str, shown: Shown, note: str = "",
                      acknowledged: Sequence[WarningRef] = (), source: str | None = None) -> int:  # fmt: skip
    """Approve what was shown (each of its warnings acknowledged) and put it into effect, in one transaction; the
    decision id. See `command.plans.approve_plan`."""
    return approve_plan(store, actor, plan_id, password=password, shown=shown, note=note, activate=True,
                        acknowledged=acknowledged, source=source)  # fmt: skip


@dataclass(frozen=True)
class AdvanceReport:
    """What `advance` did: from when to when, why it stopped there, and what happened on the way."""

    from_s: float
    to_s: float
    stopped_for: str
    events: dict[str, int]
    kpis_at_end: dict[str, float]
    needs_replan: str
    finished: bool

    def lines(self, label: Callable[[float], str]) -> list[str]:
        out = [f"advanced {label(self.from_s)} -> {label(self.to_s)} ({self.stopped_for})"]
        out += [f"  {n:>6} x {kind}" for kind, n in sorted(self.events.items())]
        if self.needs_replan:
            out.append(f"re-plan needed: {self.needs_replan}")
        if self.finished:
            out.append("the scenario's horizon is reached: evaluation")
        return out


#: A breach counts as foreseen if the plan's forecast had one of its kind no later than this after it came.
FORESEEN_SLACK_S = 60.0


def _foreseen(current: Any) -> dict[str, float]:
    """The plan in effect's forecast breaches, by kind, at their forecast time (none under the default plan,
    which no commander approved with its warnings shown)."""
    if current is None:
        return {}
    out: dict[str, float] = {}
    for b in current.forecast.get("breaches") or ():
        out[b["kind"]] = min(out.get(b["kind"], float("inf")), float(b["t_s"]))
    return out


def _was_foreseen(breach: Breach, foreseen: dict[str, float]) -> bool:
    """Whether the plan's forecast showed this breach: one of its kind, no earlier than forecast (with slack)."""
    at = foreseen.get(breach.kind)
    return at is not None and breach.t_s >= at - FORESEEN_SLACK_S


def _period_end(session: Any, incident: Incident) -> float:
    rows = session.scalars(select(OperationalPeriod).where(OperationalPeriod.incident_id == incident.id)
                           .order_by(OperationalPeriod.number)).all()  # fmt: skip
    for period in rows:
        if period.end_s > incident.sim_time_s + 1e-9:
            return period.end_s
    return rows[-1].end_s if rows else incident.sim_time_s


def advance(store: Store, actor: Actor, incident_id: int, *, until_s: float | None = None) -> AdvanceReport:
    """Run the incident's world forward under the plan in effect to the next decision point."""
    actor.require("incident.advance", "advance incidents")
    with store.read() as session:
        incident = incident_for(session, actor, incident_id)
        if incident.status != "open":
            raise Conflict(f"incident {incident_id} is {incident.status}")
        scenario, seed, now_s = scenario_of(incident), incident.seed, incident.sim_time_s
        period_end = _period_end(session, incident)
        # Each kind of breach stops the clock once per incident: after that it is known and being handled.
        reported = set(session.scalars(select(ActivityEntry.kind).where(ActivityEntry.incident_id == incident_id,
                                                                        ActivityEntry.kind.like("breach:%"))))
    horizon = scenario.clock.horizon_s
    if now_s >= horizon:
        raise Conflict(f"incident {incident_id} has reached the end of its scenario ({scenario.clock.label(horizon)})")
    if until_s is not None and until_s <= now_s:
        raise CommandError(f"until: {until_s:g} s is not after the incident's time ({now_s:g} s)")
    current = active_plan(store, actor, incident_id)
    plan = current.plan if current is not None else default_plan(scenario)
    result = simulate(scenario, plan, seed=seed)
    stops: list[tuple[float, str]] = [(period_end, "end of the operational period"), (horizon, "end of the horizon")]
    if until_s is not None:
        stops.append((until_s, "the time asked for"))
    injects = [inj for inj in scenario.injects if now_s < inj.at_s]
    stops += [(inj.at_s, f"inject: {inj.kind}") for inj in injects]
    found = [b for b in breaches(scenario, result) if now_s < b.t_s and f"breach:{b.kind}" not in reported]
    stops += [(b.t_s, f"threshold breach: {b.kind}") for b in found]
    to_s, why = min(stops, key=lambda s: s[0])
    to_s = min(to_s, horizon)
    foreseen = _foreseen(current)
    seen = [e for e in result.events if now_s < e.t_s <= to_s]
    counts = dict(Counter(e.kind for e in seen))
    kpis_now = {name: float(np.interp(to_s, t, v)) for name, (t, v) in result.series.items() if t}
    # What each inject did is the simulation's to say: a conditional one fires only if its condition held.
    reached = [inj for inj in injects if inj.at_s <= to_s]
    said = {e.data.get("index"): e for e in seen if e.kind in {"inject", "inject_skipped"}}
    index_of = {id(inj): i for i, inj in enumerate(scenario.injects)}
    fired = [(inj, said.get(index_of[id(inj)])) for inj in reached]
    breached = [b for b in found if b.t_s <= to_s]
    news = [b for b in breached if not _was_foreseen(b, foreseen)]
    finished = to_s >= horizon - 1e-9
    replan = "; ".join([f"inject {inj.kind} at {scenario.clock.label(inj.at_s)}"
                        + (f" ({inj.note})" if inj.note else "") for inj, e in fired if e is None or e.kind == "inject"]
                       + [f"{b.text} at {scenario.clock.label(b.t_s)}" for b in news])  # fmt: skip
    if finished:
        replan = ""  # the horizon is reached: there is nothing left to re-plan
    with store.write() as session:
        now = store.now()
        incident = incident_for(session, actor, incident_id, lock=True)
        if incident.sim_time_s != now_s:
            raise Conflict(f"incident {incident_id} was advanced by someone else meanwhile; look again")
        incident.sim_time_s = to_s
        if replan:
            incident.needs_replan = replan[:400]
        elif finished and incident.needs_replan:
            log_activity(session, incident_id, now, None, "alarm_cleared",
                         f"re-plan alarm cleared at the end of the horizon (was: {incident.needs_replan})", to_s)
            incident.needs_replan = ""
        for inj, event in fired:
            took = event is None or event.kind == "inject"
            audit.append(session, at=now, actor="system", action="inject", incident_id=incident_id,
                         subject=inj.kind, details={"at_s": inj.at_s, "target": inj.target, "params": inj.params,
                                                    "condition": inj.condition, "fired": took,
                                                    "note": inj.note})  # fmt: skip
            text = event.text if event is not None else f"inject {inj.kind}: {inj.note}"
            log_activity(session, incident_id, now, None, "inject" if took else "inject_skipped", text, inj.at_s)
        for e in seen[:200]:
            log_activity(session, incident_id, now, None, f"sim:{e.kind}"[:32], e.text, e.t_s)
        if len(seen) > 200:
            log_activity(session, incident_id, now, None, "sim", f"... and {len(seen) - 200} more events", to_s)
        for b in breached:
            number = current.number if current is not None else "?"  # only a plan in effect foresees breaches
            text = b.text if b in news else f"{b.text} (foreseen: plan {number}'s forecast showed it)"
            log_activity(session, incident_id, now, None, f"breach:{b.kind}", text, b.t_s)
        set_phase(session, incident, "evaluation" if finished else "supervision", actor=actor.username, at=now)
        audit.append(session, at=now, actor=actor.username, action="advance", incident_id=incident_id,
                     subject=incident.code, details={"from_s": now_s, "to_s": to_s, "why": why,
                                                     "plan": current.plan_id if current else None,
                                                     "events": counts, "replan": replan})  # fmt: skip
        if finished:
            log_activity(session, incident_id, now, actor.id, "evaluation",
                         "horizon reached; outcome: " + ", ".join(f"{k}={v:g}" for k, v in result.kpis.items()), to_s)
    return AdvanceReport(now_s, to_s, why, counts, kpis_now, replan, finished)


__all__ = ["AdvanceReport", "Breach", "advance", "approve_and_apply", "breaches", "plan_incident"]
