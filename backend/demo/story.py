"""The demo story: a shop, a campaign, four shoppers in a referral chain, settled on-chain.

Everything goes through the public surfaces a real integration uses (business
API with the product's key, referral links, a Shopify-signed webhook, the
wallet API), then the same push job, indexer and reconcile an operator runs.
Each claim the story makes is a check; `Story.failures` lists any that broke.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from backend.core.context import AppContext
from backend.demo.accounts import Person
from backend.rewards.calculator import split_reward

TOKEN = 10**18
MAX_DEPTH = 5
CAMPAIGN: dict[str, Any] = {
    "name": "purchase after referral",
    "trigger": "purchase.completed",
    "reward": {"type": "fixed", "amount": str(10 * TOKEN)},
    "user_bps": 5_000,
    "decay_bps": 8_000,
    "max_depth": MAX_DEPTH,
    "requires_referral": True,
    "budget_cap": str(1_000 * TOKEN),
}


def tokens(amount: int) -> str:
    """Base units as a readable token amount (exact: no float)."""
    whole, frac = divmod(amount, TOKEN)
    return f"{whole}.{str(frac).rjust(18, '0').rstrip('0') or '0'}"


def shopify_orders_paid(
    secret: str,
    order_id: str,
    checkout_token: str | None = None,
    total_price: str = "89.00",
    currency: str = "EUR",
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of Shopify's orders/paid webhook, signed exactly as Shopify signs:
    base64 HMAC-SHA256 of the raw body. `checkout_token` is the token the buyer's page had:
    it binds a purchase the buyer's own session started to this order."""
    order: dict[str, Any] = {
        "id": int(order_id),
        "name": f"#{order_id}",
        "currency": currency,
        "financial_status": "paid",
        "total_price": total_price,
    }
    if checkout_token:
        order["checkout_token"] = checkout_token
    body = json.dumps(order).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return body, {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Webhook-Id": f"demo-{order_id}-{checkout_token or 'shop'}",
    }


