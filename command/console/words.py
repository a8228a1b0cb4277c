"""The console's words for the store's and the engines' codes: statuses, phases, districts, event kinds, the
clocks, the advance report and the refusals of the command layer, in the user's language.

The command layer and the engines speak in codes (`proposed`, `supervision`, `pudong`, `bus_departs`) and in
English one-liners (its refusals, `AdvanceReport`); a page never shows either raw in Chinese mode: it asks here.
A code this module does not know is shown as is, so that a new one is visible rather than hidden.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
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
        return f"{code(family, head, lang)}：{code(family, tail, lang)}" if inner else value
    return value if pair is None else pair[0 if lang == "zh" else 1]


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
        reason = t("words.stop.breach", lang, kind=code("event", f"density_{tail}", lang)
                   if f"density_{tail}" in CODES["event"] else tail)  # fmt: skip
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


#: The command layer's refusals that the console words itself (pattern -> key); groups are passed as values.
REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"wrong user name or password"), "refusal.wrong_password"),
    (re.compile(r"account '(?P<user>[^']+)' is locked until (?P<until>.+?) UTC"), "refusal.locked"),
    (re.compile(r"account '(?P<user>[^']+)' is disabled"), "refusal.disabled"),
    (re.compile(r"session expired|not logged in"), "refusal.session"),
    (re.compile(r"user '(?P<user>[^']+)' cannot see incident"), "refusal.outside_jurisdiction"),
    (re.compile(r"user '(?P<user>[^']+)' is an? (?P<role>\w+)"), "refusal.cannot_hold"),
    (re.compile(r"was advanced by someone else"), "refusal.advanced_meanwhile"),
    (re.compile(r"has reached the end of its scenario"), "refusal.horizon"),
    (re.compile(r"already (?:decided|approved|rejected)|is (?:approved|rejected|active|superseded)"),
     "refusal.decided"),
    (re.compile(r"changed since|shown version|digest"), "refusal.changed"),
)

#: A refusal no pattern knows: its kind, in words (most specific first).
KINDS: tuple[tuple[type[Exception], str], ...] = (
    (AccountLocked, "refusal.kind.locked"), (AuthFailed, "refusal.kind.auth"), (Tampered, "refusal.kind.tampered"),
    (Conflict, "refusal.kind.conflict"), (NotAuthorised, "refusal.kind.not_authorised"),
    (NotFound, "refusal.kind.not_found"), (BadInput, "refusal.kind.bad_input"), (Infeasible, "refusal.kind.infeasible"),
    (CommandError, "refusal.kind.other"),
)  # fmt: skip


def refusal(exc: Exception, lang: str) -> str:
    """A refusal of the command layer in `lang`: a known one in words; any other as its kind, with the detail
    (which names what is wrong and where) kept after it."""
    message = str(exc)
    if lang != "zh":
        return message
    for pattern, key in REFUSALS:
        found = pattern.search(message)
        if found:
            return t(key, lang, **found.groupdict())
    kind = next((k for cls, k in KINDS if isinstance(exc, cls)), "refusal.kind.other")
    return t(kind, lang) + t("refusal.detail", lang, detail=message)


__all__ = ["CODES", "advance_text", "code", "district", "incident_clock", "local", "map_words", "pick", "refusal",
           "short_time", "wall_short", "zone_label"]  # fmt: skip
