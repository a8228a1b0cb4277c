"""`yiwang validate` catches a planner's mistakes (issue 20), one line each, `PATH: field.path: reason` with the path
as the user gave it: errors exit 2, warnings are printed and pass. Each test makes one of the mistakes the issue
lists in a scenario that is otherwise valid (tests/data/osm/town_*.yaml on the made-up town own_town.osm) and
checks the finding against the graph itself (networkx paths on the overlaid graph)."""

from __future__ import annotations

import shutil
from pathlib import Path

import networkx as nx
import pytest

from command.cli import main
from scenarios import load_graph, load_scenario
from scenarios.graphs import PEDESTRIAN_MODES, VEHICLE_MODES, mode_subgraph, scenario_graph

DATA = Path(__file__).parent / "data" / "osm"


@pytest.fixture
def events(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A planner's folder: the scenarios in `events/` beside the town's extract, validated from the folder above."""
    folder = tmp_path / "events"
    folder.mkdir()
    for name in ("own_town.osm", "town_testing.yaml", "town_market_crowd.yaml"):
        shutil.copy(DATA / name, folder / name)
    monkeypatch.chdir(tmp_path)
    return folder


def validate(capsys, *args: str) -> tuple[int, list[str], list[str]]:  # type: ignore[no-untyped-def]
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_the_town_scenarios_are_valid_as_written(events, capsys):
    """Both scenarios validate with no finding at all: the mistakes below are each the only one."""
    code, out, err = validate(capsys, "events/town_testing.yaml", "events/town_market_crowd.yaml")
    assert (code, err) == (0, [])
    assert out == ["events/town_testing.yaml: valid (mass_testing: Town market mass testing)",
                   "events/town_market_crowd.yaml: valid (crowd: Town market day)"]  # fmt: skip


def test_a_drop_off_reached_only_along_a_one_way_street_is_an_error(events, capsys):
    """A bus destination joined to the road network only at the end of a one-way street can be reached from the bay
    but has no road back: one error at the destination, naming the bay, exit 2."""
    bad = ["--set", "overlay.nodes[4].road=[road_4]"]
    code, out, err = validate(capsys, "events/town_testing.yaml", *bad)
    assert code == 2 and out == []
    assert err == ["events/town_testing.yaml: resources.buses.destinations.estate: no road from 'estate' back to bay "
                   "'poi_9', one-way streets honoured: buses sent there never come back"]  # fmt: skip
    roads = mode_subgraph(scenario_graph(load_scenario(events / "town_testing.yaml", overrides=bad[1:])), VEHICLE_MODES)
    assert nx.has_path(roads, "poi_9", "estate") and not nx.has_path(roads, "estate", "poi_9")


def test_a_horizon_in_minutes_is_a_warning_and_shorter_than_the_target_an_error(events, capsys):
    """`horizon_s: 720` passes with a warning saying it is 12 minutes; with a 2-hour target it is an error too."""
    code, out, err = validate(capsys, "events/town_testing.yaml", "--set", "clock.horizon_s=720",
                              "--set", "thresholds.target_finish_s=null")  # fmt: skip
    warning = ("events/town_testing.yaml: clock.horizon_s: warning: 720 s is only 12 minutes; if 720 minutes were "
               "meant, write 43200")  # fmt: skip
    assert (code, err, len(out)) == (0, [warning], 1)
    code, out, err = validate(capsys, "events/town_testing.yaml", "--set", "clock.horizon_s=720")
    assert code == 2 and err == [warning, "events/town_testing.yaml: thresholds.target_finish_s: 7200 s is at or after "
                                 "the end of the run (clock.horizon_s: 720 s): the run stops before the target can be "
                                 "met or missed"]  # fmt: skip


def test_a_call_up_after_the_end_of_the_run_is_an_error(events, capsys):
    """Testers called up after the horizon never arrive: an error at their pool's call-up delay."""
    code, _, err = validate(capsys, "events/town_testing.yaml", "--set", "resources.testers.town.callup_delay_s=14400")
    assert code == 2 and err == [
        "events/town_testing.yaml: resources.testers.town.callup_delay_s: 14400 s is at or after the end of the run "
        "(clock.horizon_s: 14400 s): these testers never arrive"]  # fmt: skip


def test_a_zone_with_no_path_to_a_test_site_is_an_error(events, capsys):
    """People in a zone that no walkway joins to a test site would never be tested: an error at the zone."""
    code, _, err = validate(capsys, "events/town_testing.yaml", "--set", "population.zones[0].node=walk_15")
    assert code == 2 and err == ["events/town_testing.yaml: population.zones[0].node: no walking path from 'walk_15' "
                                 "to any test site (site_main): its people would never be tested"]  # fmt: skip
    walk = mode_subgraph(scenario_graph(load_scenario(events / "town_testing.yaml")), PEDESTRIAN_MODES)
    assert not nx.has_path(walk, "walk_15", "site_main")


def test_a_crowd_gate_with_no_path_is_an_error_at_the_gate(events, capsys):
    """A gate joined to a walkway that leads nowhere near the square: an error at that origin, naming the
    destination it cannot reach (the scenario's file as given and the field, not the scenario's name and `demand`)."""
    code, _, err = validate(capsys, "events/town_market_crowd.yaml", "--set", "overlay.nodes[0].walk=[walk_15]")
    assert code == 2 and err == ["events/town_market_crowd.yaml: demand.origins.gate: no walkway from 'gate' to "
                                 "destination 'area_200'"]  # fmt: skip


def test_a_destination_with_no_way_out_is_an_error(events, capsys):
    """With the only exit cut off, the origin cannot reach an exit and the square's people cannot leave."""
    code, _, err = validate(capsys, "events/town_market_crowd.yaml", "--set", "overlay.nodes[0].walk=[walk_15]",
                            "--set", "exits=[gate]", "--set", "demand.origins={poi_4: 1.0}")  # fmt: skip
    assert code == 2 and err == [
        "events/town_market_crowd.yaml: demand.origins.poi_4: no walkway from 'poi_4' to any exit (gate)",
        "events/town_market_crowd.yaml: demand.destinations.area_200: no walkway from 'area_200' to any exit (gate): "
        "people there cannot leave"]  # fmt: skip


def test_a_walkway_set_to_no_width_is_refused(events, capsys):
    """The crowd model moves people only on walkways with a width: an overlay that makes a walkway 0 m wide is
    refused at the overlay, each direction once."""
    code, _, err = validate(capsys, "events/town_market_crowd.yaml", "--set", "overlay.edges=[{u: gate, v: area_200, "
                            "width_m: 0}]")  # fmt: skip
    assert code == 2 and err == [
        f"events/town_market_crowd.yaml: overlay.edges[0].width_m: {a!r} -> {b!r} is now a walk edge and needs its "
        "walkable width" for a, b in (("gate", "area_200"), ("area_200", "gate"))]  # fmt: skip


def test_a_threshold_the_model_cannot_reach_is_a_warning(events, capsys):
    """A critical density above the walking model's jam density (5.4 /m² for Weidmann) can never be reached (a crush
    density no place can reach is the schema's error: `tests/test_crowd_crush.py`)."""
    code, out, err = validate(capsys, "events/town_market_crowd.yaml", "--set",
                              "thresholds={warning_ppm2: 3.0, critical_ppm2: 6.0}")  # fmt: skip
    assert code == 0 and len(out) == 1
    assert err == ["events/town_market_crowd.yaml: thresholds.critical_ppm2: warning: 6 /m² is above the walking "
                   "model's jam density (5.40 /m², walking.fundamental_diagram weidmann): it can never be "
                   "reached"]  # fmt: skip


def test_a_tunnel_that_does_not_join_its_banks_is_an_error(capsys):
    """Closing the tunnel edge between a tunnel's portals (an overlay on the built-in typhoon scenario) leaves a
    crossing that joins nothing: an error each way, the built-in named by its file."""
    doc = load_scenario("huangpu_typhoon")
    name, tunnel = next(iter(doc.tunnels.items()))
    a, b = tunnel.portals
    g = load_graph("crossings")
    path = nx.shortest_path(g.edge_subgraph([(u, v) for u, v, m in g.edges(data="mode") if m == "tunnel"]), a, b)
    u, v = path[0], path[1]
    closure = f"overlay={{edges: [{{u: {u}, v: {v}, closed: true}}]}}"
    code, _, err = validate(capsys, "huangpu_typhoon", "--set", closure)
    where = f"huangpu_typhoon.yaml: tunnels.{name}.portals"
    assert code == 2 and err == [f"{where}: no tunnel from {x!r} to {y!r}: the tunnel does not join its banks"
                                 for x, y in ((a, b), (b, a))]  # fmt: skip


def test_run_refuses_what_validate_refuses(events, capsys):
    """`yiwang run` stops with the same line and exit 2 instead of stranding the people the buses never fetch."""
    code = main(["run", "events/town_testing.yaml", "--no-optimize", "--set", "overlay.nodes[4].road=[road_4]"])
    _, err = capsys.readouterr()
    assert code == 2 and err.splitlines() == [
        "events/town_testing.yaml: resources.buses.destinations.estate: no road from 'estate' back to bay 'poi_9', "
        "one-way streets honoured: buses sent there never come back"]  # fmt: skip


def test_the_typhoon_check_rides_as_the_typhoon_model_does():
    """The crossing check moves riders on the edge modes the typhoon model rides them on (one rule, held equal)."""
    from scenarios import checks, typhoon

    assert checks.RIDE_MODES == typhoon.RIDE_MODES
