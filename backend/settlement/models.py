"""Tables owned by the settlement domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.chain.nonces import SenderNonce  # noqa: F401 - shared with admin sends
from backend.core.db import Address, Amount, Base, Bytes32, Timestamps


class BatchStatus(enum.StrEnum):
    SIGNED = "signed"  # written with its rows, not yet broadcast
    SUBMITTED = "submitted"  # a transaction is out; waiting for it to mine and confirm
    PUSHED = "pushed"  # confirmed on-chain
    VOID = "void"  # deadline passed unused; rows went back to pending
    FAILED = "failed"  # reverted for good (campaign deactivated); rows were released
    # must not pay (refund inside, funding refused): a cancelNonces transaction burns its
    # nonce on the bank; rows are released once the chain says cancelled or the deadline passed
    CANCELLING = "cancelling"


class SettlementBatch(Timestamps, Base):
    __tablename__ = "settlement_batches"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    product_id: Mapped[str] = Bytes32(ForeignKey("products.id", ondelete="CASCADE"))
    bank_address: Mapped[str] = Address()
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    chain_campaign_id: Mapped[str] = Bytes32()
    chain_id: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[str] = Address()
    nonce: Mapped[str] = Bytes32(unique=True)
    deadline: Mapped[int] = mapped_column(BigInteger)  # unix seconds, checked on-chain
    signature: Mapped[str] = mapped_column(String(132))
    # the exact signed rewards: [{"user": "0x..", "amount": "123"}], order preserved
    payload: Mapped[list[Any]] = mapped_column()
    total: Mapped[int] = mapped_column(Amount)
    reward_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'signed'"))
    mined_tx_hash: Mapped[str | None] = Bytes32()
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = Bytes32()
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    pushed_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    # chain head when the batch was signed: where the search for its RewardsPushed starts
    signed_block: Mapped[int | None] = mapped_column(BigInteger)
    # the bank's distributorEpoch the signature was made for: a revocation bumps it, and a
    # batch signed under an older epoch can never pay again (its rows are safe to release)
    epoch: Mapped[int] = mapped_column(Amount, server_default=text("0"))

    __table_args__ = (
        CheckConstraint(
            "status IN ('signed','submitted','pushed','void','failed','cancelling')",
            name="status_known",
        ),
        CheckConstraint("reward_count > 0 AND total > 0", name="not_empty"),
        Index(
            "ix_settlement_batches_unsettled",
            "status",
            postgresql_where=text("status IN ('signed','submitted','cancelling')"),
        ),
        # pushes a bank refused for the signer's role or epoch: the role view's doubt (roles.py)
        Index(
            "ix_settlement_batches_refused",
            "bank_address",
            "updated_at",
            postgresql_where=text(
                "error_code IN ('not_distributor','signature_revoked','epoch_ahead')"
            ),
        ),
    )


class SettlementTransaction(Base):
    """Every broadcast from a backend account: original, fee-bumped replacement, re-broadcast.

    It belongs to a settlement batch (push, cancel, cancel_nonce) or to a relay request
    (claim, send; see backend.relayer), never both: one machinery for every sent byte.
    """

    __tablename__ = "settlement_transactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("settlement_batches.id", ondelete="CASCADE")
    )
    relay_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("relay_requests.id", ondelete="CASCADE")
    )
    sender: Mapped[str] = Address()
    account_nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = Bytes32(unique=True)
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    max_fee_per_gas: Mapped[int] = mapped_column(Amount)
    max_priority_fee_per_gas: Mapped[int] = mapped_column(Amount)
    # sent (in flight) | mined (this hash is in a block) | replaced (another hash of the
    # same account nonce mined) | dropped (the nonce was consumed outside Cascade)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'sent'"))
    # push (ProductBank.pushRewards) | cancel (0-value self-transfer that burns the
    # account nonce of a voided batch, so the sending account never has a gap) |
    # cancel_nonce (ProductBank.cancelNonces: the batch's signature can never pay) |
    # claim (MultiTokenPushPull.pullRewardsForMany) | send (a passkey account's execute) |
    # push_many (ProductBankFactory.pushMany: several banks' batches, listed in
    # settlement_transaction_batches; so is a `cancel` that fills such a slot)
    kind: Mapped[str] = mapped_column(String(16), server_default=text("'push'"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        Index("ix_settlement_transactions_batch", "batch_id"),
        Index(
            "ix_settlement_transactions_relay",
            "relay_id",
            postgresql_where=text("relay_id IS NOT NULL"),
        ),
        # migration 0020: a bundle's transactions own their batches through
        # settlement_transaction_batches
        CheckConstraint(
            "(batch_id IS NULL) <> (relay_id IS NULL)"
            " OR (batch_id IS NULL AND relay_id IS NULL AND kind IN ('push_many', 'cancel'))",
            name="one_owner",
        ),
    )


class SettlementTransactionBatch(Base):
    """A batch carried by a bundle transaction (ProductBankFactory.pushMany).

    Each fee-bumped replacement of the slot lists the same batches. The bundle pays
    each batch or skips it; which one happened is read from the batch's nonce on its
    bank, never from here.
    """

    __tablename__ = "settlement_transaction_batches"

    tx_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("settlement_transactions.id", ondelete="CASCADE"), primary_key=True
    )
    batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("settlement_batches.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_settlement_transaction_batches_batch", "batch_id"),)


class SettlementRoleCursor(Base):
    """How far the banks' role events were read for one signer on one chain (see roles.py).

    Every SettlementBankRole row of (chain_id, signer) holds the bank's state at `block`;
    `block_hash` tells a later cycle whether that block is still on the chain (reorg).
    """

    __tablename__ = "settlement_role_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    signer: Mapped[str] = Address(primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = Bytes32()
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"), onupdate=func.now())


class SettlementBankRole(Base):
    """Whether the signer is a distributor of a bank, and the bank's distributorEpoch.

    Read from the chain once (`checked_at`), then kept current by RoleGranted/RoleRevoked
    logs; only spares calls: the bank itself still refuses a signature it does not accept.
    """

    __tablename__ = "settlement_bank_roles"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    signer: Mapped[str] = Address(primary_key=True)
    bank: Mapped[str] = Address(primary_key=True)
    is_distributor: Mapped[bool] = mapped_column(Boolean)
    epoch: Mapped[int] = mapped_column(Amount)
    checked_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class SettlementNonceCounter(Base):
    """Where a bank's batch nonces come from: salt << 128 | sequence (see batch_nonces.py).

    Consecutive sequences share a nonce word on the bank (cheap pushes); the random salt,
    drawn when the row is created, keeps them apart from every nonce signed before the
    row existed. After restoring a database, delete these rows (docs/operations.md).
    """

    __tablename__ = "settlement_nonce_counters"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bank: Mapped[str] = Address(primary_key=True)
    salt: Mapped[int] = mapped_column(Amount)  # 128 bits, the nonce's top half
    last_sequence: Mapped[int] = mapped_column(BigInteger)  # the latest nonce's bottom half
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        CheckConstraint(
            "salt >= 0 AND salt < 340282366920938463463374607431768211456", name="salt_128_bits"
        ),
        CheckConstraint("last_sequence >= 0", name="sequence_not_negative"),
    )
