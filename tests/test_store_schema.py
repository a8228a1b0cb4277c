"""The store's schema: Alembic migrations match the models on both backends; wrong stores are refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from command.migrate import check_current, current_revision, head_revision, upgrade
from command.store import Base, Store, StoreError, make_engine


def test_migrations_build_exactly_the_models_schema(store_url):
    """After `upgrade`, autogenerate finds no difference between the database and the models."""
    store = Store(store_url)
    try:
        upgrade(store)
        assert current_revision(store) == head_revision()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        upgrade(store)  # running it again changes nothing
        check_current(store)
    finally:
        store.dispose()


def test_an_empty_database_is_refused_with_what_to_run(tmp_path):
    """Commands on a database that was never initialised say to run `yiwang init`."""
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StoreError, match="yiwang init"):
        check_current(store)
    with pytest.raises(StoreError, match="not initialised"), store.write():
        pass


def test_a_store_at_another_revision_is_refused(tmp_path):
    """A store whose schema revision this code does not know is refused with `yiwang db upgrade` named."""
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000_future'"))
    with pytest.raises(StoreError, match="db upgrade"):
        check_current(store)


@pytest.mark.parametrize(
    ("url", "message"),
    [("not a url", "not a database URL"), ("mysql://u@h/db", "unsupported database"),
     ("sqlite:////no/such/folder/x.db", "does not exist")],
)  # fmt: skip
def test_bad_store_urls_are_refused(url, message):
    """A malformed URL, an unsupported database or a missing folder is named, before anything is created."""
    with pytest.raises(StoreError, match=message):
        make_engine(url)


def test_sqlite_store_uses_wal_and_foreign_keys(tmp_path):
    """The embedded store runs in WAL mode with foreign keys enforced."""
    store = Store(f"sqlite:///{tmp_path / 'wal.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
