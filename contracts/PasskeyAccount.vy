# pragma version 0.4.3
# pragma evm-version cancun
"""
@title PasskeyAccount
@notice A minimal smart account controlled by WebAuthn P-256 keys (passkeys)
        and, optionally, EOA owners for recovery. Anyone may relay an
        operation (`execute`) and pay its gas; only a signer can authorise it.
@dev Deployed as EIP-1167 minimal proxies of one implementation by
     PasskeyAccountFactory, which initialises each proxy in the transaction
     that creates it. The implementation marks itself initialised in its
     constructor, so it never gets a signer and can authorise nothing.
     What a signer authorises is an EIP-712 digest under this account's
     domain ("Cascade.PasskeyAccount", "1", chain id, this proxy's address):
       Execute(Call[] calls,uint256 nonce,uint256 deadline)
         Call(address target,uint256 value,bytes data)
       SignedHash(bytes32 hash)                      (ERC-1271)
     `auth` is either 65 bytes r ‖ s ‖ v (an owner EOA, low s), or
       abi.encode(bytes authenticatorData, bytes clientDataJSON,
                  uint256 challengeIndex, uint256 typeIndex,
                  uint256 r, uint256 s, uint256 x, uint256 y)
     checked literally: s <= n/2; authenticatorData starts with the
     rpIdHash (x, y) is a passkey of this account under (the account's) and
     has the UP and UV flags; clientDataJSON holds `"type":"webauthn.get"` at
     typeIndex and `"challenge":"<base64url(digest), 43 chars>"` at
     challengeIndex; the
     P-256 precompile at 0x100 (RIP-7212 / EIP-7951) accepts (r, s) over
     sha256(authenticatorData ‖ sha256(clientDataJSON)) for (x, y).
     The passkey an account was created for (salt 0) is not stored: the
     account's address is the factory's CREATE2 address for it, which the
     account recomputes. Other passkeys are stored with their rpIdHash.
     Invariants:
       - a nonce is used at most once (bits in a HashMap, any order);
       - the account always has at least one signer (signerCount >= 1);
       - signers change only through `execute` (msg.sender == self).
     Reverts are prefixed "account:".
"""

from . import IPasskeyAccount

implements: IPasskeyAccount

MAX_CALLS: constant(uint256) = 8
MAX_CALLDATA: constant(uint256) = 1024
MAX_AUTH: constant(uint256) = 2048
# The decoded passkey auth must fit in MAX_AUTH: 8 head words, 2 length words,
# then both byte strings (512 + 1216 + 320 = 2048).
MAX_AUTHENTICATOR_DATA: constant(uint256) = 512
MAX_CLIENT_DATA: constant(uint256) = 1216

EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
EIP712_NAME_HASH: constant(bytes32) = keccak256("Cascade.PasskeyAccount")
EIP712_VERSION_HASH: constant(bytes32) = keccak256("1")
CALL_TYPEHASH: constant(bytes32) = keccak256("Call(address target,uint256 value,bytes data)")
EXECUTE_TYPEHASH: constant(bytes32) = keccak256(
    "Execute(Call[] calls,uint256 nonce,uint256 deadline)"
    "Call(address target,uint256 value,bytes data)"
)
SIGNED_HASH_TYPEHASH: constant(bytes32) = keccak256("SignedHash(bytes32 hash)")

ERC1271_MAGIC: constant(bytes4) = 0x1626ba7e
ERC1271_INVALID: constant(bytes4) = 0xffffffff

# The implementation's rpIdHash: it is "initialised" from birth, with no signer.
IMPLEMENTATION_MARK: constant(bytes32) = keccak256("Cascade.PasskeyAccount.implementation")
# What a removed passkey's slot holds (never the sha256 of an rp id).
REMOVED: constant(bytes32) = keccak256("Cascade.PasskeyAccount.removed")
# EIP-1167 init code as Vyper's create_minimal_proxy_to builds it (the factory
# uses the same bytes): loader ‖ forwarder head ‖ implementation ‖ forwarder tail.
PROXY_CODE_HEAD: constant(Bytes[19]) = x"602d3d8160093d39f3363d3d373d3d3d363d73"
PROXY_CODE_TAIL: constant(Bytes[15]) = x"5af43d82803e903d91602b57fd5bf3"
ADDRESS_MASK: constant(uint256) = (1 << 160) - 1

