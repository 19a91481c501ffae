# pragma version 0.4.3
# pragma evm-version cancun
"""
@title MultiTokenPushPull
@notice One global ledger of claimable rewards. Authorised pushers (product
        banks) move funds into their own book here, then push batches of
        rewards in any ERC-20 out of it (an internal move: no token transfer
        per push); users pull them from their own wallet (to themselves or an
        address they choose), or anyone pulls for them (then the tokens always
        go to the user).
@dev Invariants, for every token:
       - token.balanceOf(self) >= totalPending[token] + sum(books[p][token]),
         totalPending[token] == sum(pending[token][u]): a book is credited
         exactly what arrived (the balance delta must equal the amount, so
         fee-on-transfer tokens revert); a push moves its total from the
         pusher's book to pending; a pull or a book withdrawal debits by
         exactly what left (the transfer must not return false and the
         balance must drop by exactly the amount, so a token that takes a fee
         from the sender reverts);
       - a book is only ever spent by its pusher: pushed to users, or taken
         back by it (withdrawBook, which a revoked pusher may still call);
       - pending is only ever paid out to its user, or to an address the user
         chose themselves (pullRewardsTo);
       - only authorised pushers can credit; the owner or the registered
         factory authorise, only the owner revokes. A push checks the pusher's
         book, not isPusher: a book is only ever funded by an authorised
         pusher, and revocation marks every book its pusher holds (at most 64
         tokens), re-authorisation clears the marks;
       - every state-changing entry point holds the non-reentrancy lock.
     Reverts are prefixed "pushpull:" (ownership: "ownable:").
"""

from ethereum.ercs import IERC20

from . import IMultiTokenPushPull
from .modules import ownable_2step as ownable

implements: IMultiTokenPushPull

initializes: ownable

exports: (
    ownable.owner,
    ownable.pendingOwner,
    ownable.transferOwnership,
    ownable.acceptOwnership,
)

# Largest batch a pusher may send; ProductBank uses the same bound.
MAX_BATCH: constant(uint256) = 500
# A reward is one word: amount << 160 | user. Vyper copies a DynArray argument into
# memory sized for MAX_BATCH elements, and every local lives above that copy, so the
# first local touched pays for memory up to the bound whatever the batch size: 16 KB
# for a word per reward (~2,000 gas) instead of 32 KB for (address, uint256) pairs
# (~5,000). An amount is below 2**96 (79 billion tokens of 18 decimals); a larger
# reward travels as several words of the same user, whose amounts add up.
USER_MASK: constant(uint256) = (1 << 160) - 1
AMOUNT_SHIFT: constant(uint256) = 160
# pushFewRewards' bound: a batch of a few rewards (the common push at real traffic)
# pays for 2 KB of memory instead of 16 KB (~1,900 gas less).
MAX_FEW: constant(uint256) = 64
# Largest token list for the multi-token views and pulls, and the most tokens a
# pusher may ever hold a book in (revocation marks each of them).
MAX_TOKENS: constant(uint256) = 64
# A book is one storage word: flags in the top bits, the amount below. A push reads
# the book anyway, so the pusher's standing rides in it instead of a read of isPusher
# (-2,100 gas a push, a bank's first in a transaction). BOOK_LISTED: the token is in
# the pusher's _bookTokens (set by its first funding, never cleared, so a book emptied
# and refilled rewrites a non-zero word); BOOK_REVOKED: the pusher is revoked
# (revokePusher marks every book it holds, authorisePusher clears them).
BOOK_LISTED: constant(uint256) = 1 << 255
BOOK_REVOKED: constant(uint256) = 1 << 254
BOOK_AMOUNT_MASK: constant(uint256) = (1 << 254) - 1
# pullRewardsForMany's bound: a relayer's batch of claims, one word each,
# tokenIndex << 160 | user (4 KB of calldata copy, ~1,000 gas of memory).
MAX_CLAIMS: constant(uint256) = 128
CLAIM_TOKEN_SHIFT: constant(uint256) = 160

factory: public(address)
isPusher: public(HashMap[address, bool])
# token -> user -> claimable amount
pending: HashMap[address, HashMap[address, uint256]]
# token -> sum of pending over all users
totalPending: HashMap[address, uint256]
# pusher -> token -> funds it moved in and has neither pushed nor taken back (see BOOK_*)
_books: HashMap[address, HashMap[address, uint256]]
# pusher -> the tokens it ever held a book in
_bookTokens: HashMap[address, DynArray[address, MAX_TOKENS]]


