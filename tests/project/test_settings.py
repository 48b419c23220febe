"""Settings come from the environment and refuse malformed values by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from ccpdash import settings as project_settings

ROOT = Path(__file__).resolve().parents[2]


def start_up(**env: str) -> subprocess.CompletedProcess:
    """Run `manage.py check` the way `make run` starts, with the given environment."""
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ccpdash.settings", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


class StartUpTests:
    @pytest.mark.parametrize("value", ["mysql://x/y", "not a url", "postgres://host:port/db"])
    def test_it_stops_on_a_malformed_database_url(self, value):
        result = start_up(DATABASE_URL=value)
        assert result.returncode != 0
        assert "DATABASE_URL" in result.stderr

    def test_it_stops_on_a_malformed_debug(self):
        result = start_up(DEBUG="maybe")
        assert result.returncode != 0
        assert "DEBUG" in result.stderr

    def test_it_stops_on_a_malformed_redis_url(self):
        result = start_up(REDIS_URL="http://localhost")
        assert result.returncode != 0
        assert "REDIS_URL" in result.stderr

    def test_it_starts_with_no_settings_at_all(self):
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "ccpdash.settings"},
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr


class HelperTests:
    def test_it_reads_booleans(self, monkeypatch):
        monkeypatch.setenv("FLAG", "Yes")
        assert project_settings.env_bool("FLAG", False) is True
        monkeypatch.setenv("FLAG", "0")
        assert project_settings.env_bool("FLAG", True) is False

    def test_it_defaults_to_a_sqlite_file_in_wal_mode(self, monkeypatch):
        monkeypatch.delenv("DATABASE_URL", raising=False)
        config = project_settings.database_from_env()
        assert config["ENGINE"] == "django.db.backends.sqlite3"
        assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
        assert config["OPTIONS"]["timeout"] > 0

    def test_it_names_the_variable_for_a_bad_number(self, monkeypatch):
        monkeypatch.setenv("SWEEP_SECONDS", "soon")
        with pytest.raises(ImproperlyConfigured, match="SWEEP_SECONDS"):
            project_settings.env_number("SWEEP_SECONDS", 1.0)

    def test_it_reads_postgres_urls(self, monkeypatch):
        monkeypatch.setenv("DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
        config = project_settings.database_from_env()
        assert config["ENGINE"] == "django.db.backends.postgresql"
        assert config["NAME"] == "test"
