"""The routing problem as frozen data: one depot (node 0), customers 1..n-1, a distance matrix and its units.

Distances are stored as floats already rounded by the instance's convention (TSPLIB `nint`, the
DIMACS/Solomon one-decimal truncation, ...), together with `decimals`, the number of decimals that convention
keeps. Solvers work on the exact integers `round(value * 10**decimals)`, so a Solomon distance of 38.0
becomes 380 and a plan's cost is summed without floating-point drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_DECIMALS = 3


class DistanceConvention(StrEnum):
    """How raw Euclidean distances between coordinates become the instance's distances."""

    NINT = "nint"  # TSPLIB EUC_2D: nearest integer, floor(d + 0.5). CVRPLIB A/E/X sets.
    TRUNC1 = "trunc1"  # DIMACS VRPTW / Solomon: truncated to one decimal, floor(10 d) / 10.
    CEIL = "ceil"  # TSPLIB CEIL_2D: rounded up to an integer.
    EXACT = "exact"  # Unrounded, kept to three decimals so integer solvers see it (nearly) exactly.
    EXPLICIT = "explicit"  # A matrix given as is (EXPLICIT edge weights, travel-time matrices).


CONVENTION_DECIMALS: dict[DistanceConvention, int] = {
    DistanceConvention.NINT: 0,
    DistanceConvention.TRUNC1: 1,
    DistanceConvention.CEIL: 0,
    DistanceConvention.EXACT: MAX_DECIMALS,
}


def euclidean(coordinates: npt.ArrayLike) -> FloatArray:
    """Pairwise Euclidean distances between the rows of an (n, 2) coordinate array."""
    xy = np.asarray(coordinates, dtype=float)
    return np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])


def apply_convention(raw: npt.ArrayLike, convention: DistanceConvention | str) -> FloatArray:
    """Round a raw distance matrix the way `convention` says (EXPLICIT leaves it unchanged)."""
    d = np.asarray(raw, dtype=float)
    match DistanceConvention(convention):
        case DistanceConvention.NINT:
            return np.floor(d + 0.5)
        case DistanceConvention.TRUNC1:
            # The small epsilon keeps exact tenths (e.g. sqrt(1.21) = 1.0999999...) from losing a tenth.
            return np.floor(d * 10 + 1e-9) / 10
        case DistanceConvention.CEIL:
            return np.ceil(d - 1e-9)
        case DistanceConvention.EXACT:
            return np.round(d, MAX_DECIMALS)
        case DistanceConvention.EXPLICIT:
            return d


def decimals_needed(*arrays: npt.ArrayLike | None, limit: int = MAX_DECIMALS) -> int:
    """The fewest decimals (at most `limit`) that represent every value in `arrays` exactly."""
    values = [np.asarray(a, dtype=float).ravel() for a in arrays if a is not None]
    if not values:
        return 0
    flat = np.concatenate(values)
    for decimals in range(limit + 1):
        scaled = flat * 10**decimals
        if np.all(np.abs(scaled - np.rint(scaled)) < 1e-6):
            return decimals
    return limit


