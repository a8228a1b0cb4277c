"""What every simulation model shares: an event-counting environment, a recorder, and the result type.

A model writes through a `Recorder` (KPI samples over time, notable events for the after-action review); the
result holds only what was written, never SimPy objects.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (for run statistics and benchmarks)."""

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()


@dataclass(frozen=True)
class LogEvent:
    """Something worth telling in the after-action review, at simulated second `t_s`."""

    t_s: float
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


class Recorder:
    """Collects time series samples and notable events while a model runs."""

    def __init__(self) -> None:
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self.events: list[LogEvent] = []

    def sample(self, name: str, t_s: float, value: float) -> None:
        times, values = self._series.setdefault(name, ([], []))
        times.append(float(t_s))
        values.append(float(value))

    def sample_rows(self, names: list[str], times: list[float], rows: list[list[float]]) -> None:
        """Samples of several series at once: `rows[j][i]` is series `names[i]` at `times[j]` (a model that
        samples everything together records a row a time and hands them over at the end)."""
        if not rows:
            return
        if any(len(row) != len(names) for row in rows):
            raise ValueError(f"sample_rows: a row has not {len(names)} values (one per name)")
        stamps = [float(t) for t in times]
        for name, column in zip(names, zip(*rows, strict=True), strict=True):
            old_t, old_v = self._series.setdefault(name, ([], []))
            old_t.extend(stamps)
            old_v.extend(map(float, column))

    def event(self, t_s: float, kind: str, text: str, **data: Any) -> None:
        self.events.append(LogEvent(float(t_s), kind, text, data))

    def series(self) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
        return {k: (tuple(t), tuple(v)) for k, (t, v) in self._series.items()}


@dataclass(frozen=True)
class Breach:
    """A threshold a simulated trajectory crosses: when, which threshold, and what it means."""

    t_s: float
    kind: str
    text: str


def event_breaches(result: SimResult, events: dict[str, tuple[str, str]], *, every: bool = False) -> list[Breach]:
    """The first event of each kind named in `events` (event kind -> (breach kind, threshold name)) as a
    breach; with `every`, each such event, earliest first (a run's record of every crossing, not what stops a
    clock)."""
    out = []
    for event_kind, (kind, name) in events.items():
        found = [e for e in result.events if e.kind == event_kind]
        for e in found if every else found[:1]:
            out.append(Breach(e.t_s, kind, f"{name}: {e.text}"))
    return sorted(out, key=lambda b: b.t_s) if every else out


@dataclass(frozen=True)
class RunStats:
    """How much work a run was: events processed (SimPy's, plus the moments a model plays off its own calendar
    instead of as SimPy events: the typhoon riders'), simulated seconds, wall seconds."""

    events: int
    sim_s: float
    wall_s: float


@dataclass(frozen=True)
class SimResult:
    """What a simulation run returns: KPIs, time series for charts, an event log and run statistics.

    `records` holds flat per-entity arrays (e.g. each visitor's arrival, swab start and departure) for tests
    and analysis; it is not part of the JSON output.
    """

    scenario: str
    kind: str
    seed: int
    kpis: dict[str, float]
    series: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
    events: tuple[LogEvent, ...]
    stats: RunStats
    records: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self, *, with_series: bool = False, with_events: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kpis": self.kpis,
            "sim": {"events": self.stats.events, "sim_s": self.stats.sim_s, "wall_s": self.stats.wall_s},
        }
        if with_series:
            out["series"] = {k: {"t_s": list(t), "value": list(v)} for k, (t, v) in self.series.items()}
        if with_events:
            out["events"] = [{"t_s": e.t_s, "kind": e.kind, "text": e.text, **e.data} for e in self.events]
        return out


class WallClock:
    """Measures the wall time of a run (the only place simulation/ reads the wall clock)."""

    def __enter__(self) -> WallClock:
        self.start = time.perf_counter()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.start


def streams(seed: int, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """One independent random stream per named purpose, spawned from the run's seed.

    Separate streams keep common random numbers between a baseline and a plan: a visitor's swab time does not
    change because a bus left earlier.
    """
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(names, children, strict=True)}


def poisson_times(rng: np.random.Generator, periods: Iterator[tuple[float, float, float]]) -> np.ndarray:
    """Arrival times of a Poisson process with piecewise-constant rate: `(start_s, end_s, rate_per_h)` pieces."""
    chunks = []
    for start, end, rate in periods:
        if end <= start or rate <= 0:
            continue
        n = rng.poisson(rate * (end - start) / 3600)
        chunks.append(np.sort(rng.uniform(start, end, n)))
    return np.concatenate(chunks) if chunks else np.empty(0)


def even_times(periods: Iterator[tuple[float, float, float]]) -> np.ndarray:
    """Evenly spaced arrivals at the given piecewise-constant rate."""
    chunks = []
    for start, end, rate in periods:
        if end <= start or rate <= 0:
            continue
        gap = 3600 / rate
        chunks.append(np.arange(start + gap / 2, end, gap))
    return np.concatenate(chunks) if chunks else np.empty(0)
