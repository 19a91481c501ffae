# pragma version 0.4.3
# pragma evm-version cancun
"""
@title ProductBank
@notice One bank per product: holds the product's reward funds, caps each
        campaign's spending per token, and pays signed reward batches into
        the global MultiTokenPushPull, where users claim them. Its funds are
        what it holds plus its book in MultiTokenPushPull: a push is paid
        from the book, and a push the book cannot cover first moves the
        bank's whole balance of the token into it (one token transfer for
        many pushes instead of one per push).
@dev Invariants:
       - a batch is paid only with a valid EIP-712 signature of a current
         distributor made under the current distributorEpoch, or sent by a
         current distributor itself for that epoch (pushFewRewardsBy), before
         its deadline, for an active campaign, while the bank is not paused, and
         at most once: its nonce goes from unused to paid on use, or to
         cancelled (cancelNonces), and never back; a nonce's 2-bit state
         shares its storage word with 127 neighbours, and a write sets its
         own bits only, so no nonce changes its neighbours' states;
       - revoking a distributor bumps distributorEpoch, so no signature made
         before a revocation verifies again, even if the key is re-granted;
       - a capped campaign never pays more than its budget for that token:
         each push decrements the remaining budget by the batch total; a
         budget changes only by compare-and-set on the remaining amount;
       - a push takes exactly the batch total out of the bank's book; the
         book is funded by approve + pull of the same amount (the allowance
         ends at zero), and only the owner takes funds out (withdraw: the
         bank's balance first, then its book);
       - a token call that returns false reverts (a token that returns
         nothing is taken as success);
       - pushPull holds code (checked in the constructor), so the raw_call
         that pays a batch cannot succeed without running MultiTokenPushPull;
       - the constructor is the only initialiser: parameters come from the
         deploying factory (see IProductBankFactory), so a bank can never be
         initialised twice, and its init code is constant for CREATE2.
     Roles: owner (two-step transfer; withdraw, pause, grant and revoke roles),
     manager (budgets, deactivation; the owner may also do this), distributor
     (signs batches, or sends them itself). Reverts are prefixed "bank:"
     (ownership: "ownable:").
"""

from ethereum.ercs import IERC20

from . import IMultiTokenPushPull
from . import IProductBankFactory
from .modules import ownable_2step as ownable

initializes: ownable

exports: (
    ownable.owner,
    ownable.pendingOwner,
    ownable.transferOwnership,
    ownable.acceptOwnership,
)

MAX_BATCH: constant(uint256) = 500
# IMultiTokenPushPull.pushRewards. pushRewards calls it with raw_call: an
# extcall always sends the arguments' largest encoding (32,100 bytes for a
# 500-reward batch), and the memory for that costs ~20,000 gas whatever the
# batch size; raw_call sends exactly the encoded batch.
PUSH_REWARDS_SELECTOR: constant(bytes4) = method_id(
    "pushRewards(address,uint256[])", output_type=bytes4
)
# pushFewRewards' bound, the same as MultiTokenPushPull's. Vyper copies a DynArray
# argument into memory sized for its bound and every local lives above it, so a push
# through pushRewards pays for 16 KB of memory whatever its size (~2,000 gas here and
# as much again in MultiTokenPushPull); most pushes at real traffic carry a few rewards.
MAX_FEW: constant(uint256) = 64
PUSH_FEW_REWARDS_SELECTOR: constant(bytes4) = method_id(
    "pushFewRewards(address,uint256[])", output_type=bytes4
)
# A reward is one word, amount << 160 | user, as MultiTokenPushPull takes it (its
# MAX_BATCH comment says why); the signed Reward(address user,uint256 amount) is unpacked.
USER_MASK: constant(uint256) = (1 << 160) - 1
AMOUNT_SHIFT: constant(uint256) = 160

MANAGER_ROLE: public(constant(bytes32)) = keccak256("MANAGER_ROLE")
DISTRIBUTOR_ROLE: public(constant(bytes32)) = keccak256("DISTRIBUTOR_ROLE")

EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
EIP712_NAME_HASH: constant(bytes32) = keccak256("Cascade.ProductBank")
EIP712_VERSION_HASH: constant(bytes32) = keccak256("1")
# A batch's rewards are signed as one hash chain: h_0 = 0, h_i = keccak256(abi_encode(
# h_{i-1}, REWARD_TYPEHASH, user_i, amount_i)), and PushRewards.rewardsHash is h_n. It
# commits to every reward and their order like EIP-712's Reward[] would, with one
# keccak per reward and no buffer of struct hashes: the array hash kept ~1,500 words
# of memory (a 500-word hash array, its encoding and the slice hashed), ~12,000 gas a
# push whatever the batch size.
REWARD_TYPEHASH: constant(bytes32) = keccak256("Reward(address user,uint256 amount)")
PUSH_REWARDS_TYPEHASH: constant(bytes32) = keccak256(
    "PushRewards(bytes32 campaignId,address token,bytes32 rewardsHash,bytes32 nonce,"
    "uint256 deadline,uint256 epoch)"
)
# Upper half of the curve order: signatures with a larger s are malleable twins.
# (0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0)
SECP256K1_HALF_N: constant(uint256) = (
    57896044618658097711785492504343953926418782139537452191302581570759080747168
)

# A campaign budget is one storage word: flags in the top bits, the remaining
# amount below. Zero means "never allocated" (inactive); BUDGET_ALLOCATED alone
# means "active, nothing left to pay". Deactivation sets BUDGET_DEACTIVATED in the
# word of every token the campaign was allocated (_campaignTokens), so a push reads
# one word for both (-2,100 gas per push); _deactivated stays the record allocation
# and the views read.
BUDGET_ALLOCATED: constant(uint256) = 1 << 255
BUDGET_UNLIMITED: constant(uint256) = 1 << 254
BUDGET_DEACTIVATED: constant(uint256) = 1 << 253
BUDGET_AMOUNT_MASK: constant(uint256) = (1 << 253) - 1
# Tokens one campaign may be allocated a budget in.
MAX_CAMPAIGN_TOKENS: constant(uint256) = 16

# nonceState values: a nonce only ever moves from unused to paid or cancelled.
NONCE_UNUSED: constant(uint256) = 0
NONCE_PAID: constant(uint256) = 1
NONCE_CANCELLED: constant(uint256) = 2
MAX_CANCEL: constant(uint256) = 64
# Nonce n's state is 2 bits of storage word n >> 7, at bit 2 * (n % 128): the
# backend numbers a bank's batches consecutively (salt << 128 | sequence), so
# 127 pushes in 128 rewrite a non-zero word (5,000 gas) instead of setting a
# fresh slot (22,100).
NONCE_WORD_SHIFT: constant(uint256) = 7
NONCE_INDEX_MASK: constant(uint256) = 127
NONCE_STATE_MASK: constant(uint256) = 3

# `paused`, `distributorEpoch` and one distributor share one storage word (_status),
# because pushRewards needs all three: a batch signed by that distributor (the first
# granted, the usual single key) skips the cold hasRole read (-2,100 gas per push);
# another distributor's batch reads it. The word's distributor always
# holds the role: a revocation clears it, a grant fills it when empty.
STATUS_PAUSED: constant(uint256) = 1
STATUS_EPOCH_ONE: constant(uint256) = 2  # the epoch: bits 1..95
STATUS_EPOCH_MASK: constant(uint256) = (1 << 95) - 1  # after >> 1
STATUS_DISTRIBUTOR_SHIFT: constant(uint256) = 96  # the distributor: bits 96..255
STATUS_LOW_MASK: constant(uint256) = (1 << 96) - 1  # paused and epoch

productId: public(immutable(bytes32))
pushPull: public(immutable(address))
factory: public(immutable(address))
_CACHED_CHAIN_ID: immutable(uint256)
_CACHED_DOMAIN_SEPARATOR: immutable(bytes32)

# bit 0: paused; bits 1..95: distributorEpoch; bits 96..255: a distributor (see STATUS_*)
_status: uint256
hasRole: public(HashMap[bytes32, HashMap[address, bool]])
# campaignId -> token -> packed budget (see BUDGET_*)
_budgets: HashMap[bytes32, HashMap[address, uint256]]
_deactivated: HashMap[bytes32, bool]
# campaignId -> the tokens it was ever allocated a budget in (deactivation marks them all)
_campaignTokens: HashMap[bytes32, DynArray[address, MAX_CAMPAIGN_TOKENS]]
# nonce >> 7 -> 128 nonce states of 2 bits (see NONCE_*)
_nonceWords: HashMap[uint256, uint256]


