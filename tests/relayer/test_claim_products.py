"""Who pays a claim: the product whose rewards are claimed, within its daily gas."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from backend.chain import deploy_bank, deploy_test_token
from backend.core.context import AppContext
from backend.products.models import ProductBank
from backend.relayer.job import track_relays
from backend.relayer.models import RelayCharge, RelayRequest
from backend.relayer.relay import RelayerEnv
from backend.settlement.job import push_once
from tests.factories import make_campaign, make_product, wallet
from tests.relayer.conftest import FAST, KEY, SIGNER, TOKENS, Env, bearer, configure, erc20_balance


async def second_product(env: Env) -> Env:
    """Another product with its own bank and token, funded, on the same chain."""
    async with env.ctx.sessions() as session:
        product, _ = await make_product(session)
        bank = deploy_bank(
            env.w3, KEY, env.core["bank_factory"], bytes.fromhex(product.id[2:]), SIGNER
        )
        token = deploy_test_token(env.w3, KEY, "Other", "OTH")
        session.add(ProductBank(product_id=product.id, chain_id=31337, address=bank))
        await session.commit()
        campaign = await make_campaign(session, product, token=token, id=uuid.uuid4())
    other = Env(env.ctx, env.w3, env.rpc_url, env.core, product, bank, token, [campaign])
    other.fund(1_000 * TOKENS)
    other.allocate(campaign, 0)
    return other


async def spent_today(ctx: AppContext, product_id: str, gas: int) -> None:
    """An earlier claim today charged `gas` to the product."""
    async with ctx.sessions() as session:
        relay = RelayRequest(
            id=uuid.uuid4(),
            chain_id=31337,
            kind="claim",
            wallet=wallet(),
            status="mined",
            relayer=SIGNER,
            target=SIGNER,
            payload=[],
            gas_limit=gas,
            gas_used=gas,
        )
        session.add(relay)
        await session.flush()
        session.add(RelayCharge(relay_id=relay.id, product_id=product_id, gas=gas))
        await session.commit()


async def test_claim__one_product_out_of_gas__the_other_products_tokens_are_still_claimed(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    other = await second_product(env)
    user = wallet()
    for each, amount in ((env, 2 * TOKENS), (other, 3 * TOKENS)):
        async with env.ctx.sessions() as session:
            await each.add_rewards(session, each.campaigns[0], [(user, amount)])
    assert (await push_once(env.ctx, options=FAST)).rewards_pushed == 2
    configure(ctx, relayer_product_daily_gas=1_000_000)
    await spent_today(ctx, env.product.id, 999_000)  # the first product has 1,000 gas left

    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))

    assert response.status_code == 202, response.text
    await track_relays(ctx, relayer_env)
    assert erc20_balance(env.w3, other.token, user) == 3 * TOKENS
    assert erc20_balance(env.w3, env.token, user) == 0 and env.onchain(user) == 2 * TOKENS
    async with ctx.sessions() as session:
        relay = await session.scalar(select(RelayRequest).where(RelayRequest.wallet == user))
        assert relay is not None and relay.status == "mined"
        charges = (
            await session.execute(
                select(RelayCharge.product_id, RelayCharge.gas).where(
                    RelayCharge.relay_id == relay.id
                )
            )
        ).all()
    assert relay.payload == [{"token": other.token, "amount": str(3 * TOKENS)}]
    assert charges == [(other.product.id, relay.gas_used)]


async def test_claim__two_products__each_pays_its_tokens_share(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv
):
    other = await second_product(env)
    user = wallet()
    for each in (env, other):
        async with env.ctx.sessions() as session:
            await each.add_rewards(session, each.campaigns[0], [(user, TOKENS)])
    await push_once(env.ctx, options=FAST)

    response = await api.post("/api/wallet/claim", json={}, headers=await bearer(ctx, user))

    assert response.status_code == 202
    await track_relays(ctx, relayer_env)
    async with ctx.sessions() as session:
        relay = await session.scalar(select(RelayRequest))
        charges = dict(
            (await session.execute(select(RelayCharge.product_id, RelayCharge.gas))).all()
        )
    assert relay is not None and relay.gas_used is not None
    assert set(charges) == {env.product.id, other.product.id}
    assert sum(charges.values()) <= relay.gas_used
    assert abs(charges[env.product.id] - charges[other.product.id]) <= 1
    assert erc20_balance(env.w3, env.token, user) == erc20_balance(env.w3, other.token, user)
