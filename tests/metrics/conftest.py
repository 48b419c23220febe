"""Fixtures of the metrics tests: a scraper allowed in from the test client's address (127.0.0.1)."""

from __future__ import annotations

import ipaddress

import pytest


@pytest.fixture
def scraper_allowed(settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    settings.METRICS_TOKEN = ""
