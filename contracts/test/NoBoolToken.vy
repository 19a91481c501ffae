# pragma version 0.4.3
# pragma evm-version cancun
"""
@title NoBoolToken
@notice An ERC-20 whose transfer, transferFrom and approve return nothing
        (like USDT on mainnet), to prove callers tolerate a missing bool.
@dev Invariant: totalSupply == sum(balanceOf). Reverts are prefixed "token:".
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


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    base.__init__(name, symbol, decimals)


@external
def transfer(receiver: address, amount: uint256):
    """
    @notice Move `amount` from the caller to `receiver`; returns no bool.
    """
    base._transfer(msg.sender, receiver, amount)


@external
def transferFrom(sender: address, receiver: address, amount: uint256):
    """
    @notice Move `amount` from `sender` using the caller's allowance; returns no bool.
    """
    base._spend_allowance(sender, msg.sender, amount)
    base._transfer(sender, receiver, amount)


@external
def approve(spender: address, amount: uint256):
    """
    @notice Let `spender` move up to `amount`; returns no bool.
    """
    base._approve(msg.sender, spender, amount)
