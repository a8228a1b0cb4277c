"""The crowd models' tunables: the flow LP's and the staff model's options and the LP's objective weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class CrowdWeights:
    """Objective weights (per person-minute): safety first, then waiting outside, then walking."""

    over_critical: float = 1000.0
    over_target: float = 100.0
    queue: float = 1.0
    walk: float = 0.01
    leftover_min: float = 60.0  # minutes charged for each person still held back at the end
    announce: float = 120.0  # per person told not to come (an announcement): worth two hours' wait
    skip_station: float = 20.0  # EST: per person whose train skips their station (on to the next, and back on foot)
    # per person-minute held in place past their time by a `HoldArea`: ten times waiting outside, so that a hold
    # keeps people only where it buys safety, never to save others a wait (at 1 the light show held leavers for
    # hours to let more in)
    hold: float = 10.0


@dataclass(frozen=True)
class CrowdOptions:
    """The flow and staff models' tunables."""

    # The flow LP's period: None sizes it to the LP (`optimizer.crowd.flow.lp_period_s`): 2 minutes, or as many
    # whole minutes more as keep periods x walkways x classes at most `max_lp_size`; a number fixes it.
    period_s: float | None = None
    min_period_s: float = 120.0
    # GLOP's three solves take about 2.4 CPU s at the light show's 138,465 (6-minute periods), 24.5 at its 415,395
    # (2-minute ones): a Run -> plan in 15 s allows no more (benchmarks/README.md, "The flow LP's period").
    max_lp_size: float = 140_000.0
    staff_period_s: float = 900.0
    target_ppm2: float = 2.5  # viewing areas are kept below this (a margin under the 4 /m² warning level)
    utilisation: float = 0.75  # the share of a walkway's capacity the plan may load (random arrivals, friction)
    stair_utilisation: float = 0.35  # the same on stairs (a queue at a stair's foot fills a small landing fast)
    entrance_utilisation: float = 0.75  # the same for people let in at an entrance
    paths_per_pair: int = 1  # people take the shortest route (as they do in the simulation at free flow)
    path_slack: float = 1.5
    exits_per_area: int = 3
    # Leavers: "nearest" walk to the nearest exit open when they get there, as the simulation's leavers do (its
    # route choice: `simulation.crowd.routing`); "free" lets the LP spread them over `exits_per_area` exits (a
    # plan the simulation does not carry out: nothing in it tells leavers where to go).
    exit_choice: Literal["nearest", "free"] = "nearest"
    min_post: int | None = None  # staff a post needs to hold a control: None, the scenario's `staff_post_min`
    min_meter_per_min: float = 1.0
    lookahead_s: float = 1800.0  # the LP looks this far past the scenario's end (no rush in at the very end)
    deterministic: bool = True  # the staff model's CP-SAT on deterministic time (`optimizer.solving`)
    # Whether the plan may hold people in place at the viewing areas past their time (`HoldArea`: a cordon that
    # lets them go in waves, as the police have done after every Bund countdown since 2014).
    hold_areas: bool = True
    # ... within this long after a show's hold ends (the countdown, the end of a light show), when everyone it held
    # is let go at once; never to keep leavers back at other times (the record has no such hold; at any time, the
    # light show's LP held leavers for hours so as to let more people in, and its run came out denser).
    hold_window_s: float = 1800.0
    single_stairs: str = "best"  # unpaired stairs: "two-way", "up" or "down" only, or "best" of two-way and up
    weights: CrowdWeights = field(default_factory=CrowdWeights)


DEFAULT_OPTIONS = CrowdOptions()