# secp256k1: upper half of the order, for owner (EOA) signatures.
SECP256K1_HALF_N: constant(uint256) = (
    57896044618658097711785492504343953926418782139537452191302581570759080747168
)
# P-256 (secp256r1): field prime, curve coefficient b (a = -3), half the order.
# 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_P: constant(uint256) = (
    115792089210356248762697446949407573530086143415290314195533631308867097853951
)
# 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_B: constant(uint256) = (
    41058363725152142129326129780047268409114441015993725554835256314039467401291
)
# 0x7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8
P256_HALF_N: constant(uint256) = (
    57896044605178124381348723474703786764998477612067880171211129530534256022184
)
P256_VERIFY: constant(address) = 0x0000000000000000000000000000000000000100
# A signature the precompile must accept: an empty answer to it means there is
# no precompile (an empty answer to the user's signature only means "invalid").
PROBE_HASH: constant(bytes32) = 0x34a1f8f2ff0e33a42a1ec2328bd331181f9f5394d50b65bba298f03f3edbb068
# 0x8a2b9553f1f7ba7054f16e004473f39ef15c0d4f81ff8a2741352183d5f58ee3
PROBE_R: constant(uint256) = (
    62496178151639649083329538014849264191374362512720899514515383405770031075043
)
# 0x37d61e302f81a8ef6facd32daf67513ac775db3a1be50bd0e44481bf91568a33
PROBE_S: constant(uint256) = (
    25255520295413086046160800018640028517959795225946015152969015642617875434035
)
# 0xaa57df66c35edda5c66c59896c1e0bd968cd12b7437865c7bb3d6ddca4e56a07
PROBE_X: constant(uint256) = (
    77048441813715822211589302163287403325520414206240313570917126215643475307015
)
# 0x9faac4766ba4eeae2a19a14146545efb7c316d1a304ccae1e94445a3d873686b
PROBE_Y: constant(uint256) = (
    72219462860645623201553850909991534386127139585423443203507757932314365225067
)

# authenticatorData: rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ ...
FLAGS_OFFSET: constant(uint256) = 32
MIN_AUTHENTICATOR_DATA: constant(uint256) = 37
FLAG_UP: constant(uint256) = 1
FLAG_UV: constant(uint256) = 4
# '"type":"webauthn.get"' (21 bytes) and '"challenge":"' (13 bytes) as numbers.
TYPE_FIELD: constant(uint256) = 50356006779825325829434800999760677350298660205602
CHALLENGE_PREFIX: constant(uint256) = 2724522729812148530253735803426
# '"challenge":"' + 43 base64url chars + '"'
CHALLENGE_FIELD_LENGTH: constant(uint256) = 57
# base64url in SWAR: one byte of a word per sextet, then per character.
# ONES_n: a 1 at the bottom of every n-bit lane.
ONES_8: constant(uint256) = max_value(uint256) // 255
ONES_16: constant(uint256) = max_value(uint256) // ((1 << 16) - 1)
ONES_32: constant(uint256) = max_value(uint256) // ((1 << 32) - 1)
ONES_64: constant(uint256) = max_value(uint256) // ((1 << 64) - 1)
ONES_128: constant(uint256) = 1 + (1 << 128)
LOW_64: constant(uint256) = (1 << 64) - 1
LOW_96: constant(uint256) = (1 << 96) - 1
# LOW_k: the low k bits of every lane twice k wide (after the previous split);
# HIGH_k: the k bits above them.
LOW_48: constant(uint256) = ((1 << 48) - 1) * ONES_128
HIGH_48: constant(uint256) = LOW_48 << 48
LOW_24: constant(uint256) = ((1 << 24) - 1) * ONES_64
HIGH_24: constant(uint256) = LOW_24 << 24
LOW_12: constant(uint256) = ((1 << 12) - 1) * ONES_32
HIGH_12: constant(uint256) = LOW_12 << 12
LOW_6: constant(uint256) = 63 * ONES_16
HIGH_6: constant(uint256) = LOW_6 << 6



