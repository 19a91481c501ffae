"""On-chain set-ups for the dashboard's browser tests and screenshots.

A product whose bank is deployed, funded and paying one active campaign, through
the same services the dashboard calls; then rewards earned through the
interactions API, settled by the push job and indexed, as in production.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns import service as campaigns
from backend.campaigns import transitions
from backend.campaigns.models import Campaign
from backend.campaigns.schemas import CampaignCreate, FixedReward
from backend.chain.client import connect, contract, send
from backend.core.context import AppContext
from backend.products import bank, tokens
from backend.products.authorization import CLI_PRINCIPAL
from backend.products.models import Product
from backend.products.schemas import TokenCreate
from backend.settlement.job import push_once
from indexer.runner import index_once
from tests.browser.harness import FakeEthereum
from tests.factories import make_product

TOKEN = 10**18


@dataclass
class Shop:
    ctx: AppContext
    product: Product
    api_key: str
    token: str
    bank: str
    campaign: Campaign

    def balance_of(self, wallet: str) -> int:
        erc20 = contract(connect(self.ctx.rpc_url), "MockERC20", self.token)
        return int(erc20.functions.balanceOf(wallet).call())


async def open_shop(
    session: AsyncSession,
    ctx: AppContext,
    token: str,
    owner: str,
    *,
    trigger: str = "custom.signup",
    reward: int = 10 * TOKEN,
    budget_cap: int = 0,
    name: str = "Sunny shop",
    campaign_name: str = "Spring referrals",
) -> Shop:
    """A product with `token` registered, its bank deployed and funded, one active campaign."""
    domain = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}.example"
    product, api_key = await make_product(session, owner=owner, domain=domain, name=name)
    await tokens.register_token(session, CLI_PRINCIPAL, product.id, TokenCreate(address=token), ctx)
    view, _ = await bank.deploy_bank(session, CLI_PRINCIPAL, product.id, ctx)
    await asyncio.to_thread(_fund, ctx, token, view.address, 1_000_000 * TOKEN)
    data = CampaignCreate(
        name=campaign_name,
        trigger=trigger,
        token=token,
        reward=FixedReward(amount=str(reward)),
        user_bps=5_000,
        decay_bps=8_000,
        max_depth=5,
        budget_cap=str(budget_cap),
    )
    campaign = await campaigns.create_campaign(session, CLI_PRINCIPAL, product.id, data)
    campaign = await transitions.activate(session, CLI_PRINCIPAL, str(campaign.id), ctx)
    return Shop(ctx, product, api_key, token, view.address, campaign)


def _fund(ctx: AppContext, token: str, bank_address: str, amount: int) -> None:
    w3 = connect(ctx.rpc_url)
    key = ctx.settings.effective_signer_key()
    me = w3.eth.account.from_key(key).address
    erc20 = contract(w3, "MockERC20", token)
    send(w3, key, erc20.functions.mint(me, amount))
    send(w3, key, erc20.functions.approve(bank_address, amount))
    send(w3, key, contract(w3, "ProductBank", bank_address).functions.deposit(token, amount))


async def interact(
    base_url: str, shop: Shop, wallet: str, kind: str = "custom.signup", **extra: Any
) -> dict[str, Any]:
    """One interaction through the ingestion API, as the shop's backend sends it."""
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        response = await client.post(
            "/api/external/interactions",
            json={"product_id": shop.product.id, "wallet": wallet, "type": kind, **extra},
            headers={"Authorization": f"Bearer {shop.api_key}", "Prefer": "wait=10"},
        )
    assert response.status_code == 202, response.text
    return dict(response.json())


async def settle_and_index(ctx: AppContext) -> None:
    """The push job once (pending -> on-chain), then the indexer catches up."""
    report = await push_once(ctx)
    assert not report.errors, report.errors
    await index_once(ctx)


@dataclass
class ChainWallet(FakeEthereum):
    """The harness's injected wallet, which also sends transactions: signed here, sent to anvil."""

    rpc_url: str = ""
    sent: list[str] = field(default_factory=list)

    async def request(self, method: str, params: list[Any]) -> Any:
        if method != "eth_sendTransaction":
            return await super().request(method, params)
        self.calls.append((method, params))
        tx = params[0]
        assert tx["from"].lower() == self.account.address.lower(), tx
        receipt = await asyncio.to_thread(
            send, connect(self.rpc_url), self.account.key, {"to": tx["to"], "data": tx["data"]}
        )
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        self.sent.append(tx_hash)
        return tx_hash


def claim_from_python(rpc_url: str, user: LocalAccount, push_pull: str, token: str) -> None:
    """A claim the user made elsewhere (to give screenshots some history)."""
    w3 = connect(rpc_url)
    send(w3, user.key, contract(w3, "MultiTokenPushPull", push_pull).functions.pullRewards([token]))
