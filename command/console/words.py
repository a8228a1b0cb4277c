"""The console's words for the store's and the engines' codes: statuses, phases, districts, event kinds, the
clocks, the advance report and the refusals of the command layer, in the user's language.

The command layer and the engines speak in codes (`proposed`, `supervision`, `pudong`, `bus_departs`) and in
English one-liners (its refusals, `AdvanceReport`); a page never shows either raw in Chinese mode: it asks here.
A code this module does not know is shown as is, so that a new one is visible rather than hidden.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from command.console.i18n import t
from command.errors import (
    AccountLocked,
    AuthFailed,
    BadInput,
    CommandError,
    Conflict,
    Infeasible,
    NotAuthorised,
    NotFound,
    Tampered,
)
from command.loop import AdvanceReport
from command.timeline import TimelineEntry
from command.wording import breach_text, with_places
from command.wording import in_words as _in_words
from scenarios.schema import Clock

# fmt: off
#: code -> (zh, en), per family. English shows the code's own words where they read well.
CODES: dict[str, dict[str, tuple[str, str]]] = {
    "incident_status": {"open": ("进行中", "open"), "closed": ("已关闭", "closed")},
    "plan_status": {
        "draft": ("草稿", "draft"),
        "proposed": ("待审批", "proposed"),
        "approved": ("已批准", "approved"),
        "rejected": ("已驳回", "rejected"),
        "active": ("生效中", "in effect"),
        "superseded": ("已被替代", "superseded"),
        "completed": ("已完成", "completed"),
        "withdrawn": ("已撤回", "withdrawn"),
    },
    "phase": {
        "intake": ("接报", "intake"),
        "dispatch": ("调度", "dispatch"),
        "handling": ("处置", "handling"),
        "supervision": ("监督执行", "supervision"),
        "evaluation": ("评估", "evaluation"),
        "archive": ("归档", "archive"),
    },
    "decision": {"approved": ("批准", "approved"), "rejected": ("驳回", "rejected")},
    "event": {
        "batch": ("护送批次", "escort batch"),
        "batch_refused": ("批次被拒", "batch refused"),
        "bus_departs": ("大巴发车", "bus departs"),
        "control": ("管控措施", "control"),
        "control_unstaffed": ("管控无人值守", "control unstaffed"),
        "counterflow_moving": ("对向人流通行", "counter-flow moving"),
        "counterflow_stalled": ("对向人流停滞", "counter-flow stalled"),
        "end": ("结束", "end"),
        "exit": ("离场", "exit"),
        "escort_delayed": ("护送延误", "escort delayed"),
        "forecast_revised": ("预报更新", "forecast revised"),
        "inject": ("情况注入", "inject"),
        "inject_skipped": ("注入未触发", "inject not fired"),
        "metro_closed": ("地铁站关闭", "metro station closed"),
        "peak_density": ("密度峰值", "peak density"),
        "road": ("道路", "road"),
        "route_ignored": ("路线未被遵守", "route ignored"),
        "show": ("演出", "show"),
        "staff_delayed": ("人员延误", "staff delayed"),
        "staff_posted": ("人员到岗", "staff posted"),
        "staff_stood_down": ("人员撤岗", "staff stood down"),
        "testers_arrive": ("采样人员到达", "testers arrive"),
        "testers_delayed": ("采样人员延误", "testers delayed"),
        "unreachable": ("无法到达", "unreachable"),
        "viewing_area": ("观景区", "viewing area"),
        "density_critical": ("危险密度", "critical density"),
        "density_crush": ("挤压密度", "crush density"),
        "evaluation": ("评估", "evaluation"),
        "sim": ("模拟", "simulation"),
        "breach": ("越限", "breach"),
        "propose": ("提交方案", "plan proposed"),
        "approve": ("批准", "approved"),
        "reject": ("驳回", "rejected"),
        "activate": ("方案生效", "plan in effect"),
        "open": ("立案", "opened"),
        "close": ("结案", "closed"),
        "run": ("推演", "run"),
        "revise": ("修订方案", "plan revised"),
        "grant": ("授权", "command granted"),
        "revoke": ("撤销授权", "command revoked"),
        "critical": ("危险密度", "critical density"),
        "crush": ("挤压密度", "crush density"),
        "warning": ("预警", "warning"),
        "wait": ("等待超过上限", "wait over the limit"),
        "finish": ("未按目标时间完成", "target finish missed"),
        "surge": ("人流激增", "surge"),
        "delay": ("延误", "delay"),
        "message": ("消息", "message"),
        "close_exit": ("关闭出口", "exit closed"),
        "forecast": ("预报更新", "forecast"),
        "advance": ("推进", "advanced"),
        "export": ("导出", "exported"),
        "incident_open": ("立案", "incident opened"),
        "incident_close": ("结案", "incident closed"),
        "incident_phase": ("阶段变更", "phase changed"),
        "plan_propose": ("提交方案", "plan proposed"),
        "plan_approve": ("批准方案", "plan approved"),
        "plan_reject": ("驳回方案", "plan rejected"),
        "plan_activate": ("方案生效", "plan in effect"),
        "plan_revise": ("修订方案", "plan revised"),
        "plan_supersede": ("方案被替代", "plan superseded"),
        "plan_complete": ("方案完成", "plan completed"),
        "roster_import": ("导入名单", "roster imported"),
        "tamper_detected": ("发现篡改", "tampering detected"),
        "alert_ack": ("告警已知悉", "alert acknowledged"),
        "system": ("系统", "system"),
    },
    "node_kind": {
        "bank_area": ("外滩区域", "bank area"),
        "bus_bay": ("大巴车位", "bus bay"),
        "depot": ("停车场", "depot"),
        "destination": ("目的地", "destination"),
        "district_centre": ("区中心", "district centre"),
        "entrance": ("入口", "entrance"),
        "exit": ("出口", "exit"),
        "junction": ("路口", "junction"),
        "metro": ("地铁站", "metro station"),
        "metro_exit": ("地铁出口", "metro exit"),
        "parking": ("停车场", "parking"),
        "pier": ("码头", "pier"),
        "plaza": ("广场", "plaza"),
        "promenade": ("步行道", "promenade"),
        "square": ("广场", "square"),
        "stair": ("楼梯", "stairs"),
        "test_site": ("采样点", "test site"),
        "tunnel_portal": ("隧道口", "tunnel portal"),
        "viewing_area": ("观景区", "viewing area"),
        "zone": ("区域", "zone"),
    },
    "edge_mode": {
        "ferry": ("轮渡", "ferry"),
        "road": ("道路", "road"),
        "stair": ("楼梯", "stairs"),
        "tunnel": ("隧道", "tunnel"),
        "walk": ("步道", "walkway"),
        "metro": ("地铁", "metro"),
    },
    "series": {
        "queue_total": ("排队总人数（人）", "People queuing (people)"),
        "queue_max_site": ("单个采样点最长排队（人）", "Longest queue at one site (people)"),
        "tested": ("已采样人数（人）", "Tested (people)"),
        "departed": ("已离场人数（人）", "Departed (people)"),
        "booths_staffed": ("在岗采样台（个）", "Booths staffed"),
        "bay_waiting": ("车位等候人数（人）", "Waiting at the bus bays (people)"),
        "buses_on_road": ("在途大巴（辆）", "Buses on the road"),
        "on_site": ("现场人数（人）", "On site (people)"),
        "dwelling": ("停留人数（人）", "Dwelling (people)"),
        "walking": ("行走人数（人）", "Walking (people)"),
        "entry_queue": ("入口排队人数（人）", "Entry queue (people)"),
        "served": ("已入场人数（人）", "Let in (people)"),
        "peak_density_now": ("当前最高密度（人/m²）", "Highest density now (/m²)"),
        "people_over_4ppm2": ("密度超过每平方米4人处的人数（人）", "People where density is over 4/m² (people)"),
        "riders_arrived": ("到达的骑行者（人）", "Riders arrived"),
        "riders_crossed": ("已过江骑行者（人）", "Riders crossed"),
        "riders_waiting": ("等候的骑行者（人）", "Riders waiting"),
        "riders_gave_up": ("放弃过江的骑行者（人）", "Riders who gave up"),
        "escort_queue_total": ("等候护送的骑行者（人）", "Riders queuing for escort"),
        "vehicle_queue_total": ("排队车辆（辆）", "Vehicles queuing"),
        "ferries_suspended": ("停航轮渡（条）", "Ferries suspended"),
        "lanes_cleared": ("清空车道（条）", "Lanes cleared"),
        "wind_force": ("风力（级）", "Wind force (Beaufort)"),
    },
    "stop": {
        "end of the operational period": ("作业周期结束", "end of the operational period"),
        "end of the horizon": ("模拟时段结束", "end of the horizon"),
        "the time asked for": ("指定时刻", "the time asked for"),
    },
}
# fmt: on


def code(family: str, value: str | None, lang: str) -> str:
    """A code's words in `lang` (the code itself when it is not known)."""
    if value is None:
        return ""
    pair = CODES[family].get(value)
    if pair is None and ":" in value:  # "breach:critical", "sim:bus_departs": the family's word for the part after
        head, _, tail = value.partition(":")
        inner = CODES[family].get(tail) or CODES[family].get(head)
        colon = "：" if lang == "zh" else ": "
        return f"{code(family, head, lang)}{colon}{code(family, tail, lang)}" if inner else value
    return value if pair is None else pair[0 if lang == "zh" else 1]


