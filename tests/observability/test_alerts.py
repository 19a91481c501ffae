"""raise_alert: one open row per (code, subject), an error log with the code, a count, health."""

from __future__ import annotations

import logging

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from backend.core.models import Alert
from backend.observability import alerts, metrics
from tests.factories import make_product


def _raised(code: str) -> float:
    for family in text_string_to_metric_families(metrics.render().decode()):
        if family.name == "cascade_alerts":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("code") == code:
                    return sample.value
    return 0.0


async def test_raise_alert__dedups_open_alert_logs_and_counts_once(db_session, caplog):
    before = _raised("signer_balance_low")
    caplog.set_level(logging.ERROR, logger="backend.alerts")

    first = await alerts.raise_alert(
        db_session,
        "signer_balance_low",
        "critical",
        "signer balance below threshold",
        details={"balance_wei": "1"},
    )
    again = await alerts.raise_alert(
        db_session,
        "signer_balance_low",
        "critical",
        "signer balance below threshold",
        details={"balance_wei": "0"},
    )
    await db_session.commit()

    assert first.id == again.id and again.details == {"balance_wei": "0"}
    assert _raised("signer_balance_low") == before + 1
    [record] = [r for r in caplog.records if getattr(r, "alert", None) == "signer_balance_low"]
    assert record.levelno == logging.ERROR

    assert await alerts.resolve_alert(db_session, "signer_balance_low") == 1
    await db_session.commit()
    fresh = await alerts.raise_alert(db_session, "signer_balance_low", "critical", "again")
    assert fresh.id != first.id
    await db_session.commit()


async def test_raise_alert__subjects_are_separate(db_session):
    a = await alerts.raise_alert(db_session, "batch_unconfirmed", "error", "x", subject="batch:1")
    b = await alerts.raise_alert(db_session, "batch_unconfirmed", "error", "x", subject="batch:2")
    await db_session.commit()
    assert a.id != b.id
    rows = (await db_session.scalars(select(Alert))).all()
    assert len(rows) == 2


async def test_readiness__critical_alert_is_reported_but_does_not_gate(client, db_session):
    ok = (await client.get("/health/ready")).json()
    assert ok["checks"]["alerts"]["ok"] is True

    product, _ = await make_product(db_session)
    await alerts.raise_alert(
        db_session, "campaign_budget_low", "warning", "owner matter", product_id=product.id
    )
    await alerts.raise_alert(db_session, "indexer_lag_high", "critical", "indexer far behind")
    await db_session.commit()

    response = await client.get("/health/ready")

    # the replica still serves traffic; the operator sees the alert in the details
    assert response.status_code == 200
    check = response.json()["checks"]["alerts"]
    assert check["gating"] is False
    assert check["ok"] is False and "indexer_lag_high" in check["reason"]
    assert [a["code"] for a in check["open"]] == ["indexer_lag_high"]
    assert "owner matter" not in response.text  # product alerts are not public


async def test_product_alerts_route__owner_sees_own_only(client, db_session):
    product, key = await make_product(db_session)
    other, other_key = await make_product(db_session)
    await alerts.raise_alert(
        db_session,
        "campaign_budget_low",
        "warning",
        "campaign uses 80% of its budget",
        product_id=product.id,
        subject="campaign:1",
    )
    await alerts.raise_alert(db_session, "signer_balance_low", "critical", "operator matter")
    await db_session.commit()
    url = f"/api/business/products/{product.id}/alerts"

    response = await client.get(url, headers={"Authorization": f"Bearer {key}"})

    assert response.status_code == 200
    [alert] = response.json()
    assert alert["code"] == "campaign_budget_low" and alert["resolved_at"] is None
    denied = await client.get(url, headers={"Authorization": f"Bearer {other_key}"})
    assert denied.status_code == 404
    assert other.id != product.id
