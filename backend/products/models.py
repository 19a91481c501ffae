"""Tables owned by the products domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Base, Bytes32, Timestamps


class Role(enum.IntFlag):
    """Member and API key permissions, stored as a bitmask."""

    ADMIN = 1
    CAMPAIGN_MANAGER = 2
    INTERACTION_MANAGER = 4
    ALL = ADMIN | CAMPAIGN_MANAGER | INTERACTION_MANAGER


class Product(Timestamps, Base):
    __tablename__ = "products"

    id: Mapped[str] = Bytes32(primary_key=True)  # keccak256(primary domain)
    name: Mapped[str] = mapped_column(String(200))
    primary_domain: Mapped[str] = mapped_column(String(253))
    domains: Mapped[list[str]] = mapped_column(ARRAY(String(253)))
    owner_wallet: Mapped[str] = Address()
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", server_default=text("'{}'::jsonb")
    )
    # Inbound shop webhook secrets, per scheme: {"shopify": [...], "woocommerce": [...],
    # "custom": [...]}; a list so a rotation keeps the previous secret valid for a while.
    webhook_secrets: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    dedup_window_s: Mapped[int] = mapped_column(Integer, server_default=text("60"))
    rate_limit_per_hour: Mapped[int] = mapped_column(Integer, server_default=text("100"))
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("dedup_window_s >= 0", name="dedup_window_nonnegative"),
        CheckConstraint("rate_limit_per_hour > 0", name="rate_limit_positive"),
    )


class ProductBank(Timestamps, Base):
    __tablename__ = "product_banks"

    product_id: Mapped[str] = Bytes32(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    chain_id: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str] = Address(unique=True)
    deploy_tx_hash: Mapped[str | None] = Bytes32()
    deploy_block: Mapped[int | None] = mapped_column(BigInteger)


class ProductToken(Base):
    __tablename__ = "product_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = Bytes32(ForeignKey("products.id", ondelete="CASCADE"))
    address: Mapped[str] = Address()
    symbol: Mapped[str] = mapped_column(String(32))
    decimals: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        UniqueConstraint("product_id", "address"),
        CheckConstraint("decimals BETWEEN 0 AND 77", name="decimals_range"),
    )


class ProductMember(Timestamps, Base):
    __tablename__ = "product_members"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = Bytes32(ForeignKey("products.id", ondelete="CASCADE"))
    wallet: Mapped[str] = Address()
    roles: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("product_id", "wallet"),
        CheckConstraint("roles > 0 AND roles <= 7", name="roles_bitmask"),
        Index("ix_product_members_wallet", "wallet"),
    )


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    product_id: Mapped[str] = Bytes32(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists; the key itself never is
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    roles: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("roles > 0 AND roles <= 7", name="roles_bitmask"),
        Index("ix_api_keys_product_id", "product_id"),
    )
