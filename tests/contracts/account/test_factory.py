"""PasskeyAccountFactory: counterfactual addresses, idempotent creation, deploy-and-execute."""

from __future__ import annotations

import ape
from ape import accounts, chain, project
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from tests.contracts.account.conftest import RP_ID_HASH, deadline_in, digest_of, transfer_call
from tests.contracts.account.passkey import SoftPasskey
from tests.contracts.conftest import ZERO_ADDRESS, events, random_address

PROXY_HEAD = bytes.fromhex("602d3d8160093d39f3363d3d373d3d3d363d73")
PROXY_TAIL = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")


def _create2(factory, key, rp_id_hash, salt) -> str:
    """The CREATE2 address computed here, independently of the contract."""
    implementation = bytes.fromhex(factory.implementation()[2:])
    code_hash = keccak(PROXY_HEAD + implementation + PROXY_TAIL)
    create_salt = keccak(
        encode(["uint256", "uint256", "bytes32", "uint256"], [key.x, key.y, rp_id_hash, salt])
    )
    digest = keccak(b"\xff" + bytes.fromhex(factory.address[2:]) + create_salt + code_hash)
    return to_checksum_address(digest[12:])


def test_get_address__is_where_create_account_deploys(account_factory, stranger):
    key = SoftPasskey.generate()
    predicted = account_factory.getAddress(key.x, key.y, RP_ID_HASH, 0)
    assert predicted == _create2(account_factory, key, RP_ID_HASH, 0)
    assert len(chain.provider.get_code(predicted)) == 0
    receipt = account_factory.createAccount(key.x, key.y, RP_ID_HASH, 0, sender=stranger)
    assert receipt.return_value == predicted
    assert len(chain.provider.get_code(predicted)) == 45  # EIP-1167 runtime
    assert events(receipt) == [
        (
            "AccountCreated",
            {
                "account": predicted,
                "x": key.x,
                "y": key.y,
                "rpIdHash": "0x" + RP_ID_HASH.hex(),
                "salt": 0,
            },
        )
    ]
    account = project.PasskeyAccount.at(predicted)
    assert account.isPasskey(key.x, key.y) and account.signerCount() == 1


def test_get_address__binds_key_rp_and_salt(account_factory):
    key, other = SoftPasskey.generate(), SoftPasskey.generate()
    base = account_factory.getAddress(key.x, key.y, RP_ID_HASH, 0)
    assert account_factory.getAddress(other.x, other.y, RP_ID_HASH, 0) != base
    assert account_factory.getAddress(key.x, key.y, keccak(b"other rp"), 0) != base
    assert account_factory.getAddress(key.x, key.y, RP_ID_HASH, 1) != base
    assert account_factory.getAddress(key.x, key.y + 1, RP_ID_HASH, 0) != base


def test_create_account__idempotent(account_factory, stranger, users):
    key = SoftPasskey.generate()
    first = account_factory.createAccount(key.x, key.y, RP_ID_HASH, 0, sender=stranger)
    again = account_factory.createAccount(key.x, key.y, RP_ID_HASH, 0, sender=users[0])
    assert again.return_value == first.return_value
    assert events(again) == []


def test_counterfactual_account__holds_tokens_and_eth__first_spend_deploys_and_executes(
    account_factory, token, signer, deployer, stranger
):
    key = SoftPasskey.generate()
    address = account_factory.getAddress(key.x, key.y, RP_ID_HASH, 0)
    token.mint(address, 1000, sender=signer)
    deployer.transfer(address, 5 * 10**17)
    assert len(chain.provider.get_code(address)) == 0
    friend = random_address()
    calls = [transfer_call(token, friend, 600), (friend, 2 * 10**17, b"")]
    deadline = deadline_in()

    class Counterfactual:  # the digest only needs the address
        pass

    pending = Counterfactual()
    pending.address = address
    auth = key.auth(digest_of(pending, calls, 0, deadline))
    # Let ape decode the logs of an account that does not exist yet.
    chain.contracts.cache_contract_type(address, project.PasskeyAccount.contract_type)
    receipt = account_factory.createAndExecute(
        key.x, key.y, RP_ID_HASH, 0, calls, 0, deadline, auth, sender=stranger
    )
    assert receipt.return_value == address
    assert token.balanceOf(friend) == 600 and token.balanceOf(address) == 400
    assert chain.provider.get_balance(friend) == 2 * 10**17
    assert chain.provider.get_balance(address) == 3 * 10**17
    assert events(receipt) == [
        (
            "AccountCreated",
            {
                "account": address,
                "x": key.x,
                "y": key.y,
                "rpIdHash": "0x" + RP_ID_HASH.hex(),
                "salt": 0,
            },
        ),
        ("Transfer", {"sender": address, "receiver": friend, "value": 600}),
        ("Executed", {"nonce": 0, "count": 2}),
    ]


