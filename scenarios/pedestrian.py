"""Pedestrian fundamental diagrams and bottleneck capacity: speed, flow and capacity as functions of density.

A fundamental diagram (FD) relates crowd density D (persons/m²) to walking speed v(D) (m/s) and to specific
flow q(D) = D·v(D) (persons per metre of width per second). Two are provided behind one Protocol:

- `Weidmann`: Weidmann (1993), v(D) = v0·(1 − exp(−γ·(1/D − 1/Dmax))), with v0 = 1.34 m/s, γ = 1.913 /m²
  and Dmax = 5.4 /m² by default; its maximum flow is about 1.22 persons/m/s at D ≈ 1.75 /m².
- `SFPE`: the SFPE Handbook's hydraulic model, v(D) = k·(1 − 0.266·D) for D ≥ 0.54 /m² and constant below,
  with k = 1.40 m/s on level walkways, ramps and doorways and k = 1.00–1.23 m/s on stairs by riser and tread
  (1.16 for 165 mm risers and 305 mm treads, close to the Bund stairs); its jam density is 1/0.266 ≈ 3.76 /m²
  and its maximum flow k/(4·0.266) ≈ 1.32 persons/m/s on the level.

A door or short bottleneck discharges at its own specific flow times its width: `Bottleneck`. The range
reported for doors and bottlenecks is 1.3–1.9 persons/m/s: the SFPE Handbook's design figure is 1.3 per metre
of *effective* width (the clear width less a boundary layer of 0.15 m at each door jamb), and the Jülich and
Wuppertal laboratory experiments measured about 1.9 per metre of clear width, linear in the width from 0.8 m
to 5 m (Seyfried, Passon, Steffen, Boltes, Rupprecht and Klingsch, "New insights into pedestrian flow through
bottlenecks", Transportation Science 43(3), 2009; Liao, Seyfried, Zhang, Boltes, Zheng and Zhao, "Experimental
study on pedestrian flow through wide bottleneck", Transportation Research Procedia 2, 2014). The model's
widths are clear widths, and its crowds are mixed and unhurried (families at a festival, not students asked
to hurry), so the default, `DOOR_SPECIFIC_FLOW_PMPS` = 1.5, is an estimate inside that range: the SFPE figure
converted to the clear width of a 2–5 m opening (1.3 × (w − 0.3)/w ≈ 1.1–1.2) is below it and the laboratory's
motivated flow above it. A scenario sets its own (`walking.specific_flow_pmps`).

For the cell-transmission model, `demand(D)` (what a cell can send per metre of width) is q(D) below the
critical density and the capacity above it; `supply(D)` (what it can receive) is the capacity below the critical
density and q(D) above it (Lebacque's sending and receiving functions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Protocol, cast, overload

import numpy as np

SFPE_A = 0.266  # m²/person: the SFPE speed-density slope
# EST: the share of a walkway's capacity lost to balanced counter-flow without lanes: the simulation's cells send
# and receive 1 − κ·(1 − |n₁ − n₂| / (n₁ + n₂)) of their capacity (`simulation.crowd.step`), and the crowd
# optimiser charges the same to the plan's counter-flows (`optimizer.crowd.lp`).
COUNTERFLOW_FRICTION = 0.15
SFPE_K_LEVEL = 1.40  # m/s: corridors, aisles, ramps, doorways
SFPE_K_STAIR = 1.16  # m/s: stairs with 165 mm risers and 305 mm treads
SFPE_MIN_DENSITY = 0.54  # /m²: below this the SFPE speed is constant
DOOR_SPECIFIC_FLOW_PMPS = 1.5  # EST in the reported 1.3–1.9 (SFPE Handbook; Seyfried et al. 2009): see above


class FundamentalDiagram(Protocol):
    """Speed and specific flow as functions of density, with the jam density and the capacity they imply."""

    @property
    def jam_density(self) -> float: ...

    @property
    def free_speed(self) -> float: ...

    def speed(self, density: np.ndarray | float) -> np.ndarray: ...

    def flow(self, density: np.ndarray | float) -> np.ndarray: ...

    @property
    def capacity(self) -> float: ...

    @property
    def critical_density(self) -> float: ...


def _argmax_flow(fd: FundamentalDiagram) -> tuple[float, float]:
    """The density of maximum flow and the maximum flow, by a fine grid then golden-section refinement."""
    grid = np.linspace(1e-6, fd.jam_density, 20_001)
    i = int(np.argmax(fd.flow(grid)))
    lo, hi = grid[max(0, i - 1)], grid[min(grid.size - 1, i + 1)]
    g = (np.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if float(fd.flow(a)) > float(fd.flow(b)):
            hi = b
        else:
            lo = a
    d = (lo + hi) / 2
    return float(d), float(fd.flow(d))


class _Diagram(ABC):
    """Shared parts: flow = density × speed, the capacity point, demand and supply; each diagram gives speed."""

    jam_density: float
    free_speed: float
    _peak: tuple[float, float]  # (critical density, capacity): each diagram sets it once it is built

    @abstractmethod
    def speed(self, density: np.ndarray | float) -> np.ndarray:
        """Walking speed (m/s) at a density (persons/m²)."""

    def flow(self, density: np.ndarray | float) -> np.ndarray:
        d = np.clip(np.asarray(density, dtype=float), 0.0, self.jam_density)
        return cast(np.ndarray, d * self.speed(d))  # numpy's stubs type this product as Any

    @property
    def critical_density(self) -> float:
        return self._peak[0]

    @property
    def capacity(self) -> float:
        """The maximum specific flow, persons per metre of width per second."""
        return self._peak[1]

    def demand(self, density: np.ndarray) -> np.ndarray:
        """What a stretch at this density can send, per metre of width per second."""
        return np.where(density < self.critical_density, self.flow(density), self.capacity)

    def supply(self, density: np.ndarray) -> np.ndarray:
        """What a stretch at this density can receive, per metre of width per second."""
        return np.where(density < self.critical_density, self.capacity, self.flow(density))


@dataclass(frozen=True)
class Weidmann(_Diagram):
    """Weidmann (1993): v(D) = v0·(1 − exp(−γ·(1/D − 1/Dmax))); `stair_factor` scales the speed on stairs."""

    v0: float = 1.34
    gamma: float = 1.913
    d_max: float = 5.4
    _peak: tuple[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_peak", _argmax_flow(self))

    @property
    def jam_density(self) -> float:  # type: ignore[override]
        return self.d_max

    @property
    def free_speed(self) -> float:  # type: ignore[override]
        return self.v0

    def speed(self, density: np.ndarray | float) -> np.ndarray:
        d: np.ndarray = np.clip(np.asarray(density, dtype=float), 1e-12, self.d_max)
        return self.v0 * (1.0 - np.exp(-self.gamma * (1.0 / d - 1.0 / self.d_max)))


@dataclass(frozen=True)
class SFPE(_Diagram):
    """SFPE hydraulic model: v(D) = k·(1 − 0.266·max(D, 0.54)); k = 1.40 m/s level, 1.16 m/s on stairs."""

    k: float = SFPE_K_LEVEL
    _peak: tuple[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_peak", _argmax_flow(self))

    @property
    def jam_density(self) -> float:  # type: ignore[override]
        return 1.0 / SFPE_A

    @property
    def free_speed(self) -> float:  # type: ignore[override]
        return self.k * (1.0 - SFPE_A * SFPE_MIN_DENSITY)

    def speed(self, density: np.ndarray | float) -> np.ndarray:
        d: np.ndarray = np.clip(np.asarray(density, dtype=float), SFPE_MIN_DENSITY, self.jam_density)
        return self.k * (1.0 - SFPE_A * d)


@dataclass(frozen=True)
class Bottleneck:
    """A door or short bottleneck: it passes at most `specific_flow` persons per metre per second."""

    specific_flow: float = DOOR_SPECIFIC_FLOW_PMPS

    @overload
    def capacity(self, width_m: float) -> float: ...
    @overload
    def capacity(self, width_m: np.ndarray) -> np.ndarray: ...
    def capacity(self, width_m: float | np.ndarray) -> float | np.ndarray:
        """Persons per second through an opening of this effective width."""
        return self.specific_flow * width_m


def walking_model(walking: object) -> tuple[Weidmann | SFPE, float]:
    """The level diagram a scenario's `walking` section configures, and the factor stairs scale its speeds by."""
    if getattr(walking, "fundamental_diagram", "weidmann") == "sfpe":
        return SFPE(SFPE_K_LEVEL), SFPE_K_STAIR / SFPE_K_LEVEL
    w = walking
    level = Weidmann(v0=w.free_speed_mps, gamma=w.weidmann_gamma, d_max=w.jam_density_ppm2)  # type: ignore[attr-defined]
    return level, float(w.stair_speed_factor)  # type: ignore[attr-defined]
