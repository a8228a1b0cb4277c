"""Schema migrations (Alembic), run from code: `upgrade(store)` brings a store to the newest schema.

The migration scripts ship inside the package (`command/migrations/`), so an installed `yiwang` can create and
upgrade a store without a checkout. `check_current(store)` refuses to work on a store whose schema is older
or newer than this code, with a message that says what to run.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command as alembic_command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from command.store import Store, StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """The schema revision the store is at (None for an empty database)."""
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, revision: str = "head") -> None:
    """Apply every migration up to `revision` in one transaction per step (safe to run again)."""
    cfg = _config(store.url)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        alembic_command.upgrade(cfg, revision)


def check_current(store: Store) -> None:
    """Raise `StoreError` unless the store exists and is at this code's schema."""
    current = current_revision(store)
    if current is None:
        raise StoreError(f"{store.safe_url}: no Yiwang store here; run `yiwang init` to create one")
    head = head_revision()
    if current != head:
        raise StoreError(
            f"{store.safe_url}: the store's schema is at revision {current}, this code needs {head}; "
            "run `yiwang db upgrade`"
        )


__all__ = ["check_current", "current_revision", "head_revision", "upgrade"]
