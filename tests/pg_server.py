"""A throwaway PostgreSQL server for the store's tests, and the pytest fixtures that hand it out.

`PostgresServer` runs `initdb` into a fresh temporary directory and starts the server with `pg_ctl`,
listening on 127.0.0.1 only, on a free port, with durability switched off (fsync, full-page writes,
synchronous commit) because the data dies with the test run. PostgreSQL refuses to run as root, so
under root every server command runs as the `postgres` OS user (created by Debian's `postgresql`
package) through `runuser`, and the temporary directory is handed to that user.

Fixtures (register them from conftest with `from pg_server import postgres_server, postgres_url`):

- `postgres_server` (session): one server per pytest-xdist worker; without the server binaries it skips
  the test, or fails it when CI=true, so CI cannot silently lose the PostgreSQL half of the suite.
- `postgres_url` (function): the SQLAlchemy URL of a new, empty database on that server, dropped after
  the test.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import LiteralString

import pytest

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"  # The OS user that runs the server when the tests run as root.
DB_USER = "yiwang"  # The database superuser that initdb creates; trust auth, no password.
PG_CTL_TIMEOUT_S = 60
START_ATTEMPTS = 3  # Another process may take the free port between picking it and binding it.
SERVER_SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "100",
}


class PostgresServerError(RuntimeError):
    """The server could not be set up, started or stopped; the message carries its output or log."""


def _version_key(bin_dir: str) -> tuple[int, ...]:
    """Sort key for `/usr/lib/postgresql/<version>/bin`: `15` and `9.6` compare as numbers."""
    version = Path(bin_dir).parent.name
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def _has_server_binaries(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in SERVER_BINARIES)


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: from PATH first, else Debian's highest version."""
    initdb = shutil.which("initdb")
    if initdb is not None:
        on_path = Path(initdb).resolve().parent
        if _has_server_binaries(on_path):
            return on_path
    for candidate in sorted(glob.glob(DEBIAN_BIN_GLOB), key=_version_key, reverse=True):
        if _has_server_binaries(Path(candidate)):
            return Path(candidate)
    return None


def _running_as_root() -> bool:
    return os.geteuid() == 0


