"""Crush physics: a standing, pushing crowd pressed past the walking jam density, the `crush` event, and the
check that a scenario's crush density is one its places can reach."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of

from scenarios.errors import ScenarioError
from scenarios.pedestrian import DOOR_SPECIFIC_FLOW_PMPS, Weidmann
from simulation.crowd import CrowdModel

WIDTH = 4.0  # the corridor into the room
DOOR = 0.5  # the room's only way out
PRESSED = 9.0


def _room(tmp: Path, **extra: object) -> CrowdModel:
    """An entrance, a 20 m corridor of 4 m into a 100 m² room, and a 0.5 m door out of it to the exit."""
    nodes = [("o", "entrance", 0, 0, 0), ("r", "square", 20, 0, 100), ("x", "exit", 20.5, 0, 0),
             ("v", "viewing_area", 0, 40, 500)]  # fmt: skip
    edges = [("o", "r", 20, WIDTH), ("r", "x", 0.5, DOOR), ("o", "v", 40, 2)]
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"], **extra)
    return CrowdModel(s, plan_of(s), dt=1.0)


def _push(model: CrowdModel, steps: int) -> list[float]:
    """Everybody comes in at `o` heading out through `r`, far more than the door passes: the room's density."""
    i, r = model.origins.index("o"), model.net.index["r"]
    per_step = 3 * model.fd.capacity * WIDTH
    rho: list[float] = []

    def each(m: CrowdModel) -> None:
        m.queue[i, m.LEAVE] += per_step
        rho.append(float(m.node_people()[r] / m.net.node_area[r]))

    model.queue[i, model.LEAVE] += per_step
    model.on_step = each
    model.setup()
    model.env.run(until=steps * model.dt)
    return rho


def test_walkers_jam_below_the_jam_density_where_no_crowd_is_pressed(tmp_path):
    """A room that is not a pressed place settles where the walking flow across the walkways meeting there equals
    what the door lets out: flow(D)·(4 + 0.5) = 1.5 × 0.5 on the congested branch (D = 5.04 /m², 1%); it never
    passes the jam density."""
    rho = _push(_room(tmp_path), 2500)
    fd = Weidmann()
    grid = np.linspace(fd.critical_density, fd.jam_density, 200_001)
    need = DOOR_SPECIFIC_FLOW_PMPS * DOOR / (WIDTH + DOOR)
    expected = float(grid[np.argmin(np.abs(fd.flow(grid) - need))])
    assert max(rho) <= fd.jam_density + 1e-9
    assert float(np.mean(rho[-100:])) == pytest.approx(expected, rel=0.01)
    assert expected == pytest.approx(5.04, abs=0.01)


def test_a_pressed_crowd_settles_where_its_pushing_supply_meets_the_door(tmp_path):
    """Pressed up to 9 /m², the room settles where the pushing supply across the walkways meeting there equals
    what the door lets out: capacity·(9 − D)/(9 − Dc)·(4 + 0.5) = 1.5 × 0.5, so D = 8.01 /m² (1%); never above 9."""
    model = _room(tmp_path, crush={"places": {"r": PRESSED}}, thresholds={"crush_ppm2": 7.0})
    rho = _push(model, 2500)
    fd = Weidmann()
    out = DOOR_SPECIFIC_FLOW_PMPS * DOOR
    expected = PRESSED - out * (PRESSED - fd.critical_density) / (fd.capacity * (WIDTH + DOOR))
    assert max(rho) <= PRESSED + 1e-9
    assert float(np.mean(rho[-100:])) == pytest.approx(expected, rel=0.01)


def test_a_crush_is_logged_once_the_crush_density_has_held_for_the_scenarios_time(tmp_path):
    """The `crush` event comes `crush_hold_s` after the room first reached the crush density (within a step),
    once, at the room; the KPIs count it."""
    model = _room(tmp_path, crush={"places": {"r": PRESSED}}, thresholds={"crush_ppm2": 7.0, "crush_hold_s": 90})
    rho = _push(model, 1200)
    first = (int(np.argmax(np.array(rho) >= 7.0)) + 1) * model.dt  # the step after which it first was at 7
    result = model.result(0.0)
    crushes = [e for e in result.events if e.kind == "crush"]
    assert len(crushes) == 1
    assert crushes[0].data["place"] == "r"
    assert crushes[0].t_s == pytest.approx(first + 90 - model.dt, abs=model.dt)
    assert result.kpis["crushes"] == 1
    assert result.kpis["crush_place_min"] > 0


def test_validate_refuses_a_crush_density_no_place_can_reach(tmp_path):
    """A crush density above the walking jam density with no pressed place, or above every pressed place's
    figure, is refused at `thresholds.crush_ppm2`, naming what the places can reach."""
    with pytest.raises(ScenarioError) as err:
        _room(tmp_path, thresholds={"crush_ppm2": 7.0})
    assert "thresholds.crush_ppm2: 7 /m² is above what any place can reach (5.4 /m²" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        _room(tmp_path, crush={"places": {"r": 6.5}}, thresholds={"crush_ppm2": 7.0})
    assert "thresholds.crush_ppm2: 7 /m² is above what any place can reach (6.5 /m², the densest place" in str(
        err.value
    )
    _room(tmp_path, crush={"places": {"r": 7.0}}, thresholds={"crush_ppm2": 7.0})  # reachable: accepted