def activity_kind(kind: str, lang: str) -> str:
    """An activity-log line's kind (a phase of the loop, an action, `sim:<event>`, `breach:<level>`) in words."""
    if kind in CODES["phase"]:
        return code("phase", kind, lang)
    head, _, tail = kind.partition(":")
    if head == "sim" and tail:
        said = code("event", tail, lang)
        return f"{code('event', 'sim', lang)}：{said}" if lang == "zh" else said
    return code("event", kind, lang)


#: An assignment line's particulars as `command.ics` writes them (English, for the printed form's detail column):
#: pattern -> (zh, en) template with the pattern's groups. A part no pattern knows is kept as it is.
DETAILS: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (re.compile(r"^(?:(?P<role>\w+), )?wave (?P<wave>\d+)$"), ("第 {wave} 批{role}", "{role}wave {wave}")),
    (re.compile(r"^bus (?P<bus>\S+)$"), ("大巴 {bus}", "bus {bus}")),
    (re.compile(r"^(?P<share>[\d.]+%) of visitors$"), ("游客的 {share}", "{share} of visitors")),
    (re.compile(r"^(?P<share>[\d.]+%) of riders$"), ("骑行者的 {share}", "{share} of riders")),
    (re.compile(r"^(?P<n>\d+) lanes?$"), ("{n} 条车道", "{n} lane(s)")),
    (re.compile(r"^up to (?P<n>\d+) riders$"), ("至多 {n} 名骑行者", "up to {n} riders")),
    (re.compile(r"^at most (?P<rate>[\d.]+) people/min$"), ("每分钟至多 {rate} 人", "at most {rate} people/min")),
    (re.compile(r"^trains skip it: arrivals to the neighbouring stations$"),
     ("列车越站不停：到站乘客改至相邻车站", "trains skip it: arrivals to the neighbouring stations")),
)  # fmt: skip