# @dev `amount` of `token` (what actually arrived) deposited by `sender`.
event Deposited:
    token: indexed(address)
    sender: indexed(address)
    amount: uint256


# @dev `amount` of `token` sent by the owner to `to`.
event Withdrawn:
    token: indexed(address)
    to: indexed(address)
    amount: uint256


# @dev Campaign `campaignId` may now pay `budget` more in `token` (max: unlimited).
event CampaignBudgetAllocated:
    campaignId: indexed(bytes32)
    token: indexed(address)
    budget: uint256


# @dev Campaign `campaignId` stopped for good, in every token.
event CampaignDeactivated:
    campaignId: indexed(bytes32)


# @dev `account` holds `role` (manager or distributor), granted by `sender`.
event RoleGranted:
    role: indexed(bytes32)
    account: indexed(address)
    sender: indexed(address)


# @dev `account` lost `role`, revoked by `sender`; a distributor's revocation bumps the epoch.
event RoleRevoked:
    role: indexed(bytes32)
    account: indexed(address)
    sender: indexed(address)


# @dev The owner `account` stopped batches from paying.
event Paused:
    account: address


# @dev The owner `account` let batches pay again.
event Unpaused:
    account: address


# @dev The signed batch `nonce` of campaign `campaignId` paid `count` rewards, `total` of `token`.
event RewardsPushed:
    campaignId: indexed(bytes32)
    token: indexed(address)
    nonce: bytes32
    total: uint256
    count: uint256


# @dev Batch nonce `nonce` burnt unpaid by `sender`: its signature can never pay.
event NonceCancelled:
    nonce: indexed(bytes32)
    sender: indexed(address)


@deploy
def __init__():
    params: IProductBankFactory.BankParams = staticcall IProductBankFactory(msg.sender).bankParams()
    assert params.owner != empty(address), "bank: no deploy params"
    # Also rules out the zero address. pushRewards pays with raw_call, which
    # (unlike an extcall) would not notice a target without code.
    assert params.pushPull.is_contract, "bank: no deploy params"
    ownable.__init__(params.owner)
    productId = params.productId
    pushPull = params.pushPull
    factory = msg.sender
    _CACHED_CHAIN_ID = chain.id
    _CACHED_DOMAIN_SEPARATOR = self._build_domain_separator()
    if params.signer != empty(address):
        self._grant_role(MANAGER_ROLE, params.signer)
        self._grant_role(DISTRIBUTOR_ROLE, params.signer)


@external
def grantRole(role: bytes32, account: address):
    """
    @notice Give `account` the manager or distributor role.
    @dev Owner only.
    @param role MANAGER_ROLE or DISTRIBUTOR_ROLE.
    @param account The address to grant it to.
    """
    ownable._check_owner()
    assert role == MANAGER_ROLE or role == DISTRIBUTOR_ROLE, "bank: unknown role"
    assert account != empty(address), "bank: zero account"
    self._grant_role(role, account)


@external
def revokeRole(role: bytes32, account: address):
    """
    @notice Take the manager or distributor role from `account`.
    @dev Owner only. Revoking a distributor bumps distributorEpoch: every batch
         signed before (by any distributor) stops being payable for good, even
         if the same key is granted the role again.
    @param role MANAGER_ROLE or DISTRIBUTOR_ROLE.
    @param account The address to take it from.
    """
    ownable._check_owner()
    assert role == MANAGER_ROLE or role == DISTRIBUTOR_ROLE, "bank: unknown role"
    if self.hasRole[role][account]:
        self.hasRole[role][account] = False
        if role == DISTRIBUTOR_ROLE:
            status: uint256 = self._status
            assert (status >> 1) & STATUS_EPOCH_MASK != STATUS_EPOCH_MASK, "bank: epoch exhausted"
            status += STATUS_EPOCH_ONE
            if status >> STATUS_DISTRIBUTOR_SHIFT == convert(account, uint256):
                status &= STATUS_LOW_MASK
            self._status = status
        log RoleRevoked(role=role, account=account, sender=msg.sender)


@external
@nonreentrant
def deposit(token: address, amount: uint256):
    """
    @notice Fund the bank with `amount` of `token` (anyone; approve first).
    @dev Logs what actually arrived, so a fee-on-transfer token cannot inflate it.
    @param token The ERC-20 deposited.
    @param amount How much to pull from the caller (approved first).
    """
    assert amount != 0, "bank: zero amount"
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "bank: transfer failed"
    received: uint256 = staticcall IERC20(token).balanceOf(self) - before
    log Deposited(token=token, sender=msg.sender, amount=received)


