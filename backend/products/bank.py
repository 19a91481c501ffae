"""The product's ProductBank: deployed once through the factory, read live from the chain.

Deployment is idempotent at every step: the database row answers first; then
the factory's own registry (`bankOf`), so a bank deployed by an earlier attempt
that crashed before recording it is recorded, never redeployed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from web3 import Web3

from backend.audit.service import record
from backend.auth.principal import Principal
from backend.chain.client import ChainRevert, contract
from backend.core.context import AppContext
from backend.core.errors import NotFound, Unavailable
from backend.products import schemas
from backend.products.authorization import authorize
from backend.products.chain import (
    ZERO_ADDRESS,
    bound,
    bytes32,
    read,
    signer_address,
    signer_key,
    signer_thread,
    transact,
)
from backend.products.models import Product, ProductBank, Role
from backend.products.tokens import tokens_of

MANAGER_ROLE = keccak(text="MANAGER_ROLE")
DISTRIBUTOR_ROLE = keccak(text="DISTRIBUTOR_ROLE")


@dataclass(frozen=True)
class Deployed:
    address: str
    chain_id: int
    tx_hash: str | None  # None when the bank existed on-chain already
    block: int | None


async def deploy_bank(
    session: AsyncSession, principal: Principal, product_id: str, ctx: AppContext
) -> tuple[schemas.BankRead, bool]:
    """Deploy (or adopt) the product's bank; returns its live view and whether it is new."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    if await session.get(ProductBank, product.id) is not None:
        return await read_bank(session, product, ctx), False
    factory = ctx.settings.bank_factory_address
    if not factory:
        raise Unavailable("BANK_FACTORY_ADDRESS is not configured", code="chain_not_configured")
    key = signer_key(ctx)
    try:
        deployed = await signer_thread(
            ctx,
            lambda w3, floor: _deploy(w3, key, factory, product.id, product.owner_wallet, floor),
        )
    except ChainRevert as exc:
        raise Unavailable(
            f"the bank factory refused the deployment: {exc.reason}",
            code="chain_not_configured" if exc.code == "not_authorised" else "chain_error",
            details={"revert": exc.reason, "revert_code": exc.code},
        ) from None
    inserted = await session.scalar(
        insert(ProductBank)
        .values(
            product_id=product.id,
            chain_id=deployed.chain_id,
            address=deployed.address,
            deploy_tx_hash=deployed.tx_hash,
            deploy_block=deployed.block,
        )
        .on_conflict_do_nothing(index_elements=["product_id"])
        .returning(ProductBank.product_id)
    )
    if inserted is not None:
        record(
            session,
            actor=principal.actor,
            product_id=product.id,
            action="bank.deploy",
            entity="bank",
            entity_id=deployed.address,
            after={
                "address": deployed.address,
                "chain_id": deployed.chain_id,
                "tx_hash": deployed.tx_hash,
                "owner": product.owner_wallet,
            },
        )
    await session.commit()
    return await read_bank(session, product, ctx), inserted is not None


def _deploy(w3: Web3, key: str, factory: str, product_id: str, owner: str, floor: int) -> Deployed:
    bank_factory = contract(w3, "ProductBankFactory", factory)
    pid = bytes32(product_id)
    tx_hash: str | None = None
    block: int | None = None
    if bank_factory.functions.bankOf(pid).call() == ZERO_ADDRESS:
        try:
            tx_hash, block = transact(
                w3, key, "ProductBankFactory", factory, "deployBank", pid, owner, nonce_floor=floor
            )
        except ChainRevert as exc:
            if exc.code != "bank_exists":  # a concurrent deployment won: adopt it
                raise
    address = str(bank_factory.functions.bankOf(pid).call())
    return Deployed(to_checksum_address(address), int(w3.eth.chain_id), tx_hash, block)


async def get_bank_row(session: AsyncSession, product: Product) -> ProductBank:
    bank = await session.get(ProductBank, product.id)
    if bank is None:
        raise NotFound("this product has no bank yet", code="bank_not_found")
    return bank


async def read_bank(
    session: AsyncSession,
    product: Product,
    ctx: AppContext,
    campaign_budgets: list[schemas.CampaignBudget] | None = None,
) -> schemas.BankRead:
    """The bank as the chain sees it now: owner, pause, signer roles, balances."""
    row = await get_bank_row(session, product)
    tokens = await tokens_of(session, product.id)
    bank = bound(ctx, "ProductBank", row.address)
    signer = signer_address(ctx)
    owner, paused, is_manager, is_distributor, *balances = await read(
        asyncio.gather(
            bank.functions.owner().call(),
            bank.functions.paused().call(),
            bank.functions.hasRole(MANAGER_ROLE, signer).call(),
            bank.functions.hasRole(DISTRIBUTOR_ROLE, signer).call(),
            # the bank's balance plus its book in MultiTokenPushPull (what pushes pay from)
            *(bank.functions.availableFunds(t.address).call() for t in tokens),
        )
    )
    return schemas.BankRead(
        product_id=product.id,
        address=row.address,
        chain_id=row.chain_id,
        deploy_tx_hash=row.deploy_tx_hash,
        owner=str(owner),
        signer=signer,
        managed=bool(is_manager and is_distributor),
        signer_is_manager=bool(is_manager),
        signer_is_distributor=bool(is_distributor),
        paused=bool(paused),
        balances=[
            schemas.TokenBalance(
                token=t.address, symbol=t.symbol, decimals=t.decimals, balance=str(int(amount))
            )
            for t, amount in zip(tokens, balances, strict=True)
        ],
        campaign_budgets=campaign_budgets or [],
    )
