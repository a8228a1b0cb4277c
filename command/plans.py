"""The plan lifecycle: draft -> proposed -> approved | rejected -> active -> superseded | completed.

A plan's content lives in numbered versions; revising a draft or proposed plan adds a version. Approval is an
explicit act: the commander re-enters their password, and the call carries what they were shown (the
version, its digest, the forecast KPIs with and without the plan). The approval is refused when:
- the password is wrong (the failure is counted as a log-in's: its source waits after a few, and the account
  locks only on failures from several sources, so the incident's approver is never locked out by their own
  typing; an admin over their jurisdiction can unlock them, audited);
- the actor does not hold command of the incident at that moment, or the plan commits resources outside
  their grant's limits;
- the plan is no longer proposed (someone decided first), or it changed since it was shown (a newer
  version, or a digest that does not match: the optimistic version check);
- the version carries consequence warnings (`command.consequences`: a headline KPI made worse, a threshold
  crossed, a weak bound) and the commander has not acknowledged each one (`PlanWarning`, by number or key).
The decision, the status change, the audit entry and the activity line commit in one transaction under the
writers' lock, so two commanders racing cannot both approve, and a process killed mid-approval leaves the
approval either wholly there or wholly absent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from command import audit
from command.authority import GrantLimits, incident_for, require_holder, resources_used, usernames
from command.errors import BadInput, Conflict, NotAuthorised, NotFound, Tampered, Unacknowledged
from command.faults import fault_point
from command.incidents import scenario_of, set_phase
from command.security import Actor, authenticate
from command.store import Decision, Incident, Jurisdiction, PlanRecord, PlanVersion, Store
from scenarios import Plan, ScenarioError, diff_plans
from scenarios.kinds import spec_of
from scenarios.schema import Scenario


@dataclass(frozen=True)
class Shown:
    """What a decider was shown: the plan version, its digest, and the forecasts with and without it."""

    plan_id: int
    version: int
    digest: str
    forecast: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "version": self.version, "digest": self.digest, "forecast": self.forecast}


@dataclass(frozen=True)
class PlanWarning:
    """One consequence warning of a plan version (`command.consequences`) as a decider acknowledges it: by its
    `number` (from 1, in the order `plan show` and the console list them) or by its `key`: `worse:<kpi>` for a
    headline KPI made worse, else the kind and the first 8 hex digits of the message's SHA-256
    (`breach:1a2b3c4d`, `weak_bound:…`); both are fixed for a version, whose forecast never changes."""

    number: int
    key: str
    kind: str
    kpi: str | None
    default: float | None
    plan: float | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan_warnings(forecast: dict[str, Any]) -> tuple[PlanWarning, ...]:
    """The warnings a plan version's forecast carries, numbered from 1."""
    out = []
    for number, w in enumerate(forecast.get("warnings") or [], start=1):
        kind, kpi, message = str(w.get("kind")), w.get("kpi"), str(w.get("message", ""))
        key = f"{kind}:{kpi}" if kpi else f"{kind}:{hashlib.sha256(message.encode()).hexdigest()[:8]}"
        out.append(PlanWarning(number, key, kind, kpi, w.get("default"), w.get("plan"), message))
    return tuple(out)


#: How a decider names a warning they acknowledge: its number, its key, or the `PlanWarning` they were shown.
WarningRef = int | str | PlanWarning


def _acknowledged(warnings: tuple[PlanWarning, ...], refs: Sequence[WarningRef], plan_id: int,
                  version: int) -> tuple[PlanWarning, ...]:  # fmt: skip
    """The warnings `refs` acknowledge (numbers, keys or the warnings shown), every one of them; otherwise a
    refusal naming what is unknown (`BadInput`) or each warning left unacknowledged (`Unacknowledged`)."""
    by_key: dict[str, list[int]] = {}
    for w in warnings:
        by_key.setdefault(w.key, []).append(w.number)
    chosen: set[int] = set()
    unknown: list[str] = []
    for ref in refs:
        text = ref.key if isinstance(ref, PlanWarning) else str(ref).strip()
        if text in by_key:
            chosen.update(by_key[text])
        elif text.isdigit() and 1 <= int(text) <= len(warnings):
            chosen.add(int(text))
        else:
            unknown.append(text)
    what = f"plan {plan_id} version {version}"
    if unknown:
        has = f"warnings 1-{len(warnings)}" if warnings else "no warnings"
        raise BadInput(f"acknowledged: {', '.join(map(repr, unknown))} not among {what}'s warnings (it has {has})")
    left = tuple(w for w in warnings if w.number not in chosen)
    if left:
        raise Unacknowledged("\n".join([f"{what}: {len(left)} of its {len(warnings)} warnings not acknowledged; "
                                        "read each and acknowledge it by number or key:"]
                                       + [f"[{w.number}] {w.key}: {w.message}" for w in left]),
                             warnings=left)  # fmt: skip
    return tuple(w for w in warnings if w.number in chosen)


