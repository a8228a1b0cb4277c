"""An incident's timeline: what happened to it and who did it, at its incident time and wall time, newest first.

Read from the audit chain (`command.audit.entries`: every step people take on an incident, every inject and
advance) and from the activity log (the threshold breaches an advance logged), for a user who sees the incident
(`command.authority.incident_for`): anyone else is told it does not exist (`NotFound`, as for an id never used).

What it holds, by `category`:
- `inject`: an inject that came (`inject`), or whose condition did not hold (`inject_skipped`), at its own time;
- `decision`: a plan approved or rejected (`plan_approve`, `plan_reject`);
- `command`: command granted (`grant`), handed from one commander to another (`handover`: a grant that revoked
  the one in force), or revoked (`revoke`);
- `plan`: a plan drafted, proposed (`plan_propose`; `replan` when a plan was already in effect or it was made from
  the state at a later time than the start), revised to a new version, put into effect, superseded, completed
  or withdrawn;
- `alarm`: the re-plan alarm raised by an advance (`alarm_raised`, with its reason) and cleared (`alarm_cleared`:
  a new plan took effect, or the horizon was reached), and each threshold breach logged (`breach`);
- `phase`: the incident moved along the loop (`phase`, from and to);
- `incident`: opened and closed.

The incident time of a step people take is the incident clock when they took it (the end of the last advance
before it); an inject's and a breach's is the moment the simulated world says it came.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from command.audit import entries
from command.authority import incident_for, usernames
from command.security import Actor
from command.store import ActivityEntry, AuditEntry, AuthorityGrant, PlanRecord, PlanVersion, Store

CATEGORIES = ("inject", "decision", "command", "plan", "alarm", "phase", "incident")
#: Every kind of step the timeline holds (`TimelineEntry.event`).
EVENTS = ("inject", "inject_skipped", "plan_approve", "plan_reject", "grant", "handover", "revoke", "plan_draft",
          "plan_propose", "replan", "plan_revise", "plan_activate", "plan_supersede", "plan_complete",
          "plan_withdraw", "alarm_raised", "alarm_cleared", "breach", "phase", "incident_open",
          "incident_close")  # fmt: skip

#: Audit actions shown as they are: action -> (category, English words with the plan's number and version).
PLAN_STEPS = {
    "plan_draft": ("plan", "plan {plan} drafted"),
    "plan_revise": ("plan", "plan {plan} revised to version {version}"),
    "plan_activate": ("plan", "plan {plan} in effect"),
    "plan_complete": ("plan", "plan {plan} completed"),
    "plan_withdraw": ("plan", "plan {plan} withdrawn"),
    "plan_approve": ("decision", "plan {plan} version {version} approved"),
    "plan_reject": ("decision", "plan {plan} version {version} rejected"),
}


@dataclass(frozen=True)
class TimelineEntry:
    """One step of an incident's timeline.

    `at` is the wall time (UTC) it was recorded, `sim_s` the incident time (seconds after the scenario's start);
    `event` says what happened (a code, see the module docstring) and `actor` who did it (`system` for the
    simulated world); `plan` and `version` are a plan's number and version where one is concerned; `values` are
    the particulars as codes and names (`from`/`to` phases or users, an inject's `kind`, the plan `by` which one
    was superseded); `until` is when a grant ends; `detail` is free text as it was written (a reason, an inject's
    note, the alarm's reason, a breach's line); `text` is the whole in English. `seq` orders steps recorded at
    the same moment (the audit chain's sequence number; 0 for a logged breach).
    """

    at: datetime
    sim_s: float | None
    category: str
    event: str
    actor: str
    text: str
    seq: int = 0
    plan: int | None = None
    version: int | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    until: datetime | None = None
    detail: str = ""


def timeline(store: Store, actor: Actor, incident_id: int, *, limit: int | None = None) -> list[TimelineEntry]:
    """The incident's timeline as `actor` may see it, newest first (the newest `limit` if given)."""
    actor.require("incident.read", "read incident timelines")
    with store.read() as session:
        incident = incident_for(session, actor, incident_id)
        horizon = float(json.loads(incident.scenario_json)["clock"]["horizon_s"])
        plans = {p.id: p for p in session.scalars(select(PlanRecord).where(PlanRecord.incident_id == incident_id))}
        first = select(PlanVersion.plan_id, PlanVersion.state_time_s).where(PlanVersion.plan_id.in_(plans),
                                                                             PlanVersion.version == 1)  # fmt: skip
        made_at: dict[int, float] = dict(session.execute(first).all())  # type: ignore[arg-type]
        grants = {g.id: g for g in session.scalars(select(AuthorityGrant)
                                                   .where(AuthorityGrant.incident_id == incident_id))}  # fmt: skip
        names = usernames(session)
        breaches = session.scalars(select(ActivityEntry).where(ActivityEntry.incident_id == incident_id,
                                                               ActivityEntry.kind.like("breach:%"))
                                   .order_by(ActivityEntry.id)).all()  # fmt: skip
    reader = _Reader(horizon, {i: p.number for i, p in plans.items()}, made_at, grants, names)
    chain = entries(store, incident_id=incident_id)
    # The steps written with an advance (its injects, the phase it moved to) happen at the clock it advanced to.
    reader.advanced_to = {e.at: float(_details(e.details).get("to_s", 0.0)) for e in chain if e.action == "advance"}
    for entry in chain:
        reader.read(entry)
    for line in breaches:
        kind = line.kind.partition(":")[2]
        reader.add(TimelineEntry(line.at, line.sim_s, "alarm", "breach", "system", f"breach: {line.text}",
                                 values={"kind": kind}, detail=line.text))  # fmt: skip
    # Newest first: by wall time, then incident time, then the chain's order (a step's consequences after it).
    order = sorted(enumerate(reader.out), reverse=True,
                   key=lambda p: (p[1].at, -1.0 if p[1].sim_s is None else p[1].sim_s, p[1].seq, p[0]))  # fmt: skip
    out = [e for _, e in order]
    return out if limit is None else out[:limit]


class _Reader:
    """Reads an incident's audit entries in chain order into timeline entries, keeping the incident clock, the
    alarm and the plan in effect as it goes."""

    def __init__(self, horizon_s: float, numbers: dict[int, int], made_at: dict[int, float],
                 grants: dict[int, AuthorityGrant], names: dict[int, str]) -> None:  # fmt: skip
        self.horizon_s, self.numbers, self.made_at, self.grants = horizon_s, numbers, made_at, grants
        self.names = names
        self.clock_s = 0.0
        self.advanced_to: dict[str, float] = {}  # an advance's wall time (as stored) -> the time it advanced to
        self.alarm = ""
        self.in_effect = False
        self.handed_from: dict[str, str] = {}  # wall time -> the holder whose grant a transfer revoked then
        self.out: list[TimelineEntry] = []

    def add(self, entry: TimelineEntry) -> None:
        self.out.append(entry)

    def _holder(self, subject: str) -> tuple[str, AuthorityGrant | None]:
        """The grant an entry's subject (`grant N`) names, and its holder's user name."""
        number = _number_in(subject)
        grant = self.grants.get(number) if number is not None else None
        return (self.names.get(grant.user_id, "?") if grant else "?"), grant

    def read(self, e: AuditEntry) -> None:
        at, details = datetime.fromisoformat(e.at), _details(e.details)
        self.clock_s = self.advanced_to.get(e.at, self.clock_s)
        step: dict[str, Any] = {"at": at, "actor": e.actor, "seq": e.seq}
        plan_id = _number_in(e.subject) if e.subject.startswith("plan ") else None
        plan = self.numbers.get(plan_id) if plan_id is not None else None
        if e.action == "advance":
            self._advance(e, details, step)
        elif e.action == "inject":
            fired = bool(details.get("fired", True))
            at_s = float(details.get("at_s", self.clock_s))
            note = str(details.get("note") or "")
            said = f"inject {e.subject}" + ("" if fired else " did not come (its condition did not hold)")
            self.add(TimelineEntry(**step, sim_s=at_s, category="inject", event="inject" if fired else "inject_skipped",
                                   text=said + (f": {note}" if note else ""), values={"kind": e.subject},
                                   detail=note))  # fmt: skip
        elif e.action == "incident_phase":
            moved = {"from": str(details.get("from", "")), "to": str(details.get("to", ""))}
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category="phase", event="phase",
                                   text=f"phase {moved['from']} -> {moved['to']}", values=moved))  # fmt: skip
        elif e.action in {"incident_open", "incident_close"}:
            what = "opened" if e.action == "incident_open" else "closed"
            reason = str(details.get("reason") or "")
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category="incident", event=e.action,
                                   text=f"incident {e.subject} {what}" + (f": {reason}" if reason else ""),
                                   values={"code": e.subject, "scenario": str(details.get("scenario", ""))},
                                   detail=reason))  # fmt: skip
        elif e.action in {"grant", "revoke"}:
            self._command(e, details, step)
        elif e.action == "plan_propose":
            replan = self.in_effect or self.made_at.get(plan_id or -1, 0.0) > 0
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category="plan", event="replan" if replan else
                                   "plan_propose", plan=plan, version=details.get("version"),
                                   text=f"plan {plan} proposed" + (" (a re-plan)" if replan else "")))  # fmt: skip
        elif e.action == "plan_supersede":
            by = self.numbers.get(int(details.get("by", -1)))
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category="plan", event="plan_supersede", plan=plan,
                                   text=f"plan {plan} superseded by plan {by}", values={"by": str(by)}))  # fmt: skip
        elif e.action in PLAN_STEPS:
            category, words = PLAN_STEPS[e.action]
            version = details.get("version")
            reason = str(details.get("reason") or "") if e.action == "plan_reject" else ""
            acknowledged = details.get("acknowledged") or []
            values = {"acknowledged": str(len(acknowledged))} if e.action == "plan_approve" else {}
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category=category, event=e.action, plan=plan,
                                   version=version, values=values, detail=reason,
                                   text=words.format(plan=plan, version=version)
                                   + (f": {reason}" if reason else "")))  # fmt: skip
            if e.action == "plan_activate":
                self.in_effect = True
                if self.alarm:
                    self.add(TimelineEntry(**step, sim_s=self.clock_s, category="alarm", event="alarm_cleared",
                                           text=f"re-plan alarm cleared: plan {plan} in effect", plan=plan,
                                           values={"why": "plan"}, detail=self.alarm))  # fmt: skip
                    self.alarm = ""

    def _advance(self, e: AuditEntry, details: dict[str, Any], step: dict[str, Any]) -> None:
        to_s = float(details.get("to_s", self.clock_s))
        self.clock_s = to_s
        replan = str(details.get("replan") or "")
        if replan:
            self.alarm = replan
            self.add(TimelineEntry(**{**step, "actor": "system"}, sim_s=to_s, category="alarm", event="alarm_raised",
                                   text=f"re-plan alarm raised: {replan}", detail=replan))  # fmt: skip
        elif self.alarm and to_s >= self.horizon_s - 1e-9:
            self.add(TimelineEntry(**step, sim_s=to_s, category="alarm", event="alarm_cleared",
                                   text="re-plan alarm cleared: the horizon is reached", values={"why": "horizon"},
                                   detail=self.alarm))  # fmt: skip
            self.alarm = ""

    def _command(self, e: AuditEntry, details: dict[str, Any], step: dict[str, Any]) -> None:
        at = step["at"]
        if e.action == "revoke":
            reason = str(details.get("reason") or "")
            holder, _ = self._holder(e.subject)
            if reason.startswith("transferred to "):
                self.handed_from[at.isoformat()] = holder  # the grant that follows in the same write says it
                return
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category="command", event="revoke",
                                   text=f"command revoked ({e.subject}): {reason}", values={"holder": holder},
                                   detail=reason))  # fmt: skip
            return
        to = str(details.get("to", ""))
        _, grant = self._holder(e.subject)
        until = grant.valid_until if grant is not None else None
        reason = str(details.get("reason") or "")
        before = self.handed_from.pop(at.isoformat(), None)
        if before is not None:
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category="command", event="handover",
                                   text=f"command handed over from {before} to {to}", values={"from": before, "to": to},
                                   until=until, detail=reason))  # fmt: skip
        else:
            self.add(TimelineEntry(**step, sim_s=self.clock_s, category="command", event="grant",
                                   text=f"command granted to {to}", values={"to": to}, until=until,
                                   detail=reason))  # fmt: skip


def _details(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _number_in(subject: str) -> int | None:
    tail = subject.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else None


__all__ = ["CATEGORIES", "EVENTS", "TimelineEntry", "timeline"]
