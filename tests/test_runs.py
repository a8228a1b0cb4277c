"""The run pipeline the CLI and the console share: baseline, optimise, plan, JSON."""

from __future__ import annotations

import json

from command.runs import kpi_rows, run_scenario, write_outputs
from optimizer.result import SolveParams


def test_run_optimises_and_simulates_both_plans(one_site_mmc, tmp_path):
    """A run gives baseline and planned KPIs, a plan with solver stats, and writes its files."""
    outcome = run_scenario(str(one_site_mmc), seed=5, params=SolveParams(time_limit_s=5))
    doc = outcome.to_json()
    assert {"scenario", "kind", "seed", "baseline", "planned", "plan", "solver", "sim"} <= set(doc)
    assert doc["seed"] == 5
    assert doc["solver"]["status"] in {"OPTIMAL", "FEASIBLE"}
    assert doc["plan"]["meta"]["produced_by"] != "default:nearest"
    assert doc["sim"]["events"] == outcome.baseline.stats.events + outcome.planned.stats.events
    rows = kpi_rows(outcome)
    assert [r[0] for r in rows][:3] == ["last_tested_min", "mean_wait_min", "p95_wait_min"]
    written = write_outputs(outcome, tmp_path / "out")
    assert {p.name for p in written} == {"run.json", "baseline_plan.json", "plan.json"}
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert "series" in run["baseline"] and "events" in run["planned"]


def test_no_optimize_runs_the_scenario_plan_only(one_site_mmc):
    """With optimisation off there is no planned run, and the plan is the scenario's default."""
    outcome = run_scenario(str(one_site_mmc), optimize=False, overrides=["testing.sites[0].booths=9"])
    doc = outcome.to_json()
    assert "planned" not in doc and "solver" not in doc
    assert doc["plan"]["meta"]["produced_by"] == "default:nearest"
