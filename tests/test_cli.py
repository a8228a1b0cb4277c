"""The `yiwang` command line as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scenarios.loading import builtin_scenario_names


def yiwang(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "command.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)  # fmt: skip


def test_validate_accepts_every_builtin_scenario():
    """Each built-in scenario validates, exit 0."""
    names = builtin_scenario_names()
    assert names, "no built-in scenarios shipped"
    result = yiwang("validate", *names)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": valid (") == len(names)


def test_validate_broken_file_exits_2_with_one_line_per_problem(tmp_path, data_dir):
    """A scenario with two problems gives exactly two `FILE: path: reason` lines on stderr and exit 2."""
    text = (data_dir / "one_site_mmc.yaml").read_text()
    text = text.replace("count: 8,", "count: -8,").replace("booths: 8", "booths: lots")
    (tmp_path / "one_site.geojson").write_text((data_dir / "one_site.geojson").read_text())
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = yiwang("validate", str(broken))
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        "broken.yaml: resources.testers.local.count: must be >= 0 (got -8)",
        "broken.yaml: testing.sites[0].booths: input should be a valid integer, unable to parse string as an "
        "integer (got 'lots')",
    ]
    assert result.stdout == ""


def test_unknown_scenario_exits_2():
    """A name that is neither a file nor a built-in exits 2 with a reason."""
    result = yiwang("run", "atlantis")
    assert result.returncode == 2
    assert "not a built-in scenario" in result.stderr


def test_bad_option_value_exits_2():
    """A malformed option is bad input: exit 2."""
    result = yiwang("run", "tests/data/one_site_mmc.yaml", "--seed", "minus-one")
    assert result.returncode == 2


def test_scenarios_lists_the_builtins():
    """`yiwang scenarios` prints one line per built-in scenario with its kind."""
    result = yiwang("scenarios")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(builtin_scenario_names())
    assert any(" mass_testing " in line for line in lines)


def test_graph_summary_of_a_file(data_dir):
    """`yiwang graph FILE` summarises nodes by kind, edges by mode and the bounding box."""
    result = yiwang("graph", str(data_dir / "one_site.geojson"))
    assert result.returncode == 0, result.stderr
    assert "3 nodes, 4 directed edges" in result.stdout
    assert "district_centre 1, test_site 1, zone 1" in result.stdout
    assert "road        2      2.04 km" in result.stdout


@pytest.mark.parametrize("extra", [["--no-optimize"]])
def test_run_json_is_reproducible_across_processes(data_dir, extra):
    """The same seed gives the same JSON in two separate processes, bar wall times."""
    args = ["run", str(data_dir / "one_site_mmc.yaml"), "--seed", "3", "--json", *extra]
    first, second = yiwang(*args), yiwang(*args)
    assert first.returncode == 0, first.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    for doc in (a, b):
        doc["sim"].pop("wall_s")
        doc["baseline"]["sim"].pop("wall_s")
    assert a == b
    assert {"scenario", "kind", "seed", "baseline", "plan", "sim"} <= set(a)
    assert set(a["sim"]) == {"events", "sim_s"}
    assert a["baseline"]["kpis"]["last_tested_min"] > 0
