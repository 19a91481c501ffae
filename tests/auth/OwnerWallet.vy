# pragma version ~=0.4.0
"""
@title OwnerWallet (test only)
@dev A minimal EIP-1271 smart account: a signature is valid when its owner made it.
"""

MAGIC: constant(bytes4) = 0x1626ba7e
REFUSED: constant(bytes4) = 0xffffffff

owner: public(address)


@deploy
def __init__(owner: address):
    self.owner = owner


@external
@view
def isValidSignature(digest: bytes32, signature: Bytes[65]) -> bytes4:
    """
    @notice EIP-1271: MAGIC when `owner` signed `digest` (65-byte r, s, v).
    """
    if len(signature) != 65:
        return REFUSED
    r: uint256 = convert(extract32(signature, 0), uint256)
    s: uint256 = convert(extract32(signature, 32), uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    if ecrecover(digest, v, r, s) == self.owner:
        return MAGIC
    return REFUSED
