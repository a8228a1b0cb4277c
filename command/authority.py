"""Jurisdictions and delegated authority: who sees which incident, and who may decide on its plans.

- A user sees the incidents of their own jurisdiction and of every jurisdiction below it (the city's
  operations centre sees all; a district sees its own). Outside that, an incident does not exist for them:
  `NotFound`, the same answer as for an id that was never used.
- An admin grants command of one incident to one commander for a period, within limits (which resources
  they may commit, and which districts' pools). A new grant transfers command: the previous one is revoked
  in the same transaction. At any moment an incident has at most one holder.
- Only the holder at that moment may approve or reject the incident's plans; the check runs inside the
  same write transaction as the decision, which holds the writers' lock, so a revocation and an approval
  cannot interleave.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command import audit
from command.errors import BadInput, Conflict, NotAuthorised, NotFound, Tampered
from command.security import Actor
from command.store import AuthorityGrant, Incident, Jurisdiction, Store, User

MAX_GRANT = timedelta(days=14)


def subtree(session: Session, root_id: int) -> set[int]:
    """A jurisdiction and every jurisdiction below it."""
    children: dict[int | None, list[int]] = {}
    for jid, parent in session.execute(select(Jurisdiction.id, Jurisdiction.parent_id)):
        children.setdefault(parent, []).append(jid)
    seen, stack = set(), [root_id]
    while stack:
        j = stack.pop()
        if j not in seen:
            seen.add(j)
            stack.extend(children.get(j, ()))
    return seen


def visible_jurisdictions(session: Session, actor: Actor) -> set[int]:
    return subtree(session, actor.jurisdiction_id)


def jurisdiction_by_code(session: Session, code: str) -> Jurisdiction:
    row = session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).first()
    if row is None:
        known = ", ".join(session.scalars(select(Jurisdiction.code).order_by(Jurisdiction.code)))
        raise NotFound(f"jurisdiction {code!r}: no such jurisdiction (known: {known})")
    return row


def incident_for(session: Session, actor: Actor, incident_id: int, *, lock: bool = False) -> Incident:
    """The incident if it exists and lies in the actor's jurisdiction; `NotFound` otherwise."""
    query = select(Incident).where(Incident.id == incident_id)
    incident = session.scalars(query.with_for_update() if lock else query).first()
    if incident is None or incident.jurisdiction_id not in visible_jurisdictions(session, actor):
        raise NotFound(f"incident {incident_id}: not found in jurisdiction {actor.jurisdiction!r}")
    return incident


def usernames(session: Session) -> dict[int, str]:
    """User id -> user name, for showing who did what."""
    return dict(session.execute(select(User.id, User.username)).all())  # type: ignore[arg-type]


def user_by_name(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user {username!r}: no such user")
    return user


@dataclass(frozen=True)
class GrantLimits:
    """What a holder may commit: resource names (pools, `buses`, escort teams, `traffic`), and districts.

    Empty means no limit. A pool whose name is a jurisdiction code (the district tester pools) counts as that
    district's resource, so `jurisdictions=("pudong", "huangpu")` keeps Xuhui's testers out of the plan.
    """

    resources: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"resources": list(self.resources), "jurisdictions": list(self.jurisdictions)})

    @classmethod
    def from_json(cls, text: str) -> GrantLimits:
        doc = json.loads(text or "{}")
        return cls(tuple(doc.get("resources", ())), tuple(doc.get("jurisdictions", ())))

    def violations(self, used: set[str], district_codes: set[str]) -> list[str]:
        out = []
        if self.resources:
            out += [f"resource {r!r} is outside this authority ({', '.join(self.resources)})"
                    for r in sorted(used - set(self.resources))]  # fmt: skip
        if self.jurisdictions:
            out += [f"district {r!r}'s pool is outside this authority ({', '.join(self.jurisdictions)})"
                    for r in sorted((used & district_codes) - set(self.jurisdictions))]  # fmt: skip
        return out


def resources_used(plan: Any) -> set[str]:
    """The resource names a plan commits (see `GrantLimits`)."""
    used: set[str] = set()
    for action in plan.actions:
        if action.type == "assign_staff":
            used.add(action.pool)
        elif action.type == "dispatch_bus":
            used.add("buses")
        elif action.type == "escort_batch":
            used.add(action.team)
        elif action.type in {"clear_lane", "close_road"}:
            used.add("traffic")
    return used


def current_grant(session: Session, incident_id: int, at: datetime) -> AuthorityGrant | None:
    """The grant in force for an incident at a moment (at most one, by construction)."""
    query = (
        select(AuthorityGrant)
        .where(AuthorityGrant.incident_id == incident_id, AuthorityGrant.revoked_at.is_(None))
        .where(AuthorityGrant.valid_from <= at, AuthorityGrant.valid_until > at)
        .order_by(AuthorityGrant.id.desc())
    )
    return session.scalars(query).first()



def require_holder(session: Session, actor: Actor, incident: Incident, at: datetime, what: str) -> AuthorityGrant:
    """The actor's grant over the incident now, or `NotAuthorised` naming who holds it (if anyone)."""
    if not (actor.can("plan.decide") or (incident.exercise and actor.role == "observer")):
        actor.require("plan.decide", what)  # raises: only commanders decide (and trainees, in an exercise)
    grant = current_grant(session, incident.id, at)
    if grant is None:
        raise NotAuthorised(f"incident {incident.id}: no one holds command now, so no one may {what}; "
                            "an admin must grant it first")  # fmt: skip
    wrong = audit.intact(grant)
    if wrong is not None:  # an edited grant confers nothing (`command.audit.intact`)
        raise Tampered(f"{wrong}; no one may {what} under it until the store's administrator has looked "
                       "(`yiwang audit verify`)")  # fmt: skip
    if grant.user_id != actor.id:
        raise NotAuthorised(f"incident {incident.id}: {actor.username} does not hold command "
                            f"(grant {grant.id} is held by another user until {grant.valid_until:%Y-%m-%d %H:%M} UTC)")
    return grant


