"""The riders' forecast per bay: who reaches each bus bay, for which destination, in which time bucket.

`BayForecast` is the data (given, or re-based for a re-plan by `BayForecast.after`); `forecast_bay_demand` builds
it from a testing completion curve: tested × bus share × destination shares, walked to the nearest bay (and the
metro's late riders to the bay nearest the station, as the simulation has them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scenarios.mass_testing import MassTestingGeometry
from scenarios.schema import MassTestingScenario

EPS = 1e-9  # the tolerance of every rounding onto the time grid


@dataclass(frozen=True)
class BayForecast:
    """Riders expected to reach each bus bay, per destination, per time bucket from `start_s`.

    `arrivals[(bay, destination)][k]` riders reach `bay` for `destination` in
    [start_s + k * bucket_s, start_s + (k + 1) * bucket_s); counts may be fractional (expected values).
    """

    bucket_s: float
    arrivals: Mapping[tuple[str, str], tuple[float, ...]]
    start_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bucket_s) and self.bucket_s > 0):
            raise ValueError(f"bucket_s: {self.bucket_s!r} must be a positive number of seconds")
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise ValueError(f"start_s: {self.start_s!r} must be a non-negative number of seconds")
        clean: dict[tuple[str, str], tuple[float, ...]] = {}
        for key, row in self.arrivals.items():
            values = tuple(float(v) for v in row)
            for k, v in enumerate(values):
                if not (math.isfinite(v) and v >= 0):
                    raise ValueError(f"arrivals[{key!r}][{k}]: {v!r} must be a non-negative number")
            clean[(str(key[0]), str(key[1]))] = values
        object.__setattr__(self, "arrivals", clean)

    @property
    def n_buckets(self) -> int:
        return max((len(row) for row in self.arrivals.values()), default=0)

    def total(self, bay: str | None = None, destination: str | None = None) -> float:
        """Riders forecast in all (optionally at one bay, or for one destination)."""
        return sum(sum(row) for (b, d), row in self.arrivals.items()
                   if (bay is None or b == bay) and (destination is None or d == destination))  # fmt: skip

    def after(self, at_s: float, bucket_s: float | None = None) -> BayForecast:
        """The riders still to come at `at_s`, on buckets of `bucket_s` (default this forecast's) from `at_s`: a
        re-plan's forecast, those who came before being in its state. A bucket's riders are spread evenly over
        it, as `forecast_bay_demand` has them, on both grids."""
        offset = at_s - self.start_s
        if not (math.isfinite(offset) and offset >= 0):
            raise ValueError(f"at_s: {at_s!r} must be at or after the forecast's start ({self.start_s:g} s)")
        b = self.bucket_s
        nb = b if bucket_s is None else float(bucket_s)
        if not (math.isfinite(nb) and nb > 0):
            raise ValueError(f"bucket_s: {bucket_s!r} must be a positive number of seconds")
        arrivals: dict[tuple[str, str], tuple[float, ...]] = {}
        for key, row in self.arrivals.items():
            new: dict[int, float] = {}
            for k, riders in enumerate(row):  # the part of bucket k from `at_s` on, on the new grid
                lo, hi = max(k * b, offset), (k + 1) * b
                _spread(new, lo - offset, hi - offset, riders * max(hi - lo, 0.0) / b, nb)
            if new:
                arrivals[key] = tuple(new.get(q, 0.0) for q in range(max(new) + 1))
        return BayForecast(bucket_s=nb, arrivals=arrivals, start_s=at_s)

    def cumulative(self, bay: str, destination: str, n: int) -> np.ndarray:
        """Whole riders who have reached `bay` for `destination` by the end of buckets 0 .. n-1 (rounded)."""
        row = np.asarray(self.arrivals.get((bay, destination), ()), dtype=float)
        cum = np.cumsum(np.concatenate([row, np.zeros(max(0, n - row.size))]))[:n] if n else np.zeros(0)
        return np.floor(cum + 0.5 + EPS).astype(np.int64)


def _spread(row: dict[int, float], lo: float, hi: float, riders: float, bucket_s: float) -> None:
    """Add `riders` coming evenly over [lo, hi) (seconds from the grid's start) to `row`'s buckets."""
    if riders <= 0 or hi <= lo:
        return
    width = hi - lo
    k = math.floor(lo / bucket_s + EPS)
    while lo < hi - EPS:
        end = min(hi, (k + 1) * bucket_s)
        if end > lo:
            row[k] = row.get(k, 0.0) + riders * (end - lo) / width
        lo, k = max(lo, end), k + 1


def forecast_bay_demand(
    scenario: MassTestingScenario,
    tested: Mapping[str, Sequence[float]] | Sequence[float],
    geometry: MassTestingGeometry | None = None,
    *,
    bucket_s: float = 300.0,
    start_s: float = 0.0,
    metro_fallback: bool = True,
) -> BayForecast:
    """A bay forecast from a testing completion curve: tested × bus share × destination shares, walked to the bay.

    `tested` is visitors swabbed per bucket of `bucket_s` from `start_s`, per test site (a mapping), or in all
    (a sequence, split over the sites in proportion to their booths). Within a bucket swabs are spread
    evenly; a bus rider walks to the bay nearest their site (ties by name), and the shifted spread is split
    over the buckets it overlaps. With `metro_fallback`, metro riders who reach the station after it closes
    (or whose metro has no capacity) walk on to the bay nearest the station, as the simulation has them do.
    """
    buses = scenario.resources.buses
    if buses is None:
        raise ValueError("resources.buses: the scenario has no buses")
    geo = geometry if geometry is not None else geometry_of(scenario)
    sites = [s.node for s in scenario.testing.sites]
    if isinstance(tested, Mapping):
        per_site: dict[str, np.ndarray] = {}
        for site, counts in tested.items():
            if site not in sites:
                raise ValueError(f"tested: {site!r} is not one of the scenario's test sites")
            per_site[site] = np.asarray(counts, dtype=float)
    else:
        curve = np.asarray(tested, dtype=float)
        booths = {s.node: s.booths for s in scenario.testing.sites}
        total_booths = sum(booths.values())
        per_site = {s: curve * booths[s] / total_booths for s in sites}
    for site, row in per_site.items():
        if row.ndim != 1 or not np.all(np.isfinite(row)) or np.any(row < 0):
            raise ValueError(f"tested[{site!r}]: counts per bucket must be non-negative numbers")

    modes = scenario.population.home_modes
    metro = scenario.metro
    station_walk: dict[str, float] = {}
    if metro_fallback and metro is not None and modes.metro > 0:
        from scenarios.travel import time_matrix

        station_walk = time_matrix(geo.graph, [metro.station], list(buses.bays), mover="walk",
                                   walk_speed_mps=scenario.testing.walk_speed_mps)[metro.station]  # fmt: skip
    per_bay: dict[str, dict[int, float]] = {b: {} for b in buses.bays}

    def spread(bay: str, lo: float, hi: float, riders: float) -> None:
        """Add `riders` reaching `bay` evenly over [lo, hi) (seconds after start_s) to the buckets."""
        if math.isfinite(lo):
            _spread(per_bay[bay], lo, hi, riders, bucket_s)

    for site, row in per_site.items():
        exits = geo.walk_site_exit[site]
        bay = min(buses.bays, key=lambda b: (exits[b], b))
        walk = exits[bay]
        if not math.isfinite(walk):
            continue
        for k, count in enumerate(row):
            lo, hi = k * bucket_s + walk, (k + 1) * bucket_s + walk
            spread(bay, lo, hi, count * modes.bus)
            if station_walk and count > 0:
                assert metro is not None
                to_station = exits.get(metro.station, math.inf)
                fallback_bay = min(buses.bays, key=lambda b: (station_walk[b], b))
                extra = station_walk[fallback_bay]
                if not (math.isfinite(to_station) and math.isfinite(extra)):
                    continue
                a, b = k * bucket_s + to_station, (k + 1) * bucket_s + to_station
                closes = math.inf if metro.closes_at_s is None else metro.closes_at_s - start_s
                if metro.capacity_per_h <= 0:
                    closes = -math.inf
                late_lo = max(a, closes)
                if late_lo < b:
                    spread(fallback_bay, late_lo + extra, b + extra, count * modes.metro * (b - late_lo) / (b - a))
    n = max((max(r) + 1 for r in per_bay.values() if r), default=0)
    arrivals = {}
    for bay, by_bucket in per_bay.items():
        riders = np.array([by_bucket.get(k, 0.0) for k in range(n)])
        if riders.sum() <= 0:
            continue
        for dest, share in buses.destinations.items():
            if share > 0:
                arrivals[(bay, dest)] = tuple(float(v) for v in riders * share)
    return BayForecast(bucket_s=bucket_s, arrivals=arrivals, start_s=start_s)


def geometry_of(scenario: MassTestingScenario) -> MassTestingGeometry:
    """The scenario's geometry on its own graph (when the caller has none built)."""
    from scenarios.loading import scenario_graph

    return MassTestingGeometry(scenario, scenario_graph(scenario))
