"""Crowd model benchmark: the full `bund_light_show` (every evening it has), speed-up over real time and memory.

For each step length and head-count scaling, the scenario's evenings are simulated one after another (seed of
night k = scenario seed + k) under the default plan; the table gives the simulated hours, the wall time, the
speed-up (simulated seconds / wall seconds, one core; and over the process's CPU seconds, which a machine
shared with other jobs does not inflate) and the peak memory traced by `tracemalloc` over one
evening (measured in a separate run, since tracing slows the run). Scaling multiplies every arrival rate:
the model's cost and memory should not move with it.

The step is the compiled one (`simulation.crowd_kernel`) unless `--kernel numpy`; the first run of a process
compiles it or loads it from Numba's cache, and that time is printed apart (not in the table). With
`--reference-evenings N` the NumPy reference step is also timed, on the first N evenings, for the last column.

    python benchmarks/crowd.py                    # dt 1 and 2 s, head-count x1 and x2, all evenings
    python benchmarks/crowd.py --evenings 1       # a quicker look
    python benchmarks/crowd.py --reference-evenings 1   # and the NumPy step's speed-up on one evening
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


def evenings(s, dt: float, n: int, kernel: str) -> tuple[float, float, float, float, int]:
    """Simulate `n` evenings; wall and CPU seconds, simulated seconds, the most people on site at once, cells."""
    wall = cpu = sim = peak = 0.0
    cells = 0
    for k in range(n):
        model = CrowdModel(s, seed=s.seed + k, dt=dt, kernel=kernel)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = model.run()
        wall += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        sim += result.stats.sim_s
        peak = max(peak, max(result.series["on_site"][1]))
        cells = model.net.n_cells_total
    return wall, cpu, sim, peak, cells


def traced_peak_mb(s, dt: float, kernel: str) -> float:
    """Peak traced allocation (MB) while building and running one evening (NumPy's allocations: the compiled
    step's own scratch arrays are not traced)."""
    tracemalloc.start()
    CrowdModel(s, seed=s.seed, dt=dt, kernel=kernel).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def first_minute_s(dt: float, kernel: str) -> tuple[float, float]:
    """Wall seconds of a one-minute run, the first of the process and the next one."""
    s = load_scenario(NAME, overrides=["clock.horizon_s=60"])
    times = []
    for _ in range(2):
        start = time.perf_counter()
        CrowdModel(s, dt=dt, kernel=kernel).run()
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evenings", type=int, default=None, help="evenings to run (default: the scenario's)")
    parser.add_argument("--dt", type=float, nargs="*", default=[1.0, 2.0])
    parser.add_argument("--scale", type=float, nargs="*", default=[1.0, 2.0])
    parser.add_argument("--kernel", choices=["numba", "numpy"], default="numba", help="the step to time")
    parser.add_argument("--reference-evenings", type=int, default=0,
                        help="also time the NumPy reference step on this many evenings (last column)")  # fmt: skip
    args = parser.parse_args()
    first, again = first_minute_s(args.dt[0], args.kernel)
    print(f"One simulated minute, first in this process: {first:.2f} s, then {again:.2f} s (the difference: "
          f"compiling the {args.kernel} step or loading it from Numba's cache)\n")  # fmt: skip
    ref = args.reference_evenings
    print("| dt s | head-count | cells | evenings | simulated h | wall s | speed-up | CPU s | speed-up (CPU) "
          "| most on site | peak MB |" + (" NumPy step (CPU) |" if ref else ""))  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if ref else ""))
    for dt in args.dt:
        for scale in args.scale:
            s = scenario(scale)
            n = args.evenings or s.evenings
            wall, cpu, sim, peak, cells = evenings(s, dt, n, args.kernel)
            mb = traced_peak_mb(s, dt, args.kernel)
            row = (f"| {dt:g} | x{scale:g} | {cells:,} | {n} | {sim / 3600:.0f} | {wall:.1f} | {sim / wall:,.0f}x | "
                   f"{cpu:.1f} | {sim / cpu:,.0f}x | {peak:,.0f} | {mb:.1f} |")  # fmt: skip
            if ref:
                _, ref_cpu, ref_sim, _, _ = evenings(s, dt, ref, "numpy")
                row += f" {ref_sim / ref_cpu:,.0f}x ({ref} evening{'s' * (ref > 1)}) |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
