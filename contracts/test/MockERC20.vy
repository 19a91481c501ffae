# pragma version 0.4.3
# pragma evm-version cancun
"""
@title MockERC20
@notice A plain ERC-20 with a public mint, for tests and the demo.
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
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from the caller to `receiver`.
    """
    base._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from `sender` to `receiver` using the caller's allowance.
    """
    base._spend_allowance(sender, msg.sender, amount)
    base._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` of the caller's tokens.
    """
    base._approve(msg.sender, spender, amount)
    return True
