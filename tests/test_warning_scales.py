"""Warning scales as data: China's typhoon colours, Hong Kong's signals, the US NWS products and a scenario's own
scale stop ferry lines at a level of the scale, and a level the scale does not have is refused where it is written."""

from __future__ import annotations

import pytest

from scenarios import load_scenario
from scenarios.errors import ScenarioError
from scenarios.typhoon import ferry_windows, hazard_timeline
from tests.typhoon_worlds import small_typhoon

CALM = 3  # Beaufort force below every line's wind threshold (7): only warnings stop the ferries here


def _storm(scale: object, *levels: tuple[float, object]) -> dict[str, object]:
    """A hazard whose wind never stops a ferry: only the warnings at `(at_s, level)` do."""
    return {"warning_scale": scale, "timeline": [{"at_s": t, "wind_force": CALM, "warning": w} for t, w in levels]}


def _line(**rules: object) -> dict[str, object]:
    """The small case's ferry line with its stop rules replaced."""
    line = {"piers": ["pier_jinling_e", "pier_dongchang"], "headway_s": 600, "crossing_s": 300,
            "riders_per_trip": 10_000, "resume_delay_s": 1800}  # fmt: skip
    return {"dongjin": {**line, **rules}}


def test_china_colours_stop_ferries_at_orange_by_default():
    """Under China's scale (a scenario's default) a line stops from the first orange and runs again the resume
    delay after the warning falls back to yellow; yellow alone never stops it."""
    hazard = _storm(None, (0, "yellow"), (3600, "orange"), (5400, "red"), (7200, "yellow"))
    del hazard["warning_scale"]  # the default scale
    scenario = small_typhoon(hazard=hazard)
    assert scenario.hazard.scale.name == "china_typhoon"
    assert ferry_windows(scenario)["dongjin"] == ((3600, 7200 + 1800),)
    only_yellow = _storm("china_typhoon", (0, "blue"), (3600, "yellow"))
    assert ferry_windows(small_typhoon(hazard=only_yellow))["dongjin"] == ()


def test_hong_kong_signals_stop_ferries_at_signal_8_whatever_its_quadrant():
    """Under Hong Kong's signals a line stops from the 8 (written 8NE, an alias) through the 9, and runs again
    the resume delay after the signal is lowered to 3; the numbers may be written as YAML numbers."""
    hazard = _storm("hong_kong_tc", (0, 1), (1800, 3), (3600, "8NE"), (5400, 9), (7200, 3), (9000, "none"))
    scenario = small_typhoon(hazard=hazard)
    assert [p.warning for p in scenario.hazard.timeline] == ["1", "3", "8NE", "9", "3", "none"]
    assert ferry_windows(scenario)["dongjin"] == ((3600, 7200 + 1800),)
    at_9 = small_typhoon(hazard=hazard, ferries=_line(suspend_warning=9))
    assert ferry_windows(at_9)["dongjin"] == ((5400, 7200 + 1800),)


def test_us_nws_products_need_each_line_to_say_its_level():
    """The NWS scale names no ferry rule: a line that gives none is refused at its field; one that stops at a
    watch stops from the watch (the advisory before it does not count) to the resume delay after it ends."""
    hazard = _storm("us_nws", (0, "advisory"), (3600, "watch"), (7200, "warning"), (10_800, "none"))
    with pytest.raises(ScenarioError) as err:
        small_typhoon(hazard=hazard)
    (problem,) = err.value.problems
    assert problem.path == "ferries.dongjin.suspend_warning"
    assert "us_nws scale says no level at which ferries stop" in problem.reason
    scenario = small_typhoon(hazard=hazard, ferries=_line(suspend_warning="watch"))
    assert ferry_windows(scenario)["dongjin"] == ((3600, 10_800 + 1800),)
    never = small_typhoon(hazard=hazard, ferries=_line(suspend_warning="none"))
    assert ferry_windows(never)["dongjin"] == ()


