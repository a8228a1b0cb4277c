"""Incidents: opened from a scenario, seen only within their jurisdiction, closed with their plans settled.

An incident keeps the exact scenario document it was opened from (and its hash), so that every plan and
every replay refers to the same world. Its phase follows the closed loop: intake, dispatch, handling,
supervision, evaluation, archive. Its roster holds the people carrying out assignments; their names and
phone numbers are shown only to those who need them (admins and the current commander).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command import audit
from command.audit import log_activity
from command.authority import (
    current_grant,
    incident_for,
    jurisdiction_by_code,
    sees_personal_data,
    usernames,
    visible_jurisdictions,
)
from command.errors import BadInput, Conflict, NotAuthorised
from command.security import Actor, mask_name, mask_phone
from command.store import (
    INCIDENT_PHASES,
    ActivityEntry,
    Incident,
    Jurisdiction,
    OperationalPeriod,
    PlanRecord,
    RosterMember,
    Store,
    User,
)
from scenarios import Scenario, ScenarioError, load_scenario, scenario_hash
from scenarios.kinds import spec_of
from scenarios.loading import scenario_from_document

MAX_ROSTER_ROWS = 20_000


def scenario_of(incident: Incident) -> Scenario:
    """The scenario an incident was opened from, validated again from its stored document."""
    doc = json.loads(incident.scenario_json)
    return scenario_from_document(doc, file=f"incident {incident.id}")


def open_incident(
    store: Store,
    actor: Actor,
    ref: str | Scenario,
    *,
    jurisdiction: str,
    title: str | None = None,
    exercise: bool = False,
    seed: int | None = None,
    overrides: list[str] | None = None,
    period_s: float | None = None,
) -> int:
    """Open an incident from a scenario (a built-in name, a file, or a loaded scenario); its id.

    Bad scenarios raise `ScenarioError` with every problem, before anything is written.
    """
    actor.require("incident.open", "open incidents")
    scenario = ref if not isinstance(ref, str) else load_scenario(ref, overrides=overrides or [])
    if title is not None and not 0 < len(title) <= 200:
        raise BadInput("title: must be 1-200 characters")
    horizon = scenario.clock.horizon_s
    period = horizon if period_s is None else period_s
    if not 0 < period <= horizon:
        raise BadInput(f"period: {period:g} s must be more than 0 and at most the horizon ({horizon:g} s)")
    with store.write() as session:
        now = store.now()
        jur = jurisdiction_by_code(session, jurisdiction)
        if jur.id not in visible_jurisdictions(session, actor):
            raise BadInput(f"jurisdiction {jurisdiction!r} is outside {actor.username}'s ({actor.jurisdiction})")
        doc = scenario.model_dump(mode="json")
        incident = Incident(code="pending", title=title or scenario.title, kind=scenario.kind,
                            scenario_name=scenario.name, scenario_json=json.dumps(doc, ensure_ascii=False),
                            scenario_hash=scenario_hash(scenario), seed=scenario.seed if seed is None else seed,
                            jurisdiction_id=jur.id, status="open", phase="intake", exercise=exercise,
                            sim_time_s=0.0, needs_replan="", created_by=actor.id, created_at=now)  # fmt: skip
        session.add(incident)
        session.flush()
        incident.code = f"{'EX' if exercise else 'YW'}-{now:%Y%m%d}-{incident.id:04d}"
        number, start = 1, 0.0
        while start < horizon:
            session.add(OperationalPeriod(incident_id=incident.id, number=number, start_s=start,
                                          end_s=min(horizon, start + period)))  # fmt: skip
            number, start = number + 1, start + period
        audit.record(session, at=now, actor=actor.username, user_id=actor.id, action="incident_open",
                     incident_id=incident.id, subject=incident.code, phase="intake", sim_s=0.0,
                     details={"scenario": scenario.name, "hash": incident.scenario_hash, "jurisdiction": jurisdiction,
                              "exercise": exercise, "seed": incident.seed},
                     text=f"{'exercise ' if exercise else ''}incident opened from scenario "
                          f"{scenario.name}")  # fmt: skip
        return incident.id


@dataclass(frozen=True)
class IncidentView:
    """An incident as a user may see it."""

    id: int
    code: str
    title: str
    kind: str
    scenario_name: str
    scenario_hash: str
    seed: int
    jurisdiction: str
    status: str
    phase: str
    exercise: bool
    sim_time_s: float
    holder: str | None
    holder_until: datetime | None
    active_plan: int | None
    proposed_plans: tuple[int, ...]
    needs_replan: str
    created_at: datetime


def _view(session: Session, incident: Incident, now: datetime) -> IncidentView:
    grant = current_grant(session, incident.id, now)
    holder = session.get(User, grant.user_id) if grant else None
    plans = session.execute(select(PlanRecord.number, PlanRecord.status)
                            .where(PlanRecord.incident_id == incident.id)).all()  # fmt: skip
    active = next((n for n, s in plans if s == "active"), None)
    jur = session.get(Jurisdiction, incident.jurisdiction_id)
    return IncidentView(incident.id, incident.code, incident.title, incident.kind, incident.scenario_name,
                        incident.scenario_hash, incident.seed, jur.code if jur else "?", incident.status,
                        incident.phase, incident.exercise, incident.sim_time_s,
                        holder.username if holder else None, grant.valid_until if grant else None, active,
                        tuple(sorted(n for n, s in plans if s == "proposed")), incident.needs_replan,
                        incident.created_at)  # fmt: skip


def list_incidents(store: Store, actor: Actor, *, include_closed: bool = False) -> list[IncidentView]:
    """The incidents of the actor's jurisdiction and below, newest first."""
    actor.require("incident.read", "read incidents")
    with store.read() as session:
        query = select(Incident).where(Incident.jurisdiction_id.in_(visible_jurisdictions(session, actor)))
        if not include_closed:
            query = query.where(Incident.status == "open")
        now = store.now()
        return [_view(session, i, now) for i in session.scalars(query.order_by(Incident.id.desc()))]


