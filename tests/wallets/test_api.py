"""GET /api/wallet/{address}/rewards and /history: the chain's numbers plus what is queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.products.models import ProductToken
from tests.factories import make_campaign, make_product, wallet
from tests.wallets.conftest import make_reward


async def _setup(db_session, chain):
    product, _ = await make_product(db_session, name="Shop One")
    db_session.add(
        ProductToken(product_id=product.id, address=chain.token, symbol="EURe", decimals=18)
    )
    await db_session.commit()
    campaign = await make_campaign(db_session, product, token=chain.token, name="Spring")
    return product, campaign


async def test_rewards__claimable_from_chain_queued_from_rewards_held_under_review(
    client, db_session, chain, make_indexer
):
    user = wallet()
    product, campaign = await _setup(db_session, chain)
    chain.push([(user, 700)])
    chain.claim(user)
    chain.push([(user, 300), (user, 25)])
    first = await make_reward(db_session, product, campaign, user, 40)
    second = await make_reward(db_session, product, campaign, user, 5, level=1)
    await make_reward(db_session, product, campaign, user, 999, status="cancelled")
    # held for a fraud review: shown apart, in neither queued nor claimable
    await make_reward(db_session, product, campaign, user, 11, status="held")
    async with make_indexer() as indexer:
        await indexer.catch_up()

    response = await client.get(f"/api/wallet/{user.lower()}/rewards")

    assert response.status_code == 200, response.text
    body = response.json()
    # ready rows of a campaign that settles every cycle: the queue is due since its oldest
    # became ready, so the next cycle after that takes them all
    oldest = min(r.available_at for r in (first, second))
    expected = datetime.fromisoformat(body["tokens"][0].pop("queued_expected_by"))
    assert expected == oldest + timedelta(seconds=300)
    assert body == {
        "wallet": user,
        "tokens": [
            {
                "token": chain.token,
                "symbol": "EURe",
                "decimals": 18,
                "claimable": str(chain.pending(user)),
                "queued": "45",
                "claimed_total": "700",
                "unconfirmed_claimable": "0",
                "under_review": "11",
            }
        ],
    }
    assert chain.pending(user) == 325


async def test_rewards__recent_blocks_count_as_unconfirmed(
    client, db_session, chain, make_indexer, monkeypatch
):
    monkeypatch.setenv("INDEXER_FINALITY_DEPTH", "3")
    user = wallet()
    chain.push([(user, 10)])
    for _ in range(3):
        chain.push([(wallet(), 1)])  # bury the first push 3 blocks deep
    chain.push([(user, 7)])
    async with make_indexer() as indexer:
        await indexer.catch_up()

    body = (await client.get(f"/api/wallet/{user}/rewards")).json()

    (token,) = body["tokens"]
    assert (token["claimable"], token["unconfirmed_claimable"]) == ("10", "7")
    assert token["symbol"] is None and token["decimals"] is None  # token not registered


async def test_rewards__unknown_wallet__empty_list(client):
    response = await client.get(f"/api/wallet/{wallet().upper().replace('0X', '0x')}/rewards")
    assert response.status_code == 200
    assert response.json()["tokens"] == []


@pytest.mark.parametrize(
    "address",
    ["0x123", "not-an-address", "0x" + "g" * 40, "0x" + "ab" * 21, "0xAbCdEf" + "0" * 34],
)
async def test_bad_address__422_with_machine_code(client, address):
    for path in ("rewards", "history", "stream"):
        response = await client.get(f"/api/wallet/{address}/{path}")
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_address"


def by_id_status(body, reward_id: int) -> str:
    return next(i["status"] for i in body["items"] if (i["kind"], i["id"]) == ("reward", reward_id))


async def test_history__rewards_and_claims_newest_first_with_statuses(
    client, db_session, chain, make_indexer
):
    user = wallet()
    product, campaign = await _setup(db_session, chain)
    claimed_push = chain.push([(user, 100)])
    pushed = await make_reward(
        db_session,
        product,
        campaign,
        user,
        100,
        status="pushed",
        tx_hash=claimed_push["transactionHash"].to_0x_hex(),
        pushed_at=datetime.now(UTC),
    )
    claim = chain.claim(user)
    later_push = chain.push([(user, 30)])
    still_pending = await make_reward(
        db_session,
        product,
        campaign,
        user,
        30,
        status="pushed",
        tx_hash=later_push["transactionHash"].to_0x_hex(),
        pushed_at=datetime.now(UTC),
    )
    queued = await make_reward(db_session, product, campaign, user, 12, level=2)
    held = await make_reward(db_session, product, campaign, user, 3, status="held")
    async with make_indexer() as indexer:
        await indexer.catch_up()

    response = await client.get(f"/api/wallet/{user}/history")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 5 and body["next_offset"] is None
    assert by_id_status(body, held.id) == "under_review"
    by_id = {(item["kind"], item["id"]): item for item in body["items"]}
    first = by_id[("reward", pushed.id)]
    assert first["status"] == "claimed"
    assert first["claim_tx_hash"] == claim["transactionHash"].to_0x_hex()
    assert first["campaign"] == {"id": str(campaign.id), "name": "Spring"}
    assert first["product"] == {"id": product.id, "name": "Shop One"}
    assert by_id[("reward", still_pending.id)]["status"] == "pushed"
    assert by_id[("reward", queued.id)]["status"] == "queued"
    assert by_id[("reward", queued.id)]["level"] == 2
    claims = [item for item in body["items"] if item["kind"] == "claim"]
    assert [(c["amount"], c["status"]) for c in claims] == [("100", "claimed")]
    times = [item["time"] for item in body["items"]]
    assert times == sorted(times, reverse=True)


async def test_history__paginates_and_validates_params(client, db_session, chain):
    user = wallet()
    product, campaign = await _setup(db_session, chain)
    for amount in range(1, 6):
        await make_reward(db_session, product, campaign, user, amount)

    first = (await client.get(f"/api/wallet/{user}/history?limit=2")).json()
    second = (await client.get(f"/api/wallet/{user}/history?limit=2&offset=2")).json()
    last = (await client.get(f"/api/wallet/{user}/history?limit=2&offset=4")).json()

    assert first["next_offset"] == 2 and second["next_offset"] == 4
    assert last["next_offset"] is None and len(last["items"]) == 1
    seen = [item["id"] for page in (first, second, last) for item in page["items"]]
    assert len(set(seen)) == 5
    for query in ("limit=0", "limit=101", "offset=-1", "limit=abc"):
        response = await client.get(f"/api/wallet/{user}/history?{query}")
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "validation_error"
