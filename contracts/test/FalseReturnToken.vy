# pragma version 0.4.3
# pragma evm-version cancun
"""
@title FalseReturnToken
@notice An ERC-20 that answers `false` instead of reverting when it refuses a
        call: while paused, or when the receiver (or spender) is blocked. Like
        older tokens with a pause or blocklist, it moves nothing then.
@dev For tests only: proves callers check the returned bool.
     Invariant: totalSupply == sum(balanceOf). Reverts are prefixed "token:".
"""

from . import token_base as base

initializes: base

exports: (
    base.name,
    base.symbol,
    base.decimals,
    base.totalSupply,
    base.balanceOf,
    base.allowance,
    base.mint,
)

paused: public(bool)
blocked: public(HashMap[address, bool])


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    base.__init__(name, symbol, decimals)


@external
def setPaused(paused: bool):
    """
    @notice Refuse (return false on) every transfer and approval while paused.
    """
    self.paused = paused


@external
def setBlocked(account: address, blocked: bool):
    """
    @notice Refuse (return false on) transfers to, and approvals of, `account`.
    """
    self.blocked[account] = blocked


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from the caller to `receiver`; false (nothing moved) when refused.
    """
    if self.paused or self.blocked[receiver]:
        return False
    base._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from `sender` using the caller's allowance; false when refused.
    """
    if self.paused or self.blocked[receiver]:
        return False
    base._spend_allowance(sender, msg.sender, amount)
    base._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount`; false (nothing approved) when refused.
    """
    if self.paused or self.blocked[spender]:
        return False
    base._approve(msg.sender, spender, amount)
    return True