def get_incident(store: Store, actor: Actor, incident_id: int) -> IncidentView:
    actor.require("incident.read", "read incidents")
    with store.read() as session:
        return _view(session, incident_for(session, actor, incident_id), store.now())


def load_incident_scenario(store: Store, actor: Actor, incident_id: int) -> Scenario:
    actor.require("incident.read", "read incidents")
    with store.read() as session:
        return scenario_of(incident_for(session, actor, incident_id))


def scenario_document(store: Store, actor: Actor, incident_id: int) -> str:
    """The incident's stored scenario document (JSON text), for callers that cache by its content."""
    actor.require("incident.read", "read incidents")
    with store.read() as session:
        return incident_for(session, actor, incident_id).scenario_json


def set_phase(session: Session, incident: Incident, phase: str, *, actor: str, at: datetime) -> None:
    """Move the incident along the loop (never backwards past its current phase)."""
    assert phase in INCIDENT_PHASES
    if INCIDENT_PHASES.index(phase) > INCIDENT_PHASES.index(incident.phase):
        audit.append(session, at=at, actor=actor, action="incident_phase", incident_id=incident.id,
                     subject=incident.code, details={"from": incident.phase, "to": phase})  # fmt: skip
        incident.phase = phase


def close_incident(store: Store, actor: Actor, incident_id: int, *, reason: str = "") -> None:
    """Close an incident: the active plan completes, pending plans are withdrawn, the grant ends."""
    actor.require("incident.close", "close incidents")
    with store.write() as session:
        now = store.now()
        incident = incident_for(session, actor, incident_id, lock=True)
        if incident.status != "open":
            raise Conflict(f"incident {incident_id} is already {incident.status}")
        grant = current_grant(session, incident_id, now)
        if actor.role == "commander" and (grant is None or grant.user_id != actor.id):
            raise Conflict(f"incident {incident_id}: only the commander holding it (or an admin) may close it")
        for plan in session.scalars(select(PlanRecord).where(PlanRecord.incident_id == incident_id)):
            new = {"active": "completed", "approved": "completed", "draft": "withdrawn",
                   "proposed": "withdrawn"}.get(plan.status)  # fmt: skip
            if new:
                audit.append(session, at=now, actor=actor.username,
                             action="plan_complete" if new == "completed" else "plan_withdraw",
                             incident_id=incident_id, subject=f"plan {plan.id}",
                             details={"from": plan.status})  # fmt: skip
                plan.status, plan.updated_at = new, now
        if grant is not None:
            grant.revoked_at, grant.revoked_by = now, actor.id
            audit.append(session, at=now, actor=actor.username, action="revoke", incident_id=incident_id,
                         subject=f"grant {grant.id}", details={"reason": "incident closed"})  # fmt: skip
        incident.status, incident.closed_at = "closed", now
        set_phase(session, incident, "archive", actor=actor.username, at=now)
        audit.record(session, at=now, actor=actor.username, user_id=actor.id, action="incident_close",
                     incident_id=incident_id, subject=incident.code, phase="archive", sim_s=incident.sim_time_s,
                     details={"reason": reason}, text=f"incident closed{': ' + reason if reason else ''}")  # fmt: skip


# ------------------------------------------------------------------------------------------ roster


@dataclass(frozen=True)
class RosterRow:
    team: str
    name: str
    phone: str
    role: str


PHONE = re.compile(r"^\+?[0-9 ()-]{3,40}$")


