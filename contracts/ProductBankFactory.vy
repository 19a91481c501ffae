# pragma version 0.4.3
# pragma evm-version cancun
"""
@title ProductBankFactory
@notice Deploys one ProductBank per productId at an address anyone can
        predict, hands it to the product owner, gives the backend signer the
        manager and distributor roles, and authorises it on MultiTokenPushPull.
@dev Why a blueprint with a constant init code (and not a minimal proxy with
     an initializer): the bank keeps productId, pushPull and its domain
     separator as immutables (cheaper pushes, no delegatecall), and its
     constructor is its only initialiser, so it can never be initialised
     twice. The constructor takes no arguments: it reads its parameters back
     from `bankParams()`, set in transient storage for the duration of the
     deploy. So the CREATE2 address depends on the productId (the salt) alone.
     Invariants:
       - at most one bank per productId (`bankOf`), at `predictBankAddress`;
       - every deployed bank is authorised on MultiTokenPushPull;
       - `BANK_INITCODE_HASH` is checked against every deployment (a wrong
         hash makes deployBank revert, never predict a wrong address).
     Only the owner or the signer deploy banks, so nobody can squat a
     productId with a foreign owner. Reverts are prefixed "factory:".

     pushMany sends many banks' batches in one transaction (one transaction
     base fee for all of them): each part is a call of a ProductBank push on a
     bank this factory deployed, and a part that reverts is skipped without
     undoing the others. It only forwards the banks' push functions, and only
     to addresses of this factory's CREATE2 scheme, so the factory's own
     standing (it authorises pushers on MultiTokenPushPull) never lends itself
     to another call. A bank trusts it for one fact: the distributor named by
     an unsigned part (pushFewRewardsBy) is pushMany's own caller.
"""

from . import IMultiTokenPushPull
from . import IProductBankFactory
from .modules import ownable_2step as ownable

implements: IProductBankFactory

initializes: ownable

exports: (
    ownable.owner,
    ownable.pendingOwner,
    ownable.transferOwnership,
    ownable.acceptOwnership,
)

# ERC-5202 blueprint preamble length (0xFE7100).
BLUEPRINT_PREAMBLE_LENGTH: constant(uint256) = 3

# pushMany's parts: productId (32 bytes) | gas (32) | length (32) | calldata (length).
MAX_PUSH_PARTS: constant(uint256) = 64
MAX_PUSH_BYTES: constant(uint256) = 16384
PART_HEADER: constant(uint256) = 96
# What a part's CALL costs besides the gas it forwards (cold account, the copy of its
# calldata into memory): with the 64/63 of EIP-150, checked before each part.
CALL_RESERVE: constant(uint256) = 10000
BANK_PUSH_SELECTOR: constant(bytes4) = method_id(
    "pushRewards(bytes32,address,uint256[],bytes32,uint256,bytes)", output_type=bytes4
)
BANK_PUSH_FEW_SELECTOR: constant(bytes4) = method_id(
    "pushFewRewards(bytes32,address,uint256[],bytes32,uint256,bytes)", output_type=bytes4
)
# A part without a signature: its first argument is the distributor who sends it, which
# must be this call's sender (the bank trusts the factory to have checked).
BANK_PUSH_FEW_BY_SELECTOR: constant(bytes4) = method_id(
    "pushFewRewardsBy(address,bytes32,address,uint256[],bytes32,uint256,uint256)",
    output_type=bytes4,
)

pushPull: public(immutable(address))
bankBlueprint: public(immutable(address))
bankInitcodeHash: public(immutable(bytes32))

signer: public(address)
bankOf: public(HashMap[bytes32, address])
_deploying: transient(IProductBankFactory.BankParams)


# @dev The bank of `productId` deployed at `bank`, owned by `owner`; `signer` got its roles.
event BankDeployed:
    productId: indexed(bytes32)
    bank: indexed(address)
    owner: indexed(address)
    signer: address


# @dev Banks deployed from now on grant their roles to `newSigner`.
event SignerChanged:
    previousSigner: indexed(address)
    newSigner: indexed(address)


@deploy
def __init__(
    push_pull: address, bank_blueprint: address, bank_initcode_hash: bytes32, signer: address
):
    """
    @param push_pull The MultiTokenPushPull the banks pay into.
    @param bank_blueprint ERC-5202 blueprint of ProductBank.
    @param bank_initcode_hash keccak256 of ProductBank's init code (the blueprint
           minus its preamble); checked on every deployment.
    @param signer The backend key granted manager and distributor on new banks.
    """
    assert push_pull != empty(address), "factory: zero push pull"
    assert bank_blueprint.is_contract, "factory: no blueprint"
    assert signer != empty(address), "factory: zero signer"
    ownable.__init__(msg.sender)
    pushPull = push_pull
    bankBlueprint = bank_blueprint
    bankInitcodeHash = bank_initcode_hash
    self.signer = signer
    log SignerChanged(previousSigner=empty(address), newSigner=signer)


