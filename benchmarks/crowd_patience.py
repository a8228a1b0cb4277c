"""What patience and metro stations cost, and what they do, on one `bund_light_show` evening (issue 17).

The built-in scenario has neither (no published figure for either: docs/own-event.md, section 9), so the second
variant is a what-if with estimated figures, written here and nowhere else: patience lognormal, mean 30 min and
standard deviation 20 min (EST); of those whose patience runs out 30% go to another viewing area, 50% home and 20%
push on (EST); each East Nanjing Road and Yuyuan Garden exit a station holding 3,000 (EST), the East Nanjing Road
exits' neighbours the Yuyuan Garden ones and the other way round.

Both variants run the default plan at dt = 1 s, alternately (plain, what-if, plain, what-if, ...), so that the
machine's load falls on both alike; the table gives the CPU seconds of each run, the ratio of the what-if's to the
plain one's (the cost of the bookkeeping), the speed-up over real time, and the what-if's people KPIs.

    python benchmarks/crowd_patience.py             # two rounds
    python benchmarks/crowd_patience.py --rounds 1
"""

from __future__ import annotations

import argparse
import statistics
import time

from scenarios.loading import load_scenario
from scenarios.schema import CrowdScenario, Patience, Station
from simulation.crowd import CrowdModel

NAME = "bund_light_show"
KPIS = ("visitors", "held_peak", "held_p95_wait_min", "refused_full", "diverted", "went_home", "pushed_on",
        "station_held_peak", "entry_queue_end")  # fmt: skip


def what_if(s: CrowdScenario) -> CrowdScenario:
    """The scenario with the estimated patience and stations of the module docstring."""
    enr = [o for o in s.demand.origins if o.startswith("enr_exit")]
    yuyuan = [o for o in s.demand.origins if o.startswith("yuyuan_exit")]
    stations = {o: Station(capacity=3000, neighbours=tuple(yuyuan), source="EST") for o in enr}
    stations.update({o: Station(capacity=3000, neighbours=tuple(enr), source="EST") for o in yuyuan})
    patience = Patience.model_validate({"wait": {"dist": "lognormal", "mean_s": 1800, "sd_s": 1200},
                                        "other_area": 0.3, "home": 0.5, "push_on": 0.2, "source": "EST"})  # fmt: skip
    demand = s.demand.model_copy(update={"stations": stations})
    return s.model_copy(update={"demand": demand, "patience": patience})


def once(s: CrowdScenario) -> tuple[float, float, dict[str, float]]:
    """CPU and simulated seconds of one evening under the default plan, and its KPIs."""
    model = CrowdModel(s, seed=s.seed, dt=1.0)
    start = time.process_time()
    result = model.run()
    return time.process_time() - start, result.stats.sim_s, result.kpis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    plain = load_scenario(NAME)
    variants = {"plain": plain, "what-if": what_if(plain)}
    once(plain.model_copy(update={"clock": plain.clock.model_copy(update={"horizon_s": 60.0})}))  # compile / load
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    kpis: dict[str, dict[str, float]] = {}
    sim_s = 0.0
    for _ in range(args.rounds):
        for name, s in variants.items():
            c, sim_s, k = once(s)
            cpu[name].append(c)
            kpis[name] = k
    print("| variant | CPU s per evening | x real time | ratio to plain |")
    print("|---|---:|---:|---:|")
    base = statistics.mean(cpu["plain"])
    for name, values in cpu.items():
        mean = statistics.mean(values)
        print(f"| {name} | {' / '.join(f'{v:.1f}' for v in values)} | {sim_s / mean:,.0f} | {mean / base:.3f} |")
    print()
    print("| KPI | plain | what-if |")
    print("|---|---:|---:|")
    for key in KPIS:
        print(f"| {key} | {kpis['plain'][key]:,.1f} | {kpis['what-if'][key]:,.1f} |")


if __name__ == "__main__":
    main()
