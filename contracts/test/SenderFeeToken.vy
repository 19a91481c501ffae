# pragma version 0.4.3
# pragma evm-version cancun
"""
@title SenderFeeToken
@notice An ERC-20 that charges the sender a fee (FEE_BPS of the amount) on top
        of every transfer: the receiver gets the full amount, the sender's
        balance drops by more than it sent.
@dev For tests only: a balance check on incoming transfers does not catch
     it, only one on outgoing transfers does. Invariant: totalSupply ==
     sum(balanceOf). Reverts are prefixed "token:".
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
    @notice Move `amount` from the caller to `receiver`; the caller also pays the fee.
    """
    self._transfer_charging_sender(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from `sender` to `receiver`; `sender` also pays the fee.
    """
    base._spend_allowance(sender, msg.sender, amount)
    self._transfer_charging_sender(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` of the caller's tokens.
    """
    base._approve(msg.sender, spender, amount)
    return True


@internal
def _transfer_charging_sender(sender: address, receiver: address, amount: uint256):
    base._transfer(sender, receiver, amount)
    fee: uint256 = amount * FEE_BPS // 10_000
    if fee != 0:
        assert base.balanceOf[sender] >= fee, "token: balance"
        base._burn(sender, fee)
