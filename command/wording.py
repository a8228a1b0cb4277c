"""A plan's consequence warnings in the reader's language, with places by name: one reading for every place a
commander meets them (the console's review, `command.console.screens.review`; the ICS paperwork,
`command.paperwork`).

The engines and `command.consequences` write a warning as an English one-liner with node ids ("critical density:
prom_hankou~stair_customs_house: 5.03 /m² reaches critical at 00:10"). In Chinese, a form the simulations write
in words is put in words (`breach_text`); one this module does not know stays as written, so that a new one is
visible rather than hidden. Places are named from the scenario's graph (`place_names`: `name_zh` in Chinese where
the graph has one), each with its id beside it, and a walkway by its two ends (`with_places`).
"""

from __future__ import annotations

import re
from typing import Any

from command.consequences import warning_number
from command.console.i18n import t
from command.kinds import kind_of
from scenarios.loading import scenario_graph

Table = tuple[tuple[re.Pattern[str], Any], ...]


def in_words(table: Table, message: str, lang: str) -> str:
    """`message` in `lang` by the first of `table`'s patterns it matches whole (any other as it is)."""
    if lang != "zh":
        return message
    for pattern, words_of in table:
        found = pattern.fullmatch(message)
        if found:
            return str(words_of(found))
    return message


LEVELS = {"warning": "预警密度", "critical": "危险密度"}
BREACHES: Table = (
    (re.compile(r"(?P<level>warning|critical) density: (?P<place>.+?): (?P<d>[\d.]+) /m² reaches (?:warning|critical)"
                r" at (?P<at>\d\d:\d\d(?: \+\d+d)?)"),
     lambda f: f"{LEVELS[f['level']]}：{f['place']} 达到 {f['d']} 人/平方米（{_at(f['at'])}）"),
    (re.compile(r"crush: crush at (?P<place>.+?): (?P<d>[\d.]+) /m² for (?P<s>[\d.]+) s \(at or above (?P<c>[\d.]+)"
                r" /m² since (?P<since>\d\d:\d\d(?: \+\d+d)?)\) at (?P<at>\d\d:\d\d(?: \+\d+d)?)"),
     lambda f: f"挤压：{f['place']} {f['d']} 人/平方米，持续 {f['s']} 秒（自 {_at(f['since'])} 起不低于 {f['c']} "
               f"人/平方米）（{_at(f['at'])}）"),
    (re.compile(r"a visitor has waited more than (?P<m>[\d.]+) min \((?P<n>\d+) visitors will\) at "
                r"(?P<at>\d\d:\d\d(?: \+\d+d)?)"),
     lambda f: f"有人等待超过 {f['m']} 分钟（将有 {f['n']} 人）（{_at(f['at'])}）"),
    (re.compile(r"(?P<n>\d+) visitors still untested at the target finish time at (?P<at>\d\d:\d\d(?: \+\d+d)?)"),
     lambda f: f"目标完成时间仍有 {f['n']} 人未采样（{_at(f['at'])}）"),
)  # fmt: skip


def _at(label: str) -> str:
    """A clock label ('00:10 +1d') in Chinese ('次日 00:10')."""
    time_, _, days = label.partition(" +")
    if not days:
        return time_
    n = int(days.rstrip("d"))
    return f"次日 {time_}" if n == 1 else f"{n} 日后 {time_}"


def breach_text(message: str, lang: str) -> str:
    """A threshold warning's message in `lang` (a form the simulations write in words; any other as written)."""
    return in_words(BREACHES, message, lang)


def with_places(text: str, places: dict[str, str]) -> str:
    """`text` with each node id of `places` (and each walkway `u~v` between two) as its name: 'Name (id)', a walkway
    'Name – Name'."""

    def named(found: re.Match[str]) -> str:
        parts = found.group(0).split("~")
        if not all(p in places for p in parts):
            return found.group(0)
        if len(parts) == 1:
            return f"{places[parts[0]]} ({parts[0]})"
        return " – ".join(places[p] for p in parts)

    node = r"[A-Za-z0-9_]+(?::[A-Za-z0-9_]+)*"  # `holding:entrance_x` is one node; "density: x" is not
    return re.sub(rf"{node}(?:~{node})*", named, text)


def local_name(data: dict[str, Any], lang: str) -> str:
    """A node's name in `lang`: `name_zh` in Chinese where there is one, else `name`."""
    return str((lang == "zh" and data.get("name_zh")) or data.get("name", ""))


def place_names(scenario: Any, lang: str = "en") -> dict[str, str]:
    """Node id -> its readable name in the scenario's graph (nodes without a name are left out); in Chinese its
    `name_zh` where the graph has one."""
    graph = scenario_graph(scenario)
    return {node: local_name(data, lang) for node, data in graph.nodes(data=True) if data.get("name")}


def warning_text(warning: dict[str, Any], kind: str, lang: str, places: dict[str, str] | None = None) -> str:
    """One consequence warning (`command.consequences.Consequence.to_json`: a headline KPI made worse than the
    default plan, a threshold crossed, a trade-off, a weak bound) in `lang`, the places a threshold was crossed at
    by their names in `places` (node id -> name)."""
    kpi = kind_of(kind).spec.kpi(warning["kpi"]) if warning.get("kpi") else None
    label = kpi.label(lang) if kpi is not None else str(warning.get("kpi") or "")
    what = warning.get("kind")
    if what == "worse" and kpi is not None:
        return t("review.warning.worse", lang, kpi=label, plan=warning_number(warning["plan"]),
                 default=warning_number(warning["default"]))  # fmt: skip
    if what == "breach" and warning.get("plan") is not None:
        return t("review.warning.breach_value", lang, kpi=label, plan=warning_number(warning["plan"]))
    if what == "breach":
        said = breach_text(str(warning.get("message", "")), lang)
        return t("review.warning.breach", lang, message=with_places(said, places or {}))
    return t(f"review.warning.{what}", lang, message=warning.get("message", ""))


__all__ = ["BREACHES", "LEVELS", "breach_text", "in_words", "local_name", "place_names", "warning_text",
           "with_places"]  # fmt: skip
