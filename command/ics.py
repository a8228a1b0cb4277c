"""Incident-command paperwork from an approved plan: assignment lists (ICS 204) and activity logs (ICS 214).

Pure functions over plain data: a plan and its scenario in, frozen records out, and those records rendered as
CSV text or as a self-contained printable HTML page (inline CSS, no scripts, no external assets). Nothing here
reads the store or the console; the caller supplies the incident header and the roster (already masked where
its policy says so) and this module prints exactly what it is given.

Each action is carried out by one team (`team_of`):
- `assign_staff` by its `pool` (a district's testers: `pudong`, `xuhui`, ...);
- `dispatch_bus` by `buses` (a named bus is shown in the line's detail);
- `escort_batch` by its `team`;
- `clear_lane` and `close_road` by `traffic_police`;
- `one_way`, `meter_flow`, `hold_area` and `close_exit` by `security`;
- `route_visitors` and `direct_riders` by `public_information`;
- `change_show` and `close_station` (trains skip a metro station) by `operations`.

Every action of the plan becomes exactly one assignment line, so that each line traces back to one approved
decision. In the CSV, every cell that a spreadsheet would read as a formula (text starting with `=`, `+`, `-`,
`@`, a tab or a line break, their full-width forms, or any of them after blanks) starts with a `'` instead: a
title, a name or a reason typed into the store cannot run in the spreadsheet of whoever opens the paperwork.
Times are local wall-clock times of the scenario's clock; places are shown by their graph name with the node id
after it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape
from typing import Any

from scenarios import Plan, Scenario, ScenarioError, scenario_graph
from scenarios.plan import (
    Announce,
    AssignStaff,
    ChangeShow,
    ClearLane,
    CloseExit,
    CloseRoad,
    CloseStation,
    DirectRiders,
    DispatchBus,
    EscortBatch,
    HoldArea,
    MeterFlow,
    OneWay,
    RouteVisitors,
)

# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True, kw_only=True)
class IncidentHeader:
    """What every form of one incident and operational period repeats at its top and bottom."""

    name: str
    code: str
    jurisdiction: str
    exercise: bool
    period_number: int
    period_start: datetime
    period_end: datetime
    commander: str
    approved_by: str
    approved_at: datetime
    plan_id: int
    plan_version: int
    plan_digest: str


@dataclass(frozen=True, kw_only=True)
class RosterEntry:
    """One person of a team; `name` and `phone` are printed exactly as given (masked or not)."""

    team: str
    name: str
    phone: str
    role: str


@dataclass(frozen=True, kw_only=True)
class AssignmentLine:
    """One work assignment: from when (and until when), what, where, how many, and the particulars."""

    at: datetime
    until: datetime | None
    action: str
    where: str
    count: int | None
    detail: str


@dataclass(frozen=True, kw_only=True)
class Assignment:
    """One team's assignment list: its leader, the other members and its work in time order."""

    team: str
    leader: RosterEntry | None
    members: tuple[RosterEntry, ...]
    lines: tuple[AssignmentLine, ...]


@dataclass(frozen=True, kw_only=True)
class WarningEntry:
    """One consequence warning the approved plan carried (`command.consequences`), as the commander saw it
    before approving: its number, what kind, which KPI, its value under the default plan and this one, the
    message (as the engines wrote it, and in Chinese with the places by name: `command.wording.warning_text`), and
    who acknowledged it ("" if nobody did)."""

    number: int
    kind: str
    kpi: str | None
    default: float | None
    plan: float | None
    message: str
    acknowledged_by: str = ""
    message_zh: str = ""


@dataclass(frozen=True, kw_only=True)
class ActivityEntry:
    """One entry of an activity log: when, who, what kind of entry, and what happened."""

    at: datetime
    actor: str
    kind: str
    text: str


# ------------------------------------------------------------------------------------------ teams and lines

#: Substrings of a roster role that mark a team leader (the first such entry leads; else the first entry).
LEADER_WORDS = ("leader", "组长", "队长", "负责人")

_TEAM_BY_TYPE = {
    "dispatch_bus": "buses",
    "clear_lane": "traffic_police",
    "close_road": "traffic_police",
    "one_way": "security",
    "meter_flow": "security",
    "hold_area": "security",
    "close_exit": "security",
    "close_station": "operations",
    "route_visitors": "public_information",
    "direct_riders": "public_information",
    "announce": "public_information",
    "change_show": "operations",
}

