"""Every KPI of every built-in scenario and drill at its seed, recorded once and compared after a change.

A refactoring must not move a single number. `record` simulates each built-in scenario's default plan at its
own seed, optimises it once and simulates that plan, and writes the KPIs and the optimised plans to a JSON file.
`check` simulates the same default plans and the same recorded plans again and compares every KPI exactly
(the optimiser is not re-run: its searches stop on wall-clock limits, so it is compared through the plans it
made). Each built-in drill's default plan is checked too, injects and all.

    python benchmarks/kpi_snapshot.py record [--out benchmarks/data/kpi_snapshot.json]
    python benchmarks/kpi_snapshot.py check  [--snapshot benchmarks/data/kpi_snapshot.json]

`check` prints one line per KPI that moved and exits 1 if any did.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from scenarios import Plan, builtin_scenario_names, load_scenario
from scenarios.defaults import default_plan

HERE = Path(__file__).resolve().parent


def _simulate(scenario: Any, plan: Plan, seed: int) -> dict[str, float]:
    from command.kinds import simulate

    return dict(simulate(scenario, plan, seed=seed).kpis)


def _optimise(scenario: Any) -> Plan | None:
    from command.runs import run_loaded

    outcome = run_loaded(scenario, seed=scenario.seed, optimize=True)
    return outcome.solve.plan if outcome.solve is not None else None


#: Which built-in scenario each built-in drill is written for.
DRILL_SCENARIOS = {
    "bund_2014_metro_surge": "bund_new_year_2014",
    "disney_testers_delayed": "disney_mass_testing",
    "typhoon_upgraded": "huangpu_typhoon",
}


def _drills() -> list[tuple[str, Any]]:
    """Each built-in drill's scenario: the scenario it is written for with the drill's injects added."""
    from command.drills import read_injects
    from scenarios.loading import scenario_from_document

    out = []
    for drill, name in DRILL_SCENARIOS.items():
        doc = load_scenario(name).model_dump(mode="json")
        doc["injects"] = [*doc.get("injects", []), *read_injects(drill)]
        out.append((f"drill:{drill}", scenario_from_document(doc, file=drill)))
    return out


def record(out: Path) -> None:
    data: dict[str, Any] = {}
    for name in builtin_scenario_names():
        t0 = time.perf_counter()
        scenario = load_scenario(name)
        entry: dict[str, Any] = {"baseline": _simulate(scenario, default_plan(scenario), scenario.seed)}
        plan = _optimise(scenario)
        if plan is not None:
            entry["plan"] = json.loads(plan.to_json())
            entry["planned"] = _simulate(scenario, plan, scenario.seed)
        data[name] = entry
        print(f"{name}: recorded in {time.perf_counter() - t0:.1f} s", flush=True)
    for name, scenario in _drills():
        data[name] = {"baseline": _simulate(scenario, default_plan(scenario), scenario.seed)}
        print(f"{name}: recorded", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def compare(name: str, which: str, want: dict[str, float], got: dict[str, float]) -> list[str]:
    """One line per KPI that is missing, new, or different."""
    lines = [f"{name} {which}.{k}: recorded {want[k]!r}, now missing" for k in want if k not in got]
    lines += [f"{name} {which}.{k}: new KPI {got[k]!r}" for k in got if k not in want]
    lines += [f"{name} {which}.{k}: recorded {want[k]!r}, now {got[k]!r}"
              for k in want if k in got and not _same(float(want[k]), float(got[k]))]  # fmt: skip
    return lines


def check(snapshot: Path) -> int:
    data = json.loads(snapshot.read_text(encoding="utf-8"))
    drills = dict(_drills())
    moved: list[str] = []
    for name, entry in sorted(data.items()):
        scenario = drills[name] if name.startswith("drill:") else load_scenario(name)
        baseline = _simulate(scenario, default_plan(scenario), scenario.seed)
        moved += compare(name, "baseline", entry["baseline"], baseline)
        if "plan" in entry:
            plan = Plan.from_json(json.dumps(entry["plan"]))
            moved += compare(name, "planned", entry["planned"], _simulate(scenario, plan, scenario.seed))
        print(f"{name}: checked", flush=True)
    for line in moved:
        print(line)
    print(f"{len(moved)} KPI(s) moved" if moved else "every KPI is the same")
    return 1 if moved else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["record", "check"])
    parser.add_argument("--snapshot", type=Path, default=HERE / "data" / "kpi_snapshot.json")
    args = parser.parse_args()
    if args.mode == "record":
        record(args.snapshot)
        return 0
    return check(args.snapshot)


if __name__ == "__main__":
    sys.exit(main())