@external
@nonreentrant
def deployBank(product_id: bytes32, bank_owner: address) -> address:
    """
    @notice Deploy the bank of `product_id`, owned by `bank_owner`.
    @dev Owner or signer only. The signer gets manager and distributor on the
         new bank (the bank owner may revoke them); the bank is authorised on
         MultiTokenPushPull (this factory must be registered there).
    @param product_id keccak256 of the product's primary domain.
    @param bank_owner The owner of the new bank (the product owner).
    @return The bank address, equal to predictBankAddress(product_id).
    """
    assert msg.sender == ownable.owner or msg.sender == self.signer, "factory: not authorised"
    assert product_id != empty(bytes32), "factory: empty product id"
    assert bank_owner != empty(address), "factory: zero owner"
    assert self.bankOf[product_id] == empty(address), "factory: bank exists"

    self._deploying = IProductBankFactory.BankParams(
        productId=product_id, owner=bank_owner, signer=self.signer, pushPull=pushPull
    )
    bank: address = create_from_blueprint(
        bankBlueprint, code_offset=BLUEPRINT_PREAMBLE_LENGTH, salt=product_id
    )
    self._deploying = empty(IProductBankFactory.BankParams)
    assert bank == self._predict(product_id), "factory: initcode hash mismatch"

    self.bankOf[product_id] = bank
    extcall IMultiTokenPushPull(pushPull).authorisePusher(bank)
    log BankDeployed(productId=product_id, bank=bank, owner=bank_owner, signer=self.signer)
    return bank


@external
@nonreentrant
def pushMany(parts: Bytes[MAX_PUSH_BYTES]) -> uint256:
    """
    @notice Send several banks' batches in one transaction; a batch that
            reverts is skipped and the others still pay.
    @dev Anyone may call it: every batch is authorised by its own bank's
         distributor, nonce and budgets, exactly as a direct call of the bank.
         Each part is the productId of a bank of this factory (its address is
         derived, never taken from the caller), the gas forwarded to that call,
         the calldata length and the calldata, which must call pushRewards,
         pushFewRewards (signed: anyone may send them) or pushFewRewardsBy
         (unsigned: its distributor must be this call's sender, or the whole
         call reverts "factory: not the sender"). Reverts when there is not
         enough gas left to give a part all of its gas, so that a part never
         fails for want of gas the sender did not provide (and a gas estimate of
         the whole is enough for every part). A part whose bank holds no code
         counts as not paid.
    @param parts The parts, concatenated: productId (32 bytes) | gas (32 bytes,
           big-endian) | length (32 bytes, big-endian) | calldata (length bytes).
    @return A bitmap: bit i is set when part i paid.
    """
    paid: uint256 = 0
    offset: uint256 = 0
    size: uint256 = len(parts)
    for index: uint256 in range(MAX_PUSH_PARTS):
        if offset == size:
            break
        assert size - offset >= PART_HEADER, "factory: bad parts"
        bank: address = self._predict(extract32(parts, offset))
        gas_limit: uint256 = convert(extract32(parts, offset + 32), uint256)
        length: uint256 = convert(extract32(parts, offset + 64), uint256)
        offset += PART_HEADER
        assert length >= 4 and length <= size - offset, "factory: bad parts"
        selector: bytes4 = convert(slice(parts, offset, 4), bytes4)
        if selector == BANK_PUSH_FEW_BY_SELECTOR:
            # the bank takes the factory's word for who sent this part
            assert length >= 36 and convert(
                extract32(parts, offset + 4), uint256
            ) == convert(msg.sender, uint256), "factory: not the sender"
        else:
            assert selector == BANK_PUSH_SELECTOR or selector == BANK_PUSH_FEW_SELECTOR, (
                "factory: not a push"
            )
        # EIP-150: a call gets at most 63/64 of the gas left.
        assert msg.gas >= gas_limit + gas_limit // 63 + CALL_RESERVE, "factory: out of gas"
        if bank.is_contract:
            if raw_call(
                bank, slice(parts, offset, length), gas=gas_limit, revert_on_failure=False
            ):
                paid |= 1 << index
        offset += length
    assert offset == size, "factory: too many parts"
    return paid


@external
def setSigner(new_signer: address):
    """
    @notice Change the backend key granted roles on banks deployed from now on.
    @dev Owner only. Existing banks keep their roles; their owners manage them.
    @param new_signer The backend key; not the zero address.
    """
    ownable._check_owner()
    assert new_signer != empty(address), "factory: zero signer"
    log SignerChanged(previousSigner=self.signer, newSigner=new_signer)
    self.signer = new_signer


@external
@view
def predictBankAddress(product_id: bytes32) -> address:
    """
    @notice Where the bank of `product_id` is (or will be) deployed.
    @param product_id keccak256 of the product's primary domain.
    """
    return self._predict(product_id)


@external
@view
def bankParams() -> IProductBankFactory.BankParams:
    """
    @notice Parameters of the bank being deployed right now (empty otherwise).
    @dev Read by ProductBank's constructor.
    """
    return self._deploying


@internal
@view
def _predict(product_id: bytes32) -> address:
    digest: bytes32 = keccak256(
        concat(b"\xff", convert(self, bytes20), product_id, bankInitcodeHash)
    )
    return convert(convert(convert(digest, uint256) & convert(max_value(uint160), uint256), uint160), address)
