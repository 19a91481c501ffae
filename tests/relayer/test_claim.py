"""Gasless claims: the relayer pays, the wallet gets every pending token, exactly once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from backend.core.context import AppContext
from backend.relayer.job import track_relays
from backend.relayer.models import RelayCharge, RelayRequest
from backend.relayer.relay import RelayerEnv
from backend.settlement.job import push_once
from backend.settlement.models import SettlementTransaction as Tx
from tests.factories import wallet
from tests.relayer.conftest import FAST, SIGNER, TOKENS, Env, bearer, configure, erc20_balance
from tests.settlement.helpers import SimulatedCrash, crash_at


async def pushed(env: Env, *rewards: tuple[str, int]) -> None:
    """Rewards credited on-chain (pending in MultiTokenPushPull) for these wallets."""
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], rewards)
    report = await push_once(env.ctx, options=FAST)
    assert report.rewards_pushed == len(rewards), report


async def rows(ctx: AppContext, model: type) -> list:
    async with ctx.sessions() as session:
        return list((await session.scalars(select(model))).all())


async def test_claim__pays_the_pending_tokens_to_the_wallet_and_the_relayer_pays_gas(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    user = wallet()
    await pushed(env, (user, 7 * TOKENS))
    relayer_eth = env.w3.eth.get_balance(SIGNER)

    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["tx_hash"]) == ("queued", None)  # waits for the next batch
    assert erc20_balance(env.w3, env.token, user) == 0
    await track_relays(ctx, relayer_env)  # sends the batch; automine mines it
    await track_relays(ctx, relayer_env)  # records the receipt
    assert erc20_balance(env.w3, env.token, user) == 7 * TOKENS
    assert env.onchain(user) == 0
    assert env.w3.eth.get_balance(user) == 0  # the user never needed gas
    assert env.w3.eth.get_balance(SIGNER) < relayer_eth
    (relay,) = await rows(ctx, RelayRequest)
    assert (relay.kind, relay.status, relay.wallet) == ("claim", "mined", user)
    assert relay.carrier_id == relay.id  # a batch of one carries itself
    assert relay.payload == [{"token": env.token, "amount": str(7 * TOKENS)}]
    receipt = env.w3.eth.get_transaction_receipt(relay.tx_hash)
    assert relay.gas_used == receipt["gasUsed"] and receipt["from"] == SIGNER
    (charge,) = await rows(ctx, RelayCharge)  # the product whose rewards these are pays
    assert (charge.product_id, charge.gas) == (env.product.id, relay.gas_used)

    status = await api.get(f"/api/wallet/relays/{relay.id}", headers=await bearer(ctx, user))
    assert status.status_code == 200
    assert status.json() == {
        "relay_id": str(relay.id),
        "kind": "claim",
        "status": "mined",
        "tx_hash": relay.tx_hash,
        "explorer_url": None,
        "error": None,
    }


async def test_relay_status__of_another_wallet__is_not_found(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    user = wallet()
    await pushed(env, (user, TOKENS))
    relay_id = (
        await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))
    ).json()["relay_id"]
    other = await api.get(f"/api/wallet/relays/{relay_id}", headers=await bearer(ctx, wallet()))
    assert other.status_code == 404 and other.json()["error"]["code"] == "relay_not_found"


async def test_claim__asked_again_while_in_flight__answers_the_same_relay_and_sends_nothing(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv, automine: None
):
    user = wallet()
    await pushed(env, (user, 3 * TOKENS))
    headers = await bearer(ctx, user)
    env.rpc("evm_setAutomine", [False])

    first = await api.post("/api/wallet/claim", json={}, headers=headers)
    second = await api.post("/api/wallet/claim", json={}, headers=headers)

    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    await track_relays(ctx, relayer_env)  # the batch goes out
    third = await api.post("/api/wallet/claim", json={}, headers=headers)
    assert third.json()["relay_id"] == first.json()["relay_id"]
    assert third.json()["status"] == "sent" and third.json()["tx_hash"].startswith("0x")
    assert len([t for t in await rows(ctx, Tx) if t.relay_id is not None]) == 1
    env.rpc("evm_mine")
    await track_relays(ctx, relayer_env)
    assert erc20_balance(env.w3, env.token, user) == 3 * TOKENS
    assert len(await rows(ctx, RelayRequest)) == 1


async def test_claim__same_idempotency_key__replays_the_answer(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    user = wallet()
    await pushed(env, (user, TOKENS))
    headers = {**await bearer(ctx, user), "Idempotency-Key": "claim-1"}
    first = await api.post("/api/wallet/claim", json={}, headers=headers)
    again = await api.post("/api/wallet/claim", json={}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(await rows(ctx, RelayRequest)) == 1


async def assert_refused_and_nothing_sent(
    env: Env, ctx: AppContext, response: httpx.Response, status: int, code: str, nonce: int
) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert await rows(ctx, RelayRequest) == []
    assert env.w3.eth.get_transaction_count(SIGNER, "pending") == nonce


async def test_claim__nothing_pending__409_nothing_to_claim(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    nonce = env.w3.eth.get_transaction_count(SIGNER, "pending")
    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, wallet()))
    await assert_refused_and_nothing_sent(env, ctx, response, 409, "nothing_to_claim", nonce)


async def test_claim__only_dust__422_claim_below_minimum(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    user = wallet()
    await pushed(env, (user, 5))
    configure(ctx, relayer_min_claim={env.token: 6, "*": 1})
    nonce = env.w3.eth.get_transaction_count(SIGNER, "pending")
    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))
    await assert_refused_and_nothing_sent(env, ctx, response, 422, "claim_below_minimum", nonce)
    assert response.json()["error"]["details"] == {"pending": {env.token: "5"}}
    assert env.onchain(user) == 5


async def test_claim__past_the_wallet_daily_limit__429_claim_limit_reached(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    user = wallet()
    configure(ctx, relayer_claims_per_wallet_per_day=1)
    await pushed(env, (user, TOKENS))
    headers = await bearer(ctx, user)
    assert (await api.post("/api/wallet/claim", json={}, headers=headers)).status_code == 202
    await track_relays(ctx, relayer_env)
    await pushed(env, (user, 2 * TOKENS))
    nonce = env.w3.eth.get_transaction_count(SIGNER, "pending")

    response = await api.post("/api/wallet/claim", json={}, headers=headers)

    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "claim_limit_reached"
    assert len(await rows(ctx, RelayRequest)) == 1
    assert env.w3.eth.get_transaction_count(SIGNER, "pending") == nonce
    assert env.onchain(user) == 2 * TOKENS


async def test_claim__product_out_of_gas_for_today__429_product_gas_budget_exhausted(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    user = wallet()
    await pushed(env, (user, TOKENS))
    configure(ctx, relayer_product_daily_gas=10_000)  # below any claim
    nonce = env.w3.eth.get_transaction_count(SIGNER, "pending")
    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))
    await assert_refused_and_nothing_sent(
        env, ctx, response, 429, "product_gas_budget_exhausted", nonce
    )


async def test_claim__relayer_out_of_gas_for_today__429_relayer_budget_exhausted(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    first, second = wallet(), wallet()
    await pushed(env, (first, TOKENS), (second, TOKENS))
    assert (
        await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, first))
    ).status_code == 202
    await track_relays(ctx, relayer_env)
    (relay,) = await rows(ctx, RelayRequest)
    configure(ctx, relayer_daily_gas=relay.gas_used + 1_000)  # today's spend is the budget
    nonce = env.w3.eth.get_transaction_count(SIGNER, "pending")

    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, second))

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "relayer_budget_exhausted"
    assert len(await rows(ctx, RelayRequest)) == 1
    assert env.w3.eth.get_transaction_count(SIGNER, "pending") == nonce


async def test_claim__without_a_session__401_and_with_an_api_key__403(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    from tests.factories import make_product

    assert (await api.post("/api/wallet/claim", json={})).status_code == 401
    async with ctx.sessions() as session:
        _, key = await make_product(session)
    response = await api.post(
        "/api/wallet/claim", json={}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "session_required"
    assert await rows(ctx, RelayRequest) == []


@pytest.mark.parametrize("tokens", [["0x1234"], ["not an address" * 3]])
async def test_claim__malformed_tokens__422_and_nothing_written(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, tokens: list[str]
):
    response = await api.post(
        "/api/wallet/claim", json={"tokens": tokens}, headers=await bearer(ctx, wallet())
    )
    assert response.status_code == 422
    assert await rows(ctx, RelayRequest) == []


async def test_claim__crash_after_the_transaction_is_stored__tracker_sends_the_same_bytes_once(
    env: Env,
    ctx: AppContext,
    relayer_env: RelayerEnv,
    monkeypatch: pytest.MonkeyPatch,
    api: httpx.AsyncClient,
):
    from backend.relayer import service

    user = wallet()
    await pushed(env, (user, 4 * TOKENS))
    await service.claim(relayer_env, user, None)
    crash_at(monkeypatch, "tx_stored")
    with pytest.raises(SimulatedCrash):
        await track_relays(ctx, relayer_env)  # the batch's bytes are stored, then the crash
    monkeypatch.undo()
    (stored,) = [t for t in await rows(ctx, Tx) if t.relay_id is not None]
    assert env.w3.eth.get_transaction_count(SIGNER, "pending") == stored.account_nonce  # unsent
    (relay,) = await rows(ctx, RelayRequest)
    assert (relay.status, relay.carrier_id) == ("queued", relay.id)

    again = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))
    assert again.json()["relay_id"] == str(relay.id)  # the stored claim, not a second one
    await track_relays(ctx, relayer_env)  # re-broadcasts the stored bytes
    (relay,) = await rows(ctx, RelayRequest)
    assert relay.status == "sent"  # the node took them: the wallet page says so
    await track_relays(ctx, relayer_env)  # sees them mined

    relay_txs = [t for t in await rows(ctx, Tx) if t.relay_id is not None]
    assert [(t.tx_hash, t.status) for t in relay_txs] == [(stored.tx_hash, "mined")]
    (relay,) = await rows(ctx, RelayRequest)
    assert (relay.status, relay.tx_hash) == ("mined", stored.tx_hash)
    assert erc20_balance(env.w3, env.token, user) == 4 * TOKENS
    after = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))
    assert after.json()["error"]["code"] == "nothing_to_claim"


async def test_claim__stuck_transaction__is_fee_bumped_and_the_replacement_is_recorded(
    env: Env, ctx: AppContext, relayer_env: RelayerEnv, automine: None, base_fee_restored: None
):
    from backend.relayer import service
    from backend.settlement.options import load_options

    user = wallet()
    await pushed(env, (user, TOKENS))
    env.rpc("evm_setAutomine", [False])
    await service.claim(relayer_env, user, None)
    await track_relays(ctx, relayer_env)  # the batch goes out
    (first,) = [t for t in await rows(ctx, Tx) if t.relay_id is not None]
    env.rpc("anvil_dropTransaction", [first.tx_hash])  # the node lost it...
    env.rpc("anvil_setNextBlockBaseFeePerGas", [hex(10**12)])  # ...and fees rose past it
    env.rpc("evm_mine")
    relayer_env._sender = None
    relayer_env.options = load_options(replace_after_s=0)
    await track_relays(ctx, relayer_env)  # refused for fees: a bumped replacement goes out
    env.rpc("evm_mine")
    await track_relays(ctx, relayer_env)

    relay_txs = sorted((t for t in await rows(ctx, Tx) if t.relay_id), key=lambda t: t.id)
    assert [t.status for t in relay_txs] == ["replaced", "mined"]
    assert relay_txs[1].max_fee_per_gas > relay_txs[0].max_fee_per_gas
    assert relay_txs[0].account_nonce == relay_txs[1].account_nonce
    (relay,) = await rows(ctx, RelayRequest)
    assert (relay.status, relay.tx_hash) == ("mined", relay_txs[1].tx_hash)
    assert erc20_balance(env.w3, env.token, user) == TOKENS


async def test_claims_and_pushes_at_once__share_the_signer_key_without_a_nonce_collision(
    env: Env, ctx: AppContext, relayer_env: RelayerEnv
):
    from backend.relayer import service

    claimers = [wallet() for _ in range(4)]
    await pushed(env, *[(user, TOKENS) for user in claimers])
    newcomers = [wallet() for _ in range(8)]

    async def pusher() -> None:
        for round_ in range(2):
            async with env.ctx.sessions() as session:
                chunk = newcomers[round_ * 4 : round_ * 4 + 4]
                await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in chunk])
            await push_once(env.ctx, options=FAST)

    async def claimer() -> None:
        for user in claimers:
            await service.claim(relayer_env, user, None)

    await asyncio.gather(pusher(), claimer())
    await push_once(env.ctx, options=FAST)
    await track_relays(ctx, relayer_env)

    async with ctx.sessions() as session:
        statuses = set((await session.scalars(select(Tx.status))).all())
        mined_relays = await session.scalar(
            select(func.count()).select_from(RelayRequest).where(RelayRequest.status == "mined")
        )
    assert statuses == {"mined"}  # no nonce taken twice: nothing replaced or dropped
    assert mined_relays == len(claimers)
    for user in claimers:
        assert erc20_balance(env.w3, env.token, user) == TOKENS and env.onchain(user) == 0
    for user in newcomers:
        assert env.onchain(user) == TOKENS
    assert env.w3.eth.get_transaction_count(SIGNER, "latest") == env.w3.eth.get_transaction_count(
        SIGNER, "pending"
    )


async def test_claim__own_relayer_key__sends_and_pays_from_it_and_its_job_tracks_it(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    from eth_account import Account

    relayer = Account.create()
    env.rpc("anvil_setBalance", [relayer.address, hex(10**18)])
    configure(ctx, relayer_key="0x" + bytes(relayer.key).hex())
    relayer_env._sender = None
    user = wallet()
    await pushed(env, (user, TOKENS))
    signer_nonce = env.w3.eth.get_transaction_count(SIGNER, "pending")

    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))

    assert response.status_code == 202, response.text
    await track_relays(ctx, relayer_env)
    await track_relays(ctx, relayer_env)
    (relay,) = await rows(ctx, RelayRequest)
    receipt = env.w3.eth.get_transaction_receipt(relay.tx_hash)
    assert receipt["from"] == relayer.address and receipt["status"] == 1
    assert env.w3.eth.get_transaction_count(SIGNER, "pending") == signer_nonce
    assert env.w3.eth.get_balance(relayer.address) < 10**18
    assert (relay.relayer, relay.status) == (relayer.address, "mined")
    assert erc20_balance(env.w3, env.token, user) == TOKENS


async def test_claim__relayer_cannot_pay_gas__503_relayer_unfunded_and_nothing_written(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    from eth_account import Account

    configure(ctx, relayer_key="0x" + bytes(Account.create().key).hex())  # holds no ETH
    relayer_env._sender = None
    user = wallet()
    await pushed(env, (user, TOKENS))

    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "relayer_unfunded"
    assert await rows(ctx, RelayRequest) == []
    assert env.onchain(user) == TOKENS


async def test_claims_of_several_wallets__ride_one_transaction_and_share_its_gas(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    users = [wallet() for _ in range(3)]
    await pushed(env, *[(user, (index + 1) * TOKENS) for index, user in enumerate(users)])
    for user in users:
        answer = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))
        assert answer.status_code == 202 and answer.json()["status"] == "queued"
    reserved = sum(relay.gas_limit for relay in await rows(ctx, RelayRequest))

    await track_relays(ctx, relayer_env)
    await track_relays(ctx, relayer_env)

    (tx,) = [t for t in await rows(ctx, Tx) if t.relay_id is not None]
    receipt = env.w3.eth.get_transaction_receipt(tx.tx_hash)
    relays = sorted(await rows(ctx, RelayRequest), key=lambda r: r.created_at)
    assert {r.carrier_id for r in relays} == {relays[0].id} == {tx.relay_id}
    assert {(r.status, r.tx_hash) for r in relays} == {("mined", tx.tx_hash)}
    assert sum(r.gas_used for r in relays) == receipt["gasUsed"]
    assert receipt["gasUsed"] < reserved  # one transaction for three: cheaper than three
    charges = await rows(ctx, RelayCharge)
    assert {c.relay_id: c.gas for c in charges} == {r.id: r.gas_used for r in relays}
    for index, user in enumerate(users):
        assert erc20_balance(env.w3, env.token, user) == (index + 1) * TOKENS
        assert env.onchain(user) == 0


async def test_claim__wallet_claims_itself_before_the_batch__paid_once(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    from eth_account import Account

    from backend.chain import contract

    me = Account.create()
    env.rpc("anvil_setBalance", [me.address, hex(10**18)])
    await pushed(env, (me.address, 2 * TOKENS))
    answer = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, me.address))
    assert answer.status_code == 202
    push_pull = contract(env.w3, "MultiTokenPushPull", ctx.settings.push_pull_address)
    call = push_pull.functions.pullReward(env.token).build_transaction(
        {"from": me.address, "nonce": 0, "gas": 200_000}
    )
    raw = me.sign_transaction(call).raw_transaction
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(raw))
    assert erc20_balance(env.w3, env.token, me.address) == 2 * TOKENS

    await track_relays(ctx, relayer_env)  # the batch still goes: the node would run it
    await track_relays(ctx, relayer_env)

    (relay,) = await rows(ctx, RelayRequest)
    assert relay.status == "mined"
    assert erc20_balance(env.w3, env.token, me.address) == 2 * TOKENS  # not a second time
    assert env.onchain(me.address) == 0


async def test_batch__one_claim_would_revert__it_fails_alone_and_the_others_are_paid(
    env: Env, ctx: AppContext, relayer_env: RelayerEnv
):
    from backend.chain import contract, deploy_contract, send
    from backend.relayer import service
    from tests.relayer.conftest import KEY

    token = deploy_contract(env.w3, KEY, "FalseReturnToken", "Blocky", "BLK", 18)
    erc20 = contract(env.w3, "FalseReturnToken", token)
    push_pull = contract(env.w3, "MultiTokenPushPull", ctx.settings.push_pull_address)
    blocked, fine = wallet(), wallet()
    send(env.w3, KEY, push_pull.functions.authorisePusher(SIGNER))
    send(env.w3, KEY, erc20.functions.mint(SIGNER, 5 * TOKENS))
    send(env.w3, KEY, erc20.functions.approve(push_pull.address, 5 * TOKENS))
    send(env.w3, KEY, push_pull.functions.fundBook(token, 5 * TOKENS))
    words = [2 * TOKENS << 160 | int(blocked, 16), 3 * TOKENS << 160 | int(fine, 16)]
    send(env.w3, KEY, push_pull.functions.pushRewards(token, words))
    for user in (blocked, fine):  # both accepted: each would pay now
        assert (await service.claim(relayer_env, user, [token])).status == "queued"
    send(env.w3, KEY, erc20.functions.setBlocked(blocked, True))  # then the token refuses one

    await track_relays(ctx, relayer_env)
    await track_relays(ctx, relayer_env)

    relays = {r.wallet: r for r in await rows(ctx, RelayRequest)}
    assert relays[fine].status == "mined" and relays[fine].carrier_id == relays[fine].id
    assert (relays[blocked].status, relays[blocked].error_code) == ("failed", "claim_would_revert")
    assert relays[blocked].carrier_id is None and relays[blocked].gas_used == 0
    assert "transfer failed" in (relays[blocked].error_message or "")
    assert erc20_balance(env.w3, token, fine) == 3 * TOKENS
    assert push_pull.functions.getPendingAmount(token, blocked).call() == 2 * TOKENS
    assert len([t for t in await rows(ctx, Tx) if t.relay_id is not None]) == 1


async def test_batch__two_replicas_at_once__one_transaction_carries_every_claim(
    env: Env, ctx: AppContext, relayer_app, relayer_env: RelayerEnv
):
    from backend.relayer import service
    from backend.relayer.batches import send_queued_claims
    from backend.relayer.relay import RelayerEnv as Env_

    users = [wallet() for _ in range(4)]
    await pushed(env, *[(user, TOKENS) for user in users])
    for user in users:
        await service.claim(relayer_env, user, None)
    other = Env_(ctx, options=relayer_env.options)  # a second replica's relayer

    carried = await asyncio.gather(send_queued_claims(relayer_env), send_queued_claims(other))

    assert sorted(carried) == [0, 4]
    assert len([t for t in await rows(ctx, Tx) if t.relay_id is not None]) == 1
    await track_relays(ctx, relayer_env)
    for user in users:
        assert erc20_balance(env.w3, env.token, user) == TOKENS


async def test_claim_wait__claims_wait_for_company_until_due_or_a_full_transaction(
    env: Env, ctx: AppContext, relayer_env: RelayerEnv, monkeypatch: pytest.MonkeyPatch
):
    from backend.relayer import batches, service

    users = [wallet() for _ in range(3)]
    await pushed(env, *[(user, TOKENS) for user in users])
    configure(ctx, relayer_claim_wait_s=3600)
    await service.claim(relayer_env, users[0], None)
    await track_relays(ctx, relayer_env)
    assert [t for t in await rows(ctx, Tx) if t.relay_id is not None] == []  # waits
    monkeypatch.setattr(batches, "MAX_CLAIM_WORDS", 2)  # a transaction holds two claims
    await service.claim(relayer_env, users[1], None)
    await track_relays(ctx, relayer_env)  # full: goes before its wait is over
    await track_relays(ctx, relayer_env)
    assert [erc20_balance(env.w3, env.token, user) for user in users] == [TOKENS, TOKENS, 0]
    await service.claim(relayer_env, users[2], None)
    await track_relays(ctx, relayer_env)
    assert erc20_balance(env.w3, env.token, users[2]) == 0  # alone: waits again
    configure(ctx, relayer_claim_wait_s=0)
    await track_relays(ctx, relayer_env)
    await track_relays(ctx, relayer_env)
    assert erc20_balance(env.w3, env.token, users[2]) == TOKENS
    assert len([t for t in await rows(ctx, Tx) if t.relay_id is not None]) == 2


async def test_batch__relayer_cannot_pay_when_the_batch_goes__claims_wait_and_tracking_goes_on(
    env: Env, ctx: AppContext, relayer_env: RelayerEnv
):
    from backend.relayer import service

    first, second = wallet(), wallet()
    await pushed(env, (first, TOKENS), (second, TOKENS))
    await service.claim(relayer_env, first, None)
    await track_relays(ctx, relayer_env)  # sent, not yet recorded as mined
    await service.claim(relayer_env, second, None)
    relayer_eth = env.w3.eth.get_balance(SIGNER)
    env.rpc("anvil_setBalance", [SIGNER, hex(0)])  # the relayer's account runs dry
    try:
        await track_relays(ctx, relayer_env)  # the batch cannot go; the first is still tracked
        relays = {r.wallet: r for r in await rows(ctx, RelayRequest)}
        assert relays[first].status == "mined"
        assert (relays[second].status, relays[second].carrier_id) == ("queued", None)
    finally:
        env.rpc("anvil_setBalance", [SIGNER, hex(relayer_eth)])
    await track_relays(ctx, relayer_env)  # funded again: the waiting claim goes
    await track_relays(ctx, relayer_env)
    assert erc20_balance(env.w3, env.token, second) == TOKENS
