"""Tables owned by the relayer: relay requests, their gas charges, prepared passkey sends.

A relay request is one transaction the relayer pays for (a claim or a send); its
signed bytes live in settlement_transactions (relay_id), so they go through the
same nonce allocation, fee bumps and re-broadcasts as the settlement pushes.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Amount, Base, Bytes32, Timestamps


class RelayKind(enum.StrEnum):
    CLAIM = "claim"  # batched: MultiTokenPushPull.pullRewardsForMany(tokens, claims)
    SEND = "send"  # PasskeyAccount.execute or PasskeyAccountFactory.createAndExecute


class RelayStatus(enum.StrEnum):
    QUEUED = "queued"  # a claim awaiting its batch, or bytes the node has not taken yet
    SENT = "sent"  # the node has it; waiting for a block
    MINED = "mined"  # mined and succeeded
    FAILED = "failed"  # mined and reverted, or its account nonce was used elsewhere


IN_FLIGHT = (RelayStatus.QUEUED, RelayStatus.SENT)


class RelayRequest(Timestamps, Base):
    __tablename__ = "relay_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    wallet: Mapped[str] = Address()
    status: Mapped[str] = mapped_column(String(16), server_default=text("'queued'"))
    relayer: Mapped[str] = Address()  # the account that sends and pays
    target: Mapped[str] = Address()  # the contract called
    # claim: [{"token", "amount"}] as read on-chain; send: {"token", "to", "amount"}
    payload: Mapped[Any] = mapped_column(JSONB)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("send_operations.id", ondelete="CASCADE"), unique=True
    )
    # the request whose transaction carries this one (settlement_transactions.relay_id):
    # itself for a send or a batch's first claim, that first claim for the others; NULL
    # while a claim waits for the relayer's next batch
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("relay_requests.id", ondelete="CASCADE")
    )
    gas_limit: Mapped[int] = mapped_column(BigInteger)  # charged until the receipt says
    gas_used: Mapped[int | None] = mapped_column(BigInteger)  # charged once mined
    tx_hash: Mapped[str | None] = Bytes32()  # the hash that mined
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    mined_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("kind IN ('claim','send')", name="kind_known"),
        CheckConstraint("status IN ('queued','sent','mined','failed')", name="status_known"),
        CheckConstraint("kind <> 'send' OR operation_id IS NOT NULL", name="send_has_operation"),
        Index("ix_relay_requests_wallet_day", "wallet", "kind", "created_at"),
        Index("ix_relay_requests_created", "created_at"),
        Index(
            "ix_relay_requests_carrier",
            "carrier_id",
            postgresql_where=text("carrier_id IS NOT NULL"),
        ),
        Index(
            "ix_relay_requests_unsent_claims",
            "chain_id",
            "created_at",
            postgresql_where=text("kind = 'claim' AND status = 'queued' AND carrier_id IS NULL"),
        ),
        # one claim in flight per wallet: a second request gets the first one back
        Index(
            "uq_relay_requests_claim_in_flight",
            "chain_id",
            "wallet",
            unique=True,
            postgresql_where=text("kind = 'claim' AND status IN ('queued','sent')"),
        ),
    )


class RelayCharge(Base):
    """The share of a claim's gas that one product pays (its rewards are being claimed)."""

    __tablename__ = "relay_charges"

    relay_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("relay_requests.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = Bytes32(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    gas: Mapped[int] = mapped_column(BigInteger)  # share of gas_limit, then of gas_used
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (Index("ix_relay_charges_product_day", "product_id", "created_at"),)


class SendOperation(Base):
    """A prepared passkey send: the exact calls, nonce and deadline whose digest is signed."""

    __tablename__ = "send_operations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    wallet: Mapped[str] = Address()  # the passkey account
    token: Mapped[str] = Address()
    recipient: Mapped[str] = Address()
    amount: Mapped[int] = mapped_column(Amount)
    calls: Mapped[list[Any]] = mapped_column()  # [{"target", "value", "data"}], as signed
    nonce: Mapped[int] = mapped_column(Amount)  # the account's nonce: 0, 1, 2, ... per account
    deadline: Mapped[int] = mapped_column(BigInteger)  # unix seconds, checked on-chain
    digest: Mapped[str] = Bytes32(unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_send_operations_wallet", "wallet"),
    )