@external
@nonreentrant
def withdraw(token: address, amount: uint256, to: address):
    """
    @notice Send `amount` of `token` of the bank's funds to `to`.
    @dev Owner only; works while paused. Taken from the bank's balance first,
         the rest from its book in MultiTokenPushPull. Rewards already pushed
         are the users' and out of reach.
    @param token The ERC-20 withdrawn.
    @param amount How much to send.
    @param to The recipient.
    """
    ownable._check_owner()
    assert to != empty(address), "bank: zero recipient"
    assert amount != 0, "bank: zero amount"
    held: uint256 = staticcall IERC20(token).balanceOf(self)
    if held < amount:
        book: uint256 = staticcall IMultiTokenPushPull(pushPull).bookOf(self, token)
        assert held + book >= amount, "bank: insufficient balance"
        extcall IMultiTokenPushPull(pushPull).withdrawBook(token, amount - held, to)
    if held != 0:
        assert extcall IERC20(token).transfer(to, min(held, amount), default_return_value=True), (
            "bank: transfer failed"
        )
    log Withdrawn(token=token, to=to, amount=amount)


@external
@view
def availableFunds(token: address) -> uint256:
    """
    @notice What the bank can still pay in `token`: its balance plus its book in MultiTokenPushPull.
    @param token The ERC-20 asked about.
    """
    return staticcall IERC20(token).balanceOf(self) + staticcall IMultiTokenPushPull(
        pushPull
    ).bookOf(self, token)


@external
@nonreentrant
def fundBook(token: address) -> uint256:
    """
    @notice Move the bank's whole balance of `token` into its book in
            MultiTokenPushPull now, instead of at the next push the book
            cannot cover.
    @dev Manager or owner. The funds stay the bank's (withdraw takes them back).
    @param token The ERC-20 moved.
    @return The amount moved (0 when the bank held none).
    """
    self._check_manager()
    return self._fund_book(token)


@external
def allocateCampaignBudget(
    campaign_id: bytes32, token: address, expected_remaining: uint256, budget: uint256
):
    """
    @notice Set what campaign `campaign_id` may still pay in `token`, if it may
            still pay `expected_remaining`; activates the campaign.
    @dev Manager or owner. Compare-and-set: a push or another allocation in
         between makes the call revert instead of overwriting what it did, and
         a retried call fails the compare and changes nothing. 0 means 0 (active,
         nothing left to pay). A deactivated campaign cannot be re-funded.
    @param campaign_id The campaign (bytes32 id the backend derives).
    @param token The ERC-20 the campaign pays in.
    @param expected_remaining What getCampaignBudget answers now: 0 when never
           allocated, max_value(uint256) when unlimited.
    @param budget The new remaining amount; max_value(uint256) = unlimited.
    """
    self._check_manager()
    assert not self._deactivated[campaign_id], "bank: campaign deactivated"
    packed: uint256 = self._budgets[campaign_id][token]
    assert self._remaining(packed) == expected_remaining, "bank: budget changed"
    if packed == 0:
        assert len(self._campaignTokens[campaign_id]) < MAX_CAMPAIGN_TOKENS, (
            "bank: too many tokens"
        )
        self._campaignTokens[campaign_id].append(token)
    if budget == max_value(uint256):
        packed = BUDGET_ALLOCATED | BUDGET_UNLIMITED
    else:
        assert budget <= BUDGET_AMOUNT_MASK, "bank: budget too large"
        packed = BUDGET_ALLOCATED | budget
    self._budgets[campaign_id][token] = packed
    log CampaignBudgetAllocated(campaignId=campaign_id, token=token, budget=budget)