def test_a_scenario_defines_its_own_scale():
    """A scale the scenario writes (green, amber, red; ferries stop at amber) orders its levels as written."""
    own = {"name": "port_flags", "levels": ["green", "amber", "red"], "ferries_stop": "amber",
           "aliases": {"a": "amber"}, "source": "a port's storm flags (test)"}  # fmt: skip
    hazard = _storm(own, (0, "green"), (3600, "red"), (5400, "a"), (7200, "green"))
    scenario = small_typhoon(hazard=hazard)
    assert scenario.hazard.scale.levels == ("green", "amber", "red")
    assert ferry_windows(scenario)["dongjin"] == ((3600, 7200 + 1800),)
    at_red = small_typhoon(hazard=hazard, ferries=_line(suspend_warning="red"))
    assert ferry_windows(at_red)["dongjin"] == ((3600, 5400 + 1800),)


@pytest.mark.parametrize(("hazard", "ferries", "path", "reason"), [
    (_storm("hong_kong_tc", (0, "orange")), None, "hazard.timeline[0].warning",
     "'orange' is not a level of the hong_kong_tc scale (none, 1, 3, 8, 9, 10, T1"),
    (_storm("china_typhoon", (0, "yellow")), _line(suspend_warning=8), "ferries.dongjin.suspend_warning",
     "'8' is not a level of the china_typhoon scale (none, blue, yellow, orange, red)"),
    (_storm("japan", (0, "none")), None, "hazard.warning_scale",
     "no built-in scale 'japan' (china_typhoon, hong_kong_tc, us_nws)"),
    (_storm({"name": "flags", "levels": ["green", "red", "green"]}, (0, "green")), None,
     "hazard.warning_scale.levels[2]", "'green' is listed twice"),
    (_storm({"name": "flags", "levels": ["green", "red"], "ferries_stop": "amber"}, (0, "green")), None,
     "hazard.warning_scale.ferries_stop", "'amber' is not a level of the flags scale (green, red)"),
])  # fmt: skip
def test_an_unknown_level_or_scale_is_refused_at_its_field(hazard, ferries, path, reason):
    """A level the scale does not have, a scale that is not built in, or a malformed scale is one problem at the
    field that holds it, naming the levels there are."""
    parts = {"hazard": hazard} | ({"ferries": ferries} if ferries else {})
    with pytest.raises(ScenarioError) as err:
        small_typhoon(**parts)
    assert [(p.path, reason in p.reason) for p in err.value.problems] == [(path, True)]


def test_a_forecast_inject_names_a_level_of_the_scenario_scale():
    """A forecast inject's warning is read on the scenario's scale: Hong Kong's 10 stops the line from its
    time; China's red is refused there, at the inject's field."""
    hazard = _storm("hong_kong_tc", (0, 3))
    upgrade = {"at_s": 3600, "kind": "forecast", "params": {"warning": 10, "until_s": 7200}}
    scenario = small_typhoon(hazard=hazard, injects=[upgrade])
    assert [(p.at_s, p.warning) for p in hazard_timeline(scenario)] == [(0, "3"), (3600, "10"), (7200, "3")]
    assert ferry_windows(scenario, hazard_timeline(scenario))["dongjin"] == ((3600, 7200 + 1800),)
    red = {**upgrade, "params": {"warning": "red"}}
    with pytest.raises(ScenarioError) as err:
        hazard_timeline(small_typhoon(hazard=hazard, injects=[red]))
    (problem,) = err.value.problems
    assert problem.path == "injects[0].params.warning"
    assert "'red' is not a level of the hong_kong_tc scale" in problem.reason


def test_the_built_in_typhoon_keeps_china_colours():
    """The Huangpu typhoon names no scale: its warnings are China's colours and its lines stop at orange."""
    scenario = load_scenario("huangpu_typhoon")
    assert scenario.hazard.scale.name == "china_typhoon"
    assert scenario.hazard.scale.ferries_stop == "orange"
    assert all(line.suspend_warning is None for line in scenario.ferries.values())
