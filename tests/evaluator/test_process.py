"""`cascade serve` evaluates in a process of its own: it pays, shows its metrics through
the API, comes back after a crash, and never outlives the serve process."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import time
from collections.abc import AsyncIterator

import httpx
import psutil
import pytest

from backend.evaluation.metrics import process_dir
from backend.runtime.evaluator import NICE
from tests.core.test_serve import _start, _stop, _wait_ready
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import count
from tests.observability.samples import scrape, value

EVALUATOR_MODULE = "backend.runtime.evaluator"
EVALUATED_TOTAL = "cascade_interactions_evaluated_total"


def _evaluators(serve_pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(serve_pid).children(recursive=True):
        try:
            if EVALUATOR_MODULE in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


async def _until(check, limit_s: float, what: str):
    """The first truthy value of `check()` (plain or awaitable) within `limit_s`."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {limit_s} s")


@pytest.fixture
def serve_env(database_url, rpc_url) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "RPC_URL": rpc_url,
        "SECRET_KEY": "x" * 32,
        "SIGNER_KEY": "0x" + "22" * 32,
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
async def serve(pg_tmp_path, serve_env, clean_db) -> AsyncIterator[tuple[object, str]]:
    process, port = _start(pg_tmp_path, **serve_env)
    try:
        await asyncio.to_thread(_wait_ready, port, process)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            await asyncio.to_thread(_stop, process)


async def test_serve__evaluator_process__pays_counts_and_is_restarted_after_a_kill(
    db_session, serve
):
    process, base_url = serve
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    [evaluator] = await _until(lambda: _evaluators(process.pid), 10, "an evaluator process")
    assert evaluator.nice() == NICE  # below the request path
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:

        async def interact() -> None:
            answer = await client.post(
                "/api/external/interactions",
                json={"product_id": product.id, "wallet": wallet(), "type": "webshop.open"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["evaluated"] is False  # stored; the evaluator pays later

        for _ in range(3):
            await interact()

        async def paid(n: int):
            return await count(db_session, "SELECT count(*) FROM rewards") == n

        await _until(lambda: paid(3), 5, "three rewards")
        metrics = await scrape(client)
        assert value(metrics, EVALUATED_TOTAL) == 3.0  # counted in the evaluator, shown here

        os.kill(evaluator.pid, signal.SIGKILL)
        [again] = await _until(
            lambda: [e for e in _evaluators(process.pid) if e.pid != evaluator.pid],
            15,
            "a restarted evaluator",
        )
        await interact()
        await _until(lambda: paid(4), 10, "the fourth reward, after the restart")
        metrics = await scrape(client)
        assert value(metrics, EVALUATED_TOTAL) == 4.0  # the dead process's count is kept
    assert again.is_running()


async def test_serve__killed__its_evaluator_process_stops_too(serve, serve_env, pg_tmp_path):
    process, _ = serve
    [evaluator] = await _until(lambda: _evaluators(process.pid), 10, "an evaluator process")
    metrics_dir = process_dir(pg_tmp_path / "data", process.pid)
    assert metrics_dir.is_dir()
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    await _until(lambda: not evaluator.is_running(), 10, "the orphan stopping")

    # the next serve on this DATA_DIR drops the dead one's files, and its own on a clean stop
    again, port = _start(pg_tmp_path, **serve_env)
    try:
        await asyncio.to_thread(_wait_ready, port, again)
        assert not metrics_dir.exists()
        assert process_dir(pg_tmp_path / "data", again.pid).is_dir()
    finally:
        await asyncio.to_thread(_stop, again)
    assert not process_dir(pg_tmp_path / "data", again.pid).exists()
