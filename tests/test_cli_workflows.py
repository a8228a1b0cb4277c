"""The sweep, drill and review commands as a user runs them: real processes, real exit codes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
TINY = str(DATA / "one_site_mmc.yaml")
SHORT = "clock.horizon_s=3600"


def yiwang(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "command.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env={**os.environ, **env})  # fmt: skip


def test_sweep_prints_distributions_and_resumes_from_its_folder(tmp_path):
    """A sweep prints its summary as JSON; the same command again reuses every replication."""
    args = ("sweep", TINY, "--replications", "3", "--vary", f"{SHORT}", "--engine", "serial", "--out", "sw", "--json")
    first = yiwang(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    variant = summary["variants"][0]
    assert variant["replications"] == 3
    assert {"mean", "ci_low", "ci_high", "p5", "p50", "p95"} <= set(variant["kpis"]["mean_wait_min"])
    assert "misses_target_finish" in variant["breaches"]
    again = yiwang(*args, cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout) == summary
    assert "0 replications run, 3 reused" in again.stderr
    assert (tmp_path / "sw" / "replications.parquet").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--vary", "nonsense"), "expected field.path=v1,v2"),
     (("--vary", "resources.testers.local.count=-1"), "resources.testers.local.count: must be >= 0"),
     (("--engine", "cloud"), "is not one of serial, local, dask"),
     (("--plan", "missing.json"), "expected default, optimised or a plan JSON file")],
)  # fmt: skip
def test_bad_sweep_input_exits_2_with_the_reason(tmp_path, args, message):
    """A malformed variant, an invalid value, an unknown engine or a missing plan file: exit 2, one reason."""
    result = yiwang("sweep", TINY, "--replications", "2", "--out", "sw", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_drill_start_score_and_review_from_the_command_line(tmp_path):
    """A drill starts from an inject file, scores its (no) decisions, and its review is written and audited."""
    db = f"sqlite:///{tmp_path / 'drill.db'}"
    assert yiwang("init", "--demo", "--db", db, cwd=tmp_path).returncode == 0
    script = tmp_path / "drill.yaml"
    script.write_text("- {at_s: 600, kind: delay, target: local, params: {delay_s: 300}, note: held up}\n"
                      "- {at_s: 900, kind: message, condition: 'queue_total > 1', note: queue growing}\n")  # fmt: skip
    env = {"YIWANG_PASSWORD": "yiwang-demo-only", "YIWANG_DATABASE_URL": db}
    started = yiwang("drill", "start", TINY, "--injects", str(script), "--jurisdiction", "pudong",
                     "--trainee", "trainee", "--user", "admin", cwd=tmp_path, **env)  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert "2 injects; trainee is in command" in started.stdout
    scored = yiwang("drill", "score", "1", "--user", "admin", cwd=tmp_path, **env)
    assert scored.returncode == 0 and "no decisions yet" in scored.stdout
    advanced = yiwang("incident", "advance", "1", "--user", "planner", cwd=tmp_path, **env)
    assert advanced.returncode == 0 and "(inject: delay)" in advanced.stdout
    review = yiwang("review", "1", "--out", "aar.html", "--user", "trainee", cwd=tmp_path, **env)
    assert review.returncode == 0, review.stderr
    html = (tmp_path / "aar.html").read_text(encoding="utf-8")
    assert "EXERCISE / 演练" in html and "inject delay local" in html
    verify = yiwang("audit", "verify", "--user", "admin", cwd=tmp_path, **env)
    assert verify.returncode == 0, verify.stderr


def test_a_crowd_drill_runs_from_the_command_line(tmp_path):
    """A Bund drill (30 minutes) stops at the metro surge at 20:10, the trainee approves the optimiser's plan,
    the conditional closure at 20:15 is skipped as its condition does not hold, and the decision is scored."""
    db = f"sqlite:///{tmp_path / 'crowd.db'}"
    assert yiwang("init", "--demo", "--db", db, cwd=tmp_path).returncode == 0
    script = tmp_path / "bund.yaml"
    script.write_text(
        "- {at_s: 600, kind: surge, target: enr_exit_henan_north, note: metro station overcrowded,\n"
        "   params: {rate_per_h: 20000, duration_s: 600}}\n"
        "- {at_s: 900, kind: close_exit, target: enr_exit_henan_north, params: {duration_s: 600},\n"
        "   condition: 'density:enr_exit_henan_north > 5', note: the metro operator closes it}\n"
    )
    env = {"YIWANG_PASSWORD": "yiwang-demo-only", "YIWANG_DATABASE_URL": db}
    started = yiwang("drill", "start", "bund_new_year_2014", "--set", "clock.horizon_s=1800", "--injects",
                     str(script), "--jurisdiction", "huangpu", "--trainee", "bund_chief", "--user", "admin",
                     cwd=tmp_path, **env)  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert "2 injects; bund_chief is in command" in started.stdout
    advanced = yiwang("incident", "advance", "1", "--user", "planner", cwd=tmp_path, **env)
    assert advanced.returncode == 0, advanced.stderr
    assert "-> 20:10 (inject: surge)" in advanced.stdout and "metro station overcrowded" in advanced.stdout
    planned = yiwang("incident", "plan", "1", "--time-limit", "5", "--user", "planner", cwd=tmp_path, **env)
    assert planned.returncode == 0, planned.stderr
    shown = yiwang("plan", "show", "1", "--json", "--user", "bund_chief", cwd=tmp_path, **env)
    acks = [str(w["number"]) for w in json.loads(shown.stdout)["warnings"]]  # the trainee reads each warning
    approved = yiwang("plan", "approve", "1", "--version", "1", *(["--ack", ",".join(acks)] if acks else []),
                      "--user", "bund_chief", cwd=tmp_path, **env)  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    advanced = yiwang("incident", "advance", "1", "--user", "planner", cwd=tmp_path, **env)
    assert advanced.returncode == 0 and "-> 20:15 (inject: close_exit)" in advanced.stdout, advanced.stderr
    assert "re-plan needed" not in advanced.stdout  # the skipped closure asks for nothing
    log = yiwang("incident", "log", "1", "--user", "bund_chief", cwd=tmp_path, **env)
    assert "density:enr_exit_henan_north > 5: no" in log.stdout, log.stdout
    scored = yiwang("drill", "score", "1", "--json", "--user", "admin", cwd=tmp_path, **env)
    assert scored.returncode == 0, scored.stderr
    [score] = json.loads(scored.stdout)
    assert (score["decision"], score["by"], score["score"]) == ("approved", "bund_chief", 100.0)
    assert set(score["kpis"]) == {"minutes_over_5ppm2", "minutes_over_4ppm2", "crushes"}  # the headline KPIs


def test_bad_drill_input_exits_2_and_opens_nothing(tmp_path):
    """An inject script that is not a list, an inject with a bad condition, or a drill that is neither a file
    nor built in, is refused and no incident opens; a built-in drill by name opens one."""
    db = f"sqlite:///{tmp_path / 'd.db'}"
    assert yiwang("init", "--demo", "--db", db, cwd=tmp_path).returncode == 0
    env = {"YIWANG_PASSWORD": "yiwang-demo-only", "YIWANG_DATABASE_URL": db}
    cases = [("at_s: 5\n", "expected a list of injects"),
             ("- {at_s: 5, kind: message, condition: 'very busy'}\n", "expected QUANTITY OP NUMBER")]
    for text, message in cases:
        script = tmp_path / "bad.yaml"
        script.write_text(text)
        result = yiwang("drill", "start", TINY, "--injects", str(script), "--jurisdiction", "pudong",
                        "--trainee", "trainee", "--user", "admin", cwd=tmp_path, **env)  # fmt: skip
        assert result.returncode == 2 and message in result.stderr, result.stderr
    unknown = yiwang("drill", "start", TINY, "--injects", "no_such_drill", "--jurisdiction", "pudong",
                     "--trainee", "trainee", "--user", "admin", cwd=tmp_path, **env)  # fmt: skip
    assert unknown.returncode == 2 and "not a built-in drill (built-in: bund_2014_metro_surge" in unknown.stderr
    listed = yiwang("incident", "list", "--json", "--user", "admin", cwd=tmp_path, **env)
    assert json.loads(listed.stdout) == []
    built_in = yiwang("drill", "start", "disney_mass_testing", "--injects", "disney_testers_delayed",
                      "--jurisdiction", "pudong", "--trainee", "trainee", "--user", "admin", cwd=tmp_path, **env)
    assert built_in.returncode == 0 and "3 injects; trainee is in command" in built_in.stdout, built_in.stderr
