"""Wallet views: what a wallet can claim, what is queued for it, what it claimed.

Reads the indexer's tables (chain_events, wallet_token_balances) and the rewards
table; writes nothing.
"""
