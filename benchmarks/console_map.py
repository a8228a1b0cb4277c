"""The incident map's cost per built-in scenario: building the pydeck deck and its JSON (what Streamlit sends to
the browser), median of five after one warm-up, in Chinese. Run it with each tree first on PYTHONPATH to compare.

    PYTHONPATH=$PWD python benchmarks/console_map.py
"""

from __future__ import annotations

import statistics
import time

from command.console import views
from scenarios import load_scenario
from scenarios.loading import builtin_scenario_names


def main() -> int:
    print(f"views: {views.__file__}")
    print("| scenario | build | JSON |")
    print("|---|---:|---:|")
    for name in builtin_scenario_names():
        scenario = load_scenario(name)
        views.deck(scenario, {}, 0.0, lang="zh").to_json()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            text = views.deck(scenario, {}, 0.0, lang="zh").to_json()
            times.append(time.perf_counter() - start)
        print(f"| {name} | {statistics.median(times) * 1000:.0f} ms | {len(text) / 1000:.0f} kB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
