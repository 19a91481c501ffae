"""PasskeyAccount fixtures: the factory, software passkeys, accounts, signed operations.

Built on tests/contracts/conftest.py (ape's anvil, osaka hardfork: the P-256
precompile at 0x100). Digests come from backend.accounts.eip712, so every passing
operation also proves the Python digest equals the contract's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from ape import chain, project
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from backend.accounts import eip712, webauthn
from tests.contracts.account.passkey import RP_ID, SoftPasskey

RP_ID_HASH = webauthn.rp_id_hash(RP_ID)
TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")

Call = tuple[str, int, bytes]


def transfer_call(token: Any, to: Any, amount: int) -> Call:
    """(target, value, data) of token.transfer(to, amount), made by the account."""
    data = TRANSFER + abi_encode(["address", "uint256"], [str(to), amount])
    return (str(token.address), 0, data)


def account_call(account: Any, function: str, *args: Any) -> Call:
    """A call from the account to itself (signer management goes through execute)."""
    return (str(account.address), 0, _encode(account, function, *args))


def _encode(contract: Any, function: str, *args: Any) -> bytes:
    method = getattr(contract, function)
    return bytes(method.encode_input(*args))


def deadline_in(seconds: int = 3600) -> int:
    return chain.pending_timestamp + seconds


@pytest.fixture(scope="session")
def account_blueprint(deployer):
    return deployer.declare(project.PasskeyAccount).contract_address


@pytest.fixture(scope="session")
def account_factory(deployer, account_blueprint):
    return project.PasskeyAccountFactory.deploy(account_blueprint, sender=deployer)


@pytest.fixture(scope="session")
def passkey() -> SoftPasskey:
    return SoftPasskey.generate()


@pytest.fixture(scope="session")
def other_passkey() -> SoftPasskey:
    return SoftPasskey.generate()


@pytest.fixture(scope="session")
def create_account(account_factory, stranger) -> Callable[..., Any]:
    def create(key: SoftPasskey, salt: int = 0, rp_id_hash: bytes = RP_ID_HASH) -> Any:
        account_factory.createAccount(key.x, key.y, rp_id_hash, salt, sender=stranger)
        return project.PasskeyAccount.at(account_factory.getAddress(key.x, key.y, rp_id_hash, salt))

    return create


@pytest.fixture(scope="session")
def account(create_account, passkey):
    """The passkey's account (salt 0), deployed."""
    return create_account(passkey)


@pytest.fixture(scope="session")
def funded_account(account, token, signer):
    token.mint(account, 10**24, sender=signer)
    return account


def digest_of(
    account: Any, calls: Sequence[Call], nonce: int, deadline: int, **domain: Any
) -> bytes:
    return eip712.execute_digest(
        domain.get("chain_id", chain.chain_id),
        domain.get("account", str(account.address)),
        list(calls),
        nonce,
        deadline,
    )


@pytest.fixture
def execute(stranger) -> Callable[..., Any]:
    """Sign (calls, nonce, deadline) with a passkey; a stranger (the relayer) sends execute."""

    def run(
        account: Any,
        key: SoftPasskey,
        calls: Sequence[Call],
        *,
        nonce: int = 0,
        deadline: int | None = None,
        auth: bytes | None = None,
        **bend: Any,
    ) -> Any:
        deadline = deadline_in() if deadline is None else deadline
        if auth is None:
            auth = key.auth(digest_of(account, calls, nonce, deadline), **bend)
        return account.execute(list(calls), nonce, deadline, auth, sender=stranger)

    return run
