"""Monte Carlo replications: seeds spawned from one root, run on any engine, summarised honestly.

Every replication is a pure function of (scenario, plan, seed), and every seed is fixed before anything runs:
replication r of variant v gets the seed drawn from `SeedSequence(root, spawn_key=(v, r))`. So the results
are bit-identical whether the replications run one after another, in local processes, or on a Dask cluster,
and in whatever order they finish.

Engines are small classes behind one Protocol (`map` yields `(task, outcome)` pairs as they complete):
`Serial`, `LocalProcesses` (the default: a process pool), and `Dask` (a `LocalCluster`, or a scheduler
address for sweeps that outgrow one machine).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from simulation.core import SimResult

Metrics = Callable[[SimResult], dict[str, float]]


@dataclass(frozen=True)
class Task:
    """One replication to run: which variant, which replication, and its seed."""

    variant: int
    replication: int
    seed: int


def replication_seed(root_seed: int, replication: int) -> int:
    """The seed of one replication, from the root seed and the replication's number (not from run order)."""
    state = np.random.SeedSequence(root_seed, spawn_key=(replication,)).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1  # 62 bits: a valid scenario seed


def tasks(root_seed: int, variants: int, replications: int) -> list[Task]:
    """Every variant's replications. Replication r has the same seed in every variant (common random numbers):
    the variants are compared on the same draws, so a difference between them is the variant's, not the luck of
    independent draws (with independent seeds a sweep could say that 20 testers miss the target more often than
    16 where the booths, not the testers, bind and both are the same)."""
    return [Task(v, r, replication_seed(root_seed, r)) for v in range(variants) for r in range(replications)]


#: A scenario kind's simulation: (scenario, plan, *, seed) -> SimResult (picklable, to reach the workers).
Simulate = Callable[..., SimResult]


def run_one(simulate: Simulate, scenario: Any, plan: Any, seed: int,
            metrics: Metrics | None = None) -> dict[str, float]:  # fmt: skip
    """Simulate one replication and return its KPIs (plus any extra metrics computed from the run)."""
    result = simulate(scenario, plan, seed=seed)
    out = {k: float(v) for k, v in result.kpis.items()}
    if metrics is not None:
        out.update({k: float(v) for k, v in metrics(result).items()})
    return out


@dataclass(frozen=True)
class Job:
    """What a worker needs: the variant's scenario and plan, its kind's simulation, and the extra metrics function
    (all picklable)."""

    scenario: Any
    plan: Any
    simulate: Simulate
    metrics: Metrics | None = None


def _run_task(job: Job, task: Task) -> tuple[Task, dict[str, float]]:
    return task, run_one(job.simulate, job.scenario, job.plan, task.seed, job.metrics)


class Engine(Protocol):
    """Runs replications and yields `(task, kpis)` as each one finishes."""

    name: str

    def map(self, jobs: list[Job], todo: Iterable[Task]) -> Iterator[tuple[Task, dict[str, float]]]: ...


class Serial:
    """One replication after another, in this process."""

    name = "serial"

    def map(self, jobs: list[Job], todo: Iterable[Task]) -> Iterator[tuple[Task, dict[str, float]]]:
        for task in todo:
            yield _run_task(jobs[task.variant], task)


class LocalProcesses:
    """A pool of local worker processes (the default engine)."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def map(self, jobs: list[Job], todo: Iterable[Task]) -> Iterator[tuple[Task, dict[str, float]]]:
        pending = list(todo)
        if not pending:
            return
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no forked copies of solver or server threads
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            window = 4 * (self.workers or 2)  # keep memory flat: a bounded number of tasks in flight
            queue = iter(pending)
            running = {pool.submit(_run_task, jobs[t.variant], t) for t in _take(queue, window)}
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                running |= {pool.submit(_run_task, jobs[t.variant], t) for t in _take(queue, len(done))}


class Dask:
    """Dask distributed: a `LocalCluster` with `workers` processes, or the scheduler at `address`."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int = 2) -> None:
        self.address = address
        self.workers = workers

    def map(self, jobs: list[Job], todo: Iterable[Task]) -> Iterator[tuple[Task, dict[str, float]]]:
        from distributed import Client, LocalCluster, as_completed

        pending = list(todo)
        if not pending:
            return
        cluster = None
        if self.address is None:
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1")  # fmt: skip
        client = Client(cluster if cluster is not None else self.address)
        try:
            shipped = client.scatter(jobs, broadcast=True)  # each variant's scenario and plan sent once
            futures = [client.submit(_run_task, shipped[t.variant], t, pure=False) for t in pending]
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _take(it: Iterator[Task], n: int) -> list[Task]:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def engine_named(name: str, *, scheduler: str | None = None, workers: int | None = None) -> Engine:
    if name == "serial":
        return Serial()
    if name == "local":
        return LocalProcesses(workers)
    if name == "dask":
        return Dask(scheduler, workers or 2)
    raise ValueError(f"--engine: {name!r} is not one of serial, local, dask")


# ------------------------------------------------------------------------------------------ statistics

#: Student's t, two-sided 95% (0.975 quantile), for 1..30 degrees of freedom; the normal value beyond.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    if df < 1:
        return math.inf
    if df <= len(_T975):
        return _T975[df - 1]
    return 1.959964 + 2.37 / df  # within 0.1% of the exact quantile for df > 30


@dataclass(frozen=True)
class Summary:
    """One KPI over the replications of one variant."""

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    p5: float
    p50: float
    p95: float

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 9) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def summarise(values: list[float]) -> Summary:
    """Mean with a 95% t confidence interval, standard deviation and percentiles."""
    xs = np.asarray(values, dtype=float)
    n = int(xs.size)
    mean = float(xs.mean()) if n else math.nan
    sd = float(statistics.stdev(xs.tolist())) if n > 1 else 0.0
    half = t975(n - 1) * sd / math.sqrt(n) if n > 1 else math.inf
    p5, p50, p95 = (float(np.percentile(xs, q)) for q in (5, 50, 95)) if n else (math.nan,) * 3
    return Summary(n, mean, sd, mean - half, mean + half, p5, p50, p95)


def breach_probability(flags: list[bool]) -> tuple[float, float, float]:
    """The share of replications that breached, with a 95% Wilson interval."""
    n = len(flags)
    if n == 0:
        return math.nan, math.nan, math.nan
    p = sum(flags) / n
    z = 1.959964
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


__all__ = [
    "Dask",
    "Engine",
    "Job",
    "LocalProcesses",
    "Serial",
    "Summary",
    "Task",
    "breach_probability",
    "engine_named",
    "replication_seed",
    "run_one",
    "summarise",
    "t975",
    "tasks",
]
