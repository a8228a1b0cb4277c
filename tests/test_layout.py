"""The four top-level packages are this project's, installed with their data."""

from __future__ import annotations

from pathlib import Path

import command
import optimizer
import scenarios
import simulation
from scenarios.graphs import builtin_graph_dir
from scenarios.loading import builtin_scenario_dir

ROOT = Path(__file__).resolve().parents[1]


def test_generic_package_names_resolve_to_this_project():
    """`command`, `optimizer`, `simulation` and `scenarios` are imported from this project, not elsewhere."""
    for module in (command, optimizer, simulation, scenarios):
        assert Path(module.__file__).resolve().parent.parent == ROOT


def test_builtin_data_ships_inside_the_package():
    """Built-in graphs and scenarios live inside the `scenarios` package so a wheel install finds them."""
    assert builtin_graph_dir().is_relative_to(Path(scenarios.__file__).parent)
    assert builtin_scenario_dir().is_relative_to(Path(scenarios.__file__).parent)