TEAM_LABELS = {
    "buses": "公交车队 Buses",
    "traffic_police": "交警 Traffic police",
    "security": "安保 Security",
    "public_information": "信息发布 Public information",
    "operations": "现场运营 Operations",
    "huangpu": "黄浦区 Huangpu", "xuhui": "徐汇区 Xuhui", "changning": "长宁区 Changning",
    "jingan": "静安区 Jing'an", "putuo": "普陀区 Putuo", "hongkou": "虹口区 Hongkou", "yangpu": "杨浦区 Yangpu",
    "minhang": "闵行区 Minhang", "baoshan": "宝山区 Baoshan", "jiading": "嘉定区 Jiading",
    "pudong": "浦东新区 Pudong", "jinshan": "金山区 Jinshan", "songjiang": "松江区 Songjiang",
    "qingpu": "青浦区 Qingpu", "fengxian": "奉贤区 Fengxian", "chongming": "崇明区 Chongming",
}  # fmt: skip

ACTION_LABELS = {
    "assign_staff": "派驻人员 Assign staff",
    "dispatch_bus": "发车 Dispatch bus",
    "route_visitors": "引导游客 Route visitors",
    "clear_lane": "清空车道 Clear lane",
    "escort_batch": "护送骑行者 Escort riders",
    "direct_riders": "引导骑行者 Direct riders",
    "meter_flow": "限流 Meter flow",
    "hold_area": "原地滞留、分批放行 Hold in place, release in waves",
    "one_way": "单向通行 One-way walking",
    "close_road": "封闭道路 Close road",
    "close_exit": "关闭出口 Close exit",
    "close_station": "地铁站封站（列车越站） Close station: trains skip it",
    "change_show": "调整演出 Change show",
    "announce": "发布劝阻信息 Announce: do not come",
}


def team_of(action: Any) -> str:
    """The team that carries out an action (see the module docstring for the rules)."""
    if isinstance(action, AssignStaff):
        return action.pool
    if isinstance(action, EscortBatch):
        return action.team
    return _TEAM_BY_TYPE[action.type]


def _place_names(scenario: Any) -> dict[str, str]:
    """Node id -> readable name from the scenario's graph; empty if the graph cannot be loaded."""
    try:
        graph = scenario_graph(scenario)
    except (ScenarioError, OSError):
        return {}
    return {node: str(data["name"]) for node, data in graph.nodes(data=True) if data.get("name")}


class _Places:
    """Prints nodes, edges and tunnel directions readably."""

    def __init__(self, scenario: Any) -> None:
        self.names = _place_names(scenario)
        self.tunnels = getattr(scenario, "tunnels", {}) or {}

    def node(self, node: str) -> str:
        name = self.names.get(node, "")
        return f"{name} ({node})" if name and name != node else node

    def path(self, a: str, b: str) -> str:
        return f"{self.node(a)} → {self.node(b)}"

    def tunnel(self, tunnel: str, direction: str) -> str:
        spec = self.tunnels.get(tunnel)
        if spec is None:
            return f"{tunnel} ({direction})"
        a, b = spec.portals if direction == "ab" else reversed(spec.portals)
        return f"{spec.name or tunnel}: {self.path(a, b)}"


def _share(share: float) -> str:
    return f"{share * 100:.3g}%"


def _where_and_detail(action: Any, places: _Places) -> tuple[str, str]:
    """Where an action happens and its particulars (without the note)."""
    match action:
        case AssignStaff():
            role = "" if action.role == "any" else f"{action.role}, "
            return places.node(action.to), f"{role}wave {action.wave}"
        case DispatchBus():
            return places.path(action.origin, action.to), f"bus {action.bus}" if action.bus else ""
        case RouteVisitors():
            return places.path(action.origin, action.to), f"{_share(action.share)} of visitors"
        case DirectRiders():
            return places.path(action.origin, action.to), f"{_share(action.share)} of riders"
        case ClearLane():
            lanes = "lane" if action.lanes == 1 else "lanes"
            return places.tunnel(action.tunnel, action.direction), f"{action.lanes} {lanes}"
        case EscortBatch():
            return places.tunnel(action.tunnel, action.direction), f"up to {action.max_riders} riders"
        case MeterFlow():
            return places.node(action.node), f"at most {action.rate_per_min:g} people/min"
        case HoldArea():
            let_go = "nobody leaves" if action.rate_per_min == 0 else f"at most {action.rate_per_min:g} leave/min"
            return places.node(action.node), f"held in place: {let_go}"
        case Announce():
            return places.node(action.origin), f"{_share(action.share)} of arrivals told not to come"
        case CloseExit():
            return places.node(action.node), ""
        case CloseStation():
            return places.node(action.station), "trains skip it: arrivals to the neighbouring stations"
        case OneWay() | CloseRoad():
            return places.path(action.u, action.v), ""
        case ChangeShow():
            minutes = "" if action.change == "cancel" else f" {action.minutes:g} min"
            return f"show segment {action.segment}", f"{action.change}{minutes}"
    raise TypeError(f"unknown action type {type(action).__name__}")