@dataclass(frozen=True)
class DecisionView:
    decision: str
    version: int
    by: str
    at: datetime
    reason: str
    shown: dict[str, Any]
    acknowledged: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class PlanView:
    """A plan version as a user sees it, with its history of decisions."""

    plan_id: int
    incident_id: int
    incident_code: str
    number: int
    status: str
    version: int
    current_version: int
    digest: str
    plan: Plan
    solver: dict[str, Any]
    forecast: dict[str, Any]
    scenario_hash: str
    state_time_s: float
    created_by: str
    created_at: datetime
    decisions: tuple[DecisionView, ...]
    exercise: bool

    def shown(self) -> Shown:
        """What approving this view means: this version, this digest, these forecasts."""
        return Shown(self.plan_id, self.version, self.digest, self.forecast)

    @property
    def warnings(self) -> tuple[PlanWarning, ...]:
        """This version's warnings, each to be acknowledged before it can be approved."""
        return plan_warnings(self.forecast)


def forecast_plan(scenario: Scenario, plan: Plan, *, seed: int) -> dict[str, Any]:
    """A proposed plan's forecast: the default plan's KPIs and this plan's, on the same seed, and the warnings a
    commander acknowledges before approving it (`command.consequences`: KPIs made worse, thresholds crossed)."""
    from command.consequences import consequences
    from command.kinds import simulate
    from scenarios.defaults import default_plan

    baseline, planned = simulate(scenario, default_plan(scenario), seed=seed), simulate(scenario, plan, seed=seed)
    return {"seed": seed, "baseline": baseline.kpis, "planned": planned.kpis,
            "warnings": [w.to_json() for w in consequences(scenario, baseline, planned)]}  # fmt: skip


def check_plan_fits(plan: Plan, scenario: Scenario, *, file: str = "plan") -> None:
    """Refuse a plan made for another scenario, or one the scenario cannot carry out (`BadInput`, every problem)."""
    if plan.meta.scenario != scenario.name:
        raise BadInput(f"{file}: meta.scenario: plan is for {plan.meta.scenario!r}, "
                       f"the incident runs {scenario.name!r}")  # fmt: skip
    check = spec_of(scenario.kind).check_plan
    problems = check(plan, scenario, file=file) if check is not None else []
    if problems:
        raise BadInput("\n".join(str(p) for p in problems))


def _plan_for(session: Session, actor: Actor, plan_id: int, *, lock: bool = False) -> tuple[PlanRecord, Incident]:
    query = select(PlanRecord).where(PlanRecord.id == plan_id)
    record = session.scalars(query.with_for_update() if lock else query).first()
    if record is None:
        raise NotFound(f"plan {plan_id}: not found in jurisdiction {actor.jurisdiction!r}")
    try:
        incident = incident_for(session, actor, record.incident_id, lock=lock)
    except NotFound:
        raise NotFound(f"plan {plan_id}: not found in jurisdiction {actor.jurisdiction!r}") from None
    return record, incident


def _version(session: Session, plan_id: int, version: int) -> PlanVersion:
    row = session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan_id,
                                                    PlanVersion.version == version)).first()  # fmt: skip
    if row is None:
        raise NotFound(f"plan {plan_id}: no version {version}")
    return row