def test_create_and_execute__on_a_deployed_account__just_executes(
    account_factory, funded_account, passkey, token, stranger
):
    friend = random_address()
    calls = [transfer_call(token, friend, 9)]
    deadline = deadline_in()
    auth = passkey.auth(digest_of(funded_account, calls, 44, deadline))
    receipt = account_factory.createAndExecute(
        passkey.x, passkey.y, RP_ID_HASH, 0, calls, 44, deadline, auth, sender=stranger
    )
    assert receipt.return_value == funded_account.address
    assert token.balanceOf(friend) == 9
    assert [name for name, _ in events(receipt)] == ["Transfer", "Executed"]


def test_create_and_execute__bad_auth__deploys_nothing(account_factory, other_passkey, stranger):
    key = SoftPasskey.generate()
    address = account_factory.getAddress(key.x, key.y, RP_ID_HASH, 0)
    deadline = deadline_in()

    class Counterfactual:
        pass

    pending = Counterfactual()
    pending.address = address
    auth = other_passkey.auth(digest_of(pending, [], 0, deadline))
    with ape.reverts("account: bad auth"):
        account_factory.createAndExecute(
            key.x, key.y, RP_ID_HASH, 0, [], 0, deadline, auth, sender=stranger
        )
    assert len(chain.provider.get_code(address)) == 0


def test_create_account__off_curve_key_or_zero_rp__refused(account_factory, passkey, stranger):
    with ape.reverts("account: not on curve"):
        account_factory.createAccount(passkey.x, passkey.y + 1, RP_ID_HASH, 0, sender=stranger)
    with ape.reverts("account: zero rp id hash"):
        account_factory.createAccount(passkey.x, passkey.y, b"\x00" * 32, 0, sender=stranger)


def test_implementation__can_never_be_initialised_or_used(account_factory, passkey, stranger):
    implementation = project.PasskeyAccount.at(account_factory.implementation())
    assert implementation.signerCount() == 0
    with ape.reverts("account: not factory"):
        implementation.initialize(passkey.x, passkey.y, RP_ID_HASH, sender=stranger)
    chain.provider.set_balance(account_factory.address, 10**18)
    as_factory = accounts[account_factory.address]
    with ape.reverts("account: initialised"):
        implementation.initialize(passkey.x, passkey.y, RP_ID_HASH, sender=as_factory)
    deadline = deadline_in()
    auth = passkey.auth(digest_of(implementation, [], 0, deadline))
    with ape.reverts("account: bad auth"):
        implementation.execute([], 0, deadline, auth, sender=stranger)


def test_initialize__only_the_factory_and_only_once(
    account, account_factory, other_passkey, stranger
):
    with ape.reverts("account: not factory"):
        account.initialize(other_passkey.x, other_passkey.y, RP_ID_HASH, sender=stranger)
    chain.provider.set_balance(account_factory.address, 10**18)
    as_factory = accounts[account_factory.address]
    with ape.reverts("account: initialised"):
        account.initialize(other_passkey.x, other_passkey.y, RP_ID_HASH, sender=as_factory)
    assert account.isPasskey(other_passkey.x, other_passkey.y) is False


def test_factory__needs_a_blueprint(deployer):
    with ape.reverts("account: no blueprint"):
        project.PasskeyAccountFactory.deploy(ZERO_ADDRESS, sender=deployer)
