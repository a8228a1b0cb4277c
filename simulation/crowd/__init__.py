"""Crowds: a mesoscopic pedestrian flow on the city graph (cell transmission), advanced by one SimPy process.

People are not agents. They are amounts (real numbers) per place and per class, so that a step costs the same
for 1,000 or 1,000,000 people; the cost grows with the graph (cells, nodes) and the number of classes only.
Classes: one per destination (heading for a viewing area) and `leave` (heading for the nearest open exit);
people dwelling at a viewing area are counted there apart from the walkers.

The kind's doors: `simulate(scenario, plan=None, *, seed=None, until_s=None) -> SimResult` and
`state_at(scenario, plan, *, seed, at_s) -> scenarios.crowd.CrowdState`. The package, one job a module:

- `network`: the walkway network (cells, doors, holding areas, widths and capacities), built from the graph
  with a holding area before each origin where those waiting to come in stand (`holding_graph`), and the
  densities each place can be pressed to (`pressed`: the walking jam, or a scenario's `crush.places`);
- `step`: one vectorised flow step (compiled in `simulation.crowd_kernel`, or the NumPy reference);
- `routing`: route choice (walking times, shortest times, route shares) and full viewing areas;
- `controls`: how plan actions and injects take effect (metering, one-way, closures, staff posts and their
  reach, routing shares, announcements, stations the trains skip, show changes, surges, delays);
- `patience`: who waits in each holding area, first in, first out, and who gives up when their patience runs
  out (another viewing area, home, or push on: the scenario's `patience`, opt-in);
- `processes`: the SimPy processes (arrivals and the stepper, the router, the controller, staff teams,
  injects, the sampler);
- `batch`: the steps due before any other event of the run in one compiled call (the same results to the last
  bit as one step at a time);
- `readout`: thresholds and stalls watched after each step, the KPIs, the series, the events, the state;
- `model`: `CrowdModel`, which ties them together, and the two doors.
"""

from __future__ import annotations

from scenarios.crowd import show_hold
from simulation.crowd.controls import Control, Controls
from simulation.crowd.model import STREAMS, CrowdModel, simulate, state_at
from simulation.crowd.network import MIN_CELL_M, SWAP_PMPS, CrowdNetwork, Geometry, Layout, build_network
from simulation.crowd.readout import (
    BREACH_EVENTS,
    HYSTERESIS_PPM2,
    KPI_LEVELS,
    SAMPLE_EVERY_S,
    STALL_CHECK_S,
    STALL_HOLD_S,
    STALL_SPEED_MPS,
    Watch,
    breaches,
    cautions,
    crossings,
)
from simulation.crowd.routing import MIN_SPEED_MPS, RETARGET_MAX_S, ROUTE_EVERY_S, ROUTE_SMOOTHING, Routes
from simulation.crowd.step import COUNTERFLOW_FRICTION, DWELL_SAMPLES, KERNEL_ENV, KERNELS, dwell_kernel

__all__ = [
    "BREACH_EVENTS", "COUNTERFLOW_FRICTION", "DWELL_SAMPLES", "HYSTERESIS_PPM2", "KERNELS", "KERNEL_ENV", "KPI_LEVELS",
    "MIN_CELL_M", "MIN_SPEED_MPS", "RETARGET_MAX_S", "ROUTE_EVERY_S", "ROUTE_SMOOTHING", "SAMPLE_EVERY_S",
    "STALL_CHECK_S", "STALL_HOLD_S", "STALL_SPEED_MPS", "STREAMS", "SWAP_PMPS", "Control", "Controls", "CrowdModel",
    "CrowdNetwork", "Geometry", "Layout", "Routes", "Watch", "breaches", "build_network", "cautions", "crossings",
    "dwell_kernel", "show_hold", "simulate", "state_at",
]  # fmt: skip
