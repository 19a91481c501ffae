"""/metrics: Prometheus text that prometheus_client's own parser reads, with every series."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from backend.observability import alerts, metrics
from tests.factories import make_product

# The series the issue names; counters are listed by the name a scrape stores (`_total`).
EXPECTED_SERIES = {
    "cascade_http_requests_total",
    "cascade_http_request_duration_seconds",
    "cascade_interactions_ingested_total",
    "cascade_rewards",
    "cascade_settlement_batches_total",
    "cascade_gas_spent_total",
    "cascade_signer_balance_wei",
    "cascade_indexer_lag_blocks",
    "cascade_webhook_deliveries_total",
    "cascade_job_duration_seconds",
    "cascade_alerts_total",
    "cascade_alerts_open",
}


def _families(text: str) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _series_names(text: str) -> set[str]:
    """Family names as exposed: the parser drops a counter's `_total`, so put it back."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


async def test_metrics__parses_and_has_every_series(client):
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = _series_names(response.text)
    assert EXPECTED_SERIES <= names, EXPECTED_SERIES - names
    families = _families(response.text)
    webhook = families["cascade_webhook_deliveries"]
    outcomes = {sample.labels["outcome"] for sample in webhook.samples}
    assert outcomes >= {"delivered", "retry", "dead", "gone", "refused"}  # zeros, not missing
    rewards = families["cascade_rewards"]
    assert {s.labels["status"]: s.value for s in rewards.samples} == {
        "pending": 0.0,
        "batched": 0.0,
        "pushed": 0.0,
        "cancelled": 0.0,
    }


async def test_metrics__requests_labelled_by_route_template_not_raw_path(client, db_session):
    product, key = await make_product(db_session)
    await client.get(
        f"/api/business/products/{product.id}/webhooks",
        headers={"Authorization": f"Bearer {key}"},
    )
    await client.get(f"/api/business/products/{product.id}/webhooks")  # 401

    text = (await client.get("/metrics")).text

    samples = [
        sample
        for family in text_string_to_metric_families(text)
        if family.name == "cascade_http_requests"
        for sample in family.samples
        if sample.labels.get("route") == "/api/business/products/{product_id}/webhooks"
    ]
    by_status = {sample.labels["status"]: sample.value for sample in samples}
    assert by_status["2xx"] >= 1 and by_status["4xx"] >= 1
    assert product.id not in text
    latency = [
        sample
        for family in text_string_to_metric_families(text)
        if family.name == "cascade_http_request_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count") and sample.labels.get("method") == "GET"
    ]
    assert latency


async def test_metrics__open_alerts_counted_at_scrape(client, db_session):
    await alerts.raise_alert(db_session, "indexer_lag_high", "critical", "indexer is behind")
    await db_session.commit()

    families = _families((await client.get("/metrics")).text)

    open_alerts = families["cascade_alerts_open"]
    values = {s.labels["severity"]: s.value for s in open_alerts.samples}
    assert values["critical"] == 1.0
    raised = families["cascade_alerts"]
    codes = {s.labels["code"] for s in raised.samples if s.name.endswith("_total")}
    assert "indexer_lag_high" in codes


async def test_metrics__token_when_configured(client, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "scrape-me")

    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert right.status_code == 200


def test_render__other_registries_families_appear_once():
    import backend.settlement.alerts  # noqa: F401  (declares a same-named counter itself)

    names = [family.name for family in text_string_to_metric_families(metrics.render().decode())]
    assert len(names) == len(set(names))
    assert "cascade_settlement_batches" in names and "process_cpu_seconds" in names
