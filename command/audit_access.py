"""The audit log as people use it: admins verify it and export its head (each time recorded in the log itself), and
read its entries within their jurisdiction.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from command.audit import append
from command.audit_hashes import canonical
from command.audit_verify import ExportedHead, Finding, VerifyReport, verify_store
from command.authority import incident_for, visible_jurisdictions
from command.security import Actor
from command.store import AuditEntry, AuditHead, Incident, Jurisdiction, Store, StoreError, User


def check(store: Store, actor: Actor, *, exported: ExportedHead | None = None) -> VerifyReport:
    """Verify as `actor` (admins only), and record the verification in the chain: who, when, and the result.

    The entry is appended after the check; when it cannot be (the chain is keyed and its key is missing, which the
    report already names), the report says so too."""
    actor.require("audit.verify", "verify the audit log")
    report = verify_store(store, exported=exported)
    details: dict[str, Any] = {"ok": report.ok, "entries": report.entries, "head": report.head_seq,
                               "findings": len(report.findings), "keyed": report.keyed}  # fmt: skip
    if exported is not None:
        details["exported_head"] = exported.seq
    if report.findings:
        details["first"] = str(report.findings[0])[:300]
    try:
        with store.write() as session:
            append(session, at=store.now(), actor=actor.username, action="audit_verify",
                   subject="intact" if report.ok else f"{len(report.findings)} problems", details=details)  # fmt: skip
    except StoreError as exc:
        return replace(report, findings=(*report.findings, Finding(None, f"this check was not recorded: {exc}")))
    return report


def export_head(store: Store, actor: Actor) -> dict[str, Any]:
    """The chain's head as `actor` (admins only) exports it to keep elsewhere, the export itself recorded first (so
    the head exported covers its own record): `{seq, hash, store, exported_at, exported_by, keyed}`."""
    actor.require("audit.verify", "export the audit head")
    with store.write() as session:
        now = store.now()
        append(session, at=now, actor=actor.username, action="audit_head", subject="head exported")
        head = session.get(AuditHead, 1)
        assert head is not None
        return {"seq": head.seq, "hash": head.hash, "store": store.safe_url,
                "exported_at": now.isoformat(timespec="seconds"), "exported_by": actor.username,
                "keyed": bool(head.mac)}  # fmt: skip


def readable_entries(store: Store, actor: Actor, *, incident_id: int | None = None,
                     limit: int | None = None) -> list[AuditEntry]:  # fmt: skip
    """The audit entries `actor` may read, oldest first (the newest `limit` if given): admins only, and within their
    jurisdiction: an incident's entries if they see the incident; entries about no incident (log-ins, users) if
    they are a city-level admin, or if the entry's actor or subject is a user of their jurisdiction."""
    actor.require("audit.verify", "read the audit log")
    with store.read() as session:
        visible = visible_jurisdictions(session, actor)
        incidents = select(Incident.id).where(Incident.jurisdiction_id.in_(visible))
        if incident_id is not None:
            incident_for(session, actor, incident_id)
            where = AuditEntry.incident_id == incident_id
        else:
            city_level = session.scalar(select(Jurisdiction.parent_id).where(Jurisdiction.id == actor.jurisdiction_id))
            people = select(User.username).where(User.jurisdiction_id.in_(visible))
            unattached = (AuditEntry.incident_id.is_(None) if city_level is None else
                          AuditEntry.incident_id.is_(None) & (AuditEntry.actor.in_(people)
                                                              | AuditEntry.subject.in_(people)))  # fmt: skip
            where = AuditEntry.incident_id.in_(incidents) | unattached
        query = select(AuditEntry).where(where)
        if limit is not None:
            return list(reversed(session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit)).all()))
        return list(session.scalars(query.order_by(AuditEntry.seq)).all())


def shown_details(details: str) -> str:
    """An entry's details as people read them: the bound rows' hashes (for the verifier) left out."""
    if '"rows"' not in details:
        return details
    try:
        data = json.loads(details)
    except json.JSONDecodeError:
        return details
    if isinstance(data, dict):
        data.pop("rows", None)
        return canonical(data)
    return details


__all__ = [
    "ExportedHead",
    "Finding",
    "VerifyReport",
    "check",
    "export_head",
    "readable_entries",
    "shown_details",
    "verify_store",
]