def _line(action: Any, scenario: Any, places: _Places) -> AssignmentLine:
    where, detail = _where_and_detail(action, places)
    until_s = getattr(action, "until_s", None)
    return AssignmentLine(
        at=scenario.clock.at(action.at_s),
        until=None if until_s is None else scenario.clock.at(until_s),
        action=action.type,
        where=where,
        count=getattr(action, "count", None),
        detail="; ".join(part for part in (detail, action.note) if part),
    )


def _leader_and_members(entries: Sequence[RosterEntry]) -> tuple[RosterEntry | None, tuple[RosterEntry, ...]]:
    if not entries:
        return None, ()
    leads = [e for e in entries if any(word in e.role.lower() for word in LEADER_WORDS)]
    leader = leads[0] if leads else entries[0]
    return leader, tuple(e for e in entries if e is not leader)


def assignment_lists(plan: Plan, scenario: Scenario, *, roster: Sequence[RosterEntry] = ()) -> list[Assignment]:
    """One assignment list per team that has work in the plan, teams in order of their first action.

    Each action of the plan is one line, lines in time order. Roster entries join their team's list; entries
    of a team without work in this plan are not printed.
    """
    places = _Places(scenario)
    actions: dict[str, list[Any]] = {}
    for action in plan.actions:
        actions.setdefault(team_of(action), []).append(action)
    people: dict[str, list[RosterEntry]] = {}
    for entry in roster:
        people.setdefault(entry.team, []).append(entry)
    out = []
    for team, acts in actions.items():
        leader, members = _leader_and_members(people.get(team, []))
        lines = tuple(_line(a, scenario, places) for a in sorted(acts, key=lambda a: a.at_s))
        out.append(Assignment(team=team, leader=leader, members=members, lines=lines))
    return out


# ------------------------------------------------------------------------------------------ CSV

ASSIGNMENT_COLUMNS = ("incident_code", "incident_name", "period", "team", "leader_name", "leader_phone", "time",
                      "until", "action", "where", "count", "detail")  # fmt: skip
ACTIVITY_COLUMNS = ("incident_code", "incident_name", "period", "time", "actor", "kind", "activity")
WARNING_COLUMNS = ("incident_code", "incident_name", "plan", "version", "number", "kind", "kpi", "default_plan",
                   "this_plan", "message", "message_zh", "acknowledged_by")  # fmt: skip
WARNING_LABELS = {"worse": "较默认方案更差 Worse than the default plan", "breach": "越过阈值 Threshold crossed",
                  "weak_bound": "最优性未证实 Optimality not proven",
                  "trade_off": "取舍方案 A trade-off chosen among several"}  # fmt: skip

#: What a spreadsheet reads as the start of a formula (OWASP's list, with the full-width forms an input method
#: types and a line break), at the start of a cell or after leading blanks.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_BLANKS = " \t\r\n\v\f\u00a0\u3000"


def _cell(value: object) -> object:
    """A value for a spreadsheet cell: text that would start a formula (`=`, `+`, `-`, `@`, tab, CR, line feed,
    their full-width forms, or any of them after leading blanks) gets a leading `'`, so that a spreadsheet shows
    it as text and never evaluates it. Numbers are left as numbers."""
    if isinstance(value, str) and (value.startswith(_FORMULA_STARTS)
                                   or value.lstrip(_BLANKS).startswith(_FORMULA_STARTS)):  # fmt: skip
        return "'" + value
    return value