def _stored_plan(row: PlanVersion) -> Plan:
    """The plan a version stores, checked against the digest it was stored with: content edited in the database
    behind Yiwang's back is never shown, approved or exported under the old digest (`Tampered`)."""
    plan = Plan.model_validate_json(row.plan_json)
    if plan.digest() != row.plan_digest:
        raise Tampered(f"plan {row.plan_id} version {row.version}: the stored plan does not match its digest "
                       f"{row.plan_digest[:12]} (its content was changed outside Yiwang); it cannot be shown, "
                       "approved or exported until the store's administrator has looked")  # fmt: skip
    return plan


def _report_tampering(store: Store, actor: Actor, exc: Tampered, plan_id: int) -> None:
    """An audit entry for a plan found edited (in a transaction of its own: the refused one rolls back)."""
    with store.write() as session:
        audit.append(session, at=store.now(), actor=actor.username, action="tamper_detected",
                     subject=f"plan {plan_id}", details={"what": str(exc)})  # fmt: skip


def create_plan(
    store: Store,
    actor: Actor,
    incident_id: int,
    plan: Plan,
    *,
    forecast: dict[str, Any] | None = None,
    solver: dict[str, Any] | None = None,
    state_time_s: float = 0.0,
    state_hash: str = "",
    propose: bool = True,
    scenario: Scenario | None = None,
) -> int:
    """Record a plan for an incident (proposed, or a draft); its id. The plan must fit the incident's scenario."""
    actor.require("plan.propose", "propose plans")
    with store.write() as session:
        now = store.now()
        incident = incident_for(session, actor, incident_id, lock=True)
        if incident.status != "open":
            raise Conflict(f"incident {incident_id} is {incident.status}; no new plans")
        check_plan_fits(plan, scenario or scenario_of(incident))
        number = (session.scalar(select(func.max(PlanRecord.number))
                                 .where(PlanRecord.incident_id == incident_id)) or 0) + 1  # fmt: skip
        record = PlanRecord(incident_id=incident_id, number=number, status="proposed" if propose else "draft",
                            current_version=1, created_by=actor.id, created_at=now, updated_at=now)  # fmt: skip
        session.add(record)
        session.flush()
        session.add(_new_version(record, 1, plan, incident, actor, now, forecast, solver, state_time_s, state_hash))
        audit.record(session, at=now, actor=actor.username, user_id=actor.id,
                     action="plan_propose" if propose else "plan_draft", incident_id=incident_id,
                     subject=f"plan {record.id}", phase="dispatch", sim_s=state_time_s,
                     details={"number": number, "version": 1, "digest": plan.digest(),
                              "produced_by": plan.meta.produced_by, "actions": len(plan.actions)},
                     text=f"plan {number} {'proposed' if propose else 'drafted'} ({len(plan.actions)} actions, "
                          f"by {plan.meta.produced_by})")  # fmt: skip
        if propose:
            set_phase(session, incident, "dispatch", actor=actor.username, at=now)
        return record.id


def _new_version(record: PlanRecord, version: int, plan: Plan, incident: Incident, actor: Actor, now: datetime,
                 forecast: dict[str, Any] | None, solver: dict[str, Any] | None, state_time_s: float,
                 state_hash: str) -> PlanVersion:  # fmt: skip
    return PlanVersion(plan_id=record.id, version=version, plan_json=plan.to_json(indent=None),
                       plan_digest=plan.digest(), scenario_hash=plan.meta.scenario_hash or incident.scenario_hash,
                       state_time_s=state_time_s, state_hash=state_hash,
                       solver_json=json.dumps(solver or {}, default=str),
                       forecast_json=json.dumps(forecast or {}, default=str), created_by=actor.id,
                       created_at=now)  # fmt: skip


def revise_plan(store: Store, actor: Actor, plan_id: int, plan: Plan, *, forecast: dict[str, Any] | None = None,
                solver: dict[str, Any] | None = None, state_time_s: float = 0.0) -> int:  # fmt: skip
    """Add a version to a draft or proposed plan; the new version number. Earlier views become stale."""
    actor.require("plan.propose", "revise plans")
    with store.write() as session:
        now = store.now()
        record, incident = _plan_for(session, actor, plan_id, lock=True)
        if record.status not in {"draft", "proposed"}:
            raise Conflict(f"plan {plan_id} is {record.status}; only a draft or proposed plan can be revised")
        check_plan_fits(plan, scenario_of(incident))
        record.current_version += 1
        record.updated_at = now
        session.add(_new_version(record, record.current_version, plan, incident, actor, now, forecast, solver,
                                 state_time_s, ""))  # fmt: skip
        audit.record(session, at=now, actor=actor.username, user_id=actor.id, action="plan_revise",
                     incident_id=incident.id, subject=f"plan {plan_id}", phase="dispatch", sim_s=state_time_s,
                     details={"version": record.current_version, "digest": plan.digest()},
                     text=f"plan {record.number} revised to version {record.current_version}")  # fmt: skip
        return record.current_version