# @dev `amount` of `token` credited to `user`'s pending balance by pusher `emitter`.
event RewardAdded:
    token: indexed(address)
    user: indexed(address)
    emitter: indexed(address)
    amount: uint256


# @dev `user`'s pending `token` paid out: `amount` sent to `to` (the user, or where they chose).
event RewardClaimed:
    token: indexed(address)
    user: indexed(address)
    amount: uint256
    to: address


# @dev `pusher` moved `amount` of `token` into its book.
event BookFunded:
    pusher: indexed(address)
    token: indexed(address)
    amount: uint256


# @dev `pusher` took `amount` of `token` out of its book, sent to `to`.
event BookWithdrawn:
    pusher: indexed(address)
    token: indexed(address)
    amount: uint256
    to: address


# @dev `pusher` may now push rewards; `authorisedBy` is the owner or the factory.
event PusherAuthorised:
    pusher: indexed(address)
    authorisedBy: indexed(address)


# @dev `pusher` may no longer push; what it pushed stays claimable.
event PusherRevoked:
    pusher: indexed(address)


# @dev The bank factory allowed to authorise the banks it deploys (zero: none).
event FactorySet:
    factory: indexed(address)


@deploy
def __init__():
    ownable.__init__(msg.sender)


@external
def setFactory(new_factory: address):
    """
    @notice Register the bank factory, which may then authorise the banks it deploys.
    @dev Owner only. The zero address removes the factory's right.
    @param new_factory The ProductBankFactory address.
    """
    ownable._check_owner()
    self.factory = new_factory
    log FactorySet(factory=new_factory)


@external
def authorisePusher(pusher: address):
    """
    @notice Allow `pusher` to push rewards.
    @dev Owner or the registered factory.
    @param pusher The address to authorise (a ProductBank).
    """
    assert msg.sender == ownable.owner or (
        msg.sender == self.factory and msg.sender != empty(address)
    ), "pushpull: not authoriser"
    assert pusher != empty(address), "pushpull: zero pusher"
    self.isPusher[pusher] = True
    for token: address in self._bookTokens[pusher]:
        self._books[pusher][token] &= ~BOOK_REVOKED
    log PusherAuthorised(pusher=pusher, authorisedBy=msg.sender)


@external
def revokePusher(pusher: address):
    """
    @notice Stop `pusher` from pushing; rewards it already pushed stay claimable.
    @dev Owner only.
    @param pusher The address to revoke.
    """
    ownable._check_owner()
    self.isPusher[pusher] = False
    for token: address in self._bookTokens[pusher]:
        self._books[pusher][token] |= BOOK_REVOKED
    log PusherRevoked(pusher=pusher)


@external
@nonreentrant
def fundBook(token: address, amount: uint256):
    """
    @notice Move `amount` of `token` from the caller (a pusher) into its book.
    @dev The caller must have approved this contract for `amount`. The balance
         delta must equal the amount, so fee-on-transfer tokens revert. A pusher
         holds books in at most 64 tokens over its life ("pushpull: too many tokens").
    @param token The ERC-20 moved in.
    @param amount How much to pull from the caller.
    """
    assert self.isPusher[msg.sender], "pushpull: not pusher"
    assert amount != 0, "pushpull: zero amount"
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "pushpull: transfer failed"
    received: uint256 = staticcall IERC20(token).balanceOf(self)
    assert received >= before and received - before == amount, "pushpull: balance mismatch"
    book: uint256 = self._books[msg.sender][token]
    if book & BOOK_LISTED == 0:
        assert len(self._bookTokens[msg.sender]) < MAX_TOKENS, "pushpull: too many tokens"
        self._bookTokens[msg.sender].append(token)
        book = BOOK_LISTED
    # the amount must stay below the marks' bits (only a token with a vast supply gets near)
    assert (book & BOOK_AMOUNT_MASK) + amount <= BOOK_AMOUNT_MASK, "pushpull: book too large"
    self._books[msg.sender][token] = book + amount
    log BookFunded(pusher=msg.sender, token=token, amount=amount)


