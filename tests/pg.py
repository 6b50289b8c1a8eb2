"""A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temp dir, loopback only.

Used by the ``pg_server`` fixture (see ``conftest_pg.py``). PostgreSQL refuses
to run as root, so when the tests run as root the cluster is created and
started as the ``postgres`` system user (Debian's package creates it) and the
temp dir is handed to that user. The server listens on 127.0.0.1 on a free
port and puts its unix socket in the temp dir, so it never clashes with a
system cluster. Binaries are looked up on PATH, then in
``/usr/lib/postgresql/*/bin``; when there are none, :func:`find_bin_dir`
returns None and the fixture skips with the reason.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(cand) / "initdb", os.X_OK) and os.access(Path(cand) / "pg_ctl", os.X_OK):
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """A private PostgreSQL cluster; ``url(dbname)`` gives a SQLAlchemy URL for psycopg 3."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="casekit-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user = "casekit"
        self._counter = itertools.count()
        self._run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as e:
                raise RuntimeError(
                    "running as root and there is no 'postgres' user to run PostgreSQL as"
                ) from e
            self._run_as = "postgres"
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        # subprocess' user= does setuid in the child; HOME etc. do not matter to initdb/pg_ctl
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            user=self._run_as,
            cwd=self.dir,
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )

    def start(self) -> PgServer:
        try:
            self._run(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", self.user,
                "-E", "UTF8", "--no-sync",
            )  # fmt: skip
            opts = (
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            self._run(
                "pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                "-w", "-t", "60", "start",
            )  # fmt: skip
        except subprocess.CalledProcessError as e:
            log = self.dir / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {e.stderr}\n{tail}") from e
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, prefix: str = "casekit") -> str:
        """Create a fresh database and return its URL (one per test keeps tests independent)."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (subprocess.CalledProcessError, FileNotFoundError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