def propose_draft(store: Store, actor: Actor, plan_id: int) -> None:
    """Move a draft to proposed."""
    actor.require("plan.propose", "propose plans")
    with store.write() as session:
        now = store.now()
        record, incident = _plan_for(session, actor, plan_id, lock=True)
        if record.status != "draft":
            raise Conflict(f"plan {plan_id} is {record.status}, not a draft")
        record.status, record.updated_at = "proposed", now
        audit.append(session, at=now, actor=actor.username, action="plan_propose", incident_id=incident.id,
                     subject=f"plan {plan_id}", details={"version": record.current_version})  # fmt: skip
        set_phase(session, incident, "dispatch", actor=actor.username, at=now)


def view_plan(store: Store, actor: Actor, plan_id: int, version: int | None = None) -> PlanView:
    """A plan version (the current one by default) with its forecasts and decisions."""
    actor.require("incident.read", "read plans")
    try:
        return _view_plan(store, actor, plan_id, version)
    except Tampered as exc:
        _report_tampering(store, actor, exc, plan_id)
        raise


def _view_plan(store: Store, actor: Actor, plan_id: int, version: int | None) -> PlanView:
    with store.read() as session:
        record, incident = _plan_for(session, actor, plan_id)
        row = _version(session, plan_id, version or record.current_version)
        plan = _stored_plan(row)
        names = usernames(session)
        decisions = tuple(
            DecisionView(d.decision, d.version, names.get(d.user_id, "?"), d.decided_at, d.reason,
                         json.loads(d.shown_json), tuple(json.loads(d.acknowledged_json or "[]")))
            for d in session.scalars(select(Decision).where(Decision.plan_id == plan_id).order_by(Decision.id))
        )  # fmt: skip
        return PlanView(record.id, incident.id, incident.code, record.number, record.status, row.version,
                        record.current_version, row.plan_digest, plan,
                        json.loads(row.solver_json), json.loads(row.forecast_json), row.scenario_hash,
                        row.state_time_s, names.get(row.created_by, "?"), row.created_at, decisions,
                        incident.exercise)  # fmt: skip


def list_plans(store: Store, actor: Actor, incident_id: int) -> list[PlanView]:
    actor.require("incident.read", "read plans")
    with store.read() as session:
        incident_for(session, actor, incident_id)
        ids = session.scalars(select(PlanRecord.id).where(PlanRecord.incident_id == incident_id)
                              .order_by(PlanRecord.number)).all()  # fmt: skip
    return [view_plan(store, actor, i) for i in ids]


def _check_shown(record: PlanRecord, current: PlanVersion, shown: Shown, plan_id: int) -> None:
    if record.status == "draft":
        raise Conflict(f"plan {plan_id} is a draft, not proposed yet; nothing to decide")
    if record.status != "proposed":
        raise Conflict(f"plan {plan_id} is already {record.status}; nothing to decide")
    if shown.version != record.current_version:
        raise Conflict(f"plan {plan_id} changed since it was shown: you were shown version {shown.version}, "
                       f"the current version is {record.current_version}; review it again")  # fmt: skip
    if shown.digest != current.plan_digest:
        raise Conflict(f"plan {plan_id} version {shown.version}: what was shown (digest {shown.digest[:12]}) is not "
                       f"the stored plan ({current.plan_digest[:12]}); review it again")  # fmt: skip


def _district_codes(session: Session) -> set[str]:
    return set(session.scalars(select(Jurisdiction.code)))


def _may_decide_some(actor: Actor, what: str) -> None:
    """Refuse early (before the password) roles that never decide: commanders do, and trainees in drills."""
    if actor.role != "observer":
        actor.require("plan.decide", what)


