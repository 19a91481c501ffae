# pragma version 0.4.3
"""
@title Test token core
@notice Balances, allowances and mint shared by the test tokens; each token
        defines its own transfer/transferFrom/approve flavour on top.
@dev For tests only. Invariant: totalSupply == sum(balanceOf).
"""

name: public(String[32])
symbol: public(String[16])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256


event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    self.name = name
    self.symbol = symbol
    self.decimals = decimals


@external
def mint(to: address, amount: uint256):
    """
    @notice Create `amount` tokens for `to` (anyone: test token).
    """
    self.balanceOf[to] += amount
    self.totalSupply += amount
    log Transfer(sender=empty(address), receiver=to, value=amount)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert self.balanceOf[sender] >= amount, "token: balance"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _burn(holder: address, amount: uint256):
    self.balanceOf[holder] -= amount
    self.totalSupply -= amount
    log Transfer(sender=holder, receiver=empty(address), value=amount)


@internal
def _approve(owner: address, spender: address, amount: uint256):
    self.allowance[owner][spender] = amount
    log Approval(owner=owner, spender=spender, value=amount)


@internal
def _spend_allowance(owner: address, spender: address, amount: uint256):
    allowed: uint256 = self.allowance[owner][spender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "token: allowance"
        self.allowance[owner][spender] = allowed - amount
