"""Set-ups for the passkey wallet's browser tests: the backend with every contract, a shop.

The backend here knows the push-pull, the bank factory and the account factory
(the suite's plain `live_server` knows none), so it can settle rewards, derive
passkey accounts and relay claims and sends. The shop is the SDK's demo shop on
its own origin, with a bank deployed and funded through the same services the
dashboard calls, and one active campaign paid in a real ERC-20 on anvil.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns import service as campaigns
from backend.campaigns import transitions
from backend.campaigns.schemas import CampaignCreate, FixedReward
from backend.chain.client import connect, contract, send
from backend.core.context import AppContext
from backend.products import bank, tokens
from backend.products.authorization import CLI_PRINCIPAL
from backend.products.models import Product
from backend.products.schemas import TokenCreate
from backend.rewards.models import Reward
from tests.dashboard.setup import _fund as fund_bank  # the dashboard tests' bank funding
from tests.factories import make_product
from tests.sdk_e2e.shop import SHOPIFY_SECRET, ShopSite, send_shopify_webhook, shopify_order

TOKEN = 10**18
REWARD = 10 * TOKEN  # the campaign's fixed reward; with no referrer the buyer gets all of it


@dataclass
class ChainShop:
    product: Product
    token: str
    bank: str


async def open_chain_shop(
    session: AsyncSession, ctx: AppContext, site: ShopSite, token: str
) -> ChainShop:
    """The shop's product (its origin registered), token, funded bank and purchase campaign."""
    product, _ = await make_product(
        session, domain=site.domain, webhook_secrets={"shopify": [SHOPIFY_SECRET]}, name="Northwind"
    )
    await tokens.register_token(session, CLI_PRINCIPAL, product.id, TokenCreate(address=token), ctx)
    view, _ = await bank.deploy_bank(session, CLI_PRINCIPAL, product.id, ctx)
    await asyncio.to_thread(fund_bank, ctx, token, view.address, 1_000 * TOKEN)
    campaign = await campaigns.create_campaign(
        session,
        CLI_PRINCIPAL,
        product.id,
        CampaignCreate(
            name="Purchase reward",
            trigger="purchase.completed",
            token=token,
            reward=FixedReward(amount=str(REWARD)),
            user_bps=5_000,
            decay_bps=8_000,
            max_depth=5,
            budget_cap="0",
        ),
    )
    await transitions.activate(session, CLI_PRINCIPAL, str(campaign.id), ctx)
    return ChainShop(product, token, view.address)


def mint(ctx: AppContext, token: str, to: str, amount: int) -> None:
    w3 = connect(ctx.rpc_url)
    send(
        w3,
        ctx.settings.effective_signer_key(),
        contract(w3, "MockERC20", token).functions.mint(to, amount),
    )


def erc20_balance(ctx: AppContext, token: str, wallet: str) -> int:
    erc20 = contract(connect(ctx.rpc_url), "MockERC20", token)
    return int(erc20.functions.balanceOf(wallet).call())


def shopify_checkout(backend_url: str, product_id: str, answers: list[Any]):
    """The shop's server taking payment: Shopify then sends Cascade the signed orders/paid."""

    def checkout(order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payload = shopify_order(
            order["order_id"], order["total_price"], order["currency"], order.get("checkout_token")
        )
        answer = send_shopify_webhook(
            backend_url, product_id, SHOPIFY_SECRET, "orders/paid", payload
        )
        answers.append(answer)
        return (200 if answer.is_success else 502), {"webhook_status": answer.status_code}

    return checkout


def passkey_xy(virtual_credential: dict[str, Any]) -> tuple[int, int]:
    """The public key of a Chromium virtual authenticator's credential (its PKCS#8 key)."""
    key = load_der_private_key(base64.b64decode(virtual_credential["privateKey"]), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    numbers = key.public_key().public_numbers()
    return numbers.x, numbers.y


def account_of(ctx: AppContext, x: int, y: int, rp_id: str = "localhost") -> str:
    """factory.getAddress(x, y, sha256(rp id), 0): the passkey's account, asked of the chain."""
    factory = contract(
        connect(ctx.rpc_url), "PasskeyAccountFactory", str(ctx.settings.account_factory_address)
    )
    rp_hash = hashlib.sha256(rp_id.encode()).digest()
    return str(factory.functions.getAddress(x, y, rp_hash, 0).call())


async def until_rewarded(db_session: AsyncSession, wallet: str) -> list[Reward]:
    """Reward rows of `wallet`, once the served app's evaluator has turned the stored
    interaction into them (off the request path)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        db_session.expire_all()
        rows = list(await db_session.scalars(select(Reward).where(Reward.wallet == wallet)))
        if rows:
            return rows
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no reward for {wallet}")
