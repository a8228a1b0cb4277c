"""Sweeps: the same root seed gives the same numbers on every engine; interrupted sweeps resume exactly;
the confidence intervals cover the queueing-theory answer at their stated rate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from command.errors import BadInput, Conflict
from command.sweeps import run_sweep, variants_from
from simulation.sweep import breach_probability, replication_seed, summarise, t975
from simulation.theory import mmc_mean_wait

DATA = Path(__file__).parent / "data"
TINY = str(DATA / "one_site_mmc.yaml")
SHORT = ["clock.horizon_s=7200", "resources.testers.local.shift_s=7200"]


def _short(tmp_path: Path, name: str, **kwargs):
    return run_sweep(TINY, replications=kwargs.pop("replications", 4), out=tmp_path / name,
                     vary=kwargs.pop("vary", ["clock.horizon_s=7200", "resources.testers.local.count=7,8"]),
                     seed=kwargs.pop("seed", 11), **kwargs)  # fmt: skip


def test_seeds_depend_only_on_the_root_and_the_place_in_the_sweep():
    """Replication seeds come from (root, variant, replication), differ from each other, and fit a scenario seed."""
    seeds = {replication_seed(5, v, r) for v in range(3) for r in range(50)}
    assert len(seeds) == 150
    assert all(0 <= s < 2**63 for s in seeds)
    assert replication_seed(5, 1, 7) == replication_seed(5, 1, 7) != replication_seed(6, 1, 7)


def test_variants_are_the_cartesian_product_of_the_varied_fields():
    """Two varied fields with two and three values give six variants."""
    variants = variants_from(["a.b=1,2", "c=x,y,z"])
    assert [v.overrides for v in variants][:2] == [("a.b=1", "c=x"), ("a.b=1", "c=y")]
    assert len(variants) == 6
    with pytest.raises(BadInput, match=r"expected field\.path=v1,v2"):
        variants_from(["novalues"])


@pytest.mark.slow
def test_serial_local_processes_and_dask_give_bit_identical_results(tmp_path):
    """The same root seed gives the same replications and summary serially, in processes and on Dask."""
    serial = _short(tmp_path, "serial", engine="serial")
    local = _short(tmp_path, "local", engine="local", workers=2)
    dask = _short(tmp_path, "dask", engine="dask", workers=2)
    assert serial.rows == local.rows == dask.rows
    assert serial.summary == local.summary == dask.summary
    assert len(serial.rows) == 8
    # The two variants really differ, so identity is not trivial.
    means = [v["kpis"]["mean_wait_min"]["mean"] for v in serial.summary["variants"]]
    assert means[0] != means[1]


def test_an_interrupted_sweep_resumes_to_the_same_results(tmp_path):
    """Killing a sweep midway and resuming gives the uninterrupted run's results, redoing nothing finished."""
    whole = _short(tmp_path, "whole", engine="serial", replications=6)
    out = tmp_path / "killed"
    code = ("from pathlib import Path; from command.sweeps import run_sweep; "
            f"run_sweep({TINY!r}, replications=6, out=Path({str(out)!r}), seed=11, engine='serial', "
            "vary=['clock.horizon_s=7200', 'resources.testers.local.count=7,8'])")  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    lines = out / "replications.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not lines.exists() or len(lines.read_text().splitlines()) < 3):
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = len(lines.read_text().splitlines())
    assert 3 <= finished < 12, "the child should have been killed midway"
    with lines.open("a") as fh:  # as if killed in the middle of writing a line
        fh.write('{"variant": 1, "replicat')
    resumed = run_sweep(TINY, replications=6, out=out, seed=11, engine="serial",
                        vary=["clock.horizon_s=7200", "resources.testers.local.count=7,8"])  # fmt: skip
    assert resumed.reused == finished and resumed.ran == 12 - finished
    assert resumed.rows == whole.rows
    assert resumed.summary == whole.summary
    assert json.loads((out / "summary.json").read_text()) == whole.summary


def test_a_folder_with_another_sweep_is_refused(tmp_path):
    """Resuming into a folder that holds a different sweep is refused and changes nothing there."""
    _short(tmp_path, "one", engine="serial", replications=2)
    before = (tmp_path / "one" / "replications.jsonl").read_text()
    with pytest.raises(Conflict, match="holds a different sweep"):
        _short(tmp_path, "one", engine="serial", replications=2, seed=12)
    assert (tmp_path / "one" / "replications.jsonl").read_text() == before


def _steady_wait_s(result) -> dict[str, float]:
    """Mean wait (s) of visitors arriving after a one-hour warm-up and at least an hour before the horizon."""
    rec = result.records
    keep = (rec["at_site_s"] > 3600) & (rec["at_site_s"] < 4 * 3600 - 3600)
    return {"steady_wait_s": float(np.mean(rec["swab_start_s"][keep] - rec["at_site_s"][keep]))}


@pytest.mark.slow
def test_confidence_intervals_cover_erlang_c_at_about_their_rate(tmp_path):
    """Over 20 independent sweeps of an M/M/8 site at load 0.8, the 95% interval covers the Erlang-C mean wait
    in at least 16 (a correct interval fails that less than once in a hundred)."""
    truth = mmc_mean_wait(8, 384 / 3600, 1 / 60)
    covered = 0
    for k in range(20):
        report = run_sweep(TINY, replications=20, out=tmp_path / f"s{k}", seed=1000 + k, engine="serial",
                           vary=["clock.horizon_s=14400"], metrics=_steady_wait_s)  # fmt: skip
        s = report.summary["variants"][0]["kpis"]["steady_wait_s"]
        covered += s["ci_low"] <= truth <= s["ci_high"]
    assert covered >= 16


def test_summary_statistics_and_breach_intervals():
    """The t interval, percentiles and Wilson breach interval match hand values."""
    s = summarise([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.p50 == 2.5
    assert s.ci_high - s.mean == pytest.approx(t975(3) * np.std([1, 2, 3, 4], ddof=1) / 2)
    p, lo, hi = breach_probability([True] * 3 + [False] * 97)
    assert p == 0.03 and 0.0 < lo < 0.03 < hi < 0.09
    assert breach_probability([False] * 10)[1] == 0.0


def test_risk_compares_plans_on_the_same_seeds_and_is_kept(tmp_path):
    """Risk of two plans runs each on the same seeds; asking again reuses the kept replications."""
    from command.sweeps import risk
    from scenarios import load_scenario
    from scenarios.defaults import default_plan

    scenario = load_scenario(TINY, overrides=[*SHORT, "thresholds.target_finish_s=7000"])
    base = default_plan(scenario)
    fewer = base.model_copy(update={"actions": tuple(a.model_copy(update={"count": 6}) if a.type == "assign_staff"
                                                     else a for a in base.actions)})  # fmt: skip
    first = risk(scenario, {"default": base, "fewer": fewer}, replications=5, seed=3, folder=tmp_path)
    assert set(first) == {"default", "fewer"}
    assert first["fewer"]["kpis"]["mean_wait_min"]["mean"] > first["default"]["kpis"]["mean_wait_min"]["mean"]
    for result in first.values():
        assert 0.0 <= result["breaches"]["misses_target_finish"]["p"] <= 1.0
    again = risk(scenario, {"default": base, "fewer": fewer}, replications=5, seed=3, folder=tmp_path)
    assert again == first