# The `auth` of a passkey, abi-encoded as a plain tuple of these fields.
struct PasskeyAuth:
    authenticatorData: Bytes[MAX_AUTHENTICATOR_DATA]
    clientDataJSON: Bytes[MAX_CLIENT_DATA]
    challengeIndex: uint256
    typeIndex: uint256
    r: uint256
    s: uint256
    x: uint256
    y: uint256


FACTORY: immutable(address)
# keccak256 of a proxy's init code: with FACTORY, what a proxy's address derives from.
PROXY_CODE_HASH: immutable(bytes32)

rpIdHash: public(bytes32)
# passkey (x, y) -> the rpIdHash it signs under; REMOVED once removed; empty for
# unknown keys and for the creation key, which the account's own address
# implies (see _is_creation_key): deploying writes one slot instead of two.
# One slot answers both questions a verification asks (signer? which rp?).
_passkeys: HashMap[uint256, HashMap[uint256, bytes32]]
isOwner: public(HashMap[address, bool])
# Signers beyond the one every account has: signerCount() - 1. Counting the
# extras (not all signers) saves a storage write on every account deployment.
_extraSigners: uint256
# Nonce n is bit (n % 256) of word n // 256: nonces 0, 1, 2... share a word, so
# a later operation flips a bit in a written word (5,000 gas) instead of
# filling a new slot (22,100).
_nonceWords: HashMap[uint256, uint256]


# @dev A signed operation ran: `count` calls under `nonce`, which can never run again.
event Executed:
    nonce: indexed(uint256)
    count: uint256


# @dev Passkey (x, y) became a signer of this account.
event PasskeyAdded:
    x: uint256
    y: uint256


# @dev Passkey (x, y) is no longer a signer of this account.
event PasskeyRemoved:
    x: uint256
    y: uint256


# @dev EOA `owner` became a signer of this account.
event OwnerAdded:
    owner: indexed(address)


# @dev EOA `owner` is no longer a signer of this account.
event OwnerRemoved:
    owner: indexed(address)


@deploy
def __init__():
    """
    @dev Deployed by the factory (from a blueprint), which is then the only
         address allowed to initialise proxies of this implementation.
    """
    FACTORY = msg.sender
    PROXY_CODE_HASH = keccak256(concat(PROXY_CODE_HEAD, convert(self, bytes20), PROXY_CODE_TAIL))
    self.rpIdHash = IMPLEMENTATION_MARK


@external
@payable
def __default__():
    """
    @notice Receive ETH. Calls to unknown functions revert instead of passing silently.
    """
    assert len(msg.data) == 0, "account: unknown function"


@external
def initialize(x: uint256, y: uint256, rp_id_hash: bytes32):
    """
    @notice Give a fresh proxy its first passkey and its relying party.
    @dev Factory only, once; the factory calls it in the transaction that
         creates the proxy, so nobody can initialise an account before it.
    @param x The passkey's public key x coordinate.
    @param y The passkey's public key y coordinate.
    @param rp_id_hash sha256 of the WebAuthn relying party id.
    """
    assert msg.sender == FACTORY, "account: not factory"
    assert self.rpIdHash == empty(bytes32), "account: initialised"
    assert rp_id_hash != empty(bytes32), "account: zero rp id hash"
    assert self._on_curve(x, y), "account: not on curve"
    self.rpIdHash = rp_id_hash
    if not self._is_creation_key(x, y, rp_id_hash):
        # Created with a salt other than 0: the address does not imply the key.
        self._passkeys[x][y] = rp_id_hash


