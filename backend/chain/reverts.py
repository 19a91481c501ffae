"""Every revert string the contracts use, mapped to a stable machine code.

The settlement job classifies a failed push with `classify()` (budget -> back to
pending and alert; nonce used -> confirm; deadline passed -> void ...). The
strings are part of the contracts' interface: tests/contracts asserts that each
one is raised by the contract, and that every `assert` message in contracts/ is
listed here.
"""

from __future__ import annotations

REVERTS: dict[str, str] = {
    # ProductBank
    "bank: paused": "paused",
    "bank: not paused": "not_paused",
    "bank: empty batch": "empty_batch",
    "bank: deadline passed": "deadline_passed",
    "bank: nonce used": "nonce_used",
    "bank: campaign deactivated": "campaign_deactivated",
    "bank: campaign inactive": "campaign_inactive",
    "bank: zero amount": "zero_amount",
    "bank: bad signature": "bad_signature",
    "bank: not distributor": "not_distributor",
    # an unsigned push (pushFewRewardsBy) made for an epoch a revocation ended: the same
    # refusal as a signature of that epoch, which no longer recovers to a distributor
    "bank: wrong epoch": "not_distributor",
    "bank: budget exceeded": "budget_exceeded",
    "bank: budget too large": "budget_too_large",
    "bank: budget changed": "budget_changed",
    "bank: too many tokens": "too_many_tokens",
    "bank: epoch exhausted": "epoch_exhausted",
    "bank: insufficient balance": "insufficient_balance",
    "bank: not manager": "not_manager",
    "bank: unknown role": "unknown_role",
    "bank: zero account": "zero_account",
    "bank: zero recipient": "zero_recipient",
    "bank: transfer failed": "transfer_failed",
    "bank: approve failed": "transfer_failed",
    "bank: not authorised": "not_authorised",
    "bank: no deploy params": "no_deploy_params",
    # MultiTokenPushPull
    "pushpull: not pusher": "not_pusher",
    "pushpull: not authoriser": "not_authoriser",
    "pushpull: zero pusher": "zero_pusher",
    "pushpull: zero user": "zero_user",
    "pushpull: zero amount": "zero_amount",
    "pushpull: empty batch": "empty_batch",
    "pushpull: balance mismatch": "fee_on_transfer",
    "pushpull: book too low": "insufficient_balance",
    "pushpull: book too large": "book_too_large",
    "pushpull: too many tokens": "too_many_tokens",
    "pushpull: transfer failed": "transfer_failed",
    "pushpull: zero recipient": "zero_recipient",
    "pushpull: bad token index": "bad_token_index",
    # ProductBankFactory
    "factory: not authorised": "not_authorised",
    "factory: empty product id": "empty_product_id",
    "factory: zero owner": "zero_owner",
    "factory: bank exists": "bank_exists",
    "factory: initcode hash mismatch": "initcode_hash_mismatch",
    "factory: zero signer": "zero_signer",
    "factory: zero push pull": "zero_push_pull",
    "factory: no blueprint": "no_blueprint",
    # ProductBankFactory.pushMany: the bundle as a whole (a bank's own refusal is skipped)
    "factory: bad parts": "bad_parts",
    "factory: not a push": "not_a_push",
    "factory: not the sender": "not_the_sender",
    "factory: out of gas": "bundle_out_of_gas",
    "factory: too many parts": "too_many_parts",
    # ownership (shared module)
    "ownable: not owner": "not_owner",
    "ownable: not pending owner": "not_pending_owner",
    "ownable: zero owner": "zero_owner",
}


def classify(message: str | None) -> str | None:
    """The code of a revert message (as web3 reports it, prefix and all), or None."""
    if not message:
        return None
    # Longest first, so "bank: not paused" never matches as "bank: paused".
    for text in sorted(REVERTS, key=len, reverse=True):
        if text in message:
            return REVERTS[text]
    return None
