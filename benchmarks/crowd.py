"""Crowd model benchmark: the full `bund_light_show` (every evening it has), speed-up over real time and memory.

For each step length and head-count scaling, the scenario's evenings are simulated one after another (seed of
night k = scenario seed + k) under the default plan; the table gives the simulated hours, the wall time, the
speed-up (simulated seconds / wall seconds, one core) and the peak memory traced by `tracemalloc` over one
evening (measured in a separate run, since tracing slows the run). Scaling multiplies every arrival rate:
the model's cost and memory should not move with it.

    python benchmarks/crowd.py                    # dt 1 and 2 s, head-count x1 and x2, all evenings
    python benchmarks/crowd.py --evenings 1       # a quicker look
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from scenarios.loading import load_scenario
from simulation.crowd import CrowdModel

NAME = "bund_light_show"


def scenario(scale: float):
    base = load_scenario(NAME)
    sets = [f"demand.arrivals.periods[{i}].rate_per_h={p.rate_per_h * scale:g}"
            for i, p in enumerate(base.demand.arrivals.periods)]  # fmt: skip
    return load_scenario(NAME, overrides=sets)


def evenings(s, dt: float, n: int) -> tuple[float, float, float, int]:
    """Simulate `n` evenings; wall seconds, simulated seconds, the most people on site at once, cells."""
    wall = sim = peak = 0.0
    cells = 0
    for k in range(n):
        model = CrowdModel(s, seed=s.seed + k, dt=dt)
        start = time.perf_counter()
        result = model.run()
        wall += time.perf_counter() - start
        sim += result.stats.sim_s
        peak = max(peak, max(result.series["on_site"][1]))
        cells = model.net.n_cells_total
    return wall, sim, peak, cells


def traced_peak_mb(s, dt: float) -> float:
    """Peak traced allocation (MB) while building and running one evening."""
    tracemalloc.start()
    CrowdModel(s, seed=s.seed, dt=dt).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evenings", type=int, default=None, help="evenings to run (default: the scenario's)")
    parser.add_argument("--dt", type=float, nargs="*", default=[1.0, 2.0])
    parser.add_argument("--scale", type=float, nargs="*", default=[1.0, 2.0])
    args = parser.parse_args()
    print("| dt s | head-count | cells | evenings | simulated h | wall s | speed-up | most on site | peak MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for dt in args.dt:
        for scale in args.scale:
            s = scenario(scale)
            n = args.evenings or s.evenings
            wall, sim, peak, cells = evenings(s, dt, n)
            mb = traced_peak_mb(s, dt)
            print(f"| {dt:g} | x{scale:g} | {cells:,} | {n} | {sim / 3600:.0f} | {wall:.1f} | {sim / wall:,.0f}x | "
                  f"{peak:,.0f} | {mb:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