@external
def execute(
    calls: DynArray[IPasskeyAccount.Call, MAX_CALLS],
    nonce: uint256,
    deadline: uint256,
    auth: Bytes[MAX_AUTH],
):
    """
    @notice Run `calls` in order, as this account, if a signer authorised them.
    @dev Anyone may send it (a relayer pays the gas). Any failing call reverts
         the whole operation, nonce included.
    @param calls (target, value, data) triples.
    @param nonce Any unused number; 0, 1, 2... per account is cheapest (_nonceWords).
    @param deadline Last block timestamp the operation is valid at.
    @param auth A signer's authorisation of executeDigest(calls, nonce, deadline).
    """
    assert block.timestamp <= deadline, "account: expired"
    word: uint256 = nonce >> 8
    bit: uint256 = 1 << (nonce & 255)
    used: uint256 = self._nonceWords[word]
    assert used & bit == 0, "account: nonce used"
    call_hashes: DynArray[bytes32, MAX_CALLS] = []
    for i: uint256 in range(len(calls), bound=MAX_CALLS):
        call_hashes.append(
            self._call_hash(calls[i].target, calls[i].value, keccak256(calls[i].data))
        )
    digest: bytes32 = self._execute_digest(call_hashes, nonce, deadline)
    if len(auth) == 65:
        assert self._owner_signed(digest, slice(auth, 0, 65)), "account: bad auth"
    else:
        assert self._passkey_signed(digest, auth), "account: bad auth"
    self._nonceWords[word] = used | bit
    for i: uint256 in range(len(calls), bound=MAX_CALLS):
        assert raw_call(
            calls[i].target, calls[i].data, value=calls[i].value, revert_on_failure=False
        ), "account: call failed"
    log Executed(nonce=nonce, count=len(calls))


@external
@view
def isValidSignature(hash: bytes32, signature: Bytes[MAX_AUTH]) -> bytes4:
    """
    @notice ERC-1271: whether a signer of this account signed `hash`.
    @dev The signer signs signedHashDigest(hash), never `hash` itself, so a
         signature for one account (or chain) is not valid for another.
         Malformed passkey encodings revert; well-formed invalid ones answer
         0xffffffff.
    @param hash The application's 32-byte hash.
    @param signature 65-byte owner signature or the abi-encoded WebAuthn assertion.
    @return 0x1626ba7e if valid, 0xffffffff otherwise.
    """
    digest: bytes32 = self._signed_hash_digest(hash)
    valid: bool = False
    if len(signature) == 65:
        valid = self._owner_signed(digest, slice(signature, 0, 65))
    else:
        valid = self._passkey_signed(digest, signature)
    if valid:
        return ERC1271_MAGIC
    return ERC1271_INVALID


@external
def addPasskey(x: uint256, y: uint256):
    """
    @notice Add a passkey signer. Only through `execute`.
    @param x The passkey's public key x coordinate.
    @param y The passkey's public key y coordinate.
    """
    self._only_self()
    assert self._on_curve(x, y), "account: not on curve"
    rp_id_hash: bytes32 = self.rpIdHash
    assert not self._signs_under(x, y, rp_id_hash), "account: signer exists"
    self._passkeys[x][y] = rp_id_hash
    self._extraSigners += 1
    log PasskeyAdded(x=x, y=y)


@external
def removePasskey(x: uint256, y: uint256):
    """
    @notice Remove a passkey signer. Only through `execute`; never the last signer.
    @param x The passkey's public key x coordinate.
    @param y The passkey's public key y coordinate.
    """
    self._only_self()
    assert self._signs_under(x, y, self.rpIdHash), "account: not a signer"
    self._drop_signer()
    # REMOVED, not empty: an empty slot would revive the creation key.
    self._passkeys[x][y] = REMOVED
    log PasskeyRemoved(x=x, y=y)


@external
def addOwner(owner: address):
    """
    @notice Add an EOA signer (e.g. a wallet the user already has, for recovery).
    @param owner The EOA to add as a signer.
    """
    self._only_self()
    assert owner != empty(address), "account: zero owner"
    assert not self.isOwner[owner], "account: signer exists"
    self.isOwner[owner] = True
    self._extraSigners += 1
    log OwnerAdded(owner=owner)


