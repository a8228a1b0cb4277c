"""Walkway events: a `close_walkway` or `one_way` inject closes a walkway, or leaves only one direction, from its
time for its duration, on any walkway and with no staff post; people route round it, the planner plans round one
in force throughout, and a walkway that is not there is refused where the inject names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of

from optimizer.crowd.flow import flow_problem
from scenarios import ScenarioError
from scenarios.plan import AssignStaff, OneWay
from simulation.crowd import CrowdModel

# An entrance a, a junction j, a viewing area v 100 m beyond it by p (50 m + 50 m) or 300 m by q (150 m + 150 m),
# and an exit x off j.
NODES = [("a", "entrance", 0, 0, 0), ("j", "junction", 100, 0, 0), ("p", "junction", 150, 0, 0),
         ("q", "junction", 150, -140, 0), ("v", "viewing_area", 200, 0, 2000), ("x", "exit", 100, -30, 0)]  # fmt: skip
EDGES = [("a", "j", 100, 4.0), ("j", "p", 50, 4.0), ("p", "v", 50, 4.0), ("j", "q", 150, 4.0), ("q", "v", 150, 4.0),
         ("j", "x", 30, 4.0)]  # fmt: skip
RATE_PER_S = 0.1  # 360 an hour: free flow everywhere
FREE_MPS = 1.34
DETOUR_M = (150 + 150) - (50 + 50)


def _world(tmp: Path, injects: list[dict[str, Any]], **extra: Any):  # type: ignore[no-untyped-def]
    return crowd_scenario(tmp, NODES, EDGES, origins={"a": 1.0}, destinations={"v": 1.0}, exits=["x"],
                          rate_per_h=RATE_PER_S * 3600, horizon_s=1200, injects=injects, **extra)  # fmt: skip


def _event(kind: str, u: str, v: str, at_s: float = 0.0, duration_s: float | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"u": u, "v": v} | ({} if duration_s is None else {"duration_s": duration_s})
    return {"at_s": at_s, "kind": kind, "params": params}


def _on_edge(m: CrowdModel, u: str, v: str) -> float:
    e = m.net.edge_index[(u, v)]
    first = m.net.first_cell[e]
    return float(m.n_cells_arr[first : first + m.net.n_cells[e]].sum())


def test_a_closed_walkway_sends_everyone_the_long_way_round(tmp_path):
    """With j-p closed from the start, the people who reached v by the end are fewer by the arrival rate times the
    detour's walking time: 0.1 a second x 200 m / 1.34 m/s (in steady free flow the people on their way are the
    rate times the walking time)."""
    open_ = CrowdModel(_world(tmp_path, []), seed=1).run()
    closed = CrowdModel(_world(tmp_path, [_event("close_walkway", "j", "p")]), seed=1).run()
    assert open_.kpis["visitors"] == closed.kpis["visitors"] == pytest.approx(RATE_PER_S * 1200)
    lost = open_.kpis["visitors_served"] - closed.kpis["visitors_served"]
    assert lost == pytest.approx(RATE_PER_S * DETOUR_M / FREE_MPS, rel=1e-6)
    assert [(e.t_s, e.text) for e in closed.events if e.kind == "walkway"] == [(0.0, "j - p closed (inject)")]


def test_a_one_way_blocks_only_the_other_direction(tmp_path):
    """A one-way p -> j turns arrivals onto the long way as a closure does; a one-way j -> p (their direction)
    changes nothing."""
    closed = CrowdModel(_world(tmp_path, [_event("close_walkway", "j", "p")]), seed=1).run()
    against = CrowdModel(_world(tmp_path, [_event("one_way", "p", "j")]), seed=1).run()
    along = CrowdModel(_world(tmp_path, [_event("one_way", "j", "p")]), seed=1).run()
    open_ = CrowdModel(_world(tmp_path, []), seed=1).run()
    assert against.kpis["visitors_served"] == pytest.approx(closed.kpis["visitors_served"], rel=1e-9)
    assert along.kpis == open_.kpis


def test_a_closure_for_a_while_empties_the_walkway_and_reopens_it(tmp_path):
    """Closed from 300 s to 600 s, j -> p takes nobody new: the people on it only walk off; after 600 s people
    walk it again."""
    on_edge: dict[float, float] = {}
    s = _world(tmp_path, [_event("close_walkway", "j", "p", at_s=300, duration_s=300)])
    m = CrowdModel(s, seed=1, on_step=lambda m: on_edge.setdefault(m.step_no * m.dt, _on_edge(m, "j", "p")))
    result = m.run()
    t = np.array(sorted(on_edge))
    people = np.array([on_edge[x] for x in t])
    assert people[t == 300][0] > 1.0  # busy before the closure
    assert np.all(np.diff(people[(t >= 300) & (t <= 600)]) <= 1e-12)  # then only leaving
    assert people[t == 600][0] < 0.01 * people[t == 300][0]
    assert people[t == 700][0] > 1.0  # open again
    assert [(e.t_s, e.data["change"]) for e in result.events if e.kind == "walkway"] == [
        (300.0, "close_walkway"), (600.0, "reopen")]  # fmt: skip


def test_a_one_way_event_acts_like_the_plans_staffed_one_way(tmp_path):
    """A `one_way` inject runs as a plan's `OneWay` held by a team posted there at the same times: the same KPIs
    and series, but the team's use (an event needs no team)."""
    staff = {"police": {"count": 20, "base": "j"}}
    post = AssignStaff(at_s=0, pool="police", to="j", count=20)
    s = _world(tmp_path, [], staff=staff)
    inject = _event("one_way", "p", "j", at_s=300, duration_s=300)
    by_inject = CrowdModel(_world(tmp_path, [inject], staff=staff), plan_of(s, post), seed=1).run()
    by_plan = CrowdModel(s, plan_of(s, post, OneWay(at_s=300, u="p", v="j", until_s=600)), seed=1).run()
    assert by_inject.kpis["staff_utilisation"] == 0 < by_plan.kpis["staff_utilisation"]
    assert _crowd(by_inject.kpis) == _crowd(by_plan.kpis)
    assert _crowd(by_inject.series) == _crowd(by_plan.series)
    assert by_inject.kpis != CrowdModel(s, plan_of(s, post), seed=1).run().kpis  # it did change the run


