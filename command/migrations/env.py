"""Alembic environment for the Yiwang store: runs against the connection `command.migrate` passes in."""

from __future__ import annotations

from typing import cast

from alembic import context

from command.store import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # plain `alembic` command line: build an engine from the configured URL
        from command.store import make_engine

        url = config.get_main_option("sqlalchemy.url")
        engine = make_engine(cast(str, url))  # no URL configured (None): make_engine says it is not a database URL
        with engine.connect() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