@external
def removeOwner(owner: address):
    """
    @notice Remove an EOA signer. Only through `execute`; never the last signer.
    @param owner The EOA signer to remove.
    """
    self._only_self()
    assert self.isOwner[owner], "account: not a signer"
    self._drop_signer()
    self.isOwner[owner] = False
    log OwnerRemoved(owner=owner)


@external
@view
def isPasskey(x: uint256, y: uint256) -> bool:
    """
    @notice Whether passkey (x, y) is a signer of this account.
    @param x The passkey's public key x coordinate.
    @param y The passkey's public key y coordinate.
    """
    return self._signs_under(x, y, self.rpIdHash)


@external
@view
def signerCount() -> uint256:
    """
    @notice Passkeys plus owners; at least 1 for any initialised account.
    """
    rp_id_hash: bytes32 = self.rpIdHash
    if rp_id_hash == empty(bytes32) or rp_id_hash == IMPLEMENTATION_MARK:
        return 0
    return self._extraSigners + 1


@external
@view
def isNonceUsed(nonce: uint256) -> bool:
    """
    @notice Whether the operation with `nonce` ran already (it can never run again).
    @param nonce An operation nonce.
    """
    return self._nonceWords[nonce >> 8] & (1 << (nonce & 255)) != 0


@external
@view
def executeDigest(
    calls: DynArray[IPasskeyAccount.Call, MAX_CALLS], nonce: uint256, deadline: uint256
) -> bytes32:
    """
    @notice The EIP-712 digest a signer authorises for `execute`; the WebAuthn challenge.
    @param calls (target, value, data) triples, as for execute.
    @param nonce The operation nonce.
    @param deadline Last block timestamp the operation is valid at.
    """
    # Same hashing as in execute (written out there too: passing `calls` to an
    # internal function would copy up to 9 KB and pay for the memory).
    call_hashes: DynArray[bytes32, MAX_CALLS] = []
    for i: uint256 in range(len(calls), bound=MAX_CALLS):
        call_hashes.append(
            self._call_hash(calls[i].target, calls[i].value, keccak256(calls[i].data))
        )
    return self._execute_digest(call_hashes, nonce, deadline)


@external
@view
def signedHashDigest(hash: bytes32) -> bytes32:
    """
    @notice The EIP-712 digest a signer signs for isValidSignature(hash, ...).
    @param hash The application's 32-byte hash.
    """
    return self._signed_hash_digest(hash)


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    return self._domain_separator()


@internal
@view
def _only_self():
    assert msg.sender == self, "account: not self"


@internal
@view
def _signs_under(x: uint256, y: uint256, rp_id_hash: bytes32) -> bool:
    """
    @dev Whether passkey (x, y) is a signer of this account for `rp_id_hash`.
    """
    stored: bytes32 = self._passkeys[x][y]
    if stored == empty(bytes32):
        return self._is_creation_key(x, y, rp_id_hash)
    # `rp_id_hash` may come from signed bytes: REMOVED must never match itself.
    return stored == rp_id_hash and stored != REMOVED


@internal
@view
def _is_creation_key(x: uint256, y: uint256, rp_id_hash: bytes32) -> bool:
    """
    @dev Whether the factory created this account for (x, y, rp_id_hash) with
         salt 0 (the salt of a user's first account): then this very address
         is the factory's CREATE2 address for them, which only a keccak256
         collision could fake. Same derivation as the factory's getAddress.
    """
    salt: bytes32 = keccak256(abi_encode(x, y, rp_id_hash, empty(uint256)))
    digest: bytes32 = keccak256(concat(x"ff", convert(FACTORY, bytes20), salt, PROXY_CODE_HASH))
    return convert(digest, uint256) & ADDRESS_MASK == convert(convert(self, uint160), uint256)


@internal
def _drop_signer():
    extra: uint256 = self._extraSigners
    assert extra != 0, "account: last signer"
    self._extraSigners = unsafe_sub(extra, 1)


