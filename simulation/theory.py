"""Closed-form queueing results the models are checked against (and a planner can use for quick sizing).

- Erlang C: M/M/c, the probability of waiting, the mean wait and the waiting-time tail.
- Allen–Cunneen: the mean wait of a G/G/c queue from the M/M/c one and the squared coefficients of
  variation of inter-arrival and service times, Wq ≈ Wq(M/M/c) · (ca² + cs²) / 2.
"""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c with `servers` servers and offered load a = λ/μ (< c)."""
    if servers < 1:
        raise ValueError("servers must be >= 1")
    if not 0 <= offered_load < servers:
        raise ValueError(f"offered load {offered_load:g} must be in [0, {servers}) for a stable queue")
    # Erlang B by its stable recursion, then C from B.
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / servers
    return b / (1 - rho + rho * b)


def mmc_mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean time in queue (before service) of M/M/c, in the rates' time unit."""
    a = arrival_rate / service_rate
    return erlang_c(servers, a) / (servers * service_rate - arrival_rate)


def mmc_wait_tail(servers: int, arrival_rate: float, service_rate: float, t: float) -> float:
    """P(W > t) for M/M/c under FIFO: C · exp(-(cμ - λ) t)."""
    a = arrival_rate / service_rate
    return erlang_c(servers, a) * math.exp(-(servers * service_rate - arrival_rate) * t)


def allen_cunneen_wait(servers: int, arrival_rate: float, service_rate: float, *, ca2: float, cs2: float) -> float:
    """Approximate mean wait of G/G/c (Allen–Cunneen)."""
    return mmc_mean_wait(servers, arrival_rate, service_rate) * (ca2 + cs2) / 2
