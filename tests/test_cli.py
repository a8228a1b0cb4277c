"""The `yiwang` command line as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

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
    """A scenario with two problems gives exactly two `FILE: path: reason` lines on stderr, FILE the path as given,
    and exit 2."""
    text = (data_dir / "one_site_mmc.yaml").read_text()
    text = text.replace("count: 8,", "count: -8,").replace("booths: 8", "booths: lots")
    (tmp_path / "one_site.geojson").write_text((data_dir / "one_site.geojson").read_text())
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = yiwang("validate", str(broken))
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        f"{broken}: resources.testers.local.count: must be >= 0 (got -8)",
        f"{broken}: testing.sites[0].booths: input should be a valid integer, unable to parse string as an "
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


def test_routes_solves_a_standard_instance_to_its_optimum():
    """`yiwang routes` prints VRPLIB routes and the published optimum cost for E-n22-k4 (375)."""
    instance = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "vrp" / "E-n22-k4.vrp"
    result = yiwang("routes", str(instance), "--time-limit", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "Cost 375"
    served = sorted(int(c) for line in lines[:-1] for c in line.split(":")[1].split())
    assert served == list(range(1, 22))


def test_routes_bad_file_exits_2(tmp_path):
    """An unreadable instance file is bad input: exit 2 with the file named."""
    bad = tmp_path / "bad.vrp"
    bad.write_text("this is not an instance\n")
    result = yiwang("routes", str(bad))
    assert result.returncode == 2
    assert "bad.vrp" in result.stderr


@pytest.mark.slow
def test_wheel_ships_every_package_and_the_builtin_data(tmp_path):
    """A built wheel contains all subpackages and the built-in graphs and scenarios, and no tests."""
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(root)], check=True, capture_output=True, timeout=600)  # fmt: skip
    wheel = next(tmp_path.glob("yiwang-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("command/cli/__init__.py", "optimizer/routing/__init__.py", "simulation/mass_testing.py",
                     "scenarios/data/graphs/disney.geojson", "scenarios/data/graphs/bund.geojson",
                     "scenarios/data/graphs/crossings.geojson",
                     "scenarios/data/scenarios/disney_mass_testing.yaml"):  # fmt: skip
        assert required in names, required
    assert not any(n.startswith(("tests/", "benchmarks/", "tools/")) for n in names)