def parse_roster(text: str, *, file: str = "roster.csv") -> list[RosterRow]:
    """Read a roster CSV with columns team, name, phone, role; every bad row is named by line and field."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"team", "name"} - set(reader.fieldnames or ())
    if missing:
        raise BadInput(f"{file}: line 1: missing column(s) {', '.join(sorted(missing))} "
                       "(expected team,name,phone,role)")  # fmt: skip
    rows, problems = [], []
    for line, rec in enumerate(reader, start=2):
        if line - 1 > MAX_ROSTER_ROWS:
            raise BadInput(f"{file}: more than {MAX_ROSTER_ROWS} rows")
        team, name = (rec.get("team") or "").strip(), (rec.get("name") or "").strip()
        phone, role = (rec.get("phone") or "").strip(), (rec.get("role") or "member").strip() or "member"
        if not re.fullmatch(r"[a-z0-9_]{1,64}", team):
            problems.append(f"{file}: line {line}: team: {team!r} must be 1-64 of a-z, 0-9, _")
        if not 0 < len(name) <= 200:
            problems.append(f"{file}: line {line}: name: must be 1-200 characters")
        if phone and not PHONE.match(phone):
            problems.append(f"{file}: line {line}: phone: {phone!r} is not a phone number")
        rows.append(RosterRow(team, name, phone, role[:64]))
    if problems:
        raise BadInput("\n".join(problems))
    return rows


def import_roster(store: Store, actor: Actor, incident_id: int, rows: list[RosterRow]) -> int:
    """Replace an incident's roster (admins and the commander holding it); the number of people."""
    with store.write() as session:
        now = store.now()
        incident = incident_for(session, actor, incident_id, lock=True)
        if not sees_personal_data(session, actor, incident, now):
            raise NotAuthorised(f"{actor.username} may not change incident {incident_id}'s roster")
        for old in session.scalars(select(RosterMember).where(RosterMember.incident_id == incident_id)):
            session.delete(old)
        for r in rows:
            session.add(RosterMember(incident_id=incident_id, team=r.team, name=r.name, phone=r.phone, role=r.role))
        audit.append(session, at=now, actor=actor.username, action="roster_import", incident_id=incident_id,
                     subject=incident.code, details={"people": len(rows),
                                                     "teams": sorted({r.team for r in rows})})  # fmt: skip
        return len(rows)


def roster(store: Store, actor: Actor, incident_id: int) -> tuple[list[RosterRow], bool]:
    """The roster as this actor may see it, and whether it is masked."""
    actor.require("incident.read", "read rosters")
    with store.read() as session:
        incident = incident_for(session, actor, incident_id)
        unmasked = sees_personal_data(session, actor, incident, store.now())
        rows = session.scalars(select(RosterMember).where(RosterMember.incident_id == incident_id)
                               .order_by(RosterMember.team, RosterMember.id)).all()  # fmt: skip
        return [RosterRow(r.team, r.name if unmasked else mask_name(r.name),
                          r.phone if unmasked else mask_phone(r.phone), r.role) for r in rows], not unmasked


def demo_roster(scenario: Any) -> list[RosterRow]:
    """A fictitious roster (marked as such) with a leader and a deputy for each team a scenario has."""
    teams = list(spec_of(scenario.kind).roster_teams(scenario))
    family = "王李张刘陈杨黄赵吴周"
    out = []
    for i, team in enumerate(teams):
        out.append(RosterRow(team, f"{family[i % len(family)]}示范 (demo)", f"1390000{i:02d}01", "leader"))
        out.append(RosterRow(team, f"{family[(i + 3) % len(family)]}示范 (demo)", f"1390000{i:02d}02", "deputy"))
    return out


@dataclass(frozen=True)
class ActivityView:
    at: datetime
    sim_s: float | None
    actor: str
    kind: str
    text: str


def activity(store: Store, actor: Actor, incident_id: int) -> list[ActivityView]:
    """The incident's activity log, oldest first."""
    actor.require("incident.read", "read activity logs")
    with store.read() as session:
        incident_for(session, actor, incident_id)
        names = usernames(session)
        rows = session.scalars(select(ActivityEntry).where(ActivityEntry.incident_id == incident_id)
                               .order_by(ActivityEntry.id)).all()  # fmt: skip
        return [ActivityView(r.at, r.sim_s, names.get(r.user_id, "system") if r.user_id else "system", r.kind, r.text)
                for r in rows]  # fmt: skip


__all__ = [
    "ActivityView",
    "IncidentView",
    "RosterRow",
    "ScenarioError",
    "activity",
    "close_incident",
    "demo_roster",
    "get_incident",
    "import_roster",
    "list_incidents",
    "load_incident_scenario",
    "log_activity",
    "open_incident",
    "parse_roster",
    "roster",
    "scenario_document",
    "scenario_of",
    "set_phase",
]
