"""Read /metrics as Prometheus would: prometheus_client's own text parser, then sample values."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from backend.observability import metrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(client: httpx.AsyncClient) -> Samples:
    """One scrape of the app's /metrics (which also refreshes the database-backed gauges)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    return parse(response.text)


def rendered() -> Samples:
    """The exposition without an HTTP request (for jobs measured outside the app)."""
    return parse(metrics.render().decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; a series not exposed yet counts as 0."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)
