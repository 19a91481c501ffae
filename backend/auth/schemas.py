"""Request bodies of the auth endpoints (unknown fields are rejected)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Wallet = Annotated[str, msgspec.Meta(min_length=40, max_length=42)]
SessionKind = Literal["bearer", "cookie"]


class WalletChallengeIn(msgspec.Struct, forbid_unknown_fields=True):
    wallet: Wallet


class RegisterOptionsIn(msgspec.Struct, forbid_unknown_fields=True):
    wallet: Wallet
    challenge_id: Annotated[str, msgspec.Meta(max_length=64)]
    signature: Annotated[str, msgspec.Meta(max_length=4096)]  # EIP-1271 ones may be long


class LoginOptionsIn(msgspec.Struct, forbid_unknown_fields=True):
    pass


class CredentialIn(msgspec.Struct, forbid_unknown_fields=True):
    """register/verify and login/verify: the credential's JSON, and which session to open.

    `kind`: "bearer" (default, the listener keeps the token) or "cookie" (the
    dashboard: an HttpOnly cookie, and no token in the body).
    """

    credential: dict[str, Any]
    kind: SessionKind = "bearer"


class SignupOptionsIn(msgspec.Struct, forbid_unknown_fields=True):
    pass


class SignupVerifyIn(msgspec.Struct, forbid_unknown_fields=True):
    """passkey/signup/verify: the new credential's JSON and where the session goes.

    `kind`: "listener" (default; a bearer token in the body, like "bearer") or
    "wallet" (the wallet page on the backend's origin: an HttpOnly cookie, like "cookie").
    """

    credential: dict[str, Any]
    kind: Literal["listener", "wallet", "bearer", "cookie"] = "listener"

    @property
    def session_kind(self) -> SessionKind:
        return "cookie" if self.kind in ("wallet", "cookie") else "bearer"