@internal
@pure
def _on_curve(x: uint256, y: uint256) -> bool:
    # y^2 == x^3 - 3x + b (mod p), with both coordinates reduced.
    if x >= P256_P or y >= P256_P:
        return False
    lhs: uint256 = uint256_mulmod(y, y, P256_P)
    x3: uint256 = uint256_mulmod(uint256_mulmod(x, x, P256_P), x, P256_P)
    minus_3x: uint256 = unsafe_sub(P256_P, uint256_mulmod(3, x, P256_P))
    return lhs == uint256_addmod(uint256_addmod(x3, minus_3x, P256_P), P256_B, P256_P)


@internal
@view
def _domain_separator() -> bytes32:
    return keccak256(
        abi_encode(EIP712_DOMAIN_TYPEHASH, EIP712_NAME_HASH, EIP712_VERSION_HASH, chain.id, self)
    )


@internal
@view
def _typed_digest(struct_hash: bytes32) -> bytes32:
    return keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))


@internal
@pure
def _call_hash(target: address, amount: uint256, data_hash: bytes32) -> bytes32:
    return keccak256(abi_encode(CALL_TYPEHASH, target, amount, data_hash))


@internal
@view
def _execute_digest(
    call_hashes: DynArray[bytes32, MAX_CALLS], nonce: uint256, deadline: uint256
) -> bytes32:
    # EIP-712 hashes an array as keccak256 of its members' hashes, concatenated:
    # the ABI encoding of the array minus its offset and length words.
    calls_hash: bytes32 = keccak256(b"")
    if len(call_hashes) != 0:
        encoded: Bytes[32 * (MAX_CALLS + 2)] = abi_encode(call_hashes)
        calls_hash = keccak256(slice(encoded, 64, 32 * len(call_hashes)))
    return self._typed_digest(
        keccak256(abi_encode(EXECUTE_TYPEHASH, calls_hash, nonce, deadline))
    )


@internal
@view
def _signed_hash_digest(hash: bytes32) -> bytes32:
    return self._typed_digest(keccak256(abi_encode(SIGNED_HASH_TYPEHASH, hash)))


