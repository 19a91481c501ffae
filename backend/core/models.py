"""Cross-cutting tables: idempotency of creating requests, operator alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, Bytes32


class IdempotencyKey(Base):
    """Stored response of a creating POST, replayed for the same key and body (24 h)."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(120), primary_key=True)  # who asked
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # in_progress | done
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any | None] = mapped_column(type_=Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


class Alert(Base):
    """Something an operator or owner must know: stable code, counted, shown on health."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64))  # e.g. signer_not_distributor
    severity: Mapped[str] = mapped_column(String(16))  # warning | error | critical
    product_id: Mapped[str | None] = Bytes32()
    subject: Mapped[str | None] = mapped_column(String(200))  # campaign id, bank, batch...
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    resolved_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_alerts_open", "code", "subject", postgresql_where=text("resolved_at IS NULL")),
    )
