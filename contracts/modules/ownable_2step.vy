# pragma version 0.4.3
"""
@title Two-step ownership
@notice An owner that hands over in two steps: the current owner proposes,
        the new owner accepts. A mistyped address can never take a contract.
@dev Invariants: `owner` changes only through `_transfer_ownership` (constructor
     or `acceptOwnership` by `pendingOwner`); `pendingOwner` is cleared on every
     change. Reverts are prefixed "ownable:".
"""

owner: public(address)
pendingOwner: public(address)


# @dev `newOwner` may accept ownership from `previousOwner` (two-step transfer).
event OwnershipTransferStarted:
    previousOwner: indexed(address)
    newOwner: indexed(address)


# @dev Ownership moved from `previousOwner` to `newOwner`.
event OwnershipTransferred:
    previousOwner: indexed(address)
    newOwner: indexed(address)


@deploy
def __init__(initial_owner: address):
    assert initial_owner != empty(address), "ownable: zero owner"
    self._transfer_ownership(initial_owner)


@external
def transferOwnership(new_owner: address):
    """
    @notice Propose `new_owner`; ownership moves when they call `acceptOwnership`.
    @dev Proposing the zero address cancels a pending transfer.
    @param new_owner The proposed owner.
    """
    self._check_owner()
    self.pendingOwner = new_owner
    log OwnershipTransferStarted(previousOwner=self.owner, newOwner=new_owner)


@external
def acceptOwnership():
    """
    @notice Accept a proposed ownership transfer (callable by `pendingOwner` only).
    """
    assert msg.sender == self.pendingOwner, "ownable: not pending owner"
    self._transfer_ownership(msg.sender)


@internal
@view
def _check_owner():
    assert msg.sender == self.owner, "ownable: not owner"


@internal
def _transfer_ownership(new_owner: address):
    previous: address = self.owner
    self.pendingOwner = empty(address)
    self.owner = new_owner
    log OwnershipTransferred(previousOwner=previous, newOwner=new_owner)
