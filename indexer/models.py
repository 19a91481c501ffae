"""Tables owned by the indexer: checkpoint, recent blocks, raw events, derived balances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Amount, Base, Bytes32


class IndexerCheckpoint(Base):
    """Last processed block per (chain, stream); moves in the same transaction as its rows."""

    __tablename__ = "indexer_checkpoints"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = Bytes32()
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class IndexedBlock(Base):
    """Hash and parent hash of recently processed blocks, to find a reorg's common ancestor."""

    __tablename__ = "indexer_blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = Bytes32()
    parent_hash: Mapped[str] = Bytes32()
    timestamp: Mapped[int] = mapped_column(BigInteger)


class IndexedBank(Base):
    """Banks discovered from the factory's BankCreated events."""

    __tablename__ = "indexer_banks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = Address(primary_key=True)
    product_id: Mapped[str] = Bytes32()
    block_number: Mapped[int] = mapped_column(BigInteger)


class ChainEvent(Base):
    __tablename__ = "chain_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = Bytes32()
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = Bytes32()
    log_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = Address()  # emitting contract
    event: Mapped[str] = mapped_column(String(64))  # RewardAdded, RewardClaimed, ...
    token: Mapped[str | None] = Address()
    wallet: Mapped[str | None] = Address()
    amount: Mapped[int | None] = mapped_column(Amount)
    args: Mapped[dict[str, Any]] = mapped_column()

    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index"),
        Index("ix_chain_events_block", "chain_id", "block_number"),
        Index("ix_chain_events_wallet", "wallet", "event", "token"),
    )


class WalletTokenBalance(Base):
    """Derived per (token, wallet): total added, total claimed; pending = added - claimed."""

    __tablename__ = "wallet_token_balances"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token: Mapped[str] = Address(primary_key=True)
    wallet: Mapped[str] = Address(primary_key=True)
    total_added: Mapped[int] = mapped_column(Amount, server_default=text("0"))
    total_claimed: Mapped[int] = mapped_column(Amount, server_default=text("0"))
    updated_block: Mapped[int] = mapped_column(BigInteger)
