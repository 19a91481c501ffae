# pragma version 0.4.3
# pragma evm-version cancun
"""
@title PasskeyAccountFactory
@notice Creates PasskeyAccounts at addresses known before they exist: the
        CREATE2 address of an account derives from its first passkey (x, y),
        its relying party (rpIdHash) and a salt, so tokens and ETH can be sent
        to it before it is deployed. A first spend deploys and executes in
        one transaction (createAndExecute).
@dev Accounts are EIP-1167 minimal proxies of one implementation, which this
     factory deploys from a blueprint in its constructor: the implementation
     records the factory as the only address allowed to initialise proxies.
     Invariants:
       - at most one account per (x, y, rpIdHash, salt), at getAddress(...);
       - an account is initialised in the transaction that creates it, with
         exactly the (x, y, rpIdHash) its address commits to.
     Anyone may call every function: creating someone's account only spends
     the caller's gas, and execute checks the signer's authorisation itself.
"""

from . import IPasskeyAccount

# EIP-1167 init code as Vyper's create_minimal_proxy_to builds it:
# loader ‖ forwarder head ‖ implementation address ‖ forwarder tail.
PROXY_CODE_HEAD: constant(Bytes[19]) = x"602d3d8160093d39f3363d3d373d3d3d363d73"
PROXY_CODE_TAIL: constant(Bytes[15]) = x"5af43d82803e903d91602b57fd5bf3"
ADDRESS_MASK: constant(uint256) = (1 << 160) - 1

implementation: public(immutable(address))
_PROXY_CODE_HASH: immutable(bytes32)


# @dev The account of passkey (x, y) for relying party `rpIdHash` and `salt` was deployed at
#     `account`.
event AccountCreated:
    account: indexed(address)
    x: uint256
    y: uint256
    rpIdHash: bytes32
    salt: uint256


@deploy
def __init__(account_blueprint: address):
    """
    @param account_blueprint ERC-5202 blueprint of PasskeyAccount; the factory
           deploys the one implementation from it.
    """
    assert account_blueprint.is_contract, "account: no blueprint"
    implementation = create_from_blueprint(account_blueprint)
    _PROXY_CODE_HASH = keccak256(
        concat(PROXY_CODE_HEAD, convert(implementation, bytes20), PROXY_CODE_TAIL)
    )


@external
@view
def getAddress(x: uint256, y: uint256, rp_id_hash: bytes32, salt: uint256) -> address:
    """
    @notice The address of the account for this passkey, relying party and salt,
            deployed or not.
    @param x The passkey's public key x coordinate.
    @param y The passkey's public key y coordinate.
    @param rp_id_hash sha256 of the WebAuthn relying party id.
    @param salt Any number; several accounts per passkey differ by it.
    """
    return self._address(self._salt(x, y, rp_id_hash, salt))


@external
def createAccount(x: uint256, y: uint256, rp_id_hash: bytes32, salt: uint256) -> address:
    """
    @notice Deploy the account (idempotent: an existing account is returned as is).
    @param x The passkey's public key x coordinate.
    @param y The passkey's public key y coordinate.
    @param rp_id_hash sha256 of the WebAuthn relying party id.
    @param salt Any number; several accounts per passkey differ by it.
    """
    return self._create(x, y, rp_id_hash, salt)


@external
def createAndExecute(
    x: uint256,
    y: uint256,
    rp_id_hash: bytes32,
    salt: uint256,
    calls: DynArray[IPasskeyAccount.Call, 8],
    nonce: uint256,
    deadline: uint256,
    auth: Bytes[2048],
) -> address:
    """
    @notice Deploy the account if needed, then run an operation it authorised:
            a first spend in one transaction.
    @dev The account checks `auth` exactly as in a direct execute call.
    @param x The passkey's public key x coordinate.
    @param y The passkey's public key y coordinate.
    @param rp_id_hash sha256 of the WebAuthn relying party id.
    @param salt Any number; several accounts per passkey differ by it.
    @param calls (target, value, data) triples, run in order as the account.
    @param nonce An unused operation nonce of the account.
    @param deadline Last block timestamp the operation is valid at.
    @param auth A signer's authorisation of the account's executeDigest(calls, nonce, deadline).
    """
    account: address = self._create(x, y, rp_id_hash, salt)
    extcall IPasskeyAccount(account).execute(calls, nonce, deadline, auth)
    return account


@internal
@pure
def _salt(x: uint256, y: uint256, rp_id_hash: bytes32, salt: uint256) -> bytes32:
    return keccak256(abi_encode(x, y, rp_id_hash, salt))


@internal
@view
def _address(salt: bytes32) -> address:
    digest: bytes32 = keccak256(
        concat(x"ff", convert(self, bytes20), salt, _PROXY_CODE_HASH)
    )
    return convert(convert(convert(digest, uint256) & ADDRESS_MASK, uint160), address)


@internal
def _create(x: uint256, y: uint256, rp_id_hash: bytes32, salt: uint256) -> address:
    create_salt: bytes32 = self._salt(x, y, rp_id_hash, salt)
    account: address = self._address(create_salt)
    if account.is_contract:
        return account
    created: address = create_minimal_proxy_to(implementation, salt=create_salt)
    extcall IPasskeyAccount(created).initialize(x, y, rp_id_hash)
    log AccountCreated(account=created, x=x, y=y, rpIdHash=rp_id_hash, salt=salt)
    return created
