"""Embedded PostgreSQL and anvil start on demand and leave nothing behind."""

from __future__ import annotations

import asyncio

import psutil
from sqlalchemy import text

from backend.core.config import load_settings
from backend.core.db import create_engine
from backend.runtime.anvil import EmbeddedAnvil, rpc_call
from backend.runtime.services import embedded_services


def test_anvil__starts_on_a_free_port_and_stops():
    node = EmbeddedAnvil(chain_id=4242)
    url = node.start()
    assert url.startswith("http://127.0.0.1:")
    assert int(rpc_call(url, "eth_chainId"), 16) == 4242
    pid = node.process.pid
    node.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_embedded_services__start_both_and_stop_both(pg_tmp_path):
    settings = load_settings(data_dir=pg_tmp_path, database_url=None, rpc_url=None)
    with embedded_services(settings) as endpoints:
        assert endpoints.postgres is not None and endpoints.anvil is not None
        postgres_pid = endpoints.postgres.pid
        anvil_pid = endpoints.anvil.process.pid

        async def select_one() -> int:
            engine = create_engine(endpoints.database_url, pool_size=1)
            async with engine.connect() as conn:
                value = await conn.scalar(text("SELECT 1"))
            await engine.dispose()
            return value

        assert asyncio.run(select_one()) == 1
        assert int(rpc_call(endpoints.rpc_url, "eth_chainId"), 16) == 31337
    for pid in (postgres_pid, anvil_pid):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_given_urls__start_nothing(pg_tmp_path, database_url, rpc_url):
    settings = load_settings(data_dir=pg_tmp_path, database_url=database_url, rpc_url=rpc_url)
    with embedded_services(settings) as endpoints:
        assert endpoints.postgres is None and endpoints.anvil is None
        assert endpoints.database_url == database_url
        assert endpoints.rpc_url == rpc_url
    assert not (pg_tmp_path / "postgres").exists()
