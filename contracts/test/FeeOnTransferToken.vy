# pragma version 0.4.3
# pragma evm-version cancun
"""
@title FeeOnTransferToken
@notice An ERC-20 that burns a fee (FEE_BPS of every transfer), so the
        receiver gets less than the amount sent.
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

FEE_BPS: public(constant(uint256)) = 100


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    base.__init__(name, symbol, decimals)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from the caller; `receiver` gets it minus the fee.
    """
    self._transfer_with_fee(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from `sender`; `receiver` gets it minus the fee.
    """
    base._spend_allowance(sender, msg.sender, amount)
    self._transfer_with_fee(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` of the caller's tokens.
    """
    base._approve(msg.sender, spender, amount)
    return True


@internal
def _transfer_with_fee(sender: address, receiver: address, amount: uint256):
    fee: uint256 = amount * FEE_BPS // 10_000
    base._transfer(sender, receiver, amount)
    if fee != 0:
        base._burn(receiver, fee)
