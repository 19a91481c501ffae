"""Two `cascade serve` processes on one database: what one learns, the other knows within 1 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from backend.products.ids import new_api_key
from backend.products.models import ApiKey, Role
from tests.core.test_serve import _start, _stop, _wait_ready
from tests.factories import make_campaign, make_product, wallet


@pytest.fixture
async def two_servers(pg_tmp_path, database_url, rpc_url, clean_db) -> AsyncIterator[list[str]]:
    env = {
        "DATABASE_URL": database_url,
        "RPC_URL": rpc_url,
        "SECRET_KEY": "x" * 32,
        "SIGNER_KEY": "0x" + "22" * 32,
        "LOG_LEVEL": "WARNING",
    }
    for name in ("a", "b"):
        (pg_tmp_path / name).mkdir()
    started = [_start(pg_tmp_path / name, **env) for name in ("a", "b")]
    try:
        for process, port in started:
            await asyncio.to_thread(_wait_ready, port, process)
        yield [f"http://127.0.0.1:{port}" for _, port in started]
    finally:
        for process, _ in started:
            await asyncio.to_thread(_stop, process)


async def _within_one_second(check) -> float:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < 1.0, "not everywhere within 1 s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_two_serve_processes__revoked_key_and_paused_campaign__everywhere_within_1s(
    db_session, two_servers, pg_tmp_path
):
    product, admin = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="webshop.open")
    sender, prefix, key_hash = new_api_key()
    row = ApiKey(
        product_id=product.id,
        name="shop server",
        prefix=prefix,
        key_hash=key_hash,
        roles=int(Role.INTERACTION_MANAGER),
    )
    db_session.add(row)
    await db_session.commit()
    servers = [httpx.AsyncClient(base_url=url, timeout=10) for url in two_servers]

    async def interact(server: httpx.AsyncClient) -> httpx.Response:
        return await server.post(
            "/api/external/interactions",
            json={"product_id": product.id, "wallet": wallet(), "type": "webshop.open"},
            headers={"Authorization": f"Bearer {sender}", "Prefer": "wait=5"},
        )

    try:
        for server in servers:  # each process caches the key and pays
            answer = await interact(server)
            assert answer.status_code == 202 and answer.json()["rewards"], answer.text

        paused = await servers[0].post(
            f"/api/business/campaigns/{campaign.id}/pause",
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert paused.status_code == 200, paused.text

        async def nothing_paid_anywhere() -> bool:
            answers = [await interact(server) for server in servers]
            return all(a.json()["evaluated"] and a.json()["rewards"] == [] for a in answers)

        await _within_one_second(nothing_paid_anywhere)

        revoked = await servers[1].delete(
            f"/api/business/products/{product.id}/api-keys/{row.id}",
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert revoked.status_code in (200, 204), revoked.text

        async def refused_everywhere() -> bool:
            codes = [(await interact(server)).status_code for server in servers]
            return codes == [401, 401]

        await _within_one_second(refused_everywhere)
    finally:
        for server in servers:
            await server.aclose()
