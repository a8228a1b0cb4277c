"""The same scenario, seed and options give the same plan however busy the machine is (issue 18): the typhoon and
crowd optimisers search on CP-SAT's deterministic time, so a run beside processes that burn every core finds
exactly the plan a run on a quiet machine finds."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from command.kinds import optimise
from optimizer.result import PlanResult, SolveParams
from scenarios import load_scenario

SPAWN = multiprocessing.get_context("spawn")
BURN_LIMIT_S = 300.0  # a burner stops by itself after this, should the test die without stopping it


def _burn(stop: multiprocessing.synchronize.Event) -> None:
    """Spin until told to stop (or for at most BURN_LIMIT_S)."""
    end = time.monotonic() + BURN_LIMIT_S
    x = 0
    while not stop.is_set() and time.monotonic() < end:
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


@contextmanager
def busy_machine() -> Iterator[None]:
    """Every core kept busy by a process of its own while inside."""
    stop = SPAWN.Event()
    burners = [SPAWN.Process(target=_burn, args=(stop,), daemon=True) for _ in range(os.cpu_count() or 2)]
    for p in burners:
        p.start()
    try:
        time.sleep(0.5)  # let them get going
        yield
    finally:
        stop.set()
        for p in burners:
            p.join(10)
            if p.is_alive():
                p.kill()


def what_was_planned(result: PlanResult) -> tuple:  # type: ignore[type-arg]
    """The plan's actions and the solver's objective and bound (not its wall time, which a busy machine changes)."""
    assert result.plan is not None
    return result.plan.actions, result.status, result.objective, result.bound


@pytest.mark.parametrize(
    ("name", "overrides", "limit_s"),
    [("huangpu_typhoon", ["clock.horizon_s=43200"], 4.0), ("bund_new_year_2014", ["clock.horizon_s=3600"], 4.0)],
    ids=["typhoon", "crowd"],
)
def test_the_same_inputs_give_the_same_plan_on_a_busy_machine(name: str, overrides: list[str], limit_s: float) -> None:
    """Optimised twice with the same seed, once on a quiet machine and once beside a burner on every core, the
    plan's actions, status, objective and bound are identical."""
    scenario = load_scenario(name, overrides=overrides)
    params = SolveParams(time_limit_s=limit_s, seed=scenario.seed)
    quiet = optimise(scenario, params)
    with busy_machine():
        busy = optimise(scenario, params)
    assert what_was_planned(busy) == what_was_planned(quiet)
