"""/health/ready reports the indexer's lag and turns not-ready above INDEXER_MAX_LAG_BLOCKS."""

from __future__ import annotations

import pytest

from backend.api.app import create_app
from backend.core.context import AppContext
from backend.runtime.anvil import rpc_call
from tests.conftest import asgi_client, truncate_all


@pytest.fixture
async def ready_client(settings, chain, clean_db):
    configured = settings.model_copy(
        update={"push_pull_address": chain.push_pull, "bank_factory_address": chain.bank_factory}
    )
    context = AppContext(configured, clean_db.database_url, clean_db.rpc_url)
    app = create_app(
        configured, database_url=context.database_url, rpc_url=context.rpc_url, context=context
    )
    async with asgi_client(app) as client:
        yield client
    await context.close()
    await truncate_all(clean_db)


async def _indexer_check(client):
    response = await client.get("/health/ready")
    return response, response.json()["checks"]["indexer"]


async def test_ready__indexer_never_ran__not_ready(ready_client):
    response, check = await _indexer_check(ready_client)
    assert response.status_code == 503
    assert check["ok"] is False and "not run yet" in check["reason"]


async def test_ready__lag_within_threshold_then_beyond(
    ready_client, chain, make_indexer, monkeypatch
):
    monkeypatch.setenv("INDEXER_MAX_LAG_BLOCKS", "2")
    async with make_indexer() as indexer:
        await indexer.catch_up()
    _, check = await _indexer_check(ready_client)
    assert check == {
        "ok": True,
        "head": chain.head(),
        "checkpoint": chain.head(),
        "lag": 0,
        "max_lag": 2,
        "gating": True,  # indexer lag takes a replica out of the load balancer
    }

    rpc_call(chain.rpc_url, "anvil_mine", ["0x3"])
    response, check = await _indexer_check(ready_client)

    assert response.status_code == 503
    assert check["ok"] is False and check["lag"] == 3
    assert "3 blocks behind" in response.json()["error"]["details"]["indexer"]


async def test_ready__contracts_not_configured__check_skipped(client):
    response = await client.get("/health/ready")
    assert response.json()["checks"]["indexer"]["ok"] is True
