"""Single requests that arrive together are stored by one call, each answered exactly as
if it had been stored alone (backend.interactions.coalesce, migration 0023)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncpg.exceptions import ForeignKeyViolationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.interactions import coalesce, store
from backend.interactions.preparation import Prepared
from tests.factories import make_product, wallet
from tests.interactions.helpers import bearer, count, rows
from tests.observability.samples import delta, rendered

GROUPS = "cascade_ingest_group_size_count"
GROUPED = "cascade_ingest_group_size_sum"


def _entry(product_id: str, who: str, kind: str, key: str | None, limit: int | None):
    item = Prepared(product_id, who, kind, {}, dedup_key=key)
    return store.Entry(product_id, item, 3600, limit, "api_key")


def _open(product_id: str, who: str) -> dict[str, Any]:
    return {"product_id": product_id, "wallet": who, "type": "webshop.open"}


async def _all_at_once(client: Any, requests: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """POST every (API key, body) at once: the handlers run concurrently."""
    return await asyncio.gather(
        *(
            client.post("/api/external/interactions", json=body, headers=bearer(key, wait=False))
            for key, body in requests
        )
    )


def _verdicts(results: list[store.Stored]) -> list[Any]:
    """What each item came to, ids replaced by the index of the item that stored them."""
    index = {r.id: i for i, r in enumerate(results) if r.id is not None}
    verdicts: list[Any] = []
    for result in results:
        if result.id is not None:
            verdicts.append("stored")
        elif result.duplicate_of is not None:
            verdicts.append(("duplicate of", index[result.duplicate_of]))
        else:
            assert result.oldest is not None and result.oldest <= result.now
            verdicts.append("limited")
    return verdicts


item = st.tuples(
    st.integers(0, 2),  # wallet
    st.sampled_from(["webshop.open", "custom.visit"]),
    st.sampled_from([None, None, "k0", "k1"]),  # dedup key
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(item, min_size=1, max_size=24), limit=st.one_of(st.none(), st.integers(1, 4)))
async def test_group__any_items__same_answers_as_one_at_a_time(clean_db, db_session, items, limit):
    grouped, alone = [(await make_product(db_session))[0].id for _ in range(2)]
    people = [wallet() for _ in range(3)]

    together = await store.store_group(
        clean_db.engine,
        [_entry(grouped, people[w], t, k, limit) for w, t, k in items],
    )
    one_by_one = [
        (await store.store_group(clean_db.engine, [_entry(alone, people[w], t, k, limit)]))[0]
        for w, t, k in items
    ]

    assert _verdicts(together) == _verdicts(one_by_one)
    ids = [r.id for r in together if r.id is not None]
    assert ids == sorted(ids)  # arrival order is id order
    stored = await rows(
        db_session,
        "SELECT i.id, q.interaction_id IS NOT NULL AS queued FROM interactions AS i "
        "LEFT JOIN evaluation_queue AS q ON q.interaction_id = i.id "
        "WHERE i.product_id = :p ORDER BY i.id",
        p=grouped,
    )
    assert [r.id for r in stored] == ids
    assert all(r.queued for r in stored)


async def test_concurrent_singles__two_shops__grouped_each_row_with_its_own_caller(
    client, db_session
):
    shops = [await make_product(db_session) for _ in range(2)]
    people = [wallet() for _ in range(30)]
    before = rendered()

    answers = await _all_at_once(
        client, [(shops[i % 2][1], _open(shops[i % 2][0].id, who)) for i, who in enumerate(people)]
    )

    after = rendered()
    assert [a.status_code for a in answers] == [202] * 30
    stored = {
        r.id: (r.product_id, r.wallet, r.source_ref)
        for r in await rows(
            db_session, "SELECT id, product_id, wallet, source_ref FROM interactions"
        )
    }
    answered = {a.json()["interaction_id"]: i for i, a in enumerate(answers)}
    assert set(answered) == set(stored)
    for interaction_id, i in answered.items():
        assert stored[interaction_id][:2] == (shops[i % 2][0].id, people[i])
    refs = {
        shop.id: {ref for product, _, ref in stored.values() if product == shop.id}
        for shop, _ in shops
    }
    assert all(len(r) == 1 for r in refs.values())  # each shop's key, on each of its rows
    assert len(set.union(*refs.values())) == 2
    assert delta(before, after, GROUPED) == 30
    assert delta(before, after, GROUPS) < 30  # some calls stored several requests


async def test_concurrent_singles__one_wallet_over_its_limit__exactly_the_limit_stored(
    client, db_session
):
    product, key = await make_product(db_session, rate_limit_per_hour=5)
    who = wallet()
    before = rendered()

    answers = await _all_at_once(client, [(key, _open(product.id, who))] * 12)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] * 5 + [429] * 7
    assert all(int(a.headers["retry-after"]) > 0 for a in answers if a.status_code == 429)
    assert await count(db_session, "SELECT count(*) FROM interactions") == 5
    assert delta(before, rendered(), GROUPS) < 12


async def test_concurrent_singles__one_dedup_key__one_stored_the_rest_point_at_it(
    client, db_session
):
    product, key = await make_product(db_session)
    who = wallet()
    body = {**_open(product.id, who), "dedup_key": "o-1"}

    answers = await _all_at_once(client, [(key, body)] * 6)

    assert [a.status_code for a in answers] == [202] * 6
    ids = {a.json()["interaction_id"] for a in answers}
    assert len(ids) == 1
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 5
    assert await count(db_session, "SELECT count(*) FROM interactions") == 1


async def test_group__an_item_the_database_refuses__the_others_stored_alone(clean_db, db_session):
    product, _ = await make_product(db_session)
    coalescer = coalesce.Coalescer(clean_db.engine)
    before = rendered()

    answers = await asyncio.gather(
        coalescer.submit(_entry(product.id, wallet(), "webshop.open", None, 100)),
        coalescer.submit(_entry("0x" + "ab" * 32, wallet(), "webshop.open", None, 100)),
        coalescer.submit(_entry(product.id, wallet(), "webshop.open", None, 100)),
        return_exceptions=True,
    )

    assert isinstance(answers[1], ForeignKeyViolationError)
    assert all(isinstance(a, store.Stored) and a.id is not None for a in (answers[0], answers[2]))
    assert await count(db_session, "SELECT count(*) FROM interactions") == 2
    after = rendered()
    assert delta(before, after, GROUPS) == 4  # the group of three, then each alone
    assert delta(before, after, GROUPED) == 6


async def test_group__a_request_cancelled_while_it_waits__is_not_stored(
    clean_db, db_session, monkeypatch
):
    product, _ = await make_product(db_session)
    monkeypatch.setattr(coalesce, "IN_FLIGHT", 1)
    release = asyncio.Event()
    real = store.store_group

    async def held(*args: Any, **kwargs: Any) -> list[store.Stored]:
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "store_group", held)
    coalescer = coalesce.Coalescer(clean_db.engine)
    first = asyncio.create_task(
        coalescer.submit(_entry(product.id, wallet(), "webshop.open", None, 100))
    )
    await asyncio.sleep(0.05)  # the first group is out, and held
    gone = asyncio.create_task(
        coalescer.submit(_entry(product.id, wallet(), "webshop.open", None, 100))
    )
    await asyncio.sleep(0.05)
    gone.cancel()
    release.set()

    stored = await first
    with pytest.raises(asyncio.CancelledError):
        await gone
    await asyncio.sleep(0.05)  # the drain looks at the queue once more
    assert [r.id for r in await rows(db_session, "SELECT id FROM interactions")] == [stored.id]