ROLES = {"sampler": ("采样员", "sampler"), "registrar": ("登记员", "registrar")}


def detail(text: str, lang: str) -> str:
    """An assignment line's particulars in `lang` (each `; `-separated part a pattern knows; notes as written)."""
    if lang != "zh":
        return text
    out = []
    for part in text.split("; "):
        for pattern, (zh, _) in DETAILS:
            found = pattern.match(part)
            if found:
                values = {k: v or "" for k, v in found.groupdict().items()}
                if "role" in values:
                    role = values["role"]
                    values["role"] = f"（{ROLES.get(role, (role,))[0]}）" if role else ""
                part = zh.format(**values)
                break
        out.append(part)
    return "；".join(out)


def condition(text: str, lang: str) -> str:
    """An inject's condition (`<series>:<node> > <value>`) with the series in words."""
    series, colon, rest = text.partition(":")
    if not colon or lang != "zh":
        return text
    word = {"density": "密度", "queue": "排队"}.get(series)
    return f"{word}：{rest}" if word else text


def map_words(lang: str) -> dict[str, str]:
    """Node kinds and edge modes in `lang`, for the map's tooltips."""
    return {k: code(f, k, lang) for f in ("edge_mode", "node_kind") for k in CODES[f]}


def pick(label: str, lang: str) -> str:
    """One language of a bilingual label ("浦东新区 Pudong", "派驻人员 Assign staff"): the Chinese words before
    the first space, or the rest; a label in one language only is shown as it is."""
    zh, _, en = label.partition(" ")
    if not re.search(r"[\u4e00-\u9fff]", zh) or not en:
        return label
    return zh if lang == "zh" else en


