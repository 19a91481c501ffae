# pragma version 0.4.3
# pragma evm-version cancun
"""
@title ReentrantToken
@notice An ERC-20 whose transfer and transferFrom call a configured target
        with configured calldata before moving tokens, to prove the contracts
        under test refuse re-entry.
@dev The hook's failure is swallowed and recorded (`lastReentrySucceeded`),
     so a test sees both that the outer call completed and that re-entry was
     refused. Invariant: totalSupply == sum(balanceOf).
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

hookTarget: public(address)
hookData: public(Bytes[1024])
reentryAttempts: public(uint256)
lastReentrySucceeded: public(bool)


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    base.__init__(name, symbol, decimals)


@external
def setHook(target: address, data: Bytes[1024]):
    """
    @notice Call `target` with `data` on every transfer (zero target: no hook).
    """
    self.hookTarget = target
    self.hookData = data


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Run the hook, then move `amount` from the caller to `receiver`.
    """
    self._hook()
    base._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Run the hook, then move `amount` from `sender` using the caller's allowance.
    """
    self._hook()
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


@internal
def _hook():
    target: address = self.hookTarget
    if target == empty(address):
        return
    self.reentryAttempts += 1
    self.lastReentrySucceeded = raw_call(target, self.hookData, revert_on_failure=False)
