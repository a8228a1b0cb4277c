"""Sweeps: the same root seed gives the same numbers on every engine; interrupted sweeps resume exactly;
the confidence intervals cover the queueing-theory answer at their stated rate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from command.errors import BadInput, Conflict
from command.sweeps import run_sweep, variants_from
from scenarios import load_scenario
from simulation.sweep import breach_probability, replication_seed, summarise, tasks
from simulation.theory import mmc_mean_wait

DATA = Path(__file__).parent / "data"
TINY = str(DATA / "one_site_mmc.yaml")
SHORT = ["clock.horizon_s=7200", "resources.testers.local.shift_s=7200"]


def _short(tmp_path: Path, name: str, **kwargs):
    return run_sweep(TINY, replications=kwargs.pop("replications", 4), out=tmp_path / name,
                     vary=kwargs.pop("vary", ["clock.horizon_s=7200", "resources.testers.local.count=7,8"]),
                     seed=kwargs.pop("seed", 11), **kwargs)  # fmt: skip


def test_seeds_depend_only_on_the_root_and_the_replication():
    """Replication seeds come from (root, replication), differ from each other, fit a scenario seed, and are the
    same in every variant (common random numbers)."""
    seeds = {replication_seed(5, r) for r in range(150)}
    assert len(seeds) == 150
    assert all(0 <= s < 2**63 for s in seeds)
    assert replication_seed(5, 7) == replication_seed(5, 7) != replication_seed(6, 7)
    by_variant = {}
    for task in tasks(5, 3, 4):
        by_variant.setdefault(task.replication, set()).add(task.seed)
    assert all(len(seeds) == 1 for seeds in by_variant.values()) and len(by_variant) == 4


def test_variants_that_differ_only_where_nothing_binds_give_the_same_answer(tmp_path):
    """With 8 booths, 16 and 20 testers swab at the same rate: on common random numbers every replication of the
    two variants is the same, so the sweep cannot say that the larger team misses the target more often (with
    independent draws per variant it could, by luck alone)."""
    report = run_sweep(TINY, replications=6, out=tmp_path / "crn", engine="serial", seed=11, vary=[
        "clock.horizon_s=5400", "resources.testers.local.shift_s=5400", "thresholds.target_finish_s=5370",
        "resources.testers.local.group_size=20", "resources.testers.local.count=16,20"])  # fmt: skip
    rows = {(r["variant"], r["replication"]): r["kpis"] for r in report.rows}
    testing = ("last_tested_min", "mean_wait_min", "p95_wait_min", "max_queue", "tested")
    assert all(rows[(0, r)][k] == rows[(1, r)][k] for r in range(6) for k in testing)
    assert rows[(0, 0)]["tester_hours"] < rows[(1, 0)]["tester_hours"]  # the variants do differ
    first, second = report.summary["variants"]
    assert first["breaches"] == second["breaches"]


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


class _Stop(Exception):
    """Raised by the progress hook to stop a sweep, as a kill would, after a set number of replications."""


def _stop_after(k: int):
    """A progress hook that stops the sweep once `k` replications have been written in this run."""
    seen: list[int] = []

    def hook(done: int, _total: int) -> None:
        seen.append(done)
        if done - seen[0] >= k:
            raise _Stop

    return hook


def test_an_interrupted_sweep_resumes_to_the_same_results(tmp_path):
    """A sweep stopped after 8 of its 12 replications, its last line torn, resumes by running the 4 missing only
    and ends with the uninterrupted run's results, leaving the 8 finished lines as they were."""
    vary = ["clock.horizon_s=7200", "resources.testers.local.count=7,8"]
    whole = run_sweep(TINY, replications=6, out=tmp_path / "whole", seed=11, engine="serial", vary=vary)
    out = tmp_path / "stopped"
    with pytest.raises(_Stop):
        run_sweep(TINY, replications=6, out=out, seed=11, engine="serial", vary=vary, progress=_stop_after(8))
    lines = out / "replications.jsonl"
    kept = lines.read_text()
    assert len(kept.splitlines()) == 8 and not (out / "summary.json").exists()
    with lines.open("a") as fh:  # as if killed in the middle of writing a line
        fh.write('{"variant": 1, "replicat')
    calls: list[tuple[int, int]] = []
    resumed = run_sweep(TINY, replications=6, out=out, seed=11, engine="serial", vary=vary,
                        progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert (resumed.reused, resumed.ran) == (8, 4)
    assert calls == [(n, 12) for n in range(8, 13)]  # the 8 kept, then one call per replication run
    text = lines.read_text()
    assert text.startswith(kept) and len(text.splitlines()) == 12  # the torn line is cut, nothing finished redone
    # Serially, tasks run variant by variant: the first 8 are variant 0's six and variant 1's first two.
    assert [(json.loads(x)["variant"], json.loads(x)["replication"]) for x in text.splitlines()] == [
        (v, r) for v in range(2) for r in range(6)]  # fmt: skip
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
    # mean 10 / 4 = 2.5; sd = sqrt((1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 3) = sqrt(5 / 3) = 1.290994;
    # half-width t(0.975, 3 df) * sd / sqrt(4) = 3.182 * 1.290994 / 2 = 2.053972.
    assert (s.n, s.mean) == (4, 2.5) and s.sd == pytest.approx(1.290994, abs=1e-6)
    assert (s.ci_low, s.ci_high) == (pytest.approx(0.446028, abs=1e-6), pytest.approx(4.553972, abs=1e-6))
    # Percentiles interpolate linearly between order statistics: p at rank q * (n - 1) = 0.15, 1.5, 2.85.
    assert (s.p5, s.p50, s.p95) == (pytest.approx(1.15), 2.5, pytest.approx(3.85))
    # Wilson, 3 of 100, z = 1.959964: centre (0.03 + z^2/200) / (1 + z^2/100) = 0.047387, half-width
    # z sqrt(0.03 * 0.97 / 100 + z^2 / 40000) / (1 + z^2/100) = 0.037132.
    p, lo, hi = breach_probability([True] * 3 + [False] * 97)
    assert p == 0.03 and (lo, hi) == (pytest.approx(0.010255, abs=1e-6), pytest.approx(0.084519, abs=1e-6))
    # 0 of 10: centre = half-width = (z^2 / 20) / (1 + z^2 / 10) = 0.138766, so [0, 0.277532].
    assert breach_probability([False] * 10) == (0.0, 0.0, pytest.approx(0.277532, abs=1e-6))
    single = summarise([5.0])  # one replication: no spread, no interval
    assert (single.sd, single.ci_low, single.ci_high, single.p50) == (0.0, -np.inf, np.inf, 5.0)


#: The fixture made deterministic: 80 (or 160) visitors waiting at the start, no arrivals, 60 s swabs.
DETERMINISTIC = [
    "population.zones[0].arrivals.periods[0].rate_per_h=0",
    "clock.horizon_s=7200",
    "testing.swab_time={dist: deterministic, value_s: 60}",
    "resources.testers.local.shift_s=7200",
]


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r, rad = 6_371_008.8, np.radians  # the mean Earth radius (m)
    a = np.sin(rad(lat2 - lat1) / 2) ** 2 + np.cos(rad(lat1)) * np.cos(rad(lat2)) * np.sin(rad(lon2 - lon1) / 2) ** 2
    return float(2 * r * np.arcsin(np.sqrt(a)))


def test_a_deterministic_sweep_summarises_to_the_hand_computed_values(tmp_path):
    """With nothing random, every replication gives the queue's hand-computed KPIs, so each summary is that value
    with no spread (mean = every percentile, interval of width 0) and no breach (Wilson upper 0.5615 for n = 3)."""
    scenario = load_scenario(TINY, overrides=[*DETERMINISTIC, "thresholds.max_wait_s=1000"])
    report = run_sweep(scenario, replications=3, out=tmp_path / "det", seed=5, engine="serial",
                       vary=["population.zones[0].visitors=80,160"])  # fmt: skip
    # one_site.geojson: visitors walk queue_zone -> site_a (0.0002 deg of longitude at 31.144 N) at 1.2 m/s; the
    # 8 testers drive centre_a -> (121.65, 31.147) -> site_a at 11.1 m/s and swab 8 at a time, 60 s each.
    walk = _haversine_m(121.66, 31.144, 121.6602, 31.144) / 1.2
    drive = (_haversine_m(121.64, 31.15, 121.65, 31.147) + _haversine_m(121.65, 31.147, 121.6602, 31.144)) / 11.1
    assert (walk, drive) == (pytest.approx(15.861, abs=1e-3), pytest.approx(183.319, abs=1e-3))
    for variant, n in zip(report.summary["variants"], (80, 160), strict=True):
        rounds = n // 8  # round k (0-based) starts at drive + 60 k; everyone waits from `walk`
        # The 95th percentile of the n sorted waits (the j-th is in round j // 8) at rank 0.95 (n - 1), linearly
        # interpolated: n = 80, rank 75.05, rounds 9 and 9; n = 160, rank 151.05, rounds 18 and 19 (+0.05 * 60 s).
        rank = 0.95 * (n - 1)
        i, frac = int(rank), rank - int(rank)
        p95_round = i // 8 + frac * ((i + 1) // 8 - i // 8)
        expected = {
            "visitors": n, "tested": n, "stranded_visitors": 0, "max_queue": n,
            "last_tested_min": (drive + 60 * rounds) / 60,
            "mean_wait_min": (drive - walk + 60 * (rounds - 1) / 2) / 60,
            "p95_wait_min": (drive - walk + 60 * p95_round) / 60,
            "max_wait_min": (drive - walk + 60 * (rounds - 1)) / 60,  # the last round: 707.5 s and 1307.5 s
        }  # fmt: skip
        assert variant["replications"] == 3
        for kpi, value in expected.items():
            got = variant["kpis"][kpi]
            assert got["mean"] == pytest.approx(value, abs=1e-5), kpi
            assert got["sd"] == 0 and got["ci_low"] == got["ci_high"] == got["mean"], kpi
            assert got["p5"] == got["p50"] == got["p95"] == got["mean"], kpi
        stranded = variant["breaches"]["anyone_stranded"]
        # Wilson, 0 of 3: upper = 2 (z^2 / 6) / (1 + z^2 / 3) = 0.561497.
        assert (stranded["p"], stranded["ci_low"]) == (0.0, 0.0)
        assert stranded["ci_high"] == pytest.approx(0.561497, abs=1e-6)
        # The maximum wait (1000 s) is passed by someone in every run of the larger crowd, in none of the smaller.
        assert variant["breaches"]["anyone_waits_over_max"]["p"] == (0.0 if n == 80 else 1.0)


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
    # Seed by seed, visitors wait longer for 6 testers than for 8 on every seed (6 < 6.4 busy testers needed: the
    # queue grows); nobody is through by the 2-h horizon under either, so neither finishes later.
    assert first["fewer"]["worse_on"]["mean_wait_min"] == {"seeds": 5, "of": 5}
    assert first["fewer"]["worse_on"]["last_tested_min"] == {"seeds": 0, "of": 5}
    assert set(first["fewer"]["worse_on"]) == {"last_tested_min", "mean_wait_min"}
    assert "worse_on" not in first["default"]
    assert first["fewer"]["kpis"]["mean_wait_min"]["mean"] > first["default"]["kpis"]["mean_wait_min"]["mean"]
    for result in first.values():
        assert 0.0 <= result["breaches"]["misses_target_finish"]["p"] <= 1.0
    again = risk(scenario, {"default": base, "fewer": fewer}, replications=5, seed=3, folder=tmp_path)
    assert again == first