def district(code_: str, names: dict[str, str], lang: str) -> str:
    """A jurisdiction's name in `lang` from the store's bilingual name; the code if unnamed."""
    name = names.get(code_)
    return pick(name, lang) if name else code_


def zone_label(zone: str, when: datetime, lang: str) -> str:
    """The zone of a local time, stated: `北京时间 UTC+8` / `Asia/Shanghai, UTC+8`."""
    offset = when.utcoffset()
    hours = 0.0 if offset is None else offset.total_seconds() / 3600
    utc = f"UTC{hours:+g}" if hours else "UTC"
    if zone == "Asia/Shanghai":
        return f"北京时间，{utc}" if lang == "zh" else f"China Standard Time, {utc}"
    return f"{zone}，{utc}" if lang == "zh" else f"{zone}, {utc}"


def local(when: datetime, zone: str, lang: str, *, seconds: bool = False, extra: str = "") -> str:
    """A moment as local time in `zone` with its date and the zone stated (naive datetimes are UTC, as stored);
    `extra` is added inside the brackets."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    there = aware.astimezone(ZoneInfo(zone))
    shown = f"{there:%Y-%m-%d %H:%M:%S}" if seconds else f"{there:%Y-%m-%d %H:%M}"
    said = zone_label(zone, there, lang) + (("，" if lang == "zh" else ", ") + extra if extra else "")
    return f"{shown}（{said}）" if lang == "zh" else f"{shown} ({said})"


def wall_short(when: datetime, zone: str) -> str:
    """`MM-DD HH:MM:SS` local time in `zone` (for table cells under a header that states the zone)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return f"{aware.astimezone(ZoneInfo(zone)):%m-%d %H:%M:%S}"


def incident_clock(clock: Clock, t_s: float, lang: str) -> str:
    """The incident clock: the scenario's local time with its date and zone, and the minutes since its start."""
    minutes = f"{t_s / 60:,.0f}"
    after = f"开始后 {minutes} 分钟" if lang == "zh" else f"{minutes} min after the start"
    return local(clock.at(t_s), clock.timezone, lang, extra=after)


def short_time(clock: Clock, t_s: float) -> str:
    """`MM-DD HH:MM` local time of the scenario (for table cells under a header that states the zone)."""
    return f"{clock.at(t_s):%m-%d %H:%M}"