@external
def cancelNonces(nonces: DynArray[bytes32, MAX_CANCEL]):
    """
    @notice Burn batch nonces that were never paid: a batch signed with one of
            them can never pay. Paid or already cancelled nonces are skipped,
            so a retried call is harmless.
    @dev A distributor, a manager or the owner. Works while paused.
    @param nonces The nonces to cancel.
    """
    assert (
        msg.sender == ownable.owner
        or self.hasRole[DISTRIBUTOR_ROLE][msg.sender]
        or self.hasRole[MANAGER_ROLE][msg.sender]
    ), "bank: not authorised"
    for nonce: bytes32 in nonces:
        # read per nonce: an earlier nonce of this call may have written the same word
        number: uint256 = convert(nonce, uint256)
        bits: uint256 = (number & NONCE_INDEX_MASK) << 1
        word: uint256 = self._nonceWords[number >> NONCE_WORD_SHIFT]
        if (word >> bits) & NONCE_STATE_MASK == NONCE_UNUSED:
            self._nonceWords[number >> NONCE_WORD_SHIFT] = word | (NONCE_CANCELLED << bits)
            log NonceCancelled(nonce=nonce, sender=msg.sender)


@external
def deactivateCampaign(campaign_id: bytes32):
    """
    @notice Stop campaign `campaign_id` for good, in every token.
    @dev Manager or owner. Signed batches of the campaign can no longer be paid.
    @param campaign_id The campaign to stop.
    """
    self._check_manager()
    assert not self._deactivated[campaign_id], "bank: campaign deactivated"
    self._deactivated[campaign_id] = True
    for token: address in self._campaignTokens[campaign_id]:
        self._budgets[campaign_id][token] |= BUDGET_DEACTIVATED
    log CampaignDeactivated(campaignId=campaign_id)


@external
def pause():
    """
    @notice Stop paying batches (deposits and withdrawals still work). Owner only.
    """
    ownable._check_owner()
    status: uint256 = self._status
    assert status & STATUS_PAUSED == 0, "bank: paused"
    self._status = status | STATUS_PAUSED
    log Paused(account=msg.sender)


@external
def unpause():
    """
    @notice Resume paying batches. Owner only.
    """
    ownable._check_owner()
    status: uint256 = self._status
    assert status & STATUS_PAUSED != 0, "bank: not paused"
    self._status = status ^ STATUS_PAUSED
    log Unpaused(account=msg.sender)


@external
@nonreentrant
def pushRewards(
    campaign_id: bytes32,
    token: address,
    rewards: DynArray[uint256, MAX_BATCH],
    nonce: bytes32,
    deadline: uint256,
    signature: Bytes[65],
):
    """
    @notice Pay a batch signed by a distributor into MultiTokenPushPull.
    @dev Anyone holding the signed batch may send it: the signature is the
         authority. It must be signed under the current distributorEpoch (not
         an argument: the bank adds it to the digest). The nonce becomes paid,
         the budget (if capped) is decremented, and exactly the batch total
         leaves the bank's book in MultiTokenPushPull; when the book holds
         less, the bank's whole balance of the token moves into it first.
    @param campaign_id The campaign paying the batch.
    @param token The ERC-20 paid.
    @param rewards One word per reward, amount << 160 | user (an amount is below
           2**96); a user may appear more than once.
    @param nonce Unique per batch; a paid or cancelled nonce never pays.
           Consecutive nonces share a storage word (cheapest: salt << 128 | n).
    @param deadline Last block timestamp at which the batch may be paid.
    @param signature 65-byte (r, s, v) EIP-712 signature of a distributor.
    """
    # Unchecked sum: at most 500 amounts below 2**96 never overflow.
    total: uint256 = 0
    rewards_hash: bytes32 = empty(bytes32)
    for word: uint256 in rewards:
        # inline, as in pushFewRewards: an internal function taking the batch would copy
        # it, and one called per reward costs a call per reward
        amount: uint256 = word >> AMOUNT_SHIFT
        assert amount != 0, "bank: zero amount"
        total = unsafe_add(total, amount)
        rewards_hash = keccak256(
            abi_encode(rewards_hash, REWARD_TYPEHASH, word & USER_MASK, amount)
        )
    self._authorise(
        campaign_id, token, total, rewards_hash, nonce, deadline, signature, empty(address), 0
    )
    # IMultiTokenPushPull(pushPull).pushRewards(token, rewards): credits the
    # users out of this bank's book; raw_call bubbles up its revert reason
    # like an extcall would.
    raw_call(pushPull, abi_encode(token, rewards, method_id=PUSH_REWARDS_SELECTOR))
    log RewardsPushed(
        campaignId=campaign_id, token=token, nonce=nonce, total=total, count=len(rewards)
    )


