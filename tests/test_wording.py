"""A plan's warnings read the same in the console's review and on the ICS paperwork: in Chinese, with the places
by their names and the day a time falls on (`command.wording`)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from command.consequences import consequences
from command.console.i18n import t
from command.ics import WARNING_COLUMNS, WarningEntry, assignment_lists, to_html, warnings_csv
from command.wording import place_names, warning_text
from scenarios import load_scenario
from simulation.crowd import simulate
from tests.test_ics import every_kind_plan, header


@pytest.fixture(scope="module")
def after_midnight():  # type: ignore[no-untyped-def]
    """The 2014 crowd's default plan from 23:45 for three hours: its densities cross every threshold after
    midnight, so the engines' clock labels carry the next day ('00:05 +1d')."""
    scenario = load_scenario("bund_new_year_2014", overrides=["clock.start=2014-12-31T23:45:00",
                                                              "clock.horizon_s=10800"])  # fmt: skip
    run = simulate(scenario, seed=scenario.seed)
    return scenario, [w for w in consequences(scenario, run, run) if w.kind == "breach"]


def test_threshold_warnings_after_midnight_read_in_chinese_with_the_next_day(after_midnight):
    """Before, a warning timed after midnight ('... at 00:05 +1d') matched none of the Chinese forms and stayed
    English in the Chinese review; now it reads '次日 00:05', with no English word left but the places' ids."""
    scenario, breaches = after_midnight
    assert {w.message.split(":")[0] for w in breaches} == {"warning density", "critical density", "crush"}
    assert all(" +1d" in w.message for w in breaches)
    names = place_names(scenario, "zh")
    for w in breaches:
        zh = warning_text(w.to_json(), scenario.kind, "zh", names)
        assert "次日" in zh and "+1d" not in zh, zh
        assert any(f"{name} (" in zh or f"{name} – " in zh for name in names.values()), zh
        assert re.findall(r"[A-Za-z]{3,}", re.sub(r"\([A-Za-z0-9_:]+\)", " ", zh)) == [], zh
        assert warning_text(w.to_json(), scenario.kind, "en") == t("review.warning.breach", "en", message=w.message)


def test_the_paperwork_prints_each_warning_in_chinese_above_the_engines_english(after_midnight):
    """The ICS-204 page shows the Chinese words above the English the engine wrote; the warnings' CSV keeps the
    English as recorded and adds the Chinese beside it; a warning with no Chinese form prints its English once."""
    scenario, breaches = after_midnight
    names = place_names(scenario, "zh")
    w = breaches[0]
    zh = warning_text(w.to_json(), scenario.kind, "zh", names)
    entries = (
        WarningEntry(number=1, kind="breach", kpi=None, default=None, plan=None, message=w.message, message_zh=zh),
        WarningEntry(number=2, kind="weak_bound", kpi=None, default=None, plan=None, message="gap 12%"),
    )
    disney = load_scenario("disney_mass_testing")
    page = to_html(assignment_lists(every_kind_plan(), disney), header(), warnings=entries)
    assert f"<td>{zh}<br>{w.message}</td>" in page.replace("&#x27;", "'")
    assert "<td>gap 12%</td>" in page
    rows = list(csv.DictReader(io.StringIO(warnings_csv(entries, header()))))
    assert tuple(rows[0]) == WARNING_COLUMNS and "message_zh" in WARNING_COLUMNS
    assert (rows[0]["message"], rows[0]["message_zh"]) == (w.message, zh)
    assert rows[1]["message_zh"] == ""