def advance_text(report: AdvanceReport, clock: Clock, lang: str) -> str:
    """What an advance did, in words: from when to when, why it stopped, what happened, what needs a re-plan."""
    why = report.stopped_for
    head, _, tail = why.partition(": ")
    if head == "inject":
        reason = t("words.stop.inject", lang, kind=code("event", tail, lang) if tail in CODES["event"] else tail)
    elif head == "threshold breach":
        reason = t("words.stop.breach", lang, kind=code("event", tail, lang))
    else:
        reason = code("stop", why, lang)
    parts = [t("words.advanced", lang, start=short_time(clock, report.from_s), end=short_time(clock, report.to_s),
               why=reason)]  # fmt: skip
    if report.events:
        counted = "，" if lang == "zh" else ", "
        parts.append(t("words.events", lang, events=counted.join(
            f"{code('event', k, lang)} {n}" for k, n in sorted(report.events.items()))))  # fmt: skip
    if report.needs_replan:
        parts.append(t("words.replan_needed", lang))
    if report.finished:
        parts.append(t("words.finished", lang))
    return ("；" if lang == "zh" else "; ").join(parts)


def timeline_text(entry: TimelineEntry, zone: str, lang: str) -> str:
    """What a timeline step says, in `lang`: codes (phases, inject and breach kinds) in words, names as they are,
    a grant's end as local time in `zone`."""
    values = dict(entry.values)
    until = local(entry.until, zone, lang) if entry.until is not None else ""
    fields: dict[str, object] = {"plan": entry.plan, "version": entry.version, "until": until,
                                 "to": values.get("to", ""), "from_": values.get("from", ""),
                                 "holder": values.get("holder", ""), "by": values.get("by", ""),
                                 "code": values.get("code", "")}  # fmt: skip
    key = f"timeline.{entry.event}"
    if entry.event == "phase":
        fields |= {"from_": code("phase", values.get("from"), lang), "to": code("phase", values.get("to"), lang)}
    elif entry.event in {"inject", "inject_skipped", "breach"}:
        fields["kind"] = code("event", values.get("kind"), lang)
    elif entry.event == "alarm_cleared":
        key = f"timeline.alarm_cleared.{values.get('why', 'plan')}"
    elif entry.event == "plan_approve" and values.get("acknowledged", "0") != "0":
        key, fields["n"] = "timeline.plan_approve_acks", values["acknowledged"]
    said = t(key, lang, **fields)
    return entry.text if said == key else said  # a step this console does not know yet: its English words


#: The command layer's refusals that the console words itself (pattern -> key); groups are passed as values.
REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"too many failed log-ins from this source \(.*?\); wait (?P<n>[\d.]+) (?P<unit>s|min)"),
     "refusal.throttled"),
    (re.compile(r"account '(?P<user>[^']+)' is (?:now )?locked until (?P<until>.+?) UTC"), "refusal.locked"),
    (re.compile(r"this source must now wait (?P<n>[\d.]+) (?P<unit>s|min) before the next attempt"),
     "refusal.wrong_password_wait"),
    (re.compile(r"wrong user name or password \((?P<n>\d+) more tr(?:y|ies) from this source"),
     "refusal.wrong_password_left"),
    (re.compile(r"wrong user name or password"), "refusal.wrong_password"),
    (re.compile(r"(?P<left>\d+) of its (?P<n>\d+) warnings not acknowledged"), "refusal.unacknowledged"),
    (re.compile(r"account '(?P<user>[^']+)' is disabled"), "refusal.disabled"),
    (re.compile(r"session expired|not logged in"), "refusal.session"),
    (re.compile(r"user '(?P<user>[^']+)' cannot see incident"), "refusal.outside_jurisdiction"),
    (re.compile(r"user '(?P<user>[^']+)' is an? (?P<role>\w+)"), "refusal.cannot_hold"),
    (re.compile(r"was advanced by someone else"), "refusal.advanced_meanwhile"),
    (re.compile(r"has reached the end of its scenario"), "refusal.horizon"),
    (re.compile(r"already (?:decided|approved|rejected)|is (?:approved|rejected|active|superseded)"),
     "refusal.decided"),
    (re.compile(r"changed since|shown version|digest"), "refusal.changed"),
    (re.compile(r"no plan found within the time limit of (?P<limit>[\d.]+) s"), "refusal.no_plan_in_time"),
    (re.compile(r"alert '[^']*' does not stand"), "refusal.alert_gone"),
)