def _local(when: datetime, header: IncidentHeader) -> datetime:
    """A time in the operational period's time zone (naive times are left as they are)."""
    zone: tzinfo | None = header.period_start.tzinfo
    return when.astimezone(zone) if when.tzinfo is not None and zone is not None else when


def _iso(when: datetime | None, header: IncidentHeader) -> str:
    return "" if when is None else _local(when, header).isoformat(timespec="seconds")


def _csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Comma-separated text (RFC 4180) with every cell made harmless (`_cell`): no column can be forgotten."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def to_csv(assignments: Sequence[Assignment], header: IncidentHeader) -> str:
    """One row per assignment line, with the incident, period, team and leader repeated on each row.

    Returns text; write it as UTF-8 (`utf-8-sig` if it is to be opened in Excel).
    """
    rows = []
    for a in assignments:
        lead_name, lead_phone = (a.leader.name, a.leader.phone) if a.leader else ("", "")
        for line in a.lines:
            rows.append((
                header.code, header.name, header.period_number, a.team, lead_name, lead_phone,
                _iso(line.at, header), _iso(line.until, header), line.action, line.where,
                "" if line.count is None else line.count, line.detail,
            ))  # fmt: skip
    return _csv(ASSIGNMENT_COLUMNS, rows)


def activity_log_csv(entries: Sequence[ActivityEntry], header: IncidentHeader) -> str:
    """One row per log entry, in the order given."""
    rows = [(header.code, header.name, header.period_number, _iso(e.at, header), e.actor, e.kind, e.text)
            for e in entries]  # fmt: skip
    return _csv(ACTIVITY_COLUMNS, rows)


def warnings_csv(warnings: Sequence[WarningEntry], header: IncidentHeader) -> str:
    """One row per warning the approved plan carried, in the order shown, with who acknowledged it."""
    rows = [
        (header.code, header.name, header.plan_id, header.plan_version, w.number, w.kind, w.kpi or "",
         "" if w.default is None else w.default, "" if w.plan is None else w.plan, w.message, w.message_zh,
         w.acknowledged_by)
        for w in warnings
    ]  # fmt: skip
    return _csv(WARNING_COLUMNS, rows)


# ------------------------------------------------------------------------------------------ HTML

_CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "Helvetica Neue", Arial, sans-serif;
       font-size: 10.5pt; color: #000; margin: 0; }
