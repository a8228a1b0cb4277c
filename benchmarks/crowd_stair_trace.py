"""Who is where around the Chen Yi Square stair, every so often: a probe for the 2014 replay, not a test.

For one run of a crowd scenario on the Bund graph under its own plan, prints every `--every` seconds between
`--from` and `--to` (clock times) the people at each node from Chen Yi Square to the terrace above and on each
walkway between them, as "going there / leaving" (the classes heading for a destination, and the leavers), and at
the end the crushes on the Chen Yi stairs before midnight. A node's count is the people walking through it; those
standing there (dwellers) are in its density, not in its count.

    python benchmarks/crowd_stair_trace.py --scenario bund_new_year_2014 \\
        --from 23:25 --to 23:40 --every 30
"""

from __future__ import annotations

import argparse

import numpy as np

from scenarios.loading import load_scenario
from simulation.crowd import CrowdModel

NODES = ("chen_yi_square", "chen_yi_stair_foot", "chen_yi_stair_landing", "chen_yi_stair_top", "prom_chen_yi",
         "view_chen_yi")  # fmt: skip


def _short(node: str) -> str:
    return (node.replace("chen_yi_stair_", "").replace("chen_yi_square", "square").replace("prom_chen_yi", "prom")
            .replace("view_chen_yi", "terrace"))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="bund_new_year_2014", help="a built-in's name or a YAML file")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--from", dest="start", default="23:20", help="clock time, HH:MM")
    ap.add_argument("--to", dest="end", default="23:45", help="clock time, HH:MM")
    ap.add_argument("--every", type=int, default=60, help="seconds between lines")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario, overrides=args.overrides)
    model = CrowdModel(scenario, seed=args.seed)
    net = model.net
    start = scenario.clock.start

    def clock_s(text: str) -> float:
        h, m = (int(x) for x in text.split(":"))
        s = (h * 3600 + m * 60) - (start.hour * 3600 + start.minute * 60)
        return float(s if s >= 0 else s + 86_400)

    t0, t1 = clock_s(args.start), clock_s(args.end)
    nodes = [net.nodes.index(n) for n in NODES]
    edges = [(u, v) for (u, v) in net.edges if u in NODES and v in NODES]
    cells = {e: np.flatnonzero(net.cell_edge == net.edges.index(e)) for e in edges}
    print("time   " + " ".join(f"{_short(n):>13}" for n in NODES) + "  | "
          + " | ".join(f"{_short(u)}>{_short(v)}" for u, v in edges))  # fmt: skip
    steps = max(1, round(args.every / model.dt))

    def each(m: CrowdModel) -> None:
        t = m.step_no * m.dt
        if m.step_no % steps or not t0 <= t <= t1:
            return
        leave = m.LEAVE
        at_nodes = [m.n_nodes_arr[i] for i in nodes]
        on_edges = [m.n_cells_arr[cells[e]].sum(axis=0) for e in edges]
        print(scenario.clock.label(t) + " " + " ".join(f"{r.sum() - r[leave]:6.0f}/{r[leave]:6.0f}" for r in at_nodes)
              + "  | " + " | ".join(f"{r.sum() - r[leave]:4.0f}/{r[leave]:4.0f}" for r in on_edges))  # fmt: skip

    model.on_step = each
    result = model.run()
    crushes = [f"{scenario.clock.label(e.t_s)} {e.data.get('place')}" for e in result.events
               if e.kind == "crush" and "chen_yi" in str(e.data.get("place")) and e.t_s < clock_s("00:00")]  # fmt: skip
    print("crushes on the Chen Yi stairs before midnight:", ", ".join(crushes) or "none")


if __name__ == "__main__":
    main()