@external
@nonreentrant
def withdrawBook(token: address, amount: uint256, to: address):
    """
    @notice Take `amount` of `token` out of the caller's book, sent to `to`.
    @dev Any holder of a book, a revoked pusher too: what it never pushed stays its own.
    @param token The ERC-20 taken out.
    @param amount How much to send.
    @param to The recipient (not the zero address).
    """
    assert to != empty(address), "pushpull: zero recipient"
    assert amount != 0, "pushpull: zero amount"
    book: uint256 = self._books[msg.sender][token]
    assert book & BOOK_AMOUNT_MASK >= amount, "pushpull: book too low"
    self._books[msg.sender][token] = unsafe_sub(book, amount)
    self._send(token, to, amount)
    log BookWithdrawn(pusher=msg.sender, token=token, amount=amount, to=to)


@external
@nonreentrant
def pushRewards(token: address, rewards: DynArray[uint256, MAX_BATCH]):
    """
    @notice Credit a batch of rewards in `token` out of the caller's book.
    @dev No token moves: the batch total goes from the pusher's book to the
         users' pending balances. The same user may appear several times; the
         amounts add up.
    @param token The ERC-20 the rewards are paid in.
    @param rewards One word per reward, amount << 160 | user; amounts and
           users must be non-zero.
    """
    total: uint256 = 0
    for word: uint256 in rewards:
        # inline in both push functions: an internal call per reward costs ~66 gas more
        user: address = convert(word & USER_MASK, address)
        amount: uint256 = word >> AMOUNT_SHIFT
        assert user != empty(address), "pushpull: zero user"
        assert amount != 0, "pushpull: zero amount"
        self.pending[token][user] += amount
        # A batch cannot overflow the sum: 500 amounts below 2**96 add up to less than 2**105.
        total = unsafe_add(total, amount)
        log RewardAdded(token=token, user=user, emitter=msg.sender, amount=amount)
    self._debit_book(token, total)


@external
@nonreentrant
def pushFewRewards(token: address, rewards: DynArray[uint256, MAX_FEW]):
    """
    @notice pushRewards for a batch of at most 64 rewards, with less memory to pay for.
    @param token The ERC-20 the rewards are paid in.
    @param rewards One word per reward, amount << 160 | user, as for pushRewards.
    """
    total: uint256 = 0
    for word: uint256 in rewards:
        # inline in both push functions: an internal call per reward costs ~66 gas more
        user: address = convert(word & USER_MASK, address)
        amount: uint256 = word >> AMOUNT_SHIFT
        assert user != empty(address), "pushpull: zero user"
        assert amount != 0, "pushpull: zero amount"
        self.pending[token][user] += amount
        # A batch cannot overflow the sum: 500 amounts below 2**96 add up to less than 2**105.
        total = unsafe_add(total, amount)
        log RewardAdded(token=token, user=user, emitter=msg.sender, amount=amount)
    self._debit_book(token, total)


@external
@nonreentrant
def pullReward(token: address) -> uint256:
    """
    @notice Claim the caller's pending `token` rewards.
    @param token The ERC-20 to claim.
    @return The amount paid (0 when nothing was pending: no transfer, no event).
    """
    return self._pull(token, msg.sender, msg.sender)


@external
@nonreentrant
def pullRewards(tokens: DynArray[address, MAX_TOKENS]) -> DynArray[uint256, MAX_TOKENS]:
    """
    @notice Claim the caller's pending rewards in several tokens; zero balances are skipped.
    @param tokens The ERC-20s to claim.
    @return The amount paid per token, in the order given.
    """
    return self._pull_many(tokens, msg.sender, msg.sender)


@external
@nonreentrant
def pullRewardsFor(user: address, tokens: DynArray[address, MAX_TOKENS]) -> DynArray[
    uint256, MAX_TOKENS
]:
    """
    @notice Claim `user`'s pending rewards on their behalf (gasless claims).
    @dev Anyone may call; the tokens always go to `user`.
    @param user The wallet whose rewards are paid out.
    @param tokens The ERC-20s to claim.
    @return The amount paid per token, in the order given.
    """
    return self._pull_many(tokens, user, user)


