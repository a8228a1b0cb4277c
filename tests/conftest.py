"""Shared fixtures: paths to the small named test files in tests/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from pg_server import postgres_server, postgres_url  # noqa: F401  (fixtures)

#: Property tests draw their examples from a fixed seed, so a run is the same on every machine and every time (a
#: failure found once is found again); `HYPOTHESIS_PROFILE=explore` draws fresh examples each run, to look for more.
settings.register_profile("yiwang", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "yiwang"))

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """The folder of small named test scenarios and graphs."""
    return DATA


@pytest.fixture
def one_site_mmc() -> Path:
    """One test site, Poisson arrivals, exponential swabs, 8 testers: an M/M/8 queue at utilisation 0.8."""
    return DATA / "one_site_mmc.yaml"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def world(store_url: str):  # type: ignore[no-untyped-def]
    """A store with an admin, planners, commanders and observers in Pudong, Huangpu, Xuhui and the city."""
    from store_support import make_world

    w = make_world(store_url)
    yield w
    w.store.dispose()
