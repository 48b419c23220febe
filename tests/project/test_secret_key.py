"""The secret key: never a published one. SECRET_KEY wins; else the installation's own random key file, which
`make run` / `make test` write once; with neither, a process refuses to start and names SECRET_KEY."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from ccpdash import devserver

READ_KEY = "from django.conf import settings; import django; django.setup(); print(settings.SECRET_KEY)"


def start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """A process that loads the project's settings, with `env` over the environment minus SECRET_KEY."""
    base = {name: value for name, value in os.environ.items() if name not in {"SECRET_KEY", "SECRET_KEY_FILE"}}
    return subprocess.run([sys.executable, "-c", READ_KEY], cwd=settings.BASE_DIR, capture_output=True, text=True,
                          env={**base, "DJANGO_SETTINGS_MODULE": "ccpdash.settings", **env}, timeout=60)


class SecretKeyTests:
    def test_a_start_without_a_key_refuses_and_names_the_setting(self, tmp_path: Path) -> None:
        started = start({"SECRET_KEY_FILE": str(tmp_path / "missing")})
        assert started.returncode != 0
        assert "ImproperlyConfigured" in started.stderr and "SECRET_KEY is not set" in started.stderr

    def test_the_development_key_is_random_per_installation_and_private(self, tmp_path: Path) -> None:
        first, second = devserver.ensure_secret_key(tmp_path / "a"), devserver.ensure_secret_key(tmp_path / "b")
        assert first.read_text() != second.read_text() and len(first.read_text().strip()) >= 60
        assert stat.S_IMODE(first.stat().st_mode) == 0o600
        key = first.read_text()
        devserver.ensure_secret_key(first)  # written once: a second start keeps it
        assert first.read_text() == key
        assert start({"SECRET_KEY_FILE": str(first)}).stdout.strip() == key.strip()

    def test_the_environment_wins_over_the_file(self, tmp_path: Path) -> None:
        path = devserver.ensure_secret_key(tmp_path / "key")
        assert start({"SECRET_KEY_FILE": str(path), "SECRET_KEY": "from-the-environment"}).stdout.strip() == (
            "from-the-environment")

    def test_no_key_is_published_in_the_repository(self) -> None:
        settings_source = (Path(settings.BASE_DIR) / "ccpdash" / "settings.py").read_text()
        assert "insecure" not in settings_source.lower()
        assert settings.SECRET_KEY not in settings_source
