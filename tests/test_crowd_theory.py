"""The crowd model against pedestrian-flow theory: free walking, the fundamental diagram, capacities, doors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of

from scenarios.pedestrian import DOOR_SPECIFIC_FLOW_PMPS, SFPE, Bottleneck, Weidmann
from scenarios.plan import AssignStaff, OneWay
from simulation.crowd import CrowdModel

V0 = 1.34
WIDTH = 4.0


def drive(model: CrowdModel, steps: int, each: Callable[[CrowdModel], None] | None = None) -> CrowdModel:
    """Run `steps` steps of the model, calling `each(model)` after every one."""
    model.on_step = each
    model.setup()
    model.env.run(until=steps * model.dt)
    return model


def corridor(tmp: Path, length: float = 100.0, *, door_m: float | None = None, **kw) -> CrowdModel:
    """An entrance, a corridor of `WIDTH` m to an exit, optionally through a door (0.5 m long) at its end."""
    nodes = [("o", "entrance", 0, 0, 0), ("x", "exit", length, 0, 0), ("v", "viewing_area", 0, 50, 500)]
    edges = [("o", "x", length, WIDTH), ("o", "v", 50, 2)]
    exits = ["x"]
    if door_m is not None:
        nodes.append(("out", "exit", length + 0.5, 0, 0))
        edges.append(("x", "out", 0.5, door_m))
        exits = ["out"]
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=exits)
    return CrowdModel(s, plan_of(s), dt=1.0, **kw)


def feed(model: CrowdModel, origin: str, cls: int, per_step: float) -> Callable[[CrowdModel], None]:
    i = model.origins.index(origin)

    def each(m: CrowdModel) -> None:
        m.queue[i, cls] += per_step

    model.queue[i, cls] += per_step
    return each


def test_weidmann_capacity_is_about_1_22():
    """Weidmann's diagram with the default parameters peaks at about 1.22 persons/m/s near 1.75 /m²."""
    fd = Weidmann()
    assert fd.capacity == pytest.approx(1.22, abs=0.01)
    assert fd.critical_density == pytest.approx(1.75, abs=0.05)
    assert float(fd.speed(0.0)) == pytest.approx(V0)
    assert float(fd.flow(fd.jam_density)) == pytest.approx(0.0, abs=1e-12)


def test_sfpe_speed_and_capacity():
    """The SFPE diagram is k(1 − 0.266 D): jam at 3.76 /m², capacity k/(4·0.266), constant below 0.54 /m²."""
    fd = SFPE(1.40)
    assert float(fd.speed(2.0)) == pytest.approx(1.40 * (1 - 0.266 * 2.0))
    assert float(fd.speed(0.1)) == pytest.approx(float(fd.speed(0.54)))
    assert fd.jam_density == pytest.approx(1 / 0.266)
    assert fd.capacity == pytest.approx(1.40 / (4 * 0.266), rel=1e-3)


@pytest.mark.parametrize("cell_m", [0.0, 10.0])
def test_free_walking_time_on_a_40m_edge(tmp_path, cell_m):
    """A lone walker crosses a 40 m edge in length/v0 on average, within one step."""
    model = corridor(tmp_path, 40.0, cell_m=cell_m)
    arrivals: list[tuple[float, float]] = []
    last = [0.0]

    def each(m: CrowdModel) -> None:
        arrivals.append((m.step_no * m.dt, m.departed - last[0]))
        last[0] = m.departed

    model.n_nodes_arr[model.net.index["o"], model.LEAVE] = 1e-3
    drive(model, 200, each)
    t, n = np.array(arrivals).T
    entered_at = 1.0  # the walker steps from the entrance onto the edge in the first step
    mean = float((t * n).sum() / n.sum()) - entered_at
    assert n.sum() == pytest.approx(1e-3, rel=1e-6)
    assert abs(mean - 40.0 / V0) <= model.dt