#: A refusal no pattern knows: its kind, in words (most specific first).
KINDS: tuple[tuple[type[Exception], str], ...] = (
    (AccountLocked, "refusal.kind.locked"), (AuthFailed, "refusal.kind.auth"), (Tampered, "refusal.kind.tampered"),
    (Conflict, "refusal.kind.conflict"), (NotAuthorised, "refusal.kind.not_authorised"),
    (NotFound, "refusal.kind.not_found"), (BadInput, "refusal.kind.bad_input"), (Infeasible, "refusal.kind.infeasible"),
    (CommandError, "refusal.kind.other"),
)  # fmt: skip


#: A plan job's stages as `command.budget` names them -> their words in Chinese.
STAGES = {
    "reading the state now": "读取当前状态",
    "simulating the default plan (beside the optimiser)": "仿真默认方案（与优化并行）",
    "optimising": "优化",
    "simulating the plan (the forecast, in full)": "仿真新方案（完整预测）",
    "proposing": "提交方案",
}
BUDGET_PARTS = {"state": "读取状态", "baseline": "基线", "optimise": "优化", "forecast": "预测", "propose": "提交"}
_STAGE = "|".join(re.escape(k) for k in STAGES)


def _stage_text(text: str) -> str:
    """The particulars after a stage's head: a scenario and seed, a time limit, a splice; else as written."""
    if found := re.fullmatch(r"(?P<name>\S+), seed (?P<seed>\d+)", text):
        return f"{found['name']}，随机种子 {found['seed']}"
    if found := re.fullmatch(r"time limit (?P<s>[\d.]+) s", text):
        return f"时限 {found['s']} 秒"
    if text == "the new plan spliced into the one in effect":
        return "新方案接入现行方案"
    return text


def _budget_zh(found: re.Match[str]) -> str:
    parts = "，".join(f"{BUDGET_PARTS.get(k, k)} {v} 秒" for k, v in re.findall(r"(\w+) ([\d.]+) s", found["parts"]))
    head = f"预算 {found['total']} 秒：{parts}；优化器时限 {found['limit']} 秒"
    if found["fits"]:
        return f"{head}（预计 {found['fits']} 秒）"
    return f"{head}：预计 {found['est']} 秒，超出 {found['over']} 秒，仿真仍完整运行"


def _inject_list(text: str) -> str:
    return "，".join(
        f"{code('event', m['kind'], 'zh') if m['kind'] in CODES['event'] else m['kind']}（{m['at']}）"
        for m in re.finditer(r"(?P<kind>\w+) at (?P<at>[^,]+)", text))  # fmt: skip


