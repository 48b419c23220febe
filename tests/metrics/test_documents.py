"""The repository's Prometheus documents (docs/): every series the Grafana dashboard and the alert rules query is one
that /metrics serves, so a renamed figure cannot leave them reading nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from contacts.metrics import instruments

DOCS = Path(__file__).resolve().parents[2] / "docs"
SERIES = re.compile(r"\bccpdash_[a-z_]+")
# Sample suffixes of counters and histograms, which a query names and a family does not.
SUFFIXES = re.compile(r"_(total|bucket|count|sum)$")


def served_families(client) -> set[str]:
    """The families of one scrape, and those of the per-process instruments (a histogram nobody observed yet in
    this test run has no samples, so no family in the scrape)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {family.name for family in text_string_to_metric_families(response.content.decode())}
    return families | {metric._name for metric in vars(instruments).values() if hasattr(metric, "_name")}


def queried(text: str) -> set[str]:
    return {SUFFIXES.sub("", name) for name in SERIES.findall(text)}


@pytest.mark.django_db
@pytest.mark.usefixtures("scraper_allowed")
class DocumentTests:
    def test_the_grafana_dashboard_queries_only_served_series(self, client):
        dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
        expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
        variables = dashboard["templating"]["list"]
        expressions += [variable["definition"] for variable in variables if "definition" in variable]
        names = queried("\n".join(expressions))
        assert len(names) >= 15  # nearly every family has a panel
        assert names <= served_families(client), names - served_families(client)

    def test_the_alert_rules_query_only_served_series(self, client):
        names = queried((DOCS / "prometheus-alerts.yml").read_text())
        assert len(names) >= 10
        assert names <= served_families(client), names - served_families(client)
