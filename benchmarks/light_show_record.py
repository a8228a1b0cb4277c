"""The light show's evening against its record (facts.md 3.1: 790,000 visits and 90,000 at once at 20:00 on
1 July 2021), with Little's law's parts: how long people spend on site walking in, dwelling and walking out.

One evening of the default plan at the scenario's seed and step (about a minute of CPU). The free-flow walks are
the model's own potentials (the time to walk from each holding area's door to each viewing area, and from each
viewing area to its nearest exit, on an empty graph), weighted by the scenario's origin and destination shares.

    python benchmarks/light_show_record.py                 # the built-in scenario
    python benchmarks/light_show_record.py FILE --dt 2     # another file, a quicker look
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


def free_flow_min(model: CrowdModel) -> tuple[float, float]:
    """The mean free-flow walk in (holding-area door to viewing area) and out (viewing area to the nearest exit),
    in minutes, weighted by the scenario's shares."""
    phi = model.routes.phi0_nodes
    k = model.LEAVE
    walk_in = model.origin_share[:, None] * model.dest_share[None, :k] * phi[model.holding_node, :k]
    walk_out = model.dest_share[:k] * phi[model.target_node, k]
    return float(walk_in.sum()) / 60, float(walk_out.sum()) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="bund_light_show")
    parser.add_argument("--dt", type=float, default=None, help="step (default: the scenario's)")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    assert isinstance(scenario, CrowdScenario)
    model = CrowdModel(scenario, dt=args.dt)
    result = model.run()
    k = result.kpis
    times, on_site = (np.array(x) for x in result.series["on_site"])
    dwelling = np.array(result.series["dwelling"][1])
    peak_i = int(on_site.argmax())
    at_record = float(on_site[np.searchsorted(times, RECORD_PEAK_AT_S)])
    walk_in, walk_out = free_flow_min(model)
    dwell_min = float(np.mean(scenario.dwell.sample(np.random.default_rng(0), 100_000))) / 60
    print(f"visits {k['visitors']:,.0f} ({k['visitors'] / RECORD_VISITS - 1:+.1%} of {RECORD_VISITS:,}); came in "
          f"{k['visitors'] - k['refused_full'] - k['turned_away_by_control']:,.0f}")  # fmt: skip
    print(f"on site at once: most {on_site[peak_i]:,.0f} at {scenario.clock.label(float(times[peak_i]))} "
          f"({on_site[peak_i] / RECORD_PEAK - 1:+.1%} of {RECORD_PEAK:,}); at 20:00 {at_record:,.0f}; "
          f"standing at viewing places, most {dwelling.max():,.0f}")  # fmt: skip
    print(f"time on site: free-flow walk in {walk_in:.1f} min, dwell {dwell_min:.1f} min (mean drawn), walk out "
          f"{walk_out:.1f} min; extra walking in crowds {k['mean_extra_walk_min']:.1f} min a person")  # fmt: skip
    print(
        f"reached a viewing area {k['visitors_served']:,.0f}; gave up for want of room {k['turned_away']:,.0f}; "
        f"on site at the end {k['on_site_end']:,.0f}; crushes {k['crushes']:.0f}; wall {result.stats.wall_s:.0f} s"
    )


if __name__ == "__main__":
    main()
