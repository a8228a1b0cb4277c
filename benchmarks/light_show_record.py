"""The light show's evening against its record (facts.md 3.1: 790,000 visits and 90,000 at once at 20:00 on
1 July 2021), with Little's law's parts: where the people on site are, and how long people spend on site walking
in, dwelling and walking out.

One evening of the default plan at the scenario's seed and step (one to two minutes of CPU). The free-flow walks
are the model's own potentials (the time to walk from each holding area's door to each viewing area, and from
each viewing area to its nearest exit, on an empty graph), weighted by the share of each origin's people bound
for each viewing area. "On site (counted)" is the scenario's `count_area` (the record's boundary: the KPI
`peak_on_site`); "on the graph" is everyone who has come in (`peak_on_graph`).

    python benchmarks/light_show_record.py                        # the built-in scenario
    python benchmarks/light_show_record.py FILE --dt 2            # another file, a quicker look
    python benchmarks/light_show_record.py --set demand.nearness_s=300
"""

from __future__ import annotations

import argparse

import numpy as np

from scenarios.loading import load_scenario
from scenarios.schema import CrowdScenario
from simulation.crowd.model import CrowdModel

RECORD_VISITS = 790_000
RECORD_PEAK = 90_000
RECORD_PEAK_AT_S = 4 * 3600.0  # 20:00, four hours after the scenario's 16:00 start
EVERY_S = 60.0


def free_flow_min(model: CrowdModel) -> tuple[float, float]:
    """The mean free-flow walk in (holding-area door to viewing area) and out (viewing area to the nearest exit),
    in minutes, weighted by each origin's share and its people's destination shares."""
    phi = model.routes.phi0_nodes
    k = model.LEAVE
    split = model.base_split[:, :k]
    walk_in = model.origin_share[:, None] * split * phi[model.holding_node, :k]
    walk_out = (model.origin_share[:, None] * split).sum(axis=0) * phi[model.target_node, k]
    return float(walk_in.sum()) / 60, float(walk_out.sum()) / 60


class Census:
    """Every minute, where the people who came in are: in the counted area (dwelling, heading for a viewing place,
    leaving) and outside it (heading in, leaving); and the person-seconds on the graph and in the counted area."""

    def __init__(self, model: CrowdModel):
        self.m = model
        net = model.net
        self.in_nodes = model.count_nodes if model.count_nodes is not None else np.ones(net.n_nodes, dtype=bool)
        self.in_nodes = self.in_nodes.copy()
        self.in_nodes[model.holding_node] = False
        self.in_cells = model.count_cells if model.count_cells is not None else np.ones(net.n_cells_total, dtype=bool)
        self.out_nodes = ~self.in_nodes
        self.out_nodes[model.holding_node] = False
        self.every = max(1, round(EVERY_S / model.dt))
        self.rows: list[tuple[float, dict[str, float]]] = []
        self.on_graph_s = 0.0
        self.counted_s = 0.0

    def __call__(self, m: CrowdModel) -> None:
        nodes, cells, k = m.n_nodes_arr, m.n_cells_arr, m.LEAVE
        if m.step_no % self.every:
            return
        parts = {
            "dwelling": float(m.dwelling[self.in_nodes].sum()),
            "heading in (counted)": float(nodes[self.in_nodes, :k].sum() + cells[self.in_cells, :k].sum()),
            "leaving (counted)": float(nodes[self.in_nodes, k].sum() + cells[self.in_cells, k].sum()),
            "heading in (outside)": float(nodes[self.out_nodes, :k].sum() + cells[~self.in_cells, :k].sum()),
            "leaving (outside)": float(nodes[self.out_nodes, k].sum() + cells[~self.in_cells, k].sum()),
            "waiting to come in": float(nodes[m.holding_node].sum()),
        }
        counted = parts["dwelling"] + parts["heading in (counted)"] + parts["leaving (counted)"]
        on_graph = counted + parts["heading in (outside)"] + parts["leaving (outside)"]
        self.on_graph_s += on_graph * EVERY_S
        self.counted_s += counted * EVERY_S
        self.rows.append((m.step_no * m.dt, {"counted": counted, "on graph": on_graph, **parts}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="bund_light_show")
    parser.add_argument("--dt", type=float, default=None, help="step (default: the scenario's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a what-if, as `yiwang run`")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario, overrides=args.set)
    assert isinstance(scenario, CrowdScenario)
    model = CrowdModel(scenario, dt=args.dt)
    census = Census(model)
    model.on_step = census
    result = model.run()
    k = result.kpis
    label = scenario.clock.label
    came_in = k["visitors"] - k["refused_full"] - k["turned_away_by_control"]
    times, counted = (np.array(x) for x in result.series["on_site_counted"])
    at_record = float(counted[np.searchsorted(times, RECORD_PEAK_AT_S)])
    walk_in, walk_out = free_flow_min(model)
    dwell_min = float(np.mean(scenario.stay.sample(np.random.default_rng(0), 100_000))) / 60
    print(f"visits {k['visitors']:,.0f} ({k['visitors'] / RECORD_VISITS - 1:+.1%} of {RECORD_VISITS:,}); came in "
          f"{came_in:,.0f} ({came_in / RECORD_VISITS - 1:+.1%})")  # fmt: skip
    print(f"on site (counted) at once: most {k['peak_on_site']:,.0f} at {label(k['peak_on_site_min'] * 60)} "
          f"({k['peak_on_site'] / RECORD_PEAK - 1:+.1%} of {RECORD_PEAK:,}); at 20:00 {at_record:,.0f}; on the graph "
          f"at once, most {k['peak_on_graph']:,.0f}")  # fmt: skip
    peak_row = max(census.rows, key=lambda r: r[1]["counted"])
    print(f"where they are at {label(peak_row[0])}: " + "; ".join(f"{n} {v:,.0f}" for n, v in peak_row[1].items()))
    print(f"time on the graph per person who came in {census.on_graph_s / came_in / 60:.1f} min, in the counted "
          f"area {census.counted_s / came_in / 60:.1f} min (person-minutes over people); free-flow walk in "
          f"{walk_in:.1f} min, dwell {dwell_min:.1f} min (mean drawn, before the shows' holds), walk out "
          f"{walk_out:.1f} min; extra walking in crowds {k['mean_extra_walk_min']:.1f} min a person")  # fmt: skip
    print(
        f"reached a viewing area {k['visitors_served']:,.0f}; gave up for want of room {k['turned_away']:,.0f}; "
        f"on site at the end {k['on_site_end']:,.0f}; peak {k['peak_density_ppm2']:.2f} /m2; crushes "
        f"{k['crushes']:.0f}; wall {result.stats.wall_s:.0f} s"
    )
    print("every 30 min: " + "; ".join(f"{label(t)} {r['counted']:,.0f} / {r['on graph']:,.0f}"
                                       for t, r in census.rows if t % 1800 == 0))  # fmt: skip


if __name__ == "__main__":
    main()