def _steady(model: CrowdModel, steps: int, each) -> tuple[float, float]:
    """Density and speed in the middle cell of the corridor, averaged over the last 100 steps."""
    e = model.net.edge_index[("o", "x")]
    mid = int(model.net.first_cell[e] + model.net.n_cells[e] // 2)
    rho, speed = [], []

    def watch(m: CrowdModel) -> None:
        each(m)
        if m.step_no > steps - 100:
            own = m.n_cells_arr[mid].sum()
            rho.append(m.rho_c[mid])
            speed.append(m.last_flow[mid] * m.net.cell_len[mid] / (own * m.dt) if own > 0 else 0.0)

    drive(model, steps, watch)
    return float(np.mean(rho)), float(np.mean(speed))


@pytest.mark.parametrize("density", [0.5, 1.0, 1.5])
def test_steady_speed_on_the_free_branch(tmp_path, density):
    """An inflow below capacity settles at the free-branch density, walking at the diagram's speed (5%)."""
    model = corridor(tmp_path)
    q = float(model.fd.flow(density)) * WIDTH * model.dt
    rho, speed = _steady(model, 600, feed(model, "o", model.LEAVE, q))
    assert rho == pytest.approx(density, rel=0.05)
    assert speed == pytest.approx(float(model.fd.speed(rho)), rel=0.05)


@pytest.mark.parametrize("density", [2.5, 3.5, 4.5, 5.0])
def test_steady_speed_on_the_congested_branch(tmp_path, density):
    """Behind a door passing flow(D)·w, the corridor jams at density D and walks at the diagram's speed (5%)."""
    fd = Weidmann()
    door = float(fd.flow(density)) * WIDTH / Bottleneck().specific_flow
    model = corridor(tmp_path, door_m=door)
    rho, speed = _steady(model, 2500, feed(model, "o", model.LEAVE, 2 * fd.capacity * WIDTH))
    assert rho == pytest.approx(density, rel=0.05)
    assert speed == pytest.approx(float(model.fd.speed(rho)), rel=0.05)


def test_link_capacity_is_the_diagram_maximum(tmp_path):
    """An oversaturated corridor discharges at the diagram's maximum flow times its width (3%)."""
    model = corridor(tmp_path)
    out: list[float] = []
    last = [0.0]
    each = feed(model, "o", model.LEAVE, 3 * model.fd.capacity * WIDTH)

    def watch(m: CrowdModel) -> None:
        each(m)
        out.append(m.departed - last[0])
        last[0] = m.departed

    drive(model, 3000, watch)  # the capacity state is approached slowly: the diagram is flat at its top
    rate = float(np.mean(out[-300:]))
    assert rate == pytest.approx(Weidmann().capacity * WIDTH, rel=0.03)


def room(tmp: Path, doors: list[float], people: float, **extra: object) -> CrowdModel:
    """A 500 m² room full of people heading out through doors (0.5 m long) of the given widths."""
    nodes = [("room", "square", 0, 0, 500), ("o", "entrance", -20, 0, 0), ("v", "viewing_area", -20, 20, 100)]
    edges = [("o", "room", 20, 4), ("o", "v", 20, 4)]
    exits = []
    for i, w in enumerate(doors):
        nodes.append((f"x{i}", "exit", 0.5 * np.cos(i), 0.5 * np.sin(i), 0))
        edges.append(("room", f"x{i}", 0.5, w))
        exits.append(f"x{i}")
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=exits, **extra)
    model = CrowdModel(s, plan_of(s), dt=1.0)
    model.n_nodes_arr[model.net.index["room"], model.LEAVE] = people
    return model


@pytest.mark.parametrize("specific_flow", [None, 1.3, 1.9])
def test_a_saturated_door_discharges_at_specific_flow_times_width(tmp_path, specific_flow):
    """A saturated door passes the scenario's specific flow × width (1%; the sourced default 1.5 P/(m·s) when the
    scenario gives none), linear in the width."""
    extra = {} if specific_flow is None else {"walking": {"specific_flow_pmps": specific_flow}}
    expected = DOOR_SPECIFIC_FLOW_PMPS if specific_flow is None else specific_flow
    rates = []
    for w in (1.0, 2.0, 4.0):
        (tmp_path / str(w)).mkdir()
        model = drive(room(tmp_path / str(w), [w], 2000, **extra), 100)
        rates.append(model.departed / 100)
        assert model.departed / 100 == pytest.approx(expected * w, rel=0.01)
    per_metre = np.array(rates) / np.array([1.0, 2.0, 4.0])
    assert per_metre.max() / per_metre.min() < 1.01


def _clearance(model: CrowdModel, people: float) -> float:
    done: list[float] = []

    def each(m: CrowdModel) -> None:
        if not done and m.departed >= people * (1 - 1e-6):
            done.append(m.step_no * m.dt)

    drive(model, 3000, each)
    return done[0]


def test_halving_the_exits_doubles_the_clearance_time(tmp_path):
    """A room with two doors instead of four takes about twice as long to clear (10%)."""
    (tmp_path / "four").mkdir()
    (tmp_path / "two").mkdir()
    four = _clearance(room(tmp_path / "four", [1.0] * 4, 1500), 1500)
    two = _clearance(room(tmp_path / "two", [1.0] * 2, 1500), 1500)
    assert two / four == pytest.approx(2.0, rel=0.1)