@dataclass
class Story:
    api: httpx.AsyncClient
    ctx: AppContext
    people: dict[str, Person]
    product_id: str
    api_key: str
    token: str
    shop_url: str
    say: Callable[[str], None]
    shopify_secret: str = ""
    expected: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    referral_token: dict[str, str] = field(default_factory=dict)
    chain_of: dict[str, list[str]] = field(default_factory=dict)
    wallets: dict[str, str] = field(default_factory=dict)  # passkey shoppers' accounts

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def check(self, ok: bool, what: str) -> None:
        self.say(("  ok    " if ok else "  FAIL  ") + what)
        if not ok:
            self.failures.append(what)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.api.request(method, path, headers=self.auth, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    # --- the shop and its campaign ------------------------------------------------

    async def set_up_campaign(self) -> str:
        self.say("deploying the shop's ProductBank through the factory")
        bank = await self.call("POST", f"/api/business/products/{self.product_id}/bank")
        self.say(f"  bank {bank['address']}")
        await self.call(
            "POST", f"/api/business/products/{self.product_id}/tokens", json={"address": self.token}
        )
        rotated = await self.call(
            "POST", f"/api/business/products/{self.product_id}/webhook-secrets/shopify/rotate"
        )
        self.shopify_secret = rotated["secret"]
        campaign = await self.call(
            "POST",
            f"/api/business/products/{self.product_id}/campaigns",
            json={**CAMPAIGN, "token": self.token},
        )
        self.say("activating 'purchase after referral' (allocates its 1,000 EURe budget on-chain)")
        await self.call("POST", f"/api/business/campaigns/{campaign['id']}/activate")
        return str(bank["address"])

    # --- shoppers -------------------------------------------------------------------

    async def share(self, name: str) -> None:
        wallet = self.people[name].address
        link = await self.call(
            "POST",
            "/api/external/referral-links",
            json={"product_id": self.product_id, "wallet": wallet, "url": self.shop_url},
        )
        self.referral_token[name] = link["token"]
        self.say(f"{name} shares a referral link (signed token, {len(link['token'])} chars)")

    async def land_and_buy(self, name: str, via: str, order_id: str) -> None:
        wallet = self.people[name].address
        self.say(f"{name} lands through {via}'s link and buys (order {order_id})")
        await self.interaction(
            wallet, "referral.referred", {"referrer_token": self.referral_token[via]}
        )
        self.chain_of[name] = [via, *self.chain_of.get(via, [])][:MAX_DEPTH]
        await self.interaction(wallet, "purchase.started", {"order_id": order_id})
        await self.shopify_paid(order_id)
        parts = split_reward(
            10 * TOKEN, 5_000, 8_000, len(self.chain_of[name]), requires_referral=True
        )
        for who, amount in zip([name, *self.chain_of[name]], parts, strict=True):
            self.expected[who] = self.expected.get(who, 0) + amount

    async def interaction(self, wallet: str, kind: str, data: dict[str, Any]) -> None:
        await self.call(
            "POST",
            "/api/external/interactions",
            json={"product_id": self.product_id, "wallet": wallet, "type": kind, "data": data},
        )

    async def shopify_paid(self, order_id: str, checkout_token: str | None = None) -> None:
        """The shop's webhook for a paid order, as Shopify sends it (see shopify_orders_paid)."""
        body, headers = shopify_orders_paid(self.shopify_secret, order_id, checkout_token)
        response = await self.api.post(
            f"/api/external/webhooks/{self.product_id}/shopify", content=body, headers=headers
        )
        if response.status_code >= 300:
            raise RuntimeError(f"shopify webhook -> {response.status_code}: {response.text}")
        self.say(f"  shop webhook for order {order_id} accepted ({response.status_code})")

    # --- settlement and the wallet view ---------------------------------------------

    async def settle(self, mine: Callable[[int], None]) -> None:
        from backend.settlement.job import push_once
        from indexer import index_once

        await self.until_recorded()
        self.say("push job: batching pending rewards into a signed EIP-712 batch")
        first = await push_once(self.ctx)
        self.say(f"  {first.batches_created} batch(es), {first.rewards_batched} reward(s) sent")
        confirmations = self.ctx.settings.confirmations
        self.say(f"mining {confirmations} block(s) so the push is final")
        mine(confirmations)
        second = await push_once(self.ctx)
        pushed = first.batches_pushed + second.batches_pushed
        self.check(pushed >= 1 and first.batches_created >= 1, f"{pushed} batch(es) pushed")
        self.say("indexer: reading RewardAdded events from the chain")
        stats = await index_once(self.ctx)
        self.say(f"  {stats.events} event(s) indexed up to block {stats.cursor}")

    async def until_recorded(self, timeout_s: float = 30) -> None:
        """The evaluator turns stored interactions into rewards off the request path: wait
        until every wallet's rewards (queued, claimable or claimed) add up to the formula's."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            recorded = await self.totals()
            if recorded == self.expected:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"rewards recorded {recorded}, expected {self.expected}")
            await asyncio.sleep(0.1)

    async def totals(self) -> dict[str, int]:
        """Everything each wallet earned in the token so far, whatever its state."""
        amounts: dict[str, int] = {}
        for name in self.expected:
            row = await self.token_row(name)
            amounts[name] = (
                sum(int(row[k]) for k in ("claimable", "unconfirmed_claimable", "queued"))
                + int(row["claimed_total"])
                if row
                else 0
            )
        return amounts

    async def token_row(self, name: str) -> dict[str, Any] | None:
        wallet = self.wallet_of(name)
        view = (await self.api.get(f"/api/wallet/{wallet}/rewards")).json()
        return next((t for t in view["tokens"] if t["token"].lower() == self.token.lower()), None)

    def wallet_of(self, name: str) -> str:
        """A cast member's address, or a passkey shopper's account."""
        if name in self.wallets:
            return self.wallets[name]
        return self.people[name].address

    async def claimable(self) -> dict[str, int]:
        amounts: dict[str, int] = {}
        for name in self.expected:
            row = await self.token_row(name)
            amounts[name] = int(row["claimable"]) if row else 0
        return amounts

    def table(self, claimable: dict[str, int]) -> list[str]:
        lines = [f"  {'wallet':<7}{'address':<44}{'claimable EURe':>16}{'formula':>12}"]
        for name, amount in claimable.items():
            lines.append(
                f"  {name:<7}{self.wallet_of(name):<44}"
                f"{tokens(amount):>16}{tokens(self.expected[name]):>12}"
            )
        return lines