def approve_plan(store: Store, actor: Actor, plan_id: int, *, password: str, shown: Shown, note: str = "",
                 activate: bool = False, acknowledged: Sequence[WarningRef] = (),
                 source: str | None = None) -> int:  # fmt: skip
    """Approve what was shown, re-entering the password; the decision's id. See the module docstring.

    A version with warnings (`PlanView.warnings`) is approved only with each acknowledged in `acknowledged`, by
    number, key or the `PlanWarning` itself; otherwise `Unacknowledged` lists the ones left. The decision row and
    its audit entry record which were acknowledged.

    With `activate`, the plan goes into effect in the same transaction: approved and in effect, or neither (a
    process that dies in between leaves the plan proposed, to be approved again). `source` is where the password
    is typed (`command.security.authenticate`): mistyped again and again there, it makes that source wait, never
    locks the approver out on its own."""
    _may_decide_some(actor, "approve plans")
    authenticate(store, actor.username, password, purpose=f"approve plan {plan_id}", source=source)
    try:
        return _approve(store, actor, plan_id, shown=shown, note=note, activate=activate, acknowledged=acknowledged)
    except Tampered as exc:
        _report_tampering(store, actor, exc, plan_id)
        raise


def _approve(store: Store, actor: Actor, plan_id: int, *, shown: Shown, note: str, activate: bool,
             acknowledged: Sequence[WarningRef]) -> int:  # fmt: skip
    with store.write() as session:
        now = store.now()
        record, incident = _plan_for(session, actor, plan_id, lock=True)
        grant = require_holder(session, actor, incident, now, f"approve plan {plan_id}")
        if incident.status != "open":
            raise Conflict(f"incident {incident.id} is {incident.status}")
        current = _version(session, plan_id, record.current_version)
        _check_shown(record, current, shown, plan_id)
        plan = _stored_plan(current)
        violations = GrantLimits.from_json(grant.limits_json).violations(resources_used(plan), _district_codes(session))
        if violations:
            raise NotAuthorised(f"plan {plan_id}: " + "; ".join(violations))
        acks = _acknowledged(plan_warnings(json.loads(current.forecast_json)), acknowledged, plan_id, current.version)
        record.status, record.updated_at = "approved", now
        decision = Decision(plan_id=plan_id, version=current.version, decision="approved", user_id=actor.id,
                            grant_id=grant.id, reason=note, shown_json=json.dumps(shown.to_json(), default=str),
                            decided_at=now, acknowledged_json=json.dumps([w.to_json() for w in acks]))  # fmt: skip
        session.add(decision)
        session.flush()
        fault_point("approve:after_decision")
        audit.record(session, at=now, actor=actor.username, user_id=actor.id, action="plan_approve",
                     incident_id=incident.id, subject=f"plan {plan_id}", phase="dispatch", sim_s=incident.sim_time_s,
                     details={"version": current.version, "digest": current.plan_digest, "grant": grant.id,
                              "shown": shown.to_json(), "acknowledged": [w.key for w in acks]},
                     text=f"plan {record.number} version {current.version} approved by {actor.username}"
                          + (f" ({len(acks)} warning{'' if len(acks) == 1 else 's'} acknowledged)" if acks else "")
                          + (f": {note}" if note else ""))  # fmt: skip
        if activate:
            _activate(session, actor, record, incident, now)
            fault_point("approve:after_activate")
        fault_point("approve:before_commit")
        return decision.id


def reject_plan(store: Store, actor: Actor, plan_id: int, *, password: str, shown: Shown, reason: str,
                source: str | None = None) -> int:  # fmt: skip
    """Reject what was shown, with a reason; the decision's id."""
    _may_decide_some(actor, "reject plans")
    if not reason.strip():
        raise BadInput("reason: a rejection needs a reason")
    authenticate(store, actor.username, password, purpose=f"reject plan {plan_id}", source=source)
    with store.write() as session:
        now = store.now()
        record, incident = _plan_for(session, actor, plan_id, lock=True)
        grant = require_holder(session, actor, incident, now, f"reject plan {plan_id}")
        current = _version(session, plan_id, record.current_version)
        _check_shown(record, current, shown, plan_id)
        record.status, record.updated_at = "rejected", now
        decision = Decision(plan_id=plan_id, version=current.version, decision="rejected", user_id=actor.id,
                            grant_id=grant.id, reason=reason, shown_json=json.dumps(shown.to_json(), default=str),
                            decided_at=now)  # fmt: skip
        session.add(decision)
        session.flush()
        audit.record(session, at=now, actor=actor.username, user_id=actor.id, action="plan_reject",
                     incident_id=incident.id, subject=f"plan {plan_id}", phase="dispatch", sim_s=incident.sim_time_s,
                     details={"version": current.version, "reason": reason},
                     text=f"plan {record.number} version {current.version} rejected: {reason}")  # fmt: skip
        return decision.id


