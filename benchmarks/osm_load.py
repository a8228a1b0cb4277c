"""Reading an OpenStreetMap extract: Yiwang's own reader (`scenarios.graphs.osm`) against OSMnx's `graph_from_xml`,
which the loader used before (roads only, every node a junction), on the same file in the same run.

    python benchmarks/osm_load.py [FILE.osm] [--repeats N]

Prints, per reader, the best CPU time of N reads and what it built, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter
from pathlib import Path

from scenarios.graphs import builtin_osm_dir
from scenarios.graphs.osm import load_osm


def best_cpu_s(read, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.process_time()
        out = read()
        best = min(best, time.process_time() - t)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?", default=str(builtin_osm_dir() / "huangpu_central.osm"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.file)
    import osmnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base_s, raw = best_cpu_s(lambda: osmnx.graph_from_xml(path, simplify=True, retain_all=False), args.repeats)
    own_s, g = best_cpu_s(lambda: load_osm(path, str(path)), args.repeats)
    print(f"file: {path.name} ({path.stat().st_size:,} bytes), best of {args.repeats} reads, CPU seconds")
    print(f"osmnx.graph_from_xml (before): {base_s:.3f} s, {raw.number_of_nodes()} nodes, "
          f"{raw.number_of_edges()} edges")
    kinds = Counter(k for _, k in g.nodes(data="kind"))
    modes = Counter(m for *_, m in g.edges(data="mode"))
    print(f"scenarios.graphs.osm (after):  {own_s:.3f} s, {g.number_of_nodes()} nodes {dict(kinds)}, "
          f"{g.number_of_edges()} edges {dict(modes)}")
    print(f"ratio before/after: {base_s / own_s:.1f}")


if __name__ == "__main__":
    main()