def test_bottlenecks_in_series_queue_only_at_the_first(tmp_path):
    """Two equal doors in series: the crowd queues before the first; the stretch before the second flows freely."""
    nodes = [("o", "entrance", 0, 0, 0), ("b", "junction", 100, 0, 0), ("c", "junction", 100.5, 0, 0),
             ("d", "junction", 200.5, 0, 0), ("x", "exit", 201, 0, 0), ("v", "viewing_area", 0, 30, 100)]  # fmt: skip
    edges = [("o", "b", 100, WIDTH), ("b", "c", 0.5, 1.0), ("c", "d", 100, WIDTH), ("d", "x", 0.5, 1.0),
             ("o", "v", 30, 2)]  # fmt: skip
    s = crowd_scenario(tmp_path, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"])
    model = CrowdModel(s, plan_of(s), dt=1.0)
    drive(model, 1500, feed(model, "o", model.LEAVE, 2.0))
    net = model.net
    first, second = net.edge_index[("o", "b")], net.edge_index[("c", "d")]
    cells = lambda e: slice(net.first_cell[e], net.first_cell[e] + net.n_cells[e])  # noqa: E731
    crit = model.fd.critical_density
    assert model.rho_c[cells(first)][-1] > crit  # queued before the first door
    assert model.rho_c[cells(second)].max() < crit  # free flow between the doors
    d = net.index["d"]
    assert model.node_people()[d] / net.node_area[d] < 1.0  # no queue before the second door


def _two_areas(tmp: Path, *, both_ways: bool, one_way: bool) -> tuple[CrowdModel, list[float]]:
    """Two viewing areas joined by a 60 m corridor; each fed from its own entrance above capacity."""
    nodes = [("ga", "entrance", -10, 0, 0), ("a", "viewing_area", 0, 0, 20000), ("b", "viewing_area", 60, 0, 20000),
             ("gb", "entrance", 70, 0, 0)]  # fmt: skip
    edges = [("ga", "a", 10, 20), ("a", "b", 60, WIDTH), ("b", "gb", 10, 20)]
    s = crowd_scenario(tmp, nodes, edges, origins={"ga": 0.5, "gb": 0.5}, destinations={"a": 0.5, "b": 0.5},
                       exits=["ga", "gb"], staff={"stewards": {"count": 10, "base": "a"}})  # fmt: skip
    actions = [AssignStaff(at_s=0, pool="stewards", to="a", count=10)]
    if one_way:
        actions.append(OneWay(at_s=0, u="a", v="b"))
    model = CrowdModel(s, plan_of(s, *actions), dt=1.0)
    push = 2 * model.fd.capacity * WIDTH
    to_a, to_b = model.targets.index("a"), model.targets.index("b")
    ia, ib = model.origins.index("ga"), model.origins.index("gb")
    served: list[float] = []

    def each(m: CrowdModel) -> None:
        m.queue[ia, to_b] += push
        if both_ways:
            m.queue[ib, to_a] += push
        served.append(m.served)

    drive(model, 1200, each)
    return model, served


def test_counterflow_lowers_capacity_and_one_way_restores_it(tmp_path):
    """Counter-flow carries less than one stream at capacity; a one-way control gives the capacity back (3%)."""
    for sub in ("uni", "counter", "oneway"):
        (tmp_path / sub).mkdir()
    _, uni = _two_areas(tmp_path / "uni", both_ways=False, one_way=False)
    _, counter = _two_areas(tmp_path / "counter", both_ways=True, one_way=False)
    model, oneway = _two_areas(tmp_path / "oneway", both_ways=True, one_way=True)
    rate = lambda s: (s[-1] - s[-401]) / 400  # noqa: E731
    capacity = Weidmann().capacity * WIDTH
    assert rate(uni) == pytest.approx(capacity, rel=0.03)
    assert rate(counter) < 0.9 * rate(uni)
    assert rate(oneway) == pytest.approx(capacity, rel=0.03)
    assert any(e.kind == "control" and "one_way" in e.text for e in model.rec.events)


def _fed_corridor(tmp: Path, *, one_way: bool) -> float:
    """A 100 m corridor from an entrance to an exit, fed above capacity: people out per metre per second."""
    nodes = [("o", "entrance", 0, 0, 0), ("x", "exit", 100, 0, 0), ("v", "viewing_area", 0, 50, 500)]
    edges = [("o", "x", 100, WIDTH, "walk", one_way), ("x", "v", 120, 2)]
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"])
    model = CrowdModel(s, plan_of(s), dt=1.0)
    out: list[float] = []
    last = [0.0]
    each = feed(model, "o", model.LEAVE, 3 * model.fd.capacity * WIDTH)

    def watch(m: CrowdModel) -> None:
        each(m)
        out.append(m.departed - last[0])
        last[0] = m.departed

    drive(model, 3000, watch)
    return float(np.mean(out[-300:])) / WIDTH


def test_a_one_way_entrance_feeds_its_corridor_at_capacity(tmp_path):
    """An entrance whose only walkway is one-way out admits as many as a two-way one: the corridor carries the
    diagram's maximum flow (1.225 P/(m·s) for Weidmann's defaults) either way, not 1.156 (alternate steps)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = _fed_corridor(tmp_path / "one", one_way=True), _fed_corridor(tmp_path / "two", one_way=False)
    assert two == pytest.approx(Weidmann().capacity, rel=0.01)
    assert one == pytest.approx(two, rel=0.001)
