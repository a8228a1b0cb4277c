"""Paperwork from the store: the ICS-204 assignment lists of an approved plan and the incident's ICS-214 log.

The roster in the paperwork is masked exactly as the person exporting may see it. Every export is audited;
the files are written to temporary names first and renamed into place after the audit entry commits, so a
failed export leaves neither a half-written file nor an unaudited one.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from command import audit, ics
from command.authority import incident_for
from command.errors import BadInput, Conflict
from command.incidents import activity, roster, scenario_of
from command.plans import PlanView, view_plan
from command.security import Actor
from command.store import Jurisdiction, OperationalPeriod, Store
from command.wording import place_names, warning_text
from scenarios import Scenario

DECIDED = {"approved", "active", "superseded", "completed"}


def _header(store: Store, actor: Actor, plan_id: int) -> tuple[ics.IncidentHeader, PlanView, Scenario]:
    view = view_plan(store, actor, plan_id)
    if view.status not in DECIDED:
        raise Conflict(f"plan {plan_id} is {view.status}; assignment lists are made from an approved plan")
    approval = next((d for d in reversed(view.decisions) if d.decision == "approved"), None)
    assert approval is not None
    with store.read() as session:
        incident = incident_for(session, actor, view.incident_id)
        scenario = scenario_of(incident)
        period = session.scalars(select(OperationalPeriod).where(OperationalPeriod.incident_id == incident.id)
                                 .where(OperationalPeriod.start_s <= view.state_time_s)
                                 .order_by(OperationalPeriod.number.desc())).first()  # fmt: skip
        jur = session.get(Jurisdiction, incident.jurisdiction_id)
        commander = approval.by
        start_s, end_s = (period.start_s, period.end_s) if period else (0.0, scenario.clock.horizon_s)
        header = ics.IncidentHeader(
            name=incident.title, code=incident.code, jurisdiction=jur.name if jur else "?",
            exercise=incident.exercise, period_number=period.number if period else 1,
            period_start=scenario.clock.at(start_s), period_end=scenario.clock.at(end_s), commander=commander,
            approved_by=approval.by, approved_at=approval.at, plan_id=view.plan_id, plan_version=approval.version,
            plan_digest=approval.shown.get("digest", view.digest),
        )  # fmt: skip
    return header, view, scenario


def forms(store: Store, actor: Actor, plan_id: int) -> tuple[dict[str, str], bool, int]:
    """The ICS-204 lists (CSV, HTML) of an approved plan and its incident's ICS-214 log, by file name, with the
    roster masked as this actor may see it; and whether it was masked. The CLI writes them; the console offers
    the HTML lists for download. Also the incident's id."""
    actor.require("export", "export paperwork")
    header, view, scenario = _header(store, actor, plan_id)
    people, masked = roster(store, actor, view.incident_id)
    entries = [ics.RosterEntry(team=p.team, name=p.name, phone=p.phone, role=p.role) for p in people]
    lists = ics.assignment_lists(view.plan, scenario, roster=entries)
    log = [ics.ActivityEntry(at=a.at, actor=a.actor, kind=a.kind, text=a.text)
           for a in activity(store, actor, view.incident_id)]  # fmt: skip
    stem = f"{header.code}_plan{view.number}v{header.plan_version}"
    warnings = _warnings(view, scenario)
    contents = {
        f"ics204_{stem}.csv": ics.to_csv(lists, header),
        f"ics204_{stem}.html": ics.to_html(lists, header, warnings=warnings),
        f"ics204_{stem}_warnings.csv": ics.warnings_csv(warnings, header),
        f"ics214_{header.code}.csv": ics.activity_log_csv(log, header),
        f"ics214_{header.code}.html": ics.activity_log_html(log, header),
    }
    return contents, masked, view.incident_id


def _warnings(view: PlanView, scenario: Scenario) -> list[ics.WarningEntry]:
    """The approved version's consequence warnings (what the commander saw before approving), each with who
    acknowledged it at the approval."""
    approval = next((d for d in reversed(view.decisions) if d.decision == "approved"), None)
    acked = {int(w["number"]) for w in approval.acknowledged} if approval is not None else set()
    names = place_names(scenario, "zh")
    return [ics.WarningEntry(number=w.number, kind=w.kind, kpi=w.kpi, default=w.default, plan=w.plan,
                             message=w.message, acknowledged_by=approval.by if approval and w.number in acked else "",
                             message_zh=warning_text({"kind": w.kind, "kpi": w.kpi, "default": w.default,
                                                      "plan": w.plan, "message": w.message}, scenario.kind, "zh",
                                                     names))
            for w in view.warnings]  # fmt: skip


def export_ics(store: Store, actor: Actor, plan_id: int, out_dir: Path) -> list[Path]:
    """Write ICS-204 lists (CSV, HTML) for an approved plan and the incident's ICS-214 log; the files written."""
    contents, masked, incident_id = forms(store, actor, plan_id)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--out {out_dir}: cannot create the folder ({exc.strerror})") from None
    temps: list[tuple[Path, Path]] = []
    try:
        for name, text in contents.items():
            final = out_dir / name
            temp = out_dir / f".{name}.{os.getpid()}.part"
            temp.write_text(text, encoding="utf-8")
            temps.append((temp, final))
        with store.write() as session:
            audit.append(session, at=store.now(), actor=actor.username, action="export",
                         incident_id=incident_id, subject=f"plan {plan_id}",
                         details={"forms": ["ics204", "ics214"], "files": sorted(contents),
                                  "masked": masked})  # fmt: skip
    except OSError as exc:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        raise BadInput(f"--out {out_dir}: cannot write ({exc.strerror})") from None
    except BaseException:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        raise
    for temp, final in temps:
        temp.replace(final)
    return [final for _, final in temps]


def audit_export(store: Store, actor: Actor, plan_id: int, *, files: list[str], via: str) -> None:
    """Record an export made elsewhere (the console's download) in the audit chain."""
    actor.require("export", "export paperwork")
    view = view_plan(store, actor, plan_id)
    with store.write() as session:
        audit.append(session, at=store.now(), actor=actor.username, action="export", incident_id=view.incident_id,
                     subject=f"plan {plan_id}", details={"forms": ["ics204"], "files": files, "via": via})  # fmt: skip


__all__ = ["audit_export", "export_ics", "forms"]
