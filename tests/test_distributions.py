"""Duration distributions: their means and variability match what the scenario says."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from scenarios.distributions import Deterministic, Distribution, Empirical, Exponential, Lognormal

ADAPTER = TypeAdapter(Distribution)


@pytest.mark.parametrize(
    "dist",
    [
        Exponential(mean_s=40),
        Deterministic(value_s=35),
        Lognormal(mean_s=35, sd_s=12),
        Empirical(values_s=(20, 30, 60), weights=(1, 2, 1)),
    ],
)
def test_sample_mean_and_scv_match_the_declared_values(dist):
    """200,000 seeded draws have the declared mean within 1% and squared coefficient of variation within 3%."""
    draws = np.asarray(dist.sample(np.random.default_rng(1), 200_000))
    assert draws.mean() == pytest.approx(dist.mean_s, rel=0.01)
    scv = draws.var() / draws.mean() ** 2
    assert scv == pytest.approx(dist.scv, rel=0.03, abs=1e-9)


def test_same_seed_same_draws():
    """Two generators with the same seed draw the same durations."""
    dist = Lognormal(mean_s=35, sd_s=12)
    a = dist.sample(np.random.default_rng(5), 10)
    b = dist.sample(np.random.default_rng(5), 10)
    assert np.array_equal(a, b)


def test_yaml_picks_the_distribution_by_its_dist_field():
    """A mapping with `dist: exponential` becomes an `Exponential`."""
    assert isinstance(ADAPTER.validate_python({"dist": "exponential", "mean_s": 30}), Exponential)


@pytest.mark.parametrize(
    "doc",
    [
        {"dist": "exponential", "mean_s": -1},
        {"dist": "gamma", "mean_s": 3},
        {"dist": "empirical", "values_s": [1, 2], "weights": [1]},
        {"dist": "lognormal", "mean_s": 30},
    ],
)
def test_bad_distributions_are_refused(doc):
    """Negative means, unknown families, mismatched weights and missing parameters are validation errors."""
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(doc)
