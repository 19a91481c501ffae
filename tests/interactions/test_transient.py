"""A deadlock victim wrote nothing: ingestion retries it, and what is left is a clean 503."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from backend.core.transient import is_transient
from backend.interactions import store
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import count, send


class _PgError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _db_error(sqlstate: str) -> DBAPIError:
    return DBAPIError("INSERT …", {}, _PgError(sqlstate))


@pytest.mark.parametrize(
    ("sqlstate", "transient"), [("40P01", True), ("40001", True), ("23505", False)]
)
def test_is_transient__deadlocks_and_serialization_failures_only(sqlstate, transient):
    assert is_transient(_db_error(sqlstate)) is transient


async def test_ingest__deadlock_on_first_try__retried_and_stored_once(
    client, db_session, monkeypatch
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    real = store.store_group
    calls = {"n": 0}

    async def deadlock_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise _db_error("40P01")
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "store_group", deadlock_once)
    response = await send(client, key, product.id, wallet(), "webshop.open", {})

    assert response.status_code == 202, response.text
    assert calls["n"] == 2
    assert await count(db_session, "SELECT count(*) FROM interactions") == 1
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1


async def test_ingest__deadlock_every_time__clean_503_and_nothing_written(
    client, db_session, monkeypatch
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")

    async def always_deadlock(*args, **kwargs):
        raise _db_error("40P01")

    monkeypatch.setattr(store, "store_group", always_deadlock)
    response = await send(client, key, product.id, wallet(), "webshop.open", {})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "conflict_retry"
    assert response.headers["retry-after"] == "1"
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


async def test_batch__deadlock_after_its_rows_were_written__rolled_back_and_run_once_more(
    client, db_session, monkeypatch
):
    product, key = await make_product(db_session)
    real = store.store_in
    calls = {"n": 0}

    async def written_then_deadlock(*args, **kwargs):
        calls["n"] += 1
        stored = await real(*args, **kwargs)  # in the batch's transaction, not committed
        if calls["n"] == 1:
            raise _db_error("40P01")
        return stored

    monkeypatch.setattr(store, "store_in", written_then_deadlock)
    items = [{"product_id": product.id, "wallet": wallet(), "type": "webshop.open"}] * 3
    response = await client.post(
        "/api/external/interactions/batch",
        json={"interactions": items},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 202, response.text
    assert [r["status"] for r in response.json()["results"]] == [202, 202, 202]
    assert calls["n"] == 2
    assert await count(db_session, "SELECT count(*) FROM interactions") == 3