def postgres_available() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    if find_bin_dir() is None:
        return f"PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) not in PATH nor in {DEBIAN_BIN_GLOB}"
    if _running_as_root():
        if shutil.which("runuser") is None:
            return "running as root but `runuser` is missing, so the server cannot run as a non-root user"
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return f"running as root but there is no {SERVICE_USER!r} OS user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1 in its own temporary directory, removed again by `stop()`."""

    def __init__(self, *, bin_dir: Path | None = None, label: str = "main") -> None:
        found = bin_dir or find_bin_dir()
        if found is None:
            raise PostgresServerError(postgres_available() or "PostgreSQL server binaries not found")
        self.bin_dir = found
        self.label = label  # Goes into the temporary directory's name, e.g. the xdist worker id.
        self.port: int | None = None
        self.base_dir: Path | None = None
        self._running = False

    # Paths inside the temporary directory: the cluster, the Unix socket and the server log.
    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def log_path(self) -> Path:
        return self._base() / "server.log"

    @property
    def running(self) -> bool:
        return self._running

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self._port()}/{database}"

    def start(self) -> PostgresServer:
        """Create the cluster and start the server; raises PostgresServerError with the log tail on failure."""
        if self._running:
            return self
        self.base_dir = Path(tempfile.mkdtemp(prefix=f"yiwang-pg-{self.label}-"))
        atexit.register(self.stop)  # Second line of defence when the fixture teardown never runs.
        try:
            if _running_as_root():
                service = pwd.getpwnam(SERVICE_USER)
                os.chown(self.base_dir, service.pw_uid, service.pw_gid)
                self._check_service_user_can_write()
            self._initdb()
            self._start_on_free_port()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (no checkpoint) and remove its directory; safe to call twice."""
        if self.base_dir is None:
            return
        try:
            if self._running or (self.data_dir / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "immediate")
        finally:
            self._running = False
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
            atexit.unregister(self.stop)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._admin("CREATE DATABASE {}", name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing any connections a test left open to it."""
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server log, or a note that there is none."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no server log: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def _admin(self, template: LiteralString, database: str) -> None:
        """Run one statement about `database` from the maintenance database, outside a transaction."""
        import psycopg  # Imported here so that finding the binaries needs no database driver.
        from psycopg import sql

        statement = sql.SQL(template).format(sql.Identifier(_checked_name(database)))
        with psycopg.connect(
            host="127.0.0.1", port=self._port(), user=DB_USER, dbname="postgres", autocommit=True, connect_timeout=10
        ) as connection:
            connection.execute(statement)

    def _initdb(self) -> None:
        initdb = [self._bin("initdb"), "-D", str(self.data_dir), "--auth=trust", f"--username={DB_USER}"]
        result = self._run(*initdb, "--encoding=UTF8", "--locale=C", "--no-sync")
        if result.returncode != 0:
            raise PostgresServerError(f"initdb failed in {self.data_dir} (exit {result.returncode}):\n{result.stdout}")

    def _start_on_free_port(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = _free_port()
            settings = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
            options = f"-h 127.0.0.1 -p {self.port} -k {self._base()} {settings}"
            result = self._pg_ctl("start", "-l", str(self.log_path), "-o", options)
            if result.returncode == 0:
                self._running = True
                return
            port_taken = "Address already in use" in self.log_tail()
            if not port_taken or attempt == START_ATTEMPTS:
                raise PostgresServerError(
                    f"PostgreSQL did not start on 127.0.0.1:{self.port} (pg_ctl exit {result.returncode}):\n"
                    f"{result.stdout}\n--- tail of {self.log_path} ---\n{self.log_tail()}"
                )

    def _check_service_user_can_write(self) -> None:
        result = self._run("test", "-w", str(self._base()))
        if result.returncode != 0:
            raise PostgresServerError(
                f"{self._base()}: the {SERVICE_USER!r} OS user cannot write here; "
                "point TMPDIR at a folder every user can reach (e.g. /tmp)"
            )

    def _pg_ctl(self, action: str, *options: str) -> subprocess.CompletedProcess[str]:
        """Run `pg_ctl ACTION` on this cluster and wait for it, at most PG_CTL_TIMEOUT_S seconds."""
        timeout = str(PG_CTL_TIMEOUT_S)
        return self._run(self._bin("pg_ctl"), action, "-D", str(self.data_dir), "-w", "-t", timeout, *options)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Run a command, as the service user when we are root, with its output captured (never raises on exit)."""
        if _running_as_root():
            command = ("runuser", "-u", SERVICE_USER, "--", *command)
        return subprocess.run(
            command,
            cwd=self._base(),  # The service user may not be allowed into the caller's working directory.
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=PG_CTL_TIMEOUT_S + 30,
            check=False,
        )

    def _bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def _base(self) -> Path:
        if self.base_dir is None:
            raise PostgresServerError("the server has not been started")
        return self.base_dir

    def _port(self) -> int:
        if self.port is None or not self._running:
            raise PostgresServerError("the server is not running")
        return self.port


def _checked_name(name: str) -> str:
    if not name or len(name) > 63 or not all(char.isascii() and (char.isalnum() or char == "_") for char in name):
        raise ValueError(f"database name {name!r}: use 1 to 63 ASCII letters, digits or underscores")
    return name


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


# One server per process: if the fixture is registered twice (conftest and a test module), both share it.
_shared: PostgresServer | None = None
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this xdist worker; skipped without the binaries, failed instead when CI=true."""
    global _shared
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)
    if _shared is None or not _shared.running:
        _shared = PostgresServer(label=_worker_id()).start()
    server = _shared
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database on the worker's server, dropped after the test."""
    name = f"yiwang_{_worker_id()}_{next(_database_numbers)}"
    url = postgres_server.create_database(name)
    yield url
    if postgres_server.running:
        postgres_server.drop_database(name)
