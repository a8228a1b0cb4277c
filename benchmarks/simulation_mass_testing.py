"""Cost of the mass-testing simulation, as a ratio to bare SimPy in the same process.

Runs the full `disney_mass_testing` scenario (default plan) and a bare SimPy M/M/c queue with the same number
of customers and servers (a `simpy.Resource`, one process per customer: the textbook way), several times each,
and prints wall time, events, and microseconds per event. The ratio of costs per event is the figure to
watch (goal: within 2x); wall times alone depend on the machine.

    python benchmarks/simulation_mass_testing.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import simpy

from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.loading import scenario_graph
from scenarios.mass_testing import MassTestingGeometry
from simulation.core import CountingEnvironment
from simulation.mass_testing import simulate


def bare_mmc(customers: int, servers: int, mean_service_s: float, rate_per_s: float, seed: int) -> tuple[int, float]:
    """A plain SimPy M/M/c run: returns (events processed, wall seconds)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / rate_per_s, customers)
    services = rng.exponential(mean_service_s, customers)
    env = CountingEnvironment()
    desk = simpy.Resource(env, capacity=servers)

    def customer(i: int):
        with desk.request() as req:
            yield req
            yield env.timeout(services[i])

    def source():
        for i in range(customers):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(source())
    start = time.perf_counter()
    env.run()
    return env.events_processed, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scenario = load_scenario("disney_mass_testing")
    geometry = MassTestingGeometry(scenario, scenario_graph(scenario))
    plan = default_plan(scenario)
    simulate(scenario, plan, geometry=geometry)  # warm caches (travel matrices) outside the timing
    booths = sum(s.booths for s in scenario.testing.sites)
    visitors = scenario.initial_visitors
    rows = []
    for r in range(args.repeat):
        res = simulate(scenario, plan, seed=r, geometry=geometry)
        ev_b, wall_b = bare_mmc(visitors, booths, 36.0, visitors / 14_400, seed=r)
        rows.append((res.stats.events, res.stats.wall_s, ev_b, wall_b))
    us = lambda ev, wall: 1e6 * wall / ev  # noqa: E731
    model_us = statistics.median(us(e, w) for e, w, _, _ in rows)
    bare_us = statistics.median(us(e, w) for _, _, e, w in rows)
    print(
        f"disney_mass_testing: {visitors:,} visitors, {booths} booths, "
        f"{scenario.total_testers} testers, {scenario.resources.buses.count} buses; {args.repeat} runs"
    )
    print(f"{'run':>4} {'model events':>13} {'model s':>8} {'bare M/M/c events':>18} {'bare s':>7}")
    for i, (e, w, eb, wb) in enumerate(rows):
        print(f"{i:>4} {e:>13,} {w:>8.3f} {eb:>18,} {wb:>7.3f}")
    print(
        f"median cost per event: model {model_us:.2f} us, bare SimPy {bare_us:.2f} us, ratio {model_us / bare_us:.2f}x"
    )
    print(
        f"median wall per evening: model {statistics.median(w for _, w, _, _ in rows):.3f} s, "
        f"bare M/M/c {statistics.median(w for *_, w in rows):.3f} s"
    )


if __name__ == "__main__":
    main()
