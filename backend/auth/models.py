"""Tables owned by the auth domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Base


class WalletLink(Base):
    """The WebAuthn user handle of a wallet: all its passkeys share it."""

    __tablename__ = "wallet_links"

    wallet: Mapped[str] = Address(primary_key=True)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    proof: Mapped[str] = mapped_column(String(20))  # eip191 | eip1271
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PasskeyCredential(Base):
    __tablename__ = "passkey_credentials"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    wallet: Mapped[str] = Address(ForeignKey("wallet_links.wallet", ondelete="CASCADE"))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    transports: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    aaguid: Mapped[str | None] = mapped_column(String(36))
    backed_up: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_passkey_credentials_wallet", "wallet"),)


class AuthChallenge(Base):
    """A single-use, expiring challenge (WebAuthn or Sign-In with Ethereum)."""

    __tablename__ = "auth_challenges"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(32))  # register | login | siwe
    challenge: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    wallet: Mapped[str | None] = Address()
    data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_auth_challenges_expires_at", "expires_at"),)


class AuthSession(Base):
    """A dashboard cookie or a listener bearer token; only its hash is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # cookie | bearer
    wallet: Mapped[str] = Address()
    credential_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("passkey_credentials.id", ondelete="CASCADE")
    )
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_auth_sessions_wallet", "wallet"),)
