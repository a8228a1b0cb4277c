"""An incident's alerts, and each user's acknowledgement of them, stored and audited.

What needs a user's attention on an incident now (`alerts`), newest first after the standing ones:
- `replan`: the re-plan alarm stands (an inject, or a breach the plan in effect did not foresee, since the last
  plan took effect; it falls when a new plan takes effect or the horizon is reached: `command.loop.advance`);
- `awaiting`: plans proposed and waiting for this user's decision (shown to the holder of command only);
- `breach`: each threshold breach an advance logged;
- `inject`: each inject that fired.

Each alert has a key that stays the same while the alert is the same one: the alarm's reason (hashed), the plan
numbers awaiting, the activity-log line of a breach or an inject. A new reason, a new plan proposed or a new line
logged is a new alert, new again for everyone.

Acknowledging (`acknowledge`) is per user: the row (`alert_acks`: who, which alert, when on the wall and on the
incident clock) and its audit entry (`alert_ack`, which binds the row to the chain) commit together. Only a user
who sees the incident may acknowledge its alerts (anyone else is told it does not exist, as for an id never
used), and only an alert that stands for them now; acknowledging one again changes nothing. An acknowledged alert
is still listed, with when it was acknowledged, so that a page can show it as seen rather than new.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from command import audit
from command.authority import current_grant, incident_for
from command.errors import BadInput, Conflict
from command.security import Actor
from command.store import ActivityEntry, AlertAck, Incident, PlanRecord, Store

#: How grave each kind of alert is, as a page colours it.
LEVELS = {"replan": "error", "breach": "error", "awaiting": "warning", "inject": "info"}


@dataclass(frozen=True)
class Alert:
    """One thing that needs a user's attention on an incident.

    `sim_s` and `at` are the incident time and the wall time (UTC) a breach or an inject was logged (for the
    re-plan alarm, the incident clock now and no wall time; for plans awaiting a decision, neither); `code` is the
    activity-log kind of a breach or an inject (`breach:critical`, `inject`); `text` says it in English (the log's
    line, the alarm's reason); `plans` are the numbers of the plans awaiting; `acknowledged_at` is when this user
    acknowledged it (None: it is new to them).
    """

    key: str
    kind: str
    sim_s: float | None
    at: datetime | None
    code: str = ""
    text: str = ""
    plans: tuple[int, ...] = ()
    acknowledged_at: datetime | None = None

    @property
    def level(self) -> str:
        return LEVELS[self.kind]

    @property
    def new(self) -> bool:
        return self.acknowledged_at is None


def _horizon_s(incident: Incident) -> float:
    """The incident's horizon, read off its stored scenario document (without validating the whole scenario)."""
    return float(json.loads(incident.scenario_json)["clock"]["horizon_s"])


def _replan_key(reason: str) -> str:
    return "replan:" + hashlib.sha256(reason.encode()).hexdigest()[:16]


def _standing(session: Session, actor: Actor, incident: Incident, now: datetime) -> list[Alert]:
    """The alerts that stand for `actor` on `incident` now, acknowledged or not."""
    out: list[Alert] = []
    if incident.needs_replan and incident.status == "open" and incident.sim_time_s < _horizon_s(incident) - 1e-9:
        out.append(Alert(_replan_key(incident.needs_replan), "replan", incident.sim_time_s, None,
                         text=incident.needs_replan))  # fmt: skip
    grant = current_grant(session, incident.id, now)
    if incident.status == "open" and grant is not None and grant.user_id == actor.id:
        numbers = tuple(session.scalars(select(PlanRecord.number).where(PlanRecord.incident_id == incident.id,
                                                                        PlanRecord.status == "proposed")
                                        .order_by(PlanRecord.number)))  # fmt: skip
        if numbers:
            out.append(Alert("awaiting:" + ",".join(map(str, numbers)), "awaiting", None, None, plans=numbers))
    logged = session.scalars(select(ActivityEntry).where(ActivityEntry.incident_id == incident.id,
                                                         ActivityEntry.kind.like("breach:%")
                                                         | (ActivityEntry.kind == "inject"))
                             .order_by(ActivityEntry.id.desc())).all()  # fmt: skip
    for line in logged:
        kind = "breach" if line.kind.startswith("breach:") else "inject"
        out.append(Alert(f"log:{line.id}", kind, line.sim_s, line.at, code=line.kind, text=line.text))
    return out


def alerts(store: Store, actor: Actor, incident_id: int) -> list[Alert]:
    """The alerts of an incident that stand for `actor` now (the re-plan alarm, plans awaiting their decision, then
    breaches and injects newest first), each with when they acknowledged it if they did."""
    actor.require("incident.read", "read alerts")
    with store.read() as session:
        incident = incident_for(session, actor, incident_id)
        acked = dict(session.execute(select(AlertAck.alert_key, AlertAck.acknowledged_at)
                                     .where(AlertAck.incident_id == incident_id,
                                            AlertAck.user_id == actor.id)).all())  # fmt: skip
        return [_with_ack(a, acked.get(a.key)) for a in _standing(session, actor, incident, store.now())]


def _with_ack(alert: Alert, at: datetime | None) -> Alert:
    if at is None:
        return alert
    return Alert(alert.key, alert.kind, alert.sim_s, alert.at, alert.code, alert.text, alert.plans, at)


def new_alerts(store: Store, actor: Actor, incident_id: int) -> list[Alert]:
    """The alerts `actor` has not acknowledged yet."""
    return [a for a in alerts(store, actor, incident_id) if a.new]


def acknowledge(store: Store, actor: Actor, incident_id: int, key: str) -> int:
    """Record that `actor` acknowledged the alert `key` of an incident (they must see the incident, and the alert
    must stand for them now); the acknowledgement's id, the same one if they had acknowledged it already."""
    actor.require("incident.read", "acknowledge alerts")
    if not 0 < len(key) <= 200:
        raise BadInput(f"alert: key {key[:40]!r} must be 1-200 characters")
    with store.write() as session:
        now = store.now()
        incident = incident_for(session, actor, incident_id, lock=True)
        before = session.scalars(select(AlertAck).where(AlertAck.incident_id == incident_id,
                                                        AlertAck.user_id == actor.id,
                                                        AlertAck.alert_key == key)).first()  # fmt: skip
        if before is not None:
            return before.id
        alert = next((a for a in _standing(session, actor, incident, now) if a.key == key), None)
        if alert is None:
            raise Conflict(f"incident {incident_id}: alert {key!r} does not stand (any more) for {actor.username}; "
                           "look again")  # fmt: skip
        ack = AlertAck(incident_id=incident_id, user_id=actor.id, alert_key=key, acknowledged_at=now,
                       sim_s=incident.sim_time_s)  # fmt: skip
        session.add(ack)
        session.flush()
        audit.append(session, at=now, actor=actor.username, action="alert_ack", incident_id=incident_id,
                     subject=f"alert {key}"[:200],
                     details={"kind": alert.kind, "code": alert.code, "sim_s": incident.sim_time_s,
                              "raised_sim_s": alert.sim_s, "plans": list(alert.plans),
                              "text": alert.text[:400]})  # fmt: skip
        return ack.id


__all__ = ["LEVELS", "Alert", "acknowledge", "alerts", "new_alerts"]
