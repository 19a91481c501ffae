"""The wallet a passkey is: its PasskeyAccount's counterfactual address.

factory.getAddress(x, y, sha256(RP_ID), 0) is CREATE2 arithmetic over the passkey's
public key, so the address is known (and can be paid) before the account exists.
The RP id is part of it: changing RP_ID later gives every passkey another account.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_utils import to_checksum_address

from backend.accounts.webauthn import public_key_xy, rp_id_hash
from backend.chain.artifacts import load_artifact
from backend.core.errors import InvalidInput, Unavailable

FIRST_ACCOUNT_SALT = 0  # a user's first passkey account


@cache
def _factory_abi() -> list[dict[str, Any]]:
    return load_artifact("PasskeyAccountFactory").abi


def passkey_public_key(cose_public_key: bytes) -> tuple[int, int]:
    """(x, y) of an ES256 passkey; any other key cannot sign for an account (422)."""
    try:
        return public_key_xy(cose_public_key)
    except ValueError as exc:
        raise InvalidInput(
            f"this passkey cannot control a wallet: {exc}", code="passkey_rejected"
        ) from None


async def account_address(w3: Any, factory: str | None, cose_public_key: bytes, rp_id: str) -> str:
    """The checksummed account address of a passkey (deployed or not)."""
    if not factory:
        raise Unavailable(
            "passkey wallets need ACCOUNT_FACTORY_ADDRESS", code="passkey_accounts_unavailable"
        )
    x, y = passkey_public_key(cose_public_key)
    contract = w3.eth.contract(address=to_checksum_address(factory), abi=_factory_abi())
    try:
        address = await contract.functions.getAddress(
            x, y, rp_id_hash(rp_id), FIRST_ACCOUNT_SALT
        ).call()
    except Exception as exc:  # the node is down or the factory is not there
        raise Unavailable(
            "the account factory cannot be reached", code="chain_unavailable"
        ) from exc
    return str(to_checksum_address(address))