@external
@nonreentrant
def pullRewardsForMany(
    tokens: DynArray[address, MAX_TOKENS], claims: DynArray[uint256, MAX_CLAIMS]
) -> uint256:
    """
    @notice Claim many users' pending rewards on their behalf in one transaction (a
            relayer's batch of gasless claims: the transaction's base cost and the cold
            contract and token accounts are paid once for all of them).
    @dev Anyone may call; each user's tokens always go to that user, exactly as
         pullRewardsFor. A claim is one word, tokenIndex << 160 | user, tokenIndex
         into `tokens`. Nothing pending is skipped, so a user named twice for a token
         is paid once, and a claim the user already made themselves costs no payout.
    @param tokens The ERC-20s the claims name by index.
    @param claims The claims, one word each.
    @return How many claims paid something.
    """
    count: uint256 = len(tokens)
    paid: uint256 = 0
    for claim: uint256 in claims:
        index: uint256 = claim >> CLAIM_TOKEN_SHIFT
        assert index < count, "pushpull: bad token index"
        user: address = convert(claim & USER_MASK, address)
        if self._pull(tokens[index], user, user) != 0:
            paid += 1
    return paid


@external
@nonreentrant
def pullRewardsTo(tokens: DynArray[address, MAX_TOKENS], to: address) -> DynArray[
    uint256, MAX_TOKENS
]:
    """
    @notice Claim the caller's own pending rewards, paid to `to` (e.g. an exchange deposit).
    @dev Only the user themselves chooses where their rewards go; nobody can
         redirect someone else's. RewardClaimed names the user and `to`.
    @param tokens The ERC-20s to claim; zero balances are skipped.
    @param to The recipient of the tokens (not the zero address).
    @return The amount paid per token, in the order given.
    """
    assert to != empty(address), "pushpull: zero recipient"
    return self._pull_many(tokens, msg.sender, to)


@external
@view
def getPendingAmount(token: address, user: address) -> uint256:
    """
    @notice What `user` can claim in `token`.
    @param token The ERC-20 asked about.
    @param user The wallet asked about.
    """
    return self.pending[token][user]


@external
@view
def getPendingAmounts(tokens: DynArray[address, MAX_TOKENS], user: address) -> DynArray[
    uint256, MAX_TOKENS
]:
    """
    @notice What `user` can claim in each of `tokens`, in the order given.
    @param tokens The ERC-20s asked about.
    @param user The wallet asked about.
    """
    amounts: DynArray[uint256, MAX_TOKENS] = []
    for token: address in tokens:
        amounts.append(self.pending[token][user])
    return amounts


@external
@view
def bookOf(pusher: address, token: address) -> uint256:
    """
    @notice What `pusher` holds in its book in `token`: moved in, neither pushed nor taken back.
    @param pusher The pusher (a ProductBank) asked about.
    @param token The ERC-20 asked about.
    """
    return self._books[pusher][token] & BOOK_AMOUNT_MASK


@external
@view
def getTotalPending(token: address) -> uint256:
    """
    @notice Sum of everything claimable in `token`; the contract holds at least this much.
    @param token The ERC-20 asked about.
    """
    return self.totalPending[token]


@internal
def _pull_many(tokens: DynArray[address, MAX_TOKENS], user: address, to: address) -> DynArray[
    uint256, MAX_TOKENS
]:
    paid: DynArray[uint256, MAX_TOKENS] = []
    for token: address in tokens:
        paid.append(self._pull(token, user, to))
    return paid


@internal
def _debit_book(token: address, total: uint256):
    # A pushed batch's total leaves the caller's book and joins the pending total. Only
    # an authorised pusher credits: one never authorised holds no book (fundBook is
    # theirs alone), a revoked one's books are marked.
    assert total != 0, "pushpull: empty batch"
    book: uint256 = self._books[msg.sender][token]
    assert book & BOOK_REVOKED == 0, "pushpull: not pusher"
    assert book & BOOK_AMOUNT_MASK >= total, "pushpull: book too low"
    self._books[msg.sender][token] = unsafe_sub(book, total)
    self.totalPending[token] += total


@internal
def _pull(token: address, user: address, to: address) -> uint256:
    amount: uint256 = self.pending[token][user]
    if amount == 0:
        return 0
    self.pending[token][user] = 0
    self.totalPending[token] -= amount
    self._send(token, to, amount)
    log RewardClaimed(token=token, user=user, amount=amount, to=to)
    return amount


@internal
def _send(token: address, to: address, amount: uint256):
    # Every payout (claims, book withdrawals), after the caller debited what it pays.
    # A token that returns false (paused, blocked recipient) must not clear a
    # balance it did not pay; one that takes more than `amount` from this
    # contract would leave it holding less than it owes. Both revert the whole call.
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transfer(to, amount, default_return_value=True), (
        "pushpull: transfer failed"
    )
    after: uint256 = staticcall IERC20(token).balanceOf(self)
    assert after <= before and before - after == amount, "pushpull: balance mismatch"
