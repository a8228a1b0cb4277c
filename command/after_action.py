"""After-action review: one printable HTML report of an incident or a drill.

What it holds: the incident (marked EXERCISE / 演练 when it is one), who held command when, the timeline of
injects, runs, proposals, decisions and approvals from the audit log and the activity log, each plan's
versions and decisions with what the commander was shown, the outcome KPIs of the default plan and of each
approved plan, KPIs over time as inline SVG charts, the audit chain's state, and counterfactual replays: the
approved plan (or the scenario) changed one way, re-run from the same stored scenario document and seed, so the
difference is the change and nothing else ("had the bus dispatches from 20:30 left 15 minutes earlier").

Counterfactual specifications:
- `set:field.path=value` — the scenario with one field changed (a what-if, validated like `--set`);
- `shift:ACTION_TYPE:FROM_S:DELTA_S` — the approved plan with every action of that type at or after FROM_S
  seconds moved by DELTA_S seconds (never before the start).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from command import audit
from command.audit_access import check, readable_entries, shown_details
from command.errors import BadInput, Conflict
from command.incidents import activity, get_incident, scenario_document
from command.kinds import simulate
from command.plans import PlanView, list_plans
from command.security import Actor
from command.store import Store
from scenarios import Plan, ScenarioError
from scenarios.defaults import default_plan
from scenarios.loading import scenario_from_document
from simulation.core import SimResult

DECIDED = ("approved", "active", "superseded", "completed")
CHART_SERIES = ("queue_total", "tested", "departed", "bay_waiting", "riders_waiting", "riders_crossed",
                "riders_gave_up", "vehicle_queue_total", "people_total", "max_density")  # fmt: skip


@dataclass(frozen=True)
class Counterfactual:
    label: str
    kpis: dict[str, float]
    against: dict[str, float]


def _parse_spec(spec: str) -> tuple[str, Any]:
    kind, _, rest = spec.partition(":")
    if kind == "set" and "=" in rest:
        return "set", rest
    if kind == "shift":
        parts = rest.split(":")
        if len(parts) == 3:
            try:
                return "shift", (parts[0], float(parts[1]), float(parts[2]))
            except ValueError:
                pass
    raise BadInput(f"--counterfactual {spec!r}: expected set:field.path=value or shift:ACTION_TYPE:FROM_S:DELTA_S")


def shifted(plan: Plan, action_type: str, from_s: float, delta_s: float) -> Plan:
    """The plan with every `action_type` action at or after `from_s` moved by `delta_s` (not before 0)."""
    moved = [a.model_copy(update={"at_s": max(0.0, a.at_s + delta_s)}) if a.type == action_type and a.at_s >= from_s
             else a for a in plan.actions]  # fmt: skip
    if all(a.type != action_type or a.at_s < from_s for a in plan.actions):
        raise BadInput(f"shift:{action_type}: the plan has no {action_type} action at or after {from_s:g} s")
    note = f"counterfactual: {action_type} from {from_s:g} s moved by {delta_s:+g} s"
    return Plan.build(plan.meta.model_copy(update={"note": note}), moved)


def counterfactuals(document: str, plan: Plan, seed: int, specs: list[str]) -> list[Counterfactual]:
    """Re-run each change from the same scenario document and seed; KPIs beside those of the plan as run."""
    doc = json.loads(document)
    scenario = scenario_from_document(doc, file="incident")
    as_run = simulate(scenario, plan, seed=seed).kpis
    out = []
    for spec in specs:
        kind, arg = _parse_spec(spec)
        if kind == "set":
            try:
                changed = scenario_from_document(doc, file="incident", overrides=[arg])
            except ScenarioError as exc:
                raise BadInput("\n".join(str(p) for p in exc.problems)) from None
            kpis = simulate(changed, plan, seed=seed).kpis
        else:
            kpis = simulate(scenario, shifted(plan, *arg), seed=seed).kpis
        out.append(Counterfactual(spec, dict(kpis), dict(as_run)))
    return out


def _svg(series: dict[str, tuple[tuple[float, ...], tuple[float, ...]]], label: str, width: int = 640,
         height: int = 200) -> str:  # fmt: skip
    """A small inline SVG line chart of one KPI over time (minutes), one line per run."""
    colours = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad")
    xs = [x for t, _ in series.values() for x in t]
    ys = [y for _, v in series.values() for y in v]
    if not xs:
        return ""
    x0, x1, y1 = min(xs), max(xs) or 1.0, max(ys) or 1.0
    pad = 36

    def px(x: float, y: float) -> str:
        return (f"{pad + (x - x0) / max(x1 - x0, 1e-9) * (width - 2 * pad):.1f},"
                f"{height - pad - y / y1 * (height - 2 * pad):.1f}")  # fmt: skip

    lines = []
    for i, (name, (t, v)) in enumerate(series.items()):
        points = " ".join(px(a, b) for a, b in zip(t, v, strict=True))
        colour = colours[i % len(colours)]
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        lines.append(f'<text x="{width - pad - 150}" y="{16 + 14 * i}" fill="{colour}" font-size="11">'
                     f"{escape(name)}</text>")  # fmt: skip
    axes = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>'
            f'<text x="{pad}" y="{height - 8}" font-size="11">{x0:.0f} min</text>'
            f'<text x="{width - pad - 40}" y="{height - 8}" font-size="11">{x1:.0f} min</text>'
            f'<text x="2" y="{pad - 6}" font-size="11">{y1:,.0f}</text>')  # fmt: skip
    return (f'<figure><svg width="{width}" height="{height}" role="img" aria-label="{escape(label)}">{axes}'
            f'{"".join(lines)}</svg><figcaption>{escape(label)}</figcaption></figure>')  # fmt: skip


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def report(store: Store, actor: Actor, incident_id: int, *, counterfactual_specs: list[str] | None = None) -> str:
    """The after-action review of an incident as a self-contained printable HTML page."""
    actor.require("incident.read", "read incidents")
    incident = get_incident(store, actor, incident_id)
    document = scenario_document(store, actor, incident_id)
    scenario = scenario_from_document(json.loads(document), file=incident.code)
    clock = scenario.clock
    plans = list_plans(store, actor, incident_id)
    decided = [p for p in plans if p.status in DECIDED]
    specs = counterfactual_specs or []
    if specs and not decided:
        raise Conflict(f"incident {incident_id} has no approved plan to replay")
    base_plan = default_plan(scenario)
    runs: dict[str, SimResult] = {"default plan": simulate(scenario, base_plan, seed=incident.seed)}
    for p in decided:
        runs[f"plan {p.number} v{p.version}"] = simulate(scenario, p.plan, seed=incident.seed)
    cfs = counterfactuals(document, decided[-1].plan, incident.seed, specs) if specs else []
    # The audit timeline and the chain's state follow the rules for reading the audit log (admins, within their
    # jurisdiction); everyone who may read the incident gets its activity log.
    audited = actor.can("audit.verify")
    entries = readable_entries(store, actor, incident_id=incident_id) if audited else []
    chain = check(store, actor) if audited else None

    parts = [f"<h1>事后复盘 After-action review: {escape(incident.title)}</h1>"]
    if incident.exercise:
        parts.insert(0, '<div class="banner">EXERCISE / 演练</div>')
    parts.append(_table(["field", "value"], [
        ["incident", incident.code], ["jurisdiction", incident.jurisdiction],
        ["status / phase", f"{incident.status} / {incident.phase}"],
        ["scenario", f"{incident.scenario_name} ({incident.scenario_hash[:16]})"], ["seed", incident.seed],
        ["simulated time reached", clock.label(incident.sim_time_s)], ["commander now", incident.holder or "none"],
    ]))  # fmt: skip
    parts.append("<h2>结果 Outcome</h2>")
    keys = list(dict.fromkeys(k for r in runs.values() for k in r.kpis))
    parts.append(_table(["KPI", *runs], [[k, *(r.kpis.get(k) for r in runs.values())] for k in keys]))
    parts.append("<h2>指标随时间 KPIs over time</h2>")
    for name in CHART_SERIES:
        lines = {label: (tuple(t / 60 for t in r.series[name][0]), r.series[name][1])
                 for label, r in runs.items() if name in r.series}  # fmt: skip
        if lines:
            parts.append(_svg(lines, name))
    parts.append("<h2>方案与决定 Plans and decisions</h2>")
    parts.append(_plans_table(plans))
    if cfs:
        parts.append("<h2>反事实推演 Counterfactual replays</h2>")
        parts.append(f"<p>Each re-run uses the incident's stored scenario and seed {incident.seed}; "
                     f"the column 'as run' is plan {decided[-1].number} as approved.</p>")  # fmt: skip
        for cf in cfs:
            rows = [[k, cf.against.get(k), v, None if k not in cf.against else v - cf.against[k]]
                    for k, v in cf.kpis.items()]  # fmt: skip
            parts.append(f"<h3>{escape(cf.label)}</h3>" + _table(["KPI", "as run", "counterfactual", "change"], rows))
    parts.append("<h2>时间线 Timeline</h2>")
    if audited:
        rows = [[e.at[:19].replace("T", " "), e.actor, e.action, e.subject, _short(shown_details(e.details))]
                for e in entries]  # fmt: skip
        parts.append(_table(["time (UTC)", "who", "what", "subject", "details"], rows))
    else:
        parts.append("<p>The audit timeline is shown to admins only (as the audit log is); the activity log below "
                     "is the incident's record.</p>")  # fmt: skip
    parts.append("<h2>活动记录 Activity log (ICS 214)</h2>")
    log = activity(store, actor, incident_id)
    parts.append(_table(["time (UTC)", "simulated", "who", "kind", "text"],
                        [[f"{a.at:%Y-%m-%d %H:%M:%S}", "" if a.sim_s is None else clock.label(a.sim_s), a.actor,
                          a.kind, a.text] for a in log]))  # fmt: skip
    if chain is not None:
        parts.append("<h2>审计链 Audit chain</h2><p>" + escape("; ".join(chain.lines())) + "</p>")
    return _page(f"AAR {incident.code}", "\n".join(parts))


def _short(details: str, limit: int = 160) -> str:
    return details if len(details) <= limit else details[: limit - 1] + "…"


def _plans_table(plans: list[PlanView]) -> str:
    rows = []
    for p in plans:
        base = p.forecast.get("baseline") or {}
        planned = p.forecast.get("planned") or {}
        headline = next(iter(planned), None)
        forecast = ""
        if headline is not None:
            forecast = f"{headline}: {base.get(headline, float('nan')):,.1f} -> {planned[headline]:,.1f}"
        decisions = "; ".join(f"{d.decision} v{d.version} by {d.by} {d.at:%H:%M:%S}"
                              + (f" ({d.reason})" if d.reason else "") for d in p.decisions)  # fmt: skip
        rows.append([p.number, p.status, p.current_version, p.created_by, p.solver.get("status", ""), forecast,
                     decisions])  # fmt: skip
    return _table(["plan", "status", "versions", "proposed by", "solver", "forecast (headline KPI)", "decisions"], rows)


def _page(title: str, body: str) -> str:
    style = ("body{font-family:'Noto Sans CJK SC','Noto Sans',sans-serif;margin:24px;color:#222;max-width:1100px}"
             "table{border-collapse:collapse;margin:8px 0 16px;font-size:12px}td,th{border:1px solid #bbb;"
             "padding:3px 6px;text-align:left;vertical-align:top}th{background:#eee}h2{border-bottom:1px solid #999;"
             "margin-top:28px}.banner{border:3px solid #b00;color:#b00;font-weight:bold;text-align:center;"
             "padding:6px;font-size:20px}figure{margin:8px 0}figcaption{font-size:12px;color:#555}"
             "@media print{h2{page-break-after:avoid}table{page-break-inside:auto}}")  # fmt: skip
    return (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{style}</style></head><body>{body}</body></html>")  # fmt: skip


def write_report(store: Store, actor: Actor, incident_id: int, out: Path, *, counterfactual_specs: list[str]) -> Path:
    """Write the report (to a temporary name, audited, then renamed into place); the path written."""
    html = report(store, actor, incident_id, counterfactual_specs=counterfactual_specs)
    temp = out.with_name(f".{out.name}.part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write ({exc.strerror})") from None
    try:
        with store.write() as session:
            audit.append(session, at=store.now(), actor=actor.username, action="export", incident_id=incident_id,
                         subject=f"incident {incident_id}",
                         details={"form": "after_action_review", "file": out.name,
                                  "counterfactuals": counterfactual_specs})  # fmt: skip
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    temp.replace(out)
    return out


__all__ = ["Counterfactual", "counterfactuals", "report", "shifted", "write_report"]
