"""Gradebook database fixtures: the same tests on SQLite and on a real PostgreSQL server.

Import ``pg_server`` into a test module and define ``db_url`` there with ``DB_PARAMS`` and
``make_db_url`` (a fixture imported under its own name would trip ruff's F811).
``pg_server`` starts one private PostgreSQL per test process (see ``pg.py``)
and skips, saying why, when the PostgreSQL binaries are not installed.
``make_db_url`` gives, per parameter: ``sqlite`` (a file in the test's tmp dir) and
``postgres`` (a fresh database on that server).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg import PgServer, find_bin_dir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin); "
            "`apt-get install postgresql` to run the PostgreSQL half of the gradebook tests"
        )
    try:
        server = PgServer(bin_dir).start()
    except RuntimeError as e:
        pytest.skip(f"cannot start a private PostgreSQL server: {e}")
    yield server
    server.stop()


DB_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def make_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The body of a ``db_url`` fixture parametrised with ``DB_PARAMS``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gradebook-test.sqlite'}"
    server = request.getfixturevalue("pg_server")
    return server.new_database()


def second_db_url(url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Another empty database on the same back end as ``url``."""
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'gradebook-other.sqlite'}"
    return request.getfixturevalue("pg_server").new_database()