.sheet { max-width: 190mm; margin: 0 auto 12mm; padding: 6mm; border: 1px solid #999; }
.sheet + .sheet { break-before: page; page-break-before: always; }
.exercise { border: 3px solid #b00; color: #b00; font-weight: bold; font-size: 16pt; text-align: center;
            padding: 2mm; margin-bottom: 4mm; letter-spacing: 0.1em; }
.watermark { display: none; }
h1 { font-size: 14pt; margin: 0 0 1mm; }
h2 { font-size: 11pt; margin: 4mm 0 1mm; border-bottom: 1px solid #000; }
.form { float: right; font-size: 9pt; border: 1px solid #000; padding: 0.5mm 2mm; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 1px solid #000; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; font-weight: normal; font-size: 9pt; }
td.num { text-align: right; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
.muted { color: #555; font-size: 9pt; }
@media print {
  .sheet { border: none; margin: 0; padding: 0; max-width: none; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .watermark { display: block; position: fixed; top: 45%; left: 0; right: 0; text-align: center;
               font-size: 60pt; color: rgba(176, 0, 0, 0.12); transform: rotate(-30deg); z-index: -1; }
}
"""

EXERCISE_BANNER = "EXERCISE / 演练"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _stamp(when: datetime, header: IncidentHeader, *, seconds: bool = False) -> str:
    """`2021-10-31 18:05` (or `18:05:00` with seconds) in the period's time zone."""
    return _local(when, header).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _time(when: datetime | None, header: IncidentHeader) -> str:
    """`18:45` on the period's first day, `11-01 00:15` on another day."""
    if when is None:
        return ""
    local, first = _local(when, header), _local(header.period_start, header)
    return local.strftime("%H:%M" if local.date() == first.date() else "%m-%d %H:%M")


def _offset(header: IncidentHeader) -> str:
    """`UTC+08:00`, or the empty string for a naive period start."""
    text = header.period_start.strftime("%z")
    return f"UTC{text[:3]}:{text[3:]}" if text else ""


def _page(title: str, sheets: Sequence[str], header: IncidentHeader) -> str:
    mark = f'<div class="watermark" aria-hidden="true">{_e(EXERCISE_BANNER)}</div>\n' if header.exercise else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{mark}"
        + "\n".join(sheets)
        + "\n</body>\n</html>\n"
    )


def _top(form: str, title: str, header: IncidentHeader) -> str:
    """The banner (for an exercise), the form's title and the incident and period box."""
    banner = f'<div class="exercise">{_e(EXERCISE_BANNER)}</div>\n' if header.exercise else ""
    period = (f"第 {header.period_number} 期 Period {header.period_number}: {_stamp(header.period_start, header)}"
              f" – {_stamp(header.period_end, header)} {_offset(header)}").rstrip()  # fmt: skip
    return (
        f'{banner}<span class="form">{_e(form)}</span>\n<h1>{_e(title)}</h1>\n<table>\n'
        f"<tr><th>1. 事件名称 Incident name</th><td>{_e(header.name)} ({_e(header.code)})</td>"
        f"<th>管辖 Jurisdiction</th><td>{_e(header.jurisdiction)}</td></tr>\n"
        f'<tr><th>2. 作业周期 Operational period</th><td colspan="3">{_e(period)}</td></tr>\n</table>\n'
    )


def _signoff(header: IncidentHeader) -> str:
    """Who prepared and approved the plan the form comes from, and which exact plan it is."""
    plan = f"#{header.plan_id} v{header.plan_version} · sha256 {header.plan_digest[:12]}"
    return (
        "<table>\n"
        f"<tr><th>编制 Prepared by</th><td>一网 Yiwang, 方案 plan {_e(plan)}</td>"
        f"<th>事件指挥 Incident commander</th><td>{_e(header.commander)}</td></tr>\n"
        f"<tr><th>批准 Approved by</th><td>{_e(header.approved_by)}</td>"
        f"<th>批准时间 Approved at</th><td>{_e(_stamp(header.approved_at, header))}</td></tr>\n</table>\n"
    )


def _people(a: Assignment) -> str:
    if a.leader is None:
        return "<p>未指定 Not assigned</p>\n"
    rows = [("负责人 Leader", a.leader)] + [("队员 Member", m) for m in a.members]
    body = "".join(
        f"<tr><td>{_e(what)}</td><td>{_e(p.name)}</td><td>{_e(p.role)}</td><td>{_e(p.phone)}</td></tr>\n"
        for what, p in rows
    )
    return (
        "<table>\n<thead><tr><th>职责 Position</th><th>姓名 Name</th><th>角色 Role</th>"
        f"<th>联系电话 Contact</th></tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
    )


def _work(a: Assignment, header: IncidentHeader) -> str:
    body = "".join(
        f"<tr><td>{_e(_time(line.at, header))}</td><td>{_e(_time(line.until, header))}</td>"
        f"<td>{_e(ACTION_LABELS.get(line.action, line.action))}</td><td>{_e(line.where)}</td>"
        f'<td class="num">{"" if line.count is None else _e(line.count)}</td><td>{_e(line.detail)}</td></tr>\n'
        for line in a.lines
    )
    return (
        "<table>\n<thead><tr><th>时间 Time</th><th>至 Until</th><th>任务 Action</th><th>地点 Where</th>"
        f"<th>数量 Count</th><th>说明 Detail</th></tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
    )


def _team_label(team: str) -> str:
    label = TEAM_LABELS.get(team)
    return f"{label} ({team})" if label else team


def _said(w: WarningEntry) -> str:
    """A warning's words: in Chinese with the places by name, above the engines' own English, or the English alone
    where there is no Chinese."""
    if not w.message_zh or w.message_zh == w.message:
        return _e(w.message)
    return f"{_e(w.message_zh)}<br>{_e(w.message)}"


def _warnings(warnings: Sequence[WarningEntry]) -> str:
    """The consequence warnings the commander saw before approving (and who acknowledged each), or none."""
    if not warnings:
        return "<p>无 None: the plan was no worse than the default plan and crossed no threshold.</p>\n"
    body = "".join(f'<tr><td class="num">{w.number}</td><td>{_e(WARNING_LABELS.get(w.kind, w.kind))}</td>'
                   f"<td>{_said(w)}</td><td>{_e(w.acknowledged_by or '未确认 not acknowledged')}</td></tr>\n"
                   for w in warnings)  # fmt: skip
    return (
        "<table>\n<thead><tr><th>#</th><th>类别 Kind</th><th>说明 What the plan does</th>"
        f"<th>确认 Acknowledged by</th></tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
    )


def _assignment_sheet(a: Assignment, header: IncidentHeader, instructions: str,
                      warnings: Sequence[WarningEntry] = ()) -> str:  # fmt: skip
    notes = [f"所有时间均为当地时间 All times are local {_offset(header)}".rstrip()]
    notes += [line for line in instructions.splitlines() if line.strip()]
    return (
        '<section class="sheet">\n'
        + _top("ICS 204", "工作任务分配表 Assignment list", header)
        + f"<h2>3. 队伍 Team</h2>\n<p>{_e(_team_label(a.team))}</p>\n"
        + "<h2>4. 负责人及联系方式 Leader and contact</h2>\n"
        + _people(a)
        + f"<h2>5. 工作任务 Work assignments ({len(a.lines)})</h2>\n"
        + _work(a, header)
        + "<h2>6. 特别指示 Special instructions</h2>\n<ul>\n"
        + "".join(f"<li>{_e(n)}</li>\n" for n in notes)
        + f"</ul>\n<h2>7. 方案风险提示 Warnings shown before approval ({len(warnings)})</h2>\n"
        + _warnings(warnings)
        + "<h2>8. 编制与批准 Prepared and approved</h2>\n"
        + _signoff(header)
        + "</section>"
    )


def to_html(assignments: Sequence[Assignment], header: IncidentHeader, *,
            instructions: Mapping[str, str] | None = None, warnings: Sequence[WarningEntry] = ()) -> str:  # fmt: skip
    """A printable page of ICS-204-style assignment lists, one team per printed page.

    `instructions` maps a team to its special instructions (one per line), printed under the standing ones;
    `warnings` are the plan's consequence warnings as the commander saw them before approving, printed on every
    team's page (what the plan is known to make worse travels with the work it assigns).
    """
    extra = instructions or {}
    sheets = [_assignment_sheet(a, header, extra.get(a.team, ""), warnings) for a in assignments]
    if not sheets:
        sheets = [
            '<section class="sheet">\n'
            + _top("ICS 204", "工作任务分配表 Assignment list", header)
            + "<p>本方案无工作任务 The plan has no work assignments.</p>\n"
            + f"<h2>方案风险提示 Warnings shown before approval ({len(warnings)})</h2>\n"
            + _warnings(warnings)
            + _signoff(header)
            + "</section>"
        ]
    return _page(f"{header.name} ({header.code}) — ICS 204", sheets, header)


def activity_log_html(entries: Sequence[ActivityEntry], header: IncidentHeader) -> str:
    """A printable ICS-214-style activity log: time, actor, kind and notable activity, in the order given."""
    body = (
        "".join(
            f"<tr><td>{_e(_stamp(e.at, header, seconds=True))}</td><td>{_e(e.actor)}</td><td>{_e(e.kind)}</td>"
            f"<td>{_e(e.text)}</td></tr>\n"
            for e in entries
        )
        or '<tr><td colspan="4">无记录 No entries</td></tr>\n'
    )
    sheet = (
        '<section class="sheet">\n'
        + _top("ICS 214", "活动记录 Activity log", header)
        + f"<h2>3. 活动记录 Activity log ({len(entries)})</h2>\n"
        + "<table>\n<thead><tr><th>时间 Time</th><th>人员 Actor</th><th>类别 Kind</th>"
        + f"<th>重要活动 Notable activities</th></tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
        + "<h2>4. 编制与批准 Prepared and approved</h2>\n"
        + _signoff(header)
        + "</section>"
    )
    return _page(f"{header.name} ({header.code}) — ICS 214", [sheet], header)


__all__ = [
    "ACTION_LABELS",
    "ACTIVITY_COLUMNS",
    "ASSIGNMENT_COLUMNS",
    "EXERCISE_BANNER",
    "TEAM_LABELS",
    "WARNING_COLUMNS",
    "ActivityEntry",
    "Assignment",
    "AssignmentLine",
    "IncidentHeader",
    "RosterEntry",
    "WarningEntry",
    "activity_log_csv",
    "activity_log_html",
    "assignment_lists",
    "team_of",
    "to_csv",
    "to_html",
    "warnings_csv",
]
