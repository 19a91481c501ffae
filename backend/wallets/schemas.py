"""Response shapes of the wallet API (documented for sdk-js: amounts are decimal strings)."""

from __future__ import annotations

import msgspec


class TokenRewards(msgspec.Struct):
    token: str
    symbol: str | None
    decimals: int | None
    claimable: str  # on-chain pending, from events at least the confirmed depth deep
    queued: str  # earned, not yet in the indexed on-chain credits (pending, in flight, or
    # pushed but not yet read by the indexer): becomes claimable, never disappears
    claimed_total: str
    unconfirmed_claimable: str  # pending that rests on blocks newer than the confirmed depth
    # held for a fraud review (docs/fraud.md): counted in neither queued nor claimable; becomes
    # queued when approved, disappears when rejected
    under_review: str = "0"
    # the latest time the queued rewards now waiting for settlement should be pushed (their
    # campaigns' cadence, docs/shops.md); null when none waits or a campaign holds them
    queued_expected_by: str | None = None


class RewardsSnapshot(msgspec.Struct):
    wallet: str
    tokens: list[TokenRewards]


class Named(msgspec.Struct):
    id: str
    name: str


class RewardItem(msgspec.Struct, tag_field="kind", tag="reward"):
    id: int
    time: str
    token: str
    amount: str
    status: str  # under_review | queued | pushed | claimed
    level: int  # 0 = the wallet's own action, n = n-th referrer
    campaign: Named
    product: Named
    tx_hash: str | None  # the push transaction
    pushed_at: str | None
    claim_tx_hash: str | None
    claimed_at: str | None
    # queued and waiting for its campaign's settlement cadence: the latest it should be
    # pushed (docs/shops.md); null once its push is under way, or while its campaign holds it
    expected_by: str | None = None


class ClaimItem(msgspec.Struct, tag_field="kind", tag="claim"):
    id: int
    time: str
    token: str
    amount: str
    status: str  # claimed | unconfirmed
    tx_hash: str
    block_number: int


class HistoryPage(msgspec.Struct):
    wallet: str
    items: list[RewardItem | ClaimItem]
    limit: int
    offset: int
    total: int
    next_offset: int | None


class TokenBalance(msgspec.Struct):
    token: str
    symbol: str | None
    decimals: int | None
    balance: str  # ERC-20 balanceOf(wallet) at the latest block, base units


class Balances(msgspec.Struct):
    wallet: str
    account_deployed: bool  # the wallet has code (a passkey account after its first send)
    tokens: list[TokenBalance]
