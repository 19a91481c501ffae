"""The single endpoint: budgets under concurrency, pauses, range draws, dropped connections."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from backend.api.app import create_app
from backend.campaigns import snapshots
from backend.core.context import AppContext
from backend.core.db import _unusable_connection, connection_gone, create_engine, session_factory
from backend.rewards.calculator import parse_reward_config, range_amount, range_seed
from tests.conftest import TEST_SECRET, asgi_client
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, count, rows, send


async def test_single__50_parallel_opens_room_for_10__pays_exactly_10(client, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(
        db_session, product, trigger="webshop.open", budget_cap=100 * E18
    )

    answers = await asyncio.gather(
        *(send(client, key, product.id, wallet(), "webshop.open") for _ in range(50))
    )

    assert all(a.status_code == 202 for a in answers), [a.text for a in answers][:3]
    assert sum(1 for a in answers if a.json()["rewards"]) == 10
    assert await count(db_session, "SELECT count(*) FROM interactions") == 50
    assert await count(db_session, "SELECT sum(amount) FROM rewards") == 100 * E18
    state = await rows(
        db_session, "SELECT used_budget, status FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert (int(state[0].used_budget), state[0].status) == (100 * E18, "budget_exhausted")


async def test_single__parallel_uncapped__used_budget_is_the_sum_of_reward_rows(client, db_session):
    product, key = await make_product(db_session)
    referrer = wallet()
    await send(client, key, product.id, referrer, "webshop.open")
    users = [wallet() for _ in range(20)]
    for user in users[:10]:  # half of them pay a referrer too
        await send(client, key, product.id, user, "referral.referred", {"referrer": referrer})
    campaign = await make_campaign(db_session, product, trigger="webshop.open")
    snapshots.invalidate_product_campaigns(product.id)  # what the business API does

    answers = await asyncio.gather(
        *(send(client, key, product.id, user, "webshop.open") for user in users * 2)
    )

    assert all(a.status_code == 202 and a.json()["rewards"] for a in answers)
    paid = sum(int(r["amount"]) for a in answers for r in a.json()["rewards"])
    assert paid == 40 * 10 * E18
    assert await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=campaign.id
    ) == await count(db_session, "SELECT sum(amount) FROM rewards WHERE status <> 'cancelled'")
    assert await count(db_session, "SELECT sum(reward_count) FROM campaign_user_rewards") == 40
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE level = 1") == 20


async def test_single__campaign_paused_behind_the_cache__stores_without_paying(client, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="webshop.open")
    assert (await send(client, key, product.id, wallet(), "webshop.open")).json()["rewards"]
    # another process pauses it: this process's campaign cache still says active
    await db_session.execute(
        text("UPDATE campaigns SET status = 'paused', version = version + 1 WHERE id = :id"),
        {"id": campaign.id},
    )
    await db_session.commit()

    response = await send(client, key, product.id, wallet(), "webshop.open")

    assert response.status_code == 202
    assert response.json()["rewards"] == []
    assert await count(db_session, "SELECT count(*) FROM interactions") == 2
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 10 * E18


async def test_single__range_reward__drawn_from_the_stored_interaction_id(client, db_session):
    product, key = await make_product(db_session)
    config = {"start": str(1 * E18), "end": str(9 * E18)}
    campaign = await make_campaign(
        db_session, product, trigger="webshop.open", reward_type="range", reward_config=config
    )

    body = (await send(client, key, product.id, wallet(), "webshop.open")).json()

    parsed = parse_reward_config("range", config)
    seed = range_seed(TEST_SECRET, campaign.id, body["interaction_id"])
    base = range_amount(parsed.start, parsed.end, parsed.beta_bps, seed)
    assert sum(int(r["amount"]) for r in body["rewards"]) == base
    stored = await rows(db_session, "SELECT interaction_id FROM rewards")
    assert [r.interaction_id for r in stored] == [body["interaction_id"]]


async def test_single__rate_limited__stores_and_pays_nothing(client, db_session):
    product, key = await make_product(db_session, rate_limit_per_hour=2)
    await make_campaign(db_session, product, trigger="webshop.open")
    user = wallet()

    answers = [await send(client, key, product.id, user, "webshop.open") for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert await count(db_session, "SELECT count(*) FROM interactions") == 2
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 20 * E18


async def test_single__connection_dropped__503_then_recovers(settings, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    context = AppContext(settings, settings.database_url, "http://127.0.0.1:9")
    await context.engine.dispose()
    context.engine = create_engine(
        settings.database_url,
        connect_args={"server_settings": {"application_name": "cascade-drop-test"}},
    )
    context.sessions = session_factory(context.engine)
    app = create_app(settings, database_url=settings.database_url, rpc_url="", context=context)
    try:
        async with asgi_client(app) as http:
            assert (await send(http, key, product.id, wallet(), "webshop.open")).status_code == 202
            await db_session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'cascade-drop-test'"
                )
            )
            await db_session.commit()

            dropped = await asyncio.wait_for(
                send(http, key, product.id, wallet(), "webshop.open"), timeout=10
            )
            again = await asyncio.wait_for(
                send(http, key, product.id, wallet(), "webshop.open"), timeout=10
            )
    finally:
        await context.close()

    assert dropped.status_code == 503
    assert dropped.json()["error"]["code"] == "database_unavailable"
    assert again.status_code == 202 and again.json()["rewards"]


def test_dropped_connection__mid_statement_protocol_error__is_a_disconnect():
    class InternalClientError(Exception):  # what asyncpg raises when the server went away
        pass

    wrapped = RuntimeError("adapted")
    wrapped.__cause__ = InternalClientError("cannot switch to state 12; another operation")
    context = SimpleNamespace(
        original_exception=wrapped, statement="SELECT 1", parameters=(), is_disconnect=False
    )

    replaced = _unusable_connection(context)  # type: ignore[arg-type]

    assert isinstance(replaced, OperationalError) and replaced.connection_invalidated
    assert context.is_disconnect is True
    assert _unusable_connection(SimpleNamespace(original_exception=ValueError("x"))) is None  # type: ignore[arg-type]


def test_dropped_connection__raw_driver_protocol_error__is_a_disconnect():
    class InternalClientError(Exception):  # raised unwrapped on the driver's own path
        pass

    assert connection_gone(InternalClientError("cannot switch to state 12; another operation"))
    assert not connection_gone(InternalClientError("something else"))
    assert not connection_gone(ValueError("cannot switch to state 12"))
