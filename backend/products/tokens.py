"""Tokens a product pays rewards in: registered once, symbol and decimals read from the chain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from web3.exceptions import Web3Exception

from backend.audit.service import record
from backend.auth.principal import Principal
from backend.core.context import AppContext
from backend.core.errors import Conflict, Unavailable
from backend.products import schemas
from backend.products.authorization import authorize
from backend.products.chain import ERC20_BYTES32_SYMBOL_ABI, erc20, read
from backend.products.models import ProductToken, Role
from backend.products.validation import address, invalid


async def register_token(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    data: schemas.TokenCreate,
    ctx: AppContext,
) -> ProductToken:
    """Register an ERC-20 for campaigns and bank views; 422 when it is not a token."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    token_address = address("address", data.address)
    if await registered_address(session, product.id, token_address) is not None:
        raise Conflict(
            "token already registered", code="token_exists", details={"field": "address"}
        )
    symbol, decimals = await read_token_metadata(ctx, token_address)
    token = ProductToken(
        product_id=product.id, address=token_address, symbol=symbol, decimals=decimals
    )
    session.add(token)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent registration of the same token won
        await session.rollback()
        raise Conflict(
            "token already registered", code="token_exists", details={"field": "address"}
        ) from None
    await session.refresh(token)
    record(
        session,
        actor=principal.actor,
        product_id=product.id,
        action="token.register",
        entity="token",
        entity_id=token_address,
        after={"address": token_address, "symbol": symbol, "decimals": decimals},
    )
    await session.commit()
    return token


async def list_tokens(
    session: AsyncSession, principal: Principal, product_id: str
) -> list[ProductToken]:
    product = await authorize(session, principal, product_id, None)
    return await tokens_of(session, product.id)


async def tokens_of(session: AsyncSession, product_id: str) -> list[ProductToken]:
    query = select(ProductToken).where(ProductToken.product_id == product_id)
    return list(await session.scalars(query.order_by(ProductToken.id)))


async def registered_address(
    session: AsyncSession, product_id: str, token_address: str
) -> str | None:
    """The registered spelling of a token address (any case matches), or None."""
    return await session.scalar(
        select(ProductToken.address).where(
            ProductToken.product_id == product_id,
            func.lower(ProductToken.address) == token_address.lower(),
        )
    )


async def read_token_metadata(ctx: AppContext, token_address: str) -> tuple[str, int]:
    """(symbol, decimals) read live; an address without an ERC-20 behind it is a 422."""
    if await read(ctx.w3.eth.get_code(token_address)) in (b"", None):
        raise invalid("address", "no contract at this address on the configured chain")
    token = erc20(ctx, token_address)
    try:
        decimals = int(await read(token.functions.decimals().call()))
        symbol = await _symbol(ctx, token_address)
    except Unavailable:
        raise
    except (Web3Exception, ValueError, OverflowError):
        raise invalid("address", "not an ERC-20 token (symbol/decimals unreadable)") from None
    if not 0 <= decimals <= 77:
        raise invalid("address", f"token decimals {decimals} outside 0..77")
    return symbol, decimals


async def _symbol(ctx: AppContext, token_address: str) -> str:
    try:
        symbol = str(await read(erc20(ctx, token_address).functions.symbol().call()))
    except (Web3Exception, ValueError, OverflowError):
        legacy = erc20(ctx, token_address, ERC20_BYTES32_SYMBOL_ABI)
        raw = await read(legacy.functions.symbol().call())
        symbol = bytes(raw).rstrip(b"\0").decode("utf-8", "replace")
    symbol = symbol.strip()[:32]
    if not symbol:
        raise invalid("address", "token has an empty symbol")
    return symbol