#: A long job's progress lines (`command.loop.plan_incident`, `command.runs.run_loaded`, the closed loop): pattern
#: -> its words in Chinese (a function of the match). A line no pattern knows is shown as it is.
PROGRESS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"budget (?P<total>[\d.]+) s: (?P<parts>.*?); optimiser limit (?P<limit>[\d.]+) s"
                r"(?: \(estimate (?P<fits>[\d.]+) s\)|: the estimate is (?P<est>[\d.]+) s, (?P<over>[\d.]+) s over, "
                r"the simulations run in full all the same)"), _budget_zh),
    (re.compile(rf"\[(?P<n>\d+)/(?P<of>\d+)\] (?P<label>{_STAGE}) \((?P<s>[\d.]+) s of (?P<total>[\d.]+) s\)"
                r"(?:: (?P<text>.*))?"),
     lambda f: f"[{f['n']}/{f['of']}] {STAGES[f['label']]}（预算 {f['total']} 秒中的 {f['s']} 秒）"
               + (f"：{_stage_text(f['text'])}" if f["text"] else "")),
    (re.compile(r"took (?P<wall>\d+) s against a budget of (?P<total>[\d.]+) s \(safety cap (?P<cap>[\d.]+)x\).*"),
     lambda f: f"用时 {f['wall']} 秒，预算 {f['total']} 秒（安全上限 {f['cap']} 倍）："
               "这台机器比预算的参考机器慢或更忙；除非某次求解说明被安全上限截停，所得方案与空闲机器相同"),
    (re.compile(r"planning for (?P<n>\d+) inject\(s\) that have happened: (?P<list>.*)"),
     lambda f: f"按已发生的 {f['n']} 个情况注入规划：{_inject_list(f['list'])}"),
    (re.compile(r"planning from .+? at (?P<at>.+?)(?P<buses>, with the buses where they are then)?$"),
     lambda f: f"从 {f['at']} 的仿真状态开始规划" + ("（大巴在当时的位置）" if f["buses"] else "")),
    (re.compile(r"keeping what plan (?P<n>\d+) already did before (?P<at>.+)"),
     lambda f: f"保留方案 {f['n']} 在 {f['at']} 之前已执行的部分"),
    (re.compile(r"keeping what the default plan already did before (?P<at>.+)"),
     lambda f: f"保留默认方案在 {f['at']} 之前已执行的部分"),
    (re.compile(r"simulating the default plan of (?P<name>\S+) \(seed (?P<seed>\d+)\)"),
     lambda f: f"仿真 {f['name']} 的默认方案（随机种子 {f['seed']}）"),
    (re.compile(r"simulating the optimised plan$"), lambda f: "仿真优化方案"),
    (re.compile(r"optimising$"), lambda f: "优化中"),
    (re.compile(r"proposing$"), lambda f: "提交方案"),
    (re.compile(r"closed loop: optimising on what is known at the start"), lambda f: "闭环：按开始时已知的情况优化"),
    (re.compile(r"closed loop: re-planning at (?P<at>.+?) \((?P<k>\d+) of (?P<n>\d+)\)"),
     lambda f: f"闭环：在 {f['at']} 重新规划（第 {f['k']} 次，共 {f['n']} 次）"),
    (re.compile(r"closed loop: simulating the plan as carried out"), lambda f: "闭环：仿真实际执行的方案"),
)  # fmt: skip


def progress(message: str, lang: str) -> str:
    """A long job's progress line in `lang` (a known one in words; any other as it is)."""
    return _in_words(PROGRESS, message, lang)


def _unit_words(found: dict[str, str], lang: str) -> dict[str, str]:
    """A matched wait's unit in words (`s` -> 秒, `min` -> 分钟)."""
    if "unit" in found:
        found = {**found, "unit": {"s": "秒", "min": "分钟"}[found["unit"]] if lang == "zh" else found["unit"]}
    return found


def failure(message: str, lang: str) -> str:
    """A background job's one-line failure in `lang` (a known one in words; any other kept as it is)."""
    if lang == "zh":
        for pattern, key in REFUSALS:
            found = pattern.search(message)
            if found:
                return t(key, lang, **_unit_words(found.groupdict(), lang))
    return message


def refusal(exc: Exception, lang: str) -> str:
    """A refusal of the command layer in `lang`: a known one in words; any other as its kind, with the detail
    (which names what is wrong and where) kept after it."""
    message = str(exc)
    if lang != "zh":
        return message
    for pattern, key in REFUSALS:
        found = pattern.search(message)
        if found:
            return t(key, lang, **_unit_words(found.groupdict(), lang))
    kind = next((k for cls, k in KINDS if isinstance(exc, cls)), "refusal.kind.other")
    return t(kind, lang) + t("refusal.detail", lang, detail=message)


__all__ = [
    "CODES",
    "activity_kind",
    "advance_text",
    "breach_text",
    "code",
    "condition",
    "detail",
    "district",
    "failure",
    "incident_clock",
    "local",
    "map_words",
    "pick",
    "progress",
    "refusal",
    "short_time",
    "timeline_text",
    "wall_short",
    "with_places",
    "zone_label",
]
