"""Production hardening: the README's production settings pass `check --deploy` clean, each one switched on by
its variable; every answer carries the Content-Security-Policy, which the templates satisfy (no inline
script or handler); the https redirect spares the health check."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

# The README's "Production settings", as an operator exports them.
PRODUCTION = {
    "DEBUG": "0", "SECURE_SSL_REDIRECT": "1", "SECURE_COOKIES": "1", "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1", "SECURE_HSTS_PRELOAD": "1", "TRUST_X_FORWARDED_PROTO": "1",
    "ALLOWED_HOSTS": "dash.example.com", "CSRF_TRUSTED_ORIGINS": "https://dash.example.com",
}


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {name: value for name, value in os.environ.items() if name not in PRODUCTION}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=settings.BASE_DIR,
        env={**base, "DJANGO_SETTINGS_MODULE": "ccpdash.settings", "SECRET_KEY": secrets.token_urlsafe(50), **env},
        capture_output=True, text=True, timeout=120,
    )


class DeployCheckTests:
    def test_the_production_settings_pass_the_deploy_check(self) -> None:
        checked = check_deploy(PRODUCTION)
        assert checked.returncode == 0, checked.stderr + checked.stdout
        assert "no issues" in checked.stdout

    def test_without_them_the_check_names_each_one(self) -> None:
        checked = check_deploy({"DEBUG": "0"})
        assert checked.returncode != 0
        for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
            assert warning in checked.stderr


TEMPLATES = Path(settings.BASE_DIR) / "templates"


class ContentSecurityPolicyTests:
    def test_no_template_has_an_inline_script_or_event_handler(self) -> None:
        offending = []
        for path in TEMPLATES.rglob("*.html"):
            text = path.read_text()
            offending += [(path.name, m.group()) for m in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text)]
            offending += [(path.name, m.group()) for m in re.finditer(r"\son[a-z]+\s*=", text)]
        assert offending == []

    @pytest.mark.django_db
    @pytest.mark.parametrize("url", ["/accounts/login/", "/healthz", "/ccp/rest/task/contact/0"])
    def test_every_answer_carries_the_policy(self, client, url) -> None:
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "'unsafe-eval'" not in policy

    @pytest.mark.django_db
    @override_settings(SECURE_SSL_REDIRECT=True)
    def test_the_https_redirect_spares_the_health_check(self, client) -> None:
        assert client.get("/accounts/login/").status_code == 301
        assert client.get("/healthz").status_code == 200