def sees_personal_data(session: Session, actor: Actor, incident: Incident | None, at: datetime) -> bool:
    """Admins, and the incident's current holder, see names and phone numbers; everyone else sees them masked."""
    if actor.can("personal.read"):
        return True
    if incident is None:
        return False
    grant = current_grant(session, incident.id, at)
    return grant is not None and grant.user_id == actor.id


def grant_command(
    store: Store,
    admin: Actor,
    incident_id: int,
    username: str,
    *,
    hours: float = 12.0,
    limits: GrantLimits | None = None,
    reason: str = "",
) -> int:
    """Give `username` command of an incident for `hours` (transferring it if someone holds it); the grant id."""
    admin.require("grants.manage", "grant command")
    if not 0 < hours * 3600 <= MAX_GRANT.total_seconds():
        raise BadInput(f"hours: {hours:g} must be more than 0 and at most {MAX_GRANT.days * 24}")
    limits = limits or GrantLimits()
    with store.write() as session:
        now = store.now()
        incident = incident_for(session, admin, incident_id, lock=True)
        if incident.status != "open":
            raise Conflict(f"incident {incident_id} is {incident.status}; command cannot be granted")
        user = user_by_name(session, username)
        may_hold = {"commander", "observer"} if incident.exercise else {"commander"}  # trainees, in drills
        if user.role not in may_hold or not user.active:
            article = "an" if user.role[0] in "aeiou" else "a"
            raise BadInput(f"user {username!r} is {article} {user.role}{'' if user.active else ' (disabled)'}; "
                           "only an active commander (or, in an exercise, a trainee) can hold command")  # fmt: skip
        if incident.jurisdiction_id not in subtree(session, user.jurisdiction_id):
            raise BadInput(f"user {username!r} cannot see incident {incident_id} (outside their jurisdiction)")
        known = set(session.scalars(select(Jurisdiction.code)))
        unknown = [j for j in limits.jurisdictions if j not in known]
        if unknown:
            raise BadInput(f"limits.jurisdictions: unknown {', '.join(map(repr, unknown))}")
        previous = current_grant(session, incident_id, now)
        if previous is not None:
            previous.revoked_at, previous.revoked_by = now, admin.id
            audit.append(session, at=now, actor=admin.username, action="revoke", incident_id=incident_id,
                         subject=f"grant {previous.id}", details={"reason": f"transferred to {username}"})  # fmt: skip
        grant = AuthorityGrant(incident_id=incident_id, user_id=user.id, granted_by=admin.id, valid_from=now,
                               valid_until=now + timedelta(hours=hours), limits_json=limits.to_json(),
                               reason=reason[:400])  # fmt: skip
        session.add(grant)
        session.flush()
        said = f"command granted to {username} for {hours:g} h" + (f": {reason}" if reason else "")
        audit.record(session, at=now, actor=admin.username, user_id=admin.id, action="grant", incident_id=incident_id,
                     subject=f"grant {grant.id}", text=said,
                     details={"to": username, "hours": hours, "reason": reason,
                              "limits": json.loads(limits.to_json())})  # fmt: skip
        return grant.id


def revoke_command(store: Store, admin: Actor, incident_id: int, *, reason: str) -> int:
    """Revoke the grant in force over an incident; the revoked grant's id."""
    admin.require("grants.manage", "revoke command")
    if not reason.strip():
        raise BadInput("reason: a revocation needs a reason")
    with store.write() as session:
        now = store.now()
        incident_for(session, admin, incident_id, lock=True)
        grant = current_grant(session, incident_id, now)
        if grant is None:
            raise Conflict(f"incident {incident_id}: no grant is in force, nothing to revoke")
        grant.revoked_at, grant.revoked_by = now, admin.id
        audit.record(session, at=now, actor=admin.username, user_id=admin.id, action="revoke", incident_id=incident_id,
                     subject=f"grant {grant.id}", details={"reason": reason}, text=f"command revoked: {reason}")
        return grant.id


@dataclass(frozen=True)
class GrantView:
    id: int
    incident_id: int
    holder: str
    granted_by: str
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    limits: GrantLimits = field(default_factory=GrantLimits)
    reason: str = ""

    def in_force(self, at: datetime) -> bool:
        return self.revoked_at is None and self.valid_from <= at < self.valid_until


def grants_of(store: Store, actor: Actor, incident_id: int) -> list[GrantView]:
    """Every grant of an incident, oldest first."""
    actor.require("incident.read", "read grants")
    with store.read() as session:
        incident_for(session, actor, incident_id)
        names = usernames(session)
        rows = session.scalars(select(AuthorityGrant).where(AuthorityGrant.incident_id == incident_id)
                               .order_by(AuthorityGrant.id)).all()  # fmt: skip
        return [GrantView(g.id, g.incident_id, names.get(g.user_id, "?"), names.get(g.granted_by, "?"), g.valid_from,
                          g.valid_until, g.revoked_at, GrantLimits.from_json(g.limits_json), g.reason)
                for g in rows]  # fmt: skip


__all__ = [
    "GrantLimits",
    "GrantView",
    "current_grant",
    "grant_command",
    "grants_of",
    "incident_for",
    "jurisdiction_by_code",
    "require_holder",
    "resources_used",
    "revoke_command",
    "sees_personal_data",
    "subtree",
    "user_by_name",
    "usernames",
    "visible_jurisdictions",
]
