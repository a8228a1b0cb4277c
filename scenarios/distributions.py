"""Random durations as data: a scenario says which distribution, the models draw from it.

Every distribution is of a duration in seconds and knows its own mean, so that a model can be checked against
queueing theory (an exponential service time gives M/M/c; a deterministic one, M/D/c).
Draws always come from a `numpy.random.Generator` the caller owns: no module-level randomness.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenarios.errors import register_union_tags


class _Dist(BaseModel):
    """Base of the duration distributions; each one has `mean_s`, `scv` and `sample(rng, size)`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Exponential(_Dist):
    """Memoryless duration with the given mean."""

    dist: Literal["exponential"] = "exponential"
    mean_s: float = Field(gt=0, le=1e7)

    @property
    def scv(self) -> float:
        return 1.0

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        return rng.exponential(self.mean_s, size)


class Deterministic(_Dist):
    """Always the same duration."""

    dist: Literal["deterministic"] = "deterministic"
    value_s: float = Field(ge=0, le=1e7)

    @property
    def mean_s(self) -> float:
        return self.value_s

    @property
    def scv(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        return self.value_s if size is None else np.full(size, self.value_s)


class Lognormal(_Dist):
    """Right-skewed duration given by its own mean and standard deviation (not those of its logarithm)."""

    dist: Literal["lognormal"] = "lognormal"
    mean_s: float = Field(gt=0, le=1e7)
    sd_s: float = Field(gt=0, le=1e7)

    @property
    def _log_params(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.sd_s / self.mean_s) ** 2)
        return math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2)

    @property
    def scv(self) -> float:
        return (self.sd_s / self.mean_s) ** 2

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        mu, sigma = self._log_params
        return rng.lognormal(mu, sigma, size)


class Empirical(_Dist):
    """Observed durations, drawn with the given weights (equal weights by default)."""

    dist: Literal["empirical"] = "empirical"
    values_s: tuple[float, ...] = Field(min_length=1, max_length=100_000)
    weights: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> Empirical:
        if any(not (0 <= v <= 1e7) for v in self.values_s):
            raise ValueError("values_s must all lie in [0, 1e7]")
        if self.weights is not None:
            if len(self.weights) != len(self.values_s):
                raise ValueError(f"weights has {len(self.weights)} entries but values_s has {len(self.values_s)}")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 with a positive sum")
        return self

    def _p(self) -> np.ndarray | None:
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        return cast(np.ndarray, w / w.sum())  # numpy's stubs type this quotient as Any

    @property
    def mean_s(self) -> float:
        p = self._p()
        return float(np.average(self.values_s, weights=p))

    @property
    def scv(self) -> float:
        p = self._p()
        mean = self.mean_s
        var = float(np.average((np.asarray(self.values_s) - mean) ** 2, weights=p))
        return var / mean**2 if mean > 0 else 0.0

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        return rng.choice(np.asarray(self.values_s, dtype=float), size=size, p=self._p())


register_union_tags("exponential", "deterministic", "lognormal", "empirical")

Distribution = Annotated[Exponential | Deterministic | Lognormal | Empirical, Field(discriminator="dist")]
"""A duration distribution; YAML picks one with `dist:` (exponential, deterministic, lognormal, empirical)."""