def _frozen(array: npt.ArrayLike | None, dtype: Any) -> Any:
    if array is None:
        return None
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False, kw_only=True)
class RoutingProblem:
    """A capacitated vehicle-routing problem, optionally with time windows (VRPTW); node 0 is the depot.

    Travel times are `durations` when given, otherwise the distances themselves (the Solomon convention).
    The objective is the total distance. All times (windows, service) are in the same units as the travel
    times. `num_vehicles=None` means as many vehicles as needed; `capacity=None` means uncapacitated.
    """

    distances: FloatArray
    demands: IntArray
    capacity: int | None
    num_vehicles: int | None = None
    time_windows: FloatArray | None = None
    service_times: FloatArray | None = None
    durations: FloatArray | None = None
    decimals: int = 0
    convention: DistanceConvention = DistanceConvention.EXPLICIT
    name: str = ""
    names: tuple[str, ...] | None = None
    coordinates: FloatArray | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "distances", _frozen(self.distances, float))
        set_(self, "demands", _frozen(self.demands, np.int64))
        set_(self, "time_windows", _frozen(self.time_windows, float))
        set_(self, "service_times", _frozen(self.service_times, float))
        set_(self, "durations", _frozen(self.durations, float))
        set_(self, "coordinates", _frozen(self.coordinates, float))
        set_(self, "convention", DistanceConvention(self.convention))
        if self.names is not None:
            set_(self, "names", tuple(str(n) for n in self.names))
        problems = self.structural_problems()
        if problems:
            where = f"{self.source}: " if self.source else ""
            raise ValueError(where + "; ".join(problems))

    # --- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_matrices(
        cls,
        distances: npt.ArrayLike,
        *,
        durations: npt.ArrayLike | None = None,
        demands: npt.ArrayLike | None = None,
        capacity: int | None = None,
        num_vehicles: int | None = None,
        time_windows: npt.ArrayLike | None = None,
        service_times: npt.ArrayLike | None = None,
        decimals: int | None = None,
        names: tuple[str, ...] | None = None,
        coordinates: npt.ArrayLike | None = None,
        name: str = "",
    ) -> RoutingProblem:
        """Build a problem from matrices, e.g. travel times in seconds between a depot (row 0) and stops.

        Values are rounded to `decimals` (default: the fewest decimals, at most three, that keep every
        value exact); pass `decimals=0` to work in whole seconds. Without `durations`, the distance matrix is
        also the travel-time matrix, so a travel-time matrix alone gives a "minimise total travel time" plan.
        """
        d = np.asarray(distances, dtype=float)
        if decimals is None:
            decimals = decimals_needed(d, durations, time_windows, service_times)

        def rounded(a: npt.ArrayLike | None) -> FloatArray | None:
            return None if a is None else np.round(np.asarray(a, dtype=float), decimals)

        n = d.shape[0] if d.ndim == 2 else 0
        return cls(
            distances=np.round(d, decimals),
            durations=rounded(durations),
            demands=np.zeros(n, dtype=np.int64) if demands is None else np.asarray(demands),
            capacity=capacity,
            num_vehicles=num_vehicles,
            time_windows=rounded(time_windows),
            service_times=rounded(service_times),
            decimals=decimals,
            convention=DistanceConvention.EXPLICIT,
            names=names,
            coordinates=None if coordinates is None else np.asarray(coordinates, dtype=float),
            name=name,
        )

    # --- views ---------------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of nodes, the depot included."""
        return int(self.distances.shape[0])

    @property
    def customers(self) -> range:
        """Customer node indices (1..n-1), the numbering VRPLIB solution files use."""
        return range(1, self.size)

    @property
    def scale(self) -> int:
        """Multiplier that turns distances and times into exact integers."""
        return int(10**self.decimals)

    @property
    def has_time_windows(self) -> bool:
        return self.time_windows is not None

    def travel_times(self) -> FloatArray:
        """Travel-time matrix: `durations` if given, else the distances."""
        return self.durations if self.durations is not None else self.distances

    def int_distances(self) -> IntArray:
        """Distances as exact integers in units of 10**-decimals."""
        return np.rint(self.distances * self.scale).astype(np.int64)

    def int_travel_times(self) -> IntArray:
        """Travel times as exact integers in units of 10**-decimals."""
        return np.rint(self.travel_times() * self.scale).astype(np.int64)

    def int_service_times(self) -> IntArray:
        """Service time per node as integers (zeros when the problem has none)."""
        if self.service_times is None:
            return np.zeros(self.size, dtype=np.int64)
        return np.rint(self.service_times * self.scale).astype(np.int64)

    def int_time_windows(self) -> IntArray | None:
        """(n, 2) earliest and latest service start as integers, or None without time windows."""
        if self.time_windows is None:
            return None
        return np.rint(self.time_windows * self.scale).astype(np.int64)

    def label(self, node: int) -> str:
        """How to name a node in a message: its index, and its id in the source file when that differs."""
        if self.names is not None and self.names[node] != str(node):
            return f"{node} (node {self.names[node]} in the file)"
        return str(node)

    # --- checks --------------------------------------------------------------------------------------------

    def structural_problems(self) -> list[str]:
        """Shape and sign errors that make the problem meaningless (raised by the constructor)."""
        out: list[str] = []
        d = self.distances
        if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 1:
            return [f"distances: shape {d.shape} is not a square matrix with at least the depot"]
        n = d.shape[0]
        if not np.all(np.isfinite(d)):
            out.append("distances: contains NaN or infinite values")
        elif np.any(d < 0):
            out.append("distances: contains negative values")
        if self.durations is not None:
            if self.durations.shape != d.shape:
                out.append(f"durations: shape {self.durations.shape} differs from distances {d.shape}")
            elif not np.all(np.isfinite(self.durations)) or np.any(self.durations < 0):
                out.append("durations: contains negative, NaN or infinite values")
        if self.demands.shape != (n,):
            out.append(f"demands: {self.demands.shape[0] if self.demands.ndim else 0} values for {n} nodes")
        elif np.any(self.demands < 0):
            node = int(np.argmax(self.demands < 0))
            out.append(f"demands: customer {node} has negative demand {int(self.demands[node])}")
        elif self.demands[0] != 0:
            out.append(f"demands: the depot (node 0) has demand {int(self.demands[0])}; it must be 0")
        if self.capacity is not None and self.capacity < 0:
            out.append(f"capacity: {self.capacity} is negative")
        if self.num_vehicles is not None and self.num_vehicles < 1:
            out.append(f"num_vehicles: {self.num_vehicles} must be at least 1 (or None for unlimited)")
        if self.time_windows is not None:
            if self.time_windows.shape != (n, 2):
                out.append(f"time_windows: shape {self.time_windows.shape}, expected ({n}, 2)")
            elif not np.all(np.isfinite(self.time_windows)):
                out.append("time_windows: contains NaN or infinite values")
            elif np.any(self.time_windows < 0):
                node = int(np.argmax((self.time_windows < 0).any(axis=1)))
                out.append(
                    f"time_windows: node {node} has {self.time_windows[node].tolist()}; times are "
                    "measured from the start of the horizon and cannot be negative"
                )
        if self.service_times is not None:
            if self.service_times.shape != (n,):
                out.append(f"service_times: shape {self.service_times.shape}, expected ({n},)")
            elif np.any(self.service_times < 0):
                out.append("service_times: contains negative values")
        if self.names is not None and len(self.names) != n:
            out.append(f"names: {len(self.names)} names for {n} nodes")
        if self.coordinates is not None and self.coordinates.shape != (n, 2):
            out.append(f"coordinates: shape {self.coordinates.shape}, expected ({n}, 2)")
        if not 0 <= self.decimals <= 6:
            out.append(f"decimals: {self.decimals} is outside 0..6")
        return out

    def unservable(self) -> dict[int, str]:
        """Customers no plan can serve, each with the reason (checked one at a time, from the depot and back).

        A customer is unservable when its demand exceeds the capacity, its time window is empty, the earliest
        arrival from the depot is after the window closes, or serving it leaves no time to get back to the
        depot before the depot closes.
        """
        reasons: dict[int, str] = {}
        fmt = self.format_value
        if self.capacity is not None:
            for i in self.customers:
                if self.demands[i] > self.capacity:
                    reasons[i] = f"demand {int(self.demands[i])} exceeds vehicle capacity {self.capacity}"
        tw = self.int_time_windows()
        if tw is None:
            return reasons
        travel = self.int_travel_times()
        service = self.int_service_times()
        depot_open, depot_close = int(tw[0, 0]), int(tw[0, 1])
        if depot_open > depot_close:
            return {
                i: f"the depot's window [{fmt(depot_open)}, {fmt(depot_close)}] is empty"
                for i in self.customers
            }
        for i in self.customers:
            if i in reasons:
                continue
            early, late = int(tw[i, 0]), int(tw[i, 1])
            arrival = depot_open + int(service[0]) + int(travel[0, i])
            start = max(arrival, early)
            back = start + int(service[i]) + int(travel[i, 0])
            if early > late:
                reasons[i] = f"time window [{fmt(early)}, {fmt(late)}] is empty"
            elif arrival > late:
                reasons[i] = (
                    f"time window [{fmt(early)}, {fmt(late)}] closes before the earliest arrival "
                    f"from the depot ({fmt(arrival)})"
                )
            elif back > depot_close:
                reasons[i] = (
                    f"served at {fmt(start)} at the earliest, a vehicle is back at the depot at "
                    f"{fmt(back)}, after it closes at {fmt(depot_close)}"
                )
        return reasons

    def format_value(self, scaled: int | float) -> str:
        """An integer in units of 10**-decimals, printed with the problem's decimals (380 -> '38.0')."""
        return f"{scaled / self.scale:.{self.decimals}f}"

    def restricted(self, keep: list[int]) -> RoutingProblem:
        """The same problem on the depot and the customers in `keep` (renumbered 1..len(keep), in order)."""
        nodes = np.array([0, *keep], dtype=np.int64)
        sub = np.ix_(nodes, nodes)

        def take(a: np.ndarray | None) -> Any:
            return None if a is None else a[nodes]

        return RoutingProblem(
            distances=self.distances[sub],
            demands=self.demands[nodes],
            capacity=self.capacity,
            num_vehicles=self.num_vehicles,
            time_windows=take(self.time_windows),
            service_times=take(self.service_times),
            durations=None if self.durations is None else self.durations[sub],
            decimals=self.decimals,
            convention=self.convention,
            name=self.name,
            names=None if self.names is None else tuple(self.names[i] for i in nodes),
            coordinates=take(self.coordinates),
            source=self.source,
        )

    def fleet_size(self) -> int:
        """Vehicles a solver may use: the given number, or one per customer when unlimited."""
        return self.num_vehicles if self.num_vehicles is not None else max(1, self.size - 1)

    def __repr__(self) -> str:
        kind = "VRPTW" if self.has_time_windows else "CVRP"
        fleet = "unlimited" if self.num_vehicles is None else self.num_vehicles
        return (
            f"RoutingProblem({self.name or 'unnamed'}: {kind}, {self.size - 1} customers, "
            f"capacity {self.capacity}, vehicles {fleet}, {self.convention.value} distances)"
        )


__all__ = [
    "CONVENTION_DECIMALS",
    "DistanceConvention",
    "RoutingProblem",
    "apply_convention",
    "decimals_needed",
    "euclidean",
]
