"""Settlement fixtures: core contracts once per session, a funded bank per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from web3 import Web3

from backend.campaigns.models import Campaign
from backend.chain import connect, contract, deploy_bank, deploy_core, deploy_test_token, send
from backend.core.config import ANVIL_DEV_KEYS
from backend.core.context import AppContext
from backend.interactions.models import Interaction
from backend.products.models import Product, ProductBank
from backend.rewards.models import Reward
from backend.runtime.anvil import rpc_call
from backend.settlement.chain import NONCE_CANCELLED, NONCE_PAID, NONCE_UNUSED
from backend.settlement.job import push_once
from backend.settlement.models import SenderNonce, SettlementBatch, SettlementTransaction
from backend.settlement.options import load_options
from backend.settlement.reconcile import reconcile
from tests.factories import make_campaign, make_product
from tests.factories import wallet as new_wallet
from tests.settlement.helpers import Calls

KEY = ANVIL_DEV_KEYS[0]
SIGNER = Web3().eth.account.from_key(KEY).address
TOKENS = 10**18
FAST = load_options(receipt_wait_s=10, replace_after_s=3600, retry_base_s=0)
# never replaces a transaction within a test: what is lost stays lost until the test says
PATIENT = load_options(replace_after_s=3600, retry_base_s=0)


@pytest.fixture(scope="session")
def w3(rpc_url: str) -> Web3:
    return connect(rpc_url)


@pytest.fixture(scope="session")
def core(w3: Web3) -> dict[str, str]:
    return dict(deploy_core(w3, KEY))


@dataclass
class Env:
    ctx: AppContext
    w3: Web3
    rpc_url: str
    core: dict[str, str]
    product: Product
    bank: str
    token: str
    campaigns: list[Campaign]
    first_block: int = 0  # the chain's head just before this test deployed its bank

    @property
    def push_pull(self) -> Any:
        return contract(self.w3, "MultiTokenPushPull", self.core["push_pull"])

    @property
    def bank_contract(self) -> Any:
        return contract(self.w3, "ProductBank", self.bank)

    def fund(self, amount: int) -> None:
        token = contract(self.w3, "MockERC20", self.token)
        send(self.w3, KEY, token.functions.mint(SIGNER, amount))
        send(self.w3, KEY, token.functions.approve(self.bank, amount))
        send(self.w3, KEY, self.bank_contract.functions.deposit(self.token, amount))

    def allocate(self, campaign: Campaign, budget: int) -> None:
        cid = bytes.fromhex(campaign.chain_campaign_id[2:])
        send(
            self.w3,
            KEY,
            self.bank_contract.functions.allocateCampaignBudget(
                cid,
                self.token,
                self.bank_contract.functions.getCampaignBudget(cid, self.token).call(),
                budget or 2**256 - 1,  # 0: unlimited
            ),
        )

    def onchain(self, wallet: str) -> int:
        return int(self.push_pull.functions.getPendingAmount(self.token, wallet).call())

    async def add_rewards(
        self, session: AsyncSession, campaign: Campaign, rewards: Iterable[tuple[str, int]]
    ) -> list[int]:
        """Pending, immediately available rewards (one interaction each)."""
        ids: list[int] = []
        for wallet, amount in rewards:
            interaction_id = await session.scalar(
                insert(Interaction)
                .values(
                    product_id=self.product.id,
                    wallet=wallet,
                    type="purchase.completed",
                    source="cli",
                )
                .returning(Interaction.id)
            )
            reward_id = await session.scalar(
                insert(Reward)
                .values(
                    product_id=self.product.id,
                    campaign_id=campaign.id,
                    interaction_id=interaction_id,
                    wallet=wallet,
                    level=0,
                    token=self.token,
                    amount=amount,
                    available_at=func.now() - func.make_interval(0, 0, 0, 0, 1),
                )
                .returning(Reward.id)
            )
            ids.append(int(reward_id))
        await session.commit()
        return ids

    def rpc(self, method: str, params: list | None = None) -> Any:
        return rpc_call(self.rpc_url, method, params)

    async def batches(self) -> list[SettlementBatch]:
        """Every settlement batch, oldest first."""
        async with self.ctx.sessions() as session:
            query = select(SettlementBatch).order_by(SettlementBatch.created_at)
            return list((await session.scalars(query)).all())

    async def transactions(self) -> list[SettlementTransaction]:
        """Every stored settlement transaction, in the order they were stored."""
        async with self.ctx.sessions() as session:
            query = select(SettlementTransaction).order_by(SettlementTransaction.id)
            return list((await session.scalars(query)).all())


@pytest.fixture
async def env(
    core: dict[str, str],
    w3: Web3,
    clean_db: AppContext,
    rpc_url: str,
    chain_snapshot: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Env:
    # as deployed (cascade chain deploy): batches ready together leave in one pushMany
    monkeypatch.setattr(clean_db.settings, "bank_factory_address", core["bank_factory"])
    first_block = w3.eth.block_number
    async with clean_db.sessions() as session:
        product, _ = await make_product(session)
        bank = deploy_bank(w3, KEY, core["bank_factory"], bytes.fromhex(product.id[2:]), SIGNER)
        token = deploy_test_token(w3, KEY, "Reward", "RWD")
        session.add(ProductBank(product_id=product.id, chain_id=31337, address=bank))
        await session.commit()
        campaigns = [
            await make_campaign(session, product, token=token, id=uuid.uuid4()) for _ in range(2)
        ]
    environment = Env(
        clean_db, w3, rpc_url, core, product, bank, token, campaigns, first_block=first_block
    )
    environment.fund(1_000_000 * TOKENS)
    for campaign in campaigns:
        environment.allocate(campaign, 0)  # unlimited
    return environment


async def assert_consistent(env: Env, wallets: Iterable[str]) -> None:
    """The money invariants: chain credit == pushed rows, nothing stuck, no nonce gap."""
    async with env.ctx.sessions() as session:
        for wallet in set(wallets):
            pushed = await session.scalar(
                select(func.coalesce(func.sum(Reward.amount), 0)).where(
                    Reward.wallet == wallet, Reward.status == "pushed", Reward.token == env.token
                )
            )
            assert env.onchain(wallet) == int(pushed), wallet
        stuck = await session.scalar(
            select(func.count()).select_from(Reward).where(Reward.status == "batched")
        )
        assert stuck == 0
        unsettled = await session.scalar(
            select(func.count())
            .select_from(SettlementBatch)
            .where(SettlementBatch.status.in_(["signed", "submitted", "cancelling"]))
        )
        assert unsettled == 0
        for batch in (await session.scalars(select(SettlementBatch))).all():
            bank = contract(env.w3, "ProductBank", batch.bank_address)
            state = bank.functions.nonceState(bytes.fromhex(batch.nonce[2:])).call()
            # paid exactly when pushed; a void batch's nonce is unused or cancelled, never paid
            assert (state == NONCE_PAID) == (batch.status == "pushed"), batch.status
            assert state in (NONCE_PAID, NONCE_UNUSED, NONCE_CANCELLED)
        allocated = await session.scalar(
            select(SenderNonce.next_nonce).where(SenderNonce.sender == SIGNER)
        )
    latest = env.w3.eth.get_transaction_count(SIGNER, "latest")
    pending = env.w3.eth.get_transaction_count(SIGNER, "pending")
    assert latest == pending  # nothing queued behind a gap
    if allocated is not None:
        assert allocated <= latest  # every allocated account nonce is consumed
    report = await reconcile(env.ctx)
    assert report.mismatches == []


async def another_bank(env: Env, *, funded: bool = True) -> Env:
    """Another product with its own bank and one campaign in the same token.

    `funded`: the bank holds tokens and the campaign an unlimited budget (otherwise the
    bank is only deployed, as for the role view's tests).
    """
    async with env.ctx.sessions() as session:
        product, _ = await make_product(session)
        bank = deploy_bank(
            env.w3, KEY, env.core["bank_factory"], bytes.fromhex(product.id[2:]), SIGNER
        )
        session.add(ProductBank(product_id=product.id, chain_id=31337, address=bank))
        await session.commit()
        campaign = await make_campaign(session, product, token=env.token, id=uuid.uuid4())
    other = replace(env, product=product, bank=bank, campaigns=[campaign])
    if funded:
        other.fund(1_000_000 * TOKENS)
        other.allocate(campaign, 0)  # unlimited
    return other


async def push_and_lose(env: Env) -> str:
    """A reward of 2 tokens pushed with automine off, its transaction dropped: the hash.

    The batch stays submitted with nothing in the node's pool (use with `automine`).
    """
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(new_wallet(), 2 * TOKENS)])
    env.rpc("evm_setAutomine", [False])
    (lost,) = (await push_once(env.ctx, options=PATIENT, wait_s=0)).tx_hashes
    env.rpc("anvil_dropTransaction", [lost])
    return lost


@pytest.fixture
def automine(rpc_url: str) -> Iterator[None]:
    yield
    rpc_call(rpc_url, "evm_setAutomine", [True])


@pytest.fixture
def calls(env: Env) -> Iterator[Calls]:
    """Records every JSON-RPC request the app's provider sends while the test runs."""
    recorder = Calls()
    provider = env.ctx.w3.provider

    async def counted(method: Any, params: Any) -> Any:
        recorder.seen.append((str(method), params))
        return await type(provider).make_request(provider, method, params)

    # web3 keeps the middleware chain it built around make_request: rebuild it both ways
    provider.make_request = counted
    provider._request_func_cache = (None, None)
    yield recorder
    del provider.make_request
    provider._request_func_cache = (None, None)
