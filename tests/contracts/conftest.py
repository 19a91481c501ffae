"""Contract fixtures on ape's anvil: core contracts, a bank, tokens, signed batches.

Session-scoped deployments; ape snapshots the chain around every test, so each
test starts from the same deployed state. Batches are signed with the backend's
own EIP-712 code (backend.settlement.eip712).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# ape-vyper runs `vyper` and ape-foundry runs `anvil` from PATH.
os.environ["PATH"] = os.pathsep.join(
    [
        str(Path(sys.executable).parent),
        str(REPO_ROOT / "contracts" / "node_modules" / ".bin"),
        os.environ.get("PATH", ""),
    ]
)

from ape import accounts, chain, project  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402

from backend.settlement import eip712  # noqa: E402

MANAGER_ROLE = keccak(text="MANAGER_ROLE")
DISTRIBUTOR_ROLE = keccak(text="DISTRIBUTOR_ROLE")
UNLIMITED = 2**256 - 1
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
FUNDS = 10**30


def random_bytes32() -> bytes:
    return secrets.token_bytes(32)


def random_address() -> str:
    return str(to_checksum_address(secrets.token_bytes(20)))


def events(receipt: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every event of a receipt as (name, args), bytes as 0x-hex: whole lists compare."""
    return [
        (log.event_name, {key: _plain(value) for key, value in log.event_arguments.items()})
        for log in receipt.events
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def words(rewards: Sequence[tuple[Any, int]]) -> list[int]:
    """(user, amount) pairs as pushRewards takes them: amount << 160 | user, unchecked."""
    return [
        amount << eip712.AMOUNT_SHIFT | int(str(getattr(user, "address", user)), 16)
        for user, amount in rewards
    ]


def fund_book(push_pull: Any, pusher: Any, token: Any, amount: int) -> Any:
    """Mint `amount` to an EOA pusher and move it into its book (exact approval)."""
    token.mint(pusher, amount, sender=pusher)
    token.approve(push_pull, amount, sender=pusher)
    return push_pull.fundBook(token, amount, sender=pusher)


def hexb(value: bytes) -> str:
    return "0x" + value.hex()


@pytest.fixture(scope="session")
def deployer():
    return accounts.test_accounts[0]


@pytest.fixture(scope="session")
def signer():
    """The backend key: manager and distributor on every bank the factory deploys."""
    return accounts.test_accounts[1]


@pytest.fixture(scope="session")
def product_owner():
    return accounts.test_accounts[2]


@pytest.fixture(scope="session")
def funder():
    return accounts.test_accounts[3]


@pytest.fixture(scope="session")
def stranger():
    return accounts.test_accounts[4]


@pytest.fixture(scope="session")
def users():
    return [accounts.test_accounts[i] for i in range(5, 10)]


@pytest.fixture(scope="session")
def push_pull(deployer):
    return project.MultiTokenPushPull.deploy(sender=deployer)


@pytest.fixture(scope="session")
def bank_blueprint(deployer):
    receipt = deployer.declare(project.ProductBank)
    return receipt.contract_address


@pytest.fixture(scope="session")
def bank_initcode_hash():
    return keccak(project.ProductBank.contract_type.deployment_bytecode.to_bytes())


@pytest.fixture(scope="session")
def factory(deployer, signer, push_pull, bank_blueprint, bank_initcode_hash):
    contract = project.ProductBankFactory.deploy(
        push_pull, bank_blueprint, bank_initcode_hash, signer, sender=deployer
    )
    push_pull.setFactory(contract, sender=deployer)
    return contract


@pytest.fixture(scope="session")
def deploy_bank(factory, signer, product_owner):
    def deploy(product_id: bytes | None = None, owner: Any = None) -> Any:
        product_id = product_id or random_bytes32()
        factory.deployBank(product_id, owner or product_owner, sender=signer)
        return project.ProductBank.at(factory.bankOf(product_id))

    return deploy


@pytest.fixture(scope="session")
def product_id():
    return random_bytes32()


@pytest.fixture(scope="session")
def bank(deploy_bank, product_id):
    return deploy_bank(product_id)


def _token(kind: str, deployer: Any, symbol: str) -> Any:
    return getattr(project, kind).deploy(f"{symbol} token", symbol, 18, sender=deployer)


@pytest.fixture(scope="session")
def token(deployer):
    return _token("MockERC20", deployer, "TST")


@pytest.fixture(scope="session")
def token_b(deployer):
    return _token("MockERC20", deployer, "TSB")


@pytest.fixture(scope="session")
def no_bool_token(deployer):
    return _token("NoBoolToken", deployer, "NOB")


@pytest.fixture(scope="session")
def fee_token(deployer):
    return _token("FeeOnTransferToken", deployer, "FEE")


@pytest.fixture(scope="session")
def reentrant_token(deployer):
    return _token("ReentrantToken", deployer, "RNT")


@pytest.fixture(scope="session")
def false_token(deployer):
    """Answers false (moving nothing) while paused or towards a blocked address."""
    return _token("FalseReturnToken", deployer, "FLS")


@pytest.fixture(scope="session")
def sender_fee_token(deployer):
    """Charges the sender 1% on top of every transfer; the receiver gets the amount."""
    return _token("SenderFeeToken", deployer, "SFE")


@pytest.fixture(scope="session")
def campaign_id():
    return random_bytes32()


@pytest.fixture(scope="session")
def funded_bank(deploy_bank, token, token_b, campaign_id, signer):
    """Another bank, holding FUNDS of token and token_b, campaign unlimited in both."""
    bank = deploy_bank()
    for each in (token, token_b):
        each.mint(bank, FUNDS, sender=signer)
        bank.allocateCampaignBudget(campaign_id, each, 0, UNLIMITED, sender=signer)
    return bank


@pytest.fixture
def funded_banks(factory, signer, token, campaign_id) -> Callable[[int], list[tuple[bytes, Any]]]:
    """`count` (productId, bank) pairs of the factory: funded, the book filled, the campaign
    unlimited in `token`."""

    def make(count: int) -> list[tuple[bytes, Any]]:
        made = []
        for _ in range(count):
            product_id = random_bytes32()
            factory.deployBank(product_id, signer, sender=signer)
            bank = project.ProductBank.at(factory.bankOf(product_id))
            token.mint(bank, FUNDS, sender=signer)
            bank.allocateCampaignBudget(campaign_id, token, 0, UNLIMITED, sender=signer)
            bank.fundBook(token, sender=signer)
            made.append((product_id, bank))
        return made

    return make


# An EOA pusher's book in each token (test_push_pull*.py).
BOOK = 1_000


@pytest.fixture
def pusher(push_pull, deployer, stranger, token, token_b):
    """An EOA authorised as pusher, with BOOK of both tokens in its book."""
    push_pull.authorisePusher(stranger, sender=deployer)
    for each in (token, token_b):
        fund_book(push_pull, stranger, each, BOOK)
    return stranger


@pytest.fixture(scope="session")
def sign_batch(signer) -> Callable[..., tuple[Any, ...]]:
    """pushRewards arguments for a batch signed with the backend's EIP-712 code.

    Signed for the bank's current distributorEpoch unless `epoch` says otherwise.
    """

    def sign(
        bank: Any,
        campaign_id: bytes,
        token: Any,
        rewards: Sequence[tuple[Any, int]],
        *,
        nonce: bytes | None = None,
        deadline: int | None = None,
        key: str | None = None,
        chain_id: int | None = None,
        bank_address: str | None = None,
        epoch: int | None = None,
    ) -> tuple[Any, ...]:
        typed = eip712.push_rewards_typed_data(
            chain_id=chain.chain_id if chain_id is None else chain_id,
            bank_address=str(bank_address or bank.address),
            campaign_id=campaign_id,
            token=str(getattr(token, "address", token)),
            rewards=[(str(getattr(user, "address", user)), amount) for user, amount in rewards],
            nonce=nonce or random_bytes32(),
            deadline=chain.pending_timestamp + 3600 if deadline is None else deadline,
            epoch=bank.distributorEpoch() if epoch is None else epoch,
        )
        signature = eip712.sign_push(key or signer.private_key, typed)
        return eip712.push_call_args(typed, signature)

    return sign
