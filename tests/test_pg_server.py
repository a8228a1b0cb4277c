"""The throwaway PostgreSQL server behind the store's tests: it answers, isolates tests and stays on loopback.

The `postgres_server` and `postgres_url` fixtures come from `pg_server`, registered in conftest.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from pg_server import PostgresServer

USER_TABLES = sa.text("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp.


def _scalar(url: str, query: sa.TextClause) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(query).scalar_one()
    finally:
        engine.dispose()


def test_server_answers_version_query(postgres_url: str) -> None:
    """The server started for this worker answers `SELECT version()` through SQLAlchemy and psycopg."""
    assert str(_scalar(postgres_url, sa.text("SELECT version()"))).startswith("PostgreSQL ")


def test_databases_are_distinct_and_empty(postgres_server: PostgresServer, postgres_url: str) -> None:
    """A test's database starts with no tables, and a table written there does not show in another new one."""
    other_url = postgres_server.create_database("yiwang_other_for_isolation_check")
    try:
        assert other_url != postgres_url
        assert _scalar(postgres_url, USER_TABLES) == 0
        engine = sa.create_engine(postgres_url)
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE marker (id integer)"))
        engine.dispose()
        assert _scalar(postgres_url, USER_TABLES) == 1
        assert _scalar(other_url, USER_TABLES) == 0
    finally:
        postgres_server.drop_database("yiwang_other_for_isolation_check")


def test_server_listens_on_loopback_only(postgres_server: PostgresServer, postgres_url: str) -> None:
    """The server is configured for 127.0.0.1 alone and holds no listening TCP socket on any other address."""
    assert _scalar(postgres_url, sa.text("SHOW listen_addresses")) == "127.0.0.1"
    tcp_tables = [table for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")) if table.exists()]
    if not tcp_tables:
        return  # Not Linux: the setting above is all there is to check.
    port = f"{postgres_server.port:04X}"
    listening_on = []
    for table in tcp_tables:
        for row in table.read_text().splitlines()[1:]:
            local, _remote, state = row.split()[1:4]
            address, _, row_port = local.partition(":")
            if row_port == port and state == LISTEN:
                listening_on.append(address)
    assert listening_on == ["0100007F"]  # 127.0.0.1, little-endian hex.
