"""A real PostgreSQL server for the tests, started from the machine's own binaries.

``initdb`` makes a cluster in a temp directory, ``pg_ctl`` starts it on a free
port of 127.0.0.1 with trust authentication for one user, and stops it at the
end. PostgreSQL refuses to run as root: as root the cluster belongs to the
``postgres`` user (or ``nobody``) and the commands run through ``runuser``.
Nothing is mocked; a machine without the binaries skips the tests that need it
(CI installs the Debian package first: see ``.ci/run``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

__all__ = ["PostgresServer", "find_binaries", "postgres_server"]

_SEARCH = ("/usr/local/bin", *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))


def find_binaries() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).parent] if on_path else []
    candidates += [Path(p) for p in _SEARCH]
    for where in candidates:
        if all((where / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return where
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    """The user to run PostgreSQL as: ``None`` for ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root, and no postgres or nobody user to run PostgreSQL as")


@attrs.frozen
class PostgresServer:
    """A running server: connect as ``user`` with ``password`` to ``database`` on ``host:port``.

    The password is new for every server (a test looks for it where it must not be).
    """

    host: str
    port: int
    user: str
    password: str = attrs.field(repr=False)
    database: str = "postgres"

    @property
    def url(self) -> str:
        """A connection string for dlt and psycopg2."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"


def _command(binaries: Path, user: str | None, *args: str) -> list[str]:
    line = [str(binaries / args[0]), *args[1:]]
    return ["runuser", "-u", user, "--", *line] if user else line


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL; stop it and remove its files on exit."""
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl, postgres) on this machine")
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="bangwo8-pg-"))
    data = root / "data"
    if user is not None:
        shutil.chown(root, user)
    port = _free_port()
    password = secrets.token_hex(12)
    (root / "pw").write_text(password)
    if user is not None:
        shutil.chown(root / "pw", user)
    run = subprocess.run
    quiet: dict[str, Any] = {"check": True, "capture_output": True}
    try:
        initdb = ["initdb", "-D", str(data), "-U", "test", f"--pwfile={root / 'pw'}"]
        initdb += ["--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8"]
        run(_command(binaries, user, *initdb, "--no-locale", "--no-sync"), **quiet)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = ["pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w"]
        run(_command(binaries, user, *start, "-t", "60", "start"), **quiet)
        try:
            yield PostgresServer("127.0.0.1", port, "test", password)
        finally:
            run(
                _command(binaries, user, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"),
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