@external
@nonreentrant
def pushFewRewards(
    campaign_id: bytes32,
    token: address,
    rewards: DynArray[uint256, MAX_FEW],
    nonce: bytes32,
    deadline: uint256,
    signature: Bytes[65],
):
    """
    @notice pushRewards for a batch of at most 64 rewards, ~3,400 gas cheaper.
    @dev The same batch, signature and rules as pushRewards; only the bound of
         `rewards` differs, and with it the memory the call pays for (16 KB
         there, in this bank and in MultiTokenPushPull; 2 KB here).
    @param campaign_id The campaign paying the batch.
    @param token The ERC-20 paid.
    @param rewards At most 64 words, amount << 160 | user, as for pushRewards.
    @param nonce Unique per batch, shared with pushRewards: it pays once through either.
    @param deadline Last block timestamp at which the batch may be paid.
    @param signature 65-byte (r, s, v) EIP-712 signature of a distributor.
    """
    total: uint256 = 0
    rewards_hash: bytes32 = empty(bytes32)
    for word: uint256 in rewards:
        amount: uint256 = word >> AMOUNT_SHIFT
        assert amount != 0, "bank: zero amount"
        total = unsafe_add(total, amount)
        rewards_hash = keccak256(
            abi_encode(rewards_hash, REWARD_TYPEHASH, word & USER_MASK, amount)
        )
    self._authorise(
        campaign_id, token, total, rewards_hash, nonce, deadline, signature, empty(address), 0
    )
    # IMultiTokenPushPull(pushPull).pushFewRewards(token, rewards)
    raw_call(pushPull, abi_encode(token, rewards, method_id=PUSH_FEW_REWARDS_SELECTOR))
    log RewardsPushed(
        campaignId=campaign_id, token=token, nonce=nonce, total=total, count=len(rewards)
    )


@external
@nonreentrant
def pushFewRewardsBy(
    distributor: address,
    campaign_id: bytes32,
    token: address,
    rewards: DynArray[uint256, MAX_FEW],
    nonce: bytes32,
    deadline: uint256,
    epoch: uint256,
):
    """
    @notice pushFewRewards with no signature, sent by a distributor itself.
    @dev The sender is the authority: `distributor` is the caller, or the factory
         forwards a part of the distributor's own pushMany (the factory checks
         that `distributor` is its caller). Every other rule is pushFewRewards':
         pause, deadline, nonce (shared with the signed functions: a batch pays
         once through any of them), campaign, budget, book. `epoch` must be the
         current distributorEpoch, as a signature's digest binds it: a batch meant
         for an epoch before a revocation never pays. Saves the signature's
         calldata, its hashing and ecrecover (~5,300 gas a push).
    @param distributor A distributor of this bank, who sends the batch.
    @param campaign_id The campaign paying the batch.
    @param token The ERC-20 paid.
    @param rewards At most 64 words, amount << 160 | user, as for pushRewards.
    @param nonce Unique per batch, shared with pushRewards and pushFewRewards.
    @param deadline Last block timestamp at which the batch may be paid.
    @param epoch The distributorEpoch the batch was made for.
    """
    assert msg.sender == distributor or msg.sender == factory, "bank: not distributor"
    assert distributor != empty(address), "bank: not distributor"
    total: uint256 = 0
    for word: uint256 in rewards:
        amount: uint256 = word >> AMOUNT_SHIFT
        assert amount != 0, "bank: zero amount"
        total = unsafe_add(total, amount)
    self._authorise(
        campaign_id, token, total, empty(bytes32), nonce, deadline, b"", distributor, epoch
    )
    raw_call(pushPull, abi_encode(token, rewards, method_id=PUSH_FEW_REWARDS_SELECTOR))
    log RewardsPushed(
        campaignId=campaign_id, token=token, nonce=nonce, total=total, count=len(rewards)
    )


@external
@view
def paused() -> bool:
    """
    @notice Whether batches are refused (owner's pause).
    """
    return self._status & STATUS_PAUSED != 0


@external
@view
def distributorEpoch() -> uint256:
    """
    @notice The epoch every batch signature must be made for (PushRewards.epoch).
    @dev Starts at 0; +1 each time a distributor that held the role is revoked.
    """
    return (self._status >> 1) & STATUS_EPOCH_MASK