def activate_plan(store: Store, actor: Actor, plan_id: int) -> None:
    """Put an approved plan into effect; the incident's previously active plan is superseded. (`approve_plan` with
    `activate` does both at once; this is for a plan approved without it, e.g. by an older version.)"""
    with store.write() as session:
        now = store.now()
        record, incident = _plan_for(session, actor, plan_id, lock=True)
        require_holder(session, actor, incident, now, f"activate plan {plan_id}")
        if record.status != "approved":
            raise Conflict(f"plan {plan_id} is {record.status}; only an approved plan can be activated")
        _activate(session, actor, record, incident, now)


def _activate(session: Session, actor: Actor, record: PlanRecord, incident: Incident, now: datetime) -> None:
    """The approved `record` in effect, superseding the incident's active plan, in the caller's transaction."""
    for other in session.scalars(select(PlanRecord).where(PlanRecord.incident_id == incident.id,
                                                          PlanRecord.status == "active")):  # fmt: skip
        other.status, other.updated_at = "superseded", now
        audit.append(session, at=now, actor=actor.username, action="plan_supersede", incident_id=incident.id,
                     subject=f"plan {other.id}", details={"by": record.id})  # fmt: skip
    record.status, record.updated_at = "active", now
    incident.needs_replan = ""
    audit.record(session, at=now, actor=actor.username, user_id=actor.id, action="plan_activate",
                 incident_id=incident.id, subject=f"plan {record.id}", phase="handling", sim_s=incident.sim_time_s,
                 details={"version": record.current_version}, text=f"plan {record.number} in effect")  # fmt: skip
    set_phase(session, incident, "handling", actor=actor.username, at=now)


def active_plan(store: Store, actor: Actor, incident_id: int) -> PlanView | None:
    with store.read() as session:
        incident_for(session, actor, incident_id)
        pid = session.scalar(select(PlanRecord.id).where(PlanRecord.incident_id == incident_id,
                                                         PlanRecord.status == "active"))  # fmt: skip
    return None if pid is None else view_plan(store, actor, pid)


def diff(store: Store, actor: Actor, old: tuple[int, int | None], new: tuple[int, int | None]) -> list[str]:
    """Readable lines of what changed from one plan version to another (`(plan_id, version or None)`)."""
    a, b = view_plan(store, actor, *old), view_plan(store, actor, *new)
    if a.incident_id != b.incident_id:
        raise BadInput(f"plans {a.plan_id} and {b.plan_id} belong to different incidents")
    scenario = None
    try:
        from command.incidents import load_incident_scenario

        scenario = load_incident_scenario(store, actor, a.incident_id)
    except (ScenarioError, NotFound):
        scenario = None
    label = (lambda t: scenario.clock.label(t)) if scenario is not None else None
    return diff_plans(a.plan, b.plan).lines(label)


def parse_plan_file(text: str, *, file: str) -> Plan:
    """A plan from JSON text; every problem named by field path (`BadInput`)."""
    try:
        return Plan.from_json(text, file=file)
    except ScenarioError as exc:
        raise BadInput("\n".join(str(p) for p in exc.problems)) from None



__all__ = [
    "DecisionView",
    "PlanView",
    "PlanWarning",
    "Shown",
    "WarningRef",
    "activate_plan",
    "active_plan",
    "approve_plan",
    "check_plan_fits",
    "create_plan",
    "diff",
    "forecast_plan",
    "list_plans",
    "parse_plan_file",
    "plan_warnings",
    "propose_draft",
    "reject_plan",
    "revise_plan",
    "view_plan",
]
