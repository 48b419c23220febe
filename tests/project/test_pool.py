"""Each process's database pool: PostgreSQL only, sized by DB_POOL_*, logged at start-up, never shared across a fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from tests.project.test_failures import small_pool
from tests.project.test_settings import ROOT, start_up

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/ccpdash"


def database_settings(**env: str) -> dict:
    """settings.DATABASES["default"] as a process started with this environment reads it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DB_POOL_"))}
    code = "import json; from ccpdash import settings; print(json.dumps(settings.DATABASES['default']))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**full_env, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class PoolSettingsTests:
    def test_it_never_configures_a_pool_on_the_default_sqlite(self):
        config = database_settings(DB_POOL_MAX_SIZE="3")
        assert config["ENGINE"] == "django.db.backends.sqlite3"
        assert "pool" not in config["OPTIONS"]

    def test_it_never_configures_a_pool_on_a_sqlite_url(self, tmp_path):
        config = database_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}", DB_POOL_MIN_SIZE="2")
        assert "pool" not in config["OPTIONS"]

    def test_it_pools_postgresql_with_the_sizes_from_the_environment(self):
        config = database_settings(
            DATABASE_URL=POSTGRES_URL, DB_POOL_MIN_SIZE="2", DB_POOL_MAX_SIZE="3", DB_POOL_TIMEOUT="1.5"
        )
        assert config["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 3, "timeout": 1.5, "name": "ccpdash"}
        # Django's pool refuses persistent connections: each request borrows and returns one.
        assert config["CONN_MAX_AGE"] == 0

    def test_it_pools_postgresql_by_default(self):
        pool = database_settings(DATABASE_URL=POSTGRES_URL)["OPTIONS"]["pool"]
        assert (pool["min_size"], pool["max_size"], pool["timeout"]) == (0, 6, 5.0)

    def test_it_stops_on_a_max_size_below_the_min_size(self):
        result = start_up(DATABASE_URL=POSTGRES_URL, DB_POOL_MIN_SIZE="4", DB_POOL_MAX_SIZE="2")
        assert result.returncode != 0
        assert "DB_POOL_MAX_SIZE" in result.stderr

    @pytest.mark.parametrize("name", ["DB_POOL_TIMEOUT", "DB_POOL_MAX_SIZE", "RETRY_AFTER_SECONDS"])
    def test_it_stops_on_a_malformed_value(self, name):
        result = start_up(DATABASE_URL=POSTGRES_URL, **{name: "soon"})
        assert result.returncode != 0
        assert name in result.stderr


class StartUpLogTests:
    def test_it_logs_the_pool_size_at_start_up(self):
        result = start_up(DATABASE_URL=POSTGRES_URL, DB_POOL_MIN_SIZE="2", DB_POOL_MAX_SIZE="3", DB_POOL_TIMEOUT="4")
        assert result.returncode == 0, result.stderr
        line = "a pool of at most 3 PostgreSQL connections in this process (2 kept open), a request waits at most 4 s"
        assert line in result.stderr

    def test_it_logs_that_sqlite_has_no_pool(self, tmp_path):
        result = start_up(DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
        assert result.returncode == 0, result.stderr
        assert "database connections: default: sqlite3, no pool" in result.stderr


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class PoolTests:
    def test_it_runs_this_suite_on_the_pool(self):
        assert connection.pool is not None
        assert connection.pool.max_size == settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]

    def test_it_gives_a_forked_child_a_pool_of_its_own(self):
        with small_pool(min_size=1, max_size=1):
            parent = backend_pid()
            connection.close()  # back to the pool: the one idle connection a child could take
            read, write = os.pipe()
            child = os.fork()
            if child == 0:  # pragma: no cover - the child reports through the pipe and never returns
                try:
                    os.write(write, str(backend_pid()).encode())
                finally:
                    os._exit(0)
            os.close(write)
            os.waitpid(child, 0)
            reported = os.read(read, 64)
            os.close(read)
            assert reported, "the child could not query the database"
            assert int(reported) != parent  # its own session, not the parent's pooled one
            assert backend_pid() == parent  # and the parent's session outlived the child
            connection.close()