@external
@view
def nonceState(nonce: bytes32) -> uint8:
    """
    @notice The state of batch nonce `nonce`: 0 unused, 1 paid, 2 cancelled.
    @dev A nonce only moves from 0 to 1 (pushRewards) or from 0 to 2 (cancelNonces).
    @param nonce A batch nonce.
    """
    return convert(self._nonce_state(nonce), uint8)


@external
@view
def isNonceUsed(nonce: bytes32) -> bool:
    """
    @notice Whether a batch with `nonce` can never pay again: paid or cancelled.
    @dev nonceState tells which.
    @param nonce A batch nonce.
    """
    return self._nonce_state(nonce) != NONCE_UNUSED


@external
@view
def getCampaignBudget(campaign_id: bytes32, token: address) -> uint256:
    """
    @notice What campaign `campaign_id` may still pay in `token`.
    @param campaign_id The campaign asked about.
    @param token The ERC-20 asked about.
    @return The remaining amount; max_value(uint256) when unlimited; 0 when
            exhausted, never allocated or deactivated. allocateCampaignBudget
            compares against this value.
    """
    if self._deactivated[campaign_id]:
        return 0
    return self._remaining(self._budgets[campaign_id][token])


@external
@view
def isCampaignActive(campaign_id: bytes32, token: address) -> bool:
    """
    @notice Whether campaign `campaign_id` has a budget in `token` and is not deactivated.
    @param campaign_id The campaign asked about.
    @param token The ERC-20 asked about.
    """
    return (
        not self._deactivated[campaign_id]
        and self._budgets[campaign_id][token] & BUDGET_ALLOCATED != 0
    )


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @notice The EIP-712 domain separator batches must be signed under.
    """
    return self._domain_separator()


@external
@view
def pushDigest(
    campaign_id: bytes32,
    token: address,
    rewards: DynArray[uint256, MAX_BATCH],
    nonce: bytes32,
    deadline: uint256,
) -> bytes32:
    """
    @notice The EIP-712 digest a distributor signs for this batch, under the
            current distributorEpoch.
    @dev For cross-checking off-chain signers; pushRewards computes the same.
    @param campaign_id The campaign the batch pays for.
    @param token The ERC-20 the batch pays in.
    @param rewards The batch's words, amount << 160 | user, as pushRewards takes them.
    @param nonce The batch nonce.
    @param deadline Last block timestamp the batch may be paid at.
    """
    rewards_hash: bytes32 = empty(bytes32)
    for word: uint256 in rewards:
        rewards_hash = keccak256(
            abi_encode(rewards_hash, REWARD_TYPEHASH, word & USER_MASK, word >> AMOUNT_SHIFT)
        )
    return self._push_digest(
        campaign_id,
        token,
        rewards_hash,
        nonce,
        deadline,
        (self._status >> 1) & STATUS_EPOCH_MASK,
    )


@internal
def _authorise(
    campaign_id: bytes32,
    token: address,
    total: uint256,
    rewards_hash: bytes32,
    nonce: bytes32,
    deadline: uint256,
    signature: Bytes[65],
    sender: address,
    epoch: uint256,
):
    # Every rule of a push but the rewards' own: pause, deadline, nonce, campaign,
    # authority, budget; marks the nonce paid and makes the book hold `total`. The
    # authority is the signature when `sender` is empty, else `sender` itself (the
    # caller checked it is who sent the batch) for `epoch`. Scalar arguments only: its
    # frame stays below the callers' batch copies.
    status: uint256 = self._status
    assert status & STATUS_PAUSED == 0, "bank: paused"
    assert total != 0, "bank: empty batch"  # every amount is non-zero: only none sums to 0
    assert block.timestamp <= deadline, "bank: deadline passed"
    nonce_number: uint256 = convert(nonce, uint256)
    nonce_shift: uint256 = (nonce_number & NONCE_INDEX_MASK) << 1
    nonce_word: uint256 = self._nonceWords[nonce_number >> NONCE_WORD_SHIFT]
    assert (nonce_word >> nonce_shift) & NONCE_STATE_MASK == NONCE_UNUSED, "bank: nonce used"
    budget: uint256 = self._budgets[campaign_id][token]
    assert budget & BUDGET_DEACTIVATED == 0, "bank: campaign deactivated"
    if budget & BUDGET_ALLOCATED == 0:
        # a token never allocated: deactivation did not mark its word
        assert not self._deactivated[campaign_id], "bank: campaign deactivated"
        raise "bank: campaign inactive"

    signer: address = sender
    if sender == empty(address):
        digest: bytes32 = self._push_digest(
            campaign_id, token, rewards_hash, nonce, deadline, (status >> 1) & STATUS_EPOCH_MASK
        )
        signer = self._recover(digest, signature)
    else:
        # what the signature's digest binds otherwise: a batch meant for an epoch
        # before a revocation never pays (its rows may have been batched again)
        assert epoch == (status >> 1) & STATUS_EPOCH_MASK, "bank: wrong epoch"
    if convert(signer, uint256) != status >> STATUS_DISTRIBUTOR_SHIFT:
        assert self.hasRole[DISTRIBUTOR_ROLE][signer], "bank: not distributor"

    if budget & BUDGET_UNLIMITED == 0:
        assert total <= budget & BUDGET_AMOUNT_MASK, "bank: budget exceeded"
        self._budgets[campaign_id][token] = budget - total
    # nonce_word is still current: at most ecrecover ran since it was read
    self._nonceWords[nonce_number >> NONCE_WORD_SHIFT] = nonce_word | (NONCE_PAID << nonce_shift)

    book: uint256 = staticcall IMultiTokenPushPull(pushPull).bookOf(self, token)
    if book < total:
        book += self._fund_book(token)
    assert book >= total, "bank: insufficient balance"


@internal
def _fund_book(token: address) -> uint256:
    # Moves the bank's whole balance of `token` into its book: the approval is
    # exactly what fundBook pulls, so the allowance ends at zero.
    amount: uint256 = staticcall IERC20(token).balanceOf(self)
    if amount == 0:
        return 0
    assert extcall IERC20(token).approve(pushPull, amount, default_return_value=True), (
        "bank: approve failed"
    )
    extcall IMultiTokenPushPull(pushPull).fundBook(token, amount)
    return amount


@internal
@view
def _check_manager():
    assert msg.sender == ownable.owner or self.hasRole[MANAGER_ROLE][msg.sender], (
        "bank: not manager"
    )


@internal
@view
def _nonce_state(nonce: bytes32) -> uint256:
    number: uint256 = convert(nonce, uint256)
    word: uint256 = self._nonceWords[number >> NONCE_WORD_SHIFT]
    return (word >> ((number & NONCE_INDEX_MASK) << 1)) & NONCE_STATE_MASK


@internal
@pure
def _remaining(packed: uint256) -> uint256:
    if packed & BUDGET_UNLIMITED != 0:
        return max_value(uint256)
    return packed & BUDGET_AMOUNT_MASK


@internal
def _grant_role(role: bytes32, account: address):
    if not self.hasRole[role][account]:
        self.hasRole[role][account] = True
        if role == DISTRIBUTOR_ROLE:
            status: uint256 = self._status
            if status >> STATUS_DISTRIBUTOR_SHIFT == 0:
                self._status = status | (convert(account, uint256) << STATUS_DISTRIBUTOR_SHIFT)
        log RoleGranted(role=role, account=account, sender=msg.sender)


@internal
@view
def _build_domain_separator() -> bytes32:
    return keccak256(
        abi_encode(EIP712_DOMAIN_TYPEHASH, EIP712_NAME_HASH, EIP712_VERSION_HASH, chain.id, self)
    )


@internal
@view
def _domain_separator() -> bytes32:
    # Recomputed after a chain split, so a signature for one chain id never pays on another.
    if chain.id == _CACHED_CHAIN_ID:
        return _CACHED_DOMAIN_SEPARATOR
    return self._build_domain_separator()


@internal
@view
def _push_digest(
    campaign_id: bytes32,
    token: address,
    rewards_hash: bytes32,
    nonce: bytes32,
    deadline: uint256,
    epoch: uint256,
) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(
            PUSH_REWARDS_TYPEHASH,
            campaign_id,
            token,
            rewards_hash,
            nonce,
            deadline,
            epoch,
        )
    )
    return keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))


@internal
@pure
def _recover(digest: bytes32, signature: Bytes[65]) -> address:
    assert len(signature) == 65, "bank: bad signature"
    r: uint256 = convert(extract32(signature, 0), uint256)
    s: uint256 = convert(extract32(signature, 32), uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    assert v == 27 or v == 28, "bank: bad signature"
    assert s <= SECP256K1_HALF_N, "bank: bad signature"
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "bank: bad signature"
    return signer
