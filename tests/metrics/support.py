"""Reading /metrics as Prometheus does: parsed with prometheus-client's own text parser, one value per series."""

from __future__ import annotations

from django.test import Client
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, tuple[tuple[str, str], ...]]


def scrape(client: Client, **request) -> dict[Series, float]:
    """Every sample of one scrape, keyed by (sample name, sorted labels)."""
    response = client.get("/metrics", **request)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict[Series, float], name: str, **labels: str) -> float | None:
    """The series' value, or None when the scrape has no such series."""
    return samples.get((name, tuple(sorted(labels.items()))))


def series_of(samples: dict[Series, float], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: sample for (sample_name, labels), sample in samples.items() if sample_name == name}