def _crowd(values: dict[str, Any]) -> dict[str, Any]:
    """The crowd's own numbers: all but the staff's."""
    return {k: v for k, v in values.items() if not k.startswith("staff")}


def test_the_planner_routes_round_a_walkway_closed_throughout(tmp_path):
    """The flow LP's routes to v avoid j-p when it is closed for the whole run, and may use it when the closure
    ends within the run (left to the simulation)."""

    def uses_p(injects: list[dict[str, Any]]) -> bool:
        problem = flow_problem(_world(tmp_path, injects))
        return any("p" in route.nodes for routes in problem.routes_in.values() for route in routes)

    assert uses_p([])
    assert not uses_p([_event("close_walkway", "j", "p")])
    assert not uses_p([_event("one_way", "p", "j")])
    assert uses_p([_event("close_walkway", "j", "p", at_s=0, duration_s=600)])


@pytest.mark.parametrize(("inject", "path", "reason"), [
    (_event("close_walkway", "j", "nowhere"), "injects[0].params.v", "unknown node 'nowhere'"),
    (_event("one_way", "a", "v"), "injects[0].params", "no walkway joins 'a' and 'v'"),
    ({"at_s": 0, "kind": "one_way", "params": {"u": "j"}}, "injects[0]", "needs params.u and params.v"),
    (_event("close_walkway", "j", "p", duration_s=0), "injects[0]", "duration_s, if given, must be > 0"),
])  # fmt: skip
def test_a_walkway_event_on_no_walkway_is_refused_at_its_field(tmp_path, inject, path, reason):
    """An unknown node, two nodes no walkway joins, a missing end or a zero duration is one problem at the
    inject's field."""
    with pytest.raises(ScenarioError) as info:
        _world(tmp_path, [inject])
    [problem] = info.value.problems
    assert problem.path == path and reason in problem.reason