@internal
@view
def _owner_signed(digest: bytes32, signature: Bytes[65]) -> bool:
    r: uint256 = convert(extract32(signature, 0), uint256)
    s: uint256 = convert(extract32(signature, 32), uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    if s > SECP256K1_HALF_N or (v != 27 and v != 28):
        return False
    signer: address = ecrecover(digest, v, r, s)
    return signer != empty(address) and self.isOwner[signer]


@internal
@view
def _passkey_signed(digest: bytes32, auth: Bytes[MAX_AUTH]) -> bool:
    # The fields are the top-level tuple (no outer offset): unwrap_tuple=False.
    a: PasskeyAuth = abi_decode(auth, PasskeyAuth, unwrap_tuple=False)
    # (r, n - s) verifies too: accept only the low-s twin.
    if a.s > P256_HALF_N:
        return False
    if len(a.authenticatorData) < MIN_AUTHENTICATOR_DATA:
        return False
    # The signed rpIdHash must be the one this passkey was registered under.
    if not self._signs_under(a.x, a.y, extract32(a.authenticatorData, 0)):
        return False
    # Byte 32 is the flags: the low byte of the word at offset 1.
    flags: uint256 = convert(extract32(a.authenticatorData, 1), uint256) & 255
    if flags & (FLAG_UP | FLAG_UV) != FLAG_UP | FLAG_UV:
        return False
    # Words are read in place (extract32), never copied out with slice. The
    # type field comes first in clientDataJSON, so 32 bytes follow typeIndex.
    length: uint256 = len(a.clientDataJSON)
    if length < CHALLENGE_FIELD_LENGTH or a.typeIndex > length - 32:
        return False
    if convert(extract32(a.clientDataJSON, a.typeIndex), uint256) >> 88 != TYPE_FIELD:
        return False
    if a.challengeIndex > length - CHALLENGE_FIELD_LENGTH:
        return False
    first: uint256 = 0
    last: uint256 = 0
    first, last = self._challenge_field(digest)
    if convert(extract32(a.clientDataJSON, a.challengeIndex), uint256) != first:
        return False
    if convert(extract32(a.clientDataJSON, a.challengeIndex + 25), uint256) != last:
        return False
    message: bytes32 = sha256(concat(a.authenticatorData, sha256(a.clientDataJSON)))
    return self._p256_verify(message, a.r, a.s, a.x, a.y)


@internal
@pure
def _challenge_field(digest: bytes32) -> (uint256, uint256):
    """
    @dev The 57 bytes '"challenge":"' + base64url(digest), no padding, + '"',
         as its first 32 bytes and its last 32 bytes (they overlap by 7).
         The 256 bits are 43 characters: the top 192 bits make characters
         0..31 (`head`), the low 64 bits and two zero bits make 32..42 (the top
         11 bytes of `tail`).
    """
    value: uint256 = convert(digest, uint256)
    head: uint256 = self._base64url_word(value >> 64)
    tail: uint256 = self._base64url_word((value & LOW_64) << 128)
    # prefix (13 bytes) ‖ characters 0..18
    first: uint256 = (CHALLENGE_PREFIX << 152) | (head >> 104)
    # characters 12..31 ‖ characters 32..42 ‖ '"'
    last: uint256 = (head << 96) | ((tail >> 168) << 8) | 34
    return first, last


@internal
@pure
def _base64url_word(bits: uint256) -> uint256:
    """
    @dev The 32 base64url characters of a 192-bit number, first character in
         the highest byte. Lanes are halved five times (96, 48, 24, 12, 6 bits)
         so every byte holds one sextet s; then, per byte and without carries,
         char = s + 'A' (65), +6 from s = 26 ('a'), -75 from 52 ('0'),
         -13 from 62 ('-'), +49 at 63 ('_'). A flag "s >= k" is bit 7 of
         s + 128 - k (s < 64, so no byte overflows into the next).
    """
    x: uint256 = ((bits >> 96) << 128) | (bits & LOW_96)
    x = ((x & HIGH_48) << 16) | (x & LOW_48)
    x = ((x & HIGH_24) << 8) | (x & LOW_24)
    x = ((x & HIGH_12) << 4) | (x & LOW_12)
    x = ((x & HIGH_6) << 2) | (x & LOW_6)
    from_26: uint256 = (unsafe_add(x, 102 * ONES_8) >> 7) & ONES_8
    from_52: uint256 = (unsafe_add(x, 76 * ONES_8) >> 7) & ONES_8
    from_62: uint256 = (unsafe_add(x, 66 * ONES_8) >> 7) & ONES_8
    at_63: uint256 = (unsafe_add(x, 65 * ONES_8) >> 7) & ONES_8
    up: uint256 = unsafe_add(
        unsafe_add(x, 65 * ONES_8), unsafe_add(unsafe_mul(from_26, 6), unsafe_mul(at_63, 49))
    )
    return unsafe_sub(up, unsafe_add(unsafe_mul(from_52, 75), unsafe_mul(from_62, 13)))


@internal
@view
def _p256_verify(message: bytes32, r: uint256, s: uint256, x: uint256, y: uint256) -> bool:
    ok: bool = False
    answer: Bytes[32] = b""
    ok, answer = raw_call(
        P256_VERIFY,
        abi_encode(message, r, s, x, y),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    if len(answer) == 32:
        return ok and convert(answer, uint256) == 1
    # Empty: an invalid signature, or no precompile on this chain. A signature
    # known to be valid tells them apart (only on this failure path).
    ok, answer = raw_call(
        P256_VERIFY,
        abi_encode(PROBE_HASH, PROBE_R, PROBE_S, PROBE_X, PROBE_Y),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    assert len(answer) == 32 and convert(answer, uint256) == 1, "account: no p256 precompile"
    return False
